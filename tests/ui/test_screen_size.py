"""The till is laid out for 80x24: a smaller terminal says so in place of a cut-off screen,
and the screen comes back as it was once the terminal is big enough."""

from __future__ import annotations

from textual.widgets import Input

from .conftest import SIZE, Shop, shown, sign_in, until


def covered(app: object) -> bool:
    """The sentence covers the screen: on top, and the whole size of it."""
    box = app.screen.query_one("#too-small")  # type: ignore[attr-defined]
    return bool(
        box.display and box.region == app.screen.region  # type: ignore[attr-defined]
    )


async def test_below_80x24_the_screen_says_it_needs_80x24_and_comes_back_when_resized(
    shop: Shop,
) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=(70, 20)) as pilot:
        await until(pilot, lambda: covered(app))
        assert "needs a screen of at least 80x24; this one is 70x20" in shown(app)
        await pilot.resize_terminal(*SIZE)
        await until(pilot, lambda: not app.screen.query_one("#too-small").display)
        await sign_in(pilot)  # the sign-in kept its fields and focus through it
        await pilot.press(*"0612")
        await pilot.resize_terminal(80, 23)  # one row short is too small as well
        await until(pilot, lambda: covered(app))
        assert "this one is 80x23" in shown(app)
        await pilot.resize_terminal(*SIZE)
        await until(pilot, lambda: not app.screen.query_one("#too-small").display)
        field = app.focused
        assert isinstance(field, Input) and field.value == "0612"  # typing goes on where it was
