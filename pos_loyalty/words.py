"""How numbers read in the sentences a cashier sees: "1 point", "2 points"."""

from __future__ import annotations


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}" if abs(n) == 1 else f"{n} {noun}s"
