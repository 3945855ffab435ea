"""Refund a sale (whole, or part of its amount) or cancel a redemption or donation, by the
receipt's reference (#12 here, T2-12 for another till's, through HQ)."""

from __future__ import annotations

from collections.abc import Iterable

from textual import on, work
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Input, Static

from ...errors import LoyaltyError
from ...money import format_amount, parse_amount
from ...service import MemberRef
from ...staff import StaffSession
from ..widgets.field_row import FieldRow
from .base import TillScreen
from .earn import AMOUNT_CHARS


class RefundScreen(TillScreen):
    BINDINGS = [Binding("escape", "back", "Back"), Binding("f10", "reverse", "Confirm")]

    def __init__(self, manager: StaffSession, *, cancel: bool = False) -> None:
        super().__init__()
        self.manager = manager
        self.cancel = cancel

    def title_line(self) -> str:
        what = "Cancel a redemption" if self.cancel else "Refund a sale"
        return f"{self.till.config.store.name} · {what}"

    def body(self) -> Iterable[Widget]:
        if self.cancel:
            lead = "The redemption's or donation's number from its slip (#12, or T2-12)."
        else:
            lead = "The sale's number from its slip (#12, or T2-12); an amount for part of it."
        yield Static(lead, classes="lead")
        yield FieldRow("Slip", Input(id="ref", max_length=40, compact=True), hint="#12 or T2-12")
        if not self.cancel:
            currency = self.till.config.store.currency
            yield FieldRow(
                f"Amount {currency}",
                Input(id="amount", restrict=AMOUNT_CHARS, max_length=14, compact=True),
                hint="empty: the whole sale",
            )

    def on_mount(self) -> None:
        self.query_one("#ref", Input).focus()

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        if event.input.id == "ref" and not self.cancel:
            self.query_one("#amount", Input).focus()
        else:
            self.action_reverse()

    def action_reverse(self) -> None:
        self.reverse()

    @work(exclusive=True)
    async def reverse(self) -> None:
        ref = self.query_one("#ref", Input).value.strip()
        if not ref:
            self.say("Type the slip's number, e.g. #12.", problem=True)
            return
        currency = self.till.config.store.currency
        amount = None
        if not self.cancel:
            text = self.query_one("#amount", Input).value.strip()
            try:
                amount = parse_amount(text, currency) if text else None
            except LoyaltyError as exc:
                self.say(exc.message, problem=True)
                return
        manager, cashier = self.manager, self.till.session
        result = await self.service(
            lambda t: t.reverse(ref, amount=amount, cashier=cashier, approval=manager)
        )
        if result is None:
            return
        self.till.print_soon()
        member = result.member
        back = result.event.detail.get("refund_amount")
        money = f" ({format_amount(back, currency)})" if back else ""
        sentence = (
            f"Done{money}: {result.event.points:+d} points for {member.label}; "
            f"balance {member.balance}."
        )
        who = MemberRef(member_id=member.member_id) if member.member_id else None
        if who is None:
            self.say(sentence)
            return
        self.till.done(sentence, ref=who)
