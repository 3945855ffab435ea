"""The till's journal: one SQLite file, append-only events in a hash chain, plus the caches
(members, HQ's lots, outbox state, staff) that sync and the cashier read.

Durability: WAL with ``synchronous=FULL``, so a returned commit survives a power cut; every
write is one ``BEGIN IMMEDIATE`` transaction, so two processes on one till never interleave.
The database itself refuses UPDATE and DELETE on ``events``.
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import ConfigError, SchemaTooNew, StorageError

SCHEMA_VERSION = 5
GENESIS = "0" * 64
BUSY_TIMEOUT_MS = 5000
EVENT_COLUMNS = (
    "seq",
    "event_id",
    "store_id",
    "terminal_id",
    "kind",
    "member_id",
    "phone",
    "points",
    "amount",
    "currency",
    "ref_event_id",
    "ruleset",
    "detail",
    "staff_id",
    "created_at",
    "prev_hash",
    "hash",
)
_HASHED = EVENT_COLUMNS[:-1]
# A member's events: by member id, or by phone where the till did not know the member yet.
MEMBER_MATCH = "(member_id = ? OR (member_id IS NULL AND phone = ?))"


@dataclass(frozen=True)
class NewEvent:
    """What the service layer asks the journal to append; the journal adds seq and hashes."""

    event_id: str
    kind: str
    member_id: str | None
    phone: str | None
    points: int
    amount: int | None
    currency: str | None
    ref_event_id: str | None
    ruleset: str
    detail: dict[str, Any] = field(compare=False)
    staff_id: str | None
    created_at: str

    @property
    def lines(self) -> list[str]:
        return list(self.detail.get("lines", ()))


@dataclass(frozen=True)
class Event(NewEvent):
    """One journal row. ``detail`` holds what the event froze: lines, breakdown, lots."""

    seq: int
    store_id: str
    terminal_id: str
    prev_hash: str
    hash: str


def canonical_detail(detail: dict[str, Any]) -> str:
    return json.dumps(detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def event_hash(row: dict[str, Any]) -> str:
    """SHA-256 over a canonical encoding of every column but ``hash`` (``prev_hash`` included)."""
    payload = json.dumps([row[c] for c in _HASHED], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()


def _migrate_to_1(conn: sqlite3.Connection) -> None:
    import sqlite_utils  # only a new or old database needs the schema tools

    db = sqlite_utils.Database(conn)
    db["meta"].create({"key": str, "value": str}, pk="key")
    db["events"].create(
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
    db["events"].create_index(["event_id"], unique=True)
    db["events"].create_index(["member_id", "seq"])
    db["events"].create_index(["phone", "seq"])
    db["events"].create_index(["ref_event_id"])
    db["members"].create(
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
    db["members"].create_index(["phone"], unique=True)
    db["member_lots"].create(
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
    db["member_lots"].create_index(["member_id"])
    db["outbox"].create(
        {"terminal_id": str, "acked_seq": int, "last_attempt_at": str, "last_error": str},
        pk="terminal_id",
        defaults={"acked_seq": 0},
    )
    db["staff"].create({"staff_id": str, "name": str, "role": str, "pin_hash": str}, pk="staff_id")
    for action in ("UPDATE", "DELETE"):
        conn.execute(
            f"CREATE TRIGGER events_no_{action.lower()} BEFORE {action} ON events "
            "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
        )


def _migrate_to_2(conn: sqlite3.Connection) -> None:
    """The print queue: a slip is queued in the same transaction as the event it prints."""
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    db["print_jobs"].create(
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
    db["print_jobs"].create_index(["status", "job_id"])
    db["device_state"].create(
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


MIGRATIONS = {
    1: _migrate_to_1,
    2: _migrate_to_2,
    3: _migrate_to_3,
    4: _migrate_to_4,
    5: _migrate_to_5,
}


class Journal:
    """The open journal of one till. Not shared between threads: open one per thread."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        store_id: str,
        terminal_id: str,
        currency: str | None = None,
    ):
        self.conn = conn
        self.path = path
        self.store_id = store_id
        self.terminal_id = terminal_id
        self.currency = currency
        self._in_write = False

    @classmethod
    def open(
        cls, path: Path, *, store_id: str, terminal_id: str, currency: str | None = None
    ) -> Journal:
        path = Path(path)
        _create_private(path)
        try:
            conn = sqlite3.connect(path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
            conn.row_factory = sqlite3.Row
            conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute("PRAGMA foreign_keys = ON")
            journal = cls(conn, path, store_id, terminal_id, currency)
            journal._migrate()
            journal._check_owner()
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"The till database {path} cannot be opened: {exc}.") from None
        return journal

    def close(self) -> None:
        self.conn.close()

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"The till database {self.path} was written by a newer pos-loyalty (schema "
                f"{version}, this one knows {SCHEMA_VERSION}); upgrade pos-loyalty."
            )
        if version == SCHEMA_VERSION:
            return
        with self.writing():
            # Another process may have migrated while this one waited for the write lock.
            version = self.conn.execute("PRAGMA user_version").fetchone()[0]
            for step in range(version + 1, SCHEMA_VERSION + 1):
                MIGRATIONS[step](self.conn)
            if version == 0:
                self.conn.executemany(
                    "INSERT INTO meta (key, value) VALUES (?, ?)",
                    [("store_id", self.store_id), ("terminal_id", self.terminal_id)],
                )
                self.conn.execute(
                    "INSERT INTO outbox (terminal_id, acked_seq) VALUES (?, 0)", (self.terminal_id,)
                )
            self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check_owner(self) -> None:
        meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        owner = (meta.get("store_id"), meta.get("terminal_id"))
        if owner != (self.store_id, self.terminal_id):
            raise ConfigError(
                f"The till database {self.path} belongs to store {owner[0]} terminal {owner[1]}, "
                f"but the config says store {self.store_id} terminal {self.terminal_id}."
            )
        if self.currency:
            self._check_currency(meta.get("currency"))

    def _check_currency(self, recorded: str | None) -> None:
        """Amounts in the journal are minor units of one currency: a till never changes it."""
        if recorded is None:
            with self.writing():  # first open since the currency was recorded: record it once
                self.conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('currency', ?)",
                    (self.currency,),
                )
            recorded = self.conn.execute(
                "SELECT value FROM meta WHERE key = 'currency'"
            ).fetchone()[0]
        if recorded != self.currency:
            raise ConfigError(
                f"The till database {self.path} keeps its amounts in {recorded}, but the config "
                f"says store.currency = {self.currency}; a till cannot change its currency."
            )

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """One ``BEGIN IMMEDIATE`` transaction: all of it commits durably, or none of it."""
        if self._in_write:
            yield
            return
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StorageError(f"The till database is busy or unwritable ({exc}).") from None
        self._in_write = True
        try:
            yield
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._rollback()
            raise StorageError(f"Nothing was saved: {_storage_reason(exc)}.") from None
        except BaseException:
            self._rollback()
            raise
        finally:
            self._in_write = False

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")

    # -- events -------------------------------------------------------------------------

    def append(self, new: NewEvent) -> Event:
        """Add an event at the end of the chain; call inside ``writing()``."""
        assert self._in_write, "append outside a transaction"
        last = self.conn.execute(
            "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        seq, prev = (last["seq"] + 1, last["hash"]) if last else (1, GENESIS)
        row = dict(new.__dict__)  # not asdict(): it deep-copies the detail for nothing
        row.update(
            seq=seq,
            store_id=self.store_id,
            terminal_id=self.terminal_id,
            detail=canonical_detail(new.detail),
            prev_hash=prev,
        )
        row["hash"] = event_hash(row)
        placeholders = ", ".join("?" for _ in EVENT_COLUMNS)
        self.conn.execute(
            f"INSERT INTO events ({', '.join(EVENT_COLUMNS)}) VALUES ({placeholders})",
            [row[c] for c in EVENT_COLUMNS],
        )
        return _event(row)

    def event(self, event_id: str) -> Event | None:
        row = self.conn.execute("SELECT * FROM events WHERE event_id = ?", (event_id,)).fetchone()
        return _event(row) if row else None

    def event_by_seq(self, seq: int) -> Event | None:
        row = self.conn.execute("SELECT * FROM events WHERE seq = ?", (seq,)).fetchone()
        return _event(row) if row else None

    def reversals_of(self, event_id: str) -> list[Event]:
        rows = self.conn.execute(
            "SELECT * FROM events WHERE ref_event_id = ? AND kind = 'reverse' ORDER BY seq",
            (event_id,),
        )
        return [_event(r) for r in rows]

    def member_events(
        self, member_id: str | None, phone: str | None, *, after_seq: int = 0
    ) -> list[Event]:
        """A member's events after ``after_seq``, including those recorded against their
        phone before the till knew them."""
        rows = self.conn.execute(
            f"SELECT * FROM events WHERE seq > ? AND {MEMBER_MATCH} ORDER BY seq",
            (after_seq, member_id, phone),
        )
        return [_event(r) for r in rows]

    def has_events(self, member_id: str | None, phone: str | None) -> bool:
        """Whether this till recorded anything for the member (offline, before it knew them)."""
        return bool(
            self.conn.execute(
                f"SELECT 1 FROM events WHERE {MEMBER_MATCH} LIMIT 1", (member_id, phone)
            ).fetchone()
        )

    def recent_member_events(
        self, member_id: str | None, phone: str | None, limit: int
    ) -> list[Event]:
        rows = self.conn.execute(
            f"SELECT * FROM events WHERE {MEMBER_MATCH} ORDER BY seq DESC LIMIT ?",
            (member_id, phone, limit),
        )
        return [_event(r) for r in rows]

    def count_member_events(
        self, member_id: str | None, phone: str | None, kinds: tuple[str, ...], since: str
    ) -> int:
        marks = ", ".join("?" for _ in kinds)
        return self.conn.execute(
            f"SELECT count(*) FROM events WHERE {MEMBER_MATCH} "
            f"AND kind IN ({marks}) AND created_at >= ?",
            (member_id, phone, *kinds, since),
        ).fetchone()[0]

    def events_after_by_kind(self, seq: int) -> list[sqlite3.Row]:
        """(kind, count, oldest created_at) of the events after ``seq``."""
        return self.conn.execute(
            "SELECT kind, count(*), min(created_at) FROM events WHERE seq > ? GROUP BY kind",
            (seq,),
        ).fetchall()

    def outstanding_points(self) -> int:
        """All points this till knows to be outstanding: HQ's confirmed balances, plus every
        later event of this till, matched to members as ``member_events`` matches them."""
        confirmed = self.conn.execute(
            "SELECT coalesce(sum(confirmed_balance), 0) FROM members"
        ).fetchone()[0]
        later = self.conn.execute(
            "SELECT coalesce(sum(e.points), 0) FROM events e LEFT JOIN members m "
            "ON m.member_id = e.member_id OR (e.member_id IS NULL AND m.phone = e.phone) "
            "WHERE e.seq > coalesce(m.confirmed_through_seq, 0)"
        ).fetchone()[0]
        return confirmed + later

    def iter_events(self, after_seq: int = 0) -> Iterator[sqlite3.Row]:
        yield from self.conn.execute(
            "SELECT * FROM events WHERE seq > ? ORDER BY seq", (after_seq,)
        )

    def last_seq(self) -> int:
        return self.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0]

    def request_event(self, request_id: str) -> Event | None:
        row = self.conn.execute(
            "SELECT e.* FROM requests r JOIN events e ON e.event_id = r.event_id "
            "WHERE r.request_id = ?",
            (request_id,),
        ).fetchone()
        return _event(row) if row else None

    def remember_request(self, request_id: str, event_id: str) -> None:
        assert self._in_write, "remember_request outside a transaction"
        self.conn.execute(
            "INSERT INTO requests (request_id, event_id) VALUES (?, ?)", (request_id, event_id)
        )

    # -- members cache --------------------------------------------------------------------

    def member(self, member_id: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM members WHERE member_id = ?", (member_id,)
        ).fetchone()

    def member_by_phone(self, phone: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM members WHERE phone = ?", (phone,)).fetchone()

    def add_member(self, **columns: Any) -> None:
        names = ", ".join(columns)
        marks = ", ".join("?" for _ in columns)
        self.conn.execute(
            f"INSERT INTO members ({names}) VALUES ({marks})", tuple(columns.values())
        )

    def member_lots(self, member_id: str) -> list[sqlite3.Row]:
        return self.conn.execute(
            "SELECT * FROM member_lots WHERE member_id = ? ORDER BY lot_id", (member_id,)
        ).fetchall()

    # -- outbox and staff -------------------------------------------------------------------

    def outbox(self) -> sqlite3.Row:
        return self.conn.execute(
            "SELECT * FROM outbox WHERE terminal_id = ?", (self.terminal_id,)
        ).fetchone()

    # -- print queue ---------------------------------------------------------------------------

    def add_print_job(
        self,
        kind: str,
        slip: dict[str, Any],
        created_at: str,
        *,
        event_id: str | None = None,
        reprint_of: int | None = None,
    ) -> int:
        """Queue a slip; call inside ``writing()``, with the event it prints."""
        assert self._in_write, "add_print_job outside a transaction"
        cur = self.conn.execute(
            "INSERT INTO print_jobs (event_id, kind, slip, created_at, reprint_of) "
            "VALUES (?, ?, ?, ?, ?)",
            (event_id, kind, canonical_detail(slip), created_at, reprint_of),
        )
        return int(cur.lastrowid or 0)

    def print_job(self, job_id: int) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM print_jobs WHERE job_id = ?", (job_id,)).fetchone()

    def last_print_job(self) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM print_jobs ORDER BY job_id DESC LIMIT 1").fetchone()

    def claim_print_jobs(
        self, now: str, lease_until: str, limit: int = 20, *, now_not_later: bool = False
    ) -> list[sqlite3.Row]:
        """The due jobs (all waiting ones if ``now_not_later``), leased to the caller until
        ``lease_until``: another process draining the same queue (the UI's worker and a CLI
        call) skips them, so no slip prints twice; if the worker dies, the lease runs out."""
        with self.writing():
            waiting = self.conn.execute(
                "SELECT * FROM print_jobs WHERE status = 'queued' ORDER BY job_id LIMIT ?",
                (limit,),
            ).fetchall()
            jobs = list(
                itertools.takewhile(lambda job: _claimable(job, now, now_not_later), waiting)
            )
            self.conn.executemany(
                "UPDATE print_jobs SET lease_until = ? WHERE job_id = ?",
                [(lease_until, job["job_id"]) for job in jobs],
            )
        return jobs

    def release_print_jobs(self, job_ids: list[int]) -> None:
        with self.writing():
            self.conn.executemany(
                "UPDATE print_jobs SET lease_until = NULL WHERE job_id = ?", [(j,) for j in job_ids]
            )

    def mark_failed(self, job_id: int, error: str) -> None:
        """A job that can never print (its slip cannot be read); kept for the record."""
        with self.writing():
            self.conn.execute(
                "UPDATE print_jobs SET status = 'failed', attempts = attempts + 1, "
                "last_error = ? WHERE job_id = ?",
                (error, job_id),
            )

    def mark_printed(self, job_id: int, at: str) -> None:
        with self.writing():
            self.conn.execute(
                "UPDATE print_jobs SET status = 'printed', printed_at = ?, lease_until = NULL, "
                "attempts = attempts + 1, last_error = NULL WHERE job_id = ?",
                (at, job_id),
            )

    def mark_retry(self, job_id: int, error: str, next_attempt_at: str) -> None:
        with self.writing():
            self.conn.execute(
                "UPDATE print_jobs SET attempts = attempts + 1, last_error = ?, "
                "next_attempt_at = ?, lease_until = NULL WHERE job_id = ?",
                (error, next_attempt_at, job_id),
            )

    def print_queue(self) -> dict[str, Any]:
        row = self.conn.execute(
            "SELECT count(*), min(created_at), min(next_attempt_at) FROM print_jobs "
            "WHERE status = 'queued'"
        ).fetchone()
        latest = self.conn.execute(
            "SELECT last_error FROM print_jobs WHERE status = 'queued' AND last_error IS NOT NULL "
            "ORDER BY job_id DESC LIMIT 1"
        ).fetchone()
        return {
            "queued": row[0],
            "oldest_queued_at": row[1],
            "next_attempt_at": row[2],
            "last_error": latest and latest[0],
        }

    def set_device_state(self, device: str, state: str, detail: str, at: str) -> None:
        with self.writing():
            self.conn.execute(
                "INSERT INTO device_state (device, state, detail, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (device) DO UPDATE SET state = excluded.state, "
                "detail = excluded.detail, updated_at = excluded.updated_at",
                (device, state, detail, at),
            )

    def device_state(self, device: str) -> sqlite3.Row | None:
        return self.conn.execute(
            "SELECT * FROM device_state WHERE device = ?", (device,)
        ).fetchone()

    def record_pin_attempt(self, staff_id: str, ok: bool, locked_until: str | None) -> None:
        """Count a wrong PIN (locking the staff id when ``locked_until`` is given), or clear
        the count after a right one."""
        with self.writing():
            if ok:
                self.conn.execute(
                    "UPDATE staff SET failed_pins = 0, locked_until = NULL WHERE staff_id = ?",
                    (staff_id,),
                )
            else:
                self.conn.execute(
                    "UPDATE staff SET failed_pins = failed_pins + 1, "
                    "locked_until = coalesce(?, locked_until) WHERE staff_id = ?",
                    (locked_until, staff_id),
                )

    def has_manager(self) -> bool:
        return bool(self.conn.execute("SELECT 1 FROM staff WHERE role = 'manager'").fetchone())

    def staff(self, staff_id: str) -> sqlite3.Row | None:
        return self.conn.execute("SELECT * FROM staff WHERE staff_id = ?", (staff_id,)).fetchone()

    def save_staff(self, staff_id: str, name: str, role: str, pin_hash: str) -> None:
        self.conn.execute(
            "INSERT INTO staff (staff_id, name, role, pin_hash) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (staff_id) DO UPDATE SET name = excluded.name, role = excluded.role, "
            "pin_hash = excluded.pin_hash, failed_pins = 0, locked_until = NULL",
            (staff_id, name, role, pin_hash),
        )


def _claimable(job: sqlite3.Row, now: str, now_not_later: bool) -> bool:
    """Slips print in queue order: a job waiting out its backoff, or leased to another worker,
    holds back every later one."""
    if job["lease_until"] and job["lease_until"] > now:
        return False
    return now_not_later or not job["next_attempt_at"] or job["next_attempt_at"] <= now


def _event(row: sqlite3.Row | dict[str, Any]) -> Event:
    values = {c: row[c] for c in EVENT_COLUMNS}
    values["detail"] = json.loads(values["detail"])
    return Event(**values)


def _create_private(path: Path) -> None:
    """Create the database file readable by its owner only, before SQLite touches it
    (SQLite gives its -wal and -shm files the same mode)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except OSError as exc:
        verb = "written" if path.exists() else "created"
        raise StorageError(f"The till database {path} cannot be {verb}: {exc.strerror}.") from None


def _storage_reason(exc: sqlite3.OperationalError) -> str:
    text = str(exc)
    if "full" in text:
        return "the disk is full"
    if "locked" in text or "busy" in text:
        return "the database is busy"
    return text


@dataclass(frozen=True)
class ChainReport:
    checked: int
    problem: str | None = None
    seq: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(journal: Journal) -> ChainReport:
    """Recompute the hash chain from the first event; report the first broken link."""
    triggers = {
        r[0] for r in journal.conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
    }
    if not {"events_no_update", "events_no_delete"} <= triggers:
        return ChainReport(0, "The append-only guards on the events table have been removed.")
    prev, expected, checked = GENESIS, 1, 0
    for row in journal.iter_events():
        seq = row["seq"]
        if seq != expected:
            return ChainReport(checked, f"Events {expected}–{seq - 1} are missing.", expected)
        if (row["store_id"], row["terminal_id"]) != (journal.store_id, journal.terminal_id):
            return ChainReport(checked, f"Event {seq} names another store or terminal.", seq)
        if row["prev_hash"] != prev:
            return ChainReport(checked, f"Event {seq} does not link to event {seq - 1}.", seq)
        if event_hash(dict(row)) != row["hash"]:
            return ChainReport(checked, f"Event {seq} was altered after it was written.", seq)
        prev, expected, checked = row["hash"], seq + 1, checked + 1
    return ChainReport(checked)
