"""HQ keeps each account's lots a row each: after every batch they are the lots the till's
own fold gives for the same events, and an HQ database from before lot rows is moved over."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pos_loyalty.errors import LoyaltyError
from pos_loyalty.service import MemberRef
from sync.daemon import Syncer
from sync.hq.store import HQStore

from .conftest import as_schema_3

ANNA = MemberRef(phone="0612345678")


def push(till, token: str) -> None:
    """Push only, two events a batch: the till's lots stay its own fold's, not HQ's word."""
    with Syncer(till.source, token=token, batch_size=2, sleep=lambda s: None) as syncer:
        syncer.push()


def by_id(lots) -> dict:
    return {lot.lot_id: lot for lot in lots}


def test_hqs_lot_rows_are_the_tills_lots_batch_after_batch(make_synced_till, hq):
    till, token = make_synced_till()
    member = till.enroll("0612345678").member.member_id
    steps = [
        lambda: till.earn(ANNA, amount=10000),
        lambda: till.earn(ANNA, amount=2500),
        lambda: till.redeem(ANNA, points=120),  # from the welcome lot, then the first sale's
        lambda: till.reverse(f"#{till.journal.events.last_seq()}"),  # back into those lots
        lambda: till.redeem(ANNA, points=160),
        lambda: till.earn(ANNA, amount=4000),
    ]
    for step in steps:
        step()
        push(till, token)
        held = hq.store.account(member)
        assert held is not None
        own = till.account(ANNA).ledger
        assert by_id(held[1].lots) == by_id(own.lots) and held[1].balance == own.balance
    assert len(by_id(held[1].lots)) >= 2


def test_an_hq_database_with_lots_in_its_ledgers_is_moved_to_lot_rows(make_synced_till, hq):
    import msgspec

    from pos_loyalty.rules.account import encode

    till, token = make_synced_till()
    member = till.enroll("0612345678").member.member_id
    till.earn(ANNA, amount=10000)
    push(till, token)
    before = hq.store.account(member)
    assert before is not None and len(before[1].lots) == 2
    with hq.store.db.transaction() as tx:  # as schema 2 kept it: the lots in the ledger
        tx.run(
            "UPDATE accounts SET ledger = ? WHERE member_key = ?",
            (encode(before[1]).decode(), member),
        )
        tx.run("DELETE FROM lots")
    as_schema_3(hq.store)
    with hq.store.db.transaction() as tx:
        tx.run("UPDATE hq_meta SET value = '2' WHERE key = 'schema_version'")
    again = HQStore(hq.store.db, hq.store.program)
    assert again.account(member) == before
    with again.db.transaction() as tx:
        [(ledger,)] = tx.all("SELECT ledger FROM accounts WHERE member_key = ?", (member,))
        assert tx.one("SELECT count(*) FROM lots") == (2,)
    assert msgspec.json.decode(ledger).get("lots") is None  # out of the ledger
    till.earn(ANNA, amount=1000)
    push(till, token)
    assert hq.store.account(member)[1].balance == till.account(ANNA).ledger.balance


_made = iter(range(10**6))


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["earn", "earn", "redeem", "cancel", "refund"]),
            st.integers(1, 400),
        ),
        min_size=1,
        max_size=14,
    ),
    st.integers(1, 5),
)
def test_property_hqs_lots_are_the_tills_whatever_the_events_and_batches(
    make_synced_till, hq, steps, batch
):
    n = next(_made)
    till, token = make_synced_till(f"P{n}")
    phone = f"061{n:07d}"  # a mobile number of its own
    member = till.enroll(phone).member.member_id
    ref = MemberRef(phone=phone)
    for kind, size in steps:
        seq = till.journal.events.last_seq()
        try:
            if kind == "earn":
                till.earn(ref, amount=size * 100)
            elif kind == "redeem":
                till.redeem(ref, points=min(size, max(till.lookup(ref).spendable, 1)))
            else:  # a cancel or a refund of the newest event, if it is of that sort
                till.reverse(f"#{seq}", amount=size * 10 if kind == "refund" else None)
        except LoyaltyError:
            pass  # refused as a cashier would be: nothing written
        with Syncer(till.source, token=token, batch_size=batch, sleep=lambda s: None) as sync:
            sync.push()
        held = hq.store.account(member)
        assert held is not None
        own = till.account(ref).ledger
        assert by_id(held[1].lots) == by_id(own.lots)
        assert (held[1].balance, held[1].deficit) == (own.balance, own.deficit)
