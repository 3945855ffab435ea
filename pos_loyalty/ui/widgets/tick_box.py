"""A yes/no box that says its state in characters, ``[x]`` or ``[ ]``: readable without
colour (NO_COLOR), where Textual's own box differs only by shade."""

from __future__ import annotations

from textual.binding import Binding
from textual.content import Content
from textual.widgets import Checkbox


class TickBox(Checkbox, inherit_bindings=False):
    # Space ticks it; Enter goes on to the next field, as Enter does from every field of a form.
    BINDINGS = [
        Binding("space", "toggle_button", "Tick", show=False),
        Binding("enter", "app.focus_next", "Next field", show=False),
    ]
    BUTTON_LEFT = "["
    BUTTON_RIGHT = "]"

    @property
    def _button(self) -> Content:
        return Content(f"[{'x' if self.value else ' '}]")
