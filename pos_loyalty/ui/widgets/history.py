"""The member's recent events, newest first, as fixed columns of text: a table widget that
lays its cells out again for every member costs more than a frame."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import Static

Row = tuple[str, str, str, str, str]
COLUMNS = (("#", 6), ("When", 12), ("What", 14), ("Points", 7))  # then the detail


class History(Static):
    row_count = 0

    def show(self, rows: Iterable[Row]) -> None:
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(_line((*(label for label, _ in COLUMNS), "Detail")), style="bold")
        count = 0
        for row in rows:
            text.append("\n" + _line(row))
            count += 1
        self.row_count = count
        self.update(text, layout=False)  # its height is the screen's rest, whatever it holds


def _line(cells: tuple[str, ...]) -> str:
    fixed = "".join(
        cell.ljust(width)[:width] for cell, (_, width) in zip(cells, COLUMNS, strict=False)
    )
    return fixed + cells[-1]
