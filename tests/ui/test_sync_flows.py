"""The screen with HQ: end of day with HQ up and with HQ down, and a sync that changes the
member on screen. HQ is the real app on loopback (SQLite and PostgreSQL)."""

from __future__ import annotations

import re
import socket
from collections.abc import Callable

import pytest
from hq.conftest import sync
from textual.widgets import Static

from pos_loyalty.service import MemberRef, Till
from pos_loyalty.ui.app import TillApp
from sync.daemon import TOKEN_ENV

from .conftest import MANAGER_PIN, PHONE, SIZE, paste, shown, sign_in, staff, until

MakeTill = Callable[..., tuple[Till, str]]


def screen_name(app: TillApp) -> str:
    return type(app.screen).__name__


async def end_of_day(pilot, app: TillApp) -> str:  # type: ignore[no-untyped-def]
    """Sign in as the manager and run end of day from the menu; the report on screen."""
    await sign_in(pilot, "M1", MANAGER_PIN)
    await pilot.press("f9")
    await until(pilot, lambda: screen_name(app) == "ManagerScreen")
    await pilot.press("end", "enter")  # End of day, the last action
    await until(pilot, lambda: screen_name(app) == "EndOfDayScreen")
    report = app.screen.query_one("#report", Static)
    await until(pilot, lambda: str(report.render()).strip(), timeout=20)
    return shown(app)


async def test_end_of_day_with_hq_up_sends_everything_and_shows_the_report(
    make_synced_till: MakeTill, monkeypatch: pytest.MonkeyPatch
) -> None:
    till, token = make_synced_till()
    monkeypatch.setenv(TOKEN_ENV, token)
    staff(till)
    till.enroll(PHONE, name="Anna")
    till.earn(MemberRef(phone=PHONE), amount=4200)
    assert till.source is not None
    app = TillApp(till.source, clock=till.clock, background=False)
    async with app.run_test(size=SIZE) as pilot:
        text = await end_of_day(pilot, app)
        assert "Everything is at HQ" in text
        assert "Saved as" in text
        assert re.search(r"\nSales +42\.00 EUR\n", text) and re.search(r"HQ holds +#3 ", text)
        report = str(app.screen.query_one("#report", Static).render())
        assert max(len(line) for line in report.splitlines()) <= 48  # as on 80 mm paper
        assert "ALL SYNCED: HQ HOLDS EVERY EVENT" in text
    assert till.queue().unsynced == 0


async def test_end_of_day_with_hq_down_says_what_waits(
    make_synced_till: MakeTill, monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nobody listens on: HQ is down
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    till, token = make_synced_till(url=f"http://127.0.0.1:{port}", timeout=0.5)
    monkeypatch.setenv(TOKEN_ENV, token)
    staff(till)
    till.enroll(PHONE, name="Anna")
    assert till.source is not None
    app = TillApp(till.source, clock=till.clock, background=False)
    app.eod_deadline = 1.5
    async with app.run_test(size=SIZE) as pilot:
        text = await end_of_day(pilot, app)
        assert "NOT everything is at HQ" in text
        assert screen_name(app) == "EndOfDayScreen"  # no traceback, the report is there
    assert till.queue().unsynced > 0


async def test_a_sync_changes_the_member_on_screen(
    make_synced_till: MakeTill, monkeypatch: pytest.MonkeyPatch
) -> None:
    one, token_one = make_synced_till("T1")
    two, token_two = make_synced_till("T2")
    staff(one)
    anna = one.enroll(PHONE, name="Anna")
    sync(one, token_one)
    sync(two, token_two)
    assert one.source is not None
    app = TillApp(one.source, clock=one.clock, background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await pilot.press(*PHONE, "enter")
        await until(pilot, lambda: screen_name(app) == "MemberScreen")
        await until(pilot, lambda: "Balance 50 points" in shown(app))
        two.earn(MemberRef(code=anna.member.code), amount=10000)  # at the other till
        sync(two, token_two)
        sync(one, token_one)  # another connection to T1's journal: HQ's word arrives
        await until(pilot, lambda: "Balance 150 points: confirmed 150" in shown(app))


async def test_a_key_typed_ahead_past_a_slow_lookup_acts_on_the_member_it_opens(
    make_synced_till: MakeTill, monkeypatch: pytest.MonkeyPatch
) -> None:
    """F2 pasted right after a phone's Enter is the member screen's F2 (a sale), not the
    find screen's (enrol), while the till asks HQ for a phone only another till knows."""
    from sync.fault_proxy import FaultProxy

    other, other_token = make_synced_till("T2")
    other.enroll(PHONE, name="Anna")
    sync(other, other_token)  # HQ knows Anna; this till does not
    till, token = make_synced_till()
    monkeypatch.setenv(TOKEN_ENV, token)
    staff(till)
    sync(till, token)  # online: the till asks HQ for a member it has not seen
    assert till.source is not None
    hq_url = till.source.config.hq.url
    host, port = hq_url.removeprefix("http://").split(":")
    with FaultProxy((host, int(port))) as slow:
        slow.inject("delay", times=5, seconds=0.3)  # HQ answers, but not at once
        text = till.source.path.read_text().replace(hq_url, slow.url)
        till.source.path.write_text(text)
        from pos_loyalty import config as config_mod

        app = TillApp(config_mod.load(str(till.source.path)), clock=till.clock, background=False)
        async with app.run_test(size=SIZE) as pilot:
            await sign_in(pilot)
            paste(app, PHONE.replace(" ", ""), "enter", "f2")
            await until(pilot, lambda: screen_name(app) == "EarnScreen" and "Anna" in shown(app))
            assert type(app.screen_stack[-2]).__name__ == "MemberScreen"
