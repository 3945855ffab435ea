"""Sell a paid membership: the program's plans, each with its fee and perks. The fee is taken
at the register; Enter on a plan says what will be sold, and Enter again (or F10) sells it."""

from __future__ import annotations

from collections.abc import Iterable

from textual import on, work
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ...money import format_amount, parse_amount
from ...rules.program import Membership
from .base import TillScreen
from .member import Shown


class MembershipScreen(TillScreen):
    TITLE_TEXT = "Membership"
    BINDINGS = [Binding("escape", "back", "Back"), Binding("f10", "sell", "Confirm")]

    def __init__(self, shown: Shown) -> None:
        super().__init__()
        self.shown = shown
        self.chosen: str | None = None  # the plan Enter chose once: again sells it

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
        currency = self.till.config.store.currency
        fee = format_amount(parse_amount(plan.fee, currency), currency)
        perks = " · ".join(plan.perks)
        return f"{plan.name:<12} {fee:>12}  {plan.months} months" + (f"  {perks}" if perks else "")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionHighlighted)
    def _moved(self) -> None:
        self.chosen = None
        self.hush()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.offer(event.option.id)

    def action_sell(self) -> None:
        highlighted = self.query_one(OptionList).highlighted_option
        self.offer(highlighted.id if highlighted else None)

    def offer(self, plan_id: str | None) -> None:
        plan = self.till.program.membership(plan_id or "")
        if plan is None:
            self.say("Choose a plan first.", problem=True)
            return
        if self.chosen != plan.id:
            self.chosen = plan.id
            currency = self.till.config.store.currency
            fee = format_amount(parse_amount(plan.fee, currency), currency)
            self.say(
                f"Sell {plan.name} ({plan.months} months) for {fee}? Take the fee at the "
                "register, then Enter again or F10."
            )
            return
        self.sell(plan.id)

    @work(exclusive=True)
    async def sell(self, plan_id: str) -> None:
        ref, cashier = self.shown.ref, self.till.session
        result = await self.service(
            lambda t: t.buy_membership(ref, plan_id=plan_id, cashier=cashier)
        )
        if result is None:
            self.chosen = None
            return
        self.till.print_soon()
        self.till.done(f"Sold: {result.event.lines[0]}.", ref=ref)
