"""A keyboard-wedge scanner types a code faster than any hand and ends it with Enter: that
burst is a scan, wherever the focus is. Pure timing logic, so it is tested without a screen."""

from __future__ import annotations

from dataclasses import dataclass, field

MIN_LENGTH = 8  # a member code is 19 characters; shorter bursts are a fast typist


@dataclass
class WedgeDetector:
    max_gap: float  # seconds between a scanner's keys; a hand is slower
    _chars: list[str] = field(default_factory=list)
    _last: float | None = None

    def key(self, char: str | None, at: float) -> bool:
        """Feed one key (``char``, None for a non-printing one) at time ``at``; True when it
        starts a new burst (a key after a pause, or the first after a non-printing key)."""
        if char is None or not char.isprintable() or len(char) != 1:
            self.reset()
            return False
        started = self._last is None or at - self._last > self.max_gap
        if started:
            self._chars = []
        self._chars.append(char)
        self._last = at
        return started

    def enter(self, at: float) -> str | None:
        """Enter at ``at``: the burst's text if the keys before it were a scanner's, else
        None (the Enter is the cashier's)."""
        burst = "".join(self._chars)
        fast = self._last is not None and at - self._last <= self.max_gap
        self.reset()
        return burst if fast and len(burst) >= MIN_LENGTH else None

    def reset(self) -> None:
        self._chars = []
        self._last = None


def card_in(burst: str) -> tuple[str, str] | None:
    """(what was typed before it, the card's code) when a burst holds a member card's code
    (``M1…``, maybe after an AIM prefix like ``]Q1``), else None: a fast-typed phone is no
    scan. What a hand typed just before the scanner's keys stays typed."""
    upper = burst.upper()
    starts = [i for i in (upper.find("]"), upper.find("M1")) if i >= 0]
    if not starts:
        return None
    start = min(starts)
    code = burst[start:].strip()
    body = code[3:] if code.startswith("]") else code
    return (burst[:start], code) if body.upper().startswith("M1") else None
