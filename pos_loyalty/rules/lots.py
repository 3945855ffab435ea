"""Earned points as lots, each with its own expiry and the moment it becomes spendable.

Spending draws from the soonest-expiring spendable lots first, and the event freezes the draws
it planned, so a cancel can put the points back into those very lots. A frozen draw is a
*hint*: by the time the event is folded (at HQ, after other tills spent the same lots) the lot
may be gone or too small. The ``Book`` below takes what still fits, draws the rest from the
other lots in the same order, and books only what no lot covers as a deficit. It never raises
and never leaves a lot below zero, whatever the hints say.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

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
    lots: Shelf | Sequence[Lot],
    points: int,
    now: str,
    *,
    first: str | None = None,
    any_lot: bool = False,
) -> tuple[tuple[Draw, ...], int]:
    """Draws for ``points`` in ``draw_order``: only spendable lots unless ``any_lot`` (a refund
    or a manager's correction takes back held points too; never expired ones). Returns the
    draws and what the lots could not cover."""
    shelf = MemoryShelf(lots) if isinstance(lots, Sequence) else lots
    draws: list[Draw] = []
    left = points
    for lot in shelf.in_order(now, first):
        if left <= 0:
            break
        if not (lot.spendable(now) if not any_lot else not lot.expired(now)):
            continue
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
        lot_id, points = item.get("lot_id"), item.get("points")
        if not (isinstance(lot_id, str) and type(points) is int and points > 0):
            continue
        draws.append(
            Draw(
                lot_id,
                points,
                moment(item.get("earned_at")) or "",
                moment(item.get("expires_at")),
                moment(item.get("spendable_at")),
            )
        )
    return draws


_MOMENT = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def moment(value: object) -> str | None:
    """A time stamp as events carry them (``clock.iso``), or None for anything else: a hint
    with an odd time must not sort one way in memory and another in the journal."""
    return value if isinstance(value, str) and _MOMENT.fullmatch(value) else None


@dataclass(frozen=True)
class LotSummary:
    """What of a member's lots cannot be spent at one moment (the rest, less any deficit,
    can)."""

    expired: int  # past their expiry, until HQ records it
    held: int  # not yet spendable (the hold after a sale), not expired
    held_from: str | None  # when the first held points become spendable
    held_until: str | None  # when the last do


class Shelf(Protocol):
    """Where a member's lots are kept while the fold works on them: in memory (HQ, tests,
    a snapshot on the wire) or as rows of the till's journal, so that an earn writes one lot
    instead of all of them. Only lots with points left are kept."""

    def get(self, lot_id: str) -> Lot | None: ...

    def put(self, lot: Lot) -> None:
        """Keep ``lot`` (replacing one of the same id); a lot with nothing left is dropped."""

    def in_order(self, at: str, first: str | None = None) -> Iterable[Lot]:
        """The lots in ``draw_order`` at ``at``."""

    def summary(self, at: str) -> LotSummary: ...

    def all(self) -> tuple[Lot, ...]: ...


class MemoryShelf:
    """Lots in a dict: what HQ, the tests and a snapshot use."""

    def __init__(self, lots: Iterable[Lot] = ()) -> None:
        self.lots: dict[str, Lot] = {lot.lot_id: lot for lot in lots if lot.remaining > 0}

    def get(self, lot_id: str) -> Lot | None:
        return self.lots.get(lot_id)

    def put(self, lot: Lot) -> None:
        if lot.remaining > 0:
            self.lots[lot.lot_id] = lot
        else:
            self.lots.pop(lot.lot_id, None)

    def in_order(self, at: str, first: str | None = None) -> Iterable[Lot]:
        return sorted(self.lots.values(), key=lambda lot: draw_order(lot, at, first))

    def summary(self, at: str) -> LotSummary:
        expired = 0
        held: list[Lot] = []
        for lot in self.lots.values():  # one pass: a member may hold hundreds of lots
            if lot.expires_at is not None and lot.expires_at <= at:
                expired += lot.remaining  # still in the balance until HQ records the expiry
            elif lot.spendable_at is not None and lot.spendable_at > at:
                held.append(lot)
        held_at = sorted(lot.spendable_at or "" for lot in held)
        return LotSummary(
            expired,
            sum(lot.remaining for lot in held),
            held_at[0] if held_at else None,
            held_at[-1] if held_at else None,
        )

    def all(self) -> tuple[Lot, ...]:
        return tuple(self.lots.values())


class Book:
    """A member's lots and deficit while events are folded, kept on a ``Shelf``. Lots that
    reach zero are dropped: a later restore recreates them from its frozen draws."""

    def __init__(self, shelf: Shelf, deficit: int) -> None:
        self.shelf = shelf
        self.deficit = deficit

    def _set(self, lot: Lot, remaining: int) -> None:
        self.shelf.put(msgspec.structs.replace(lot, remaining=remaining))

    def _pay_deficit(self, points: int) -> int:
        """Incoming points pay any deficit first; returns what is left of them."""
        paid = min(self.deficit, points)
        self.deficit -= paid
        return points - paid

    def credit(self, lot: Lot) -> None:
        """A new lot (an earn, a bonus, a positive adjustment)."""
        left = self._pay_deficit(lot.points)
        if left > 0:
            self._set(lot, left)

    def debit(self, points: int, hints: Sequence[Draw], at: str) -> None:
        """Take ``points``: from the hinted lots as far as they still hold them, then from the
        others in ``draw_order`` at the event's time ``at``; what no lot covers is deficit."""
        need = points
        for hint in hints:
            if need <= 0:
                break
            lot = self.shelf.get(hint.lot_id)
            if lot is None:
                continue
            taken = min(hint.points, lot.remaining, need)
            self._set(lot, lot.remaining - taken)
            need -= taken
        if need > 0:
            for lot in list(self.shelf.in_order(at)):
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
            lot = self.shelf.get(hint.lot_id)
            if lot is None:
                self.shelf.put(
                    Lot(hint.lot_id, give, give, hint.earned_at, hint.expires_at, hint.spendable_at)
                )
                continue
            fits = min(give, max(lot.points - lot.remaining, 0))
            self._set(lot, lot.remaining + fits)
            if give > fits:
                extra_id = f"{event_id}:{hint.lot_id}"
                have = self.shelf.get(extra_id)
                total = give - fits + (have.remaining if have else 0)
                self.shelf.put(
                    Lot(extra_id, total, total, hint.earned_at, hint.expires_at, hint.spendable_at)
                )
        if left > 0:  # more points than draws: the event's points are what counts
            self.credit(Lot(event_id, left, left, at))
