"""One sentence under a form: what was refused and why, or what was done. Never a dialog to
dismiss: the cashier reads it and goes on typing."""

from __future__ import annotations

from textual.widgets import Static


class Notice(Static):
    def say(self, sentence: str, *, problem: bool = False) -> None:
        self.set_class(problem, "problem")
        self.update(("! " if problem else "") + sentence)

    def clear(self) -> None:
        self.set_class(False, "problem")
        self.update("")
