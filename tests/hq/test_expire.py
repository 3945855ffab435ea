"""HQ's expiry: points past their lot's expiry, or all of a member's after too long without
activity, taken as `expire` events of HQ's own chain, folded like any till's, and heard of
by every till from the directory."""

from __future__ import annotations

import msgspec
import pytest

from pos_loyalty.errors import NotAllowed
from pos_loyalty.service import MemberRef
from sync.hq.commands import load_program
from sync.hq.db import connect
from sync.hq.store import HQStore

from .conftest import Served, sync

ANNA = MemberRef(phone="0612345678")


@pytest.fixture
def expiring_hq(hq, clock):
    """HQ with a program whose lots expire after a month, or after two months idle."""
    program = msgspec.structs.replace(
        load_program(None), lot_expiry_months=1, inactivity_expiry_months=2
    )
    store = HQStore(connect(hq.url), program, clock=clock)
    with Served(store) as served:
        yield store, f"http://127.0.0.1:{served.port}"
    store.db.close()


def test_expired_lots_go_as_hq_events_and_reach_the_till(make_synced_till, expiring_hq, clock):
    store, base = expiring_hq
    till, token = make_synced_till(url=base, lot_expiry_months=1)
    member = till.enroll("0612345678").member  # 50 welcome points, a lot of their own
    clock.advance(days=21)  # a Wednesday again: no promotion
    till.earn(ANNA, amount=10000)  # 100 points, expiring in a month
    sync(till, token)
    assert store.expire() == (0, 0)  # nothing due yet
    clock.advance(days=15)  # the welcome lot is past its month, the sale's is not
    assert store.expire() == (1, 50)
    assert store.expire() == (0, 0)  # run again: nothing expires twice
    assert store.account(member.member_id)[1].balance == 100
    sync(till, token)
    view = till.lookup(ANNA)
    assert (view.balance, view.confirmed, view.pending) == (100, 100, 0)
    [hq_chain] = [c for c in store.verify() if c[0] == "HQ"]
    assert hq_chain == ("HQ", "HQ", 1, None)  # HQ's own chain, intact


def test_a_member_idle_too_long_loses_every_point(make_synced_till, expiring_hq, clock):
    store, base = expiring_hq
    till, token = make_synced_till(url=base)  # the till's lots never expire on their own
    member = till.enroll("0612345678").member
    till.earn(ANNA, amount=10000)
    sync(till, token)
    clock.advance(days=62)
    assert store.expire() == (1, 150)
    assert store.account(member.member_id)[1].balance == 0
    sync(till, token)
    assert till.lookup(ANNA).balance == 0


def test_hqs_own_store_id_cannot_be_provisioned(hq):
    with pytest.raises(NotAllowed, match="HQ's own records"):
        hq.store.add_terminal("HQ", "T1")


def test_hq_expire_from_the_command_line(tmp_path):
    from .test_cli_sync import run

    db = f"sqlite:///{tmp_path / 'hq.db'}"
    assert run("hq", "add-terminal", "--db", db, "--store", "A", "--terminal", "T1").returncode == 0
    done = run("hq", "expire", "--db", db)
    assert (done.returncode, done.stdout) == (0, "Nothing was due to expire.\n")
    as_json = run("hq", "expire", "--db", db, "--json")
    assert as_json.stdout.strip() == '{"accounts": 0, "points": 0}'
    bad = run("hq", "expire", "--db", db, "--program", str(tmp_path / "none.toml"))
    assert bad.returncode == 2 and "cannot be read" in bad.stdout + bad.stderr
