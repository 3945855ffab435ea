"""One sentence under a form: what was refused and why, or what was done. Never a dialog to
dismiss: the cashier reads it and goes on typing."""

from __future__ import annotations

import time

from textual.widgets import Static


class Notice(Static):
    _kept_until = 0.0

    _sentence = ""

    def say(
        self, sentence: str, *, problem: bool = False, keep: float = 0.0, also: bool = False
    ) -> None:
        """``keep``: seconds in which a form's own "all is well" does not clear it (a scan's
        notice, said while the field the scanner typed into is put back as it was).
        ``also``: after the sentence shown (what was done, then what came of it)."""
        if also and self._sentence:
            sentence = f"{self._sentence} {sentence}"
            problem = problem or self.has_class("problem")
        self._kept_until = time.monotonic() + keep
        self._sentence = sentence
        self.set_class(problem, "problem")
        self.update(("! " if problem else "") + sentence)

    def clear(self) -> None:
        if time.monotonic() < self._kept_until:
            return
        self._sentence = ""
        self.set_class(False, "problem")
        self.update("")
