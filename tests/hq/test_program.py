"""The program is HQ's: a till fetches the chain's program with its pull, keeps it in its
journal and earns by it from then on, offline too; events made under the old one still go."""

from __future__ import annotations

import httpx
import msgspec
import pytest

from pos_loyalty.rules.program import ruleset_version
from pos_loyalty.service import MemberRef, Till
from sync.daemon import Syncer, SyncStopped
from sync.hq.commands import load_program
from sync.hq.db import connect
from sync.hq.store import HQStore
from sync.protocol import API

from .conftest import Served
from .test_cli_sync import free_port

ANNA = MemberRef(phone="0612345678")


def chain_program(**changes: object):
    example = load_program(None)
    return msgspec.structs.replace(example, version=f"{example.version}.1", **changes)


@pytest.fixture
def double_points_hq(hq, clock):
    """A second HQ process on the same database, serving a program with double points."""
    store = HQStore(connect(hq.url), chain_program(points_per_unit=2), clock=clock)
    with Served(store) as served:
        yield store, f"http://127.0.0.1:{served.port}"
    store.db.close()


def test_a_program_change_reaches_the_till_and_is_kept_offline(
    make_synced_till, hq, double_points_hq, clock
):
    store, base = double_points_hq
    till, token = make_synced_till(url=base)
    assert till.program_in_use()["source"] == "config"
    till.enroll("0612345678")
    old = till.earn(ANNA, amount=10000)  # by the till's own program: 100 points
    assert old.event.points == 100
    with Syncer(till.source, token=token) as syncer:
        syncer.push()
        syncer.pull()  # fetches HQ's program too
        assert syncer.fetch_program() is False  # held already: not written again
    with Till.open(till.source, clock=clock) as again:
        used = again.program_in_use()
        assert (used["ruleset"], used["source"]) == (store.program_reply.ruleset, "hq")
        new = again.earn(ANNA, amount=10000)
        assert new.event.points == 200 and new.event.ruleset == store.program_reply.ruleset
        with Syncer(again.source, token=token) as syncer:
            syncer.push()
            syncer.pull()
        member = again.lookup(ANNA)
        assert member.balance == 50 + 100 + 200 == store.account(member.member_id)[1].balance
        assert member.pending == 0
    dead = till.source.path.read_text().replace(base, f"http://127.0.0.1:{free_port()}")
    till.source.path.write_text(dead)  # HQ gone: the till keeps earning by HQ's program
    from pos_loyalty import config as config_mod

    with Till.open(config_mod.load(str(till.source.path)), clock=clock) as offline:
        assert offline.earn(ANNA, amount=10000).event.points == 200


def test_a_program_the_till_cannot_use_is_refused_whole(make_synced_till, hq, clock):
    broken = chain_program(points_per_unit=0.0)  # HQ's own check would refuse it at start
    store = HQStore(connect(hq.url), broken, clock=clock)
    with Served(store) as served:
        till, token = make_synced_till(url=f"http://127.0.0.1:{served.port}")
        with Syncer(till.source, token=token) as syncer, pytest.raises(SyncStopped) as stopped:
            syncer.pull()
        assert "cannot be used here (program.points_per_unit" in stopped.value.message
        assert "keeps the program it has" in stopped.value.message
        assert till.journal.program.get() is None
    store.db.close()


def test_hq_serves_its_program_to_terminals_only(make_synced_till, hq):
    _, token = make_synced_till()
    assert httpx.get(f"{hq.base}{API}/program").status_code == 401
    auth = {"authorization": f"Bearer {token}"}
    reply = httpx.get(f"{hq.base}{API}/program", headers=auth)
    assert reply.status_code == 200
    assert reply.json()["ruleset"] == ruleset_version(load_program(None))
    assert httpx.get(f"{hq.base}{API}/program?x=1", headers=auth).status_code == 400
    with hq.store.db.transaction() as tx:
        assert tx.one("SELECT ruleset FROM programs")[0] == reply.json()["ruleset"]
