"""A member the till has not seen yet, looked up at HQ while the cashier waits, but only if
HQ answers at once; otherwise the till goes on as it does offline."""

from __future__ import annotations

import time

import httpx
import pytest

from pos_loyalty.errors import OfflineCapExceeded, UnknownMember
from pos_loyalty.members import member_code
from pos_loyalty.service import MemberRef
from sync.protocol import API
from sync.remote import HQRemote

from .conftest import sync

ANNA = MemberRef(phone="0612345678")


@pytest.fixture
def anna_elsewhere(make_synced_till):
    """Anna enrolled at T1 (50 + 100 points, at HQ); T2 synced before she existed."""
    one, token_one = make_synced_till("T1")
    two, token_two = make_synced_till("T2")
    sync(two, token_two)  # online, and empty
    member = one.enroll("0612345678", name="Anna").member
    one.earn(ANNA, amount=10000)
    sync(one, token_one)
    two.remote = HQRemote(two.source, token_two)
    return two, token_two, member


def test_a_member_enrolled_elsewhere_is_found_at_hq_at_once(anna_elsewhere, hq):
    two, _, member = anna_elsewhere
    view = two.lookup(ANNA)  # no pull in between: asked at HQ
    assert (view.member_id, view.name, view.balance, view.confirmed) == (
        member.member_id,
        "Anna",
        150,
        150,
    )
    spent = two.redeem(ANNA, reward_id="coffee")  # HQ's balance counts, not the offline cap's
    assert spent.member.balance == 0


def test_found_by_the_member_card_too(anna_elsewhere, hq):
    two, _, member = anna_elsewhere
    view = two.lookup(MemberRef(code=member_code(member.member_id)))
    assert (view.member_id, view.balance) == (member.member_id, 150)


def test_hq_slower_than_the_lookup_timeout_is_not_waited_for(anna_elsewhere, hq, proxy):
    two, token_two, _ = anna_elsewhere
    text = two.source.path.read_text().replace(hq.base, proxy.url)
    two.source.path.write_text(text)
    from pos_loyalty import config as config_mod

    two.remote = HQRemote(config_mod.load(str(two.source.path)), token_two)
    proxy.inject("delay", times=2, seconds=3.0)
    started = time.monotonic()
    with pytest.raises(UnknownMember):
        two.lookup(ANNA)
    assert time.monotonic() - started < 1.5  # the till went on as offline
    earned = two.earn(ANNA, amount=1000)  # and may earn against the phone, as offline
    assert earned.event.member_id is None


def test_an_offline_till_does_not_ask(anna_elsewhere, hq):
    two, _, _ = anna_elsewhere
    with two.journal.writing():  # the last sync failed: offline
        two.journal.events.sync_failed("HQ cannot be reached.", "2026-11-25T10:00:00.000Z")
    with pytest.raises(UnknownMember):
        two.lookup(ANNA)


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("members/nope", 400),
        ("members/0000000000000000", 404),
        ("phones/0612345678", 400),
        ("phones/%2B31600000000", 404),
    ],
)
def test_hq_answers_a_member_lookup_plainly(anna_elsewhere, hq, path, status):
    _, token_two, _ = anna_elsewhere
    auth = {"authorization": f"Bearer {token_two}"}
    reply = httpx.get(f"{hq.base}{API}/{path}", headers=auth)
    assert reply.status_code == status and reply.json()["error"]["message"].endswith(".")


def test_over_the_offline_cap_hqs_word_asked_then_lets_the_spend_without_a_manager(
    make_synced_till, hq, proxy
):
    till, token = make_synced_till(offline_redeem_cap=200)
    till.enroll("0612345678")
    till.earn(ANNA, amount=100000)  # 1050 points
    sync(till, token)
    till.remote = HQRemote(till.source, token)
    assert till.lookup(ANNA).can_redeem_now == 200
    spent = till.redeem(ANNA, points=800)  # over the cap: HQ answers with the balance
    assert spent.member.balance == 250
    assert spent.event.detail["checked_with_hq"] is True
    assert "approval" not in spent.event.detail
    # HQ not answering: the cap holds, and a manager may approve more.
    text = till.source.path.read_text().replace(hq.base, proxy.url)
    till.source.path.write_text(text)
    from pos_loyalty import config as config_mod

    till.remote = HQRemote(config_mod.load(str(till.source.path)), token)
    proxy.inject("delay", times=2, seconds=3.0)
    with pytest.raises(OfflineCapExceeded, match="without HQ's word on the balance"):
        till.redeem(ANNA, points=201)
    assert till.lookup(ANNA).balance == 250  # nothing written
