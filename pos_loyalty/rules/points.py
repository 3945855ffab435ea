"""Turning exact fractions into whole points, the one place rounding happens."""

from __future__ import annotations

import math
from fractions import Fraction

from .program import Rounding

MAX_POINTS = 10**9  # far above any real balance or sale, far below the journal's 64-bit limit


def round_points(value: Fraction, rounding: Rounding) -> int:
    if rounding == "floor":
        return math.floor(value)
    if rounding == "ceil":
        return math.ceil(value)
    return math.floor(value + Fraction(1, 2))


def format_ratio(value: Fraction) -> str:
    """``Fraction(3, 2)`` → ``1.5``; whole numbers without a decimal point."""
    if value.denominator == 1:
        return str(value.numerator)
    return f"{float(value):g}"
