"""Sync benchmarks: drain a till's queue to HQ on loopback (each backend) next to a raw bulk
insert of the same rows into the same backend; pull a large member directory into a fresh
till next to a raw bulk insert of the same rows; an event's commit to HQ's acknowledgement
with the daemon running.

    .venv/bin/python tests/bench/bench_sync.py [--events 100000] [--members 1000000]

HQ runs as its own process (`pos-loyalty hq serve`), as in a store. PostgreSQL is the
machine's (127.0.0.1:5432), in a database made for the run and dropped after it.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from conftest import config_text  # noqa: E402

from pos_loyalty import config as config_mod  # noqa: E402
from pos_loyalty.journal import Journal  # noqa: E402
from pos_loyalty.service import MemberRef, Till  # noqa: E402
from sync.daemon import Syncer, run_daemon  # noqa: E402
from sync.hq.commands import open_store  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_hq(db: str, *more: str) -> tuple[subprocess.Popen[str], int]:
    port = free_port()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pos_loyalty",
            "hq",
            "serve",
            "--db",
            db,
            "--port",
            str(port),
            *more,
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    for _ in range(400):
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=0.5).status_code == 200:
                return proc, port
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise SystemExit("HQ did not start")


def make_till(folder: Path, port: int, store_id: str = "AMS-01", terminal_id: str = "T1") -> Till:
    """A till syncing to HQ on ``port``, its journal in ``folder`` (made, or opened again)."""
    text = config_text(velocity_max_per_day=0, offline_redeem_cap=10**9)
    text = text.replace('url = ""', f'url = "http://127.0.0.1:{port}"', 1)
    text = text.replace('id = "AMS-01"', f'id = "{store_id}"', 1)
    path = folder / "pos-loyalty.toml"
    path.write_text(text.replace('id = "T1"', f'id = "{terminal_id}"', 1))
    return Till.open(config_mod.load(str(path)), create=True)


def record(till: Till, events: int, members: int = 2000, prefix: str = "+3161") -> None:
    """About ``events`` events over ``members`` members (enrolments, earns, some redeems),
    their phones ``prefix`` and a number."""
    digits = 12 - len(prefix)
    refs = [MemberRef(phone=f"{prefix}{k:0{digits}d}") for k in range(members)]
    for ref in refs:
        till.enroll(ref.phone or "")
    n = 2 * members
    k = 0
    while n < events:
        ref = refs[k % members]
        if (k // members) % 10 == 9:  # every member redeems once in ten rounds
            till.redeem(ref, points=5)
        else:
            till.earn(ref, amount=1000 + k % 500)
        n, k = n + 1, k + 1


# HQ's own unique keys on its events: the place in a terminal's chain, and the event id.
KEYS = ("PRIMARY KEY (store_id, terminal_id, seq)", "UNIQUE (event_id, store_id)")


def raw_bulk(db: str, till: Till, keyed: bool = False) -> float:
    """The same rows, bulk-inserted into the same backend as plainly as it can be done;
    ``keyed``: into a table with HQ's unique keys on events, which dedup needs."""
    rows = list(till.journal.events.iter_rows())
    columns = list(rows[0])
    marks = ", ".join("?" for _ in columns)
    table = "raw_keyed" if keyed else "raw"
    keys = "".join(f", {k}" for k in KEYS) if keyed else ""
    start = time.perf_counter()
    if db.startswith("sqlite"):
        import sqlite3

        path = db.removeprefix("sqlite:///") + f".{table}"
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"CREATE TABLE {table} ({', '.join(columns)}{keys})")
        conn.execute("BEGIN")
        conn.executemany(f"INSERT INTO {table} VALUES ({marks})", [tuple(r.values()) for r in rows])
        conn.execute("COMMIT")
        conn.close()
    else:
        import psycopg

        with psycopg.connect(db) as conn:
            conn.execute(f"CREATE TABLE {table} ({', '.join(c + ' TEXT' for c in columns)}{keys})")
            with conn.cursor().copy(f"COPY {table} FROM STDIN") as copy:
                for r in rows:
                    copy.write_row([None if v is None else str(v) for v in r.values()])
    return len(rows) / (time.perf_counter() - start)


def bench_drain(db: str, label: str, events: int, folder: Path) -> None:
    hq, port = start_hq(db)
    try:
        store = open_store(db)
        token = store.add_terminal("AMS-01", "T1")
        till = make_till(folder, port)
        t0 = time.perf_counter()
        record(till, events)
        total = till.journal.events.last_seq()
        print(f"  (recorded {total:,} events in {time.perf_counter() - t0:.0f} s)")
        start = time.perf_counter()
        with Syncer(till.source, token=token, batch_size=500) as syncer:
            summary = syncer.push()
        seconds = time.perf_counter() - start
        assert summary.acked_seq == total and store.event_count() == total
        drain = total / seconds
        raw, keyed = raw_bulk(db, till), raw_bulk(db, till, keyed=True)
        print(f"  drain to HQ ({label})        {drain:>10,.0f} events/s   ({seconds:.1f} s)")
        print(f"  raw bulk insert, same rows   {raw:>10,.0f} rows/s")
        print(f"  raw, with HQ's event keys    {keyed:>10,.0f} rows/s")
        print(
            f"  ratio {drain / raw:.2f}× ({drain / keyed:.2f}× keyed)   "
            "(goal ≥ 0.25× and ≥ 10,000 events/s)"
        )
        till.close()
        store.db.close()
    finally:
        hq.kill()
        hq.wait()


def bench_latency(folder: Path, samples: int = 200) -> None:
    db = f"sqlite:///{folder / 'hq-latency.db'}"
    hq, port = start_hq(db)
    try:
        store = open_store(db)
        token = store.add_terminal("AMS-01", "T1")
        till = make_till(folder, port)
        till.enroll("0612345678")
        stop = threading.Event()
        daemon = threading.Thread(
            target=run_daemon, args=(till.source,), kwargs={"stop": stop, "token": token}
        )
        daemon.start()
        waits = []
        journal = Journal.open(
            till.journal.path, store_id="AMS-01", terminal_id="T1"
        )  # reads the outbox as the UI would
        for n in range(samples):
            start = time.perf_counter()
            till.earn(MemberRef(phone="0612345678"), amount=1000 + n)
            seq = till.journal.events.last_seq()
            while journal.events.outbox().acked_seq < seq:
                time.sleep(0.002)
            waits.append(time.perf_counter() - start)
            time.sleep(0.01)
        stop.set()
        daemon.join()
        waits.sort()
        p50 = statistics.median(waits) * 1000
        p99 = waits[int(len(waits) * 0.99) - 1] * 1000
        print(
            f"  commit → acknowledged by HQ   p50 {p50:7.1f} ms   p99 {p99:7.1f} ms"
            "   (goal p99 ≤ 1 s)"
        )
        journal.close()
        till.close()
        store.db.close()
    finally:
        hq.kill()
        hq.wait()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), help="drain to one only")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        print(f"1. Drain {args.events:,} queued events to HQ on loopback")
        if args.backend != "postgresql":
            (folder / "s").mkdir()
            bench_drain(f"sqlite:///{folder / 's' / 'hq.db'}", "SQLite", args.events, folder / "s")
        if args.backend == "sqlite":
            return
        import psycopg

        name = f"pos_loyalty_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(f"{PG}/test", autocommit=True) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
        try:
            (folder / "p").mkdir()
            bench_drain(f"{PG}/{name}", "PostgreSQL", args.events, folder / "p")
        finally:
            with psycopg.connect(f"{PG}/test", autocommit=True) as admin:
                admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if args.backend:
            return
        print("\n3. An event's commit to HQ's acknowledgement, the daemon running (SQLite HQ)")
        (folder / "l").mkdir()
        bench_latency(folder / "l")


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
