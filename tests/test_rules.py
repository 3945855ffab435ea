"""The rules engine on its own: pure functions over plain data, no database, no screen."""

from __future__ import annotations

import datetime as dt

import msgspec
import pytest
from conftest import Ev
from hypothesis import given
from hypothesis import strategies as st

from pos_loyalty.errors import (
    AlreadyReversed,
    BadAmount,
    InsufficientPoints,
    NeedsManager,
    OfflineCapExceeded,
    UnknownCategory,
)
from pos_loyalty.rules.account import Ledger, expiry_due, fold
from pos_loyalty.rules.earn import BasketLine, build_basket, compute_earn
from pos_loyalty.rules.guards import check_offline_cap, check_spend, check_velocity
from pos_loyalty.rules.lots import Lot, plan_draws
from pos_loyalty.rules.program import Category, Membership, Program, Promotion, Tier
from pos_loyalty.rules.reversal import refund_points
from pos_loyalty.rules.tiers import tier_status

WED = dt.date(2026, 11, 25)
TUE = dt.date(2026, 11, 24)
BRONZE = Tier(name="Bronze")
GOLD = Tier(name="Gold", threshold=2000, multiplier=1.5)
PROGRAM = Program(
    categories={
        "general": Category(),
        "fresh": Category(multiplier=2),
        "tobacco": Category(excluded=True),
    },
    tiers=(BRONZE, Tier(name="Silver", threshold=500, multiplier=1.25), GOLD),
    promotions=(Promotion(id="dt", name="Double points Tuesday", multiplier=2, weekdays=("tue",)),),
)


def earn(
    basket: list[BasketLine],
    *,
    program: Program = PROGRAM,
    tier: Tier = BRONZE,
    membership: Membership | None = None,
    day: dt.date = WED,
    currency: str = "EUR",
):
    return compute_earn(program, basket, currency, tier=tier, membership=membership, day=day)


def test_points_per_currency_unit_round_down_by_default():
    result = earn([BasketLine("general", 1240)])
    assert result.points == 12
    assert result.lines == ("12.40 EUR × 1 pt = 12",)


@pytest.mark.parametrize(("rounding", "points"), [("floor", 12), ("half_up", 13), ("ceil", 13)])
def test_rounding_rule_is_configurable(rounding, points):
    program = Program(rounding=rounding)
    assert earn([BasketLine("general", 1250)], program=program).points == points


def test_fractional_rate_and_zero_decimal_currency():
    program = Program(points_per_unit=0.01)  # 1 point per 100 yen
    result = earn([BasketLine("general", 1999)], program=program, currency="JPY")
    assert result.points == 19
    assert result.lines[0] == "1999 JPY × 0.01 pt = 19"


def test_category_multiplier_and_exclusion_explained():
    result = earn(
        [BasketLine("fresh", 500), BasketLine("tobacco", 800), BasketLine("general", 740)]
    )
    # eligible 12.40 → 12; fresh 5.00 × (2 − 1) → +5; tobacco earns nothing
    assert result.points == 17
    assert result.lines == (
        "12.40 EUR × 1 pt = 12",
        "tobacco 8.00 EUR: no points",
        "fresh ×2 = +5",
    )


def test_tier_multiplier_adds_a_line():
    result = earn([BasketLine("general", 1240)], tier=GOLD)
    assert result.points == 18
    assert result.lines[-1] == "Gold ×1.5 = +6"


def test_promotion_only_on_its_weekday():
    basket = [BasketLine("general", 1800)]
    assert earn(basket, day=WED).points == 18
    tuesday = earn(basket, day=TUE)
    assert tuesday.points == 36
    assert tuesday.lines[-1] == "Double points Tuesday = +18"


def test_promotion_dates_categories_minimum_and_fixed_bonus():
    promo = Promotion(
        id="f",
        name="Fresh bonus",
        bonus=25,
        categories=("fresh",),
        starts=dt.date(2026, 11, 1),
        ends=dt.date(2026, 11, 30),
        min_amount="10.00",
    )
    program = Program(categories=PROGRAM.categories, promotions=(promo,))
    assert earn([BasketLine("fresh", 1000)], program=program).points == 10 + 10 + 25
    assert earn([BasketLine("general", 1000)], program=program).points == 10  # no fresh line
    assert earn([BasketLine("fresh", 900)], program=program).points == 18  # under the minimum
    # "At least 10.00 of fresh": the rest of the basket does not count towards it.
    mixed = [BasketLine("fresh", 900), BasketLine("general", 5000)]
    assert earn(mixed, program=program).points == 18 + 50
    enough = [BasketLine("fresh", 1000), BasketLine("general", 5000)]
    assert earn(enough, program=program).points == 20 + 50 + 25
    december = dt.date(2026, 12, 1)
    assert earn([BasketLine("fresh", 1000)], program=program, day=december).points == 20


def test_paid_membership_multiplier():
    plus = Membership(id="plus", name="Plus", fee="49.00", multiplier=2)
    result = earn([BasketLine("general", 1000)], membership=plus)
    assert result.points == 20
    assert "Plus ×2 = +10" in result.lines


def test_basket_total_with_lines_puts_the_rest_in_the_default_category():
    basket = build_basket(PROGRAM, "EUR", 2000, [BasketLine("fresh", 500)])
    assert basket == [BasketLine("fresh", 500), BasketLine("general", 1500)]


def test_basket_lines_above_total_refused():
    with pytest.raises(BadAmount, match="more than the sale's 4.00 EUR"):
        build_basket(PROGRAM, "EUR", 400, [BasketLine("fresh", 500)])


def test_unknown_category_refused():
    with pytest.raises(UnknownCategory, match="Unknown product category “toys”"):
        build_basket(PROGRAM, "EUR", None, [BasketLine("toys", 500)])


def test_tier_progress_text():
    assert tier_status(PROGRAM, 180).text == "320 points to Silver"
    assert tier_status(PROGRAM, 500).tier.name == "Silver"
    assert tier_status(PROGRAM, 2500).text == "Gold: top tier"
    assert tier_status(PROGRAM, -10).tier.name == "Bronze"


def test_a_tier_granted_by_hq_counts_when_higher():
    assert tier_status(PROGRAM, 100, "Gold").text == "Gold: top tier"
    silver = tier_status(PROGRAM, 100, "Silver")
    assert (silver.tier.name, silver.text) == ("Silver", "1900 points to Gold")
    assert tier_status(PROGRAM, 2500, "Silver").tier.name == "Gold"


# -- refunds -----------------------------------------------------------------------------------


def refund(earned, sale, before_amount, before_points, amount):
    return refund_points(
        earned=earned,
        sale_amount=sale,
        refunded_before=before_amount,
        reversed_before=before_points,
        refund_amount=amount,
        currency="EUR",
    )


def test_partial_refunds_are_proportional_and_add_up_to_the_whole():
    first = refund(48, 2480, 0, 0, 1000)  # 48 × 10.00/24.80 = 19.35 → 19
    second = refund(48, 2480, 1000, first, 1480)
    assert (first, second) == (19, 29)


def test_refund_beyond_what_is_left_refused():
    with pytest.raises(BadAmount, match="Only 14.80 EUR of that sale is left to refund"):
        refund(48, 2480, 1000, 19, 1500)
    with pytest.raises(AlreadyReversed):
        refund(48, 2480, 2480, 48, 100)


@given(
    earned=st.integers(0, 10_000),
    sale=st.integers(1, 1_000_000),
    cuts=st.lists(st.floats(0.01, 1.0), min_size=1, max_size=8),
)
def test_property_reversals_never_exceed_the_original(earned, sale, cuts):
    refunded = reversed_points = 0
    for cut in cuts:
        left = sale - refunded
        if not left:
            break
        amount = max(1, int(left * cut))
        reversed_points += refund(earned, sale, refunded, reversed_points, amount)
        refunded += amount
        assert 0 <= reversed_points <= earned
    if refunded < sale:
        reversed_points += refund(earned, sale, refunded, reversed_points, sale - refunded)
    assert reversed_points == earned


# -- lots ---------------------------------------------------------------------------------------

NOW = "2026-11-25T10:00:00.000Z"
T_NOW = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)


def account_of(*lots_given, program=None, now=T_NOW):
    """An account holding exactly ``lots_given`` (as HQ's word would)."""
    return fold(Ledger(lots=tuple(lots_given)), [], now, program or Program())


def lot(lot_id, points, expires=None, spendable=None, earned="2026-01-01T00:00:00.000Z"):
    return Lot(lot_id, points, points, earned, expires, spendable)


def test_redeem_draws_soonest_expiring_lots_first_and_cancel_restores_them():
    account = account_of(
        lot("a", 100, "2027-06-01T00:00:00.000Z"),
        lot("b", 100, "2027-01-01T00:00:00.000Z"),
        lot("c", 100),
    )
    draws, short = plan_draws(account.lots, 150, NOW)
    assert short == 0
    assert [(d.lot_id, d.points) for d in draws] == [("b", 100), ("a", 50)]
    frozen = [d.to_json() for d in draws]
    spent = fold(account, [Ev("r", "redeem", -150, NOW, {"draws": frozen})], T_NOW, Program())
    assert {x.lot_id: x.remaining for x in spent.lots} == {"a": 50, "c": 100}
    cancel = Ev("c1", "reverse", 150, NOW, {"reverses": "redeem", "restores": frozen})
    back = fold(spent, [cancel], T_NOW, Program())
    assert {x.lot_id: x.remaining for x in back.lots} == {"a": 100, "c": 100, "b": 100}


def test_pending_points_are_held_until_their_day():
    account = account_of(lot("a", 100), lot("b", 40, spendable="2026-11-28T10:00:00.000Z"))
    assert (account.balance, account.spendable) == (140, 100)
    with pytest.raises(InsufficientPoints, match="40 more become spendable from 2026-11-28"):
        check_spend(Program(), account, 120, "Free coffee")


def test_expired_lots_cannot_be_spent_and_expiry_takes_them():
    account = account_of(lot("a", 100, "2026-11-01T00:00:00.000Z"), lot("b", 30))
    assert account.spendable == 30
    points, draws = expiry_due(account.ledger, T_NOW, Program())
    assert (points, [d.lot_id for d in draws]) == (100, ["a"])


def test_inactivity_expiry_lapses_everything_after_months_without_activity():
    ledger = msgspec.structs.replace(
        account_of(lot("a", 100), lot("b", 30)).ledger, last_activity="2025-10-01T12:00:00.000Z"
    )
    on = Program(inactivity_expiry_months=12)
    assert expiry_due(ledger, dt.datetime(2026, 9, 30, 12, tzinfo=dt.UTC), on)[0] == 0
    assert expiry_due(ledger, T_NOW, Program(inactivity_expiry_months=0))[0] == 0  # off
    assert expiry_due(ledger, T_NOW, on)[0] == 130


def test_add_months_clamps_to_the_end_of_the_month():
    from pos_loyalty.clock import add_months

    jan31 = dt.datetime(2027, 1, 31, 9, 0, tzinfo=dt.UTC)
    assert add_months(jan31, 1).date() == dt.date(2027, 2, 28)
    assert add_months(jan31, 13).date() == dt.date(2028, 2, 29)
    assert add_months(jan31, -2).date() == dt.date(2026, 11, 30)


def test_refund_after_spending_leaves_a_deficit_paid_by_the_next_lot():
    account = account_of(lot("sale", 50))
    spent = [d.to_json() for d in plan_draws(account.lots, 50, NOW)[0]]
    account = fold(account, [Ev("r", "redeem", -50, NOW, {"draws": spent})], T_NOW, Program())
    draws, short = plan_draws(account.lots, 50, NOW, first="sale", any_lot=True)
    assert (draws, short) == ((), 50)
    refund = Ev("f", "reverse", -50, NOW, {"reverses": "earn", "draws": []})
    account = fold(account, [refund], T_NOW, Program())
    assert (account.balance, account.deficit, account.flags) == (-50, 50, ("overdraft",))
    account = fold(account, [Ev("n", "earn", 80, NOW, {"lot": {}})], T_NOW, Program())
    assert (account.balance, account.deficit, account.flags) == (30, 0, ())


def test_minimum_balance_offline_cap_and_velocity():
    rich = account_of(lot("a", 1000), program=Program(offline_redeem_cap=500))
    with pytest.raises(InsufficientPoints, match="at least 2000 points"):
        check_spend(Program(min_redeem_balance=2000), rich, 100, "x")
    spent = [d.to_json() for d in plan_draws(rich.lots, 400, NOW)[0]]
    capped = fold(
        rich,
        [Ev("r", "redeem", -400, NOW, {"draws": spent})],
        T_NOW,
        Program(offline_redeem_cap=500),
    )
    with pytest.raises(OfflineCapExceeded, match="Only 100 more points"):
        check_offline_cap(Program(offline_redeem_cap=500), capped, 150, approved=False)
    check_offline_cap(Program(offline_redeem_cap=500), capped, 150, approved=True)
    with pytest.raises(NeedsManager, match="already has 3 loyalty transactions today"):
        check_velocity(Program(velocity_max_per_day=3), 3, approved=False)
    assert check_velocity(Program(velocity_max_per_day=3), 3, approved=True) is True
    assert check_velocity(Program(velocity_max_per_day=3), 2, approved=False) is False


# -- properties ---------------------------------------------------------------------------------

multipliers = st.sampled_from([0, 0.5, 1, 1.25, 1.5, 2, 3])
programs = st.builds(
    lambda rate, rounding, fresh, tier_mult, promo_mult, bonus: Program(
        points_per_unit=rate,
        rounding=rounding,
        categories={
            "general": Category(),
            "fresh": Category(multiplier=fresh),
            "tobacco": Category(excluded=True),
        },
        tiers=(Tier(name="T", multiplier=tier_mult),),
        promotions=(Promotion(id="p", name="P", multiplier=promo_mult, bonus=bonus),),
    ),
    st.sampled_from([0.01, 0.1, 1, 2, 10]),
    st.sampled_from(["floor", "half_up", "ceil"]),
    multipliers,
    multipliers,
    multipliers,
    st.integers(0, 100),
)
baskets = st.lists(
    st.builds(BasketLine, st.sampled_from(["general", "fresh", "tobacco"]), st.integers(1, 10**7)),
    min_size=1,
    max_size=6,
)


@given(program=programs, basket=baskets)
def test_property_earn_is_never_negative_and_explains_every_point(program, basket):
    result = earn(basket, program=program, tier=program.tiers[0])
    assert result.points >= 0
    explained = result.breakdown["base"] + sum(b["points"] for b in result.breakdown["bonuses"])
    assert result.points == max(0, explained)


@pytest.mark.parametrize(
    ("points", "value", "currency", "minor"),
    [
        (387, "0.01", "EUR", 387),
        (387, "0.005", "EUR", 194),
        (3, "0.5", "JPY", 2),
        (10, "1", "KWD", 10000),
        (0, "0.01", "EUR", 0),
    ],
)
def test_points_are_worth_their_value_rounded_once(points, value, currency, minor):
    from pos_loyalty.money import points_worth

    assert points_worth(points, value, currency) == minor
