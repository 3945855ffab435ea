"""HQ's word back to the tills: the directory of member changes, each member's account as
HQ folded it from every till, rebased under each till's own later events."""

from __future__ import annotations

import httpx

from pos_loyalty.service import MemberRef
from sync.daemon import Syncer
from sync.protocol import API

ANNA = MemberRef(phone="0612345678")


def sync(till, token: str) -> tuple[object, int]:
    with Syncer(till.source, token=token, sleep=lambda s: None) as syncer:
        return syncer.push(), syncer.pull()


def test_two_tills_of_a_store_see_each_others_points_through_hq(make_synced_till, hq):
    one, token_one = make_synced_till("T1")
    two, token_two = make_synced_till("T2")
    member = one.enroll("0612345678", name="Anna").member
    one.earn(ANNA, amount=30000)
    sync(one, token_one)
    _, learned = sync(two, token_two)
    assert learned == 1
    at_two = two.lookup(ANNA)  # T2 never saw Anna: it knows her from HQ's directory
    assert (at_two.member_id, at_two.name, at_two.balance) == (member.member_id, "Anna", 350)
    assert (at_two.confirmed, at_two.pending) == (350, 0)
    two.redeem(ANNA, reward_id="coffee")
    sync(two, token_two)
    sync(one, token_one)
    for till in (one, two):
        view = till.lookup(ANNA)
        assert (view.balance, view.confirmed, view.pending) == (200, 200, 0)
    assert hq.store.account(member.member_id)[1].balance == 200


def test_events_acknowledged_but_not_yet_in_hqs_word_count_once(make_synced_till, hq):
    till, token = make_synced_till()
    till.enroll("0612345678")
    sync(till, token)
    till.earn(ANNA, amount=10000)  # after HQ's word: pending until the next pull
    with Syncer(till.source, token=token) as syncer:
        syncer.push()  # acknowledged, HQ's word not pulled yet
        view = till.lookup(ANNA)
        assert (view.confirmed, view.pending, view.balance) == (50, 100, 150)
        syncer.pull()
    view = till.lookup(ANNA)
    assert (view.confirmed, view.pending, view.balance) == (150, 0, 150)


def test_hqs_confirmation_frees_the_offline_cap(make_synced_till, hq):
    till, token = make_synced_till(offline_redeem_cap=200)
    till.enroll("0612345678")
    till.earn(ANNA, amount=100000)
    till.redeem(ANNA, points=200)
    assert till.lookup(ANNA).offline_cap_room == 0
    sync(till, token)
    assert till.lookup(ANNA).offline_cap_room == 200  # HQ confirmed the spend


def test_the_directory_pages_and_refuses_a_bad_cursor(make_synced_till, hq):
    till, token = make_synced_till()
    for n in range(5):
        till.enroll(f"061234567{n}")
    sync(till, token)
    auth = {"authorization": f"Bearer {token}"}
    page = httpx.get(f"{hq.base}{API}/members?since=0&limit=2", headers=auth).json()
    assert (len(page["members"]), page["more"]) == (2, True)
    rest = httpx.get(f"{hq.base}{API}/members?since={page['next']}", headers=auth).json()
    assert len(rest["members"]) == 3 and rest["more"] is False
    bad = httpx.get(f"{hq.base}{API}/members?since=-1", headers=auth)
    assert bad.status_code == 400 and bad.json()["error"]["message"].endswith(".")
    assert httpx.get(f"{hq.base}{API}/members").status_code == 401


def test_the_daemon_gets_an_event_to_hq_within_a_second_and_runs_alone(make_synced_till, hq):
    import threading
    import time

    import pytest

    from sync.daemon import AlreadySyncing, run_daemon

    till, token = make_synced_till()
    stop = threading.Event()
    lines: list[str] = []
    daemon = threading.Thread(
        target=run_daemon,
        args=(till.source,),
        kwargs={"stop": stop, "token": token, "poll": 0.05, "on_change": lines.append},
    )
    daemon.start()
    try:
        deadline = time.monotonic() + 10
        while not lines and time.monotonic() < deadline:  # it holds the lock once it speaks
            time.sleep(0.01)
        second_stop = threading.Event()
        threading.Timer(3, second_stop.set).start()  # should it not refuse, do not hang
        with pytest.raises(AlreadySyncing, match="Another sync daemon is running"):
            run_daemon(till.source, stop=second_stop, token=token)
        latencies = []
        for n in range(5):
            committed = time.monotonic()
            till.earn(ANNA, amount=1000 + n) if n else till.enroll("0612345678")
            expected = till.journal.events.last_seq()
            while hq.store.event_count() < expected:
                assert time.monotonic() - committed < 5, "the daemon did not push"
                time.sleep(0.01)
            latencies.append(time.monotonic() - committed)
        assert max(latencies) < 1.0, latencies
        assert lines and lines[-1].startswith("online")
    finally:
        stop.set()
        daemon.join(10)
    assert not daemon.is_alive()


def test_a_till_keeping_its_stores_members_pulls_only_those(make_synced_till, hq):
    here, token_here = make_synced_till("T1", "AMS-01")
    there, token_there = make_synced_till("T1", "RTM-01")
    local = here.enroll("0612345678").member
    there.enroll("0687654321")  # a member of another store only
    sync(here, token_here)
    sync(there, token_there)
    path = here.source.path
    path.write_text(path.read_text().replace('directory = "all"', 'directory = "store"', 1))
    from pos_loyalty import config as config_mod

    with Syncer(config_mod.load(str(path)), token=token_here) as syncer:
        with syncer.journal.writing():
            syncer.journal.members.set_directory_cursor(0)
        syncer.pull()
    ids = {row[0] for row in here.journal.conn.execute("SELECT member_id FROM members")}
    assert ids == {local.member_id}
    auth = {"authorization": f"Bearer {token_here}"}
    assert httpx.get(f"{hq.base}{API}/members?scope=mine", headers=auth).status_code == 400


def views(hq, member_id: str, *tokens: str) -> list[int]:
    """What HQ's account of the member includes of each terminal's chain, in its view."""
    return [
        hq.store.find_member(hq.store.terminal_for(token), member_id=member_id)[0].through_seq
        for token in tokens
    ]


def test_what_an_account_includes_counts_only_for_the_terminals_current_chain(
    make_synced_till, hq, tmp_path
):
    old, token = make_synced_till()
    anna = old.enroll("0612345678").member.member_id
    old.earn(ANNA, amount=10000)
    sync(old, token)
    assert views(hq, anna, token) == [3]
    # The till is replaced by a new one, with a journal of its own, provisioned again.
    fresh, token = _reinstalled(old, hq)
    assert views(hq, anna, token) == [0]  # #3 of the old chain is not #3 of this one
    fresh.earn(ANNA, amount=2000)  # #1 of the new chain
    sync(fresh, token)
    assert views(hq, anna, token) == [1]
    view = fresh.lookup(ANNA)
    assert (view.balance, view.confirmed, view.pending) == (170, 170, 0)
    fresh.close()


def _reinstalled(till, hq):
    """The same terminal with a new, empty journal, provisioned again."""
    from pos_loyalty.service import Till

    db = till.journal.path
    till.close()
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    return Till.open(till.source, create=True), hq.store.add_terminal("AMS-01", "T1")


def test_an_hq_database_from_schema_3_keeps_what_each_account_includes(make_synced_till, hq):
    from sync.hq.store import HQStore

    from .conftest import as_schema_3

    one, token_one = make_synced_till("T1")
    two, token_two = make_synced_till("T2", "RTM-01")
    anna = one.enroll("0612345678").member.member_id
    one.earn(ANNA, amount=10000)
    sync(one, token_one)
    sync(two, token_two)
    two.earn(ANNA, amount=3000)
    sync(two, token_two)
    before = views(hq, anna, token_one, token_two)
    assert before == [3, 1]
    as_schema_3(hq.store)
    again = HQStore(hq.store.db, hq.store.program)
    assert views(hq, anna, token_one, token_two) == before
    with again.db.transaction() as tx:
        assert tx.one("SELECT value FROM hq_meta WHERE key = 'schema_version'") == ("4",)
        tables = (
            "sqlite_master WHERE type = 'table' AND name"
            if hq.url.startswith("sqlite")
            else "information_schema.tables WHERE table_name"
        )
        assert tx.one(f"SELECT count(*) FROM {tables} = 'account_terminals'") == (0,)
    two.earn(ANNA, amount=1000)
    sync(two, token_two)
    assert views(hq, anna, token_one, token_two) == [3, 2]
    bram = two.enroll("0687654321").member.member_id  # a member of RTM-01's only
    sync(two, token_two)
    assert store_members(hq, token_one) == {anna}
    assert store_members(hq, token_two) == {anna, bram}


def store_members(hq, token: str) -> set[str]:
    """Who the directory gives a till that keeps its store's members only."""
    snapshots, _ = hq.store.changes(hq.store.terminal_for(token), 0, 10, "store")
    return {s.member_id for s in snapshots}
