"""Cashier screen benchmarks: the Textual app (``TillApp``) measured from the outside, each
figure next to a baseline measured in the same run.

    .venv/bin/python tests/bench/bench_ui.py [--members 1000000] [--events 100000]
        [--only scan|echo|start|rss] [--scans 300] [--keys 400]

1. Scan → member panel drawn, timed by the app itself (``app.scan_to_panel``: the scan
   message's time to ``call_after_refresh`` after the panel was updated), with N members in
   the journal: goal p99 ≤ 16 ms. Baseline: ``Till.history(code, 8)``, the service call the
   screen makes, timed directly in the same process between the scans.
2. Keystroke echo in the lookup field while the app's own sync daemon drains E unsynced
   events to HQ (``pos-loyalty hq serve``, its own process): a key event's creation to its
   character in the Input's value, after the next refresh: goal p99 ≤ 50 ms. Baseline: the
   same echo with the same journal and no sync running.
3. Cold start, a fresh interpreter to the sign-in screen drawn with its staff field focused:
   goal ≤ 1.0 s. Baselines: ``python -c "import textual.app"`` and a bare Textual app (one
   focused Input), measured the same way; headless, and through a pty (``pos-loyalty ui``).
4. Resident memory (VmRSS) of the app with the N-member journal open after 100 scans: goal
   ≤ 120 MB. Baselines: a bare python with textual imported, and a bare Textual app running.

Every measured app runs in a child process of its own (this file with ``--child``), so the
benchmark's own data (a million member rows while building) is in neither its timings nor
its memory. The N-member journal is built through the journal's own ``take_words`` (what a
pull of HQ's directory writes), a few thousand of those members then have local events
recorded through the service; the file is cached in the temp folder, keyed by the schema
version and N, and copied for each run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
for _path in (ROOT, ROOT / "tests", HERE):
    if str(_path) not in sys.path:
        sys.path.insert(0, str(_path))

STAFF_ID, STAFF_PIN = "bench1", "4321"
BUILD = 1  # bump when the cached member journal's contents change
HISTORY_MEMBERS = 5000  # members with local events (1–12 each) among the N
PAGE = 10_000  # HQ words a take_words call
TX_WORDS = 50_000  # HQ words a transaction
CACHE = Path(tempfile.gettempdir()) / "pos-loyalty-bench-ui"


# -- figures ------------------------------------------------------------------------------


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def figures(samples: list[float]) -> dict[str, float]:
    """p50, p99 and max in milliseconds (samples in seconds)."""
    return {
        "n": len(samples),
        "p50": pct(samples, 0.50) * 1000,
        "p99": pct(samples, 0.99) * 1000,
        "max": max(samples) * 1000,
    }


def line(name: str, f: dict[str, float]) -> str:
    return (
        f"  {name:<48} p50 {f['p50']:7.2f} ms  p99 {f['p99']:7.2f} ms  "
        f"max {f['max']:7.2f} ms  (n={f['n']:.0f})"
    )


# -- journals and configs (the parent) ----------------------------------------------------


def write_config(folder: Path, *, hq_port: int | None = None, token: str | None = None) -> Path:
    from conftest import config_text  # type: ignore[import-not-found]

    text = config_text(velocity_max_per_day=0, offline_redeem_cap=10**9)
    if hq_port is not None:
        text = text.replace('url = ""', f'url = "http://127.0.0.1:{hq_port}"', 1)
        text = text.replace('token_file = ""', 'token_file = "hq.token"', 1)
        fd = os.open(folder / "hq.token", os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(f"{token}\n")
    path = folder / "pos-loyalty.toml"
    path.write_text(text)
    return path


def open_till(cfg: Path, *, create: bool = False) -> Any:
    from pos_loyalty import config as config_mod
    from pos_loyalty.service import Till

    return Till.open(config_mod.load(str(cfg)), create=create)


def members_journal(n: int) -> Path:
    """A journal holding HQ's word on ``n`` members (cached between runs)."""
    from pos_loyalty.journal.schema import SCHEMA_VERSION

    CACHE.mkdir(exist_ok=True)
    cached = CACHE / f"members-s{SCHEMA_VERSION}-b{BUILD}-{n}.db"
    if cached.exists():
        print(f"  (cached journal of {n:,} members: {cached})")
        return cached
    work = Path(tempfile.mkdtemp(prefix="build-", dir=CACHE))
    try:
        build_members(write_config(work), n)
        os.replace(work / "till.db", cached)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return cached


def build_members(cfg: Path, n: int) -> None:
    from bench_pull import FIRST, LAST, ledger, member_id

    from pos_loyalty.clock import iso, utc_now
    from pos_loyalty.journal.members import HQWord
    from pos_loyalty.members import member_code
    from pos_loyalty.service import MemberRef

    till = open_till(cfg, create=True)
    journal = till.journal
    rng = random.Random(11)
    now = utc_now()
    at = iso(now)
    phones = rng.sample(range(10**7), n)
    start = time.perf_counter()
    made = 0
    codes: list[str] = []
    while made < n:
        with journal.writing():
            for _ in range(0, TX_WORDS, PAGE):
                words = []
                for phone in phones[made : made + PAGE]:
                    key = member_id(rng)
                    name = f"{rng.choice(FIRST)} {rng.choice(LAST)}" if rng.random() < 0.8 else None
                    words.append(
                        HQWord(
                            key,
                            f"+3161{phone:07d}",
                            name,
                            rng.randrange(1, 40),
                            ledger(rng, now),
                            0,
                        )
                    )
                    if len(codes) < HISTORY_MEMBERS and rng.random() < 0.5:
                        codes.append(member_code(key))
                if not words:
                    break
                taken = journal.members.take_words(words, at, last_seq=0)
                assert taken == len(words), f"took {taken} of {len(words)} words"
                made += len(words)
        if made % 250_000 == 0 or made == n:
            print(
                f"  (building: {made:,} members, {time.perf_counter() - start:.0f} s)", flush=True
            )
    pulled = time.perf_counter() - start
    print(
        f"  (HQ's word on {n:,} members taken in {pulled:.0f} s through "
        f"MemberStore.take_words, {n / pulled:,.0f} members/s)"
    )
    start = time.perf_counter()
    events = 0
    with journal.writing():
        for k, code in enumerate(codes):
            for i in range(rng.randrange(1, 13)):
                till.earn(MemberRef(code=code), amount=500 + (k * 37 + i * 101) % 9000)
                events += 1
    print(
        f"  ({events:,} local events for {len(codes):,} of them in "
        f"{time.perf_counter() - start:.0f} s, through Till.earn)"
    )
    journal.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    till.close()


def run_folder(tmp: Path, name: str, journal: Path | None = None) -> Path:
    """A till folder: config, a copy of ``journal`` (if given), a manager to sign in."""
    folder = tmp / name
    folder.mkdir()
    cfg = write_config(folder)
    if journal is not None:
        shutil.copyfile(journal, folder / "till.db")
    till = open_till(cfg, create=journal is None)
    till.add_staff(STAFF_ID, name="Bench Manager", role="manager", pin=STAFF_PIN)
    till.close()
    return cfg


def record_events(cfg: Path, events: int, members: int = 2000) -> float:
    """About ``events`` unsynced events (enrolments, welcome bonuses, earns, a redeem in ten
    rounds) through the service, a few thousand a transaction. Seconds taken."""
    from pos_loyalty.service import MemberRef

    till = open_till(cfg)
    journal = till.journal
    start = time.perf_counter()
    refs = [MemberRef(phone=f"+3161{k:07d}") for k in range(members)]
    with journal.writing():
        for ref in refs:
            till.enroll(ref.phone or "")
    k = 0
    while journal.events.last_seq() < events:
        with journal.writing():
            for _ in range(5000):
                ref = refs[k % members]
                if (k // members) % 10 == 9:
                    till.redeem(ref, points=5)
                else:
                    till.earn(ref, amount=1000 + k % 500)
                k += 1
                if journal.events.last_seq() >= events:
                    break
    seconds = time.perf_counter() - start
    till.close()
    return seconds


def child(kind: str, cfg: Path | None, tmp: Path, *extra: str) -> dict[str, Any]:
    out = tmp / f"{kind}-{time.monotonic_ns()}.json"
    argv = [sys.executable, __file__, "--child", kind, "--out", str(out), *extra]
    if cfg is not None:
        argv += ["--config", str(cfg)]
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0 or not out.exists():
        sys.exit(f"the {kind} child failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return dict(json.loads(out.read_text()))


# -- inside a child: the app --------------------------------------------------------------


def vm(field: str) -> float:
    """A /proc/self/status figure in MB."""
    for row in Path("/proc/self/status").read_text().splitlines():
        if row.startswith(field + ":"):
            return int(row.split()[1]) / 1024
    raise KeyError(field)


async def until(cond: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    end = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > end:
            raise SystemExit(f"timed out waiting for {what}")
        await asyncio.sleep(0.002)


async def sign_in(app: Any, pilot: Any) -> None:
    from pos_loyalty.ui.screens.lookup import LookupScreen

    await until(lambda: getattr(app.focused, "id", None) == "staff", "the sign-in screen")
    await pilot.press(*STAFF_ID, "enter", *STAFF_PIN, "enter")
    await until(lambda: isinstance(app.screen, LookupScreen), "the lookup screen")
    await pilot.pause(0.2)


def pick_members(db: Path, count: int, seed: int) -> list[tuple[str, str, int]]:
    """``count`` random members (id, code, their events here), half of them with local
    events and half without, read before the app opens the journal."""
    from pos_loyalty.members import member_code

    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    rng = random.Random(seed)
    (top,) = conn.execute("SELECT max(rowid) FROM members").fetchone()
    busy = [
        r[0] for r in conn.execute("SELECT DISTINCT member_id FROM events WHERE member_id > ''")
    ]
    rng.shuffle(busy)
    quiet: list[str] = []
    while len(quiet) < count:
        rows = rng.sample(range(1, top + 1), min(top, count * 2))
        marks = ", ".join("?" for _ in rows)
        quiet += [
            r[0]
            for r in conn.execute(
                f"SELECT member_id FROM members WHERE rowid IN ({marks}) AND member_id NOT IN "
                "(SELECT member_id FROM events WHERE member_id IS NOT NULL)",
                rows,
            )
        ]
    picked = []
    for k in range(count):  # busy at k % 4 in (1, 2): as many on either path of ``scans``
        source = busy if k % 4 in (1, 2) and busy else quiet
        member_id = source[k % len(source)]
        (events,) = conn.execute(
            "SELECT count(*) FROM events WHERE member_id = ?", (member_id,)
        ).fetchone()
        picked.append((member_id, member_code(member_id), events))
    conn.close()
    return picked


class Scanner(threading.Thread):
    """The serial scanner's reader, as ``Background`` runs it: a thread posting ``Scanned``."""

    def __init__(self, app: Any) -> None:
        super().__init__(name="bench-scanner", daemon=True)
        self.app = app
        self.codes: list[str] = []
        self.ready = threading.Event()
        self.stopping = False

    def scan(self, code: str) -> None:
        self.codes.append(code)
        self.ready.set()

    def run(self) -> None:
        from pos_loyalty.ui.messages import Scanned

        while not self.stopping:
            self.ready.wait()
            self.ready.clear()
            while self.codes:
                self.app.post_message(Scanned(self.codes.pop(0), wedge=False))


async def scans(
    app: Any,
    pilot: Any,
    picks: list[tuple[str, str, int]],
    pause: tuple[float, float],
    between: Callable[[int], None] = lambda k: None,
) -> list[tuple[float, str]]:
    """Scan each member in turn, every other scan from the lookup screen (the member screen
    pushed) and the rest on the member screen (the panel redrawn); (seconds, path) each,
    checked to be the member scanned and their history drawn."""
    from pos_loyalty.ui.screens.lookup import LookupScreen
    from pos_loyalty.ui.screens.member import HISTORY_ROWS, MemberScreen
    from pos_loyalty.ui.widgets.history import History

    scanner = Scanner(app)
    scanner.start()
    rng = random.Random(5)
    timed: list[tuple[float, str]] = []
    for k, (member_id, code, events) in enumerate(picks):
        if k % 2 == 0 and isinstance(app.screen, MemberScreen):
            await pilot.press("escape")
            await until(lambda: isinstance(app.screen, LookupScreen), "the lookup screen")
            await asyncio.sleep(rng.uniform(*pause))
        path = "lookup → member screen" if isinstance(app.screen, LookupScreen) else "member screen"
        before = len(app.scan_to_panel)
        scanner.scan(code)

        def shown(n: int = before) -> bool:
            return len(app.scan_to_panel) > n

        await until(shown, f"scan {k}", 10.0)
        screen = app.screen
        assert isinstance(screen, MemberScreen), type(screen).__name__
        assert screen.shown.view.member_id == member_id, f"scan {k} showed another member"
        rows = screen.query_one(History).row_count
        assert rows == min(events, HISTORY_ROWS), f"scan {k}: {rows} rows, {events} events"
        timed.append((app.scan_to_panel[-1], path))
        between(k)
        await pilot.pause()  # the scan's own work done: the next card comes to an idle screen
        await asyncio.sleep(rng.uniform(*pause))
    scanner.stopping = True
    scanner.ready.set()
    return timed


async def child_scan(cfg: Path, count: int, warm: int, out: Path, rss: bool) -> None:
    from pos_loyalty import config as config_mod
    from pos_loyalty.service import MemberRef
    from pos_loyalty.ui.app import TillApp

    loaded = config_mod.load(str(cfg))
    picks = pick_members(loaded.database_path, warm + count, seed=1)
    result: dict[str, Any] = {}
    if rss:
        baseline: list[float] = []
        between: Callable[[int], None] = lambda k: None  # noqa: E731
    else:
        from pos_loyalty.ui.screens.member import HISTORY_ROWS

        base_picks = pick_members(loaded.database_path, count, seed=2)
        base_till = open_till(cfg)
        baseline = []

        def between(k: int) -> None:  # the service call itself, in the same weather
            if k >= warm:
                ref = MemberRef(code=base_picks[k - warm][1])
                start = time.perf_counter()
                base_till.history(ref, HISTORY_ROWS)
                baseline.append(time.perf_counter() - start)

    app = TillApp(loaded, background=True)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(app, pilot)
        if rss:  # memory after each 100 scans
            timed, result["rss_mb"], result["hwm_mb"] = [], [], []
            for k in range(0, len(picks), 100):
                timed += await scans(app, pilot, picks[k : k + 100], (0.02, 0.05))
                result["rss_mb"].append(vm("VmRSS"))
                result["hwm_mb"].append(vm("VmHWM"))
        else:
            timed = await scans(app, pilot, picks, (0.2, 0.4), between)
    result["first"] = timed[0][0]
    result["warm"] = [t for t, _ in timed[:warm]]
    result["scans"] = timed[warm:]
    result["baseline"] = baseline
    result["events"] = [e for _, _, e in picks[warm:]]
    out.write_text(json.dumps(result))


async def child_echo(cfg: Path, keys: int, drain: bool, out: Path) -> None:
    from textual import events as tevents
    from textual.widgets import Input

    from pos_loyalty import config as config_mod
    from pos_loyalty.ui.app import TillApp

    loaded = config_mod.load(str(cfg))
    db = sqlite3.connect(f"file:{loaded.database_path}?mode=ro", uri=True)

    def acked() -> int:
        row = db.execute("SELECT max(acked_seq) FROM outbox").fetchone()
        return int(row[0] or 0)

    (last,) = db.execute("SELECT max(seq) FROM events").fetchone()
    app = TillApp(loaded, background=drain)
    samples: list[float] = []
    during: list[float] = []
    rng = random.Random(3)
    async with app.run_test(size=(80, 24)) as pilot:
        await sign_in(app, pilot)
        field = app.screen.query_one("#find", Input)
        assert app.focused is field
        pending: dict[str, Any] = {}
        loop = asyncio.get_running_loop()

        def changed(value: str) -> None:
            wait = pending.get("wait")
            if wait is not None and value.endswith(pending["char"]) and not wait.done():
                # After the refresh that draws the character, as the scan is timed.
                field.call_after_refresh(lambda: wait.done() or wait.set_result(time.monotonic()))

        app.watch(field, "value", changed, init=False)
        if drain:
            await until(lambda: acked() > 0, "the sync daemon's first batch", 60.0)
        start_acked = acked()
        started = time.monotonic()
        typed = 0
        for k in range(keys):
            if drain and acked() >= last:
                break
            if typed == 10:
                field.value = ""
                typed = 0
                await pilot.pause(0.05)
            char = "0123456789"[(k * 7) % 10]
            pending["char"] = char
            pending["wait"] = loop.create_future()
            key = tevents.Key(char, char)  # as the pilot (and the terminal driver) sends it
            key.set_sender(app)
            driver = app._driver
            assert driver is not None
            driver.send_message(key)
            try:
                echoed = await asyncio.wait_for(pending["wait"], 10.0)
            except TimeoutError:
                raise SystemExit(f"key {k} was not echoed within 10 s") from None
            pending["wait"] = None
            samples.append(echoed - key.time)
            if drain and acked() < last:
                during.append(echoed - key.time)
            typed += 1
            await asyncio.sleep(rng.uniform(0.03, 0.09))  # a cashier types ~15 keys a second
        seconds = time.monotonic() - started
        end_acked = acked()
    db.close()
    out.write_text(
        json.dumps(
            {
                "samples": samples,
                "during": during,
                "acked": [start_acked, end_acked],
                "last": last,
                "seconds": seconds,
            }
        )
    )


BARE_APP = """
import sys
from textual.app import App
from textual.widgets import Input

class Bare(App):
    def compose(self):
        yield Input(placeholder="Staff id", id="staff")
    def on_mount(self):
        self.query_one(Input).focus()
    def on_descendant_focus(self, event):
        self.call_after_refresh(self.ready)
    def ready(self):
        MARK
"""
TILL_APP = """
import sys
from pos_loyalty.config import load
from pos_loyalty.ui.app import TillApp

class Probe(TillApp):
    def on_descendant_focus(self, event):
        if event.widget.id == "staff":
            self.call_after_refresh(self.ready)
    def ready(self):
        MARK
"""
READY = "sys.__stdout__.write('ready\\n'); sys.__stdout__.flush(); self.exit()"
RSS_READY = (
    "status = open('/proc/self/status').read(); "
    "rss = [r for r in status.splitlines() if r.startswith('VmRSS')][0]; "
    "sys.__stdout__.write(rss.split()[1] + '\\n'); sys.__stdout__.flush(); self.exit()"
)


def bare_app(mark: str, *, headless: bool = True) -> str:
    run = "Bare().run(headless=True, size=(80, 24))" if headless else "Bare().run()"
    return BARE_APP.replace("MARK", mark) + run + "\n"


def till_app(mark: str, cfg: Path) -> str:
    return (
        TILL_APP.replace("MARK", mark)
        + f"Probe(load({str(cfg)!r})).run(headless=True, size=(80, 24))\n"
    )


# -- the parts (the parent) ---------------------------------------------------------------


def part_scan(args: argparse.Namespace, tmp: Path) -> None:
    print(f"\n1. Scan → member panel drawn, {args.members:,} members in the journal")
    cfg = run_folder(tmp, "scan", members_journal(args.members))
    got = child("scan", cfg, tmp, "--scans", str(args.scans))
    scans = [t for t, _ in got["scans"]]
    print(f"  (first scan after signing in: {got['first'] * 1000:.1f} ms, not counted)")
    print(line("service call Till.history(code, 8) (baseline)", figures(got["baseline"])))
    total = figures(scans)
    print(line("scan → panel drawn (app.scan_to_panel)", total))
    for path in ("lookup → member screen", "member screen"):
        part = [t for t, p in got["scans"] if p == path]
        print(line(f"  of which on the {path}", figures(part)))
    with_history = [t for (t, _), e in zip(got["scans"], got["events"], strict=True) if e]
    print(line("  of which members with local events", figures(with_history)))
    base = figures(got["baseline"])
    print(
        f"  ratio at p50 {total['p50'] / base['p50']:.1f}×, "
        f"at p99 {total['p99'] / base['p99']:.1f}×"
        f"   goal p99 ≤ 16 ms: {'met' if total['p99'] <= 16 else 'NOT met'}"
    )


def part_rss(args: argparse.Namespace, tmp: Path) -> None:
    print(f"\n4. Resident memory, the app with {args.members:,} members, every 100 scans")
    cfg = run_folder(tmp, "rss", members_journal(args.members))
    textual_only = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, textual.app; " + RSS_READY.replace("; self.exit()", ""),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    bare = subprocess.run(
        [sys.executable, "-c", bare_app(RSS_READY)], capture_output=True, text=True, check=True
    )
    got = child("rss", cfg, tmp, "--scans", str(args.rss_scans))
    imported = int(textual_only.stdout.split()[-1]) / 1024
    running = int(bare.stdout.split()[-1]) / 1024
    print(f"  python with textual.app imported (baseline)      {imported:6.1f} MB")
    print(f"  a bare Textual app running (one Input)           {running:6.1f} MB")
    for k, (rss, peak) in enumerate(zip(got["rss_mb"], got["hwm_mb"], strict=True)):
        print(
            f"  the till's app after {100 * (k + 1):>4} scans                  {rss:6.1f} MB"
            f"   (peak {peak:.1f} MB)"
        )
    first = got["rss_mb"][0]
    print(
        f"  ratio {first / imported:.1f}× the baseline after 100 scans   goal ≤ 120 MB: "
        f"{'met' if first <= 120 else 'NOT met'}"
    )


def part_echo(args: argparse.Namespace, tmp: Path) -> None:
    from bench_sync import start_hq

    from sync.hq.commands import open_store

    print(f"\n2. Keystroke echo in the lookup field while the sync drains {args.events:,} events")
    folder = tmp / "echo"
    folder.mkdir()
    db = f"sqlite:///{folder / 'hq.db'}"
    hq, port = start_hq(db)
    try:
        store = open_store(db)
        cfg = write_config(folder, hq_port=port, token="placeholder")
        loaded_ids = open_till(cfg, create=True)
        store_id, terminal_id = loaded_ids.config.store.id, loaded_ids.config.terminal.id
        loaded_ids.add_staff(STAFF_ID, name="Bench Manager", role="manager", pin=STAFF_PIN)
        loaded_ids.close()
        token = store.add_terminal(store_id, terminal_id)
        write_config(folder, hq_port=port, token=token)
        seconds = record_events(cfg, args.events)
        till = open_till(cfg)
        total = till.journal.events.last_seq()
        till.close()
        print(f"  (recorded {total:,} unsynced events in {seconds:.0f} s, through the service)")
        base = child("echo", cfg, tmp, "--keys", str(args.keys))
        print(line("echo, no sync running (baseline)", figures(base["samples"])))
        got = child("echo", cfg, tmp, "--keys", str(args.keys * 10), "--drain")
        if not got["during"]:
            sys.exit("  the drain was over before the first key: give it more --events")
        start_acked, end_acked = got["acked"]
        drained = end_acked - start_acked
        print(line("echo, the sync daemon draining", figures(got["samples"])))
        if len(got["during"]) < len(got["samples"]):
            print(line("  of which keys while events were still waiting", figures(got["during"])))
        print(
            f"  drained during the measurement: {drained:,} events in {got['seconds']:.1f} s "
            f"(#{start_acked:,} → #{end_acked:,} of {got['last']:,}; "
            f"{drained / got['seconds']:,.0f} events/s); HQ holds {store.event_count():,}"
        )
        f, b = figures(got["during"] or got["samples"]), figures(base["samples"])
        print(
            f"  ratio at p50 {f['p50'] / b['p50']:.1f}×, at p99 {f['p99'] / b['p99']:.1f}×"
            f"   goal p99 ≤ 50 ms: {'met' if f['p99'] <= 50 else 'NOT met'}"
        )
        store.db.close()
    finally:
        hq.kill()
        hq.wait()


def spawn_to_ready(argv: list[str], env: dict[str, str]) -> float:
    """Seconds from spawning ``argv`` to its ``ready`` line."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None
    first = proc.stdout.readline()
    seconds = time.perf_counter() - start
    _rest, err = proc.communicate(timeout=30)
    if first.strip() != b"ready" or proc.returncode != 0:
        sys.exit(f"{argv[-1][:60]!r} failed ({proc.returncode}): {err.decode()[-2000:]}")
    return seconds


def pty_to_drawn(argv: list[str], env: dict[str, str], drawn: bytes) -> float:
    """Seconds from spawning ``argv`` on a pseudo-terminal (80×24) to ``drawn`` written on
    it; the app is then quit with Ctrl+Q."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 80, 0, 0))
    start = time.perf_counter()
    proc = subprocess.Popen(
        argv, stdin=slave, stdout=slave, stderr=slave, env=env, start_new_session=True
    )
    os.close(slave)
    seen = b""
    seconds = None
    try:
        end = time.monotonic() + 30
        while time.monotonic() < end:
            ready, _, _ = select.select([master], [], [], 0.5)
            if not ready:
                continue
            try:
                chunk = os.read(master, 65536)
            except OSError:
                break
            seen += chunk
            if seconds is None and drawn in seen:
                seconds = time.perf_counter() - start
                for _ in range(2):  # Ctrl+Q, twice: the till asks once
                    with contextlib.suppress(OSError):  # unless it is gone already
                        os.write(master, b"\x11")
                    time.sleep(0.3)
                end = time.monotonic() + 10
        if seconds is not None:
            proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    if seconds is None:
        sys.exit(f"{argv} never drew {drawn!r}: {seen[-500:]!r}")
    return seconds


def part_start(args: argparse.Namespace, tmp: Path) -> None:
    import compileall

    print(f"\n3. Cold start to the sign-in screen, median of {args.runs} runs each")
    cfg = run_folder(tmp, "start", members_journal(args.members))
    for package in ("pos_loyalty", "sync", "drivers"):  # an installed till has its bytecode
        compileall.compile_dir(ROOT / package, quiet=1)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["TERM"] = "xterm-256color"
    exe = shutil.which("pos-loyalty", path=str(Path(sys.executable).parent)) or "pos-loyalty"
    py = sys.executable
    headless: dict[str, Callable[[], float]] = {
        'python -c "import textual.app" (baseline)': lambda: spawn_to_ready(
            [py, "-c", "import sys, textual.app; print('ready', flush=True)"], env
        ),
        "a bare Textual app, headless (baseline)": lambda: spawn_to_ready(
            [py, "-c", bare_app(READY)], env
        ),
        "TillApp, headless": lambda: spawn_to_ready([py, "-c", till_app(READY, cfg)], env),
        "a bare Textual app on a pty (baseline)": lambda: pty_to_drawn(
            [py, "-c", bare_app("pass", headless=False)], env, b"taff id"
        ),
        "pos-loyalty ui on a pty": lambda: pty_to_drawn(
            [exe, "ui", "--config", str(cfg)], env, b"staff id and PIN"
        ),
    }
    for measure in headless.values():  # warm the page cache and the bytecode
        measure()
        measure()
    medians = {}
    for name, measure in headless.items():
        times = sorted(measure() for _ in range(args.runs))
        medians[name] = statistics.median(times)
        print(
            f"  {name:<46} median {medians[name] * 1000:6.0f} ms"
            f"   (min {times[0] * 1000:.0f}, max {times[-1] * 1000:.0f})"
        )
    ours = max(medians["TillApp, headless"], medians["pos-loyalty ui on a pty"])
    base = medians['python -c "import textual.app" (baseline)']
    bare = medians["a bare Textual app, headless (baseline)"]
    print(
        f"  ratio {medians['TillApp, headless'] / base:.1f}× the import, "
        f"{medians['TillApp, headless'] / bare:.1f}× the bare app (headless)"
        f"   goal ≤ 1.0 s: {'met' if ours <= 1.0 else 'NOT met'}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--members", type=int, default=1_000_000)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--only", choices=("scan", "echo", "start", "rss"))
    parser.add_argument("--scans", type=int, default=300)
    parser.add_argument("--keys", type=int, default=400, help="keys timed without a sync")
    parser.add_argument("--runs", type=int, default=10, help="cold starts timed each")
    parser.add_argument("--rss-scans", type=int, default=300, help="scans, RSS every 100")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--drain", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child == "scan":
        asyncio.run(child_scan(args.config, args.scans, 4, args.out, rss=False))
        return
    if args.child == "rss":
        asyncio.run(child_scan(args.config, args.scans, 0, args.out, rss=True))
        return
    if args.child == "echo":
        asyncio.run(child_echo(args.config, args.keys, args.drain, args.out))
        return
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} cores, {sys.platform}")
    parts: dict[str, Callable[[argparse.Namespace, Path], None]] = {
        "scan": part_scan,
        "echo": part_echo,
        "start": part_start,
        "rss": part_rss,
    }
    with tempfile.TemporaryDirectory(prefix="pos-loyalty-bench-") as tmp:
        for name, part in parts.items():
            if args.only in (None, name):
                part(args, Path(tmp))


if __name__ == "__main__":
    os.environ.setdefault("PYTHONDONTWRITEBYTECODE", "1")
    main()
