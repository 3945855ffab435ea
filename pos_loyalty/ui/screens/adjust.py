"""A manager's adjustment of a member's points, with a reason code from the program and a
note; from the member screen (for that member) or the manager's menu (naming the member)."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from textual.widget import Widget
from textual.widgets import Input, Select, Static

from ...errors import LoyaltyError
from ...service import MemberRef, Till
from ...staff import StaffSession
from ...views import EventResult
from ..present import parse_points
from ..widgets.field_row import FieldRow
from .approval import with_manager
from .base import FormScreen
from .lookup import ref_of
from .member import Shown


class AdjustScreen(FormScreen):
    TITLE_TEXT = "Adjust points"
    LAST_FIELD = "note"

    def __init__(self, shown: Shown | None, *, manager: StaffSession | None = None) -> None:
        super().__init__()
        self.shown = shown
        self.manager = manager

    def body(self) -> Iterable[Widget]:
        if self.shown is not None:
            view = self.shown.view
            yield Static(f"{view.label}: balance {view.balance}.", classes="lead")
        else:
            yield Static("Whose points, how many (+50 or -20), and why.", classes="lead")
            yield FieldRow(
                "Member", Input(id="member", max_length=40, compact=True), hint="phone or code"
            )
        yield FieldRow(
            "Points",
            Input(id="points", max_length=12, compact=True),
            hint="+50 adds, -20 removes",
        )
        reasons = [(r, r) for r in self.till.program.adjust_reasons]
        yield FieldRow("Reason", Select(reasons, id="reason", allow_blank=False, compact=True))
        yield FieldRow("Note", Input(id="note", max_length=200, compact=True), hint="optional")

    def on_mount(self) -> None:
        self.query_one("#member" if self.shown is None else "#points", Input).focus()

    async def submit(self) -> None:
        if self.shown is not None:
            ref = self.shown.ref
        else:
            typed = self.query_one("#member", Input).value.strip()
            if not typed:
                self.say("Type the member's phone or code.", problem=True)
                return
            ref = ref_of(typed)
        text = self.query_one("#points", Input).value.strip()
        if not text:
            self.say("Type the points, e.g. +50 or -20.", problem=True)
            return
        try:
            points = parse_points(text, signed=True)
        except LoyaltyError as exc:
            self.say(exc.message, problem=True)
            return
        reason = str(self.query_one("#reason", Select).value)
        note = self.query_one("#note", Input).value
        cashier = self.till.session
        chosen = self.manager

        def attempt(manager: StaffSession | None, why: str) -> Callable[[Till], EventResult]:
            approval = chosen or manager
            return lambda t: t.adjust(
                ref, points=points, reason=reason, note=note, approval=approval, cashier=cashier
            )

        if chosen is not None:
            result = await self.service(attempt(chosen, ""))
        else:
            result = await with_manager(self, attempt, reason=False)
        if result is None:
            return
        self.till.print_soon()
        who = result.member
        done_ref = MemberRef(member_id=who.member_id) if who.member_id else ref
        self.till.done(
            f"Adjusted {who.label} by {points:+d} ({reason}); balance {who.balance}.",
            ref=done_ref,
        )
