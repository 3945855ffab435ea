"""The till keeps a member's lots as journal rows; HQ and the tests keep them in memory. The
fold is one function over either: these properties hold the two shelves to the same answers,
on a real SQLite file."""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from test_account import T0, at, fold, interleave, op, simulate

from pos_loyalty.journal import Journal
from pos_loyalty.rules.lots import MemoryShelf, plan_draws


def by_id(lots) -> dict:
    return {lot.lot_id: lot for lot in lots}


@settings(max_examples=150, deadline=None)
@given(
    ops=st.lists(op, min_size=4, max_size=40),
    n=st.integers(2, 3),
    order=st.lists(st.integers(0, 5), max_size=120),
    moments=st.lists(st.integers(-200, 2000), min_size=1, max_size=4),
)
def test_property_journal_rows_and_memory_give_the_same_account(ops, n, order, moments):
    events = interleave(simulate(ops, n), order)
    with tempfile.TemporaryDirectory() as folder:
        journal = Journal.open(
            Path(folder) / "till.db", store_id="S1", terminal_id="T1", create=True
        )
        try:
            rows = journal.members.lots("member-1")
            memory = MemoryShelf()
            with journal.writing():
                on_rows, in_memory = None, None
                for event in events:  # one event at a time, as the till records them
                    on_rows = fold([event], on_rows, shelf=rows)
                    in_memory = fold([event], in_memory, shelf=memory)
                    assert on_rows == in_memory
                    assert by_id(rows.all()) == by_id(memory.all())
            for minutes in moments:
                when = at(minutes)
                assert rows.summary(when) == memory.summary(when)
                assert [x.lot_id for x in rows.in_order(when)] == [
                    x.lot_id for x in memory.in_order(when)
                ]
                first = next(iter(memory.all()), None)
                if first is not None:
                    for any_lot in (False, True):
                        assert plan_draws(rows, 75, when, first=first.lot_id, any_lot=any_lot) == (
                            plan_draws(memory, 75, when, first=first.lot_id, any_lot=any_lot)
                        )
            later = fold([], in_memory, now=T0 + dt.timedelta(days=5), shelf=memory)
            assert later == fold([], on_rows, now=T0 + dt.timedelta(days=5), shelf=rows)
        finally:
            journal.close()


def test_odd_times_in_frozen_hints_sort_alike_in_memory_and_in_the_journal(tmp_path):
    """A hint whose times are not time stamps (empty, garbage) counts as having none, so the
    two shelves, and so the till and HQ, never draw from different lots."""
    from conftest import Ev

    lots_detail = [
        ("a", {"lot": {"expires_at": "", "spendable_at": None}}),
        ("b", {"lot": {"expires_at": None, "spendable_at": "soon"}}),
        ("c", {"lot": {"expires_at": at(9000), "spendable_at": ""}}),
    ]
    events = [Ev(eid, "earn", 10, at(n), detail) for n, (eid, detail) in enumerate(lots_detail)]
    odd = {"lot_id": "zz", "points": 3, "earned_at": "x", "expires_at": "", "spendable_at": 7}
    events.append(Ev("r", "redeem", -15, at(5), {"draws": [odd]}))
    journal = Journal.open(tmp_path / "till.db", store_id="S1", terminal_id="T1", create=True)
    try:
        rows, memory = journal.members.lots("m"), MemoryShelf()
        with journal.writing():
            on_rows = fold(events, shelf=rows)
            in_memory = fold(events, shelf=memory)
        assert on_rows == in_memory
        assert by_id(rows.all()) == by_id(memory.all())
        assert all(lot.expires_at in (None, at(9000)) for lot in memory.all())
    finally:
        journal.close()
