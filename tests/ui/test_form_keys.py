"""Keys between a form's fields: Up and Down move as Shift+Tab and Tab do, where the field has
no use for them itself, and keys typed straight after a key that moves the focus land in the
field it moves to."""

from __future__ import annotations

from textual.widgets import Input, OptionList, Select

from pos_loyalty.ui.widgets.tick_box import TickBox

from .conftest import MANAGER_PIN, PHONE, SIZE, Shop, paste, sign_in, until


def focused_id(app: object) -> str | None:
    return getattr(app.focused, "id", None)  # type: ignore[attr-defined]


async def at_member(pilot, phone: str = PHONE) -> None:  # type: ignore[no-untyped-def]
    await sign_in(pilot)
    await pilot.press(*phone, "enter")
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "MemberScreen")


async def member_form(pilot, key: str, first: str, *, member: bool = True) -> None:  # type: ignore[no-untyped-def]
    """The form that ``key`` opens (on the member screen, or else the find screen), with the
    focus in its ``first`` field."""
    await (at_member(pilot) if member else sign_in(pilot))
    await pilot.press(key)
    await until(pilot, lambda: focused_id(pilot.app) == first)


async def test_up_and_down_move_between_the_enrol_forms_fields(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await member_form(pilot, "f2", "phone", member=False)
        visited = []
        for key in ("down", "down", "down", "up", "up", "up"):
            await pilot.press(key)
            visited.append(focused_id(app))
        assert visited == ["name", "consent", "referrer", "consent", "name", "phone"]


async def test_up_and_down_move_between_the_sales_fields(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await member_form(pilot, "f2", "total")
        await pilot.press("down")
        assert str(focused_id(app)).startswith("cat-")
        await pilot.press("up")
        assert focused_id(app) == "total"


async def test_up_and_down_move_on_the_refund_and_adjust_forms_but_a_pick_list_keeps_them(
    shop: Shop,
) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "M1", MANAGER_PIN)
        await pilot.press("f9")
        await until(pilot, lambda: type(app.screen).__name__ == "ManagerScreen")
        await pilot.press("enter")  # Refund a sale
        await until(pilot, lambda: focused_id(app) == "ref")
        await pilot.press("down")
        assert focused_id(app) == "amount"
        await pilot.press("up", "escape")
        await until(pilot, lambda: type(app.screen).__name__ == "ManagerScreen")
        await pilot.press("escape")
        await pilot.press(*PHONE, "enter")
        await until(pilot, lambda: type(app.screen).__name__ == "MemberScreen")
        await pilot.press("f6")
        await until(pilot, lambda: focused_id(app) == "points")
        await pilot.press("down")
        assert focused_id(app) == "reason"
        await pilot.press("down")  # the pick list's own: it opens, the focus stays on it
        await until(pilot, lambda: app.screen.query_one("#reason", Select).expanded)


async def test_up_leaves_the_donation_amount_for_the_charity(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await member_form(pilot, "f4", "points")
        await pilot.press("up")
        assert focused_id(app) == "charity"


async def test_up_and_down_in_the_rewards_list_choose_a_reward(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await at_member(pilot)
        await pilot.press("f3")
        await until(pilot, lambda: isinstance(app.focused, OptionList))
        rewards = app.focused
        assert isinstance(rewards, OptionList)
        first = rewards.highlighted
        await pilot.press("down")
        assert app.focused is rewards and rewards.highlighted != first


async def test_sign_in_fields_take_down_too(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.focused, Input))
        await pilot.press("down")
        assert focused_id(app) == "pin"


async def test_keys_typed_after_down_land_in_the_next_field(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await member_form(pilot, "f2", "phone", member=False)
        paste(app, "0611112222", "down", "Ben")  # as fast as a paste: no pause between
        await until(pilot, lambda: app.screen.query_one("#name", Input).value == "Ben")
        assert app.screen.query_one("#phone", Input).value == "0611112222"


async def test_enter_on_the_tick_box_moves_on_and_the_keys_after_follow(shop: Shop) -> None:
    """Space ticks the box; Enter goes on to the next field, as it does from every field."""
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await member_form(pilot, "f2", "phone", member=False)
        paste(app, "0611112222", "enter", "Ben", "enter", " ", "enter", "M1")
        await until(pilot, lambda: app.screen.query_one("#referrer", Input).value == "M1")
        assert app.screen.query_one("#consent", TickBox).value  # the space ticked it
        assert app.screen.query_one("#name", Input).value == "Ben"


async def test_keys_after_an_enter_in_a_menu_go_to_the_screen_it_opens(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "M1", MANAGER_PIN)
        await pilot.press("f9")
        await until(pilot, lambda: isinstance(app.focused, OptionList))
        paste(app, "enter", "#3")  # Refund a sale, and the sale's Ref straight after
        await until(pilot, lambda: focused_id(app) == "ref")
        await until(pilot, lambda: app.screen.query_one("#ref", Input).value == "#3")


async def test_keys_after_choosing_in_a_pick_list_go_to_the_next_field(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await member_form(pilot, "f6", "points")
        paste(app, "+5", "tab", "enter", "enter", "tab", "typo")  # the first reason, then a note
        await until(pilot, lambda: app.screen.query_one("#note", Input).value == "typo")
        assert app.screen.query_one("#points", Input).value == "+5"
