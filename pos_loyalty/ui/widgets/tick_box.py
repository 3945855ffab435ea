"""A yes/no box that says its state in characters, ``[x]`` or ``[ ]``: readable without
colour (NO_COLOR), where Textual's own box differs only by shade."""

from __future__ import annotations

from textual.content import Content
from textual.widgets import Checkbox


class TickBox(Checkbox):
    BUTTON_LEFT = "["
    BUTTON_RIGHT = "]"

    @property
    def _button(self) -> Content:
        return Content(f"[{'x' if self.value else ' '}]")
