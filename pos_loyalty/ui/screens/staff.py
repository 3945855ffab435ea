"""Add a cashier or manager, or change a PIN (a manager approves)."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widget import Widget
from textual.widgets import Input, Select, Static

from ...staff import ROLES, StaffSession
from ..widgets.field_row import FieldRow
from .base import FormScreen


class StaffScreen(FormScreen):
    TITLE_TEXT = "Staff"
    LAST_FIELD = "again"

    def __init__(self, manager: StaffSession) -> None:
        super().__init__()
        self.manager = manager

    def body(self) -> Iterable[Widget]:
        yield Static("New staff, or an existing id to change the PIN or role.", classes="lead")
        yield FieldRow("Staff id", Input(id="staff", max_length=32, compact=True))
        yield FieldRow("Name", Input(id="name", max_length=80, compact=True))
        roles = [(r, r) for r in ROLES]
        yield FieldRow("Role", Select(roles, id="role", allow_blank=False, compact=True))
        for key, label in (("pin", "PIN"), ("again", "PIN again")):
            yield FieldRow(
                label,
                Input(id=key, password=True, restrict=r"[0-9]*", max_length=12, compact=True),
                hint="4 to 12 digits" if key == "pin" else "",
            )

    def on_mount(self) -> None:
        self.query_one("#staff", Input).focus()

    async def submit(self) -> None:
        staff_id = self.query_one("#staff", Input).value.strip()
        name = self.query_one("#name", Input).value.strip() or None
        role = str(self.query_one("#role", Select).value)
        pin, again = (self.query_one(f"#{k}", Input) for k in ("pin", "again"))
        if pin.value != again.value:
            pin.value = again.value = ""
            self.say("The two PINs differ; type them again.", problem=True)
            pin.focus()
            return
        manager, secret = self.manager, pin.value
        pin.value = again.value = ""
        saved = await self.service(
            lambda t: t.add_staff(staff_id, pin=secret, name=name, role=role, approval=manager)
        )
        if saved is not None:
            self.say(f"Saved {saved.role} {saved.staff_id} ({saved.name}).")
