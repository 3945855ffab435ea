"""A labelled one-line field: forms fit an 80x24 terminal with room for the answer."""

from __future__ import annotations

from textual import events
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.widget import Widget
from textual.widgets import Input, Label


class FieldRow(Horizontal):
    def __init__(self, label: str, field: Widget, *, hint: str = "") -> None:
        super().__init__(classes="row")
        self.label = label
        self.field = field
        if isinstance(field, Input):
            field.select_on_focus = False  # Tab into a field must not make typing replace it
        self.hint = hint

    def compose(self) -> ComposeResult:
        yield Label(self.label, classes="label")
        yield self.field
        if self.hint:
            yield Label(self.hint, classes="hint")

    # A class, not :focus-within: Textual restyles the label at once when a class changes.
    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self.add_class("focused")

    def on_descendant_blur(self, event: events.DescendantBlur) -> None:
        self.remove_class("focused")
