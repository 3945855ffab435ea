"""HQ ingest under load: many tills of several stores push their queues to one PostgreSQL HQ
at once, each till its own process, as when a chain's tills come back after an outage.
Prints the aggregate events/s next to one till's drain of the same events measured in the
same run, and the commit → acknowledged wait of sales made meanwhile at one more till
whose daemon runs.

    .venv/bin/python tests/bench/bench_ingest.py [--tills 50] [--events 2000] [--workers 1]

HQ runs as its own process (`pos-loyalty hq serve`), on the machine's PostgreSQL, in a
database made for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "tests" / "bench"))

from bench_sync import PG, make_till, record, start_hq  # noqa: E402

from pos_loyalty.journal import Journal  # noqa: E402
from pos_loyalty.service import MemberRef, Till  # noqa: E402
from sync.daemon import Syncer, run_daemon  # noqa: E402
from sync.hq.commands import open_store  # noqa: E402

TILLS_PER_STORE = 5
PROBE = ("PROBE", "T1")


def place(n: int) -> tuple[str, str]:
    """Till ``n``'s store and terminal: five tills a store."""
    return f"S{n // TILLS_PER_STORE:03d}", f"T{n % TILLS_PER_STORE + 1}"


def till(folder: Path, port: int, n: int) -> Till:
    folder.mkdir(exist_ok=True)
    return make_till(folder, port, *place(n))


def recorded(job: tuple[Path, int, int, int]) -> int:
    """Till ``n`` with about ``events`` queued events of members of its own."""
    folder, port, n, events = job
    with_queue = till(folder, port, n)
    record(with_queue, events, members=max(events // 20, 1), prefix=f"+3162{n:03d}")
    last = with_queue.journal.events.last_seq()
    with_queue.close()
    return last


def drain(folder: Path, port: int, n: int, token: str, ready: Barrier, out: Any) -> None:
    own = till(folder, port, n)
    with Syncer(own.source, token=token, batch_size=500) as syncer:
        ready.wait()
        start = time.perf_counter()
        summary = syncer.push()
        out.put((start, time.perf_counter(), summary.acked_seq))
    own.close()


def sales_meanwhile(probe: Till, busy: Callable[[], bool]) -> list[float]:
    """Commit → acknowledged of sales at ``probe``, one every 50 ms while ``busy()`` (and a
    second more), the cashier never waiting for HQ: each sale's wait is its own."""
    committed: dict[int, float] = {}
    acked: dict[int, float] = {}
    done = threading.Event()

    def watch() -> None:  # its own connection: SQLite's belong to the thread that made them
        watcher = Journal.open(probe.journal.path, store_id=PROBE[0], terminal_id=PROBE[1])
        while not done.is_set() or len(acked) < len(committed):
            upto, now = watcher.events.outbox().acked_seq, time.perf_counter()
            for seq in list(committed):
                if seq <= upto and seq not in acked:
                    acked[seq] = now
            time.sleep(0.002)
        watcher.close()

    acks = threading.Thread(target=watch)
    acks.start()
    calm = None
    while calm is None or time.perf_counter() < calm:
        probe.earn(MemberRef(phone="0612345678"), amount=1000 + len(committed))
        committed[probe.journal.events.last_seq()] = time.perf_counter()
        time.sleep(0.05)
        if calm is None and not busy():
            calm = time.perf_counter() + 1.0
    done.set()
    acks.join(60)
    return [acked[seq] - at for seq, at in committed.items()]


def storm(db: str, folder: Path, tills: int, events: int, workers: int) -> float:
    """All tills drain at once; the aggregate events/s."""
    hq, port = start_hq(db, "--workers", str(workers)) if workers > 1 else start_hq(db)
    try:
        store = open_store(db)
        tokens = [store.add_terminal(*place(n)) for n in range(tills)]
        probe_token = store.add_terminal(*PROBE)
        t0 = time.perf_counter()
        jobs = [(folder / f"t{n}", port, n, events) for n in range(tills)]
        with mp.Pool(os.cpu_count()) as pool:
            total = sum(pool.map(recorded, jobs))
        print(f"  (recorded {total:,} events at {tills} tills in {time.perf_counter() - t0:.0f} s)")
        (folder / "probe").mkdir()
        probe = make_till(folder / "probe", port, *PROBE)
        probe.enroll("0612345678")

        ready, out = mp.Barrier(tills + 1), mp.Queue()
        procs = [
            mp.Process(target=drain, args=(folder / f"t{n}", port, n, tokens[n], ready, out))
            for n in range(tills)
        ]
        for proc in procs:
            proc.start()
        stop = threading.Event()
        daemon = threading.Thread(
            target=run_daemon, args=(probe.source,), kwargs={"stop": stop, "token": probe_token}
        )
        daemon.start()
        ready.wait()
        waits = sales_meanwhile(probe, lambda: any(p.is_alive() for p in procs))
        done = [out.get(timeout=60) for _ in procs]
        for proc in procs:
            proc.join()
        stop.set()
        daemon.join()
        assert sum(d[2] for d in done) == total, "a till's queue was not all acknowledged"
        assert store.event_count() == total + probe.journal.events.last_seq()
        seconds = max(d[1] for d in done) - min(d[0] for d in done)
        aggregate = total / seconds
        slowest = max(d[1] - d[0] for d in done)
        print(
            f"  {tills} tills at once, {workers} HQ process{'es' if workers > 1 else ''}"
            f"   {aggregate:>9,.0f} events/s   ({seconds:.1f} s; slowest till {slowest:.1f} s)"
        )
        report(waits)
        probe.close()
        store.db.close()
        return aggregate
    finally:
        hq.kill()
        hq.wait()


def alone(db: str, folder: Path, events: int) -> float:
    """One till drains ``events`` events; its events/s."""
    hq, port = start_hq(db)
    try:
        store = open_store(db)
        token = store.add_terminal(*place(0))
        total = recorded((folder / "alone", port, 0, events))
        start = time.perf_counter()
        own = till(folder / "alone", port, 0)
        with Syncer(own.source, token=token, batch_size=500) as syncer:
            assert syncer.push().acked_seq == total
        seconds = time.perf_counter() - start
        own.close()
        store.db.close()
        print(
            f"  one till alone                {total / seconds:>9,.0f} events/s   ({seconds:.1f} s)"
        )
        return total / seconds
    finally:
        hq.kill()
        hq.wait()


def report(waits: list[float]) -> None:
    if os.environ.get("BENCH_VERBOSE"):
        print("  each wait, in order (ms):", " ".join(f"{w * 1000:.0f}" for w in waits))
    waits = sorted(waits)
    p50 = statistics.median(waits) * 1000
    p99 = waits[max(int(len(waits) * 0.99) - 1, 0)] * 1000
    print(
        f"  commit → acknowledged meanwhile   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms"
        f"   ({len(waits)} sales; goal p99 ≤ 1 s)"
    )


def fresh_database() -> str:
    import psycopg

    name = f"pos_loyalty_bench_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(f"{PG}/test", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    return name


def drop(name: str) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/test", autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tills", type=int, default=50)
    parser.add_argument("--events", type=int, default=2000, help="queued at each till")
    parser.add_argument("--workers", type=int, default=1, help="HQ processes")
    args = parser.parse_args()
    print(
        f"HQ ingest, PostgreSQL: {args.tills} tills of {args.tills // TILLS_PER_STORE or 1}"
        f" stores, {args.events:,} queued events each, all pushing at once"
    )
    with tempfile.TemporaryDirectory() as tmp:
        names = [fresh_database(), fresh_database()]
        try:
            together = storm(f"{PG}/{names[0]}", Path(tmp), args.tills, args.events, args.workers)
            one = alone(f"{PG}/{names[1]}", Path(tmp), args.tills * args.events)
            print(f"  ratio to one till alone {together / one:.2f}×   (goal ≥ 30,000 events/s)")
        finally:
            for name in names:
                drop(name)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
