"""The journal on a real SQLite file: append-only, hash-chained, durable under SIGKILL."""

from __future__ import annotations

import itertools
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import config_text

from pos_loyalty import chain
from pos_loyalty import config as config_mod
from pos_loyalty.errors import ConfigError, NoJournal, SchemaTooNew, StorageError
from pos_loyalty.journal import SCHEMA_VERSION, Journal, verify_chain
from pos_loyalty.service import MemberRef, Till


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
        "The append-only guards on the events table have been removed or changed "
        "(events_no_delete)."
    )
    db.execute(
        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
    )
    assert verify_chain(till.journal).problem == "Events 3–3 are missing."


def test_verify_finds_a_rewritten_history(till):
    """Recomputing one row's hash is not enough: the next row no longer links to it."""
    seed(till)
    db = raw(till.journal.path)
    db.row_factory = sqlite3.Row
    row = dict(db.execute("SELECT * FROM events WHERE seq = 2").fetchone())
    row["points"] = 500
    forged = chain.event_hash({**row, "detail": json.loads(row["detail"])})
    db.executescript("DROP TRIGGER events_no_update")
    db.execute("UPDATE events SET points = 500, hash = ? WHERE seq = 2", (forged,))
    db.execute(
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
    )
    assert verify_chain(till.journal).problem == "Event 3 does not link to event 2."


def test_events_carry_ids_sequence_and_chain(till):
    seed(till, sales=2)
    rows = list(till.journal.events.iter_rows())
    assert [r["seq"] for r in rows] == [1, 2, 3, 4]
    assert len({r["event_id"] for r in rows}) == 4
    journal = till.journal
    assert rows[0]["prev_hash"] == chain.genesis(journal.journal_id, "AMS-01", "T1")
    assert {r["chain_version"] for r in rows} == {1}
    assert all(r["detail"] == chain.canonical(json.loads(r["detail"])) for r in rows)
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
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA application_id").fetchone()[0] == 0x504F534C


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
till = Till.open(config.load(sys.argv[1]), create=True)
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
            event = journal.events.by_seq(seq)
            assert event is not None and event.event_id == event_id
        assert journal.events.last_seq() >= max(reported)
    finally:
        journal.close()


LEGACY = Path(__file__).with_name("data") / "journal-schema5.sql"  # written by schema 5


def legacy_till(tmp_path: Path, make_till):
    """A till whose journal was written by the previous release (schema 5, the chain before
    v1), upgraded by opening it."""
    db = raw(tmp_path / "till.db")
    db.executescript(LEGACY.read_text())
    db.close()
    return make_till()


def test_a_journal_from_the_previous_release_migrates_and_its_old_chain_still_verifies(
    tmp_path, make_till
):
    till = legacy_till(tmp_path, make_till)
    journal = till.journal
    assert journal.conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    rows = list(journal.events.iter_rows())
    assert (len(rows), {r["chain_version"] for r in rows}) == (10, {0})
    assert rows[0]["prev_hash"] == "0" * 64
    assert verify_chain(journal).ok
    anna = MemberRef(phone="0612345678")
    assert till.lookup(anna).balance == 100  # as the previous release showed it
    bob = till.lookup(MemberRef(phone="0687654321"))
    assert (bob.balance, bob.confirmed, bob.tier.tier.name) == (120, 120, "Silver")
    assert till.lookup(MemberRef(phone="0611111111")).balance == 50  # the unseen phone
    # New events continue the same chain under v1; the whole chain still verifies.
    sale = till.earn(anna, amount=1000)
    assert (sale.event.chain_version, sale.event.prev_hash) == (1, rows[-1]["hash"])
    assert till.redeem(MemberRef(phone="0687654321"), points=90).member.balance == 30
    assert verify_chain(journal).ok
    # Staff, their wrong PIN, and the host's request ids came along.
    assert journal.staff.get("C7").role == "cashier"
    assert journal.staff.attempts("C7").failed == 1
    assert journal.requests.event("pos-1").kind == "enroll"


def test_an_altered_old_event_is_still_found_after_the_migration(tmp_path, make_till):
    till = legacy_till(tmp_path, make_till)
    db = raw(till.journal.path)
    db.executescript(
        "DROP TRIGGER events_no_update; UPDATE events SET points = 999 WHERE seq = 5;"
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
    )
    assert verify_chain(till.journal).problem == "Event 5 was altered after it was written."


def test_a_missing_journal_is_refused_and_nothing_is_created(tmp_path):
    path = tmp_path / "nested" / "till.db"
    with pytest.raises(NoJournal, match=r"No till database at .*till\.db.*pos-loyalty init"):
        Journal.open(path, store_id="AMS-01", terminal_id="T1")
    assert not path.parent.exists()
    (tmp_path / "empty.db").touch()
    with pytest.raises(NoJournal, match="is an empty file, not a till journal"):
        Journal.open(tmp_path / "empty.db", store_id="AMS-01", terminal_id="T1")
    assert (tmp_path / "empty.db").stat().st_size == 0


def test_a_device_or_a_pipe_is_never_opened_or_changed(tmp_path):
    fifo = tmp_path / "till.db"
    os.mkfifo(fifo)
    for path in (Path("/dev/null"), fifo):
        mode = path.stat().st_mode
        for create in (False, True):
            with pytest.raises(NoJournal, match="is not a regular file"):
                Journal.open(path, store_id="AMS-01", terminal_id="T1", create=create)
        assert path.stat().st_mode == mode
    assert not Path("/dev/null-journal").exists() and not Path("/dev/null-wal").exists()


def test_a_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path):
    path = tmp_path / "photos.db"
    db = raw(path)
    db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY, name TEXT)")
    db.close()
    before = path.read_bytes()
    for create in (False, True):
        with pytest.raises(NoJournal, match="is not a pos-loyalty till database"):
            Journal.open(path, store_id="AMS-01", terminal_id="T1", create=create)
    assert path.read_bytes() == before


def test_a_read_spans_one_snapshot_while_another_process_writes(till, make_till):
    """History's balance and its list of events come from one read transaction: an earn
    committed by another connection in between shows in neither, never in one."""
    seed(till, sales=2)
    other = Till.open(config_mod.load(str(till.source.path)))
    events = till.journal.events
    original = events.recent_for_member

    def with_a_sale_in_between(*args):
        other.earn(MemberRef(phone="0612345678"), amount=5000)
        return original(*args)

    events.recent_for_member = with_a_sale_in_between
    try:
        view, listed = till.history(MemberRef(phone="0612345678"), limit=100)
    finally:
        events.recent_for_member = original
        other.close()
    assert view.balance == sum(e.points for e in listed) == 50 + 20
    assert till.lookup(MemberRef(phone="0612345678")).balance == 50 + 20 + 50


def test_a_till_cannot_change_its_currency(till, make_till):
    seed(till, sales=1)
    till.close()
    text = config_text().replace('currency = "EUR"', 'currency = "USD"')
    with pytest.raises(ConfigError, match="keeps its amounts in EUR, but the config says"):
        make_till(text)


def test_print_jobs_are_claimed_in_order_and_leased(till):
    prints = till.journal.prints
    with till.journal.writing():
        first = prints.add("earn", {"kind": "earn", "blocks": []}, "t0")
        second = prints.add("earn", {"kind": "earn", "blocks": []}, "t1")
    prints.mark_retry(first, "paper out", "2026-11-25T10:05:00.000Z")
    now, lease = "2026-11-25T10:00:00.000Z", "2026-11-25T10:02:00.000Z"
    # The first waits out its backoff, so the second may not overtake it...
    assert prints.claim(now, lease) == []
    # ...unless the cashier asks to print now: then both, in order.
    claimed = prints.claim(now, lease, now_not_later=True)
    assert [job.job_id for job in claimed] == [first, second]
    # Leased to that worker: nobody else gets them until the lease runs out.
    assert prints.claim(now, lease, now_not_later=True) == []
    later = "2026-11-25T10:06:00.000Z"
    again = prints.claim(later, "2026-11-25T10:08:00.000Z")
    assert [job.job_id for job in again] == [first, second]


def test_deleting_the_newest_events_is_found_and_no_seq_is_used_twice(till):
    seed(till)
    db = raw(till.journal.path)
    db.executescript(
        "DROP TRIGGER events_no_delete; DELETE FROM events WHERE seq >= 3;"
        "CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
    )
    report = verify_chain(till.journal)
    assert (report.ok, report.checked, report.seq) == (False, 2, 3)
    assert report.problem == "Events 3–5 are missing: the till recorded up to #5."
    with pytest.raises(StorageError, match="newest events are missing.*nothing was saved"):
        till.earn(MemberRef(phone="0612345678"), amount=1000)
    assert till.journal.events.last_seq() == 2


def test_a_value_no_till_writes_is_reported_as_an_altered_event_not_as_bad_input(till):
    seed(till)
    db = raw(till.journal.path)
    db.executescript(
        "DROP TRIGGER events_no_update; UPDATE events SET points = 1.5 WHERE seq = 3;"
        "UPDATE events SET detail = 'not json' WHERE seq = 4;"
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
    )
    assert verify_chain(till.journal).problem == "Event 3 was altered after it was written."
    with pytest.raises(StorageError, match=r"Event [34] in the till database is damaged"):
        till.history(MemberRef(phone="0612345678"))


def test_a_page_of_hqs_directory_keeps_held_phones_newer_words_and_one_owner_a_phone(till):
    """HQ's directory page on a till that holds some of it: unknown members go in, a held
    member takes only a newer word (an older one fills a missing name), a phone another
    member here has stays with them, a member twice in one page ends with the newer word,
    and the checkpoint of an account the word covers (an earn against a phone) is dropped."""
    from pos_loyalty.journal.members import HQWord
    from pos_loyalty.rules.account import Ledger
    from pos_loyalty.rules.lots import Lot

    anna = till.enroll("0612345678").member  # no name
    till.earn(MemberRef(phone="0687654321"), amount=1000)  # a phone no member has yet
    members = till.journal.members
    assert members.checkpoint("tel:+31687654321") is not None

    def word(member_id, phone, version, points, name=None):
        lot = Lot(f"lot-{member_id}-{version}", points, points, "2026-11-01T00:00:00.000Z")
        return HQWord(member_id, phone, name, version, Ledger(lots=(lot,)), 0)

    page = [
        word(anna.member_id, "+31612345678", 1, 70, name="Anna"),  # not newer: name only
        word("BBBBBBBBBBBBBBBB", "+31612345678", 3, 10),  # Anna's phone: stays hers
        word("CCCCCCCCCCCCCCCC", "+31687654321", 2, 20),  # the phone the earn named
        word("DDDDDDDDDDDDDDDD", "+31611111111", 1, 30),
        word("DDDDDDDDDDDDDDDD", "+31611111111", 2, 40),  # twice in the page: the newer
        word("EEEEEEEEEEEEEEEE", "+31611111111", 1, 50),  # that phone is D's now
    ]
    with till.journal.writing():
        members.record_hq_word(
            anna.member_id, Ledger(), version=1, at="2026-11-30T00:00:00.000Z", through_seq=1
        )
        taken = members.take_words(page, "2026-12-01T00:00:00.000Z")
    assert taken == 5  # all but Anna's older word
    rows = {
        r[0]: r[1:]
        for r in till.journal.conn.execute(
            "SELECT member_id, phone, name, hq_version, hq_balance FROM members"
        )
    }
    assert rows[anna.member_id] == ("+31612345678", "Anna", 1, 0)
    assert rows["BBBBBBBBBBBBBBBB"] == (None, None, 3, 10)
    assert rows["CCCCCCCCCCCCCCCC"] == ("+31687654321", None, 2, 20)
    assert rows["DDDDDDDDDDDDDDDD"] == ("+31611111111", None, 2, 40)
    assert rows["EEEEEEEEEEEEEEEE"] == (None, None, 1, 50)
    assert members.checkpoint("tel:+31687654321") is None
