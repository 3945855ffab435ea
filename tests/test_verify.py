"""`pos-loyalty verify` means it: it reads the journal as it is (read-only, never migrated),
checks the head both ways, rows below seq 1, the guards' own SQL; the journal's triggers
refuse an insert out of order; the till refuses to write after a tail that is not what was
written; and a verifier written from docs/JOURNAL.md alone agrees with it on every file."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import config_text
from outside_verifier import check as outside_check

from pos_loyalty import chain
from pos_loyalty.errors import StorageError
from pos_loyalty.journal import SCHEMA_VERSION
from pos_loyalty.service import MemberRef

ANNA = MemberRef(phone="0612345678")
CLI = [sys.executable, "-m", "pos_loyalty"]
GUARD_UPDATE = (
    "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
    "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
)
GUARD_DELETE = GUARD_UPDATE.replace("no_update", "no_delete").replace("UPDATE ON", "DELETE ON")


def raw(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path, isolation_level=None)


def verify(config: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POS_LOYALTY")}
    return subprocess.run(
        [*CLI, "verify", "--config", str(config), *flags],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def next_event(db: sqlite3.Connection) -> dict:
    """A chain-valid event after the newest, written by hand: as a till would link it."""
    db.row_factory = sqlite3.Row
    last = dict(db.execute("SELECT * FROM events ORDER BY seq DESC LIMIT 1").fetchone())
    db.row_factory = None
    row = {**last, "seq": last["seq"] + 1, "event_id": "e" * 8, "prev_hash": last["hash"]}
    row["hash"] = chain.event_hash({**row, "detail": json.loads(row["detail"])}, row["detail"])
    return row


def insert(db: sqlite3.Connection, row: dict) -> None:
    names = ", ".join(row)
    db.execute(
        f"INSERT INTO events ({names}) VALUES ({', '.join('?' for _ in row)})", list(row.values())
    )


def tampered_points(db):
    db.executescript(
        "DROP TRIGGER events_no_update; UPDATE events SET points = 999 WHERE seq = 3; "
        f"{GUARD_UPDATE};"
    )


def last_deleted(db):
    db.executescript(
        f"DROP TRIGGER events_no_delete; DELETE FROM events WHERE seq = 4; {GUARD_DELETE};"
    )


def head_rewritten(db):
    db.execute("UPDATE meta SET value = '4 ' || ? WHERE key = 'head'", ("0" * 64,))


def added_behind_the_head(db):
    insert(db, next_event(db))  # in seq order, linked and hashed: only the head says so


def seq_zero(db):
    row = {**next_event(db), "seq": 0, "event_id": "z" * 8}
    db.executescript("DROP TRIGGER events_in_order")
    insert(db, row)
    db.execute(
        "CREATE TRIGGER events_in_order BEFORE INSERT ON events "
        "WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM events) "
        "BEGIN SELECT RAISE(ABORT, 'events are appended in seq order'); END"
    )


def guard_made_harmless(db):
    db.executescript(
        "DROP TRIGGER events_no_delete; CREATE TRIGGER events_no_delete BEFORE DELETE ON events "
        "BEGIN SELECT 1; END;"
    )


def guard_removed(db):
    db.execute("DROP TRIGGER events_in_order")


def extra_trigger(db):
    db.execute("CREATE TRIGGER events_copy AFTER INSERT ON events BEGIN SELECT NEW.seq; END")


def detail_respelled(db):
    text = db.execute("SELECT detail FROM events WHERE seq = 3").fetchone()[0]
    db.executescript("DROP TRIGGER events_no_update")
    db.execute(
        "UPDATE events SET detail = ? WHERE seq = 3", (json.dumps(json.loads(text), indent=1),)
    )
    db.execute(GUARD_UPDATE)


def acked_beyond(db):
    db.execute("UPDATE outbox SET acked_seq = 9")


def untouched(db):
    pass


DAMAGE: list[Callable[[sqlite3.Connection], None]] = [
    untouched,
    tampered_points,
    last_deleted,
    head_rewritten,
    added_behind_the_head,
    seq_zero,
    guard_made_harmless,
    guard_removed,
    extra_trigger,
    detail_respelled,
    acked_beyond,
]


@pytest.fixture
def journal_file(make_till, tmp_path):
    """A till's journal with Anna and three sales (#1-#5), closed: a file on disk."""
    till = make_till()
    till.enroll("0612345678", name="Anna")
    for _ in range(2):
        till.earn(ANNA, amount=1000)
    till.close()
    return tmp_path / "pos-loyalty.toml", tmp_path / "till.db"


@pytest.mark.parametrize("damage", DAMAGE, ids=[d.__name__ for d in DAMAGE])
def test_verify_and_a_verifier_written_from_the_docs_agree(journal_file, damage):
    config, path = journal_file
    db = raw(path)
    damage(db)
    db.close()
    ours = verify(config, "--json")
    theirs = outside_check(str(path))
    assert ours.returncode in (0, 1), ours.stderr
    assert (ours.returncode == 0) == (theirs is None), (ours.stdout, theirs)
    assert (ours.returncode == 0) == (damage is untouched)
    if ours.returncode:
        problem = json.loads(ours.stdout)["problem"]
        assert problem.endswith(".") and "\n" not in problem


def test_verify_names_what_is_wrong_with_the_head_and_the_rows(journal_file):
    config, path = journal_file
    expected = {
        head_rewritten: "The journal's head names another hash than event #4's.",
        added_behind_the_head: "Events 5–5 were added outside the till (its head is #4).",
        seq_zero: "Event #0 has a seq below 1; the chain starts at 1.",
        guard_made_harmless: (
            "The append-only guards on the events table have been removed or changed "
            "(events_no_delete)."
        ),
        extra_trigger: (
            "The append-only guards on the events table have been removed or changed (events_copy)."
        ),
    }
    original = path.read_bytes()
    for damage, problem in expected.items():
        path.write_bytes(original)
        db = raw(path)
        damage(db)
        db.close()
        assert json.loads(verify(config, "--json").stdout)["problem"] == problem, damage


def test_verify_reads_the_file_as_it_is_and_writes_nothing(journal_file):
    config, path = journal_file
    before = (path.read_bytes(), path.stat().st_mtime_ns)
    done = verify(config)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Journal intact: 4 events, hash chain verified."
    assert (path.read_bytes(), path.stat().st_mtime_ns) == before
    wal = path.with_name("till.db-wal")  # SQLite's reader may leave an empty one: no more
    assert not wal.exists() or wal.stat().st_size == 0
    path.chmod(0o400)  # an archived, read-only copy verifies too
    try:
        assert verify(config).returncode == 0
    finally:
        path.chmod(0o600)


def test_verify_reports_an_older_schema_and_leaves_it_as_it_is(tmp_path):
    db = raw(tmp_path / "till.db")
    db.executescript((Path(__file__).with_name("data") / "journal-schema5.sql").read_text())
    db.close()
    config = tmp_path / "pos-loyalty.toml"
    config.write_text(config_text())
    done = verify(config)
    assert done.returncode == 1 and done.stdout == ""
    assert done.stderr.strip() == (
        f"pos-loyalty: The till database {tmp_path / 'till.db'} is at schema 5, and this "
        f"pos-loyalty reads schema {SCHEMA_VERSION} only as it is: any other command (on a "
        "writable copy, if this one is read-only) upgrades it first."
    )
    assert raw(tmp_path / "till.db").execute("PRAGMA user_version").fetchone()[0] == 5


def test_the_journal_refuses_an_insert_out_of_seq_order(journal_file):
    _, path = journal_file
    db = raw(path)
    good = next_event(db)
    for seq in (0, -1, 4, 6, 100):
        with pytest.raises(sqlite3.IntegrityError, match="appended in seq order"):
            insert(db, {**good, "seq": seq})
    insert(db, good)  # the next seq is taken (the head, not moved, still shows it)
    assert db.execute("SELECT max(seq) FROM events").fetchone()[0] == 5


def test_the_till_writes_nothing_after_a_tail_that_is_not_what_was_written(make_till):
    till = make_till()
    till.enroll("0612345678")
    till.earn(ANNA, amount=1000)
    db = raw(till.journal.path)
    db.executescript(
        "DROP TRIGGER events_no_update; UPDATE events SET points = 999 WHERE seq = 3; "
        f"{GUARD_UPDATE};"
    )
    with pytest.raises(StorageError) as refused:
        till.earn(ANNA, amount=1000)
    assert refused.value.message == (
        "The till database's newest event #3 is not what was written (it does not match its "
        "hash); nothing was saved: run `pos-loyalty verify`."
    )
    assert till.journal.events.last_seq() == 3
