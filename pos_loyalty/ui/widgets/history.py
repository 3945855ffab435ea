"""The member's recent events, newest first, as fixed columns of text: a table widget that
lays its cells out again for every member costs more than a frame."""

from __future__ import annotations

from collections.abc import Iterable

from rich.text import Text
from textual.widgets import Static

Row = tuple[str, str, str, str, str]
COLUMNS = (("#", 6), ("When", 11), ("What", 14), ("Points", 6))  # then the detail


class History(Static):
    row_count = 0

    def show(self, rows: Iterable[Row]) -> None:
        rows = list(rows)
        # A number is never cut short: the points column is as wide as its widest.
        widths = [w for _, w in COLUMNS]
        widths[3] = max(widths[3], *(len(row[3]) for row in rows)) if rows else widths[3]
        text = Text(no_wrap=True, overflow="ellipsis")
        text.append(_line((*(label for label, _ in COLUMNS), "Detail"), widths), style="bold")
        for row in rows:
            text.append("\n" + _line(row, widths))
        self.row_count = len(rows)
        self.update(text, layout=False)  # its height is the screen's rest, whatever it holds


def _line(cells: tuple[str, ...], widths: list[int]) -> str:
    """Fixed columns a space apart, text cut with an ellipsis, points to the right."""
    fixed = [_cut(cells[0], widths[0]), _cut(cells[1], widths[1]), _cut(cells[2], widths[2])]
    return " ".join([*fixed, cells[3].rjust(widths[3]), cells[4]])


def _cut(cell: str, width: int) -> str:
    return (cell[: width - 1] + "…" if len(cell) > width else cell).ljust(width)
