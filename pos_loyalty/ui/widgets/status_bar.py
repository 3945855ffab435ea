"""The always-visible status line: HQ, events waiting, printer, cashier, store and terminal.
It shows the app's status text, which the app keeps from coalesced messages."""

from __future__ import annotations

from textual.signal import Signal
from textual.widgets import Static


class StatusBar(Static):
    """Subscribed to the app's ``status_changed`` signal while mounted. A signal holds its
    subscribers weakly and is left on unmount, so a closed screen's bar is not kept alive
    (a reactive's watcher would be, until the text next changed)."""

    def __init__(self, text: str, signal: Signal[str], *, id: str | None = None) -> None:
        super().__init__(text, id=id)
        self._signal = signal

    def on_mount(self) -> None:
        self._signal.subscribe(self, self._show)

    def on_unmount(self) -> None:
        self._signal.unsubscribe(self)

    def _show(self, text: str) -> None:
        self.update(text)
