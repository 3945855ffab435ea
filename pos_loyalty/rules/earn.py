"""Points for a sale: base rate, category multipliers and exclusions, tier, paid membership
and promotions, each as an explanation line a slip or screen can show."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from ..errors import BadAmount, UnknownCategory
from ..money import check_minor, exponent, format_amount, parse_amount
from .points import format_ratio, round_points
from .program import WEEKDAYS, Membership, Program, Promotion, Tier, ratio


@dataclass(frozen=True)
class BasketLine:
    category: str
    amount: int  # minor units


@dataclass(frozen=True)
class Earned:
    points: int
    lines: tuple[str, ...]
    breakdown: dict[str, Any] = field(default_factory=dict)


def build_basket(
    program: Program, currency: str, total: int | None, lines: list[BasketLine]
) -> list[BasketLine]:
    """The basket lines for a sale given a total, category lines, or both (rest = default)."""
    if not lines and total is None:
        raise BadAmount("Give the sale amount or its lines.")
    if total is not None:
        check_minor(total, "The sale amount")
    for line in lines:
        _check_category(program, line.category)
        check_minor(line.amount, f"The {line.category} line")
    listed = sum(line.amount for line in lines)
    if total is None:
        return lines
    if listed > total:
        raise BadAmount(
            f"The lines add up to {format_amount(listed, currency)}, "
            f"more than the sale's {format_amount(total, currency)}."
        )
    rest = total - listed
    return [*lines, BasketLine(program.default_category, rest)] if rest else lines


def _check_category(program: Program, name: str) -> None:
    if program.categories and name not in program.categories and name != program.default_category:
        known = ", ".join(sorted({*program.categories, program.default_category}))
        raise UnknownCategory(f"Unknown product category “{name}”; known: {known}.")


def active_promotions(program: Program, day: dt.date) -> list[Promotion]:
    return [p for p in program.promotions if _promotion_runs(p, day)]


def _promotion_runs(promo: Promotion, day: dt.date) -> bool:
    if promo.starts and day < promo.starts:
        return False
    if promo.ends and day > promo.ends:
        return False
    return not promo.weekdays or WEEKDAYS[day.weekday()] in promo.weekdays


def compute_earn(
    program: Program,
    basket: list[BasketLine],
    currency: str,
    *,
    tier: Tier,
    membership: Membership | None,
    day: dt.date,
) -> Earned:
    """Points a member earns for ``basket`` on the store's local ``day``."""
    rate = ratio(program.points_per_unit) / 10 ** exponent(currency)
    rnd = program.rounding
    lines: list[str] = []
    bonuses: list[dict[str, Any]] = []

    def bonus(rule: str, text: str, value: Fraction) -> None:
        points = round_points(value, rnd)
        if points:
            lines.append(f"{text} = {points:+d}")
            bonuses.append({"rule": rule, "points": points})

    by_category: dict[str, int] = {}
    for line in basket:
        by_category[line.category] = by_category.get(line.category, 0) + line.amount
    eligible = {c: a for c, a in by_category.items() if not program.category(c).excluded}
    eligible_total = sum(eligible.values())
    base = round_points(eligible_total * rate, rnd)
    pts = format_ratio(ratio(program.points_per_unit))
    lines.append(f"{format_amount(eligible_total, currency)} × {pts} pt = {base}")
    for name, amount in sorted(by_category.items()):
        if name not in eligible:
            lines.append(f"{name} {format_amount(amount, currency)}: no points")
    for name, amount in sorted(eligible.items()):
        mult = ratio(program.category(name).multiplier)
        if mult != 1:
            bonus(f"category:{name}", f"{name} ×{format_ratio(mult)}", amount * rate * (mult - 1))

    if ratio(tier.multiplier) != 1:
        mult = ratio(tier.multiplier)
        bonus(f"tier:{tier.name}", f"{tier.name} ×{format_ratio(mult)}", base * (mult - 1))
    if membership and ratio(membership.multiplier) != 1:
        mult = ratio(membership.multiplier)
        bonus(
            f"membership:{membership.id}",
            f"{membership.name} ×{format_ratio(mult)}",
            base * (mult - 1),
        )
    for promo in active_promotions(program, day):
        # A promotion for categories counts only their lines, its minimum included
        # ("at least 10.00 of fresh"), not the whole basket.
        scope = eligible_total
        if promo.categories:
            scope = sum(a for c, a in eligible.items() if c in promo.categories)
        if not scope or scope < parse_amount(promo.min_amount, currency, allow_zero=True):
            continue
        mult = ratio(promo.multiplier)
        bonus(f"promotion:{promo.id}", promo.name, scope * rate * (mult - 1) + promo.bonus)

    total = max(0, base + sum(b["points"] for b in bonuses))
    breakdown = {
        "basket": [{"category": c, "amount": a} for c, a in sorted(by_category.items())],
        "base": base,
        "bonuses": bonuses,
        "tier": tier.name,
        "membership": membership.id if membership else None,
    }
    return Earned(total, tuple(lines), breakdown)
