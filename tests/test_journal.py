"""The journal on a real SQLite file: append-only, hash-chained, durable under SIGKILL."""

from __future__ import annotations

import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import config_text

from pos_loyalty import config as config_mod
from pos_loyalty.errors import ConfigError, SchemaTooNew
from pos_loyalty.journal import Journal, verify_chain
from pos_loyalty.service import MemberRef


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def seed(till, sales: int = 3) -> None:
    till.enroll("0612345678", name="Anna")
    for _ in range(sales):
        till.earn(MemberRef(phone="0612345678"), amount=1000)


def test_database_refuses_update_and_delete_of_events(till):
    seed(till)
    db = raw(till.journal.path)
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("UPDATE events SET points = 9999 WHERE seq = 3")
    with pytest.raises(sqlite3.IntegrityError, match="append-only"):
        db.execute("DELETE FROM events WHERE seq = 3")
    assert verify_chain(till.journal).ok


def test_verify_finds_a_tampered_row(till):
    seed(till)
    db = raw(till.journal.path)
    db.executescript(
        "DROP TRIGGER events_no_update; UPDATE events SET points = 9999 WHERE seq = 4;"
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
    )
    report = verify_chain(till.journal)
    assert (report.ok, report.seq, report.checked) == (False, 4, 3)
    assert report.problem == "Event 4 was altered after it was written."


def test_verify_finds_a_deleted_row_and_removed_guards(till):
    seed(till)
    db = raw(till.journal.path)
    db.executescript("DROP TRIGGER events_no_delete; DELETE FROM events WHERE seq = 3;")
    assert verify_chain(till.journal).problem == (
        "The append-only guards on the events table have been removed."
    )
    db.execute(
        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
    )
    assert verify_chain(till.journal).problem == "Events 3–3 are missing."


def test_verify_finds_a_rewritten_history(till):
    """Recomputing one row's hash is not enough: the next row no longer links to it."""
    from pos_loyalty.journal import event_hash

    seed(till)
    db = raw(till.journal.path)
    db.row_factory = sqlite3.Row
    row = dict(db.execute("SELECT * FROM events WHERE seq = 2").fetchone())
    row["points"] = 500
    db.executescript("DROP TRIGGER events_no_update")
    db.execute("UPDATE events SET points = 500, hash = ? WHERE seq = 2", (event_hash(row),))
    db.execute(
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
    )
    assert verify_chain(till.journal).problem == "Event 3 does not link to event 2."


def test_events_carry_ids_sequence_and_chain(till):
    seed(till, sales=2)
    rows = list(till.journal.iter_events())
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]
    assert len({r["event_id"] for r in rows}) == 4
    assert rows[0]["prev_hash"] == "0" * 64
    assert all(b["prev_hash"] == a["hash"] for a, b in itertools.pairwise(rows))
    assert {(r["store_id"], r["terminal_id"]) for r in rows} == {("AMS-01", "T1")}
    assert all(r["ruleset"].startswith("2026.1+") for r in rows)


def test_database_file_is_private_and_durable(till):
    seed(till, sales=1)
    path = till.journal.path
    for f in (path, Path(f"{path}-wal")):
        assert f.stat().st_mode & 0o777 == 0o600, f
    conn = till.journal.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 5


def test_database_from_a_newer_version_is_refused(till):
    path = till.journal.path
    raw(path).execute("PRAGMA user_version = 99")
    with pytest.raises(SchemaTooNew, match="newer pos-loyalty"):
        Journal.open(path, store_id="AMS-01", terminal_id="T1")


def test_database_of_another_terminal_is_refused(till):
    with pytest.raises(ConfigError, match="belongs to store AMS-01 terminal T1"):
        Journal.open(till.journal.path, store_id="AMS-01", terminal_id="T2")


EARN_LOOP = """
import sys
from pos_loyalty import config
from pos_loyalty.service import MemberRef, Till
till = Till.open(config.load(sys.argv[1]))
ref = MemberRef(phone="0612345678")
try:
    till.enroll("0612345678")
except Exception:
    pass
while True:
    result = till.earn(ref, amount=1234)
    print(result.event.seq, result.event.event_id, flush=True)  # shown only once committed
"""


def test_sigkill_while_earning_loses_nothing_that_was_reported(tmp_path):
    cfg = tmp_path / "pos-loyalty.toml"
    cfg.write_text(config_text(velocity_max_per_day=0))
    reported: dict[int, str] = {}
    for round_ in range(8):
        proc = subprocess.Popen(
            [sys.executable, "-c", EARN_LOOP, str(cfg)], stdout=subprocess.PIPE, text=True
        )
        deadline = time.monotonic() + 0.15 + 0.05 * round_
        assert proc.stdout is not None
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            seq, event_id = line.split()
            reported[int(seq)] = event_id
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        for line in proc.stdout:  # lines already written before the kill count too
            seq, event_id = line.split()
            reported[int(seq)] = event_id
    print(f"{len(reported)} events reported before 8 SIGKILLs")
    assert len(reported) > 20, "the loop should have committed plenty of events"
    loaded = config_mod.load(str(cfg))
    journal = Journal.open(loaded.database_path, store_id="AMS-01", terminal_id="T1")
    try:
        report = verify_chain(journal)
        assert report.ok, report.problem
        for seq, event_id in reported.items():
            event = journal.event_by_seq(seq)
            assert event is not None and event.event_id == event_id
        assert journal.last_seq() >= max(reported)
    finally:
        journal.close()


def test_an_older_database_is_migrated_in_place_keeping_its_events(till, make_till):
    """A till upgraded from schema 1: its events stay, the new tables and columns appear."""
    seed(till, sales=2)
    path = till.journal.path
    till.close()
    db = raw(path)
    db.executescript(
        "DROP TABLE requests; DROP TABLE print_jobs; DROP TABLE device_state;"
        "ALTER TABLE members DROP COLUMN tier; ALTER TABLE staff DROP COLUMN failed_pins;"
        "ALTER TABLE staff DROP COLUMN locked_until;"
        "PRAGMA user_version = 1;"
    )
    db.close()
    upgraded = make_till()
    assert upgraded.journal.conn.execute("PRAGMA user_version").fetchone()[0] == 5
    assert upgraded.lookup(MemberRef(phone="0612345678")).balance == 50 + 20
    assert verify_chain(upgraded.journal).ok


def test_a_till_cannot_change_its_currency(till, make_till):
    seed(till, sales=1)
    till.close()
    text = config_text().replace('currency = "EUR"', 'currency = "USD"')
    with pytest.raises(ConfigError, match="keeps its amounts in EUR, but the config says"):
        make_till(text)


def test_print_jobs_are_claimed_in_order_and_leased(till):
    with till.journal.writing():
        first = till.journal.add_print_job("earn", {"kind": "earn", "blocks": []}, "t0")
        second = till.journal.add_print_job("earn", {"kind": "earn", "blocks": []}, "t1")
    till.journal.mark_retry(first, "paper out", "2026-11-25T10:05:00.000Z")
    now, lease = "2026-11-25T10:00:00.000Z", "2026-11-25T10:02:00.000Z"
    # The first waits out its backoff, so the second may not overtake it...
    assert till.journal.claim_print_jobs(now, lease) == []
    # ...unless the cashier asks to print now: then both, in order.
    claimed = till.journal.claim_print_jobs(now, lease, now_not_later=True)
    assert [job["job_id"] for job in claimed] == [first, second]
    # Leased to that worker: nobody else gets them until the lease runs out.
    assert till.journal.claim_print_jobs(now, lease, now_not_later=True) == []
    later = "2026-11-25T10:06:00.000Z"
    again = till.journal.claim_print_jobs(later, "2026-11-25T10:08:00.000Z")
    assert [job["job_id"] for job in again] == [first, second]
