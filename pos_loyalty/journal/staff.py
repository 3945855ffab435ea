"""Cashiers and managers (PINs only as slow hashes) and the count of wrong PINs per staff id,
known or not, so neither a PIN nor the list of ids can be guessed at the till."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .unit import Journal


@dataclass(frozen=True)
class StaffRecord:
    staff_id: str
    name: str
    role: str
    pin_hash: str


@dataclass(frozen=True)
class PinAttempts:
    failed: int  # wrong PINs (and attempts still being checked) since the last right one
    locked_until: str | None


class StaffStore:
    def __init__(self, unit: Journal) -> None:
        self.unit = unit

    def get(self, staff_id: str) -> StaffRecord | None:
        row = self.unit.conn.execute(
            "SELECT staff_id, name, role, pin_hash FROM staff WHERE staff_id = ?", (staff_id,)
        ).fetchone()
        return StaffRecord(*row) if row else None

    def count(self, *, role: str | None = None) -> int:
        """How many staff the till has (of ``role``, if given)."""
        row = self.unit.conn.execute(
            "SELECT count(*) FROM staff WHERE ? IS NULL OR role = ?", (role, role)
        ).fetchone()
        return int(row[0])

    def save(self, staff_id: str, name: str, role: str, pin_hash: str) -> None:
        """Add staff, or change their name, role or PIN (which clears their wrong PINs)."""
        self.unit.require_write("save staff")
        self.unit.conn.execute(
            "INSERT INTO staff (staff_id, name, role, pin_hash) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (staff_id) DO UPDATE SET name = excluded.name, role = excluded.role, "
            "pin_hash = excluded.pin_hash",
            (staff_id, name, role, pin_hash),
        )
        self.clear_attempts(staff_id)

    def attempts(self, staff_id: str) -> PinAttempts:
        row = self.unit.conn.execute(
            "SELECT failed, locked_until FROM pin_attempts WHERE staff_id = ?", (staff_id,)
        ).fetchone()
        return PinAttempts(*row) if row else PinAttempts(0, None)

    def count_attempt(self, staff_id: str, at: str) -> None:
        """Count an attempt as wrong before its PIN is checked, so attempts in parallel cannot
        all slip in under the limit; a right PIN clears the count afterwards."""
        self.unit.require_write("count a PIN attempt")
        self.unit.conn.execute(
            "INSERT INTO pin_attempts (staff_id, failed, last_at) VALUES (?, 1, ?) "
            "ON CONFLICT (staff_id) DO UPDATE SET failed = failed + 1, last_at = excluded.last_at",
            (staff_id, at),
        )

    def lock(self, staff_id: str, until: str) -> None:
        """Lock the id until ``until``; the count starts again from zero."""
        self.unit.require_write("lock a staff id")
        self.unit.conn.execute(
            "UPDATE pin_attempts SET failed = 0, locked_until = ? WHERE staff_id = ?",
            (until, staff_id),
        )

    def clear_attempts(self, staff_id: str) -> None:
        self.unit.require_write("clear PIN attempts")
        self.unit.conn.execute("DELETE FROM pin_attempts WHERE staff_id = ?", (staff_id,))

    def forget_stale_attempts(self, before: str) -> None:
        """Unknown ids tried long ago need no row: their count starts again."""
        self.unit.require_write("forget PIN attempts")
        self.unit.conn.execute(
            "DELETE FROM pin_attempts WHERE last_at < ? AND (locked_until IS NULL OR "
            "locked_until < ?) AND staff_id NOT IN (SELECT staff_id FROM staff)",
            (before, before),
        )
