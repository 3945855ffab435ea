"""HQ's loyalty program as this till last fetched it: kept in the journal, so the till uses
the chain's rules offline, and a till restarted without HQ still earns by them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import msgspec

from ..rules.program import Program

if TYPE_CHECKING:
    from .unit import Journal

_KEY = "hq_program"


class StoredProgram(msgspec.Struct, frozen=True):
    ruleset: str  # as HQ named it: "version+digest"
    fetched_at: str
    program: Program


_decode = msgspec.json.Decoder(StoredProgram).decode


class ProgramStore:
    def __init__(self, unit: Journal) -> None:
        self.unit = unit

    def get(self) -> StoredProgram | None:
        """The program held, or None; also None for one this version of the till cannot read
        (kept by another version), so the next pull fetches it again."""
        row = self.unit.conn.execute("SELECT value FROM meta WHERE key = ?", (_KEY,)).fetchone()
        if row is None:
            return None
        try:
            return _decode(row[0])
        except msgspec.MsgspecError:
            return None

    def put(self, stored: StoredProgram) -> None:
        self.unit.require_write("keep HQ's program")
        self.unit.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (_KEY, msgspec.json.encode(stored).decode()),
        )
