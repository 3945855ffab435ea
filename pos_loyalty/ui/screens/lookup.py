"""Find the member: one field for a phone in any common format or a member code (typed, or
scanned by a wedge scanner into any field). An unknown phone is offered enrolment, or a sale
recorded against the phone until the customer enrols."""

from __future__ import annotations

from collections.abc import Iterable

from textual import on
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Input, Static

from ...service import MemberRef
from .base import TillScreen


def ref_of(text: str) -> MemberRef:
    """A member code has letters (M1…); anything else is taken as a phone."""
    text = text.strip()
    if any(ch.isalpha() for ch in text.lstrip("]")):
        return MemberRef(code=text)
    return MemberRef(phone=text)


class LookupScreen(TillScreen):
    TITLE_TEXT = "Find a member"
    accepts_scan = True
    BINDINGS = [
        Binding("f2", "enrol", "Enrol"),
        Binding("f3", "earn_phone", "Sale to phone"),
        Binding("f9", "manager", "Manager"),
        Binding("f11", "sign_out", "Sign out"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.unknown_phone: str | None = None

    def body(self) -> Iterable[Widget]:
        yield Static(
            "Type the customer's phone or member code and press Enter, or scan their card.",
            classes="lead",
        )
        yield Input(placeholder="Phone or member code", id="find", max_length=40)

    def on_mount(self) -> None:
        self.query_one("#find", Input).focus()

    def on_screen_resume(self) -> None:
        """Back for the next customer: the last one's number is gone."""
        field = self.query_one("#find", Input)
        field.value = ""
        self.unknown_phone = None
        self._offer(False)
        field.focus()

    def action_back(self) -> None:
        self.query_one("#find", Input).value = ""
        self.hush()

    @on(Input.Submitted, "#find")
    def _find(self, event: Input.Submitted) -> None:
        text = event.value.strip()
        self.unknown_phone = None
        self._offer(False)
        if not text:
            self.say("Type a phone or member code, or scan a card.", problem=True)
            return
        try:
            ref = ref_of(text)
        except Exception as exc:  # MemberRef refuses only what cannot name anyone
            self.say(str(exc), problem=True)
            return
        self.hush()
        self.till.open_member(ref)

    def offer_enrol(self, phone: str, sentence: str) -> None:
        """The phone is no member's (yet): say so, and offer F2 and F3."""
        self.unknown_phone = phone
        self._offer(True)
        self.say(f"{sentence} F2 enrols them; F3 records the sale against the phone.")

    def _offer(self, on: bool) -> None:
        self.refresh_bindings()
        self.keys_changed()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """F3 is shown only while an unknown phone is on offer."""
        return self.unknown_phone is not None if action == "earn_phone" else True

    def action_enrol(self) -> None:
        from .enrol import EnrolScreen

        typed = self.query_one("#find", Input).value.strip()
        phone = self.unknown_phone or ("" if any(c.isalpha() for c in typed) else typed)
        self.app.push_screen(EnrolScreen(phone))

    def action_earn_phone(self) -> None:
        from .earn import EarnScreen

        if self.unknown_phone is None:
            self.say("Look the phone up first (Enter); F3 is for a phone no member has.")
            return
        self.app.push_screen(EarnScreen(MemberRef(phone=self.unknown_phone), "this phone"))

    def action_manager(self) -> None:
        from .manager import open_manager

        open_manager(self)

    def action_sign_out(self) -> None:
        self.app.run_worker(self.till.sign_out(), group="staff")
