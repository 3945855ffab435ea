"""The till's stories through the service layer, on a real journal file."""

from __future__ import annotations

import pytest
from conftest import config_text
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pos_loyalty.errors import (
    AlreadyMember,
    AlreadyReversed,
    BadInput,
    InsufficientPoints,
    NeedsManager,
    NotAllowed,
    OfflineCapExceeded,
    UnknownMember,
)
from pos_loyalty.journal import verify_chain
from pos_loyalty.rules.earn import BasketLine
from pos_loyalty.service import MemberRef

ANNA = MemberRef(phone="0612345678")
NO_BONUS = {"welcome_bonus": 0, "referral_bonus_referrer": 0, "referral_bonus_referee": 0}


def manager(till):
    till.add_staff("M1", name="Maria", role="manager", pin="2468")
    return till.sign_in("M1", "2468", manager=True)


def nothing_written(till, before: int) -> bool:
    return till.journal.events.last_seq() == before


def test_enrol_gives_welcome_bonus_and_a_checked_member_code(till):
    result = till.enroll("06-12 34 56 78", name="  Anna   de Vries ", consent=True)
    member = result.member
    assert (member.name, member.phone, member.balance) == ("Anna de Vries", "+31612345678", 50)
    assert result.lines[-1] == "Welcome bonus = +50"
    assert till.lookup(MemberRef(code=member.code)).member_id == member.member_id
    assert till.lookup(MemberRef(phone="+31 6 12345678")).member_id == member.member_id


def test_enrol_refuses_a_phone_that_is_already_a_member(till):
    till.enroll("0612345678")
    before = till.journal.events.last_seq()
    with pytest.raises(AlreadyMember, match=r"Already a member: •+678, code M1-"):
        till.enroll("+31612345678", name="Someone else")
    assert nothing_written(till, before)


def test_referral_pays_both_members_once(till):
    anna = till.enroll("0612345678").member
    bob = till.enroll("0687654321", referrer=MemberRef(code=anna.code))
    assert bob.member.balance == 50 + 50
    assert till.lookup(ANNA).balance == 50 + 100
    kinds = [e.kind for e in bob.also]
    assert kinds == ["welcome_bonus", "referral_bonus", "referral_bonus"]


def test_unknown_member_is_refused_with_a_sentence(till):
    with pytest.raises(UnknownMember, match=r"No member has the phone number •+999\."):
        till.lookup(MemberRef(phone="0612345999"))


def test_offline_earn_for_an_unseen_phone_is_kept_and_joins_the_member_on_enrolment(make_till):
    till = make_till(**NO_BONUS)
    sale = till.earn(MemberRef(phone="0611111111"), amount=2000)
    assert (sale.event.member_id, sale.event.phone, sale.event.points) == (None, "+31611111111", 20)
    assert sale.member.known is False
    joined = till.enroll("+31 6 11111111", name="Carla")
    assert joined.member.balance == 20


def test_earn_by_scanned_code_of_a_member_the_till_has_not_seen(make_till):
    from pos_loyalty.members import member_code, new_member_id

    till = make_till(**NO_BONUS)
    code = member_code(new_member_id())
    result = till.earn(MemberRef(code=code), amount=1500)
    assert result.member.balance == 15
    assert result.event.member_id == code[2:-1]
    assert till.lookup(MemberRef(code=code)).balance == 15


def test_refund_in_parts_reverses_exactly_what_was_earned_even_after_rules_change(make_till):
    till = make_till(**NO_BONUS)
    till.enroll("0612345678")
    sale = till.earn(ANNA, amount=2480, lines=[BasketLine("fresh", 1000)])
    assert sale.event.points == 24 + 10
    till.close()
    till = make_till(points_per_unit=5, **NO_BONUS)  # new rules: 5 points per euro
    before = till.journal.events.last_seq()
    assert till.preview_reverse(sale.event.event_id, amount=1000) == (-14, 1000)
    assert nothing_written(till, before)  # the manager sees it before giving it
    first = till.reverse(sale.event.event_id, amount=1000)  # 34 × 10.00/24.80 = 13.7 → 14
    assert first.event.points == -14
    assert till.preview_reverse(f"#{sale.event.seq}") == (-20, 1480)
    second = till.reverse(f"#{sale.event.seq}")  # the rest
    assert second.event.points == -20
    assert second.member.balance == 0
    before = till.journal.events.last_seq()
    with pytest.raises(AlreadyReversed):
        till.reverse(sale.event.event_id, amount=100)
    assert nothing_written(till, before)


def test_refund_of_spent_points_leaves_a_negative_balance_for_hq_to_flag(make_till):
    till = make_till(**NO_BONUS)
    till.enroll("0612345678")
    sale = till.earn(ANNA, amount=20000)
    till.redeem(ANNA, reward_id="coffee")
    refund = till.reverse(sale.event.event_id, approval=manager(till))
    assert refund.member.balance == 200 - 150 - 200


def test_redeem_spends_soonest_expiring_lots_and_cancel_restores_the_same_lots(make_till, clock):
    till = make_till(lot_expiry_months=12, **NO_BONUS)
    till.enroll("0612345678")
    old = till.earn(ANNA, amount=10000).event
    clock.advance(days=40)
    new = till.earn(ANNA, amount=10000).event
    spent = till.redeem(ANNA, reward_id="coffee")
    assert [(d["lot_id"], d["points"]) for d in spent.event.detail["draws"]] == [
        (old.event_id, 100),
        (new.event_id, 50),
    ]
    cancel = till.reverse(spent.event.event_id)
    assert cancel.event.detail["restores"] == spent.event.detail["draws"]
    assert cancel.member.balance == 200
    with pytest.raises(AlreadyReversed, match="already cancelled"):
        till.reverse(spent.event.event_id)


def test_points_pending_for_n_days_cannot_be_spent_yet(make_till, clock):
    till = make_till(pending_days=3, **NO_BONUS)
    till.enroll("0612345678")
    till.earn(ANNA, amount=20000)
    view = till.lookup(ANNA)
    assert (view.balance, view.spendable, view.held) == (200, 0, 200)
    before = till.journal.events.last_seq()
    with pytest.raises(InsufficientPoints, match="200 more become spendable from 2026-11-28"):
        till.redeem(ANNA, reward_id="coffee")
    assert nothing_written(till, before)
    clock.advance(days=3)
    assert till.redeem(ANNA, reward_id="coffee").member.balance == 50


def test_redeem_beyond_balance_refused_in_plain_words(till):
    till.enroll("0612345678")
    with pytest.raises(InsufficientPoints, match="Free coffee needs 150, only 50 can be spent now"):
        till.redeem(ANNA, reward_id="coffee")


def test_redeem_offline_beyond_cap_needs_manager(make_till):
    till = make_till(offline_redeem_cap=200, **NO_BONUS)
    till.enroll("0612345678")
    till.earn(ANNA, amount=100000)
    till.redeem(ANNA, reward_id="coffee")
    before = till.journal.events.last_seq()
    with pytest.raises(OfflineCapExceeded, match="Only 50 more points"):
        till.redeem(ANNA, reward_id="coffee")
    assert nothing_written(till, before)
    approved = till.redeem(ANNA, reward_id="coffee", approval=manager(till))
    assert approved.event.detail["approved_by"] == "M1"


def test_too_many_transactions_a_day_flags_the_member_and_needs_a_manager(make_till, clock):
    till = make_till(velocity_max_per_day=2, **NO_BONUS)
    till.enroll("0612345678")
    till.earn(ANNA, amount=100)
    till.earn(ANNA, amount=100)
    assert till.lookup(ANNA).flags == ("velocity",)
    with pytest.raises(NeedsManager, match="already has 2 loyalty transactions today"):
        till.earn(ANNA, amount=100)
    third = till.earn(ANNA, amount=100, approval=manager(till))
    assert third.event.detail["flags"] == ["velocity"]
    clock.advance(days=1)
    till.earn(ANNA, amount=100)  # a new day in the store's time zone


def test_a_sale_far_above_the_usual_needs_a_manager_and_writes_nothing_until(make_till):
    till = make_till(earn_manager_limit=1000, **NO_BONUS)
    till.enroll("0612345678")
    assert till.earn(ANNA, amount=100000).event.points == 1000  # at the limit: a sale
    before = till.journal.events.last_seq()
    with pytest.raises(NeedsManager, match="would earn 12500 points, above the 1000-point limit"):
        till.earn(ANNA, amount=1000000)  # 10,000.00 typed for 100.00 (Silver now: ×1.25)
    assert nothing_written(till, before)
    approved = till.earn(ANNA, amount=1000000, approval=manager(till), reason="a TV")
    assert approved.event.points == 12500
    assert approved.event.detail["approved_by"] == "M1"
    assert approved.event.detail["approval_reason"] == "a TV"


def test_large_reversal_needs_a_manager(make_till):
    till = make_till(reversal_manager_limit=100, **NO_BONUS)
    till.enroll("0612345678")
    sale = till.earn(ANNA, amount=50000)
    with pytest.raises(NeedsManager, match="above the 100-point limit"):
        till.reverse(sale.event.event_id)
    assert till.reverse(sale.event.event_id, amount=5000).event.points == -50
    assert till.reverse(sale.event.event_id, amount=5000).event.points == -50
    with pytest.raises(NeedsManager, match="Reversing 150 points of this sale in all"):
        till.reverse(sale.event.event_id, amount=5000)  # slices add up


def test_only_sales_and_redemptions_can_be_reversed(till):
    enrolled = till.enroll("0612345678")
    with pytest.raises(NotAllowed):
        till.reverse(enrolled.event.event_id)


def test_manager_adjustment_with_reason_code(till):
    till.enroll("0612345678")
    with pytest.raises(NeedsManager):
        till.adjust(ANNA, points=10, reason="goodwill", approval=None)
    boss = manager(till)
    with pytest.raises(BadInput, match="not a reason code"):
        till.adjust(ANNA, points=10, reason="because", approval=boss)
    with pytest.raises(InsufficientPoints, match="Cannot remove 80 points: the balance is 50"):
        till.adjust(ANNA, points=-80, reason="correction", approval=boss)
    assert till.adjust(ANNA, points=-20, reason="correction", approval=boss).member.balance == 30


def test_a_till_with_no_staff_says_how_to_add_the_first(till):
    with pytest.raises(NotAllowed, match="No staff are set up on this till yet: add a manager"):
        till.sign_in("M1", "2468")
    till.add_staff("M1", name="Maria", role="manager", pin="2468")
    with pytest.raises(NotAllowed, match="Staff C7 and that PIN do not match"):
        till.sign_in("C7", "1357")  # with staff, an unknown id is a wrong PIN as ever


def test_cashier_pin_is_hashed_and_is_not_a_manager(till):
    till.add_staff("C7", name="Chris", role="cashier", pin="1357", approval=manager(till))
    stored = till.journal.staff.get("C7").pin_hash
    assert "1357" not in stored and stored.startswith("scrypt$")
    with pytest.raises(NotAllowed, match="Staff C7 and that PIN do not match"):
        till.sign_in("C7", "0000")
    with pytest.raises(NotAllowed, match="Chris is not a manager"):
        till.sign_in("C7", "1357", manager=True)


def test_paid_membership_doubles_points_until_it_ends(make_till, clock):
    till = make_till(**NO_BONUS)
    till.enroll("0612345678")
    bought = till.buy_membership(ANNA, plan_id="plus")
    assert bought.event.amount == 4900 and bought.member.membership.id == "plus"
    assert till.earn(ANNA, amount=1000).event.points == 20
    clock.advance(days=366)
    assert till.earn(ANNA, amount=1000).event.points == 10


def test_donation_to_a_charity(till):
    till.enroll("0612345678")
    gift = till.donate(ANNA, charity_id="foodbank", points=30)
    assert gift.event.kind == "donate" and gift.member.balance == 20
    assert gift.to_json()["charity"] == {"id": "foodbank", "name": "Amsterdam Food Bank"}


def test_tier_follows_qualifying_points_over_the_rolling_window(make_till, clock):
    till = make_till(**NO_BONUS)
    till.enroll("0612345678")
    till.earn(ANNA, amount=60000)
    view = till.lookup(ANNA)
    assert (view.tier.tier.name, view.tier.text) == ("Silver", "1400 points to Gold")
    assert till.earn(ANNA, amount=1000).event.points == 12  # Silver ×1.25: 10 + 2 (floor)
    clock.advance(days=366)
    assert till.lookup(ANNA).tier.tier.name == "Bronze"


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ops=st.lists(
        st.tuples(
            st.sampled_from(["earn", "redeem", "refund", "cancel", "donate"]), st.integers(1, 40000)
        ),
        max_size=15,
    )
)
def test_property_shown_balance_is_the_sum_of_the_members_journal(make_till, ops):
    till = make_till(velocity_max_per_day=0, offline_redeem_cap=10**6, reversal_manager_limit=10**6)
    member = till.enroll("0612345678").member
    for op, n in ops:
        try:
            if op == "earn":
                till.earn(ANNA, amount=n)
            elif op == "redeem":
                till.redeem(ANNA, points=n % 500 + 1)
            elif op == "donate":
                till.donate(ANNA, charity_id="foodbank", points=n % 300 + 1)
            else:
                kind = "earn" if op == "refund" else "redeem"
                rows = till.journal.conn.execute(
                    "SELECT event_id FROM events WHERE kind = ?", (kind,)
                ).fetchall()
                if rows:
                    till.reverse(
                        rows[n % len(rows)][0], amount=n % 5000 + 1 if op == "refund" else None
                    )
        except (InsufficientPoints, AlreadyReversed, BadInput):
            pass
    total = till.journal.conn.execute(
        "SELECT sum(points) FROM events WHERE member_id = ?", (member.member_id,)
    ).fetchone()[0]
    view = till.lookup(ANNA)
    assert view.balance == total
    account = till.account(ANNA)
    assert all(lot.remaining >= 0 for lot in account.lots)
    assert account.balance == sum(lot.remaining for lot in account.lots) - account.deficit == total
    assert verify_chain(till.journal).ok
    till.close()
    for suffix in ("", "-wal", "-shm"):
        till.journal.path.with_name(till.journal.path.name + suffix).unlink(missing_ok=True)


def hq_confirms(till, member_id: str, balance: int, lots=(), tier=None, qualifying=0) -> None:
    """What the sync will do: record HQ's word on a member, including everything so far."""
    from pos_loyalty.rules.account import Ledger
    from pos_loyalty.rules.lots import Lot

    earned = "2026-01-01T00:00:00.000Z"
    held = [Lot(lot_id, pts, pts, earned, expires) for lot_id, pts, expires in lots]
    gap = balance - sum(lot.points for lot in held)
    if gap > 0:  # HQ's word as a bare balance: one lot of its own
        held.append(Lot(f"hq:{member_id}", gap, gap, earned))
    ledger = Ledger(
        lots=tuple(held),
        deficit=max(0, -gap),
        qualifying_days=(("2026-11-25", qualifying),) if qualifying else (),
        granted_tier=tier,
    )
    journal = till.journal
    with journal.writing():
        record = journal.members.get(member_id)
        version = (record.hq_version or 0) + 1
        journal.members.record_hq_word(
            member_id,
            ledger,
            version=version,
            at="2026-11-25T09:00:00.000Z",
            through_seq=journal.events.last_seq(),
        )


def test_balance_is_hqs_confirmed_word_plus_this_tills_later_events(make_till):
    till = make_till(**NO_BONUS)
    member = till.enroll("0612345678").member
    till.earn(ANNA, amount=1000)
    hq_confirms(
        till,
        member.member_id,
        400,
        lots=[("hq-1", 250, "2027-03-01T00:00:00.000Z"), ("hq-2", 150, "2026-12-31T00:00:00.000Z")],
    )
    view = till.lookup(ANNA)
    assert (view.confirmed, view.pending, view.balance) == (400, 0, 400)
    spent = till.redeem(ANNA, reward_id="coffee")
    assert [(d["lot_id"], d["points"]) for d in spent.event.detail["draws"]] == [("hq-2", 150)]
    assert (spent.member.confirmed, spent.member.pending, spent.member.balance) == (400, -150, 250)


def test_a_bare_confirmed_balance_can_be_spent(make_till):
    till = make_till(**NO_BONUS)
    member = till.enroll("0612345678").member
    hq_confirms(till, member.member_id, 200)
    assert till.redeem(ANNA, reward_id="coffee").member.balance == 50


def test_tier_granted_by_hq_sets_the_multiplier(make_till):
    till = make_till(**NO_BONUS)
    member = till.enroll("0612345678").member
    hq_confirms(till, member.member_id, 0, tier="Gold")
    assert till.lookup(ANNA).tier.tier.name == "Gold"
    assert till.earn(ANNA, amount=1000).event.points == 15  # 10 × 1.5


def test_a_retried_request_returns_the_first_result_and_writes_nothing(make_till):
    till = make_till(**NO_BONUS)
    till.enroll("0612345678", request_id="pos-1")
    first = till.earn(ANNA, amount=1000, request_id="pos-2")
    before = till.journal.events.last_seq()
    again = till.earn(ANNA, amount=1000, request_id="pos-2")  # the answer was lost; retried
    assert till.journal.events.last_seq() == before
    assert (again.event.event_id, again.replayed, again.member.balance) == (
        first.event.event_id,
        True,
        10,
    )
    assert again.to_json()["replayed"] is True
    with pytest.raises(
        BadInput, match=r"Request id pos-2 was already used for another command \(earn\)"
    ):
        till.redeem(ANNA, points=5, request_id="pos-2")
    with pytest.raises(BadInput, match="A request id is 1 to 64"):
        till.earn(ANNA, amount=1000, request_id="no spaces please")
    with pytest.raises(BadInput, match=r"pos-2 was already used for #2, with other figures"):
        till.earn(ANNA, amount=400, request_id="pos-2")  # the host's bug: said, not replayed
    spent = till.redeem(ANNA, points=5, request_id="pos-3")
    assert till.redeem(ANNA, points=5, request_id="pos-3").event.event_id == spent.event.event_id
    with pytest.raises(BadInput, match="with other figures"):
        till.redeem(ANNA, points=6, request_id="pos-3")
    assert till.journal.events.last_seq() == before + 1
    till.enroll("0687654321")
    with pytest.raises(BadInput, match=r"pos-2 was already used for #2, for another member"):
        till.earn(MemberRef(phone="0687654321"), amount=1000, request_id="pos-2")


def test_a_retried_enrolment_answers_with_the_bonuses_it_gave(make_till):
    till = make_till(welcome_bonus=50, referral_bonus_referee=20, referral_bonus_referrer=30)
    anna = till.enroll("0612345678")
    first = till.enroll("0687654321", referrer=ANNA, request_id="pos-9")
    before = till.journal.events.last_seq()
    again = till.enroll("0687654321", referrer=ANNA, request_id="pos-9")
    assert till.journal.events.last_seq() == before
    assert again.replayed and again.lines == first.lines
    assert [e.event_id for e in again.also] == [e.event_id for e in first.also]
    assert again.to_json()["points"] == first.to_json()["points"] == 70
    assert again.member.balance == 70
    assert till.lookup(ANNA).balance == anna.member.balance + 30


def test_amounts_and_points_from_code_are_checked_like_typed_ones(till):
    from pos_loyalty.errors import BadAmount

    till.enroll("0612345678")
    for bad in (0, -500, 12.5, True, 10**15):
        with pytest.raises(BadAmount):
            till.earn(ANNA, amount=bad)
    with pytest.raises(BadAmount):
        till.earn(ANNA, lines=[BasketLine("fresh", 3.3)])
    with pytest.raises(BadInput):
        till.redeem(ANNA, points=1.5)
    assert till.journal.events.last_seq() == 2


def test_offline_cap_counts_spends_until_hq_confirms_them_not_when_it_acknowledges(make_till):
    till = make_till(offline_redeem_cap=200, **NO_BONUS)
    till.enroll("0612345678")
    till.earn(ANNA, amount=100000)
    till.redeem(ANNA, points=200)
    with till.journal.writing():  # HQ acknowledged the push, but the member was not refreshed
        till.journal.conn.execute("UPDATE outbox SET acked_seq = (SELECT max(seq) FROM events)")
    with pytest.raises(OfflineCapExceeded):
        till.redeem(ANNA, points=50)


def test_a_different_plan_cannot_be_stacked_on_an_active_membership(make_till):
    text = config_text(**NO_BONUS) + (
        '\n[[program.memberships]]\nid = "basic"\nname = "Basic"\nfee = "5.00"\nmonths = 12\n'
    )
    till = make_till(text)
    till.enroll("0612345678")
    till.buy_membership(ANNA, plan_id="basic")
    with pytest.raises(NotAllowed, match="has Basic until .*; Plus can be bought when it ends"):
        till.buy_membership(ANNA, plan_id="plus")
    renewed = till.buy_membership(ANNA, plan_id="basic")  # the same plan extends
    assert renewed.member.membership_until.startswith("2028-11-25")


def test_refunding_a_sale_from_before_the_tier_window_leaves_qualifying_alone(make_till, clock):
    till = make_till(**NO_BONUS)
    till.enroll("0612345678")
    sale = till.earn(ANNA, amount=60000)
    clock.advance(days=366)
    refund = till.reverse(sale.event.event_id, approval=manager(till))
    assert (refund.member.tier.qualifying, refund.member.tier.text) == (0, "500 points to Silver")


def test_z_report_counts_offline_phone_points_once_after_hq_confirms_them(make_till):
    till = make_till(**NO_BONUS)
    till.earn(MemberRef(phone="0611111111"), amount=10000)  # unseen phone: 100 points
    assert till.z_report()[0].liability_points == 100
    member = till.enroll("0611111111").member
    hq_confirms(till, member.member_id, 100)
    report, _ = till.z_report()
    assert (report.liability_points, till.lookup(MemberRef(phone="0611111111")).balance) == (
        100,
        100,
    )


def test_z_report_keeps_rewards_and_donations_apart(make_till):
    till = make_till(**NO_BONUS)
    till.enroll("0612345678")
    till.earn(ANNA, amount=50000)
    till.redeem(ANNA, points=120)
    till.donate(ANNA, charity_id="foodbank", points=30)
    report, _ = till.z_report()
    assert (report.earned, report.redeemed, report.donated, report.net) == (500, 120, 30, 350)


def test_only_a_manager_can_add_staff_or_reset_a_pin(till):
    with pytest.raises(NeedsManager):
        till.add_staff("C7", name="Chris", role="cashier", pin="1357")  # no manager yet
    boss = manager(till)  # the very first manager needs no approval
    with pytest.raises(NeedsManager, match="needs a manager's approval"):
        till.add_staff("M1", name="Mallory", role="manager", pin="0000")  # a takeover
    assert till.sign_in("M1", "2468", manager=True).name == "Maria"
    till.add_staff("M1", name="Maria", role="manager", pin="9753", approval=boss)
    assert till.sign_in("M1", "9753", manager=True).staff_id == "M1"


def test_five_wrong_pins_lock_the_staff_id_for_five_minutes(till, clock):
    manager(till)
    for _ in range(5):
        with pytest.raises(NotAllowed, match="do not match"):
            till.sign_in("M1", "0000")
    with pytest.raises(NotAllowed, match="Too many wrong PINs: staff M1 is locked until 11:05"):
        till.sign_in("M1", "2468")  # even the right PIN waits
    clock.advance(minutes=5)
    assert till.sign_in("M1", "2468").staff_id == "M1"
    with pytest.raises(NotAllowed, match="do not match"):
        till.sign_in("M1", "0000")  # the count started again after the right PIN


def test_can_redeem_now_and_affordable_rewards_stay_within_the_offline_cap(make_till):
    till = make_till(offline_redeem_cap=200, **NO_BONUS)
    till.enroll("0612345678")
    till.earn(ANNA, amount=100000)
    view = till.lookup(ANNA)
    assert (view.spendable, view.can_redeem_now) == (1000, 200)
    assert "coffee" in [r.id for r in view.affordable]
    after = till.redeem(ANNA, reward_id="coffee").member
    assert (after.spendable, after.can_redeem_now, after.offline_cap_room) == (850, 50, 50)
    assert after.affordable == ()  # nothing in the catalogue costs 50 or less
    assert after.to_json()["affordable_rewards"] == [] and after.to_json()["can_redeem_now"] == 50


def test_a_refund_of_points_already_spent_says_the_member_owes_them(make_till):
    till = make_till(**NO_BONUS)
    till.enroll("0612345678")
    sale = till.earn(ANNA, amount=20000)
    till.redeem(ANNA, reward_id="coffee")
    refund = till.reverse(sale.event.event_id, approval=manager(till))
    assert (refund.member.balance, refund.member.flags) == (-150, ("overdraft",))
    assert till.lookup(ANNA).flags == ("overdraft",)
    assert till.account(ANNA).deficit == 150
    paid = till.earn(ANNA, amount=20000)  # new points pay the debt first
    assert (paid.member.balance, paid.member.flags) == (50, ())


def test_a_session_built_by_hand_or_at_another_till_approves_nothing(make_till, tmp_path):
    from pos_loyalty.staff import StaffSession

    till = make_till(offline_redeem_cap=100, **NO_BONUS)
    till.enroll("0612345678")
    till.earn(ANNA, amount=100000)
    manager(till)
    forged = StaffSession("M1", "Maria", "manager", "2026-11-25T10:00:00.000Z")
    before = till.journal.events.last_seq()
    with pytest.raises(NotAllowed, match="not made at this till"):
        till.redeem(ANNA, reward_id="coffee", approval=forged)
    with pytest.raises(NotAllowed, match="not made at this till"):
        till.adjust(ANNA, points=10, reason="goodwill", approval=forged)
    with pytest.raises(NotAllowed, match="not made at this till"):
        till.earn(ANNA, amount=100, cashier=forged)
    other = make_till(**NO_BONUS)  # another Till on the same journal
    elsewhere = other.sign_in("M1", "2468", manager=True)
    with pytest.raises(NotAllowed, match="not made at this till"):
        till.redeem(ANNA, reward_id="coffee", approval=elsewhere)
    assert nothing_written(till, before)
    real = till.sign_in("M1", "2468", manager=True)
    assert till.redeem(ANNA, reward_id="coffee", approval=real).event.detail["approved_by"] == "M1"
    till.sign_out(real)
    with pytest.raises(NotAllowed, match="not made at this till"):
        till.redeem(ANNA, reward_id="coffee", approval=real)


def test_a_demoted_managers_session_no_longer_approves(till):
    boss = manager(till)
    till.add_staff("M2", name="Max", role="manager", pin="1111", approval=boss)
    max_ = till.sign_in("M2", "1111", manager=True)
    till.add_staff("M2", name="Max", role="cashier", pin="1111", approval=boss)
    till.enroll("0612345678")
    with pytest.raises(NotAllowed, match="no longer holds"):
        till.adjust(ANNA, points=10, reason="goodwill", approval=max_)


def test_a_cashiers_session_is_what_the_event_records(till):
    boss = manager(till)
    till.add_staff("C7", name="Chris", role="cashier", pin="1357", approval=boss)
    chris = till.sign_in("C7", "1357")
    till.enroll("0612345678", cashier=chris)
    sale = till.earn(ANNA, amount=1000, cashier=chris)
    assert sale.event.staff_id == "C7"
    with pytest.raises(NeedsManager, match="Chris is not a manager"):
        till.adjust(ANNA, points=10, reason="goodwill", approval=chris)


def test_forty_wrong_pins_at_once_get_no_more_tries_than_five_in_a_row(make_till):
    """Each attempt is counted in the write transaction before its PIN is checked, so
    parallel attempts cannot all slip in under the limit."""
    import threading

    from pos_loyalty.service import Till
    from pos_loyalty.staff import PIN_TRIES

    till = make_till()
    manager(till)
    answers: list[str] = []
    start = threading.Barrier(40)

    def guess() -> None:
        with Till.open(till.source) as other:  # a till process of its own, in effect
            start.wait()
            try:
                other.sign_in("M1", "0000")
            except NotAllowed as exc:
                answers.append(exc.message)

    threads = [threading.Thread(target=guess) for _ in range(40)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wrong = [a for a in answers if "do not match" in a]
    locked = [a for a in answers if "Too many wrong PINs" in a]
    assert len(answers) == 40 and len(wrong) + len(locked) == 40
    assert len(wrong) <= PIN_TRIES
    with pytest.raises(NotAllowed, match="Too many wrong PINs"):
        till.sign_in("M1", "2468")  # the right PIN waits out the lock too


def test_an_unknown_staff_id_locks_like_a_known_one(till, clock):
    manager(till)
    for staff_id in ("M1", "NOBODY"):
        for _ in range(5):
            with pytest.raises(NotAllowed, match=f"Staff {staff_id} and that PIN do not match"):
                till.sign_in(staff_id, "0000")
        with pytest.raises(NotAllowed, match=f"staff {staff_id} is locked until"):
            till.sign_in(staff_id, "0000")


def test_an_earn_beyond_any_plausible_sale_is_refused_and_writes_nothing(make_till):
    till = make_till(points_per_unit=1000, **NO_BONUS)
    till.enroll("0612345678")
    before = till.journal.events.last_seq()
    with pytest.raises(BadInput, match="not plausible"):
        till.earn(ANNA, amount=10**12)
    assert nothing_written(till, before)


def test_text_that_cannot_be_recorded_is_refused_as_bad_input(till):
    boss = manager(till)
    till.enroll("0612345678")
    before = till.journal.events.last_seq()
    with pytest.raises(BadInput, match="The note has a character that is not valid text"):
        till.adjust(ANNA, points=5, reason="goodwill", note="late \udcff bus", approval=boss)
    with pytest.raises(BadInput, match="The name has a character that is not valid text"):
        till.enroll("0687654321", name="Bo\udcffb")
    with pytest.raises(BadInput, match="A note cannot contain control characters"):
        till.adjust(ANNA, points=5, reason="goodwill", note="a\x01b", approval=boss)
    with pytest.raises(BadInput, match="A note is at most 200 characters"):
        till.adjust(ANNA, points=5, reason="goodwill", note="n" * 201, approval=boss)
    for bad in (float("nan"), float("inf"), 1.5):
        with pytest.raises(BadInput):
            till.earn(ANNA, amount=bad)
        with pytest.raises(BadInput):
            till.adjust(ANNA, points=bad, reason="goodwill", approval=boss)
    assert nothing_written(till, before)


def test_a_made_up_lot_in_history_does_not_break_the_member_when_hqs_real_lots_arrive(make_till):
    """HQ's word was a bare balance; a redeem drew from the lot the till made up for it; then
    HQ's next word (not yet including that redeem) names real lots for the same balance."""
    till = make_till(**NO_BONUS)
    member = till.enroll("0612345678").member
    hq_confirms(till, member.member_id, 200)
    before_redeem = till.journal.events.last_seq()
    spent = till.redeem(ANNA, reward_id="coffee")
    assert spent.event.detail["draws"][0]["lot_id"] == f"hq:{member.member_id}"
    with till.journal.writing():
        from pos_loyalty.rules.account import Ledger
        from pos_loyalty.rules.lots import Lot

        real = (
            Lot("sale-1", 120, 120, "2026-10-01T00:00:00.000Z"),
            Lot("sale-2", 80, 80, "2026-10-02T00:00:00.000Z"),
        )
        assert till.journal.members.record_hq_word(
            member.member_id,
            Ledger(lots=real),
            version=9,
            at="2026-11-25T09:30:00.000Z",
            through_seq=before_redeem,
        )
    assert till.lookup(ANNA).balance == 50
    assert till.earn(ANNA, amount=1000).member.balance == 60
    assert till.redeem(ANNA, points=60).member.balance == 0
    assert all(lot.remaining >= 0 for lot in till.account(ANNA).lots)


def test_hqs_older_word_never_replaces_a_newer_one(make_till):
    from pos_loyalty.rules.account import Ledger
    from pos_loyalty.rules.lots import Lot

    till = make_till(**NO_BONUS)
    member = till.enroll("0612345678").member
    members = till.journal.members

    def word(points: int, version: int) -> bool:
        with till.journal.writing():
            return members.record_hq_word(
                member.member_id,
                Ledger(lots=(Lot(f"l{version}", points, points, "2026-11-01T00:00:00.000Z"),)),
                version=version,
                at="2026-11-25T09:00:00.000Z",
                through_seq=till.journal.events.last_seq(),
            )

    assert word(300, version=2) and till.lookup(ANNA).balance == 300
    assert not word(100, version=1) and till.lookup(ANNA).balance == 300
    assert not word(100, version=2)


def test_a_session_changed_after_sign_in_still_speaks_only_for_who_signed_in(till):
    boss = manager(till)
    till.add_staff("C7", name="Chris", role="cashier", pin="1357", approval=boss)
    till.enroll("0612345678")
    chris = till.sign_in("C7", "1357")
    with pytest.raises(AttributeError):
        chris.role = "manager"
    object.__setattr__(chris, "staff_id", "M1")  # forced past the guard: still Chris
    object.__setattr__(chris, "role", "manager")
    with pytest.raises(NeedsManager, match="Chris is not a manager"):
        till.adjust(ANNA, points=25, reason="goodwill", approval=chris)
    assert till.earn(ANNA, amount=1000, cashier=chris).event.staff_id == "C7"

    from pos_loyalty.staff import StaffSession

    class LooksAlike(StaffSession):
        __slots__ = ()

        def __eq__(self, other):
            return True

        def __hash__(self):
            return hash(boss)

    with pytest.raises(NotAllowed, match="not made at this till"):
        till.adjust(
            ANNA, points=25, reason="goodwill", approval=LooksAlike("M1", "M", "manager", "")
        )


def test_staff_keep_their_role_and_name_unless_changed_and_the_till_keeps_a_manager(till):
    with pytest.raises(NeedsManager, match="first staff member must be a manager"):
        till.add_staff("C7", name="Chris", pin="1357")
    boss = manager(till)
    same = till.add_staff("M1", pin="9753", approval=boss)  # a new PIN, nothing else
    assert (same.role, same.name) == ("manager", "Maria")
    with pytest.raises(NotAllowed, match="Maria's sign-in no longer holds"):
        till.adjust(ANNA, points=5, reason="goodwill", approval=boss)  # the old PIN's session
    boss = till.sign_in("M1", "9753", manager=True)
    with pytest.raises(NotAllowed, match="Maria is the till's only manager"):
        till.add_staff("M1", role="cashier", pin="9753", approval=boss)
    with pytest.raises(NeedsManager, match="needs a manager's approval"):
        till.add_staff("HACK", role="manager", pin="4321")  # no open door, ever
    till.add_staff("M2", name="Max", role="manager", pin="1111", approval=boss)
    assert till.add_staff("M1", role="cashier", pin="9753", approval=boss).role == "cashier"


def test_spaces_tabs_and_line_breaks_in_a_note_become_one_space(till):
    boss = manager(till)
    till.enroll("0612345678")
    note = " late\tbus\n\nagain "
    done = till.adjust(ANNA, points=5, reason="goodwill", note=note, approval=boss)
    assert done.event.detail["note"] == "late bus again"


def test_hqs_word_that_cannot_be_true_is_refused_whole(make_till):
    from pos_loyalty.errors import HQReplyError
    from pos_loyalty.rules.account import Ledger
    from pos_loyalty.rules.lots import Lot

    till = make_till(**NO_BONUS)
    member = till.enroll("0612345678").member
    till.earn(ANNA, amount=5000)
    good = Ledger(lots=(Lot("l1", 80, 80, "2026-11-01T00:00:00.000Z"),))
    for ledger, through, message in (
        (good, 10**6, "it claims this till's event #1000000, but the journal ends at #2"),
        (Ledger(lots=(Lot("l1", 80, 90, "2026-11-01T00:00:00.000Z"),)), 2, "more points left"),
        (Ledger(lots=good.lots, booked=500), 2, "not what its lots and deficit add up to"),
    ):
        with till.journal.writing(), pytest.raises(HQReplyError, match=message):
            till.journal.members.record_hq_word(
                member.member_id,
                ledger,
                version=1,
                at="2026-11-25T09:00:00.000Z",
                through_seq=through,
            )
    assert till.lookup(ANNA).balance == 50  # HQ's nonsense changed nothing
    assert till.earn(ANNA, amount=1000).member.balance == 60


def test_an_account_handed_out_is_a_value_read_in_one_snapshot(make_till):
    till = make_till(**NO_BONUS)
    till.enroll("0612345678")
    till.earn(ANNA, amount=6000)
    account = till.account(ANNA)
    till.earn(ANNA, amount=5000)
    assert account.balance == sum(lot.remaining for lot in account.lots) == 60
    till.close()
    assert sum(lot.remaining for lot in account.lots) == 60  # no journal needed to read it


def test_a_membership_ends_where_the_fold_says_even_at_a_month_end(make_till, clock):
    import datetime as dt

    till = make_till(**NO_BONUS)
    till.enroll("0612345678")
    clock.now = dt.datetime(2028, 2, 28, 23, 30, tzinfo=dt.UTC)  # 29 Feb, 00:30 in Amsterdam
    bought = till.buy_membership(ANNA, plan_id="plus")
    assert bought.event.detail["valid_until"] == bought.member.membership_until
    assert till.account(ANNA).membership_until == bought.event.detail["valid_until"]
    assert bought.lines[0].startswith(
        f"Plus until {till.header.local_time(bought.member.membership_until)[:10]}"
    )


def test_the_python_api_refuses_values_of_the_wrong_kind_in_words(till):
    till.enroll("0612345678")
    boss = manager(till)
    for call in (
        lambda: till.enroll("0687654321", consent="no"),
        lambda: till.enroll("0687654321", referrer="0612345678"),
        lambda: till.redeem(ANNA, reward_id=5),
        lambda: till.donate(ANNA, charity_id=5, points=10),
        lambda: till.buy_membership(ANNA, plan_id=5),
        lambda: till.add_staff(5, pin="1234", approval=boss),
        lambda: till.history(ANNA, limit=2.5),
        lambda: till.earn(ANNA, amount=1000, lines="fresh"),
        lambda: MemberRef(phone=612345678),
    ):
        with pytest.raises(BadInput):
            call()


def test_a_referred_members_welcome_slip_adds_up_to_their_own_balance(till):
    from pos_loyalty.slips import welcome_slip

    anna = till.enroll("0612345678", name="Anna")
    till.earn(MemberRef(phone="0687654321"), amount=2000)  # before enrolling: 20 points
    piet = till.enroll("0687654321", name="Piet", referrer=MemberRef(code=anna.member.code))
    text = welcome_slip(till.header, piet).text()
    assert "Bonus for referring a friend" not in text  # that went to Anna
    assert "Points from earlier visits" in text and "+20" in text
    assert piet.member.balance == 20 + 50 + 50
