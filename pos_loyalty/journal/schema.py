"""The journal's tables, created and migrated step by step (``PRAGMA user_version``).

Every step runs inside the write transaction that opens the journal, so a journal is either at
the old version or the new one, never in between.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable

from ..rules.account import Ledger, Purchase, encode
from ..rules.lots import Lot

SCHEMA_VERSION = 8
APPLICATION_ID = 0x504F534C  # "POSL": marks the file as a pos-loyalty journal
_APPEND_ONLY = "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
# The guards on the events table, exactly as SQLite keeps their text: verify compares them.
GUARDS = {
    "events_no_update": f"CREATE TRIGGER events_no_update BEFORE UPDATE ON events {_APPEND_ONLY}",
    "events_no_delete": f"CREATE TRIGGER events_no_delete BEFORE DELETE ON events {_APPEND_ONLY}",
    "events_in_order": (
        "CREATE TRIGGER events_in_order BEFORE INSERT ON events "
        "WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM events) "
        "BEGIN SELECT RAISE(ABORT, 'events are appended in seq order'); END"
    ),
}


def _migrate_to_1(conn: sqlite3.Connection) -> None:
    import sqlite_utils  # only a new or old database needs the schema tools

    db = sqlite_utils.Database(conn)
    db.table("meta").create({"key": str, "value": str}, pk="key")
    events = db.table("events")
    events.create(
        {
            "seq": int,
            "event_id": str,
            "store_id": str,
            "terminal_id": str,
            "kind": str,
            "member_id": str,
            "phone": str,
            "points": int,
            "amount": int,
            "currency": str,
            "ref_event_id": str,
            "ruleset": str,
            "detail": str,
            "staff_id": str,
            "created_at": str,
            "prev_hash": str,
            "hash": str,
        },
        pk="seq",
        not_null={
            "event_id",
            "store_id",
            "terminal_id",
            "kind",
            "points",
            "ruleset",
            "detail",
            "created_at",
            "prev_hash",
            "hash",
        },
    )
    events.create_index(["event_id"], unique=True)
    events.create_index(["member_id", "seq"])
    events.create_index(["phone", "seq"])
    events.create_index(["ref_event_id"])
    members = db.table("members")
    members.create(
        {
            "member_id": str,
            "phone": str,
            "name": str,
            "consent": int,
            "enrolled_at": str,
            "referred_by": str,
            "confirmed_balance": int,
            "confirmed_qualifying": int,
            "confirmed_through_seq": int,
            "confirmed_at": str,
            "membership_plan": str,
            "membership_until": str,
            "source": str,
        },
        pk="member_id",
        defaults={
            "confirmed_balance": 0,
            "confirmed_qualifying": 0,
            "confirmed_through_seq": 0,
            "consent": 0,
            "source": "local",
        },
        not_null={"confirmed_balance", "confirmed_qualifying", "confirmed_through_seq"},
    )
    members.create_index(["phone"], unique=True)
    lots = db.table("member_lots")
    lots.create(
        {
            "lot_id": str,
            "member_id": str,
            "points": int,
            "remaining": int,
            "earned_at": str,
            "expires_at": str,
            "spendable_at": str,
        },
        pk="lot_id",
        foreign_keys=[("member_id", "members", "member_id")],
    )
    lots.create_index(["member_id"])
    db.table("outbox").create(
        {"terminal_id": str, "acked_seq": int, "last_attempt_at": str, "last_error": str},
        pk="terminal_id",
        defaults={"acked_seq": 0},
    )
    db.table("staff").create(
        {"staff_id": str, "name": str, "role": str, "pin_hash": str}, pk="staff_id"
    )
    conn.execute(GUARDS["events_no_update"])
    conn.execute(GUARDS["events_no_delete"])


def _migrate_to_2(conn: sqlite3.Connection) -> None:
    """The print queue: a slip is queued in the same transaction as the event it prints."""
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    jobs = db.table("print_jobs")
    jobs.create(
        {
            "job_id": int,
            "event_id": str,
            "kind": str,
            "slip": str,
            "status": str,
            "attempts": int,
            "next_attempt_at": str,
            "last_error": str,
            "created_at": str,
            "printed_at": str,
            "reprint_of": int,
        },
        pk="job_id",
        not_null={"kind", "slip", "status", "attempts", "created_at"},
        defaults={"status": "queued", "attempts": 0},
    )
    jobs.create_index(["status", "job_id"])
    db.table("device_state").create(
        {"device": str, "state": str, "detail": str, "updated_at": str}, pk="device"
    )


def _migrate_to_3(conn: sqlite3.Connection) -> None:
    """HQ's word on a member's tier (it sees every store's purchases and may grant a tier);
    print-job leases."""
    conn.execute("ALTER TABLE members ADD COLUMN tier TEXT")
    # A claimed print job's lease, apart from its retry time, so a cashier's "print now" can
    # skip the backoff without taking a job another worker is printing.
    conn.execute("ALTER TABLE print_jobs ADD COLUMN lease_until TEXT")


def _migrate_to_4(conn: sqlite3.Connection) -> None:
    """The host POS's request ids: a retried command returns the event it already made."""
    conn.execute(
        "CREATE TABLE requests (request_id TEXT PRIMARY KEY, event_id TEXT NOT NULL "
        "REFERENCES events (event_id))"
    )


def _migrate_to_5(conn: sqlite3.Connection) -> None:
    """Wrong-PIN counting, so a PIN cannot be guessed at the till."""
    conn.execute("ALTER TABLE staff ADD COLUMN failed_pins INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE staff ADD COLUMN locked_until TEXT")


def _migrate_to_6(conn: sqlite3.Connection) -> None:
    """Hash chain v1 from here on (the journal's random id, each event's chain version; old
    events keep theirs), HQ's word on a member as one ledger, the per-member checkpoint of the
    folded account, and wrong PINs counted for any staff id, known or not."""
    conn.execute(f"PRAGMA application_id = {APPLICATION_ID}")
    conn.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('journal_id', ?)", (str(uuid.uuid4()),)
    )
    conn.execute("ALTER TABLE events ADD COLUMN chain_version INTEGER NOT NULL DEFAULT 0")
    conn.execute("ALTER TABLE outbox ADD COLUMN last_success_at TEXT")
    # The newest event, kept beside the events: deleting events from the end shows.
    conn.execute(
        "INSERT INTO meta (key, value) SELECT 'head', coalesce(max(seq), 0) || ' ' || "
        "coalesce((SELECT hash FROM events ORDER BY seq DESC LIMIT 1), '') FROM events"
    )
    # Most events have neither a phone nor a reference: index only those that do, so an
    # earn writes two b-trees fewer.
    for column in ("phone", "ref_event_id"):
        index = "idx_events_phone_seq" if column == "phone" else "idx_events_ref_event_id"
        keys = "phone, seq" if column == "phone" else "ref_event_id"
        conn.execute(f"DROP INDEX {index}")
        conn.execute(f"CREATE INDEX {index} ON events ({keys}) WHERE {column} IS NOT NULL")
    conn.execute(
        "CREATE TABLE members_v6 (member_id TEXT PRIMARY KEY, phone TEXT UNIQUE, name TEXT, "
        "consent INTEGER NOT NULL DEFAULT 0, enrolled_at TEXT, referred_by TEXT, "
        "source TEXT NOT NULL DEFAULT 'local', hq_version INTEGER, hq_at TEXT, "
        "hq_through_seq INTEGER NOT NULL DEFAULT 0, hq_balance INTEGER NOT NULL DEFAULT 0, "
        "hq_ledger TEXT)"
    )
    rows = conn.execute(
        "SELECT member_id, phone, name, consent, enrolled_at, referred_by, "
        "coalesce(source, 'local'), confirmed_at, confirmed_through_seq, confirmed_balance, "
        "confirmed_qualifying, membership_plan, membership_until, tier FROM members"
    ).fetchall()
    for row in rows:
        member_id, *identity, heard, through, balance, qualifying, plan, until, tier = row
        ledger = None
        if heard is not None:
            lots = conn.execute(
                "SELECT lot_id, points, remaining, earned_at, expires_at, spendable_at "
                "FROM member_lots WHERE member_id = ? ORDER BY lot_id",
                (member_id,),
            ).fetchall()
            ledger = encode(
                _legacy_ledger(
                    member_id,
                    heard,
                    balance,
                    qualifying,
                    plan,
                    until,
                    tier,
                    [Lot(*lot) for lot in lots],
                )
            )
        conn.execute(
            "INSERT INTO members_v6 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                member_id,
                *identity,
                0 if heard else None,
                heard,
                through,
                balance if heard else 0,
                ledger,
            ),
        )
    conn.execute("DROP TABLE member_lots")
    conn.execute("DROP TABLE members")
    conn.execute("ALTER TABLE members_v6 RENAME TO members")
    conn.execute(
        "CREATE TABLE accounts (account_key TEXT PRIMARY KEY, basis TEXT NOT NULL, "
        "through_seq INTEGER NOT NULL, ledger BLOB NOT NULL)"
    )
    # The checkpoint's lots, a row each, so an earn writes one lot and not all of them.
    conn.execute(
        "CREATE TABLE account_lots (account_key TEXT NOT NULL, lot_id TEXT NOT NULL, "
        "points INTEGER NOT NULL, remaining INTEGER NOT NULL, earned_at TEXT NOT NULL, "
        "expires_at TEXT, spendable_at TEXT, PRIMARY KEY (account_key, lot_id)) WITHOUT ROWID"
    )
    # What cannot be spent is found by range, not by reading every lot.
    conn.execute(
        "CREATE INDEX account_lots_expiry ON account_lots (account_key, expires_at) "
        "WHERE expires_at IS NOT NULL"
    )
    conn.execute(
        "CREATE INDEX account_lots_hold ON account_lots (account_key, spendable_at) "
        "WHERE spendable_at IS NOT NULL"
    )
    conn.execute(
        "CREATE TABLE pin_attempts (staff_id TEXT PRIMARY KEY, failed INTEGER NOT NULL "
        "DEFAULT 0, locked_until TEXT, last_at TEXT)"
    )
    conn.execute(
        "INSERT INTO pin_attempts (staff_id, failed, locked_until) SELECT staff_id, "
        "failed_pins, locked_until FROM staff WHERE failed_pins > 0 OR locked_until IS NOT NULL"
    )
    # The PIN counts moved out: the staff table rebuilt by copy (no DROP COLUMN, which older
    # SQLite releases lack).
    conn.execute(
        "CREATE TABLE staff_v6 (staff_id TEXT PRIMARY KEY, name TEXT, role TEXT, pin_hash TEXT)"
    )
    conn.execute("INSERT INTO staff_v6 SELECT staff_id, name, role, pin_hash FROM staff")
    conn.execute("DROP TABLE staff")
    conn.execute("ALTER TABLE staff_v6 RENAME TO staff")


def _legacy_ledger(
    member_id: str,
    heard: str,
    balance: int,
    qualifying: int,
    plan: str | None,
    until: str | None,
    tier: str | None,
    lots: list[Lot],
) -> Ledger:
    """HQ's word as schema 5 kept it (a balance, HQ's lots, a qualifying total) as a ledger:
    what the lots do not cover is one lot of its own, or a deficit."""
    gap = balance - sum(lot.remaining for lot in lots)
    live = [lot for lot in lots if lot.remaining > 0]
    if gap > 0:
        live.append(Lot(f"hq:{member_id}", gap, gap, heard))
    return Ledger(
        lots=tuple(live),
        deficit=max(0, -gap),
        qualifying_days=((heard[:10], qualifying),) if qualifying else (),
        purchases=(Purchase(heard, "hq", plan, 0, until),) if plan and until else (),
        granted_tier=tier,
    )


def _migrate_to_7(conn: sqlite3.Connection) -> None:
    """A member enrolled twice (at two tills, offline) is merged at HQ into one: the till
    keeps who each was merged into, to look them up as that member."""
    conn.execute("ALTER TABLE members ADD COLUMN merged_into TEXT")
    conn.execute(
        "CREATE INDEX idx_members_merged_into ON members (merged_into) "
        "WHERE merged_into IS NOT NULL"
    )


def _migrate_to_8(conn: sqlite3.Connection) -> None:
    """Events are inserted only at the end of the chain: the next seq, nothing before it."""
    conn.execute(GUARDS["events_in_order"])


MIGRATIONS: dict[int, Callable[[sqlite3.Connection], None]] = {
    1: _migrate_to_1,
    2: _migrate_to_2,
    3: _migrate_to_3,
    4: _migrate_to_4,
    5: _migrate_to_5,
    6: _migrate_to_6,
    7: _migrate_to_7,
    8: _migrate_to_8,
}
