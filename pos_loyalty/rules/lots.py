"""Earned points as lots, each with its own expiry and the moment it becomes spendable.

Spending draws from the soonest-expiring spendable lots first, and the event freezes the draws
it planned, so a cancel can put the points back into those very lots. A frozen draw is a
*hint*: by the time the event is folded (at HQ, after other tills spent the same lots) the lot
may be gone or too small. The ``Book`` below takes what still fits, draws the rest from the
other lots in the same order, and books only what no lot covers as a deficit. It never raises
and never leaves a lot below zero, whatever the hints say.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from ..clock import NEVER


class Lot(msgspec.Struct, frozen=True, array_like=True):
    """Points from one earning event (``lot_id`` is that event's id)."""

    lot_id: str
    points: int
    remaining: int
    earned_at: str
    expires_at: str | None = None
    spendable_at: str | None = None

    def spendable(self, now: str) -> bool:
        return (self.spendable_at or "") <= now and not self.expired(now)

    def expired(self, now: str) -> bool:
        return self.expires_at is not None and self.expires_at <= now


class Draw(msgspec.Struct, frozen=True):
    """Points taken from one lot, with what is needed to put them back."""

    lot_id: str
    points: int
    earned_at: str
    expires_at: str | None = None
    spendable_at: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {f: getattr(self, f) for f in self.__struct_fields__}


def draw_order(lot: Lot, at: str, first: str | None = None) -> tuple[bool, bool, str, str, str]:
    """The one order points leave lots in: lot ``first`` (a refunded sale's own lot), then
    lots spendable at ``at``, then soonest expiry, oldest, and by id so it is total."""
    return (
        lot.lot_id != first,
        not lot.spendable(at),
        lot.expires_at or NEVER,
        lot.earned_at,
        lot.lot_id,
    )


def plan_draws(
    lots: Sequence[Lot], points: int, now: str, *, first: str | None = None, any_lot: bool = False
) -> tuple[tuple[Draw, ...], int]:
    """Draws for ``points`` in ``draw_order``: only spendable lots unless ``any_lot`` (a refund
    or a manager's correction takes back held points too; never expired ones). Returns the
    draws and what the lots could not cover."""
    candidates = [
        lot
        for lot in lots
        if lot.remaining > 0 and (lot.spendable(now) if not any_lot else not lot.expired(now))
    ]
    candidates.sort(key=lambda lot: draw_order(lot, now, first))
    draws: list[Draw] = []
    left = points
    for lot in candidates:
        if left <= 0:
            break
        taken = min(lot.remaining, left)
        draws.append(Draw(lot.lot_id, taken, lot.earned_at, lot.expires_at, lot.spendable_at))
        left -= taken
    return tuple(draws), left


def hinted_draws(items: object) -> list[Draw]:
    """The usable draws among what an event froze; anything malformed is no hint at all (the
    event's points still count, so nothing is lost by ignoring a bad hint)."""
    if not isinstance(items, list):
        return []
    draws = []
    for item in items:
        if not isinstance(item, Mapping):
            continue
        lot_id, points, earned = item.get("lot_id"), item.get("points"), item.get("earned_at")
        if not (isinstance(lot_id, str) and type(points) is int and points > 0):
            continue
        expires, spendable = item.get("expires_at"), item.get("spendable_at")
        draws.append(
            Draw(
                lot_id,
                points,
                earned if isinstance(earned, str) else "",
                expires if isinstance(expires, str) else None,
                spendable if isinstance(spendable, str) else None,
            )
        )
    return draws


class Book:
    """Lots and deficit being changed in place while events are folded, so folding n events
    costs O(n). Lots that reach zero are dropped: a later restore recreates them from its
    frozen draws, so nothing needs them."""

    def __init__(self, lots: Iterable[Lot], deficit: int) -> None:
        self.lots: dict[str, Lot] = {lot.lot_id: lot for lot in lots}
        self.deficit = deficit

    def _set(self, lot: Lot, remaining: int) -> None:
        if remaining > 0:
            self.lots[lot.lot_id] = msgspec.structs.replace(lot, remaining=remaining)
        else:
            self.lots.pop(lot.lot_id, None)

    def _pay_deficit(self, points: int) -> int:
        """Incoming points pay any deficit first; returns what is left of them."""
        paid = min(self.deficit, points)
        self.deficit -= paid
        return points - paid

    def credit(self, lot: Lot) -> None:
        """A new lot (an earn, a bonus, a positive adjustment)."""
        left = self._pay_deficit(lot.points)
        if left > 0:
            self.lots[lot.lot_id] = msgspec.structs.replace(lot, remaining=left)

    def debit(self, points: int, hints: Sequence[Draw], at: str) -> None:
        """Take ``points``: from the hinted lots as far as they still hold them, then from the
        others in ``draw_order`` at the event's time ``at``; what no lot covers is deficit."""
        need = points
        for hint in hints:
            lot = self.lots.get(hint.lot_id)
            if need <= 0:
                break
            if lot is None:
                continue
            taken = min(hint.points, lot.remaining, need)
            self._set(lot, lot.remaining - taken)
            need -= taken
        if need > 0:
            for lot in sorted(self.lots.values(), key=lambda x: draw_order(x, at)):
                taken = min(lot.remaining, need)
                self._set(lot, lot.remaining - taken)
                need -= taken
                if need <= 0:
                    break
        self.deficit += max(need, 0)

    def restore(self, event_id: str, points: int, hints: Sequence[Draw], at: str) -> None:
        """Give ``points`` back (a cancelled redemption): the deficit first, then into the lots
        they came from, latest-expiring first so the points that survive keep the most time.
        A lot that is gone is recreated from the draw; a lot cannot hold more than it earned,
        so any excess becomes a lot of its own with the same expiry."""
        left = self._pay_deficit(points)
        for hint in reversed(hints):
            give = min(hint.points, left)
            if give <= 0:
                break
            left -= give
            lot = self.lots.get(hint.lot_id)
            if lot is None:
                self.lots[hint.lot_id] = Lot(
                    hint.lot_id, give, give, hint.earned_at, hint.expires_at, hint.spendable_at
                )
                continue
            fits = min(give, max(lot.points - lot.remaining, 0))
            self._set(lot, lot.remaining + fits)
            if give > fits:
                extra_id = f"{event_id}:{hint.lot_id}"
                have = self.lots.get(extra_id)
                total = give - fits + (have.remaining if have else 0)
                self.lots[extra_id] = Lot(
                    extra_id, total, total, hint.earned_at, hint.expires_at, hint.spendable_at
                )
        if left > 0:  # more points than draws: the event's points are what counts
            self.credit(Lot(event_id, left, left, at))

    def result(self) -> tuple[tuple[Lot, ...], int]:
        return tuple(self.lots.values()), self.deficit
