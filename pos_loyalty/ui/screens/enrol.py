"""Enrol a new member: phone, name (optional), marketing consent, a referrer's code; the
welcome slip with the member's QR prints."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widget import Widget
from textual.widgets import Input, Static

from ...errors import LoyaltyError
from ...service import MemberRef
from ..widgets.field_row import FieldRow
from ..widgets.tick_box import TickBox
from .base import FormScreen
from .lookup import ref_of


class EnrolScreen(FormScreen):
    TITLE_TEXT = "Enrol"
    LAST_FIELD = "referrer"

    def __init__(self, phone: str = "") -> None:
        super().__init__()
        self.phone = phone

    def body(self) -> Iterable[Widget]:
        yield Static("A new member: their phone, and the rest if they like.", classes="lead")
        yield FieldRow("Phone", Input(self.phone, id="phone", max_length=32, compact=True))
        yield FieldRow("Name", Input(id="name", max_length=80, compact=True), hint="optional")
        yield FieldRow("Marketing", TickBox("agrees to offers (Space)", id="consent", compact=True))
        yield FieldRow(
            "Referred by",
            Input(id="referrer", max_length=40, compact=True),
            hint="phone or code, optional",
        )

    def on_mount(self) -> None:
        self.query_one("#name" if self.phone else "#phone", Input).focus()

    async def submit(self) -> None:
        phone = self.query_one("#phone", Input).value.strip()
        name = self.query_one("#name", Input).value.strip() or None
        consent = self.query_one("#consent", TickBox).value
        referrer_text = self.query_one("#referrer", Input).value.strip()
        if not phone:
            self.say("Type the new member's phone number.", problem=True)
            self.query_one("#phone", Input).focus()
            return
        referrer = ref_of(referrer_text) if referrer_text else None
        cashier = self.till.session

        if referrer is not None:

            async def not_a_referrer(exc: LoyaltyError) -> None:
                self.say(f"Referred by: {exc.message}", problem=True)
                self.query_one("#referrer", Input).focus()

            sponsor = referrer
            if await self.service_or(lambda t: t.lookup(sponsor), not_a_referrer) is None:
                return
        result = await self.service(
            lambda t: t.enroll(
                phone, name=name, consent=consent, referrer=referrer, cashier=cashier
            )
        )
        if result is None:
            return
        self.till.print_soon()
        slip = " The welcome slip with their card is printing." if result.print_job else ""
        self.till.done(
            f"Enrolled {result.member.label}: balance {result.member.balance}.{slip}",
            ref=MemberRef(member_id=result.member.member_id),
        )
