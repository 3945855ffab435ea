"""Sell a paid membership: the program's plans, each with its fee and perks. The fee is taken
at the register; Enter on a plan says what will be sold, and Enter again (or F10) sells it."""

from __future__ import annotations

from collections.abc import Iterable

from textual import work
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ...money import format_amount, parse_amount
from ...rules.program import Membership
from .base import ChoiceScreen
from .member import Shown


class MembershipScreen(ChoiceScreen):
    TITLE_TEXT = "Membership"

    def __init__(self, shown: Shown) -> None:
        super().__init__()
        self.shown = shown

    def body(self) -> Iterable[Widget]:
        view = self.shown.view
        held = (
            f"has {view.membership.name} until {(view.membership_until or '')[:10]}"
            if view.membership
            else "has no paid membership"
        )
        yield Static(f"{view.label} {held}. Choose a plan and press Enter.", classes="lead")
        plans = self.till.program.memberships
        yield OptionList(*(Option(self._line(p), id=p.id) for p in plans), id="plans")
        if not plans:
            yield Static("This program has no paid membership to sell.")

    def _line(self, plan: Membership) -> str:
        perks = " · ".join(plan.perks)
        line = f"{plan.name:<16} {self._fee(plan):>12}  {plan.months} months"
        return line + (f"\n  {perks}" if perks else "")

    def _fee(self, plan: Membership) -> str:
        currency = self.till.config.store.currency
        return format_amount(parse_amount(plan.fee, currency), currency)

    def offer(self, key: str) -> str | None:
        """The fee is taken at the register: the first Enter says so, the second sells."""
        plan = self.till.program.membership(key)
        if plan is None:
            return None
        fee, view = self._fee(plan), self.shown.view
        if view.membership is not None and view.membership.id == plan.id:
            until = (view.membership_until or "")[:10]
            return (
                f"{plan.name} runs until {until}: renew it for {plan.months} months more "
                f"({fee})? Take the fee, then Enter again."
            )
        return f"Sell {plan.name} ({plan.months} months, {fee})? Take the fee, then Enter again."

    def act(self, key: str) -> None:
        self.sell(key)

    @work(exclusive=True)
    async def sell(self, plan_id: str) -> None:
        ref, cashier = self.shown.ref, self.till.session
        result = await self.service(
            lambda t: t.buy_membership(ref, plan_id=plan_id, cashier=cashier)
        )
        if result is None:
            self.asked = None  # refused: the next Enter says what it would sell again
            return
        self.till.print_soon()
        self.till.done(f"Sold: {result.event.lines[0]}.", ref=ref)
