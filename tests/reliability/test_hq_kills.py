"""Proof 2: `hq serve` SIGKILLed while a till pushes, on SQLite and on PostgreSQL, keeps no
half batch: after every kill HQ holds the till's events 1..k with no gap, every account equal
to the sum of the events HQ holds for it, and nothing the till was told is held is missing;
brought back on the same database, HQ takes the rest once. POS_LOYALTY_HQ_KILLS sets the
number of kills per backend (5)."""

from __future__ import annotations

import contextlib
import random
import signal
import threading
import time
from pathlib import Path

import pytest
from hq.conftest import _postgres_database
from hq.test_cli_sync import free_port, run, start_hq

from pos_loyalty import config as config_mod
from pos_loyalty.errors import LoyaltyError
from pos_loyalty.service import MemberRef, Till
from sync.daemon import Syncer
from sync.hq.commands import open_store

from .conftest import size, till_text

PER_ROUND = 60  # events written between two kills
BATCH = 20  # events per push: a round is several batches


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path):
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'hq.db'}"
    else:
        yield from _postgres_database()


def held(db_url: str) -> tuple[list[int], dict[str, int], dict[str, int]]:
    """What HQ's database holds, read while no HQ runs: T1's seqs in order, each member's
    points summed over the events HQ holds, and each account's balance."""
    store = open_store(db_url, create=False)
    try:
        with store.db.transaction() as tx:
            seqs = [
                int(r[0])
                for r in tx.all("SELECT seq FROM events WHERE terminal_id = 'T1' ORDER BY seq")
            ]
            sums = dict(tx.all("SELECT member_key, sum(points) FROM events GROUP BY member_key"))
            keys = [r[0] for r in tx.all("SELECT member_key FROM accounts")]
        balances = {}
        for key in keys:
            found = store.account(key)
            assert found is not None
            balances[key] = found[1].balance
        return seqs, {k: int(v) for k, v in sums.items()}, balances
    finally:
        store.db.close()


def work(till: Till, rng: random.Random, members: list[str]) -> None:
    while len(members) < 5 or rng.random() < 0.05:
        members.append(till.enroll(f"0612{len(members):06d}").member.member_id)
    for _ in range(PER_ROUND):
        ref = MemberRef(member_id=rng.choice(members))
        try:
            if rng.random() < 0.8:
                till.earn(ref, amount=rng.randrange(100, 9000))
            else:
                till.redeem(ref, points=rng.randrange(1, 30))
        except LoyaltyError:
            pass  # not enough points: refused, nothing written


def push(loaded, token: str) -> None:
    syncer = Syncer(loaded, token=token, batch_size=BATCH, sleep=lambda s: None)
    # HQ going down under it is refused in a sentence; the till keeps the rest.
    with syncer, contextlib.suppress(LoyaltyError):
        syncer.push(attempts=1)


def test_hq_killed_mid_push_keeps_no_half_batch(tmp_path: Path, db_url: str):
    kills = size("POS_LOYALTY_HQ_KILLS", 5)
    rng = random.Random(kills)
    token_file = tmp_path / "hq.token"
    added = run(
        "hq",
        "add-terminal",
        "--db",
        db_url,
        "--store",
        "AMS-01",
        "--terminal",
        "T1",
        "--token-file",
        str(token_file),
    )
    assert added.returncode == 0, added.stderr
    token = token_file.read_text().strip()
    port = free_port()
    config = tmp_path / "till.toml"
    config.write_text(till_text(f"http://127.0.0.1:{port}", velocity_max_per_day=10000))
    members: list[str] = []
    mid_push, started = 0, time.monotonic()
    loaded = config_mod.load(str(config))
    with Till.open(loaded, create=True) as till:
        for _ in range(kills):
            work(till, rng, members)
            before = len(held(db_url)[0])
            hq = start_hq(db_url, port, "--expire-every", "0")
            pushing = threading.Thread(target=push, args=(loaded, token))
            pushing.start()
            time.sleep(rng.uniform(0.0, 0.25))
            hq.send_signal(signal.SIGKILL)
            hq.communicate()
            pushing.join(timeout=60)
            assert not pushing.is_alive()
            seqs, sums, balances = held(db_url)
            assert seqs == list(range(1, len(seqs) + 1))  # no gap: no half batch
            assert balances == sums  # every account is the events HQ holds for it
            acked = till.journal.events.outbox().acked_seq
            assert acked <= len(seqs)  # what HQ acknowledged, it kept
            mid_push += before < len(seqs) < till.journal.events.last_seq()
        hq = start_hq(db_url, port, "--expire-every", "0")  # back: the rest goes, once
        try:
            push(loaded, token)
        finally:
            hq.send_signal(signal.SIGTERM)
            hq.communicate(timeout=30)
        journal = dict(
            till.journal.conn.execute(
                "SELECT member_id, sum(points) FROM events GROUP BY member_id"
            ).fetchall()
        )
        events = till.journal.events.last_seq()
        assert till.journal.events.outbox().acked_seq == events
    seqs, sums, balances = held(db_url)
    assert seqs == list(range(1, events + 1))
    assert balances == sums == journal
    print(
        f"\n{db_url.split(':')[0]}: {kills} kills, {mid_push} mid-push, {events} events, "
        f"{time.monotonic() - started:.0f} s"
    )
