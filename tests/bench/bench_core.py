"""Benchmarks of the till's core, each against a baseline measured in the same run.

    .venv/bin/python tests/bench/bench_core.py [--members 1000000] [--earns 2000]

1. Durable earn (rules + hash chain + commit) vs a raw single-row INSERT + COMMIT with the
   same pragmas (WAL, synchronous=FULL): goal p99 ratio ≤ 2.
2. Lookup by phone and by member code among N members: goal p99 ≤ 1 ms.
3. Cold start of `pos-loyalty lookup --json` vs `python -c "import sqlite_utils"`: goal ≤ 1.6×.
"""

from __future__ import annotations

import argparse
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pos_loyalty import config as config_mod
from pos_loyalty.members import ALPHABET, member_code
from pos_loyalty.service import MemberRef, Till


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, samples: list[float]) -> tuple[float, float]:
    p50, p99 = pct(samples, 0.50) * 1000, pct(samples, 0.99) * 1000
    print(f"  {name:<40} p50 {p50:8.3f} ms   p99 {p99:8.3f} ms   (n={len(samples)})")
    return p50, p99


def make_till(folder: Path) -> Till:
    text = config_mod.EXAMPLE.read_text().replace(
        "velocity_max_per_day = 10", "velocity_max_per_day = 0"
    )
    cfg = folder / "pos-loyalty.toml"
    cfg.write_text(text)
    return Till.open(config_mod.load(str(cfg)))


def bench_earn(folder: Path, n: int, members: int) -> None:
    print(f"\n1. Durable earn vs raw INSERT+COMMIT ({n} each, interleaved, {members} members)")
    till = make_till(folder)
    refs = [MemberRef(phone=f"+3161{k:07d}") for k in range(members)]
    for ref in refs:
        till.enroll(ref.phone or "")
    raw = sqlite3.connect(folder / "raw.db", isolation_level=None)
    for pragma in ("journal_mode = WAL", "synchronous = FULL", "busy_timeout = 5000"):
        raw.execute(f"PRAGMA {pragma}")
    raw.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, payload TEXT NOT NULL)")
    rng = random.Random(1)
    earn_t, raw_t = [], []
    for i in range(n):  # interleaved so both see the same disk weather
        start = time.perf_counter()
        raw.execute("BEGIN IMMEDIATE")
        raw.execute("INSERT INTO t (payload) VALUES (?)", (f"event {i}" * 20,))
        raw.execute("COMMIT")
        raw_t.append(time.perf_counter() - start)
        start = time.perf_counter()
        till.earn(rng.choice(refs), amount=1000 + i)
        earn_t.append(time.perf_counter() - start)
    _, raw99 = report("raw INSERT+COMMIT (baseline)", raw_t)
    _, earn99 = report("earn (rules + chain + commit + result)", earn_t)
    print(f"  ratio at p99: {earn99 / raw99:.2f}×   (goal ≤ 2×)")
    if members != 200:
        till.close()
        return
    busy = MemberRef(phone="+31619999999")
    till.enroll(busy.phone or "")
    for i in range(500):
        till.earn(busy, amount=1000 + i)
    busy_t = []
    for i in range(200):
        start = time.perf_counter()
        till.earn(busy, amount=1000 + i)
        busy_t.append(time.perf_counter() - start)
    report("earn, member with 500+ unsynced events", busy_t)
    till.close()


def bench_lookup(folder: Path, members: int, n: int) -> None:
    print(f"\n2. Lookup among {members:,} members ({n} random lookups each)")
    till = make_till(folder)
    rng = random.Random(7)
    ids = ["".join(rng.choice(ALPHABET) for _ in range(16)) for _ in range(members)]
    phones = [f"+3162{n:07d}" for n in rng.sample(range(10**7), members)]
    start = time.perf_counter()
    with till.journal.writing():
        till.journal.conn.executemany(
            "INSERT INTO members (member_id, phone, name, enrolled_at, confirmed_balance) "
            "VALUES (?, ?, ?, '2026-01-01T00:00:00.000Z', ?)",
            (
                (i, p, f"Member {k}", k % 5000)
                for k, (i, p) in enumerate(zip(ids, phones, strict=True))
            ),
        )
    print(f"  (seeded in {time.perf_counter() - start:.1f} s)")
    picks = rng.sample(range(members), n)
    local_phones = ["0" + phones[k][3:] for k in picks]  # as a cashier types it: 06…
    codes = [member_code(ids[k]) for k in picks]
    till.lookup(MemberRef(phone=local_phones[0]))  # load phone metadata once
    by_phone, by_code = [], []
    for phone, code in zip(local_phones, codes, strict=True):
        start = time.perf_counter()
        till.lookup(MemberRef(phone=phone))
        by_phone.append(time.perf_counter() - start)
        start = time.perf_counter()
        till.lookup(MemberRef(code=code))
        by_code.append(time.perf_counter() - start)
    report("lookup by phone (normalise + query)", by_phone)
    report("lookup by member code (check + query)", by_code)
    print("  goal: p99 ≤ 1 ms")
    till.close()


def bench_cold_start(folder: Path, runs: int) -> None:
    print(f"\n3. Cold start, median of {runs} runs each")
    till = make_till(folder)
    code = till.enroll("0612345678").member.code or ""
    till.close()
    cfg = str(folder / "pos-loyalty.toml")
    # An installed till has compiled bytecode; make sure ours exists even where
    # PYTHONDONTWRITEBYTECODE is set for development.
    import compileall
    import os

    import pos_loyalty

    compileall.compile_dir(Path(pos_loyalty.__file__).parent, quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    exe = shutil.which("pos-loyalty", path=str(Path(sys.executable).parent)) or "pos-loyalty"
    commands = {
        'python -c "import sqlite_utils"': [sys.executable, "-c", "import sqlite_utils"],
        "lookup --json --phone": [
            exe,
            "lookup",
            "--json",
            "--config",
            cfg,
            "--phone",
            "0612345678",
        ],
        "lookup --json --code": [exe, "lookup", "--json", "--config", cfg, "--code", code],
    }
    medians = {}
    for _ in range(2):  # warm the page cache
        for argv in commands.values():
            subprocess.run(argv, capture_output=True, env=env)
    for name, argv in commands.items():
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            subprocess.run(argv, capture_output=True, env=env)
            times.append(time.perf_counter() - start)
        medians[name] = statistics.median(times)
        print(f"  {name:<45} {medians[name] * 1000:7.1f} ms")
    base = next(iter(medians.values()))
    for name, value in list(medians.items())[1:]:
        print(f"  ratio pos-loyalty {name} / baseline: {value / base:.2f}×   (goal ≤ 1.6×)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--earns", type=int, default=2000)
    parser.add_argument("--lookups", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    runs = (
        (bench_earn, (args.earns, 2000)),  # about one unconfirmed event per member
        (bench_earn, (args.earns, 200)),  # about ten: nothing is confirmed until sync exists
        (bench_lookup, (args.members, args.lookups)),
        (bench_cold_start, (args.runs,)),
    )
    for bench, extra in runs:
        with tempfile.TemporaryDirectory(prefix="pos-loyalty-bench-") as folder:
            bench(Path(folder), *extra)


if __name__ == "__main__":
    main()
