"""The proofs of docs/RELIABILITY.md: HQ's fixtures, and a size for each proof that CI runs
small and an environment variable scales up (POS_LOYALTY_KILLS=1000, say)."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import config_text
from hq.conftest import HQ, Served, hq, hq_url, make_synced_till, proxy, sync

from sync.hq.commands import load_program
from sync.hq.db import connect
from sync.hq.store import HQStore

__all__ = ["HQ", "Served", "hq", "hq_url", "make_synced_till", "proxy", "sync"]


def size(variable: str, default: int) -> int:
    """How big a proof runs: ``default`` in CI, or what ``variable`` says."""
    return int(os.environ.get(variable, default))


def cli(config: Path, *args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real command line, as the host POS or a manager runs it."""
    return subprocess.run(
        [sys.executable, "-m", "pos_loyalty.cli", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


@pytest.fixture
def sqlite_hq(tmp_path: Path) -> Iterator[HQ]:
    """The real HQ on SQLite, on loopback, with the real clock (the tills' is real too)."""
    url = f"sqlite:///{tmp_path / 'hq.db'}"
    store = HQStore(connect(url), load_program(None))
    with Served(store) as served:
        yield HQ(url, f"http://127.0.0.1:{served.port}", store)
    store.db.close()


def till_text(
    hq_base: str, *, terminal: str = "T1", store: str = "AMS-01", **program: object
) -> str:
    """The example config of a till syncing to ``hq_base``, with ``program`` keys replaced."""
    text = config_text(**program)
    text = text.replace('id = "T1"', f'id = "{terminal}"', 1)
    text = text.replace('id = "AMS-01"', f'id = "{store}"', 1)
    return text.replace('url = ""', f'url = "{hq_base}"', 1)
