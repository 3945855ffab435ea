"""Donate points to one of the program's charities."""

from __future__ import annotations

from collections.abc import Iterable

from textual import on
from textual.widget import Widget
from textual.widgets import Input, Select, Static

from ...errors import LoyaltyError
from ..present import parse_points
from ..widgets.field_row import FieldRow
from .approval import with_manager
from .base import FormScreen
from .member import Shown


class DonateScreen(FormScreen):
    TITLE_TEXT = "Donate points"
    LAST_FIELD = "points"

    def __init__(self, shown: Shown) -> None:
        super().__init__()
        self.shown = shown

    def body(self) -> Iterable[Widget]:
        view = self.shown.view
        charities = [(c.name, c.id) for c in self.till.program.charities]
        yield Static(f"{view.label} has {view.spendable} points to give.", classes="lead")
        yield FieldRow(
            "Charity",
            Select(charities, id="charity", allow_blank=False, compact=True)
            if charities
            else Static("This program names no charity."),
        )
        yield FieldRow("Points", Input(id="points", max_length=12, compact=True))

    def on_mount(self) -> None:
        self.query_one("#points", Input).focus()

    @on(Input.Changed)
    @on(Select.Changed)
    def _changed(self) -> None:
        self.asked = None  # another charity or amount is asked about afresh

    async def submit(self) -> None:
        if not self.till.program.charities:
            self.say("This program names no charity to donate to.", problem=True)
            return
        charity = str(self.query_one("#charity", Select).value)
        text = self.query_one("#points", Input).value.strip()
        if not text:
            self.say("Type how many points to give.", problem=True)
            return
        try:
            points = parse_points(text)
        except LoyaltyError as exc:
            self.say(exc.message, problem=True)
            return
        found = self.till.program.charity(charity)
        to = found.name if found else charity
        question = f"Donate {points} points to {to}? Enter again or F10 confirms."
        if not self.asked_twice((charity, points), question):
            return  # points are given on the second Enter, as a reward is redeemed
        ref, cashier = self.shown.ref, self.till.session
        result = await with_manager(
            self,
            lambda manager, why: (
                lambda t: t.donate(
                    ref,
                    charity_id=charity,
                    points=points,
                    cashier=cashier,
                    approval=manager,
                    reason=why,
                )
            ),
        )
        if result is None:
            return
        self.till.print_soon()
        name = result.event.detail.get("charity", {}).get("name", "the charity")
        self.till.done(
            f"Donated {points} points to {name}; balance {result.member.balance}.", ref=ref
        )
