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
        """Feed one printable key (``char``) at time ``at``; False once the burst is broken.
        A key after a pause starts a new burst."""
        if char is None or not char.isprintable() or len(char) != 1:
            self.reset()
            return False
        if self._last is None or at - self._last > self.max_gap:
            self._chars = []
        self._chars.append(char)
        self._last = at
        return True

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
