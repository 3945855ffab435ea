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

from ..clock import NEVER

GAINS = frozenset({"earn", "welcome_bonus", "referral_bonus"})
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


def add_lot(ledger: Ledger, lot: Lot) -> Ledger:
    """A new lot first pays off any deficit."""
    paid = min(ledger.deficit, lot.remaining)
    lot = replace(lot, remaining=lot.remaining - paid)
    return Ledger((*ledger.lots, lot), ledger.deficit - paid)


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
        take = min(lot.remaining, left)
        draws.append(Draw(lot.lot_id, take, lot.earned_at, lot.expires_at, lot.spendable_at))
        left -= take
    return tuple(draws), left


def take(ledger: Ledger, draws: Iterable[Draw], shortfall: int = 0) -> Ledger:
    by_lot = _sum_by_lot(draws)
    lots = tuple(
        replace(lot, remaining=lot.remaining - by_lot.pop(lot.lot_id, 0)) for lot in ledger.lots
    )
    if by_lot:
        raise ValueError(f"draws from unknown lots: {sorted(by_lot)}")
    return Ledger(lots, ledger.deficit + shortfall)


def restore(ledger: Ledger, draws: Iterable[Draw]) -> Ledger:
    """Put drawn points back into the very lots they came from (recreated if gone)."""
    draws = tuple(draws)
    by_lot = _sum_by_lot(draws)
    lots = [
        replace(lot, remaining=lot.remaining + by_lot.pop(lot.lot_id, 0)) for lot in ledger.lots
    ]
    for draw in draws:
        if draw.lot_id in by_lot:
            points = by_lot.pop(draw.lot_id)
            lots.append(
                Lot(draw.lot_id, points, points, draw.earned_at, draw.expires_at, draw.spendable_at)
            )
    return Ledger(tuple(lots), ledger.deficit)


def expire(ledger: Ledger, now: str) -> tuple[Ledger, int]:
    """Lots past their expiry lose what is left (HQ applies this, the till only shows it)."""
    expired = sum(lot.remaining for lot in ledger.lots if lot.expired(now))
    lots = tuple(replace(lot, remaining=0) if lot.expired(now) else lot for lot in ledger.lots)
    return Ledger(lots, ledger.deficit), expired


def _sum_by_lot(draws: Iterable[Draw]) -> dict[str, int]:
    totals: dict[str, int] = {}
    for draw in draws:
        totals[draw.lot_id] = totals.get(draw.lot_id, 0) + draw.points
    return totals


def draws_from_json(items: Iterable[Mapping[str, Any]]) -> tuple[Draw, ...]:
    return tuple(Draw(**item) for item in items)


def apply(
    ledger: Ledger,
    event_id: str,
    kind: str,
    points: int,
    created_at: str,
    detail: Mapping[str, Any],
) -> Ledger:
    """The ledger after one journal event, from what the event froze in its detail."""
    if "lot" in detail:
        lot = detail["lot"]
        new = Lot(
            event_id, points, points, created_at, lot.get("expires_at"), lot.get("spendable_at")
        )
        return add_lot(ledger, new)
    if "restores" in detail:
        return restore(ledger, draws_from_json(detail["restores"]))
    if "draws" in detail:
        return take(ledger, draws_from_json(detail["draws"]), detail.get("shortfall", 0))
    return ledger
