"""Proof 1: a till SIGKILLed at random moments of its work (earn, redeem, reverse, enrol,
print, sync) loses and duplicates nothing it acknowledged; its chain verifies; after a final
sync HQ's balances are the journal's. POS_LOYALTY_KILLS sets the number of kills (30)."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from drivers.sim_printer import SimPrinter
from pos_loyalty import config as config_mod
from pos_loyalty.service import Till

from .conftest import cli, size, sync, till_text

WORKER = Path(__file__).with_name("till_worker.py")


def start(config: Path, token: str, seed: int, retry: str, out: Path) -> subprocess.Popen:
    args = [sys.executable, str(WORKER), str(config), token, str(seed)]
    return subprocess.Popen([*args, *([retry] if retry else [])], stdout=out.open("wb"))


def wait_ready(worker: subprocess.Popen, out: Path) -> None:
    deadline = time.monotonic() + 30
    while b'"ready"' not in out.read_bytes():
        assert worker.poll() is None, f"the worker stopped: {worker.returncode}"
        assert time.monotonic() < deadline, "the worker never got ready"
        time.sleep(0.01)


def read_lines(out: Path) -> list[dict]:
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_a_till_killed_at_random_loses_and_duplicates_nothing(tmp_path, sqlite_hq):
    kills = size("POS_LOYALTY_KILLS", 30)
    rng = random.Random(kills)
    with SimPrinter(out_dir=tmp_path / "jobs") as printer:
        text = till_text(sqlite_hq.base, velocity_max_per_day=10000)
        text = text.replace('transport = "none"  ', 'transport = "network"', 1)
        text = text.replace("port = 9100 ", f"port = {printer.port} ", 1)
        config = tmp_path / "till.toml"
        config.write_text(text)
        Till.open(config_mod.load(str(config)), create=True).close()
        token = sqlite_hq.store.add_terminal("AMS-01", "T1")
        acked: list[str] = []  # every event id the worker acknowledged, in order
        ops: Counter[str] = Counter()
        retry, started = "", time.monotonic()
        for kill in range(kills):
            out = tmp_path / f"run-{kill}.jsonl"
            worker = start(config, token, kill, retry, out)
            wait_ready(worker, out)
            time.sleep(rng.uniform(0.01, 0.5))
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            lines = read_lines(out)
            done = {line.get("ack") or line.get("refused") for line in lines}
            tries = [line for line in lines if "try" in line]
            for line in lines:
                acked.extend(line.get("events", []))
            ops.update(line["op"] for line in tries if line["try"] in done)
            retry = json.dumps(tries[-1]) if tries and tries[-1]["try"] not in done else ""
        elapsed = time.monotonic() - started
    assert acked and sum(ops.values()) > kills, ops  # real work was interrupted, not only start-ups
    journal = sqlite3.connect(tmp_path / "till.db")
    held = Counter(r[0] for r in journal.execute("SELECT event_id FROM events"))
    assert [e for e in acked if held[e] != 1] == []  # none lost, none twice
    assert len(set(acked)) == len(acked)  # a retried request never wrote a second event
    verified = cli(config, "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr

    till = Till.open(config_mod.load(str(config)))
    try:
        sync(till, token)
    finally:
        till.close()
    assert sqlite_hq.store.event_count() == sum(held.values())
    balances = journal.execute(
        "SELECT member_id, sum(points) FROM events WHERE member_id IS NOT NULL GROUP BY member_id"
    ).fetchall()
    assert balances
    for member_id, points in balances:
        assert sqlite_hq.store.account(member_id)[1].balance == points, member_id
    print(
        f"\n{kills} kills, {sum(ops.values())} operations acknowledged {dict(ops)}, "
        f"{len(acked)} events acknowledged, {sum(held.values())} in the journal, "
        f"{len(balances)} members, {elapsed:.0f} s"
    )
