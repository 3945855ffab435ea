"""The keys of the screen, on one line at the bottom: the footer, drawn as text. Textual's
Footer builds a widget per key again whenever the screen changes, which cost more than a
frame for each customer; this line is drawn once per screen and when its keys change."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class KeyLine(Static):
    def on_mount(self) -> None:
        self.redraw()

    def redraw(self) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        order = ("escape", "f", "ctrl")  # Esc, then the F-keys, app-wide keys last
        shown = [
            active
            for active in self.screen.active_bindings.values()
            if active.binding.show and active.enabled
        ]
        shown.sort(key=lambda a: (a.node is self.app, _rank(a.binding.key, order)))
        for active in shown:
            key = self.app.get_key_display(active.binding)
            text.append(key, style="bold reverse")
            text.append(f" {active.binding.description} ")
        self.update(text)


def _rank(key: str, order: tuple[str, ...]) -> tuple[int, int, str]:
    digits = "".join(ch for ch in key if ch.isdigit())
    first = next((i for i, start in enumerate(order) if key.startswith(start)), len(order))
    return (first, int(digits) if digits else 0, key)
