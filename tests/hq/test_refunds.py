"""A sale made at one till refunded at another: through HQ, which alone knows what is left of
it chain-wide; offline, the till says plainly that it needs HQ for another till's sale."""

from __future__ import annotations

import httpx
import pytest

from pos_loyalty.errors import AlreadyReversed, BadAmount, UnknownEvent
from pos_loyalty.remote import NeedsHQ
from pos_loyalty.service import MemberRef
from sync.protocol import API
from sync.remote import HQRemote

from .conftest import sync
from .test_cli_sync import free_port

ANNA = MemberRef(phone="0612345678")


@pytest.fixture
def two_tills(make_synced_till):
    """T1 sold Anna 100.00 (100 points, after her 50 welcome points) and synced; T2 has
    heard of neither."""
    one, token_one = make_synced_till("T1")
    two, token_two = make_synced_till("T2")
    one.enroll("0612345678", name="Anna")
    sale = one.earn(ANNA, amount=10000).event
    sync(one, token_one)
    one.remote = HQRemote(one.source, token_one)
    two.remote = HQRemote(two.source, token_two)
    return one, token_one, two, token_two, sale


def test_a_sale_is_refunded_at_another_till_by_its_receipt_ref(two_tills, hq):
    one, token_one, two, token_two, sale = two_tills
    refund = two.reverse(f"T1-{sale.seq}", amount=4000)  # the receipt says "Ref T1-2"
    assert refund.event.points == -40 and refund.event.ref_event_id == sale.event_id
    assert refund.event.lines == [f"Refund 40.00 EUR of sale T1-{sale.seq} = -40"]
    assert two.lookup(ANNA).balance == 110  # T2 learned Anna from HQ with the lookup
    sync(two, token_two)
    sync(one, token_one)
    member_id = one.lookup(ANNA).member_id
    assert hq.store.account(member_id)[1].balance == 110
    assert one.lookup(ANNA).balance == 110
    # What is left is known chain-wide: T1 cannot refund more than the 60.00 left.
    with pytest.raises(BadAmount, match="Only 60.00 EUR of that sale is left"):
        one.reverse(str(sale.seq), amount=6001)
    rest = one.reverse(str(sale.seq))
    assert (rest.event.points, rest.event.amount) == (-60, 6000)
    sync(one, token_one)
    with pytest.raises(AlreadyReversed):
        two.reverse(sale.event_id)  # by its id, too


def test_a_redemption_at_another_till_is_cancelled_once(two_tills, hq):
    one, token_one, two, token_two, _ = two_tills
    coffee = one.redeem(ANNA, reward_id="coffee").event
    sync(one, token_one)
    cancel = two.reverse(f"T1-{coffee.seq}")
    assert cancel.event.points == 150 and two.lookup(ANNA).balance == 150
    sync(two, token_two)
    with pytest.raises(AlreadyReversed, match=f"T1-{coffee.seq}"):
        two.reverse(f"T1-{coffee.seq}")


def test_offline_another_tills_sale_needs_hq_in_one_sentence(two_tills, hq):
    _, _, two, token_two, sale = two_tills
    text = two.source.path.read_text().replace(hq.base, f"http://127.0.0.1:{free_port()}")
    two.source.path.write_text(text)
    from pos_loyalty import config as config_mod

    two.remote = HQRemote(config_mod.load(str(two.source.path)), token_two)
    before = two.journal.events.last_seq()
    with pytest.raises(NeedsHQ) as needs:
        two.reverse(f"T1-{sale.seq}")
    assert needs.value.message == (
        f"T1-{sale.seq} was made at another till; reversing it needs HQ, which cannot be "
        "reached now."
    )
    two.remote = None
    with pytest.raises(NeedsHQ, match="this till has no HQ configured"):
        two.reverse(f"T1-{sale.seq}")
    assert two.journal.events.last_seq() == before  # nothing written


def test_an_event_hq_does_not_hold_is_unknown(two_tills, hq):
    two = two_tills[2]
    with pytest.raises(UnknownEvent, match="No event T1-99 here or at HQ"):
        two.reverse("T1-99")
    with pytest.raises(UnknownEvent, match="in this till's journal"):
        two.reverse("99")  # a bare number is this till's own seq
    with pytest.raises(UnknownEvent):
        two.reverse("T1-x")


@pytest.mark.parametrize(
    "path",
    [
        "events/nope",
        "events/00000000-0000-4000-8000-000000000000?x=1",
        "terminals/T1/events/0",
        "terminals/T1/events/x",
        "terminals/-T1/events/2",
    ],
)
def test_hq_refuses_an_event_lookup_it_cannot_read(two_tills, hq, path):
    token_two = two_tills[3]
    auth = {"authorization": f"Bearer {token_two}"}
    reply = httpx.get(f"{hq.base}{API}/{path}", headers=auth)
    assert reply.status_code == 400 and reply.json()["error"]["message"].endswith(".")


def test_hq_finds_an_event_only_among_its_own(two_tills, hq):
    _, _, _, token_two, sale = two_tills
    auth = {"authorization": f"Bearer {token_two}"}
    found = httpx.get(f"{hq.base}{API}/terminals/T1/events/{sale.seq}", headers=auth)
    assert found.status_code == 200 and found.json()["event"]["event_id"] == sale.event_id
    assert found.json()["member"]["through_seq"] == 0  # T2's view: none of its events
    by_id = httpx.get(f"{hq.base}{API}/events/{sale.event_id}", headers=auth)
    assert by_id.json() == found.json()
    missing = f"{hq.base}{API}/events/00000000-0000-4000-8000-000000000000"
    assert httpx.get(missing, headers=auth).status_code == 404
    assert httpx.get(f"{hq.base}{API}/terminals/T9/events/1", headers=auth).status_code == 404


@pytest.mark.parametrize("first", ["T1", "T2"])
def test_refunds_at_two_tills_never_take_back_more_than_the_sale_earned(
    make_synced_till, hq, first
):
    """A 200.00 sale (200 points) refunded 100 + 100 at T1 and 150 at T2, which asked HQ
    before T1's refunds reached it: whichever HQ hears first, the sale's refunds take 200
    points, and what is beyond them is kept and flagged for review."""
    one, token_one = make_synced_till("T1")
    two, token_two = make_synced_till("T2")
    member_id = one.enroll("0612345678", name="Anna").member.member_id
    sale = one.earn(ANNA, amount=20000).event
    sync(one, token_one)
    two.remote = HQRemote(two.source, token_two)
    mine = [one.reverse(str(sale.seq), amount=10000).event for _ in range(2)]
    theirs = two.reverse(f"T1-{sale.seq}", amount=15000, approval=None).event
    assert [e.points for e in mine] == [-100, -100] and theirs.points == -150
    tills = {"T1": (one, token_one), "T2": (two, token_two)}
    for name in (first, "T2" if first == "T1" else "T1"):
        sync(*tills[name])
    assert hq.store.account(member_id)[1].balance == 50 + 200 - 200
    flagged = [(row[1], row[4]) for row in hq.store.review()]
    excess = {"T1": [("T2", 150)], "T2": [("T1", 50), ("T1", 100)]}[first]
    assert flagged == [
        (
            till,
            f"over_reversal: {points} points beyond what event {sale.event_id} moved, not counted",
        )
        for till, points in excess
    ]
    sync(one, token_one)
    sync(two, token_two)
    assert one.lookup(ANNA).balance == two.lookup(ANNA).balance == 50
    # The day's figures count what the refunds took, as the accounts do.
    terminal = hq.store.terminal_for(token_one)
    totals = hq.store.totals(terminal, "2000-01-01T00:00:00.000Z", "2100-01-01T00:00:00.000Z")
    assert (totals.chain["reverse"].events, totals.chain["reverse"].points) == (3, -200)
