"""Redeem: the rewards catalogue with each reward's cost and whether the member can have it
now; beyond the offline cap HQ's word on the balance, asked then, lets it, or else a manager
approves (PIN and reason); what the balance cannot
cover is refused in plain words."""

from __future__ import annotations

from collections.abc import Iterable

from textual import work
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ..present import reward_line
from .approval import with_manager
from .base import ChoiceScreen
from .member import Shown


class RedeemScreen(ChoiceScreen):
    TITLE_TEXT = "Redeem"

    def __init__(self, shown: Shown) -> None:
        super().__init__()
        self.shown = shown

    def body(self) -> Iterable[Widget]:
        view = self.shown.view
        yield Static(
            f"{view.label}: {view.spendable} points to spend, {view.can_redeem_now} without "
            "asking HQ or a manager. Choose a reward and press Enter.",
            classes="lead",
        )
        options = [
            Option(reward_line(r.name, r.cost, view), id=r.id) for r in self.till.program.rewards
        ]
        yield OptionList(*options, id="rewards")

    def offer(self, key: str) -> str | None:
        """Points are spent on the second Enter (or F10): the first says what it costs."""
        reward = self.till.program.reward(key)
        if reward is None:
            return None
        return f"Redeem {reward.name} for {reward.cost} points? Enter again or F10 confirms."

    def act(self, key: str) -> None:
        self.redeem(key)

    @work(exclusive=True)
    async def redeem(self, reward_id: str) -> None:
        ref, cashier = self.shown.ref, self.till.session
        result = await with_manager(
            self,
            lambda manager, why: (
                lambda t: t.redeem(
                    ref, reward_id=reward_id, cashier=cashier, approval=manager, reason=why
                )
            ),
        )
        if result is None:
            return
        self.till.print_soon()
        reward = result.event.detail.get("reward", {})
        give = f" Give {reward['item']}." if reward.get("item") else ""
        self.till.done(
            f"Redeemed {reward.get('name', 'the reward')} ({result.event.points:+d}); "
            f"balance {result.member.balance}.{give}",
            ref=ref,
        )
