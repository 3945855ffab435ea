"""Refund a sale (whole, or part of its amount) or cancel a redemption or donation, by the
receipt's reference (#12 here, T2-12 for another till's, through HQ). The event is shown
first; only what is shown is reversed, and only the kind this screen is for."""

from __future__ import annotations

import contextlib
from collections.abc import Iterable

from textual import on, work
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Input, Static

from ...errors import LoyaltyError
from ...journal import Event
from ...money import format_amount, parse_amount
from ...service import MemberRef, Till
from ...staff import StaffSession
from ...words import plural
from ..widgets.field_row import FieldRow
from .base import TillScreen

SPENDS = {"redeem": "a redemption", "donate": "a donation"}
_KINDS = {
    "enroll": "an enrolment",
    "welcome_bonus": "a welcome bonus",
    "referral_bonus": "a referral bonus",
    "membership": "a membership sale",
    "adjust": "an adjustment",
    "expire": "an expiry",
    "reverse": "a refund or cancellation itself",
}


class RefundScreen(TillScreen):
    BINDINGS = [Binding("escape", "back", "Back"), Binding("f10", "reverse", "Confirm")]

    def __init__(self, manager: StaffSession, *, cancel: bool = False) -> None:
        super().__init__()
        self.manager = manager
        self.cancel = cancel
        self.found: tuple[str, Event] | None = None  # the reference typed, and its event

    def title_line(self) -> str:
        what = "Cancel a redemption" if self.cancel else "Refund a sale"
        return f"{self.till.config.store.name} · {what}"

    def body(self) -> Iterable[Widget]:
        if self.cancel:
            lead = "The redemption's or donation's Ref from its slip (T1-12, or 12 here)."
        else:
            lead = "The sale's Ref from its slip (T1-12, or 12 here); an amount for part of it."
        yield Static(lead, classes="lead")
        yield FieldRow("Ref", Input(id="ref", max_length=40, compact=True), hint="e.g. T1-12")
        if not self.cancel:
            currency = self.till.config.store.currency
            yield FieldRow(
                f"Amount {currency}",
                Input(id="amount", max_length=16, compact=True),
                hint="empty: the whole sale",
            )
        yield Static("", id="found")

    def on_mount(self) -> None:
        self.query_one("#ref", Input).focus()

    @on(Input.Changed, "#ref")
    def _ref_changed(self) -> None:
        self.found = None
        self.query_one("#found", Static).update("")

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        if event.input.id == "ref":
            self.look_up()
        else:
            self.action_reverse()

    @work(exclusive=True, group="look-up")
    async def look_up(self) -> bool:
        """Show the event the reference names; False (and why) if it is not one to reverse
        here."""
        ref = self.query_one("#ref", Input).value.strip()
        if not ref:
            self.say("Type the Ref from the slip, e.g. T1-12.", problem=True)
            return False
        event = await self.service(lambda t: t.event(ref))
        if event is None:
            return False
        text = await self.till.call(lambda t: _described(t, event))
        self.query_one("#found", Static).update(text)
        wrong = self._wrong_kind(event)
        if wrong:
            self.say(wrong, problem=True)
            return False
        self.found = (ref, event)
        self.hush()
        if not self.cancel:
            self.query_one("#amount", Input).focus()
        else:
            self.say("F10 cancels it.")
        return True

    def _wrong_kind(self, event: Event) -> str | None:
        if self.cancel and event.kind == "earn":
            return "That is a sale: refund it with “Refund a sale” in the manager's menu."
        if not self.cancel and event.kind in SPENDS:
            return f"That is {SPENDS[event.kind]}: cancel it with “Cancel a redemption”."
        if event.kind != "earn" and event.kind not in SPENDS:
            what = _KINDS.get(event.kind, "another kind of event")
            return f"That is {what}: only a sale, a redemption or a donation can be reversed."
        return None

    def action_reverse(self) -> None:
        self.reverse()

    @work(exclusive=True)
    async def reverse(self) -> None:
        if self.found is None or self.found[0] != self.query_one("#ref", Input).value.strip():
            worker = self.look_up()
            await worker.wait()
            if not worker.result:
                return
            if not self.cancel:
                return  # the amount next, then F10 again
        assert self.found is not None
        ref = self.found[0]
        currency = self.till.config.store.currency
        amount = None
        if not self.cancel:
            text = self.query_one("#amount", Input).value.strip()
            try:
                amount = parse_amount(text, currency) if text else None
            except LoyaltyError as exc:
                self.say(exc.message, problem=True)
                return
        if not self.cancel and self.asked != (ref, amount):
            # What the refund takes back is shown, and a second Enter (or F10) gives it.
            question = await self._question(ref, amount)
            if question is not None:
                self.asked_twice((ref, amount), question)
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

    async def _question(self, ref: str, amount: int | None) -> str | None:
        """What refunding ``amount`` of the sale takes back, asked before it is done."""
        assert self.found is not None
        shown = await self.service(lambda t: t.preview_reverse(ref, amount=amount))
        if shown is None:
            return None
        points, refunded = shown
        currency = self.till.config.store.currency
        sold = self.found[1].amount or 0
        if amount is not None:
            part = "part of the sale"
        elif refunded < sold:  # refunded in part before: what is left of it
            part = f"the rest of the sale ({format_amount(sold, currency)} in all)"
        else:
            part = "the whole sale"
        return (
            f"Refund {part}: {format_amount(refunded, currency)}, "
            f"{plural(points, 'point')}. Enter again or F10 confirms."
        )


def _described(till: Till, event: Event) -> str:
    """The event as the manager checks it: what, when, whose, how much."""
    name = event.member_id or event.phone or "?"
    if event.member_id:
        with contextlib.suppress(LoyaltyError):
            name = till.lookup(MemberRef(member_id=event.member_id)).label
    when = till.header.local_time(event.created_at)
    money = (
        f" {format_amount(event.amount, event.currency)},"
        if event.amount and event.currency
        else ""
    )
    head = (
        f"  {event.kind} {event.terminal_id}-{event.seq} of {when}, {name}:{money} "
        f"{event.points:+d} points"
    )
    return "\n".join([head, *(f"  {line}" for line in event.lines[:4])])
