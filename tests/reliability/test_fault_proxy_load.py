"""Proof 3: events from 3 tills of 2 stores reach a real HQ (SQLite and PostgreSQL) through
the fault proxy (dropped requests and replies, delays, cut replies, resets, 503s): each is
applied once, and every member's balance at HQ is exactly the sum of their events at the
tills. POS_LOYALTY_EVENTS sets how many events (about 600)."""

from __future__ import annotations

import random
import time
from collections import Counter

from pos_loyalty.errors import LoyaltyError
from pos_loyalty.service import MemberRef, Till
from sync.daemon import Syncer
from sync.fault_proxy import FAULTS

from .conftest import size

TILLS = (("T1", "AMS-01"), ("T2", "AMS-01"), ("T1", "UTR-01"))
PER_ROUND = 10  # operations of each till between two syncs


def work(till: Till, rng: random.Random, phones: list[str]) -> None:
    """A few sales and spends at one till, on members of the whole chain."""
    members = [r[0] for r in till.journal.conn.execute("SELECT member_id FROM members")]
    for _ in range(PER_ROUND):
        try:
            if not members or rng.random() < 0.1:
                phone = f"0612{len(phones):06d}"
                phones.append(phone)
                members.append(till.enroll(phone).member.member_id)
            elif rng.random() < 0.8:
                till.earn(MemberRef(member_id=rng.choice(members)), amount=rng.randrange(100, 9000))
            else:
                till.redeem(MemberRef(member_id=rng.choice(members)), points=rng.randrange(1, 40))
        except LoyaltyError:
            pass  # a refusal (not enough points) writes nothing, as at a real till


def synced(till: Till, token: str, rng: random.Random, proxy) -> int:
    """Sync one till, with 0 to 2 faults on its first connections; returns how many."""
    faults = rng.randrange(3) if rng.random() < 0.6 else 0
    if faults:
        proxy.inject(rng.choice(FAULTS), times=faults, seconds=0.05)
    with Syncer(till.source, token=token, sleep=lambda s: None) as syncer:
        syncer.push(attempts=20)
        syncer.pull(attempts=20)
    return faults


def journal_count(till: Till) -> int:
    return till.journal.conn.execute("SELECT count(*) FROM events").fetchone()[0]


def test_events_through_a_faulty_network_are_applied_once_with_exact_balances(
    make_synced_till, hq, proxy, clock
):
    wanted = size("POS_LOYALTY_EVENTS", 600)
    rng = random.Random(wanted)
    tills = [make_synced_till(t, s, url=proxy.url) for t, s in TILLS]
    phones: list[str] = []
    faults = 0
    started = time.monotonic()
    while sum(journal_count(till) for till, _ in tills) < wanted:
        for till, token in tills:
            work(till, rng, phones)
            faults += synced(till, token, rng, proxy)
        clock.advance(days=1)  # a day per round: velocity checks count per member per day
    for till, token in tills:  # the network heals; each till drains what it still holds
        with Syncer(till.source, token=token, sleep=lambda s: None) as syncer:
            syncer.push()
    elapsed = time.monotonic() - started

    points: Counter[str] = Counter()
    ids: list[str] = []
    for till, _ in tills:
        assert till.queue().unsynced == 0
        for event_id, member_id, value in till.journal.conn.execute(
            "SELECT event_id, member_id, points FROM events"
        ):
            ids.append(event_id)
            points[member_id] += value
    with hq.store.db.transaction() as tx:
        twice = tx.all("SELECT event_id FROM events GROUP BY event_id HAVING count(*) > 1")
    assert twice == [] and hq.store.event_count() == len(ids) == len(set(ids))
    for member_id, balance in points.items():
        assert hq.store.account(member_id)[1].balance == balance, member_id
    print(
        f"\n{hq.store.db.kind}: {len(ids)} events, {len(points)} members, "
        f"{faults} faults in {proxy.served} connections through the proxy, {elapsed:.0f} s"
    )
