"""Recompute a journal's hash chain from its first event (docs/JOURNAL.md)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .. import chain

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
        triggers = {
            r[0]
            for r in journal.conn.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'")
        }
        if not {"events_no_update", "events_no_delete"} <= triggers:
            return ChainReport(0, "The append-only guards on the events table have been removed.")
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
            if _hash(row) != row["hash"]:
                return ChainReport(checked, f"Event {seq} was altered after it was written.", seq)
            prev, expected, checked, newest = row["hash"], seq + 1, checked + 1, version
    return ChainReport(checked)


def _hash(row: dict[str, Any]) -> str | None:
    if row["chain_version"] == 0:
        return chain.legacy_hash(row)
    try:
        detail = json.loads(row["detail"])
        if chain.canonical(detail) != row["detail"]:
            return None  # stored in another form than the one that was hashed
    except (ValueError, chain.NotCanonical):
        return None
    return chain.event_hash({**row, "detail": detail}, row["detail"])
