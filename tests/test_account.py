"""The member's account as one pure fold: the rules that let the till and HQ agree.

No database here: events are plain values, as the journal and HQ both hand them to the fold.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from conftest import Ev
from hypothesis import given, settings
from hypothesis import strategies as st

from pos_loyalty.clock import iso, parse_iso
from pos_loyalty.rules import account as acc
from pos_loyalty.rules.lots import plan_draws
from pos_loyalty.rules.program import Membership, Program, Tier

UTC = dt.UTC
T0 = dt.datetime(2026, 11, 25, 10, 0, tzinfo=UTC)
PROGRAM = Program(
    tiers=(Tier(name="Bronze"), Tier(name="Silver", threshold=500)),
    memberships=(Membership(id="plus", name="Plus", fee="49.00", months=12, multiplier=2),),
    offline_redeem_cap=500,
    velocity_max_per_day=3,
)


def at(minutes: float) -> str:
    return iso(T0 + dt.timedelta(minutes=minutes))


def earn(event_id: str, points: int, when: str, expires: str | None = None) -> Ev:
    return Ev(
        event_id, "earn", points, when, {"lot": {"expires_at": expires, "spendable_at": None}}
    )


def spend(account: acc.Account, event_id: str, points: int, when: str) -> Ev:
    """A redemption as a till freezes it: draws planned from its own view of the account."""
    draws, short = plan_draws(account.lots, points, when)
    assert short == 0
    return Ev(event_id, "redeem", -points, when, {"draws": [d.to_json() for d in draws]})


def refund(account: acc.Account, sale: Ev, points: int, event_id: str, when: str) -> Ev:
    draws, short = plan_draws(account.lots, points, when, first=sale.event_id, any_lot=True)
    detail = {
        "reverses": "earn",
        "sale_at": sale.created_at,
        "draws": [d.to_json() for d in draws],
        "shortfall": short,
    }
    return Ev(event_id, "reverse", -points, when, detail)


def cancel(redeem: Ev, event_id: str, when: str) -> Ev:
    detail = {"reverses": "redeem", "restores": redeem.detail["draws"]}
    return Ev(event_id, "reverse", -redeem.points, when, detail)


def fold(
    events, account=None, now=T0 + dt.timedelta(days=1), program=PROGRAM, shelf=None
) -> acc.Account:
    return acc.fold(account, events, now, program, shelf=shelf)


def remaining(account: acc.Account) -> dict[str, int]:
    return {lot.lot_id: lot.remaining for lot in account.lots}


# -- the defects this model fixes ---------------------------------------------------------------


def test_a_draw_from_a_lot_that_is_gone_takes_what_is_there_and_never_raises():
    """A till spent a lot HQ does not know (a made-up or since-renamed lot): the points still
    leave the account, from the lots that are there."""
    base = fold([earn("real-1", 200, at(0))])
    made_up = Ev(
        "r1",
        "redeem",
        -150,
        at(5),
        {"draws": [{"lot_id": "hq-balance", "points": 150, "earned_at": at(0)}]},
    )
    after = fold([made_up], base)
    assert (after.balance, after.deficit, remaining(after)) == (50, 0, {"real-1": 50})


def test_restore_nets_the_deficit_first():
    """Earn 150, redeem 150, refund the sale (a deficit of 150), cancel the redemption: the
    cancel pays the deficit, so no live lot is left to expire the member below zero."""
    sale = earn("sale", 150, at(0), expires=at(60 * 24 * 30))
    a = fold([sale])
    redeem = spend(a, "r", 150, at(1))
    a = fold([redeem], a)
    a = fold([refund(a, sale, 150, "f", at(2))], a)
    assert (a.balance, a.deficit, a.flags) == (-150, 150, ("overdraft",))
    a = fold([cancel(redeem, "c", at(3))], a)
    assert (a.balance, a.deficit, a.lots) == (0, 0, ())
    later = T0 + dt.timedelta(days=60)
    assert acc.expiry_due(a.ledger, later, PROGRAM) == (0, [])


def test_two_tills_spending_the_same_lot_never_leave_a_negative_lot():
    base = fold([earn("a", 100, at(0)), earn("b", 100, at(1))])
    at_till_1 = spend(base, "x1", 100, at(2))  # both tills saw lot "a" as the first to go
    at_till_2 = spend(base, "x2", 100, at(3))
    assert at_till_1.detail["draws"][0]["lot_id"] == at_till_2.detail["draws"][0]["lot_id"]
    hq = fold([at_till_1, at_till_2], base)
    assert (hq.balance, hq.deficit, hq.lots) == (0, 0, ())
    third = spend(base, "x3", 50, at(4))
    hq = fold([third], hq)
    assert (hq.balance, hq.deficit, hq.flags) == (-50, 50, ("overdraft",))


def test_a_refunds_frozen_shortfall_is_recomputed_not_trusted():
    sale = earn("sale", 100, at(0))
    other = earn("other", 80, at(1))
    a = fold([sale, other])
    stale = Ev(  # a till that froze a shortfall the fold can still cover from "other"
        "f",
        "reverse",
        -100,
        at(2),
        {"reverses": "earn", "sale_at": at(0), "draws": [], "shortfall": 100},
    )
    a = fold([stale], a)
    assert (a.balance, a.deficit) == (80, 0)


def test_malformed_hints_are_ignored_and_the_points_still_count():
    a = fold([earn("e", 100, at(0))])
    odd = Ev("o", "redeem", -30, at(1), {"draws": [None, 7, {"lot_id": 3, "points": "x"}]})
    also = Ev("p", "reverse", 12, at(2), {"reverses": "redeem", "restores": "nonsense"})
    a = fold([odd, also], a)
    assert a.balance == 100 - 30 + 12


def test_a_restore_never_fills_a_lot_beyond_what_it_earned():
    a = fold([earn("e", 100, at(0))])
    redeem = spend(a, "r", 60, at(1))
    a = fold([redeem, cancel(redeem, "c1", at(2))], a)
    again = Ev(
        "c2", "reverse", 60, at(3), {"reverses": "redeem", "restores": redeem.detail["draws"]}
    )
    a = fold([again], a)  # a duplicate cancel from another till
    assert a.balance == 160
    assert all(lot.remaining <= lot.points for lot in a.lots)


# -- the other parts of the account ---------------------------------------------------------------


def test_qualifying_points_follow_a_rolling_window_and_refunds_count_on_their_sale_day():
    sale = earn("s", 600, at(0))
    a = fold([sale])
    assert (a.qualifying, a.tier.tier.name) == (600, "Silver")
    a = fold([refund(a, sale, 200, "f", at(5))], a)
    assert a.qualifying == 400
    year_on = T0 + dt.timedelta(days=366)
    assert fold([], a, now=year_on).qualifying == 0
    late = fold([refund(a, sale, 100, "g", iso(year_on))], a, now=year_on)
    assert late.qualifying == 0  # a refund of a sale outside the window leaves the tier alone


def test_memberships_bought_at_two_tills_chain_whichever_arrives_first():
    def bought(event_id: str, when: str) -> Ev:
        detail = {"membership": {"id": "plus", "name": "Plus"}, "months": 12}
        return Ev(event_id, "membership", 0, when, detail)

    one, two = bought("m1", at(0)), bought("m2", at(60))
    now = T0 + dt.timedelta(days=2)
    a, b = fold([one, two], now=now), fold([two, one], now=now)
    assert a == b
    assert a.membership is not None and a.membership.id == "plus"
    assert a.membership_until is not None and a.membership_until.startswith("2028-11-25")


def test_transactions_today_count_in_the_store_zone_and_flag_velocity():
    zone = dt.timezone(dt.timedelta(hours=1))
    now = dt.datetime(2026, 11, 25, 23, 30, tzinfo=zone)
    events = [
        earn("y", 10, "2026-11-24T22:30:00.000Z"),  # 23:30 on the 24th, store time
        earn("a", 10, "2026-11-24T23:30:00.000Z"),  # 00:30 on the 25th
        earn("b", 10, "2026-11-25T12:00:00.000Z"),
        earn("c", 10, "2026-11-25T20:00:00.000Z"),
    ]
    a = acc.fold(None, events, now, PROGRAM)
    assert (a.transactions_today, a.flags) == (3, ("velocity",))
    tomorrow = acc.fold(a, [], now + dt.timedelta(hours=1), PROGRAM)
    assert (tomorrow.transactions_today, tomorrow.flags) == (0, ())


def test_the_offline_cap_counts_unconfirmed_spends_net_of_cancels():
    a = fold([earn("e", 1000, at(0))])
    r1 = spend(a, "r1", 300, at(1))
    a = fold([r1], a)
    assert (a.cap_room, a.can_spend_now) == (200, 200)
    a = fold([cancel(r1, "c1", at(2))], a)
    assert (a.cap_room, a.can_spend_now) == (500, 500)
    confirmed = acc.settle(acc.confirmed(a.ledger), T0, PROGRAM)
    assert confirmed.unconfirmed_spent == 0


def test_expiry_takes_expired_lots_or_everything_after_inactivity():
    a = fold([earn("old", 100, at(0), expires=at(60)), earn("new", 50, at(1))])
    later = T0 + dt.timedelta(days=1)
    points, draws = acc.expiry_due(a.ledger, later, PROGRAM)
    assert (points, [d.lot_id for d in draws]) == (100, ["old"])
    inactive = Program(inactivity_expiry_months=12)
    assert acc.expiry_due(a.ledger, T0 + dt.timedelta(days=366), inactive)[0] == 150
    expire = Ev("x", "expire", -points, iso(later), {"draws": [d.to_json() for d in draws]})
    assert fold([expire], a).balance == 50


def test_held_points_are_not_spendable_until_their_day():
    held = Ev("h", "earn", 40, at(0), {"lot": {"spendable_at": at(60 * 24 * 3)}})
    a = fold([earn("e", 100, at(0)), held], now=T0 + dt.timedelta(hours=1))
    assert (a.balance, a.spendable, a.held, a.held_from) == (140, 100, 40, at(60 * 24 * 3))


def test_the_ledger_round_trips_through_json():
    a = fold([earn("e", 100, at(0), expires=at(90)), earn("f", 5, at(1))])
    assert acc.decode(acc.encode(a.ledger)) == a.ledger


# -- properties over random interleavings of two or three tills ------------------------------------


@dataclass
class TillSim:
    """One till's local view of the member: it plans its events from what it has seen."""

    name: str
    view: acc.Account
    clock: float
    events: list[Ev] = field(default_factory=list)
    sales: list[tuple[Ev, int]] = field(default_factory=list)  # (sale, points reversed)
    spends: list[Ev] = field(default_factory=list)

    def record(self, event: Ev) -> None:
        self.events.append(event)
        self.view = fold([event], self.view, now=parse_iso(event.created_at))


op = st.tuples(
    st.sampled_from(["earn", "redeem", "donate", "refund", "cancel", "adjust", "expire"]),
    st.integers(0, 2),  # which till
    st.integers(1, 400),  # how much
    st.integers(0, 3),  # expiry choice / which earlier event
)


def simulate(ops, tills: int) -> list[TillSim]:
    base = fold([earn("hq-1", 300, at(-100)), earn("hq-2", 200, at(-90), expires=at(30))])
    sims = [TillSim(f"t{i}", base, clock=i * 7.0) for i in range(tills)]
    for n, (kind, which, amount, pick) in enumerate(ops):
        sim = sims[which % tills]
        sim.clock += 11 + pick
        when, eid = at(sim.clock), f"{sim.name}-{n}"
        view = fold([], sim.view, now=parse_iso(when))
        if kind == "earn":
            expires = at(sim.clock + 40 * pick) if pick else None
            event = earn(eid, amount, when, expires)
            sim.sales.append((event, 0))
        elif kind in ("redeem", "donate"):
            if amount > view.spendable:
                continue
            event = spend(view, eid, amount, when)
            event = Ev(eid, kind, event.points, when, event.detail)
            sim.spends.append(event)
        elif kind == "refund" and sim.sales:
            index = pick % len(sim.sales)
            sale, done = sim.sales[index]
            points = min(amount, sale.points - done)
            if points <= 0:
                continue
            event = refund(view, sale, points, eid, when)
            sim.sales[index] = (sale, done + points)
        elif kind == "cancel" and sim.spends:
            event = cancel(sim.spends.pop(pick % len(sim.spends)), eid, when)
        elif kind == "adjust":
            sign = 1 if pick % 2 else -1
            if sign > 0:
                event = Ev(eid, "adjust", amount, when, {"lot": {}})
            else:
                draws, _ = plan_draws(view.lots, amount, when, any_lot=True)
                event = Ev(eid, "adjust", -amount, when, {"draws": [d.to_json() for d in draws]})
        elif kind == "expire":
            points, draws = acc.expiry_due(view.ledger, parse_iso(when), PROGRAM)
            if not points:
                continue
            event = Ev(eid, "expire", -points, when, {"draws": [d.to_json() for d in draws]})
        else:
            continue
        sim.record(event)
    return sims


def interleave(sims: list[TillSim], order: list[int]) -> list[Ev]:
    """The sims' events merged in an order that keeps each till's own order."""
    queues = [list(s.events) for s in sims]
    merged: list[Ev] = []
    for pick in order:
        live = [q for q in queues if q]
        if not live:
            break
        merged.append(live[pick % len(live)].pop(0))
    for q in queues:
        merged.extend(q)
    return merged


def sound(account: acc.Account) -> None:
    assert all(lot.remaining > 0 for lot in account.lots)  # never negative; empty ones dropped
    assert all(lot.remaining <= lot.points for lot in account.lots)
    assert account.deficit >= 0
    assert account.deficit == 0 or not account.lots  # a deficit is owed only with nothing left
    assert account.balance == sum(lot.remaining for lot in account.lots) - account.deficit


tills = st.integers(2, 3)
orders = st.lists(st.integers(0, 5), max_size=120)


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(op, min_size=4, max_size=40), n=tills, first=orders, second=orders)
def test_property_any_interleaving_of_the_tills_gives_the_same_balance(ops, n, first, second):
    sims = simulate(ops, n)
    base = fold([earn("hq-1", 300, at(-100)), earn("hq-2", 200, at(-90), expires=at(30))])
    total = base.balance + sum(e.points for s in sims for e in s.events)
    results = []
    for order in (first, second):
        account = base
        for event in interleave(sims, order):
            account = fold([event], account)
            sound(account)
        results.append(account)
    assert results[0].balance == results[1].balance == total
    assert results[0].qualifying == results[1].qualifying
    assert results[0].membership_until == results[1].membership_until


@settings(max_examples=300, deadline=None)
@given(ops=st.lists(op, min_size=4, max_size=40), n=tills, order=orders, cut=st.integers(0, 200))
def test_property_a_snapshot_and_the_rest_equals_folding_everything(ops, n, order, cut):
    events = interleave(simulate(ops, n), order)
    cut = cut % (len(events) + 1)
    now = T0 + dt.timedelta(days=3)
    everything = fold(events, now=now)
    snapshot = fold(events[:cut], now=T0 + dt.timedelta(days=2))
    stored = acc.decode(acc.encode(snapshot.ledger))  # as a checkpoint or HQ keeps it
    assert fold(events[cut:], stored, now=now) == everything
    sound(everything)
