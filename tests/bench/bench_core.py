"""Benchmarks of the till's core, each against a baseline measured in the same run.

    .venv/bin/python tests/bench/bench_core.py [--members 1000000] [--earns 2000]

1. Durable earn (rules + hash chain + checkpoint + commit + result) vs a raw single-row
   INSERT + COMMIT with the same pragmas (WAL, synchronous=FULL): goal p99 ratio ≤ 2.
2. Earn for a member with 500 unconfirmed events vs a member with one: goal p99 ratio ≤ 1.2.
   Nothing is confirmed until the HQ sync exists, so the 500 are simply recorded first: all
   earns (about 500 lots in the checkpoint), and a mix of earns and redeems.
3. Lookup by phone and by member code among N members: goal p99 ≤ 1 ms.
4. Cold start of `pos-loyalty lookup --json` vs `python -c "import sqlite_utils"`: goal ≤ 1.6×.
"""

from __future__ import annotations

import argparse
import base64
import datetime as dt
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from pos_loyalty import config as config_mod
from pos_loyalty.clock import iso
from pos_loyalty.journal.unit import WAL_PAGES
from pos_loyalty.members import ALPHABET, member_code
from pos_loyalty.rules.account import EMPTY, Ledger, encode
from pos_loyalty.rules.lots import Lot
from pos_loyalty.service import MemberRef, Till
from pos_loyalty.staff import StaffSession

# A Wednesday morning in the store's zone, outside every example promotion's weekdays; the
# till's clock runs on from there in real time, so events get distinct, realistic times.
START = dt.datetime(2026, 11, 25, 9, 0, tzinfo=dt.UTC)
# Crockford base-32 for base64.b32encode's alphabet (RFC 4648).
_CROCKFORD = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", ALPHABET)


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def report(name: str, samples: list[float]) -> tuple[float, float]:
    p50, p99 = pct(samples, 0.50) * 1000, pct(samples, 0.99) * 1000
    print(f"  {name:<44} p50 {p50:8.3f} ms   p99 {p99:8.3f} ms   (n={len(samples)})")
    return p50, p99


def running_clock() -> Callable[[], dt.datetime]:
    origin = time.perf_counter()
    return lambda: START + dt.timedelta(seconds=time.perf_counter() - origin)


def make_till(folder: Path) -> Till:
    text = config_mod.EXAMPLE.read_text().replace(
        "velocity_max_per_day = 10", "velocity_max_per_day = 0"
    )
    cfg = folder / "pos-loyalty.toml"
    cfg.write_text(text)
    return Till.open(config_mod.load(str(cfg)), clock=running_clock(), create=True)


def staff(till: Till) -> tuple[StaffSession, StaffSession]:
    """A signed-in cashier (recorded on every event, as at a real till) and a manager."""
    till.add_staff("m1", name="Bench Manager", role="manager", pin="4321")
    manager = till.sign_in("m1", "4321", manager=True)
    till.add_staff("c1", name="Bench Cashier", role="cashier", pin="1234", approval=manager)
    return till.sign_in("c1", "1234"), manager


def enroll_all(till: Till, phones: list[str], cashier: StaffSession) -> list[MemberRef]:
    for phone in phones:
        till.enroll(phone, cashier=cashier)
    return [MemberRef(phone=phone) for phone in phones]


def checkpoint_size(till: Till, ref: MemberRef) -> tuple[int, int]:
    """Lots in the member's checkpoint (a row each) and the bytes of the rest of it."""
    member_id = till.lookup(ref).member_id
    (size,) = till.journal.conn.execute(
        "SELECT length(ledger) FROM accounts WHERE account_key = ?", (member_id,)
    ).fetchone()
    return len(till.account(ref).lots), size


def bench_earn(folder: Path, n: int, members: int) -> None:
    print(f"\n1. Durable earn vs raw INSERT+COMMIT ({n} each, interleaved, {members} members)")
    till = make_till(folder)
    cashier, _ = staff(till)
    refs = enroll_all(till, [f"+3161{k:07d}" for k in range(members)], cashier)
    raw = sqlite3.connect(folder / "raw.db", isolation_level=None)
    same = ("journal_mode = WAL", "synchronous = FULL", f"wal_autocheckpoint = {WAL_PAGES}")
    for pragma in (*same, "busy_timeout = 5000"):
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
        till.earn(rng.choice(refs), amount=1000 + i, cashier=cashier)
        earn_t.append(time.perf_counter() - start)
    print(f"  ({n / members:.1f} earns per member on average since enrolling, none confirmed)")
    raw50, raw99 = report("raw INSERT+COMMIT (baseline)", raw_t)
    earn50, earn99 = report("earn (rules + chain + checkpoint + commit)", earn_t)
    print(
        f"  ratio at p50: {earn50 / raw50:.2f}×   at p99: {earn99 / raw99:.2f}×   (goal p99 ≤ 2×)"
    )
    raw.close()
    till.close()


def record_history(
    till: Till, ref: MemberRef, events: int, cashier: StaffSession, manager: StaffSession, mix: bool
) -> None:
    """``events`` unconfirmed events for one member: earns, and with ``mix`` a free coffee
    every 25th (a manager approves, as the offline cap is soon used up)."""
    for i in range(events):
        if mix and i % 25 == 24:
            till.redeem(ref, reward_id="coffee", cashier=cashier, approval=manager)
        else:
            till.earn(ref, amount=1000 + i, cashier=cashier)


def bench_busy(folder: Path, mix: bool, busy: int, per: int, history: int = 500) -> None:
    what = "earns with a redeem every 25th" if mix else "all earns"
    print(
        f"\n2. Earn, member with {history} unconfirmed events ({what}) vs a member with one"
        f"\n   ({busy} busy members × {per} earns each, interleaved with {busy * per} earns for"
        " members with one earn since enrolling)"
    )
    till = make_till(folder)
    cashier, manager = staff(till)
    fresh = enroll_all(till, [f"+3161{k:07d}" for k in range(busy * per)], cashier)
    for ref in fresh:
        till.earn(ref, amount=1000, cashier=cashier)
    heavy = enroll_all(till, [f"+3162{k:07d}" for k in range(busy)], cashier)
    start = time.perf_counter()
    for ref in heavy:
        record_history(till, ref, history, cashier, manager, mix)
    seeded = time.perf_counter() - start
    print(
        f"  (recorded {busy * history} events in {seeded:.1f} s; "
        f"{seeded / (busy * history) * 1000:.2f} ms each on average)"
    )
    lots, size = checkpoint_size(till, heavy[0])
    print(f"  (a busy member's checkpoint: {lots} lots, a row each; the rest {size:,} bytes)")
    one_t, busy_t = [], []
    for i in range(per):
        for k, ref in enumerate(heavy):
            start = time.perf_counter()
            till.earn(fresh[i * busy + k], amount=1000 + i, cashier=cashier)
            one_t.append(time.perf_counter() - start)
            start = time.perf_counter()
            till.earn(ref, amount=1000 + i, cashier=cashier)
            busy_t.append(time.perf_counter() - start)
    one50, one99 = report("earn, member with one event (baseline)", one_t)
    busy50, busy99 = report(f"earn, member with {history}+ events", busy_t)
    print(f"  ratio at p50: {busy50 / one50:.2f}×   at p99: {busy99 / one99:.2f}×   (goal ≤ 1.2×)")
    till.close()


def hq_ledger(member_id: str, balance: int) -> bytes:
    """HQ's word on a member from its directory: one lot holding the balance."""
    if not balance:
        return encode(EMPTY)
    lot = Lot(f"hq:{member_id}", balance, balance, "2026-01-01T00:00:00.000Z")
    return encode(Ledger(lots=(lot,)))


def bench_lookup(folder: Path, members: int, n: int) -> None:
    print(f"\n3. Lookup among {members:,} members ({n} random lookups each)")
    till = make_till(folder)
    rng = random.Random(7)
    b32 = base64.b32encode  # 10 random bytes: a random 16-character member id
    ids = [b32(rng.randbytes(10)).decode().translate(_CROCKFORD) for _ in range(members)]
    phones = [f"+3162{n:07d}" for n in rng.sample(range(10**7), members)]
    start = time.perf_counter()
    with till.journal.writing():  # HQ's directory: every member with HQ's word on them
        till.journal.conn.executemany(
            "INSERT INTO members (member_id, phone, name, consent, enrolled_at, source, "
            "hq_version, hq_at, hq_through_seq, hq_balance, hq_ledger) "
            "VALUES (?, ?, ?, 1, '2026-01-01T00:00:00.000Z', 'hq', 1, ?, 0, ?, ?)",
            (
                (i, p, f"Member {k}", iso(START), k % 5000, hq_ledger(i, k % 5000))
                for k, (i, p) in enumerate(zip(ids, phones, strict=True))
            ),
        )
    print(f"  (seeded in {time.perf_counter() - start:.1f} s, one transaction)")
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
    report("lookup by phone (normalise + query + fold)", by_phone)
    report("lookup by member code (check + query + fold)", by_code)
    print("  goal: p99 ≤ 1 ms")
    till.close()


def bench_cold_start(folder: Path, runs: int) -> None:
    print(f"\n4. Cold start, median of {runs} runs each")
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
    for name, argv in commands.items():  # a failing command would time its error message
        done = subprocess.run(argv, capture_output=True, env=env, text=True)
        if done.returncode != 0:
            sys.exit(f"{name} failed ({done.returncode}): {done.stderr.strip()}")
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
    parser.add_argument("--busy", type=int, default=10, help="members with 500 events")
    parser.add_argument("--per-busy", type=int, default=50, help="earns timed per busy member")
    parser.add_argument("--lookups", type=int, default=5000)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    runs = (
        (bench_earn, (args.earns, 2000)),  # about one unconfirmed event per member
        (bench_earn, (args.earns, 200)),  # about ten: nothing is confirmed until sync exists
        (bench_busy, (False, args.busy, args.per_busy)),  # ~500 lots in the checkpoint
        (bench_busy, (True, args.busy, args.per_busy)),
        (bench_lookup, (args.members, args.lookups)),
        (bench_cold_start, (args.runs,)),
    )
    for bench, extra in runs:
        with tempfile.TemporaryDirectory(prefix="pos-loyalty-bench-") as folder:
            bench(Path(folder), *extra)


if __name__ == "__main__":
    main()
