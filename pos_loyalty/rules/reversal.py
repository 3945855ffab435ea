"""Reversing a sale's points: proportional to the amount refunded, cumulative over partial
refunds, never more than the sale earned, always from the points frozen on the sale."""

from __future__ import annotations

from fractions import Fraction

from ..errors import AlreadyReversed, BadAmount
from ..money import format_amount
from .points import round_points


def refund_points(
    *,
    earned: int,
    sale_amount: int,
    refunded_before: int,
    reversed_before: int,
    refund_amount: int,
    currency: str,
) -> int:
    """Points to take back for refunding ``refund_amount`` of a sale.

    Computed on the cumulative refund, so refunding a sale in parts takes back exactly what
    refunding it whole would: ``earned × refunded / sale`` rounded half up, minus what earlier
    refunds already took.
    """
    left = sale_amount - refunded_before
    if left <= 0:
        raise AlreadyReversed("That sale has already been fully refunded.")
    if refund_amount <= 0:
        raise BadAmount("The refund amount must be more than zero.")
    if refund_amount > left:
        raise BadAmount(f"Only {format_amount(left, currency)} of that sale is left to refund.")
    cumulative = refunded_before + refund_amount
    target = round_points(Fraction(earned * cumulative, sale_amount), "half_up")
    return max(0, min(target, earned) - reversed_before)
