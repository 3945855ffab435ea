"""What HQ knows and does, on either database: terminals and their tokens, every terminal's
chain of events, and each member's account, folded with the same ``rules.account.fold`` the
tills use.

A push is one transaction: each event is checked against the terminal's chain, deduplicated
by its id for good (same id and hash: a duplicate; same id, another hash: a conflict kept for
review, never an overwrite), stored, and folded into its member's account. HQ never refuses
an event that continues the chain: what it cannot apply cleanly (a balance below zero) it
applies as far as the rules allow and flags for review.

The schema is laid out for Citus (docs/SCALING.md): terminal-side tables are distributed by
``store_id`` and every unique key includes it; member-side tables by ``member_key``.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from pos_loyalty import chain
from pos_loyalty.clock import iso, utc_now
from pos_loyalty.config import ID_PATTERN, ID_RULE
from pos_loyalty.errors import BadInput, LoyaltyError, NotAllowed, StorageError
from pos_loyalty.rules import kinds
from pos_loyalty.rules.account import Ledger, advance, decode, encode, expiry_due
from pos_loyalty.rules.lots import Lot
from pos_loyalty.rules.program import Program, ruleset_version

from ..protocol import (
    EventOutcome,
    EventReply,
    KindTotal,
    Problem,
    ProgramReply,
    PushReply,
    PushRequest,
    ReversalInfo,
    Snapshot,
    Totals,
    WireEvent,
)
from .db import Database, DuplicateKey, Tx, insert_rows
from .lots import DDL as LOTS_DDL
from .lots import TrackedShelf, lots_of, move_lots_out, with_lots, write_lots

SCHEMA_VERSION = 4
_OF_PHONE = "member_key LIKE 'tel:%'"  # an account of a phone no member holds yet
_DDL = (
    "CREATE TABLE IF NOT EXISTS hq_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    # A terminal: its token (only a hash of it), the journal it speaks for, its chain head.
    "CREATE TABLE IF NOT EXISTS terminals (store_id TEXT NOT NULL, terminal_id TEXT NOT NULL, "
    "token_hash TEXT NOT NULL, journal_id TEXT, head_seq BIGINT NOT NULL DEFAULT 0, "
    "head_hash TEXT, created_at TEXT NOT NULL, revoked_at TEXT, "
    "PRIMARY KEY (store_id, terminal_id))",
    "CREATE UNIQUE INDEX IF NOT EXISTS terminals_token ON terminals (token_hash)",
    # Every event of every terminal, exactly as received (detail as its canonical text).
    "CREATE TABLE IF NOT EXISTS events (store_id TEXT NOT NULL, terminal_id TEXT NOT NULL, "
    "journal_id TEXT NOT NULL, seq BIGINT NOT NULL, event_id TEXT NOT NULL, "
    "kind TEXT NOT NULL, member_id TEXT, phone TEXT, points BIGINT NOT NULL, "
    "amount BIGINT, currency TEXT, ref_event_id TEXT, "
    "ruleset TEXT NOT NULL, detail TEXT NOT NULL, staff_id TEXT, created_at TEXT NOT NULL, "
    "prev_hash TEXT NOT NULL, hash TEXT NOT NULL, chain_version BIGINT NOT NULL, "
    "member_key TEXT NOT NULL, received_at TEXT NOT NULL, "
    "PRIMARY KEY (store_id, terminal_id, journal_id, seq))",
    # Dedup for good, by id within the store (for Citus: docs/SCALING.md), and an event by
    # id from any till (a refund at another till): one index, as each is a random key that
    # every event writes a page of.
    "CREATE UNIQUE INDEX IF NOT EXISTS events_once ON events (event_id, store_id)",
    "CREATE INDEX IF NOT EXISTS events_created ON events (created_at)",  # a day's figures
    # The events of a phone's own account, to hand over when a member enrols with the phone:
    # only those events are indexed, so the others write no page of it.
    f"CREATE INDEX IF NOT EXISTS events_of_phones ON events (member_key) WHERE {_OF_PHONE}",
    "CREATE INDEX IF NOT EXISTS events_reversals ON events (ref_event_id) "
    "WHERE ref_event_id IS NOT NULL",
    # Schema 2's indexes, which these replace.
    "DROP INDEX IF EXISTS events_id",
    "DROP INDEX IF EXISTS events_member",
    "DROP INDEX IF EXISTS events_by_id",
    "DROP INDEX IF EXISTS events_ref",
    # Each member's account: the fold of every event of theirs HQ holds, and its version.
    "CREATE TABLE IF NOT EXISTS accounts (member_key TEXT PRIMARY KEY, member_id TEXT, "
    "phone TEXT, name TEXT, version BIGINT NOT NULL, ledger TEXT NOT NULL, "
    "balance BIGINT NOT NULL, updated_at TEXT NOT NULL, change_seq BIGINT NOT NULL, "
    "merged_into TEXT, through TEXT NOT NULL DEFAULT '{}')",
    # The directory's cursor: accounts by the order their changes committed.
    "CREATE INDEX IF NOT EXISTS accounts_changes ON accounts (change_seq)",
    # The few members merged into another: each push asks whether its members are.
    "CREATE INDEX IF NOT EXISTS accounts_merged ON accounts (member_key) "
    "WHERE merged_into IS NOT NULL",
    # Who holds a phone: where an event recorded against the phone alone belongs.
    "CREATE INDEX IF NOT EXISTS accounts_phone ON accounts (phone)",
    LOTS_DDL,  # each account's lots, a row each (sync/hq/lots.py)
    # What a person at HQ must look at: conflicts (both versions kept) and flagged events.
    # Every program HQ has served, by ruleset name: what the events name, kept for audit.
    "CREATE TABLE IF NOT EXISTS programs (ruleset TEXT PRIMARY KEY, program TEXT NOT NULL, "
    "first_served_at TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS review (store_id TEXT NOT NULL, terminal_id TEXT NOT NULL, "
    "seq BIGINT NOT NULL, event_id TEXT NOT NULL, reason TEXT NOT NULL, held TEXT, "
    "received TEXT, at TEXT NOT NULL)",
)


# HQ's own chain: the events HQ itself records (expiry), as if from a terminal of its own.
HQ_STORE = HQ_TERMINAL = "HQ"


class UnknownToken(LoyaltyError):
    """A token HQ did not give, or revoked."""


class PushRefused(LoyaltyError):
    """A push HQ cannot take as it is: a gap (resend from ``expected_seq``) or a conflict."""

    def __init__(
        self,
        code: str,
        message: str,
        expected_seq: int | None = None,
        event: WireEvent | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.expected_seq = expected_seq
        self.event = event  # the event that does not fit, for review

    def problem(self) -> Problem:
        return Problem(self.code, self.message, self.expected_seq)


@dataclass(frozen=True)
class Terminal:
    store_id: str
    terminal_id: str
    journal_id: str | None
    head_seq: int
    head_hash: str | None


@dataclass(frozen=True)
class _Received:
    """A wire event with its detail parsed: what the fold reads."""

    event_id: str
    kind: str
    points: int
    created_at: str
    detail: dict[str, Any]


class HQStore:
    def __init__(self, db: Database, program: Program, clock: Any = utc_now) -> None:
        self.db = db
        self.program = program
        self.program_reply = ProgramReply(ruleset_version(program), program)
        # Programs by ruleset, as served (None: a till's own, which HQ never served).
        self._programs: dict[str, Program | None] = {self.program_reply.ruleset: program}
        self.clock = clock
        self._migrate()

    def _migrate(self) -> None:
        with self.db.transaction() as tx:
            tx.run(_DDL[0])  # hq_meta
            row = tx.one("SELECT value FROM hq_meta WHERE key = 'schema_version'")
            if row is not None and int(row[0]) > SCHEMA_VERSION:
                raise StorageError(
                    f"HQ's database is at schema {row[0]}, newer than this HQ's "
                    f"({SCHEMA_VERSION}); run the newer HQ."
                )
            for statement in _DDL:
                tx.run(statement)
            if row is not None and int(row[0]) < 2:  # a member enrolled twice, merged
                tx.run("ALTER TABLE accounts ADD COLUMN merged_into TEXT")
            if row is not None and int(row[0]) < 3:  # lots a row each
                move_lots_out(tx)
            if row is not None and int(row[0]) < 4:  # what each chain holds, in the account
                tx.run("ALTER TABLE accounts ADD COLUMN through TEXT NOT NULL DEFAULT '{}'")
                _move_through_in(tx)
            tx.run(
                "INSERT INTO hq_meta (key, value) VALUES ('schema_version', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA_VERSION),),
            )
            tx.run(
                "INSERT INTO programs (ruleset, program, first_served_at) VALUES (?, ?, ?) "
                "ON CONFLICT (ruleset) DO NOTHING",
                (
                    self.program_reply.ruleset,
                    msgspec.json.encode(self.program).decode(),
                    iso(self.clock()),
                ),
            )

    # -- terminals ----------------------------------------------------------------------------

    def add_terminal(self, store_id: str, terminal_id: str) -> str:
        """Provision a terminal (or re-provision it: a new token, a new chain); returns its
        token, which HQ keeps only as a hash."""
        for what, value in (("store", store_id), ("terminal", terminal_id)):
            if not re.fullmatch(ID_PATTERN, value):
                shown = value[:40].encode("unicode_escape").decode()  # a newline stays on one line
                raise BadInput(f"“{shown}” is not a {what} id a till can have: {ID_RULE}.")
        if store_id == HQ_STORE:
            raise NotAllowed(f"“{HQ_STORE}” names HQ's own records; choose another store id.")
        token = secrets.token_urlsafe(32)
        now = iso(self.clock())
        with self.db.transaction() as tx:
            tx.run(
                "INSERT INTO terminals (store_id, terminal_id, token_hash, created_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT (store_id, terminal_id) DO UPDATE SET "
                "token_hash = excluded.token_hash, journal_id = NULL, head_seq = 0, "
                "head_hash = NULL, created_at = excluded.created_at, revoked_at = NULL",
                (store_id, terminal_id, token_hash(token), now),
            )
        # What accounts include of the old chain no longer counts for the terminal: each
        # names the journal it counted, and the new chain's journal is another.
        return token

    def revoke(self, store_id: str, terminal_id: str) -> bool:
        with self.db.transaction() as tx:
            done = tx.run(
                "UPDATE terminals SET revoked_at = ? WHERE store_id = ? AND terminal_id = ? "
                "AND revoked_at IS NULL",
                (iso(self.clock()), store_id, terminal_id),
            )
        return done > 0

    def terminal_for(self, token: str) -> Terminal | None:
        """The terminal a token belongs to, if it is valid and not revoked."""
        with self.db.transaction() as tx:
            return _terminal(tx, "token_hash = ?", (token_hash(token),))

    # -- push ------------------------------------------------------------------------------------

    def push(self, token: str, request: PushRequest) -> PushReply:
        """Apply a batch of the token's terminal in one transaction, which finds and locks
        the terminal's row by the token; raises ``UnknownToken``, ``NotAllowed`` (another
        terminal's events), or ``PushRefused`` for a gap or a conflict (nothing of the batch
        is applied then, but a conflict is kept for review)."""
        now = iso(self.clock())
        try:
            try:
                with self.db.transaction() as tx:
                    head = _terminal(tx, f"token_hash = ?{tx.lock}", (token_hash(token),))
                    if head is None:
                        raise UnknownToken("That terminal token is wrong or was revoked.")
                    if (request.store_id, request.terminal_id) != (
                        head.store_id,
                        head.terminal_id,
                    ):
                        raise NotAllowed(
                            "This token is another terminal's; a terminal pushes its own events."
                        )
                    outcomes, seq, prev = self._apply(tx, head, request, now)
            except DuplicateKey:
                # An id the store's events already hold: the unique key caught it in the
                # insert, so no query looks for it on every push; which one is found now.
                raise self._same_id_elsewhere(request) from None
        except PushRefused as refused:
            if refused.code == "conflict" and refused.event is not None:
                self._keep_conflict(refused.event, refused.message, now)
            raise
        return PushReply(outcomes, seq, prev)

    def _keep_conflict(self, event: WireEvent, reason: str, now: str) -> None:
        """Both versions of an event that does not fit, for a person to decide, in a
        transaction of its own: the batch itself was not applied."""
        with self.db.transaction() as tx:
            held = tx.one(
                "SELECT detail, hash FROM events WHERE store_id = ? AND terminal_id = ? "
                "AND seq = ? ORDER BY received_at DESC LIMIT 1",
                (event.store_id, event.terminal_id, event.seq),
            )
            tx.run(
                "INSERT INTO review (store_id, terminal_id, seq, event_id, reason, held, "
                "received, at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    event.store_id,
                    event.terminal_id,
                    event.seq,
                    event.event_id,
                    f"conflict: {reason}",
                    json.dumps(list(held)) if held else None,
                    json.dumps([event.detail, event.hash]),
                    now,
                ),
            )

    def _apply(
        self, tx: Tx, head: Terminal, request: PushRequest, now: str
    ) -> tuple[list[EventOutcome], int, str | None]:
        events = request.events
        journal = head.journal_id
        if journal is not None and journal != request.journal_id:
            raise PushRefused(
                "journal_replaced",
                f"Terminal {head.terminal_id} already pushes another journal; an administrator "
                "must provision it again (`pos-loyalty hq add-terminal`) before a new journal "
                "can start its chain.",
            )
        for n, event in enumerate(events):
            if (event.store_id, event.terminal_id) != (head.store_id, head.terminal_id):
                raise NotAllowed(f"Event #{event.seq} names another store or terminal.")
            if n and event.seq != events[n - 1].seq + 1:
                raise PushRefused("bad_batch", "The events of a batch must follow on in seq order.")
        first = events[0].seq
        if first > head.head_seq + 1:
            raise PushRefused(
                "gap",
                f"HQ holds this terminal's events up to #{head.head_seq}; send from "
                f"#{head.head_seq + 1}.",
                head.head_seq + 1,
            )
        held = self._held(tx, head, request.journal_id, events)
        fresh: list[WireEvent] = []
        details: list[dict[str, Any]] = []
        outcomes: list[EventOutcome] = []
        seq, prev = head.head_seq, head.head_hash
        genesis = chain.genesis(request.journal_id, head.store_id, head.terminal_id)
        for event in events:
            if event.seq <= head.head_seq:
                if held.get(event.seq) != (event.event_id, event.hash):
                    raise PushRefused(
                        "conflict",
                        f"Event #{event.seq} differs from the one HQ holds at that place in "
                        "this terminal's chain; both are kept for review.",
                        event=event,
                    )
                outcomes.append(EventOutcome(event.event_id, event.seq, "duplicate"))
                continue
            link = prev if seq else (genesis if event.chain_version else chain.LEGACY_GENESIS)
            problem, detail = _checked(event, link)
            if problem:
                raise PushRefused("conflict", problem, event=event)
            if wrong := kinds.problem(event, detail, self._program_of(tx, event.ruleset)):
                raise PushRefused(
                    "invalid", f"Event #{event.seq} {wrong}; HQ took none of the batch."
                )
            fresh.append(event)
            details.append(detail)
            seq, prev = event.seq, event.hash
        if fresh:
            _once_each(fresh)
            flags = self._store(tx, request.journal_id, fresh, now, details)
            outcomes += [
                EventOutcome(e.event_id, e.seq, "applied", flags.get(e.event_id, [])) for e in fresh
            ]
        tx.run(
            "UPDATE terminals SET head_seq = ?, head_hash = ?, journal_id = ? "
            "WHERE store_id = ? AND terminal_id = ?",
            (seq, prev, request.journal_id, head.store_id, head.terminal_id),
        )
        return outcomes, seq, prev

    def _program_of(self, tx: Tx, ruleset: str) -> Program | None:
        """The program an event names, where HQ served it (None: a till's own, unknown here)."""
        if ruleset not in self._programs:
            row = tx.one("SELECT program FROM programs WHERE ruleset = ?", (ruleset,))
            program = msgspec.json.decode(row[0], type=Program) if row else None
            self._programs[ruleset] = program
        return self._programs[ruleset]

    def _held(
        self, tx: Tx, head: Terminal, journal_id: str, events: list[WireEvent]
    ) -> dict[int, tuple[str, str]]:
        """What HQ holds at the seqs of a batch it has seen part of (a retry): one query."""
        if events[0].seq > head.head_seq:
            return {}
        rows = tx.all(
            "SELECT seq, event_id, hash FROM events WHERE store_id = ? AND terminal_id = ? "
            "AND journal_id = ? AND seq BETWEEN ? AND ?",
            (head.store_id, head.terminal_id, journal_id, events[0].seq, head.head_seq),
        )
        return {int(r[0]): (r[1], r[2]) for r in rows}

    def _same_id_elsewhere(self, request: PushRequest) -> PushRefused:
        """The conflict of a batch one of whose events has the id of an event HQ holds at
        another place (another terminal, journal or seq) of the same store."""
        events = request.events
        with self.db.transaction() as tx:
            condition, ids = tx.among("event_id", [e.event_id for e in events])
            rows = tx.all(
                f"SELECT event_id, terminal_id, journal_id, seq FROM events "
                f"WHERE store_id = ? AND {condition}",
                (events[0].store_id, *ids),
            )
        places = {row[0]: (row[1], row[2], int(row[3])) for row in rows}
        for event in events:
            place = places.get(event.event_id)
            if place is None:
                continue
            if place == (event.terminal_id, request.journal_id, event.seq):
                # HQ holds it already, from this journal's chain before the terminal was
                # provisioned again, which starts a new chain: this journal cannot go on.
                return PushRefused(
                    "conflict",
                    f"Event #{event.seq} is at HQ already, from before terminal "
                    f"{event.terminal_id} was provisioned again; a terminal provisioned "
                    "again starts a new journal. Both are kept for review.",
                    event=event,
                )
            mine = place[0] == event.terminal_id
            held = f"event #{place[2]}" if mine else f"an event of terminal {place[0]}"
            return PushRefused(
                "conflict",
                f"Event #{event.seq} has the id of {held} HQ already holds; "
                "both are kept for review.",
                event=event,
            )
        raise StorageError("HQ could not store the batch (a key was taken); send it again.")

    def _store(
        self,
        tx: Tx,
        journal_id: str,
        events: list[WireEvent],
        now: str,
        details: list[dict[str, Any]],
    ) -> dict[str, list[str]]:
        """The events stored and folded into their members' accounts: a statement per kind
        of row for the whole batch, not one per event."""
        keys, claimed, merged, flags = self._route(tx, events)
        flags = self._fold(tx, journal_id, events, details, keys, claimed, merged, now, flags)
        _mark_merged(tx, merged, {e.member_id: e for e in events if e.kind == "enroll"}, now)
        return flags

    def _route(
        self, tx: Tx, events: list[WireEvent]
    ) -> tuple[list[str], dict[str, str], dict[str, str], dict[str, list[str]]]:
        """Each event's account. A member's event goes to the member's; one recorded against
        a phone alone (a till that did not know the member) to the member who holds that
        phone at HQ or enrols with it in this batch, else to the phone's own account
        (``tel:+31...``), which the member's enrolment claims later. A member enrolled with
        a phone another member already holds is merged into that one: their events go to
        its account, now and later. Returns the keys, the phone accounts claimed now (phone
        key → member key), the merged members met (member id → the one they are part of),
        and flags."""
        phones = sorted(
            {e.phone for e in events if e.phone and (e.member_id is None or e.kind == "enroll")}
        )
        owner: dict[str, str] = {}
        if phones:
            tx.lock_names([f"phone:{p}" for p in phones])
            condition, args = tx.among("phone", phones)
            for key, phone in tx.all(
                f"SELECT member_key, phone FROM accounts WHERE member_id IS NOT NULL "
                f"AND merged_into IS NULL AND {condition} ORDER BY member_key",
                args,
            ):
                owner.setdefault(phone, key)
        merged = _merged(tx, sorted({e.member_id for e in events if e.member_id}))
        claimed: dict[str, str] = {}
        flags: dict[str, list[str]] = {}
        for e in events:
            if e.kind != "enroll" or not e.phone or not e.member_id:
                continue
            if e.phone not in owner:
                owner[e.phone] = e.member_id
                claimed[f"tel:{e.phone}"] = e.member_id
            elif owner[e.phone] != e.member_id:
                # Enrolled again elsewhere, offline: one member, the one HQ had first.
                merged[e.member_id] = owner[e.phone]
                flags[e.event_id] = ["merged"]
        keys = [
            (merged.get(e.member_id, e.member_id) if e.member_id else None)
            or (owner.get(e.phone) if e.phone else None)
            or f"tel:{e.phone or ''}"
            for e in events
        ]
        return keys, claimed, merged, flags

    def _fold(
        self,
        tx: Tx,
        journal_id: str,
        events: list[WireEvent],
        details: list[dict[str, Any]],
        keys: list[str],
        claimed: dict[str, str],
        merged: dict[str, str],
        now: str,
        flags: dict[str, list[str]],
    ) -> dict[str, list[str]]:
        """Each member's account with their events of the batch folded in, in order, by the
        tills' own fold; accounts read (and, on PostgreSQL, locked) in key order, so two
        batches touching the same members never wait on each other in a circle. A member
        who claims a phone's account starts from its ledger: its points were theirs. A
        merged member's own welcome and referral bonuses count nothing: one person, one
        bonus (flagged, so HQ sees it). The events are stored here too, once what the fold
        reads is read, so that PostgreSQL stores them while the fold runs."""
        members = sorted(set(keys))
        condition, args = tx.among("member_key", sorted({*members, *claimed}))
        rows = tx.all(
            f"SELECT member_key, version, ledger, phone, name, through FROM accounts "
            f"WHERE {condition} ORDER BY member_key{tx.lock}",
            args,
        )
        held = {r[0]: (int(r[1]), decode(r[2]), r[3], r[4], r[5]) for r in rows}
        for phone_key, member_key in claimed.items():
            if phone_key in held and member_key not in held:
                held[member_key] = held.pop(phone_key)
                _hand_over(tx, phone_key, member_key)
        at = self.clock().astimezone(dt.UTC)
        ledgers = {k: held[k][1] if k in held else Ledger() for k in members}
        identity = {k: (held[k][2], held[k][3]) if k in held else (None, None) for k in members}
        member_ids: dict[str, str | None] = {}
        through: dict[str, int] = {}  # the last event of the batch's chain in each account
        review = [
            (e.store_id, e.terminal_id, e.seq, e.event_id, reason)
            for e in events
            for reason in flags.get(e.event_id, [])
        ]
        _known_members(events, keys, held)
        room = _reversal_room(tx, events)
        uncounted: dict[str, int] = {}  # points of a reversal beyond what its event moved
        batch: dict[str, list[tuple[WireEvent, _Received]]] = {k: [] for k in members}
        for event, detail, key in zip(events, details, keys, strict=True):
            points = event.points
            if event.member_id in merged and event.kind in _BONUS_KINDS:
                points = 0
                flags.setdefault(event.event_id, []).append("bonus_once")
                review.append(
                    (event.store_id, event.terminal_id, event.seq, event.event_id, "bonus_once")
                )
            if event.kind == "reverse" and event.ref_event_id in room:
                # Tills refunding one sale offline may together take back more than it
                # earned: what is beyond it counts nothing, and a person looks at it.
                ref = event.ref_event_id
                left, room[ref] = room[ref], max(0, room[ref] - abs(points))
                if abs(points) > left:
                    excess, points = abs(points) - left, left if points > 0 else -left
                    uncounted[event.event_id] = excess
                    flags.setdefault(event.event_id, []).append("over_reversal")
                    review.append(
                        (
                            event.store_id,
                            event.terminal_id,
                            event.seq,
                            event.event_id,
                            f"over_reversal: {excess} points beyond what event {ref} moved, "
                            "not counted",
                        )
                    )
            batch[key].append(
                (event, _Received(event.event_id, event.kind, points, event.created_at, detail))
            )
            phone, name = identity[key]
            own = key == event.member_id  # not a merged member's, nor a phone's
            new_name = detail.get("name") if event.kind == "enroll" and own else None
            identity[key] = (
                phone or event.phone,
                new_name if isinstance(new_name, str) else name,
            )
            member_ids[key] = member_ids.get(key) or (event.member_id if own else None)
            through[key] = event.seq
        # Only an account that spends or gives back points needs the lots it holds; an
        # earn adds a lot of its own.
        lots = lots_of(
            tx,
            [k for k, folded in batch.items() if any(_reads_lots(r) for _, r in folded)],
        )
        # The database stores the events while the fold runs: what it reads is read.
        tx.send(
            "events",
            _EVENT_COLUMNS,
            [
                (
                    e.store_id,
                    e.terminal_id,
                    journal_id,
                    e.seq,
                    e.event_id,
                    e.kind,
                    e.member_id,
                    e.phone,
                    e.points,
                    e.amount,
                    e.currency,
                    e.ref_event_id,
                    e.ruleset,
                    e.detail,
                    e.staff_id,
                    e.created_at,
                    e.prev_hash,
                    e.hash,
                    e.chain_version,
                    key,
                    now,
                )
                for e, key in zip(events, keys, strict=True)
            ],
        )
        shelves = {k: TrackedShelf(lots.get(k, ())) for k in members}
        for key, folded in batch.items():
            shelf = shelves[key]
            if all(received.points >= 0 for _, received in folded):
                # Nothing here can overdraw: the member's events in one call of the fold.
                ledgers[key] = advance(
                    ledgers[key], [r for _, r in folded], at, self.program, shelf=shelf
                )
                continue
            for event, received in folded:  # one at a time, to flag the one that overdraws
                before = ledgers[key].deficit
                ledgers[key] = advance(ledgers[key], [received], at, self.program, shelf=shelf)
                if ledgers[key].deficit > before:
                    flags.setdefault(event.event_id, []).append("overdraft")
                    review.append(
                        (event.store_id, event.terminal_id, event.seq, event.event_id, "overdraft")
                    )
        if any(abs(ledger.balance) > chain.SAFE_INTEGER for ledger in ledgers.values()):
            raise PushRefused(
                "invalid",
                f"This batch would take a balance beyond {chain.SAFE_INTEGER} points, more "
                "than any till can count; HQ took none of it.",
            )
        write_lots(tx, shelves)
        first = _next_changes(tx, len(members))
        insert_rows(
            tx,
            "accounts",
            _ACCOUNT_COLUMNS,
            [
                (
                    key,
                    member_ids.get(key),
                    identity[key][0],
                    identity[key][1],
                    (held[key][0] if key in held else 0) + 1,
                    encode(ledgers[key]).decode(),
                    ledgers[key].balance,
                    now,
                    first + n,
                    _through_with(
                        held[key][4] if key in held else "{}",
                        events[0],
                        journal_id,
                        through[key],
                    ),
                )
                for n, key in enumerate(members)
            ],
            "ON CONFLICT (member_key) DO UPDATE SET version = excluded.version, "
            "ledger = excluded.ledger, balance = excluded.balance, "
            "updated_at = excluded.updated_at, change_seq = excluded.change_seq, "
            "phone = excluded.phone, name = excluded.name, through = excluded.through",
        )
        insert_rows(
            tx,
            "review",
            ("store_id", "terminal_id", "seq", "event_id", "reason", "held", "at"),
            # ``held``: what of an over-reversal counted nothing, for the day's figures.
            [(*r, _uncounted(r[4], uncounted.get(r[3])), now) for r in review],
        )
        return flags

    # -- expiry ----------------------------------------------------------------------------

    def expire(self, *, page: int = 500) -> tuple[int, int]:
        """Points past their lot's expiry, or every point of a member inactive too long
        (``expiry_due``, the shared rule), taken as ``expire`` events in HQ's own chain and
        folded like any till's, so each till hears of it from the directory. A page of
        accounts per transaction, locked while it is read: run twice at once (two HQ
        processes), nothing expires twice. Returns (accounts, points) expired."""
        at = self.clock().astimezone(dt.UTC)
        now = iso(at)
        accounts = points = 0
        after = ""
        while True:
            with self.db.transaction() as tx:
                head, journal_id = self._own_chain(tx, now)
                rows = tx.all(
                    "SELECT member_key, member_id, phone, ledger FROM accounts "
                    "WHERE member_key > ? AND balance > 0 AND merged_into IS NULL "
                    f"ORDER BY member_key LIMIT ?{tx.lock}",
                    (after, page),
                )
                if not rows:
                    return accounts, points
                after = rows[-1][0]
                events: list[WireEvent] = []
                details: list[dict[str, Any]] = []
                seq = head.head_seq
                prev = head.head_hash or chain.genesis(journal_id, HQ_STORE, HQ_TERMINAL)
                lots = lots_of(tx, [r[0] for r in rows])
                for key, member_id, phone, ledger in rows:
                    whole = with_lots(decode(ledger), lots.get(key, ()))
                    due, draws = expiry_due(whole, at, self.program)
                    if due <= 0:
                        continue
                    detail = {
                        "lines": [f"{due} points expired"],
                        "draws": [d.to_json() for d in draws],
                    }
                    seq += 1
                    event = self._own_event(seq, prev, member_id, phone, -due, detail, now)
                    events.append(event)
                    details.append(detail)
                    prev = event.hash
                    points += due
                if events:
                    self._store(tx, journal_id, events, now, details)
                    tx.run(
                        "UPDATE terminals SET head_seq = ?, head_hash = ? "
                        "WHERE store_id = ? AND terminal_id = ?",
                        (seq, prev, HQ_STORE, HQ_TERMINAL),
                    )
                accounts += len(events)

    def _own_chain(self, tx: Tx, now: str) -> tuple[Terminal, str]:
        """HQ's own chain (its expiry events), its head locked: one writer at a time."""
        journal_id = secrets.token_hex(16)
        tx.run(
            "INSERT INTO terminals (store_id, terminal_id, token_hash, journal_id, created_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (store_id, terminal_id) DO NOTHING",
            (HQ_STORE, HQ_TERMINAL, token_hash(secrets.token_urlsafe(32)), journal_id, now),
        )
        head = _terminal(tx, f"store_id = ? AND terminal_id = ?{tx.lock}", (HQ_STORE, HQ_TERMINAL))
        assert head is not None  # made just above, and never revoked
        return head, head.journal_id or journal_id

    def _own_event(
        self,
        seq: int,
        prev: str,
        member_id: str | None,
        phone: str | None,
        points: int,
        detail: dict[str, Any],
        now: str,
    ) -> WireEvent:
        fields: dict[str, Any] = {
            "seq": seq,
            "event_id": str(uuid.uuid4()),
            "store_id": HQ_STORE,
            "terminal_id": HQ_TERMINAL,
            "kind": "expire",
            "member_id": member_id,
            "phone": None if member_id else phone,
            "points": points,
            "amount": None,
            "currency": None,
            "ref_event_id": None,
            "ruleset": self.program_reply.ruleset,
            "staff_id": None,
            "created_at": now,
            "prev_hash": prev,
        }
        text = chain.canonical(detail)
        digest = chain.event_hash({**fields, "detail": detail}, text)
        return WireEvent(**fields, detail=text, hash=digest, chain_version=1)

    # -- the directory -------------------------------------------------------------------------

    def changes(
        self, terminal: Terminal, since: int, limit: int, scope: str = "all"
    ) -> tuple[list[Snapshot], int]:
        """Members whose account changed after cursor ``since``, oldest change first, each with
        the last of *this* terminal's events it includes, read in one transaction with it;
        and the cursor to ask from next. Scope ``store``: only members with an event at a
        till of the terminal's store (for a chain too big for every till to hold)."""
        with self.db.transaction(snapshot=True) as tx:
            # An account includes a till of the store's chain: its key in ``through``.
            store = (f'"{terminal.store_id}/',) if scope == "store" else ()
            rows = tx.all(
                f"{_SNAPSHOTS} WHERE a.change_seq > ? AND a.member_id IS NOT NULL"
                f"{f' AND {tx.contains(_THROUGH)}' if store else ''} "
                "ORDER BY a.change_seq LIMIT ?",
                (since, *store, limit),
            )
            snapshots = _snapshots(tx, rows, terminal)
            if rows:
                return snapshots, int(rows[-1][6])
            # Nothing after ``since``: the same cursor, unless HQ's newest change is older
            # (HQ restored from a backup), which the till reads as "take my word again".
            newest = tx.one("SELECT coalesce(max(change_seq), 0) FROM accounts")
        return snapshots, min(since, int(newest[0]) if newest else 0)

    def find_member(
        self, asker: Terminal, *, member_id: str | None = None, phone: str | None = None
    ) -> list[Snapshot]:
        """A member by id or by phone, as the asker's directory would give them; for an
        enrolment merged into another, that member follows. Empty when HQ knows none."""
        with self.db.transaction(snapshot=True) as tx:
            if member_id is not None:
                rows = tx.all(
                    f"{_SNAPSHOTS} WHERE a.member_key = ? AND a.member_id IS NOT NULL",
                    (member_id,),
                )
            else:
                rows = tx.all(
                    f"{_SNAPSHOTS} WHERE a.phone = ? AND a.member_id IS NOT NULL "
                    "AND a.merged_into IS NULL ORDER BY a.member_key LIMIT 1",
                    (phone,),
                )
            if rows and rows[0][8]:
                rows += tx.all(f"{_SNAPSHOTS} WHERE a.member_key = ?", (rows[0][8],))
            return _snapshots(tx, rows, asker)

    def find_event(
        self,
        asker: Terminal,
        *,
        event_id: str | None = None,
        terminal_id: str | None = None,
        seq: int | None = None,
    ) -> EventReply | None:
        """An event of any till (by id; or by terminal and seq among the asker's store's
        tills, in each one's current chain), every reversal of it, and its member's account
        as the asker's directory would give it: all read in one transaction."""
        columns = ", ".join(f"e.{c}" for c in _WIRE_COLUMNS)
        with self.db.transaction(snapshot=True) as tx:
            if event_id is not None:
                row = tx.one(
                    f"SELECT {columns}, e.member_key FROM events e WHERE e.event_id = ? LIMIT 1",
                    (event_id,),
                )
            else:
                row = tx.one(
                    f"SELECT {columns}, e.member_key FROM events e JOIN terminals t "
                    "ON t.store_id = e.store_id AND t.terminal_id = e.terminal_id "
                    "AND t.journal_id = e.journal_id "
                    "WHERE e.store_id = ? AND e.terminal_id = ? AND e.seq = ?",
                    (asker.store_id, terminal_id, seq),
                )
            if row is None:
                return None
            event = WireEvent(*row[: len(_WIRE_COLUMNS)])
            reversals = tx.all(
                "SELECT event_id, points, detail FROM events "
                "WHERE ref_event_id = ? AND kind = 'reverse' ORDER BY created_at",
                (event.event_id,),
            )
            member = _snapshots(
                tx,
                tx.all(
                    f"{_SNAPSHOTS} WHERE a.member_key = ? AND a.member_id IS NOT NULL",
                    (row[-1],),
                ),
                asker,
            )
        return EventReply(
            event,
            [
                ReversalInfo(r[0], int(r[1]), json.loads(r[2]).get("refund_amount"))
                for r in reversals
            ],
            member[0] if member else None,
        )

    def totals(self, terminal: Terminal, since: str, until: str) -> Totals:
        """The chain's figures from ``since`` until ``until`` (events by kind, chain-wide and
        in the terminal's store) and every account's outstanding points, read as one
        snapshot."""
        with self.db.transaction(snapshot=True) as tx:
            kinds = tx.all(
                # A merged member's bonus is kept as sent but counted nothing (bonus_once).
                # and a reversal counts only what its sale earned (over_reversal).
                "SELECT store_id, kind, count(*), coalesce(sum(CASE WHEN EXISTS (SELECT 1 "
                "FROM review r WHERE r.event_id = e.event_id AND r.reason = 'bonus_once') "
                "THEN 0 WHEN kind = 'reverse' THEN points - "
                "(CASE WHEN points < 0 THEN -1 ELSE 1 END) * coalesce(("
                "SELECT sum(CAST(r.held AS BIGINT)) FROM review r WHERE r.event_id = e.event_id "
                "AND r.reason LIKE 'over_reversal%'), 0) ELSE points END), 0) FROM events e "
                "WHERE created_at >= ? AND created_at < ? GROUP BY store_id, kind",
                (since, until),
            )
            accounts = tx.one(
                "SELECT count(member_id), "
                "coalesce(sum(CASE WHEN balance > 0 THEN balance END), 0), "
                "coalesce(sum(CASE WHEN balance < 0 THEN -balance END), 0) FROM accounts "
                "WHERE merged_into IS NULL"
            )
            head = tx.one(
                "SELECT head_seq, head_hash FROM terminals WHERE store_id = ? AND terminal_id = ?",
                (terminal.store_id, terminal.terminal_id),
            )
        chain: dict[str, list[int]] = {}
        store: dict[str, list[int]] = {}
        for store_id, kind, count, points in kinds:
            for into in (chain, store) if store_id == terminal.store_id else (chain,):
                total = into.setdefault(kind, [0, 0])
                total[0] += int(count)
                total[1] += int(points)
        members, liability, deficit = (int(n) for n in accounts) if accounts else (0, 0, 0)
        return Totals(
            as_of=iso(self.clock()),
            members=members,
            liability_points=liability,
            deficit_points=deficit,
            chain={k: KindTotal(*v) for k, v in sorted(chain.items())},
            store={k: KindTotal(*v) for k, v in sorted(store.items())},
            acked_seq=int(head[0]) if head else 0,
            head_hash=head[1] if head else None,
        )

    # -- checking ------------------------------------------------------------------------------

    def verify(self) -> list[tuple[str, str, int, str | None]]:
        """Every terminal's chain recomputed from what HQ stored: (store, terminal, events
        checked, the first problem or None), one row per terminal and journal."""
        with self.db.transaction() as tx:
            chains = tx.all(
                "SELECT DISTINCT store_id, terminal_id, journal_id FROM events "
                "ORDER BY store_id, terminal_id, journal_id"
            )
        report = []
        for store_id, terminal_id, journal_id in chains:
            checked, problem = self._verify_chain(store_id, terminal_id, journal_id)
            report.append((store_id, terminal_id, checked, problem))
        return report

    def _verify_chain(
        self, store_id: str, terminal_id: str, journal_id: str
    ) -> tuple[int, str | None]:
        columns = ", ".join(_WIRE_COLUMNS)
        with self.db.transaction() as tx:
            rows = tx.all(
                f"SELECT {columns} FROM events WHERE store_id = ? AND terminal_id = ? "
                "AND journal_id = ? ORDER BY seq",
                (store_id, terminal_id, journal_id),
            )
        prev: str | None = None
        for checked, row in enumerate(rows):
            event = WireEvent(**dict(zip(_WIRE_COLUMNS, row, strict=True)))
            if event.seq != checked + 1:
                return checked, f"events {checked + 1}–{event.seq - 1} are missing"
            genesis = chain.genesis(journal_id, store_id, terminal_id)
            link = prev if prev else (genesis if event.chain_version else chain.LEGACY_GENESIS)
            problem = _chain_problem(event, link)
            if problem:
                return checked, problem
            prev = event.hash
        return len(rows), None

    # -- reading -------------------------------------------------------------------------------

    def account(self, member_key: str) -> tuple[int, Ledger] | None:
        with self.db.transaction(snapshot=True) as tx:
            row = tx.one("SELECT version, ledger FROM accounts WHERE member_key = ?", (member_key,))
            lots = lots_of(tx, [member_key]).get(member_key, [])
        return (int(row[0]), with_lots(decode(row[1]), lots)) if row else None

    def review(self) -> list[tuple[Any, ...]]:
        with self.db.transaction() as tx:
            return tx.all(
                "SELECT store_id, terminal_id, seq, event_id, reason, at FROM review "
                "ORDER BY at, store_id, terminal_id, seq"
            )

    def event_count(self) -> int:
        with self.db.transaction() as tx:
            row = tx.one("SELECT count(*) FROM events")
        return int(row[0]) if row else 0


_WIRE_COLUMNS = tuple(WireEvent.__struct_fields__)
_EVENT_COLUMNS = (
    "store_id",
    "terminal_id",
    "journal_id",
    "seq",
    "event_id",
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
    "chain_version",
    "member_key",
    "received_at",
)


# A member's account in one terminal's view: what the directory and a lookup give.
# A merged member carries what the one they are part of includes of the terminal's chain.
_THROUGH = "coalesce(m.through, a.through)"
_SNAPSHOTS = (
    "SELECT a.member_id, a.phone, a.name, a.version, a.ledger, a.updated_at, a.change_seq, "
    f"{_THROUGH}, a.merged_into, a.member_key FROM accounts a "
    "LEFT JOIN accounts m ON m.member_key = a.merged_into"
)
# Each account's ``through``: for each terminal ("store/terminal") whose events it
# includes, the journal of that terminal's chain and the chain's last event it includes.
_Through = dict[str, tuple[str, int]]
_through = msgspec.json.Decoder(_Through)
_WIRE_COLUMNS = WireEvent.__struct_fields__
_ACCOUNT_COLUMNS = (
    "member_key",
    "member_id",
    "phone",
    "name",
    "version",
    "ledger",
    "balance",
    "updated_at",
    "change_seq",
    "through",
)


def _snapshots(tx: Tx, rows: list[tuple[Any, ...]], asker: Terminal) -> list[Snapshot]:
    """``_SNAPSHOTS`` rows as snapshots in the asker's view, each ledger with its lots,
    read in the same snapshot (``transaction(snapshot=True)``, or with the accounts locked)."""
    lots = lots_of(tx, [r[9] for r in rows])
    return [_snapshot(r, lots.get(r[9], ()), asker) for r in rows]


def _through_seq(text: str, asker: Terminal) -> int:
    """The last event of the asker's current chain that an account includes (0: none of
    it; a chain from before the terminal was provisioned again does not count)."""
    held = _through.decode(text).get(f"{asker.store_id}/{asker.terminal_id}")
    return held[1] if held is not None and held[0] == asker.journal_id else 0


def _through_with(text: str, event: WireEvent, journal_id: str, seq: int) -> str:
    """An account's ``through`` once it includes ``event``'s chain up to ``seq``."""
    held = _through.decode(text)
    held[f"{event.store_id}/{event.terminal_id}"] = (journal_id, seq)
    return msgspec.json.encode(held).decode()


def _move_through_in(tx: Tx, page: int = 1000) -> None:
    """A database from before schema 4: what each account includes of each terminal's
    chain, from the table that held it a row each into the account, a page at a time."""
    after = ""
    while keys := [
        r[0]
        for r in tx.all(
            "SELECT member_key FROM accounts WHERE member_key > ? ORDER BY member_key LIMIT ?",
            (after, page),
        )
    ]:
        after = keys[-1]
        condition, args = tx.among("s.member_key", keys)
        held: dict[str, _Through] = {}
        for key, store_id, terminal_id, seq, journal_id in tx.all(
            "SELECT s.member_key, s.store_id, s.terminal_id, s.through_seq, t.journal_id "
            "FROM account_terminals s JOIN terminals t ON t.store_id = s.store_id "
            f"AND t.terminal_id = s.terminal_id WHERE {condition} AND t.journal_id IS NOT NULL",
            args,
        ):
            held.setdefault(key, {})[f"{store_id}/{terminal_id}"] = (journal_id, int(seq))
        tx.many(
            "UPDATE accounts SET through = ? WHERE member_key = ?",
            [(msgspec.json.encode(through).decode(), key) for key, through in held.items()],
        )
    tx.run("DROP TABLE account_terminals")


def _snapshot(row: tuple[Any, ...], lots: Sequence[Lot], asker: Terminal) -> Snapshot:
    return Snapshot(
        member_id=row[0],
        phone=row[1],
        name=row[2],
        version=int(row[3]),
        ledger=with_lots(decode(row[4]), lots),
        updated_at=row[5],
        through_seq=_through_seq(row[7], asker),
        merged_into=row[8],
    )


_BONUS_KINDS = ("welcome_bonus", "referral_bonus")


def _reads_lots(event: _Received) -> bool:
    """Whether folding ``event`` draws from or restores into lots the account holds."""
    return event.points < 0 or (event.points > 0 and "restores" in event.detail)


def _uncounted(reason: str, excess: int | None) -> str | None:
    return str(excess) if reason.startswith("over_reversal") and excess else None


def _known_members(events: list[WireEvent], keys: list[str], held: dict[str, Any]) -> None:
    """Refuse an event of a member HQ has no enrolment of: a till knows a member only by
    enrolling them or from HQ, so such an event would make up a member every till pulls."""
    enrolled = {e.member_id for e in events if e.kind == "enroll"}
    for event, key in zip(events, keys, strict=True):
        if event.member_id and key not in held and key not in enrolled:
            raise PushRefused(
                "invalid",
                f"Event #{event.seq} names member {event.member_id[:4]}…, whom HQ has no "
                "enrolment of; HQ took none of the batch (if HQ was restored from a "
                "backup, the till that enrolled them must sync first).",
            )


def _reversal_room(tx: Tx, events: list[WireEvent]) -> dict[str, int]:
    """Points each event reversed in this batch has left to reverse: its own, less what
    every reversal of it HQ holds moved; by its id. An event HQ does not hold (yet) is not
    in it, nor capped."""
    refs = sorted({e.ref_event_id for e in events if e.kind == "reverse" and e.ref_event_id})
    if not refs:
        return {}
    condition, args = tx.among("event_id", refs)
    rows = tx.all(f"SELECT event_id, points FROM events WHERE {condition}", args)
    room = {r[0]: abs(int(r[1])) for r in rows}
    condition, args = tx.among("ref_event_id", refs)
    for ref, moved in tx.all(
        f"SELECT ref_event_id, sum(abs(points)) FROM events WHERE {condition} "
        "AND kind = 'reverse' GROUP BY ref_event_id",
        args,
    ):
        if ref in room:
            room[ref] = max(0, room[ref] - int(moved))
    wanted = set(refs)
    for event in events:  # sold and refunded between two syncs: both in this batch
        if event.event_id in wanted:
            room.setdefault(event.event_id, abs(event.points))
    return room


def _merged(tx: Tx, member_ids: list[str]) -> dict[str, str]:
    """Which of these members were merged into another, and into whom."""
    if not member_ids:
        return {}
    condition, args = tx.among("member_key", member_ids)
    rows = tx.all(
        f"SELECT member_key, merged_into FROM accounts WHERE {condition} "
        "AND merged_into IS NOT NULL",
        args,
    )
    return {r[0]: r[1] for r in rows}


def _mark_merged(
    tx: Tx, merged: dict[str, str], enrolments: dict[Any, WireEvent], now: str
) -> None:
    """An account row for each member merged in this batch: no ledger of its own, and the
    one they are part of, so the directory tells every till."""
    fresh = [(m, into) for m, into in merged.items() if m in enrolments]
    if not fresh:
        return
    first = _next_changes(tx, len(fresh))
    insert_rows(
        tx,
        "accounts",
        (*_ACCOUNT_COLUMNS, "merged_into"),
        [
            (
                member,
                member,
                enrolments[member].phone,
                json.loads(enrolments[member].detail).get("name"),
                1,
                encode(Ledger()).decode(),
                0,
                now,
                first + n,
                "{}",
                into,
            )
            for n, (member, into) in enumerate(fresh)
        ],
        "ON CONFLICT (member_key) DO NOTHING",
    )


def _hand_over(tx: Tx, phone_key: str, member_key: str) -> None:
    """A phone's account becomes the member's who enrolled with that phone: its events and
    lots; the member's account row is written by the fold, from the phone's ledger and what
    it includes of each terminal's chain."""
    tx.run(
        f"UPDATE events SET member_key = ? WHERE member_key = ? AND {_OF_PHONE}",
        (member_key, phone_key),
    )
    tx.run("UPDATE lots SET member_key = ? WHERE member_key = ?", (member_key, phone_key))
    tx.run("DELETE FROM accounts WHERE member_key = ?", (phone_key,))


def _next_changes(tx: Tx, count: int) -> int:
    """The first of ``count`` directory cursors. Taken with the counter's row locked until
    commit, so changes commit in cursor order and a pull never skips one that commits late."""
    row = tx.one(  # one statement: the counter is read, moved on and locked at once
        "INSERT INTO hq_meta (key, value) VALUES ('change_seq', ?) ON CONFLICT (key) "
        "DO UPDATE SET value = CAST(CAST(hq_meta.value AS BIGINT) + ? AS TEXT) RETURNING value",
        (str(count), count),
    )
    assert row is not None  # an upsert that returns always returns its row
    return int(row[0]) - count + 1


def token_hash(token: str) -> str:
    """Tokens are 256 random bits: a plain SHA-256 keeps them safe at rest."""
    return hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()


def _terminal(tx: Tx, condition: str, args: Sequence[Any]) -> Terminal | None:
    """The terminal whose row meets ``condition``, if it is not revoked. Locked (``tx.lock``
    in the condition), two pushes of one terminal (two daemons, two HQ processes) apply one
    after the other, never interleaved."""
    row = tx.one(
        "SELECT store_id, terminal_id, journal_id, head_seq, head_hash FROM terminals "
        f"WHERE revoked_at IS NULL AND {condition}",
        args,
    )
    return Terminal(*row) if row else None


def _once_each(events: list[WireEvent]) -> None:
    """An event id twice in one batch is a conflict, as it is with one HQ already holds."""
    seen: dict[str, int] = {}
    for event in events:
        first = seen.setdefault(event.event_id, event.seq)
        if first != event.seq:
            raise PushRefused(
                "conflict",
                f"Event #{event.seq} has the id of event #{first} of the same batch; "
                "it is kept for review.",
                event=event,
            )


def _chain_problem(event: WireEvent, link: str | None) -> str | None:
    """Why ``event`` does not continue the chain at ``link``, or None."""
    return _checked(event, link)[0]


def _checked(event: WireEvent, link: str | None) -> tuple[str | None, dict[str, Any]]:
    """Why ``event`` does not continue the chain at ``link`` (or None), and its detail as
    read on the way, so it is parsed once."""
    if event.prev_hash != link:
        return (
            f"Event #{event.seq} does not continue this terminal's chain as HQ holds it "
            "(a fork, or a journal restored from an older copy); it is kept for review."
        ), {}
    fields = {name: getattr(event, name) for name in chain.FIELDS if name != "detail"}
    unreadable = f"Event #{event.seq}'s detail cannot be read as the journal writes it."
    try:
        if event.chain_version == 0:
            computed = chain.legacy_hash({**fields, "detail": event.detail})
            detail = json.loads(event.detail)
        else:
            detail = chain.parse_canonical(event.detail)
            computed = chain.event_hash({**fields, "detail": detail}, event.detail)
    except chain.NotCanonical as exc:
        return f"Event #{event.seq}'s detail: {exc.message[:1].lower()}{exc.message[1:]}", {}
    except (ValueError, RecursionError):  # RecursionError: nested deeper than any till writes
        return unreadable, {}
    if not isinstance(detail, dict):
        return unreadable, {}
    if computed != event.hash:
        return f"Event #{event.seq} does not match its hash; it was altered on the way.", {}
    return None, detail
