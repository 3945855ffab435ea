"""A till pushes its journal to the real HQ on loopback (SQLite and PostgreSQL): exactly-once
effect whatever is retried, the chain checked from the wire, credentials per terminal."""

from __future__ import annotations

import json

import httpx
import msgspec
import pytest

from pos_loyalty.service import MemberRef
from sync.daemon import Syncer, SyncStopped
from sync.protocol import API

ANNA = MemberRef(phone="0612345678")


def sync(till, token: str) -> object:
    with Syncer(till.source, token=token, sleep=lambda s: None) as syncer:
        return syncer.push()


def hq_balance(hq, member_id: str) -> int:
    held = hq.store.account(member_id)
    assert held is not None, "HQ does not know the member"
    return held[1].balance


def test_a_tills_events_reach_hq_and_fold_to_the_same_balance(make_synced_till, hq):
    till, token = make_synced_till()
    member = till.enroll("0612345678", name="Anna").member
    till.earn(ANNA, amount=12000)
    till.redeem(ANNA, reward_id="coffee")
    summary = sync(till, token)
    assert (summary.pushed, summary.duplicates, summary.acked_seq) == (4, 0, 4)
    assert till.queue().acked_seq == 4 and till.queue().unsynced == 0
    assert hq_balance(hq, member.member_id) == till.lookup(ANNA).balance == 50 + 120 - 150
    again = sync(till, token)
    assert (again.pushed, again.acked_seq) == (0, 4)  # nothing left to send


def test_a_lost_reply_resent_counts_once(make_synced_till, hq):
    till, token = make_synced_till()
    member = till.enroll("0612345678").member
    till.earn(ANNA, amount=10000)
    sync(till, token)
    with till.journal.writing():  # the reply was lost: the till never marked them sent
        till.journal.conn.execute("UPDATE outbox SET acked_seq = 0")
    summary = sync(till, token)
    assert (summary.pushed, summary.duplicates, summary.acked_seq) == (0, 3, 3)
    assert hq_balance(hq, member.member_id) == 150
    assert hq.store.event_count() == 3


def test_hq_restored_from_an_older_backup_asks_for_the_rest_and_gets_it(make_synced_till, hq):
    till, token = make_synced_till()
    till.enroll("0612345678")
    sync(till, token)  # HQ holds #1-#2
    till.earn(ANNA, amount=10000)
    with till.journal.writing():  # the till thinks HQ holds #3 too (HQ was restored)
        till.journal.conn.execute("UPDATE outbox SET acked_seq = 3")
    till.earn(ANNA, amount=2000)
    summary = sync(till, token)
    assert (summary.pushed, summary.acked_seq) == (2, 4)
    assert hq.store.event_count() == 4


def test_a_wrong_revoked_or_missing_token_is_refused(make_synced_till, hq):
    till, token = make_synced_till()
    till.enroll("0612345678")
    with pytest.raises(SyncStopped, match="Terminal credential rejected"):
        sync(till, "not-the-token")
    assert till.queue().last_error.startswith("Terminal credential rejected")
    assert till.queue().acked_seq == 0
    reply = httpx.post(f"{hq.base}{API}/push", content=b"{}")
    assert reply.status_code == 401
    assert reply.json() == {
        "error": {"code": "unauthorized", "message": "This request needs the terminal's token."}
    }
    # A wrong token hears 401 before anything about what it sent.
    for body in (b"not json", b"{}", b"x" * (3 * 1024 * 1024)):
        reply = httpx.post(
            f"{hq.base}{API}/push", content=body, headers={"authorization": "Bearer wrong"}
        )
        assert (reply.status_code, reply.json()["error"]["message"]) == (
            401,
            "That terminal token is wrong or was revoked.",
        )
    hq.store.revoke("AMS-01", "T1")
    with pytest.raises(SyncStopped, match="Terminal credential rejected"):
        sync(till, token)


def test_a_token_pushes_only_its_own_terminals_events(make_synced_till, hq):
    till, _ = make_synced_till("T1")
    _, other_token = make_synced_till("T2")
    till.enroll("0612345678")
    with pytest.raises(SyncStopped, match="Terminal credential rejected"):
        sync(till, other_token)  # T2's token, T1's events: 403
    assert hq.store.event_count() == 0


def test_a_replaced_journal_under_the_same_terminal_is_refused_until_provisioned_again(
    make_synced_till, hq, tmp_path
):
    till, token = make_synced_till()
    till.enroll("0612345678")
    sync(till, token)
    # The till is reinstalled: a new journal (new journal id) under the same terminal id.
    db = till.journal.path
    till.close()
    for suffix in ("", "-wal", "-shm"):
        db.with_name(db.name + suffix).unlink(missing_ok=True)
    from pos_loyalty.service import Till

    fresh = Till.open(till.source, create=True)
    fresh.enroll("0687654321")
    with pytest.raises(SyncStopped, match="provision it again"):
        sync(fresh, token)
    token = hq.store.add_terminal("AMS-01", "T1")  # an administrator provisions it again
    assert sync(fresh, token).acked_seq == 2
    fresh.close()


def test_a_tampered_event_is_a_conflict_kept_for_review_and_nothing_of_the_batch_applies(
    make_synced_till, hq
):
    till, token = make_synced_till()
    till.enroll("0612345678")
    till.earn(ANNA, amount=10000)
    db = till.journal.conn
    db.executescript(
        "DROP TRIGGER events_no_update; UPDATE events SET points = 9999 WHERE seq = 3;"
        "CREATE TRIGGER events_no_update BEFORE UPDATE ON events "
        "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;"
    )
    with pytest.raises(SyncStopped, match="does not match its hash"):
        sync(till, token)
    assert hq.store.event_count() == 0  # the good events of that batch were not applied
    [(store, terminal, seq, _, reason, _)] = hq.store.review()
    assert (store, terminal, seq) == ("AMS-01", "T1", 3) and reason.startswith("conflict")


def test_bad_requests_get_one_sentence_and_a_4xx(make_synced_till, hq):
    _, token = make_synced_till()
    auth = {"authorization": f"Bearer {token}", "content-type": "application/json"}
    deep = b"[" * 100_000 + b"]" * 100_000  # past any parser's stack
    for body, status, media in (
        (b"not json", 400, "application/json"),
        (json.dumps({"store_id": "AMS-01"}).encode(), 400, "application/json"),
        (b"x" * (3 * 1024 * 1024), 413, "application/json"),
        (deep, 400, "application/json"),
        (b'{"store_id": ' + deep[:1_000_000] + b"}", 400, "application/json; charset=utf-8"),
        (json.dumps({"store_id": "AMS-01"}).encode(), 415, "text/plain"),
        (b"store_id=AMS-01", 415, "application/x-www-form-urlencoded"),
        (b"{}", 415, ""),
    ):
        headers = (
            {**auth, "content-type": media} if media else {"authorization": auth["authorization"]}
        )
        reply = httpx.post(f"{hq.base}{API}/push", content=body, headers=headers)
        assert reply.status_code == status, reply.text
        message = reply.json()["error"]["message"]
        assert message.endswith(".") and "\n" not in message
    assert hq.store.event_count() == 0
    assert httpx.get(f"{hq.base}/nowhere").status_code == 404
    health = httpx.get(f"{hq.base}{API}/health").json()
    assert health["status"] == "ok" and health["database"] in ("sqlite", "postgresql")
    assert httpx.get(f"{hq.base}{API}/openapi.json").json()["openapi"].startswith("3.")


def test_two_tills_redeeming_one_member_offline_are_flagged_for_review(make_synced_till, hq):
    one, token_one = make_synced_till("T1")
    two, token_two = make_synced_till("T2")
    member = one.enroll("0612345678").member
    one.earn(ANNA, amount=10000)
    sync(one, token_one)
    # T2 learns of Anna only by her code, offline: both tills let her spend the same points.
    code = MemberRef(code=member.code)
    two.earn(code, amount=10000)
    one.redeem(ANNA, points=150)
    two.redeem(code, points=100)
    sync(one, token_one)
    sync(two, token_two)
    assert hq_balance(hq, member.member_id) == 50 + 100 - 150 + 100 - 100
    reasons = [row[4] for row in hq.store.review()]
    assert reasons == [] or set(reasons) == {"overdraft"}


def test_the_openapi_copy_in_docs_is_what_hq_serves(hq):
    from pathlib import Path

    served = httpx.get(f"{hq.base}{API}/openapi.json").json()
    copy = json.loads((Path(__file__).parents[2] / "docs" / "openapi.json").read_text())
    assert copy == served, "run `pos-loyalty hq openapi > docs/openapi.json`"


def test_hq_verify_recomputes_every_terminals_chain_and_finds_an_altered_event(
    make_synced_till, hq
):
    one, token_one = make_synced_till("T1")
    two, token_two = make_synced_till("T2")
    one.enroll("0612345678")
    one.earn(ANNA, amount=1000)
    two.enroll("0687654321")
    sync(one, token_one)
    sync(two, token_two)
    assert hq.store.verify() == [("AMS-01", "T1", 3, None), ("AMS-01", "T2", 2, None)]
    with hq.store.db.transaction() as tx:  # someone edits HQ's database by hand
        tx.run("UPDATE events SET points = 5000 WHERE terminal_id = 'T1' AND seq = 3")
    [(_, _, checked, problem), intact] = hq.store.verify()
    assert checked == 2 and "does not match its hash" in problem
    assert intact == ("AMS-01", "T2", 2, None)


def test_a_batch_after_a_gap_is_refused_with_the_seq_hq_expects(make_synced_till, hq):
    till, token = make_synced_till()
    till.enroll("0612345678")
    till.earn(ANNA, amount=10000)
    sync(till, token)  # HQ holds #1-#3
    till.earn(ANNA, amount=2000)
    till.earn(ANNA, amount=3000)
    from sync.daemon import wire_batch  # what the daemon sends
    from sync.protocol import PushRequest

    late = PushRequest("AMS-01", "T1", till.journal.journal_id, wire_batch(till.journal, 4, 1))
    reply = httpx.post(
        f"{hq.base}{API}/push",
        content=msgspec.json.encode(late),
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )
    assert reply.status_code == 409
    assert reply.json()["error"] == {
        "code": "gap",
        "message": "HQ holds this terminal's events up to #3; send from #4.",
        "expected_seq": 4,
    }
    assert hq.store.event_count() == 3
    assert sync(till, token).acked_seq == 5  # the daemon sends from #4, as asked


def test_a_fork_of_the_tills_chain_is_a_conflict_never_an_overwrite(make_synced_till, hq, tmp_path):
    """The till restored from a copy of its journal, and then a different sale at a seq HQ
    already holds: both versions are kept for review and HQ's stays."""
    import shutil

    till, token = make_synced_till()
    member = till.enroll("0612345678").member
    path = till.journal.path
    till.journal.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # the copy holds it all
    shutil.copy(path, tmp_path / "copy.db")
    till.earn(ANNA, amount=10000)  # #3: a sale of 100.00
    sync(till, token)
    till.close()
    shutil.copy(tmp_path / "copy.db", path)  # restored: #3 is not there
    from pos_loyalty.service import Till

    restored = Till.open(till.source, clock=till.clock)
    restored.earn(ANNA, amount=5000)  # another #3
    with pytest.raises(SyncStopped, match="differs from the one HQ holds"):
        sync(restored, token)
    assert hq.store.event_count() == 3 and hq_balance(hq, member.member_id) == 150
    [(_, _, seq, _, reason, _)] = hq.store.review()
    assert seq == 3 and reason.startswith("conflict")
    restored.close()


def _by_hand(hq, till, token: str, events: list) -> httpx.Response:
    from sync.protocol import PushRequest

    request = PushRequest("AMS-01", "T1", till.journal.journal_id, events)
    return httpx.post(
        f"{hq.base}{API}/push",
        content=msgspec.json.encode(request),
        headers={"authorization": f"Bearer {token}", "content-type": "application/json"},
    )


def _with_id(event, event_id: str):
    """``event`` under another id, hashed again: a chain-valid event reusing an id."""
    from pos_loyalty import chain

    fields = {name: getattr(event, name) for name in chain.FIELDS}
    fields.update(event_id=event_id, detail=json.loads(event.detail))
    digest = chain.event_hash(fields, event.detail)
    return msgspec.structs.replace(event, event_id=event_id, hash=digest)


def test_an_event_reusing_the_id_of_one_hq_holds_is_a_conflict_not_a_second_sale(
    make_synced_till, hq
):
    from sync.daemon import wire_batch

    till, token = make_synced_till()
    member = till.enroll("0612345678").member
    till.earn(ANNA, amount=10000)
    sync(till, token)  # HQ holds #1-#3
    till.earn(ANNA, amount=2000)
    [second] = wire_batch(till.journal, 1, 1)
    [fourth] = wire_batch(till.journal, 3, 1)
    reply = _by_hand(hq, till, token, [_with_id(fourth, second.event_id)])
    assert reply.status_code == 409
    assert reply.json()["error"] == {
        "code": "conflict",
        "message": "Event #4 has the id of event #2 HQ already holds; both are kept for review.",
    }
    assert hq.store.event_count() == 3 and hq_balance(hq, member.member_id) == 150
    [(_, _, seq, event_id, reason, _)] = hq.store.review()
    assert (seq, event_id) == (4, second.event_id) and reason.startswith("conflict")
    assert sync(till, token).acked_seq == 4  # the till's own #4 is taken as it is
    assert hq_balance(hq, member.member_id) == 170


def test_one_id_twice_in_a_batch_is_a_conflict_and_none_of_the_batch_applies(make_synced_till, hq):
    from sync.daemon import wire_batch

    till, token = make_synced_till()
    till.enroll("0612345678")
    till.earn(ANNA, amount=10000)
    till.earn(ANNA, amount=2000)
    first, *middle, last = wire_batch(till.journal, 0, 4)
    reply = _by_hand(hq, till, token, [first, *middle, _with_id(last, middle[-1].event_id)])
    assert reply.status_code == 409
    assert reply.json()["error"]["message"] == (
        "Event #4 has the id of event #3 of the same batch; it is kept for review."
    )
    assert hq.store.event_count() == 0


def test_a_terminal_provisioned_again_refuses_the_old_journal_in_a_sentence(make_synced_till, hq):
    till, token = make_synced_till()
    till.enroll("0612345678")
    sync(till, token)
    again = hq.store.add_terminal("AMS-01", "T1")  # a new token and a new chain
    till.earn(ANNA, amount=1000)  # #3: HQ asks for #1 on, which it holds from before
    with pytest.raises(SyncStopped, match="is at HQ already, from before terminal T1 was"):
        sync(till, again)
    [(_, _, seq, _, reason, _)] = hq.store.review()
    assert seq == 1 and reason.startswith("conflict")
    assert hq.store.event_count() == 2  # nothing twice


def test_a_detail_nested_past_reason_is_refused_not_a_crash(make_synced_till, hq):
    from sync.daemon import wire_batch

    till, token = make_synced_till()
    till.enroll("0612345678")
    [first] = wire_batch(till.journal, 0, 1)
    deep = msgspec.structs.replace(first, detail="[" * 5000 + "]" * 5000)
    reply = _by_hand(hq, till, token, [deep])
    assert reply.status_code == 409
    assert reply.json()["error"]["message"] == (
        "Event #1's detail cannot be read as the journal writes it."
    )


def test_an_hq_older_than_its_database_refuses_to_start(hq):
    from pos_loyalty.errors import StorageError
    from sync.hq.store import HQStore

    with hq.store.db.transaction() as tx:
        tx.run("UPDATE hq_meta SET value = '99' WHERE key = 'schema_version'")
    with pytest.raises(StorageError, match="at schema 99, newer than this HQ's"):
        HQStore(hq.store.db, hq.store.program)
