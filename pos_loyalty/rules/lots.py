"""Earned points as lots, each with its own expiry and the moment it becomes spendable.

A member's points are a ``Ledger``: the lots plus a deficit (points owed after a refund took
back more than was left). Spending draws from the soonest-expiring spendable lots first; each
event freezes the exact draws it made, so a cancel restores exactly those lots. Replaying a
member's events through ``apply`` always gives ``balance == sum of event points``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from ..clock import NEVER, add_months, iso, parse_iso

SPENDS = frozenset({"redeem", "donate"})


@dataclass(frozen=True)
class Lot:
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


@dataclass(frozen=True)
class Draw:
    """Points taken from one lot, with what is needed to put them back."""

    lot_id: str
    points: int
    earned_at: str
    expires_at: str | None
    spendable_at: str | None

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Ledger:
    lots: tuple[Lot, ...] = ()
    deficit: int = 0

    @property
    def balance(self) -> int:
        return sum(lot.remaining for lot in self.lots) - self.deficit

    def spendable(self, now: str) -> int:
        return sum(lot.remaining for lot in self.lots if lot.spendable(now)) - self.deficit

    def held(self, now: str) -> list[Lot]:
        """Lots with points not yet spendable (the hold after a sale), soonest first."""
        waiting = [lot for lot in self.lots if lot.remaining and not lot.spendable(now)]
        return sorted(
            (x for x in waiting if not x.expired(now)), key=lambda x: x.spendable_at or ""
        )

    def expiring(self, now: str) -> list[Lot]:
        live = [
            lot for lot in self.lots if lot.remaining and lot.expires_at and not lot.expired(now)
        ]
        return sorted(live, key=lambda lot: lot.expires_at or NEVER)


class _Book:
    """A ledger being changed in place, so replaying n events costs O(n), not O(n²)."""

    def __init__(self, ledger: Ledger) -> None:
        self.lots = {lot.lot_id: lot for lot in ledger.lots}
        self.remaining = {lot.lot_id: lot.remaining for lot in ledger.lots}
        self.deficit = ledger.deficit

    def add(self, lot: Lot) -> None:
        """A new lot first pays off any deficit."""
        paid = min(self.deficit, lot.remaining)
        self.deficit -= paid
        self.lots[lot.lot_id] = lot
        self.remaining[lot.lot_id] = lot.remaining - paid

    def take(self, draws: Iterable[Draw], shortfall: int) -> None:
        for draw in draws:
            if draw.lot_id not in self.remaining:
                raise ValueError(f"a draw from unknown lot {draw.lot_id}")
            self.remaining[draw.lot_id] -= draw.points
        self.deficit += shortfall

    def restore(self, draws: Iterable[Draw]) -> None:
        """Put drawn points back into the very lots they came from (recreated if gone)."""
        for d in draws:
            if d.lot_id not in self.lots:
                self.lots[d.lot_id] = Lot(d.lot_id, 0, 0, d.earned_at, d.expires_at, d.spendable_at)
                self.remaining[d.lot_id] = 0
            self.remaining[d.lot_id] += d.points

    def apply(self, event_id: str, points: int, created_at: str, detail: Mapping[str, Any]) -> None:
        if "lot" in detail:
            lot = detail["lot"]
            expires, spendable = lot.get("expires_at"), lot.get("spendable_at")
            self.add(Lot(event_id, points, points, created_at, expires, spendable))
        elif "restores" in detail:
            self.restore(draws_from_json(detail["restores"]))
        elif "draws" in detail:
            self.take(draws_from_json(detail["draws"]), detail.get("shortfall", 0))

    def ledger(self) -> Ledger:
        left = self.remaining
        lots = tuple(
            lot if lot.remaining == left[key] else replace(lot, remaining=left[key])
            for key, lot in self.lots.items()
        )
        return Ledger(lots, self.deficit)


def add_lot(ledger: Ledger, lot: Lot) -> Ledger:
    book = _Book(ledger)
    book.add(lot)
    return book.ledger()


def _draw_order(lot: Lot) -> tuple[str, str, str]:
    return (lot.expires_at or NEVER, lot.earned_at, lot.lot_id)


def plan_draws(
    ledger: Ledger, points: int, now: str, *, first: str | None = None, any_lot: bool = False
) -> tuple[tuple[Draw, ...], int]:
    """Draws for ``points``, soonest expiry first (lot ``first`` before all others).

    Only spendable lots unless ``any_lot`` (a refund takes back held points too). Returns the
    draws and the shortfall the lots could not cover.
    """
    candidates = [
        lot
        for lot in ledger.lots
        if lot.remaining > 0 and (any_lot or lot.spendable(now)) and not lot.expired(now)
    ]
    candidates.sort(key=lambda lot: (lot.lot_id != first, *_draw_order(lot)))
    draws: list[Draw] = []
    left = points
    for lot in candidates:
        if left <= 0:
            break
        taken = min(lot.remaining, left)
        draws.append(Draw(lot.lot_id, taken, lot.earned_at, lot.expires_at, lot.spendable_at))
        left -= taken
    return tuple(draws), left


def take(ledger: Ledger, draws: Iterable[Draw], shortfall: int = 0) -> Ledger:
    book = _Book(ledger)
    book.take(draws, shortfall)
    return book.ledger()


def restore(ledger: Ledger, draws: Iterable[Draw]) -> Ledger:
    book = _Book(ledger)
    book.restore(draws)
    return book.ledger()


def expire(ledger: Ledger, now: str) -> tuple[Ledger, int]:
    """Lots past their expiry lose what is left (HQ applies this, the till only shows it)."""
    expired = sum(lot.remaining for lot in ledger.lots if lot.expired(now))
    lots = tuple(replace(lot, remaining=0) if lot.expired(now) else lot for lot in ledger.lots)
    return Ledger(lots, ledger.deficit), expired


def draws_from_json(items: Iterable[Mapping[str, Any]]) -> tuple[Draw, ...]:
    return tuple(Draw(**item) for item in items)


def apply(
    ledger: Ledger, event_id: str, points: int, created_at: str, detail: Mapping[str, Any]
) -> Ledger:
    """The ledger after one journal event, from what the event froze in its detail."""
    return replay(ledger, [(event_id, points, created_at, detail)])


def replay(ledger: Ledger, events: Iterable[tuple[str, int, str, Mapping[str, Any]]]) -> Ledger:
    """The ledger after ``(event_id, points, created_at, detail)`` events, in order."""
    book = _Book(ledger)
    for event_id, points, created_at, detail in events:
        book.apply(event_id, points, created_at, detail)
    return book.ledger()


def expire_inactive(
    ledger: Ledger, last_activity: str, now: str, months: int
) -> tuple[Ledger, int]:
    """With inactivity expiry, every point lapses once ``months`` pass with no activity (HQ
    applies it; the till only shows the date)."""
    if not months or not last_activity or iso(add_months(parse_iso(last_activity), months)) > now:
        return ledger, 0
    lapsed = sum(lot.remaining for lot in ledger.lots)
    return Ledger(tuple(replace(lot, remaining=0) for lot in ledger.lots), ledger.deficit), lapsed
