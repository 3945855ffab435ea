"""Tiers by qualifying points over a rolling window, and the way to the next one."""

from __future__ import annotations

from dataclasses import dataclass

from ..words import plural
from .program import Program, Tier


@dataclass(frozen=True)
class TierStatus:
    tier: Tier
    qualifying: int
    next_tier: Tier | None
    to_next: int

    @property
    def text(self) -> str:
        if self.next_tier is None:
            return f"{self.tier.name}: top tier"
        return f"{plural(self.to_next, 'point')} to {self.next_tier.name}"


def tier_status(program: Program, qualifying: int, granted: str | None = None) -> TierStatus:
    """The tier ``qualifying`` points reach (tiers are validated ascending by threshold), or
    the tier HQ ``granted`` if that is higher."""
    qualifying = max(qualifying, 0)  # refunds can outrun what is still in the window
    reached = [t for t in program.tiers if t.threshold <= qualifying]
    tier = reached[-1] if reached else program.tiers[0]
    given = next((t for t in program.tiers if t.name == granted), None)
    if given and given.threshold > tier.threshold:
        tier = given
    higher = [t for t in program.tiers if t.threshold > max(qualifying, tier.threshold)]
    next_tier = higher[0] if higher else None
    to_next = next_tier.threshold - qualifying if next_tier else 0
    return TierStatus(tier, qualifying, next_tier, to_next)
