"""The member on screen: who, balance, tier and what they can redeem, as the service saw them."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class MemberPanel(Static):
    """One line per line of text, never wrapped: as many lines as last time is the same
    size, and then the screen is only painted again, not laid out."""

    _count = -1

    def show(self, lines: list[str]) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        for i, line in enumerate(lines):
            style = "bold" if i == 0 or line.startswith("!") else ""
            text.append(line + ("\n" if i < len(lines) - 1 else ""), style=style)
        self.update(text, layout=len(lines) != self._count)
        self._count = len(lines)
