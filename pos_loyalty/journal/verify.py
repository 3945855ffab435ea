"""Recompute a journal's hash chain from its first event (docs/JOURNAL.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import chain
from .schema import GUARDS

if TYPE_CHECKING:
    from .unit import Journal


@dataclass(frozen=True)
class ChainReport:
    checked: int
    problem: str | None = None
    seq: int | None = None

    @property
    def ok(self) -> bool:
        return self.problem is None


def verify_chain(journal: Journal) -> ChainReport:
    """Recompute the hash chain from the first event; report the first broken link. Events
    written before hash chain v1 are checked as they were hashed then; once v1 starts, every
    later event must be v1."""
    with journal.reading():
        guards = dict(
            journal.conn.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'"
            ).fetchall()
        )
        changed = sorted(n for n in GUARDS.keys() | guards.keys() if guards.get(n) != GUARDS.get(n))
        if changed:
            return ChainReport(
                0,
                "The append-only guards on the events table have been removed or changed "
                f"({', '.join(changed)}).",
            )
        first = journal.conn.execute("SELECT min(seq) FROM events").fetchone()[0]
        if first is not None and first < 1:
            return ChainReport(
                0, f"Event #{first} has a seq below 1; the chain starts at 1.", first
            )
        prev, expected, checked, newest = None, 1, 0, 0
        owner = (journal.store_id, journal.terminal_id)
        for row in journal.events.iter_rows():
            seq, version = row["seq"], row["chain_version"]
            if seq != expected:
                return ChainReport(checked, f"Events {expected}–{seq - 1} are missing.", expected)
            if (row["store_id"], row["terminal_id"]) != owner:
                return ChainReport(checked, f"Event {seq} names another store or terminal.", seq)
            if version not in (0, chain.VERSION) or version < newest:
                return ChainReport(checked, f"Event {seq} has an unknown chain version.", seq)
            if prev is None:
                prev = chain.LEGACY_GENESIS if version == 0 else journal.genesis
            if row["prev_hash"] != prev:
                return ChainReport(checked, f"Event {seq} does not link to event {seq - 1}.", seq)
            if row_hash(row) != row["hash"]:
                return ChainReport(checked, f"Event {seq} was altered after it was written.", seq)
            prev, expected, checked, newest = row["hash"], seq + 1, checked + 1, version
        missing = _missing_tail(journal, expected - 1)
        if missing:
            return ChainReport(checked, missing, expected)
        wrong = _wrong_head(journal, expected - 1, prev)
        if wrong:
            return ChainReport(checked, wrong, expected - 1)
    return ChainReport(checked)


def _wrong_head(journal: Journal, last: int, last_hash: str | None) -> str | None:
    """The head (``<seq> <hash>``, rewritten with every event) must name the newest event:
    events added behind the till's back, or a head rewritten, show here."""
    row = journal.conn.execute("SELECT value FROM meta WHERE key = 'head'").fetchone()
    if row is None:
        return "The journal's head (its newest event's seq and hash) is missing."
    seq, _, digest = str(row[0]).partition(" ")
    if not seq.isdigit():
        return "The journal's head is not a seq and a hash."
    if int(seq) < last:
        return f"Events {int(seq) + 1}–{last} were added outside the till (its head is #{seq})."
    if last and digest != last_hash:
        return f"The journal's head names another hash than event #{last}'s."
    return None


def _missing_tail(journal: Journal, last: int) -> str | None:
    """Deleting the newest events leaves a chain that links: what else the till wrote in
    those events' transactions (checkpoints, request ids, slips, HQ's acknowledgements)
    still names them."""
    q = journal.conn.execute
    head = q("SELECT value FROM meta WHERE key = 'head'").fetchone()
    recorded = max(
        int(head[0].split()[0]) if head else 0,
        q("SELECT coalesce(max(through_seq), 0) FROM accounts").fetchone()[0],
        q("SELECT coalesce(max(acked_seq), 0) FROM outbox").fetchone()[0],
    )
    if recorded > last:
        return f"Events {last + 1}–{recorded} are missing: the till recorded up to #{recorded}."
    for table in ("requests", "print_jobs"):
        orphan = q(
            f"SELECT count(*) FROM {table} WHERE event_id IS NOT NULL AND event_id NOT IN "
            "(SELECT event_id FROM events)"
        ).fetchone()[0]
        if orphan:
            return f"Events after #{last} are missing: the till's {_NAMES[table]} name them."
    return None


_NAMES = {"requests": "request ids", "print_jobs": "slips"}


def row_hash(row: dict[str, Any]) -> str | None:
    """An event's hash recomputed from its stored row (None: a row no till writes)."""
    if row["chain_version"] == 0:
        return chain.legacy_hash(row)
    try:
        detail = json.loads(row["detail"])
        if chain.canonical(detail) != row["detail"]:
            return None  # stored in another form than the one that was hashed
        return chain.event_hash({**row, "detail": detail}, row["detail"])
    except (TypeError, ValueError, chain.NotCanonical):
        return None  # a value no till writes (a fraction, a huge number): altered
