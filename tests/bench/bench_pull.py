"""Pull benchmark: a fresh till takes HQ's whole member directory (``Syncer.pull``) from HQ on
loopback, next to a raw bulk insert of the same member rows into a fresh SQLite file.

    .venv/bin/python tests/bench/bench_pull.py [--members 1000000] [--backend sqlite]
        [--page 500] [--sample 1000]

Goal: ≥ 20,000 members/s and ≥ 0.25× the raw bulk insert. HQ's directory is written straight
into its ``accounts`` table (a push per member would take hours), with change cursors taken
from HQ's own counter. HQ runs as its own process (`pos-loyalty hq serve`), as in a store.
PostgreSQL is the machine's (127.0.0.1:5432), in a database made for the run and dropped
after it.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import itertools
import os
import random
import sqlite3
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import msgspec  # noqa: E402
from bench_sync import start_hq  # noqa: E402
from conftest import config_text  # noqa: E402

from pos_loyalty import config as config_mod  # noqa: E402
from pos_loyalty.clock import iso, utc_now  # noqa: E402
from pos_loyalty.members import ALPHABET, member_code  # noqa: E402
from pos_loyalty.rules.account import Ledger, encode  # noqa: E402
from pos_loyalty.rules.lots import Lot  # noqa: E402
from pos_loyalty.service import MemberRef, Till  # noqa: E402
from sync.daemon import Syncer  # noqa: E402
from sync.hq.commands import open_store  # noqa: E402
from sync.hq.db import insert_rows  # noqa: E402
from sync.hq.store import HQStore, _next_changes  # noqa: E402

PG = "postgresql://postgres@127.0.0.1:5432"
CHUNK = 50_000  # rows per insert into HQ: the directory is built without holding it whole
FIRST = ("Anna", "Bram", "Chloé", "Daan", "Emma", "Finn", "Julia", "Lars", "Noor", "Sem")
LAST = ("de Jong", "Jansen", "de Vries", "van Dijk", "Bakker", "Visser", "Smit", "Meijer")
# Qualifying points spread over the example tiers (Bronze 0, Silver 500, Gold 2000).
QUALIFYING = (0, 120, 340, 480, 650, 900, 1400, 1900, 2300, 4100)
ACCOUNT_COLUMNS = (
    "member_key",
    "member_id",
    "phone",
    "name",
    "version",
    "ledger",
    "balance",
    "updated_at",
    "change_seq",
    "through",
)
# What a snapshot's application leaves in the till's members table, row for row.
TILL_COLUMNS = (
    "member_id",
    "phone",
    "name",
    "source",
    "hq_version",
    "hq_at",
    "hq_through_seq",
    "hq_balance",
    "hq_ledger",
)


def member_id(rng: random.Random) -> str:
    """A random 16-character Crockford id, as ``new_member_id`` makes them (80 bits)."""
    bits = rng.getrandbits(80)
    return "".join(ALPHABET[(bits >> (5 * i)) & 31] for i in range(16))


def ledger(rng: random.Random, now: dt.datetime) -> Ledger:
    """One or two earned lots (part spent), qualifying points by tier, last activity."""
    lots = []
    for _ in range(1 + (rng.random() < 0.4)):
        back = rng.randrange(1, 330)
        earned = now - dt.timedelta(days=back, seconds=rng.randrange(86_400))
        points = rng.randrange(10, 3000)
        lots.append(
            Lot(
                lot_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                points=points,
                remaining=rng.randrange(1, points + 1),
                earned_at=iso(earned),
                expires_at=iso(earned + dt.timedelta(days=730)),
            )
        )
    last = max(lot.earned_at for lot in lots)
    qualifying = rng.choice(QUALIFYING)
    return Ledger(
        lots=tuple(sorted(lots, key=lambda lot: lot.earned_at)),
        qualifying_days=((last[:10], qualifying),) if qualifying else (),
        day=last[:10],
        day_count=rng.randrange(1, 3),
        last_activity=last,
        granted_tier="Gold" if rng.random() < 0.01 else None,
    )


def accounts(
    n: int, first_seq: int, seed: int = 7
) -> Iterator[tuple[tuple[Any, ...], tuple[Lot, ...]]]:
    """HQ's ``accounts`` rows of ``n`` members, with cursors ``first_seq`` onwards, each with
    its lots (HQ keeps them a row each, beside the account)."""
    rng = random.Random(seed)
    now = utc_now()
    phones = rng.sample(range(10**7), n)
    for k, phone in enumerate(phones):
        key = member_id(rng)  # 80 random bits: no two alike among a few million
        held = ledger(rng, now)
        name = f"{rng.choice(FIRST)} {rng.choice(LAST)}" if rng.random() < 0.8 else None
        row = (
            key,
            key,
            f"+3161{phone:07d}",
            name,
            rng.randrange(1, 40),
            encode(msgspec.structs.replace(held, lots=())).decode(),
            held.balance,
            held.last_activity,
            first_seq + k,
            # The terminal of another store that last served them: a chain to skip.
            f'{{"AMS-{2 + k % 40:02d}/T1":["j{k % 40}",{rng.randrange(1, 40)}]}}',
        )
        yield row, held.lots


def build_directory(store: HQStore, n: int) -> None:
    """N members written into HQ in one transaction, their cursors taken from HQ's counter
    (as a push's fold takes them)."""
    with store.db.transaction() as tx:
        first = _next_changes(tx, n)
        rows = accounts(n, first)
        while pairs := list(itertools.islice(rows, CHUNK)):
            chunk = [row for row, _ in pairs]
            insert_rows(tx, "accounts", ACCOUNT_COLUMNS, chunk)
            insert_rows(
                tx,
                "lots",
                ("member_key", *Lot.__struct_fields__),
                [(row[0], *msgspec.structs.astuple(lot)) for row, lots in pairs for lot in lots],
            )


def make_till(folder: Path, port: int) -> Till:
    path = folder / "pos-loyalty.toml"
    path.write_text(config_text().replace('url = ""', f'url = "http://127.0.0.1:{port}"', 1))
    return Till.open(config_mod.load(str(path)), create=True)


def raw_bulk(till: Till, folder: Path, keyed: bool) -> float:
    """The rows the pull left in the till, bulk-inserted into a fresh SQLite file with the
    journal's pragmas (WAL, a full sync), as plainly as it can be done; ``keyed``: with the
    members table's own keys (member id, phone), which the till must keep up too."""
    rows = till.journal.conn.execute(f"SELECT {', '.join(TILL_COLUMNS)} FROM members").fetchall()
    path = folder / f"raw-{'keyed' if keyed else 'plain'}.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    keys = {"member_id": " PRIMARY KEY", "phone": " UNIQUE"} if keyed else {}
    conn.execute(f"CREATE TABLE raw ({', '.join(c + keys.get(c, '') for c in TILL_COLUMNS)})")
    marks = ", ".join("?" for _ in TILL_COLUMNS)
    start = time.perf_counter()
    conn.execute("BEGIN")
    conn.executemany(f"INSERT INTO raw VALUES ({marks})", rows)
    conn.execute("COMMIT")
    seconds = time.perf_counter() - start
    conn.close()
    return len(rows) / seconds


def check(till: Till, store: HQStore, n: int, sample: int) -> collections.Counter[str]:
    """The till holds every member with HQ's word, and a sample's balances, looked up by
    member code as a cashier would, are HQ's. Returns the sample's tiers."""
    conn = till.journal.conn
    held = conn.execute("SELECT count(*) FROM members WHERE hq_version IS NOT NULL").fetchone()[0]
    assert held == n, f"the till holds HQ's word on {held:,} members, not {n:,}"
    ids = [
        r[0]
        for r in conn.execute("SELECT member_id FROM members ORDER BY random() LIMIT ?", (sample,))
    ]
    tiers: collections.Counter[str] = collections.Counter()
    for member_id in ids:
        hq = store.account(member_id)
        assert hq is not None, f"HQ does not know {member_id}"
        view = till.lookup(MemberRef(code=member_code(member_id)))
        assert view.balance == hq[1].balance, f"{member_id}: {view.balance} ≠ HQ's {hq[1].balance}"
        tiers[view.tier.tier.name] += 1
    return tiers


def bench(db: str, label: str, n: int, page: int, sample: int, folder: Path) -> None:
    print(f"\n{label}: pull {n:,} members into a fresh till, {page} a page")
    store = open_store(db)
    start = time.perf_counter()
    build_directory(store, n)
    built = time.perf_counter()
    token = store.add_terminal("AMS-01", "T1")  # a new till in a chain that has members
    provisioned = time.perf_counter()
    print(
        f"  (directory built at HQ in {built - start:.1f} s, "
        f"terminal provisioned in {provisioned - built:.2f} s)"
    )
    hq, port = start_hq(db)
    try:
        till = make_till(folder, port)
        start = time.perf_counter()
        with Syncer(till.source, token=token) as syncer:
            taken = syncer.pull(page=page)
        seconds = time.perf_counter() - start
    finally:
        hq.kill()
        hq.wait()
    assert taken == n, f"the pull took HQ's word on {taken:,} members, not {n:,}"
    tiers = check(till, store, n, min(sample, n))
    pull = n / seconds
    plain, keyed = raw_bulk(till, folder, keyed=False), raw_bulk(till, folder, keyed=True)
    print(f"  {f'pull from HQ ({label})':<32} {pull:>10,.0f} members/s   ({seconds:.1f} s)")
    print(f"  raw bulk insert, same rows       {plain:>10,.0f} rows/s")
    print(f"  raw, with the till's keys        {keyed:>10,.0f} rows/s")
    print(
        f"  ratio {pull / plain:.2f}× ({pull / keyed:.2f}× keyed)"
        "   (goal ≥ 0.25× and ≥ 20,000 members/s)"
    )
    shown = ", ".join(f"{name} {count}" for name, count in sorted(tiers.items()))
    print(f"  checked: {n:,} members held; {sum(tiers.values())} balances as HQ's ({shown})")
    till.close()
    store.db.close()


def postgres(name: str, create: bool) -> None:
    import psycopg

    with psycopg.connect(f"{PG}/test", autocommit=True) as admin:
        if create:
            admin.execute(f'CREATE DATABASE "{name}"')
        else:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--page", type=int, default=500, help="members a page (HQ: ≤ 1000)")
    parser.add_argument("--sample", type=int, default=1000, help="balances checked")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pos-loyalty-bench-") as tmp:
        folder = Path(tmp)
        if args.backend in ("sqlite", "both"):
            (folder / "s").mkdir()
            db = f"sqlite:///{folder / 's' / 'hq.db'}"
            bench(db, "SQLite", args.members, args.page, args.sample, folder / "s")
        if args.backend in ("postgresql", "both"):
            name = f"pos_loyalty_bench_{uuid.uuid4().hex[:8]}"
            postgres(name, create=True)
            try:
                (folder / "p").mkdir()
                db = f"{PG}/{name}"
                bench(db, "PostgreSQL", args.members, args.page, args.sample, folder / "p")
            finally:
                postgres(name, create=False)


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
