"""The always-visible status line: HQ, events waiting, printer, cashier, store and terminal.
It shows the app's ``status_text``, which the app keeps from coalesced messages."""

from __future__ import annotations

from textual.widgets import Static


class StatusBar(Static):
    def on_mount(self) -> None:
        self.watch(self.app, "status_text", self._show)

    def _show(self, text: str) -> None:
        self.update(text)
