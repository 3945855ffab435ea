"""`hq serve --workers N`: several HQ processes on one socket and one PostgreSQL, each push
applied once whichever process takes it; stopped together; refused on SQLite."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import config_text

from pos_loyalty import config as config_mod
from pos_loyalty.service import MemberRef, Till
from sync.hq.commands import open_store

from .conftest import _postgres_database, sync
from .test_cli_sync import free_port, run, start_hq


@pytest.fixture
def pg_url() -> Iterator[str]:
    yield from _postgres_database()


def workers_of(parent: int) -> list[int]:
    found = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True)
    return [int(pid) for pid in found.stdout.split()]


def test_tills_pushing_at_once_to_three_processes_are_each_applied_once(
    pg_url: str, tmp_path: Path
):
    port = free_port()
    hq = start_hq(pg_url, port, "--workers", "3")
    store = open_store(pg_url, create=False)
    tills: list[tuple[Till, str]] = []
    try:
        assert len(workers_of(hq.pid)) == 2  # the parent serves too
        for n in range(6):
            folder = tmp_path / f"T{n}"
            folder.mkdir()
            text = config_text(velocity_max_per_day=0).replace('id = "T1"', f'id = "T{n}"', 1)
            (folder / "pos-loyalty.toml").write_text(
                text.replace('url = ""', f'url = "http://127.0.0.1:{port}"', 1)
            )
            till = Till.open(config_mod.load(str(folder / "pos-loyalty.toml")), create=True)
            phone = f"+316123400{n:02d}"
            till.enroll(phone)
            for k in range(40):
                till.earn(MemberRef(phone=phone), amount=1000 + k)
            tills.append((till, store.add_terminal("AMS-01", f"T{n}")))
        pushers = [threading.Thread(target=sync, args=(t, token, 7)) for t, token in tills]
        for pusher in pushers:
            pusher.start()
        for pusher in pushers:
            pusher.join(60)
        expected = sum(t.journal.events.last_seq() for t, _ in tills)
        assert store.event_count() == expected
        for till, _ in tills:
            assert till.journal.events.outbox().acked_seq == till.journal.events.last_seq()
        children = workers_of(hq.pid)
        hq.send_signal(signal.SIGTERM)
        hq.wait(20)  # (how HQ itself closes on SIGTERM is tests/hq/test_restore.py's)
        assert all(ended(pid, within=5) for pid in children)  # stopped with their parent
    finally:
        for till, _ in tills:
            till.close()
        store.db.close()
        if hq.poll() is None:
            hq.kill()
            hq.wait()


def ended(pid: int, within: float) -> bool:
    """Process ``pid`` is gone (or a zombie waiting to be reaped) within ``within`` s."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                return True
        except OSError:
            return True
        time.sleep(0.05)
    return False


def test_a_worker_whose_parent_is_killed_outright_stops(pg_url: str):
    hq = start_hq(pg_url, free_port(), "--workers", "2")
    children = workers_of(hq.pid)
    assert len(children) == 1
    hq.kill()
    hq.wait()
    assert ended(children[0], within=10)  # it noticed, and freed the port


def test_workers_on_sqlite_are_refused_in_a_sentence_before_any_file(tmp_path: Path):
    refused = run("hq", "serve", "--db", "sqlite:///hq.db", "--workers", "2", cwd=tmp_path)
    assert refused.returncode == 2
    assert refused.stderr.strip() == (
        "pos-loyalty: --workers above 1 needs PostgreSQL: an SQLite HQ has one writer."
    )
    assert list(tmp_path.iterdir()) == []
