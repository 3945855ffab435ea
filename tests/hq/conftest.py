"""The real HQ on loopback, on SQLite and on the machine's PostgreSQL, and tills that sync
to it. Each PostgreSQL test runs in a database of its own, created and dropped here; without
a reachable PostgreSQL those tests skip, except under CI=true, where that is a failure."""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import uvicorn
from conftest import Clock, config_text

from pos_loyalty import config as config_mod
from pos_loyalty.service import Till
from sync.fault_proxy import FaultProxy
from sync.hq.app import create_app
from sync.hq.commands import load_program
from sync.hq.db import connect
from sync.hq.store import HQStore

PG_ADMIN = os.environ.get("POS_LOYALTY_TEST_PG", "postgresql://postgres@127.0.0.1:5432/test")


@dataclass
class HQ:
    url: str  # the database
    base: str  # where it serves
    store: HQStore


def _postgres_database() -> Iterator[str]:
    import psycopg

    name = f"pos_loyalty_test_{uuid.uuid4().hex[:12]}"
    try:
        admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at {PG_ADMIN} is not reachable under CI: {exc}")
        pytest.skip(f"no PostgreSQL at {PG_ADMIN} ({exc})")
    with admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def hq_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hq.db'}"
    else:
        yield from _postgres_database()


def sync(till: Till, token: str, batch_size: int = 200) -> None:
    """Push every event HQ does not hold, then pull HQ's word, as `sync --once` does."""
    from sync.daemon import Syncer

    with Syncer(till.source, token=token, batch_size=batch_size, sleep=lambda s: None) as s:
        s.push()
        s.pull()


class Served:
    """HQ's app on a real port, in a thread of this process, as `hq serve` runs it."""

    def __init__(self, store: HQStore, **tls: str) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(
            create_app(store), host="127.0.0.1", port=self.port, log_level="warning", **tls
        )  # tls: ssl_certfile and ssl_keyfile, for HQ over https
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Served:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("HQ did not start")
            time.sleep(0.01)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture
def hq(hq_url: str, clock: Clock) -> Iterator[HQ]:
    store = HQStore(connect(hq_url), load_program(None), clock=clock)
    with Served(store) as served:
        yield HQ(hq_url, f"http://127.0.0.1:{served.port}", store)
    store.db.close()


@pytest.fixture
def make_synced_till(
    tmp_path: Path, clock: Clock, hq: HQ
) -> Iterator[Callable[..., tuple[Till, str]]]:
    """A till of its own folder, provisioned at HQ; returns it and its token."""
    opened: list[Till] = []

    def make(
        terminal: str = "T1",
        store: str = "AMS-01",
        *,
        url: str | None = None,
        timeout: float = 5.0,
        **program: object,
    ) -> tuple[Till, str]:
        folder = tmp_path / f"{store}-{terminal}"
        folder.mkdir()
        text = config_text(**program)
        text = text.replace('id = "T1"', f'id = "{terminal}"', 1)
        text = text.replace('id = "AMS-01"', f'id = "{store}"', 1)
        text = text.replace('url = ""', f'url = "{url or hq.base}"', 1)
        text = text.replace("timeout_seconds = 5.0\n", f"timeout_seconds = {timeout}\n", 1)
        path = folder / "pos-loyalty.toml"
        path.write_text(text)
        till = Till.open(config_mod.load(str(path)), clock=clock, create=True)
        opened.append(till)
        return till, hq.store.add_terminal(store, terminal)

    yield make
    for till in opened:
        till.close()


@pytest.fixture
def proxy(hq: HQ) -> Iterator[FaultProxy]:
    """A fault-injecting proxy in front of HQ."""
    parts = urlsplit(hq.base)
    served = FaultProxy((parts.hostname or "127.0.0.1", parts.port or 80))
    yield served
    served.close()


def as_schema_3(store: HQStore) -> None:
    """HQ's database as schema 3 kept it: what each account includes of each terminal's
    chain a row each in ``account_terminals``, not in the account; the version says 3."""
    import json

    with store.db.transaction() as tx:
        tx.run(
            "CREATE TABLE account_terminals (member_key TEXT NOT NULL, "
            "store_id TEXT NOT NULL, terminal_id TEXT NOT NULL, through_seq BIGINT NOT NULL, "
            "PRIMARY KEY (member_key, store_id, terminal_id))"
        )
        for key, through in tx.all("SELECT member_key, through FROM accounts"):
            for chain, (_journal, seq) in json.loads(through).items():
                tx.run(
                    "INSERT INTO account_terminals VALUES (?, ?, ?, ?)",
                    (key, *chain.split("/"), seq),
                )
        tx.run("ALTER TABLE accounts DROP COLUMN through")
        tx.run("UPDATE hq_meta SET value = '3' WHERE key = 'schema_version'")
