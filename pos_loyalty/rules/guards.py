"""The till's checks before points move: balance, minimum, offline cap, velocity, and the
limits above which a manager must approve a sale or a reversal."""

from __future__ import annotations

from ..errors import InsufficientPoints, NeedsManager, OfflineCapExceeded
from ..words import plural
from .account import Account
from .program import Program


def check_spend(program: Program, account: Account, points: int, what: str | None = None) -> None:
    """Refuse a spend the balance cannot cover, in the words the cashier reads."""
    balance, spendable = account.balance, account.spendable
    if balance < program.min_redeem_balance:
        raise InsufficientPoints(
            f"A balance of at least {plural(program.min_redeem_balance, 'point')} is needed to "
            f"redeem; the balance is {balance}."
        )
    if points <= spendable:
        return
    can = max(spendable, 0)
    if what:
        message = f"Not enough points: {what} needs {points}, only {can} can be spent now"
    else:
        message = f"Not enough points: only {can} can be spent now, not {points}"
    if account.held and account.held_from:
        message += f" ({account.held} more become spendable from {account.held_from[:10]})"
    raise InsufficientPoints(message + ".")


def check_offline_cap(program: Program, account: Account, points: int, approved: bool) -> None:
    """Points spent but not yet confirmed by HQ are the till's risk; cap them per member."""
    if approved or points <= account.cap_room:
        return
    raise OfflineCapExceeded(
        f"Only {account.cap_room} more points can be redeemed for this member without HQ's "
        f"word on the balance (offline cap {program.offline_redeem_cap}); a manager can "
        "approve more."
    )


def check_velocity(program: Program, count_today: int, approved: bool) -> bool:
    """True when the member is over today's limit (then a manager must approve)."""
    over = count_today >= program.velocity_max_per_day > 0
    if over and not approved:
        raise NeedsManager(
            f"This member already has {count_today} loyalty transactions today; "
            "a manager must approve more."
        )
    return over


def check_earn(program: Program, points: int, approved: bool) -> None:
    """A sale far above the usual is most often a mistyped amount: a manager looks first."""
    limit = program.earn_manager_limit
    if 0 < limit < points and not approved:
        raise NeedsManager(
            f"This sale would earn {plural(points, 'point')}, above the {limit}-point limit "
            "for one sale; check the amount, or a manager must approve it."
        )


def check_reversal(program: Program, points: int, approved: bool, what: str = "sale") -> None:
    """``points``: everything reversed of one event, this reversal included."""
    if points > program.reversal_manager_limit and not approved:
        raise NeedsManager(
            f"Reversing {plural(points, 'point')} of this {what} in all is above the "
            f"{program.reversal_manager_limit}-point limit; a manager must approve it."
        )
