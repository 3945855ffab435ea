"""The member on screen: who, balance, tier and what they can redeem, as the service saw them."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class MemberPanel(Static):
    def show(self, lines: list[str]) -> None:
        text = Text()
        for i, line in enumerate(lines):
            style = "bold" if i == 0 or line.startswith("!") else ""
            text.append(line + ("\n" if i < len(lines) - 1 else ""), style=style)
        self.update(text)
