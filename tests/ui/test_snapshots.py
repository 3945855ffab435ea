"""The main screens at 80x24 as the cashier sees them, compared with the stored snapshots
(`pytest --snapshot-update` rewrites them after a deliberate change). Member ids, the clock
and the program are fixed, and the cursor does not blink, so a snapshot changes only when
the screen does."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from pos_loyalty import service
from pos_loyalty.ui.app import TillApp

from .conftest import MANAGER_PIN, PHONE, SIZE, Shop, sign_in, until

Compare = Callable[..., bool]


@pytest.fixture(autouse=True)
def fixed_member_ids(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    ids = (f"{n:016d}".replace("0", "A") for n in itertools.count(1))
    monkeypatch.setattr(service, "new_member_id", lambda: next(ids))
    yield


@pytest.fixture
def app(make_shop: Callable[..., Shop]) -> TillApp:
    shop = make_shop()
    app = shop.app(background=False)
    app.intro = ("Demo PINs: cashier C7 1357, manager M1 2468", f"Try the phone {PHONE}")
    return app


def steady(action: Callable[[Pilot[object]], object] | None = None) -> Callable[..., object]:
    """Run ``action`` in the app, then stop every cursor from blinking."""

    async def run(pilot: Pilot[object]) -> None:
        if action is not None:
            await action(pilot)  # type: ignore[misc]
        for field in pilot.app.screen.query(Input):
            field.cursor_blink = False
        await pilot.pause(0.2)

    return run


async def _member(pilot: Pilot[object]) -> None:
    await sign_in(pilot)
    await pilot.press(*PHONE, "enter")
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "MemberScreen")


async def _earn(pilot: Pilot[object]) -> None:
    await _member(pilot)
    await pilot.press("f2", *"62.40", "tab", *"18.50")
    await until(pilot, lambda: "points" in str(pilot.app.screen.query_one("#preview").render()))


async def _redeem(pilot: Pilot[object]) -> None:
    await _member(pilot)
    await pilot.press("f3")
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "RedeemScreen")


async def _manager(pilot: Pilot[object]) -> None:
    await sign_in(pilot, "M1", MANAGER_PIN)
    await pilot.press("f9")
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "ManagerScreen")


async def _lock(pilot: Pilot[object]) -> None:
    await _member(pilot)
    await pilot.press("f12")
    await until(pilot, lambda: type(pilot.app.screen).__name__ == "LockScreen")


@pytest.mark.parametrize(
    "action",
    [None, sign_in, _member, _earn, _redeem, _manager, _lock],
    ids=["sign-in", "lookup", "member", "sale", "redeem", "manager", "locked"],
)
def test_screen(snap_compare: Compare, app: TillApp, action: object) -> None:
    assert snap_compare(app, terminal_size=SIZE, run_before=steady(action))  # type: ignore[arg-type]
