"""One phone enrolled at two tills while both were offline: HQ merges the two enrolments
into one member (the one it heard of first), with the welcome bonus once, and every till
learns the merge from the directory and finds the member by either card or the phone."""

from __future__ import annotations

from pos_loyalty.members import member_code
from pos_loyalty.service import MemberRef
from sync.daemon import Syncer

from .conftest import sync

PHONE = "0612345678"

ANNA = MemberRef(phone=PHONE)


def push(till, token: str) -> None:
    with Syncer(till.source, token=token, sleep=lambda s: None) as syncer:
        syncer.push()


def pull(till, token: str) -> None:
    with Syncer(till.source, token=token, sleep=lambda s: None) as syncer:
        syncer.pull()


def test_two_offline_enrolments_of_one_phone_become_one_member(make_synced_till, hq):
    one, token_one = make_synced_till("T1")
    two, token_two = make_synced_till("T2")
    first = one.enroll(PHONE, name="Anna").member  # 50 welcome points
    one.earn(ANNA, amount=10000)  # +100
    second = two.enroll(PHONE, name="Anna B").member  # another 50 welcome points, offline
    two.earn(ANNA, amount=2000)  # +20
    sync(one, token_one)
    push(two, token_two)  # HQ merges T2's Anna into T1's
    late = two.earn(ANNA, amount=1000)  # +10, still under T2's own id: T2 has not pulled yet
    assert late.event.member_id == second.member_id
    pull(two, token_two)

    expected = 50 + 100 + 20 + 10  # one welcome bonus
    view = two.lookup(ANNA)
    assert view.member_id == first.member_id and view.name == "Anna"
    assert (view.balance, view.confirmed, view.pending) == (expected, expected - 10, 10)
    by_old_card = two.lookup(MemberRef(code=member_code(second.member_id)))
    assert (by_old_card.member_id, by_old_card.balance) == (first.member_id, expected)
    kinds = [e.kind for e in two.history(ANNA, limit=10)[1]]
    assert kinds.count("earn") == 2 and kinds.count("enroll") == 1  # T2's own, under Anna

    sync(two, token_two)
    sync(one, token_one)
    assert hq.store.account(first.member_id)[1].balance == expected
    for till in (one, two):
        view = till.lookup(ANNA)
        assert (view.member_id, view.balance, view.pending) == (first.member_id, expected, 0)
    again = two.earn(MemberRef(code=member_code(second.member_id)), amount=1000)
    assert again.event.member_id == first.member_id  # new events go to the one member
    assert two.z_report()[0].liability_points == expected + 10  # counted once, not twice
    with Syncer(two.source, token=token_two) as syncer:
        syncer.push()
        totals = syncer.totals("2026-11-25T00:00:00.000Z", "2026-11-26T00:00:00.000Z")
    assert (totals.members, totals.liability_points) == (1, expected + 10)
    bonuses = totals.chain["welcome_bonus"]  # both sent, the merged one's counted nothing
    assert (bonuses.events, bonuses.points) == (2, 50)
    reasons = sorted(row[4] for row in hq.store.review())
    assert reasons == ["bonus_once", "merged"]
