"""The member's recent events, newest first."""

from __future__ import annotations

from collections.abc import Iterable

from textual.widgets import DataTable


class History(DataTable[str]):
    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.add_columns("#", "When", "What", "Points", "Detail")

    def show(self, rows: Iterable[tuple[str, str, str, str, str]]) -> None:
        self.clear()
        for row in rows:
            self.add_row(*row)
