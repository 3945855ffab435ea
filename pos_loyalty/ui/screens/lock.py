"""The locked till: nothing of the screen below shows until the PIN is given again; another
member of staff may sign in instead (the first is signed out)."""

from __future__ import annotations

from collections.abc import Iterable

from textual import on, work
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Input, Static

from ...staff import StaffSession
from .base import TillScreen


class LockScreen(TillScreen):
    TITLE_TEXT = "Locked"
    BINDINGS = [Binding("escape", "back", show=False), Binding("f11", "switch", "Other staff")]

    def __init__(self, session: StaffSession) -> None:
        super().__init__()
        self.session = session

    def body(self) -> Iterable[Widget]:
        yield Static(
            f"Locked. {self.session.name}: type your PIN to go on, "
            "or F11 to sign in as someone else.",
            classes="lead",
        )
        yield Input(placeholder="PIN", id="pin", password=True, restrict=r"[0-9]*", max_length=12)

    def on_mount(self) -> None:
        self.query_one("#pin", Input).focus()

    def action_back(self) -> None:
        """Esc does not unlock."""

    @on(Input.Submitted, "#pin")
    def _submit(self) -> None:
        self.unlock()

    @work(exclusive=True)
    async def unlock(self) -> None:
        field = self.query_one("#pin", Input)
        pin, field.value = field.value, ""
        staff_id = self.session.staff_id
        again = await self.service(lambda t: t.sign_in(staff_id, pin))
        if again is None:
            return
        await self.till.call(lambda t: t.sign_out(again))  # the first session goes on
        self.till.unlocked()

    def action_switch(self) -> None:
        self.app.run_worker(self.till.sign_out(), group="staff")
