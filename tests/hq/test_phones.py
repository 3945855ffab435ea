"""Points earned against a phone no till had enrolled yet: HQ links them to the member who
enrols with that phone, whichever till earned them and in whatever order the pushes come."""

from __future__ import annotations

import pytest

from pos_loyalty.service import MemberRef

from .conftest import sync

PHONE = "0612345678"

ANNA = MemberRef(phone=PHONE)


def member_keys(hq) -> list[tuple[str, str | None]]:
    with hq.store.db.transaction() as tx:
        return [tuple(r) for r in tx.all("SELECT member_key, member_id FROM accounts")]


@pytest.mark.parametrize("batch_size", [200, 1])  # in one batch with the enrolment, or apart
def test_points_earned_on_a_phone_before_enrolling_stay_after_sync(
    make_synced_till, hq, batch_size
):
    till, token = make_synced_till()
    till.earn(ANNA, amount=900)  # 9 points on a phone this till does not know
    member = till.enroll(PHONE, name="Anna").member
    assert till.lookup(ANNA).balance == 59
    sync(till, token, batch_size)
    view = till.lookup(ANNA)
    assert (view.balance, view.confirmed, view.pending) == (59, 59, 0)
    assert member_keys(hq) == [(member.member_id, member.member_id)]  # no phone account left
    assert hq.store.account(member.member_id)[1].balance == 59
    with hq.store.db.transaction() as tx:
        keys = {r[0] for r in tx.all("SELECT DISTINCT member_key FROM events")}
    assert keys == {member.member_id}


@pytest.mark.parametrize("earner_first", [True, False])
def test_a_phone_earned_at_one_till_joins_the_member_enrolled_at_another(
    make_synced_till, hq, earner_first
):
    enrolling, token_a = make_synced_till("T1")
    earning, token_b = make_synced_till("T2")
    earning.earn(ANNA, amount=2000)  # T2 never heard of Anna: 20 points on her phone
    member = enrolling.enroll(PHONE, name="Anna").member
    order = [(earning, token_b), (enrolling, token_a)]
    for till, token in order if earner_first else reversed(order):
        sync(till, token)
    for till, token in order:
        sync(till, token)  # each hears HQ's word after both pushed
    assert hq.store.account(member.member_id)[1].balance == 70
    assert member_keys(hq) == [(member.member_id, member.member_id)]
    for till in (enrolling, earning):
        view = till.lookup(ANNA)
        assert (view.member_id, view.balance, view.confirmed, view.pending) == (
            member.member_id,
            70,
            70,
            0,
        )


def test_a_later_phone_only_earn_at_another_till_goes_to_the_member(make_synced_till, hq):
    enrolling, token_a = make_synced_till("T1")
    member = enrolling.enroll(PHONE).member
    sync(enrolling, token_a)
    other, token_b = make_synced_till("T2")
    other.earn(ANNA, amount=1000)  # before T2 pulled: it earns against the phone alone
    sync(other, token_b)
    assert hq.store.account(member.member_id)[1].balance == 60
    assert member_keys(hq) == [(member.member_id, member.member_id)]
    sync(enrolling, token_a)
    assert enrolling.lookup(ANNA).balance == 60
