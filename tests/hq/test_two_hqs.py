"""HQ keeps no state in its processes: two `hq serve` processes on one database, each behind
its own till, pushing into the same members' accounts at the same time, lose nothing and
count nothing twice; two tills claiming one phone at once leave one account."""

from __future__ import annotations

import threading
from pathlib import Path

from conftest import Clock, config_text

from pos_loyalty import config as config_mod
from pos_loyalty.service import MemberRef, Till
from sync.daemon import Syncer
from sync.hq.commands import open_store

from .test_cli_sync import free_port, start_hq

MEMBERS = [f"06123456{n:02d}" for n in range(10)]


def open_till(folder: Path, terminal: str, port: int, clock: Clock) -> Till:
    folder.mkdir()
    text = config_text(velocity_max_per_day=0).replace('id = "T1"', f'id = "{terminal}"', 1)
    path = folder / "pos-loyalty.toml"
    path.write_text(text.replace('url = ""', f'url = "http://127.0.0.1:{port}"', 1))
    return Till.open(config_mod.load(str(path)), clock=clock, create=True)


def sync(till: Till, token: str, batch_size: int = 200) -> None:
    with Syncer(till.source, token=token, batch_size=batch_size) as syncer:
        syncer.push()
        syncer.pull()


def at_once(*jobs) -> None:
    start = threading.Barrier(len(jobs))
    failures: list[BaseException] = []

    def run(job) -> None:
        start.wait()
        try:
            job()
        except BaseException as exc:  # the test reports it, not the thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(job,)) for job in jobs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not failures, failures


def test_two_hq_processes_serve_two_tills_at_once(hq_url: str, tmp_path: Path, clock: Clock):
    ports = free_port(), free_port()
    servers = [start_hq(hq_url, port) for port in ports]
    store = open_store(hq_url)
    try:
        tokens = [store.add_terminal("AMS-01", t) for t in ("T1", "T2")]
        tills = [
            open_till(tmp_path / t, t, port, clock)
            for t, port in zip(("T1", "T2"), ports, strict=True)
        ]
        one, two = tills
        for phone in MEMBERS:
            one.enroll(phone)
        sync(one, tokens[0])
        sync(two, tokens[1])  # T2 knows the ten from HQ
        for till in tills:
            for round_ in range(20):
                for phone in MEMBERS:
                    till.earn(MemberRef(phone=phone), amount=1000 + round_)
        at_once(
            *(
                lambda t=t, k=k: sync(t, k, batch_size=25)
                for t, k in zip(tills, tokens, strict=True)
            )
        )
        for till, token in zip(tills, tokens, strict=True):
            sync(till, token)  # each hears the other's events
        assert store.event_count() == 20 + 2 * 20 * 10
        for phone in MEMBERS:
            views = [till.lookup(MemberRef(phone=phone)) for till in tills]
            assert views[0].balance == views[1].balance == 50 + 2 * 20 * 10
            assert views[0].pending == views[1].pending == 0
            assert store.account(views[0].member_id)[1].balance == views[0].balance
        assert all(problem is None for *_, problem in store.verify())

        # One phone, at once: T1 enrols it while T2 earns against it, through each HQ.
        for n in range(5):
            phone = f"06187654{n:02d}"
            one.enroll(phone)
            two.earn(MemberRef(phone=phone), amount=2000)
            at_once(*(lambda t=t, k=k: sync(t, k) for t, k in zip(tills, tokens, strict=True)))
        with store.db.transaction() as tx:
            left = tx.one("SELECT count(*) FROM accounts WHERE member_id IS NULL")
        assert left is not None and left[0] == 0  # every phone's points went to its member
        for till, token in zip(tills, tokens, strict=True):
            sync(till, token)
        for n in range(5):
            ref = MemberRef(phone=f"06187654{n:02d}")
            assert one.lookup(ref).balance == two.lookup(ref).balance == 50 + 20
        for till in tills:
            till.close()
    finally:
        store.db.close()
        for server in servers:
            server.kill()
            server.wait()
