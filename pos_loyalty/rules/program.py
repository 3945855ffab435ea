"""The loyalty program as plain, immutable data: what the rules engine computes from.

These structures are decoded straight from the ``[program]`` section of the TOML config and
validated there; the rules functions only read them.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
from fractions import Fraction
from typing import Literal

import msgspec

Rounding = Literal["floor", "half_up", "ceil"]
RewardKind = Literal["free_item", "fixed_discount", "percent_discount"]
Weekday = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEKDAYS: tuple[Weekday, ...] = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class _Data(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class Category(_Data, frozen=True):
    multiplier: float = 1
    excluded: bool = False


class Tier(_Data, frozen=True):
    name: str
    threshold: int = 0
    multiplier: float = 1
    perks: tuple[str, ...] = ()


class Promotion(_Data, frozen=True):
    id: str
    name: str
    multiplier: float = 1
    bonus: int = 0
    starts: dt.date | None = None
    ends: dt.date | None = None
    weekdays: tuple[Weekday, ...] = ()
    categories: tuple[str, ...] = ()
    min_amount: str = "0"


class Reward(_Data, frozen=True):
    id: str
    name: str
    cost: int
    kind: RewardKind
    item: str = ""
    amount: str = ""
    percent: int = 0


class Charity(_Data, frozen=True):
    id: str
    name: str


class Membership(_Data, frozen=True):
    id: str
    name: str
    fee: str
    months: int = 12
    multiplier: float = 1
    perks: tuple[str, ...] = ()


class Program(_Data, frozen=True):
    version: str = "1"
    points_per_unit: float = 1
    rounding: Rounding = "floor"
    point_value: str = "0.01"
    min_redeem_balance: int = 0
    pending_days: int = 0
    offline_redeem_cap: int = 500
    velocity_max_per_day: int = 10
    reversal_manager_limit: int = 200
    earn_manager_limit: int = 0  # points one sale may earn before a manager approves; 0: any
    lot_expiry_months: int = 0
    inactivity_expiry_months: int = 0
    tier_window_days: int = 365
    welcome_bonus: int = 0
    referral_bonus_referrer: int = 0
    referral_bonus_referee: int = 0
    default_category: str = "general"
    adjust_reasons: tuple[str, ...] = ("goodwill", "correction")
    categories: dict[str, Category] = {}
    tiers: tuple[Tier, ...] = (Tier(name="Member"),)
    promotions: tuple[Promotion, ...] = ()
    rewards: tuple[Reward, ...] = ()
    charities: tuple[Charity, ...] = ()
    memberships: tuple[Membership, ...] = ()

    def category(self, name: str) -> Category:
        return self.categories.get(name, Category())

    def reward(self, reward_id: str) -> Reward | None:
        return next((r for r in self.rewards if r.id == reward_id), None)

    def charity(self, charity_id: str) -> Charity | None:
        return next((c for c in self.charities if c.id == charity_id), None)

    def membership(self, plan_id: str) -> Membership | None:
        return next((m for m in self.memberships if m.id == plan_id), None)

    def tier(self, name: str | None) -> Tier:
        return next((t for t in self.tiers if t.name == name), self.tiers[0])


@functools.lru_cache(maxsize=256)
def ratio(value: float) -> Fraction:
    """An exact fraction for a multiplier written as a decimal in TOML (1.25 → 5/4); cached,
    as a program has a handful of multipliers and every sale asks for them."""
    return Fraction(str(value))


def ruleset_version(program: Program) -> str:
    """``version+digest``: frozen into every event, so a rule change is always visible."""
    canonical = json.dumps(msgspec.to_builtins(program), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:8]
    return f"{program.version}+{digest}"
