"""Sign in: staff id and PIN, through the till's roster (wrong PINs count and lock alike)."""

from __future__ import annotations

from collections.abc import Iterable

from textual import on, work
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Input, Static

from .base import TillScreen


class SignInScreen(TillScreen):
    TITLE_TEXT = "Sign in"
    BINDINGS = [Binding("escape", "back", "Back", show=False)]

    def body(self) -> Iterable[Widget]:
        cfg = self.till.config
        yield Static(
            f"Till {cfg.terminal.id} of {cfg.store.name}. Sign in with your staff id and PIN.",
            classes="lead",
        )
        yield Input(placeholder="Staff id", id="staff", max_length=32)
        yield Input(placeholder="PIN", id="pin", password=True, restrict=r"[0-9]*", max_length=12)
        if self.till.intro:
            yield Static("\n".join(self.till.intro), id="intro")

    def on_mount(self) -> None:
        self.query_one("#staff", Input).focus()

    def on_screen_resume(self) -> None:
        self.query_one("#pin", Input).value = ""
        self.query_one("#staff", Input).focus()

    @on(Input.Submitted, "#staff")
    def _to_pin(self) -> None:
        self.query_one("#pin", Input).focus()

    @on(Input.Submitted, "#pin")
    def _submit(self) -> None:
        self.till.typed_ahead.wait_for(self.sign_in())

    @work(exclusive=True)
    async def sign_in(self) -> None:
        staff = self.query_one("#staff", Input).value.strip()
        pin_field = self.query_one("#pin", Input)
        pin, pin_field.value = pin_field.value, ""
        if not staff:
            self.say("Type your staff id first.", problem=True)
            self.query_one("#staff", Input).focus()
            return
        session = await self.service(lambda t: t.sign_in(staff, pin))
        if session is None:
            pin_field.focus()
            return
        self.hush()
        self.till.signed_in(session)
