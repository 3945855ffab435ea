"""What a terminal smaller than the till's screen shows in place of it: the forms and the
member panel are laid out for 80x24, and cut short they would hide what the cashier needs."""

from __future__ import annotations

from textual.widgets import Static

MIN_SIZE = (80, 24)  # columns, rows


def too_small(width: int, height: int) -> bool:
    return width < MIN_SIZE[0] or height < MIN_SIZE[1]


class TooSmall(Static):
    """Shown over the screen (``till.tcss``) while the app has the class ``-too-small``."""

    def render(self) -> str:
        width, height = self.app.size
        need_w, need_h = MIN_SIZE
        return (
            f"The till needs a screen of at least {need_w}x{need_h}; this one is "
            f"{width}x{height}. Make the window bigger."
        )
