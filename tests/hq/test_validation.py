"""HQ checks every pushed event by the rules the tills write them by (``rules.kinds``), not
only its chain: a terminal with a valid token cannot push an event no till would write. Each
such push is refused with 400 and one sentence, and nothing of the batch is kept."""

from __future__ import annotations

import uuid

import httpx
import msgspec
import pytest

from pos_loyalty import chain
from pos_loyalty.service import MemberRef
from sync.daemon import SyncStopped, wire_batch
from sync.protocol import API, PushRequest, WireEvent

from .conftest import sync

ANNA = MemberRef(phone="0612345678")
NOBODY = "0123456789ABCDEF"  # a member id in the right form that HQ never enrolled


def forged(till, **fields: object) -> WireEvent:
    """The event after the till's newest, with ``fields`` as given and a valid link in its
    chain and hash: what anyone holding the terminal's token could push."""
    [last] = wire_batch(till.journal, till.journal.events.last_seq() - 1, 1)
    detail = fields.pop("detail", {"lines": []})
    text = chain.canonical(detail)
    values = {name: getattr(last, name) for name in chain.FIELDS}
    values.update(seq=last.seq + 1, event_id=str(uuid.uuid4()), prev_hash=last.hash, amount=None)
    values.update(fields)
    values["currency"] = "EUR" if values["amount"] is not None else None
    digest = chain.event_hash({**values, "detail": detail}, text)
    values.pop("detail")
    return msgspec.structs.replace(last, **values, detail=text, hash=digest)


def push(hq, till, token: str, event: WireEvent) -> httpx.Response:
    request = PushRequest(
        till.journal.store_id, till.journal.terminal_id, till.journal.journal_id, [event]
    )
    return httpx.post(
        f"{hq.base}{API}/push",
        content=msgspec.json.encode(request),
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )


@pytest.fixture
def anna_synced(make_synced_till):
    """A till that enrolled Anna and sold her 100.00, all of it at HQ."""
    till, token = make_synced_till()
    member_id = till.enroll("0612345678", name="Anna").member.member_id
    till.earn(ANNA, amount=10000)
    sync(till, token)
    return till, token, member_id


HOSTILE = [
    ({"kind": "zzz", "points": 5}, "is of a kind no till writes (“zzz”)"),
    ({"kind": "expire", "points": -5}, "is of a kind no till writes (“expire”)"),
    (
        {"kind": "earn", "points": -500, "amount": 1000},
        "is a sale of -500 points; a sale's points are never below 0",
    ),
    ({"kind": "earn", "points": 5}, "is a sale without its amount"),
    (
        {"kind": "redeem", "points": 150},
        "is a redemption of +150 points; a redemption's points are always below 0",
    ),
    (
        {"kind": "enroll", "points": 1000, "phone": "+31687654321"},
        "is an enrolment of +1000 points; an enrolment's points are always 0",
    ),
    (
        {"kind": "adjust", "points": 2**53 - 1, "detail": {"approved_by": "M1"}},
        f"moves {2**53 - 1} points, beyond the 1000000000 one event may",
    ),
    (
        {"kind": "adjust", "points": 500, "detail": {"reason": "goodwill"}},
        "adjusts points without the id of the manager who approved it",
    ),
    (
        {"kind": "reverse", "points": -300, "ref_event_id": None, "detail": {"reverses": "earn"}},
        "reverses no event (it has no ref_event_id)",
    ),
    (
        {"kind": "reverse", "points": 80, "ref_event_id": "x", "detail": {"reverses": "earn"}},
        "is a refund of +80 points; a refund's points are never above 0",
    ),
    (
        # Above the program's 200-point limit for a reversal, with no manager named.
        {"kind": "reverse", "points": -300, "ref_event_id": "x", "detail": {"reverses": "earn"}},
        "reverses 300 points, above the 200-point limit, without the id of the manager who "
        "approved it",
    ),
    (
        {"kind": "earn", "points": 5, "amount": 10**13},
        "has an amount of 10000000000000 minor units, beyond 0 to 1000000000000",
    ),
    (
        {"kind": "earn", "points": 5, "amount": 500, "member_id": NOBODY},
        "names member 0123…, whom HQ has no enrolment of; HQ took none of the batch (if HQ was "
        "restored from a backup, the till that enrolled them must sync first)",
    ),
    (
        {"kind": "earn", "points": 5, "amount": 500, "member_id": None, "phone": "+31000000000"},
        "names a phone that is not a valid phone number in E.164",
    ),
    (
        {"kind": "earn", "points": 5, "amount": 500, "member_id": "not-an-id"},
        "names a member id that no till gives (16 letters and digits)",
    ),
    (
        {"kind": "earn", "points": 5, "amount": 500, "member_id": None, "phone": None},
        "names neither a member nor a phone",
    ),
]


@pytest.mark.parametrize(("fields", "why"), HOSTILE, ids=[w[:40] for _, w in HOSTILE])
def test_an_event_no_till_would_write_is_refused_and_nothing_is_kept(anna_synced, hq, fields, why):
    till, token, member_id = anna_synced
    before = (hq.store.event_count(), hq.store.account(member_id), hq.store.review())
    reply = push(hq, till, token, forged(till, **fields))
    assert reply.status_code == 400, reply.text
    error = reply.json()["error"]
    assert error["code"] == "invalid"
    message = (
        f"Event #4 {why}."
        if why.startswith("names member")
        else (f"Event #4 {why}; HQ took none of the batch.")
    )
    assert error["message"] == message
    assert (hq.store.event_count(), hq.store.account(member_id), hq.store.review()) == before
    totals = httpx.get(
        f"{hq.base}{API}/totals",
        params={"since": "2000-01-01T00:00:00.000Z", "until": "2100-01-01T00:00:00.000Z"},
        headers={"authorization": f"Bearer {token}"},
    ).json()
    assert set(totals["chain"]) <= {"enroll", "earn", "welcome_bonus"}, totals


def test_an_event_the_till_wrote_is_taken_after_a_refused_one(anna_synced, hq):
    """A refusal holds nothing up for good: the till's own next event is taken as usual."""
    till, token, member_id = anna_synced
    assert push(hq, till, token, forged(till, kind="zzz")).status_code == 400
    till.earn(ANNA, amount=2000)
    sync(till, token)
    assert hq.store.account(member_id)[1].balance == 50 + 100 + 20


def test_a_balance_beyond_what_a_till_can_count_is_refused(anna_synced, hq):
    till, token, member_id = anna_synced
    big = 10**9 - 1  # within what one adjustment may move; a few thousand of them are not
    with hq.store.db.transaction() as tx:
        row = tx.one("SELECT ledger FROM accounts WHERE member_key = ?", (member_id,))
        ledger = row[0].replace('"booked":150', f'"booked":{chain.SAFE_INTEGER - 10}')
        tx.run("UPDATE accounts SET ledger = ? WHERE member_key = ?", (ledger, member_id))
    event = forged(till, kind="adjust", points=big, detail={"approved_by": "M1", "lot": {}})
    reply = push(hq, till, token, event)
    assert reply.status_code == 400, reply.text
    assert reply.json()["error"]["message"] == (
        f"This batch would take a balance beyond {chain.SAFE_INTEGER} points, more than any "
        "till can count; HQ took none of it."
    )
    assert hq.store.event_count() == 3


def test_a_card_scanned_before_its_enrolment_reached_hq_waits_for_it(make_synced_till, hq):
    """T1 enrolled Bob and has not synced; T2 took Bob's card offline. HQ refuses T2's sale
    until it holds Bob's enrolment, T2's sync says why, and takes it once T1 has synced."""
    one, token_one = make_synced_till("T1")
    two, token_two = make_synced_till("T2")
    bob = one.enroll("0687654321", name="Bob").member
    two.earn(MemberRef(code=bob.code), amount=3000)
    with pytest.raises(SyncStopped, match=f"names member {bob.member_id[:4]}…, whom HQ has no"):
        sync(two, token_two)
    assert hq.store.event_count() == 0
    sync(one, token_one)
    sync(two, token_two)
    assert hq.store.account(bob.member_id)[1].balance == 50 + 30
