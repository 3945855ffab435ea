"""Every cashier and manager flow, through the screen, over a real till database, the
simulated printer over TCP and the simulated scanner over a pseudo-terminal."""

from __future__ import annotations

import gc
import weakref

import pytest
import zxingcpp
from conftest import config_text
from PIL import Image
from textual.strip import Strip
from textual.widgets import Input

from pos_loyalty.members import display_code
from pos_loyalty.service import MemberRef
from pos_loyalty.ui.widgets.tick_box import TickBox

from .conftest import CASHIER_PIN, MANAGER_PIN, PHONE, SIZE, Shop, paste, shown, sign_in, until


def notice(app: object) -> str:
    """The sentence under the screen: what was done or refused, and what came of it."""
    return str(app.screen.query_one("#notice").render())  # type: ignore[attr-defined]


def screen_name(app: object) -> str:
    return type(app.screen).__name__  # type: ignore[attr-defined]


async def find(pilot, text: str) -> None:  # type: ignore[no-untyped-def]
    await pilot.press(*text, "enter")
    await until(pilot, lambda: screen_name(pilot.app) == "MemberScreen")


async def at_anna(pilot) -> None:  # type: ignore[no-untyped-def]
    """Signed in as the cashier, with Anna on the member screen."""
    await sign_in(pilot)
    await find(pilot, PHONE)


async def test_sign_in_refuses_a_wrong_pin_in_one_sentence_then_signs_in(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press(*"C7", "enter", *"9999", "enter")
        await until(pilot, lambda: "PIN" in shown(app) and "!" in shown(app))
        assert screen_name(app) == "SignInScreen"
        assert app.screen.query_one("#pin", Input).value == ""  # a PIN never stays on screen
        await pilot.press(*"1357", "enter")
        await until(pilot, lambda: screen_name(app) == "LookupScreen")
        await until(pilot, lambda: "Chris  AMS-01 T1" in shown(app))


async def test_keys_typed_ahead_past_an_enter_go_to_the_next_field(shop: Shop) -> None:
    """A paste, or keys over a slow link, arrive in one read: what follows an Enter belongs
    to the field the Enter moves to, not to the one it left."""
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.focused, Input))
        paste(app, "C7", "enter", "1357", "enter")
        await until(pilot, lambda: screen_name(app) == "LookupScreen")
        # The pushed screen is on top a frame or so before its widgets are composed.
        await until(pilot, lambda: "Chris  AMS-01 T1" in shown(app))


async def test_a_whole_session_typed_ahead_signs_in_finds_and_opens_the_sale(shop: Shop) -> None:
    """Sign-in, a phone and F2 pasted at once: each key waits for what the key before it
    asked (the sign-in, the lookup), and the F2 is the member screen's sale."""
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.focused, Input))
        paste(app, "C7", "enter", "1357", "enter", "0612345678", "enter", "f2")
        # Well inside the hold's 3 s: each key went on when what it waited for was done.
        await until(pilot, lambda: screen_name(app) == "EarnScreen", timeout=2.0)
        await until(pilot, lambda: "Anna" in shown(app))


async def test_lookup_by_phone_shows_balance_tier_and_rewards(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await find(pilot, "+31 6 12345678")
        text = shown(app)
        assert "Anna" in text and "•••678" in text and "12345678" not in text
        assert "Balance 350 points: confirmed 0 (not yet by HQ), pending +350" in text
        assert "Tier Bronze" in text and "200 points to Silver" in text
        assert "Free coffee (150)" in text
        assert "earn" in text and "+300" in text  # the history


async def test_the_find_fields_cursor_rests_under_the_member_and_blinks_again_after(
    shop: Shop,
) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        field = app.screen.query_one(Input)
        assert field.cursor_blink
        await find(pilot, PHONE)
        assert not field.cursor_blink  # under the member screen it would redraw it
        await pilot.press("escape")
        await until(pilot, lambda: screen_name(app) == "LookupScreen")
        assert field.cursor_blink


async def test_an_unknown_phone_is_offered_enrolment_or_a_sale_against_it(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await pilot.press(*"0687654321", "enter")
        await until(pilot, lambda: "F2 enrols them" in shown(app))
        await pilot.press("f3")
        await until(pilot, lambda: screen_name(app) == "EarnScreen")
        await pilot.press(*"10.00")
        await until(pilot, lambda: "= 10 points" in shown(app))
        await pilot.press("enter")
        await until(pilot, lambda: screen_name(app) == "MemberScreen")
        await until(pilot, lambda: "Not enrolled" in shown(app) and "+10" in shown(app))
    assert shop.till.lookup(MemberRef(phone="0687654321")).balance == 10


async def test_a_wedge_scan_opens_the_member_from_any_field(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await pilot.press(*"06")  # the cashier had begun typing
        paste(app, display_code(shop.anna), "enter")  # a scanner types far faster than a hand
        await until(pilot, lambda: screen_name(app) == "MemberScreen")
        await until(pilot, lambda: "Anna" in shown(app))
        await until(pilot, lambda: app.scan_to_panel)  # the time from scan to panel drawn
        under = app.screen_stack[-2]
        assert under.query_one("#find", Input).value == "06"  # the code left the field


async def test_keys_after_a_wedge_scan_and_after_an_f_key_go_to_the_screens_they_open(
    shop: Shop,
) -> None:
    """A card scanned and F2 and an amount straight after: the F2 is the member screen's,
    the amount the sale screen's."""
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        paste(app, display_code(shop.anna), "enter", "f2", "12")
        await until(pilot, lambda: screen_name(app) == "EarnScreen", timeout=2.0)
        await until(pilot, lambda: app.screen.query_one("#total", Input).value == "12")
        assert screen_name(app.screen_stack[-2]) == "MemberScreen"


async def test_a_wedge_scan_in_the_middle_of_a_form_says_it_waits(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await at_anna(pilot)
        await pilot.press("f2")
        await until(pilot, lambda: screen_name(app) == "EarnScreen")
        await pilot.press(*"12")
        paste(app, display_code(shop.anna).replace("-", ""), "enter")
        await until(pilot, lambda: "A card was scanned: finish this entry" in shown(app))
        assert screen_name(app) == "EarnScreen"
        await until(pilot, lambda: app.screen.query_one("#total", Input).value == "12")


async def test_a_fast_typed_phone_is_not_taken_for_a_scan(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        paste(app, "0612345678", "enter")
        await until(pilot, lambda: screen_name(app) == "MemberScreen")
        assert not app.scan_to_panel  # found as a typed phone, not as a scan


async def test_a_serial_scan_opens_the_member_and_waits_while_a_form_is_open(shop: Shop) -> None:
    app = shop.app()
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        shop.scanner.scan(shop.anna, suffix="crlf", aim="]Q1")
        await until(pilot, lambda: screen_name(app) == "MemberScreen")
        await pilot.press("f2")
        await until(pilot, lambda: screen_name(app) == "EarnScreen")
        await pilot.press(*"12")
        await pilot.pause(2)  # past the scanner's duplicate window
        shop.scanner.scan(shop.anna, suffix="cr")
        await until(pilot, lambda: "finish this entry or press Esc" in shown(app))
        assert screen_name(app) == "EarnScreen"  # mid-entry: nothing is lost
        assert app.screen.query_one("#total", Input).value == "12"
        await pilot.press("escape")
        await until(pilot, lambda: screen_name(app) == "MemberScreen")
        bad = shop.anna[:-2] + ("0" if shop.anna[-2] != "0" else "1") + shop.anna[-1]
        shop.scanner.scan(bad, suffix="lf")  # a misread: its check fails
        await until(pilot, lambda: "!" in shown(app) and "code" in shown(app).lower())
        assert screen_name(app) == "MemberScreen"


async def test_a_sale_with_categories_previews_then_commits_and_prints(shop: Shop) -> None:
    app = shop.app()
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await find(pilot, PHONE)
        await pilot.press("f2")
        await until(pilot, lambda: screen_name(app) == "EarnScreen")
        await pilot.press(*"62.40", "tab", *"18.50", "tab", "tab", *"11.00")
        await until(pilot, lambda: "= 69 points" in shown(app))
        text = shown(app)
        assert "fresh ×2 = +18" in text
        assert shop.till.queue().last_seq == 3  # the preview wrote nothing
        await pilot.press("enter")
        await until(pilot, lambda: screen_name(app) == "MemberScreen")
        await until(pilot, lambda: "+69 points; balance 419" in shown(app))
    jobs = shop.printer.wait_for_jobs(3, timeout=10)
    assert "62.40" in jobs[-1].text and "419" in jobs[-1].text


async def test_a_sale_typed_ahead_with_its_enter_is_recorded_at_once(shop: Shop) -> None:
    """F2, the amount and Enter in one read: the Enter comes before the points of the last
    key are shown, and still records the sale (with the points a hand typing would see)."""
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await at_anna(pilot)
        paste(app, "f2", "33", "enter")
        await until(pilot, lambda: "Sale #4" in shown(app))
        assert screen_name(app) == "MemberScreen"
        assert "Sale #4 of 33.00 EUR: +33 points; balance 383." in shown(app)
        assert shop.till.queue().last_seq == 4


async def test_a_bad_amount_is_one_sentence_and_nothing_is_recorded(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await find(pilot, PHONE)
        await pilot.press("f2", *"1.234", "enter")
        await until(pilot, lambda: "too many decimals" in shown(app))
        assert screen_name(app) == "EarnScreen"
    assert shop.till.queue().last_seq == 3


async def test_redeem_then_a_refused_redeem_in_plain_words(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await find(pilot, PHONE)
        await pilot.press("f3")
        await until(pilot, lambda: screen_name(app) == "RedeemScreen")
        await until(pilot, lambda: "Free coffee" in shown(app) and "yes" in shown(app))
        await pilot.press("enter")
        await until(pilot, lambda: "Redeem Free coffee for 150 points?" in shown(app))
        assert shop.till.lookup(MemberRef(phone=PHONE)).balance == 350  # nothing spent yet
        await pilot.press("enter")
        await until(pilot, lambda: "Redeemed Free coffee (-150); balance 200" in shown(app))
        assert "Give SKU-COFFEE" in shown(app)
        await pilot.press("f3")
        await until(pilot, lambda: screen_name(app) == "RedeemScreen")
        await pilot.press("down", "enter", "enter")  # 5.00 off costs 500
        await until(pilot, lambda: "Not enough points" in shown(app))
        assert screen_name(app) == "RedeemScreen"
    assert shop.till.lookup(MemberRef(phone=PHONE)).balance == 200


async def test_over_the_offline_cap_a_manager_approves_with_pin_and_reason(
    make_shop,  # type: ignore[no-untyped-def]
) -> None:
    shop = make_shop(config_text(offline_redeem_cap=100))
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await at_anna(pilot)
        await pilot.press("f3")
        await until(pilot, lambda: "150 pts   HQ's OK or a manager" in shown(app))
        await pilot.press("enter", "f10")
        await until(pilot, lambda: screen_name(app) == "ApprovalScreen")
        await pilot.press(*"M1", "enter", *MANAGER_PIN, "enter", *"birthday", "enter")
        await until(pilot, lambda: "Redeemed Free coffee" in shown(app))
    last = shop.till.history(MemberRef(phone=PHONE), 1)[1][0]
    assert last.detail["approved_by"] == "M1"
    assert last.detail["approval_reason"] == "birthday"


async def test_a_mistyped_huge_sale_asks_a_manager_and_records_nothing_when_refused(
    make_shop,  # type: ignore[no-untyped-def]
) -> None:
    shop = make_shop(config_text(earn_manager_limit=1000))
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await at_anna(pilot)
        await pilot.press("f2")
        await until(pilot, lambda: screen_name(app) == "EarnScreen")
        await pilot.press(*"2000.00")
        await until(pilot, lambda: "Points:" in shown(app))  # the preview: nothing written
        await pilot.press("enter")
        await until(pilot, lambda: screen_name(app) == "ApprovalScreen")
        await until(
            pilot, lambda: "above the 1000-point limit for one sale; check the amount" in shown(app)
        )
        await pilot.press("escape")
        await until(pilot, lambda: "Not done: This sale would earn 2000 points" in shown(app))
        assert screen_name(app) == "EarnScreen"
    assert shop.till.queue().last_seq == 3  # nothing recorded


async def test_a_managers_own_huge_sale_takes_a_second_enter(make_shop) -> None:  # type: ignore[no-untyped-def]
    shop = make_shop(config_text(earn_manager_limit=1000))
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "M1", MANAGER_PIN)
        await find(pilot, PHONE)
        await pilot.press("f2")
        await until(pilot, lambda: screen_name(app) == "EarnScreen")
        await pilot.press(*"2000.00")
        await until(pilot, lambda: "Points:" in shown(app))
        await pilot.press("enter")
        await until(pilot, lambda: "2000 points: above the 1000-point limit" in shown(app))
        assert screen_name(app) == "EarnScreen" and shop.till.queue().last_seq == 3
        await pilot.press("enter")
        await until(pilot, lambda: screen_name(app) == "MemberScreen")
    sale = shop.till.history(MemberRef(phone=PHONE), 1)[1][0]
    assert (sale.points, sale.detail["approved_by"]) == (2000, "M1")


async def test_sell_a_membership_plan_from_the_member_screen(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await at_anna(pilot)
        assert "f7 Plan" in shown(app)
        await pilot.press("f7")
        await until(pilot, lambda: screen_name(app) == "MembershipScreen")
        await until(pilot, lambda: "Anna has no paid membership" in shown(app))
        await pilot.press("enter")
        await until(pilot, lambda: "Sell Plus (12 months, 49.00 EUR)? Take the fee" in shown(app))
        assert shop.till.lookup(MemberRef(phone=PHONE)).membership is None  # not yet
        await pilot.press("enter")
        await until(pilot, lambda: screen_name(app) == "MemberScreen")
        await until(pilot, lambda: "Sold: Plus until" in shown(app))
        await pilot.press("f7")
        await until(pilot, lambda: "Anna has Plus until" in shown(app))
        await pilot.press("enter")  # the same plan again is a renewal, and says so
        await until(pilot, lambda: "renew it for 12 months more (49.00 EUR)?" in shown(app))
    sold = shop.till.history(MemberRef(phone=PHONE), 1)[1][0]
    assert (sold.kind, sold.amount, sold.detail["membership"]["id"]) == ("membership", 4900, "plus")


async def test_a_donation_asks_then_gives_on_the_second_enter(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await find(pilot, PHONE)
        await pilot.press("f4")
        await until(pilot, lambda: screen_name(app) == "DonateScreen")
        await pilot.press(*"40", "enter")
        await until(pilot, lambda: "Donate 40 points to Amsterdam Food Bank?" in shown(app))
        assert screen_name(app) == "DonateScreen" and shop.till.queue().last_seq == 3
        await pilot.press("backspace", "5", "enter")  # another amount is asked about again
        await until(pilot, lambda: "Donate 45 points to Amsterdam Food Bank?" in shown(app))
        assert shop.till.queue().last_seq == 3  # nothing given on the first Enter
        await pilot.press("enter")
        await until(pilot, lambda: "Donated 45 points to Amsterdam Food Bank" in shown(app))
    assert shop.till.lookup(MemberRef(phone=PHONE)).balance == 305


async def test_enrol_prints_the_welcome_slip_with_the_member_qr(shop: Shop) -> None:
    app = shop.app()
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await pilot.press(*"0611112222", "enter")
        await until(pilot, lambda: "F2 enrols them" in shown(app))
        await pilot.press("f2")
        await until(pilot, lambda: screen_name(app) == "EnrolScreen")
        assert app.screen.query_one("#phone", Input).value == "0611112222"
        await pilot.press(*"Ben", "enter", "space")  # the consent box, ticked by its key
        await until(pilot, lambda: "[x]" in str(app.screen.query_one(TickBox).render()))
        await pilot.press("f10")
        await until(pilot, lambda: "Enrolled Ben: balance 50" in shown(app))
        assert "welcome slip" in shown(app)
    jobs = shop.printer.wait_for_jobs(3, timeout=10)
    assert "Welcome, Ben!" in jobs[-1].text
    view = shop.till.lookup(MemberRef(phone="0611112222"))
    assert view.name == "Ben"
    record = shop.till.journal.members.by_phone("+31611112222")
    assert record is not None and record.consent
    assert jobs[-1].png_path is not None
    codes = [r.text for r in zxingcpp.read_barcodes(Image.open(jobs[-1].png_path))]
    assert codes == [view.code]  # the card's QR scans back


async def test_refund_part_of_a_sale_with_the_manager_pin(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await pilot.press("f9")
        await until(pilot, lambda: screen_name(app) == "ApprovalScreen")
        await pilot.press(*"C7", "enter", *"1357", "enter")  # a cashier cannot approve
        await until(pilot, lambda: "not a manager" in shown(app))
        app.screen.query_one("#manager", Input).value = ""
        app.screen.query_one("#manager", Input).focus()
        await pilot.press(*"M1", "enter", *MANAGER_PIN, "enter")
        await until(pilot, lambda: screen_name(app) == "ManagerScreen")
        await pilot.press("enter")  # Refund a sale
        await until(pilot, lambda: screen_name(app) == "RefundScreen")
        await pilot.press(*"#3", "enter")
        await until(pilot, lambda: "earn T1-3 of 2026-11-25 11:00, Anna: 300.00 EUR" in shown(app))
        await pilot.press(*"100.00", "enter")  # what it takes back, shown first
        await until(
            pilot, lambda: "Refund part of the sale: 100.00 EUR, -100 points." in shown(app)
        )
        assert shop.till.lookup(MemberRef(phone=PHONE)).balance == 350
        await pilot.press("enter")
        await until(pilot, lambda: screen_name(app) == "MemberScreen")
        await until(pilot, lambda: "-100 points for Anna; balance 250" in shown(app))
    refund = shop.till.history(MemberRef(phone=PHONE), 1)[1][0]
    assert refund.kind == "reverse" and refund.detail["approved_by"] == "M1"


async def test_the_till_locks_when_idle_and_hides_the_member(make_shop) -> None:  # type: ignore[no-untyped-def]
    shop = make_shop(idle_lock_seconds=1)
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await find(pilot, PHONE)
        await until(pilot, lambda: screen_name(app) == "LockScreen", timeout=5)
        await until(pilot, lambda: "Locked." in shown(app))  # drawn, and then:
        assert "Anna" not in shown(app) and "350" not in shown(app)
        await pilot.press(*"0000", "enter")
        await until(pilot, lambda: "PIN" in shown(app) and "!" in shown(app))
        await pilot.press(*"1357", "enter")
        await until(pilot, lambda: screen_name(app) == "MemberScreen")


async def test_a_lock_ends_a_managers_approval(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await pilot.press("f9")
        await until(pilot, lambda: screen_name(app) == "ApprovalScreen")
        await pilot.press(*"M1", "enter", *MANAGER_PIN, "enter")
        await until(pilot, lambda: screen_name(app) == "ManagerScreen")
        await pilot.press(*["down"] * 4, "enter")  # Add staff or change a PIN
        await until(pilot, lambda: screen_name(app) == "StaffScreen")
        await pilot.press("f12")
        await until(pilot, lambda: screen_name(app) == "LockScreen")
        await pilot.press(*"1357", "enter")  # the cashier unlocks
        await until(pilot, lambda: screen_name(app) == "LookupScreen")
        assert [type(s).__name__ for s in app.screen_stack][-2:] == ["SignInScreen", "LookupScreen"]
        await pilot.press("f9")  # the manager's menu asks for a manager again
        await until(pilot, lambda: screen_name(app) == "ApprovalScreen")


async def test_a_lock_throws_away_a_managers_approval_being_typed(make_shop) -> None:  # type: ignore[no-untyped-def]
    shop = make_shop(config_text(earn_manager_limit=1000))
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await at_anna(pilot)
        await pilot.press("f2", *"2000.00")
        await until(pilot, lambda: "Points:" in shown(app))
        await pilot.press("enter")
        await until(pilot, lambda: screen_name(app) == "ApprovalScreen")
        await pilot.press(*"M1", "tab", *MANAGER_PIN, "tab", *"test")
        await pilot.press("f12")
        await until(pilot, lambda: screen_name(app) == "LockScreen")
        await pilot.press(*CASHIER_PIN, "enter")
        await until(pilot, lambda: screen_name(app) == "EarnScreen")
        await until(pilot, lambda: "Not done" in shown(app))
        await pilot.press("enter")  # asks a manager again, with an empty form
        await until(pilot, lambda: screen_name(app) == "ApprovalScreen")
        assert app.screen.query_one("#manager", Input).value == ""
        assert app.screen.query_one("#pin", Input).value == ""
    assert shop.till.queue().last_seq == 3  # the sale was not recorded


async def test_f12_locks_and_another_cashier_can_sign_in(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await pilot.press("f12")
        await until(pilot, lambda: screen_name(app) == "LockScreen")
        await pilot.press("f11")
        await until(pilot, lambda: screen_name(app) == "SignInScreen")
        assert app.session is None
        await sign_in(pilot, "M1", MANAGER_PIN)
        assert "Maria (mgr)" in shown(app)


async def test_the_printer_out_of_paper_mid_flow_shows_and_the_slip_waits(shop: Shop) -> None:
    app = shop.app()
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await until(pilot, lambda: "Printer ok" in shown(app), timeout=10)
        shop.printer.wait_for_jobs(2, timeout=10)
        await find(pilot, PHONE)
        shop.printer.set_fault("paper_out")
        await pilot.press("f2", *"5.00")
        await until(pilot, lambda: "= 5 points" in shown(app))
        await pilot.press("enter")
        await until(pilot, lambda: "balance 355" in shown(app))  # the sale is recorded anyway
        await until(pilot, lambda: "Printer NO PAPER" in shown(app), timeout=10)
        # Found out as the slip was tried: said after the sale's result, which stays.
        held = "Receipt waiting: printer out of paper; it prints when paper is loaded."
        await until(pilot, lambda: held in notice(app), timeout=10)
        assert "balance 355" in notice(app)
        shop.printer.set_fault(None)
        await pilot.press("f5")  # the cashier asks for the balance: both slips come out
        jobs = shop.printer.wait_for_jobs(4, timeout=15)
        assert any("5.00" in j.text for j in jobs[2:])
        await until(pilot, lambda: "Printer ok" in shown(app), timeout=10)


async def test_a_slip_for_a_printer_gone_offline_says_it_waits_until_it_is_back(
    shop: Shop,
) -> None:
    app = shop.app()
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await until(pilot, lambda: "Printer ok" in shown(app), timeout=10)
        await find(pilot, PHONE)
        shop.printer.set_fault("offline")
        await pilot.press("f5")
        held = "Receipt waiting: printer offline; it prints when the printer is on and connected"
        await until(pilot, lambda: held in notice(app), timeout=10)
        assert "Balance slip queued" in notice(app)
        await pilot.press("f5")  # known offline now: said at once with the second slip
        await until(pilot, lambda: notice(app).count("Receipt waiting") == 1)
        shop.printer.set_fault(None)
        jobs = shop.printer.wait_for_jobs(3, timeout=20)  # the shop's two, then the held one
        assert "Anna" in jobs[2].text


async def test_help_lists_the_keys(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await pilot.press("f1")
        await until(pilot, lambda: screen_name(app) == "HelpScreen")
        await until(pilot, lambda: "F12 lock" in shown(app) and "F2 sale" in shown(app))
        await pilot.press("escape")
        await until(pilot, lambda: screen_name(app) == "LookupScreen")


async def test_a_closed_screens_status_line_is_not_kept_alive(shop: Shop) -> None:
    app = shop.app(background=False)  # nothing changes the status text: no HQ, no printer
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        closed: list[weakref.ref[object]] = []
        for _ in range(5):
            await pilot.press("f1")
            await until(pilot, lambda: screen_name(app) == "HelpScreen")
            closed.append(weakref.ref(app.screen.query_one("#status")))
            await pilot.press("escape")
            await until(pilot, lambda: screen_name(app) == "LookupScreen")
        await pilot.pause()
        gc.collect()
        assert [ref() for ref in closed] == [None] * 5


async def test_cancel_a_redemption_from_the_managers_menu(shop: Shop) -> None:
    coffee = shop.till.redeem(MemberRef(phone=PHONE), reward_id="coffee")
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot, "M1", MANAGER_PIN)
        await pilot.press("f9")
        await until(pilot, lambda: screen_name(app) == "ManagerScreen")
        await pilot.press("down", "enter")  # Cancel a redemption
        await until(pilot, lambda: screen_name(app) == "RefundScreen")
        await pilot.press(*"T1-3", "enter")  # the sale: not for this screen
        await until(pilot, lambda: "That is a sale" in shown(app))
        await pilot.press("f10")
        await until(pilot, lambda: "That is a sale" in shown(app))
        app.screen.query_one("#ref", Input).value = ""
        await pilot.press(*f"T1-{coffee.event.seq}", "enter")
        await until(pilot, lambda: "Free coffee" in shown(app) and "F10 cancels it" in shown(app))
        await pilot.press("f10")
        await until(pilot, lambda: "+150 points for Anna; balance 350" in shown(app))
        await pilot.press("f9", "down", "enter")
        await until(pilot, lambda: screen_name(app) == "RefundScreen")
        await pilot.press(*f"#{coffee.event.seq}", "enter", "f10")  # twice: refused in words
        await until(pilot, lambda: "already cancelled" in shown(app))
    assert shop.till.lookup(MemberRef(phone=PHONE)).balance == 350


@pytest.mark.parametrize("pasted", [False, True], ids=["typed", "pasted"])
async def test_a_cashiers_adjustment_asks_a_manager_and_keeps_the_reason_code(
    shop: Shop, pasted: bool
) -> None:
    """Typed key by key, or pasted at once past the form's last Enter: the keys after it go
    to the manager's approval it asks for."""
    app = shop.app(background=False)
    form = ("-20", "enter", "tab", "scanned twice", "enter")
    approval = ("M1", "enter", MANAGER_PIN, "enter")
    async with app.run_test(size=SIZE) as pilot:
        await at_anna(pilot)
        await pilot.press("f6")
        await until(pilot, lambda: screen_name(app) == "AdjustScreen")
        if pasted:
            paste(app, *form, *approval)
        else:
            await pilot.press(*"-20", "enter", "tab", *"scanned twice", "enter")
            await until(pilot, lambda: screen_name(app) == "ApprovalScreen")
            await pilot.press(*"M1", "enter", *MANAGER_PIN, "enter")
        done = "Adjusted Anna by -20 (goodwill); balance 330"
        await until(pilot, lambda: done in shown(app), timeout=2.0 if pasted else 5.0)
    last = shop.till.history(MemberRef(phone=PHONE), 1)[1][0]
    assert last.kind == "adjust" and last.detail["note"] == "scanned twice"
    assert last.detail["approved_by"] == "M1"


async def test_a_locked_database_is_one_sentence_and_the_screen_keeps_answering(
    shop: Shop,
) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await find(pilot, PHONE)
        await pilot.press("f2", *"5.00")
        await until(pilot, lambda: "= 5 points" in shown(app))
        shop.till.journal.conn.execute("BEGIN IMMEDIATE")  # another process holds the write
        try:
            await pilot.press("enter")
            await pilot.pause(0.3)
            await pilot.press("0")  # the cashier's key still reaches the field at once
            assert app.screen.query_one("#total", Input).value == "5.000"
            await until(pilot, lambda: "busy" in shown(app), timeout=15)
        finally:
            shop.till.journal.conn.execute("ROLLBACK")
        assert screen_name(app) == "EarnScreen"
    assert shop.till.queue().last_seq == 3  # nothing was half-written


async def test_an_unknown_referrer_is_named_as_the_referral_field(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await pilot.press("f2")
        await until(pilot, lambda: screen_name(app) == "EnrolScreen")
        await pilot.press(*"0611112222", "enter", *"Ben", "enter", "tab", *"0611113333", "enter")
        await until(pilot, lambda: "Referred by: No member has the phone" in shown(app))
    assert shop.till.journal.members.by_phone("+31611112222") is None  # nothing enrolled


async def test_confirming_an_empty_sale_asks_for_the_amount(shop: Shop) -> None:
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await find(pilot, PHONE)
        await pilot.press("f2")
        await until(pilot, lambda: screen_name(app) == "EarnScreen")
        await pilot.press("f10")
        await until(pilot, lambda: "Type the sale's amount first" in shown(app))
        await pilot.press(*"-5", "f10")
        await until(pilot, lambda: "negative" in shown(app))  # refused, not read as 5
    assert shop.till.queue().last_seq == 3


async def test_without_colour_the_focused_field_and_each_state_are_still_shown(
    shop: Shop, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NO_COLOR", "1")
    app = shop.app(background=False)
    assert app.no_color
    async with app.run_test(size=SIZE) as pilot:
        await sign_in(pilot)
        await pilot.press("f2")
        await until(pilot, lambda: screen_name(app) == "EnrolScreen")
        await pilot.press(*"0611112222", "enter")
        labels = list(app.screen.query(".label"))
        marked = [label for label in labels if "reverse" in str(label.styles.text_style)]
        assert [str(label.render()) for label in marked] == ["Name"]  # where typing goes
        assert "[ ] agrees to offers" in shown(app)  # the box says its state in characters


def test_the_member_panel_keeps_each_line_within_80_columns_and_each_reward_whole(
    shop: Shop,
) -> None:
    from pos_loyalty.ui.present import member_lines

    name = "Maximiliana Alexandrovna Konstantinopolskaya-van der Berghe de Vries Jr III"
    till = shop.till
    till.enroll("0687654321", name=name)
    ref = MemberRef(phone="0687654321")
    till.earn(ref, amount=90000)  # enough for every reward the cap lets now
    view, _ = till.history(ref, 1)
    lines = member_lines(view, till.program, till.header.local_time)
    assert all(len(line) <= 78 for line in lines), lines
    assert lines[0].startswith(name[:36] + "…") and lines[0].endswith(display_code(view.code))
    shown_rewards = "\n".join(lines[lines.index(next(x for x in lines if "Redeem now" in x)) :])
    assert len(view.affordable) >= 2
    for reward in view.affordable:
        assert f"{reward.name} ({reward.cost})" in shown_rewards  # never broken across lines


def drawn(widget: object, row: int = 0) -> Strip:
    """Line ``row`` of ``widget`` as the screen draws it, border and all."""
    region = widget.region  # type: ignore[attr-defined]
    line = widget.screen._compositor.render_strips()[region.y + row]  # type: ignore[attr-defined]
    return line.crop(region.x, region.right)


def top_line(widget: object) -> str:
    return drawn(widget).text


async def test_without_colour_the_focused_field_and_list_differ_by_their_border(
    shop: Shop, monkeypatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("NO_COLOR", "1")
    app = shop.app(background=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: isinstance(app.focused, Input))
        staff, pin = app.screen.query_one("#staff"), app.screen.query_one("#pin")
        assert top_line(staff) != top_line(pin)  # the same fields, one focused
        assert "━" in top_line(staff) and "━" not in top_line(pin)
        await pilot.press("down")
        assert "━" in top_line(pin) and "━" not in top_line(staff)
        await pilot.press("up", *"C7", "enter", *CASHIER_PIN, "enter")
        await until(pilot, lambda: screen_name(app) == "LookupScreen")
        await find(pilot, PHONE)
        await pilot.press("f3")
        await until(pilot, lambda: screen_name(app) == "RedeemScreen")
        await until(pilot, lambda: "━" in top_line(app.screen.query_one("#rewards")))
