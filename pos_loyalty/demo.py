"""``pos-loyalty demo``: the whole product for a tester in a fresh folder (HQ, the simulated
printer and scanner, a till with seeded members, the cashier's screen), or with ``--no-ui``
a scripted walk-through of a till's day on the command line: enrol, earn, redeem, refund,
balance and verify, against a real journal in a folder of its own."""

from __future__ import annotations

import contextlib
import json
import logging
import re
import shlex
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from drivers.sim_scanner import sigterm_as_interrupt

from . import config as config_mod
from .demo_seed import (
    ANNA_PHONE,
    CASHIER_ID,
    CASHIER_PIN,
    MANAGER_ID,
    MANAGER_PIN,
    Seeded,
    add_demo_staff,
    seed,
)
from .demo_stack import HQ_FAULT, PRINTER_FAULT, TOKEN_FILE, Stack
from .errors import BadInput
from .journal import verify_chain
from .members import display_code
from .rules.earn import BasketLine
from .service import MemberRef, Till
from .ui import run_app
from .words import plural

SCAN_SCRIPT = "scan"  # DIR/scan CODE: a scan from a second terminal, short enough to type
UIRunner = Callable[..., int]  # run_app's shape: (loaded, *, intro=lines) -> exit status


def run_demo(
    folder: str | None,
    *,
    as_json: bool = False,
    ui: UIRunner = run_app,
    hq_port: int | None = None,
) -> int:
    """Start every part, seed the till, run the cashier's screen until it quits, then stop
    every part (on Ctrl-C and SIGTERM too). The screen's exit status."""
    root = _empty_folder(folder)
    if as_json:
        raise BadInput("The demo's cashier screen has no JSON; add --no-ui for the walk-through.")
    if ui is run_app and not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise BadInput("The demo's cashier screen needs a terminal; run it in one, or add --no-ui.")
    example = config_mod.parse(config_mod.EXAMPLE.read_bytes(), str(config_mod.EXAMPLE))
    stack = Stack(root, example.store.id, example.terminal.id, hq_port=hq_port)
    with _logging_to(root / "demo.log"), sigterm_as_interrupt(), stack:
        print(f"Starting the demo in {root} …", flush=True)
        stack.start()
        loaded = _till_config(root, stack)
        seeded = seed(loaded)
        _scan_script(stack)
        hints = _hints(loaded, stack, seeded)
        print("\n".join(hints), flush=True)
        status = ui(loaded, intro=_intro(stack, seeded))
    print("\n".join(["", "The demo has stopped, and everything it started.", *hints]))
    return status


def _empty_folder(folder: str | None) -> Path:
    root = Path(folder or tempfile.mkdtemp(prefix="pos-loyalty-demo-"))
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        # The demo writes a till of its own: never into a folder holding anything.
        raise BadInput(f"{root} is not an empty folder; give the demo a new --dir.")
    root.mkdir(parents=True, exist_ok=True)
    return root.resolve()


def _till_config(root: Path, stack: Stack) -> config_mod.LoadedConfig:
    """The example config, pointed at the demo's HQ (through the fault proxy), printer and
    scanner."""
    text = config_mod.EXAMPLE.read_text(encoding="utf-8")
    for section, key, value in (
        ("hq", "url", stack.hq_url),
        ("hq", "token_file", TOKEN_FILE),
        ("printer", "transport", "network"),
        ("printer", "port", stack.printer_port),
        ("scanner", "transport", "serial"),
        ("scanner", "port", stack.scanner_device),
    ):
        text = _set_key(text, section, key, value)
    path = root / config_mod.DEFAULT_NAME
    path.write_text(text, encoding="utf-8")
    return config_mod.load(str(path))


def _set_key(text: str, section: str, key: str, value: str | int) -> str:
    """``key = value`` in the ``[section]`` table of a TOML text, its comment kept."""
    start = text.index(f"\n[{section}]\n")
    found = re.compile(rf"(?m)^{key} = [^#\n]*").search(text, start)
    if found is None:
        raise ValueError(f"no {section}.{key} in the example config")
    line = f"{key} = {json.dumps(value)}".ljust(len(found.group()))
    return text[: found.start()] + line + text[found.end() :]


def _intro(stack: Stack, seeded: Seeded) -> list[str]:
    """For the sign-in screen (80 columns): who can sign in, and what to try from a second
    terminal while the screen covers this one."""
    root = stack.root
    return [
        f"Demo till. Cashier {CASHIER_ID}, PIN {CASHIER_PIN}; manager {MANAGER_ID}, "
        f"PIN {MANAGER_PIN}.",
        f"{plural(seeded.members, 'member')}: try the phone {ANNA_PHONE} (Anna). "
        f"Receipts: {stack.receipts}",
        "From a second terminal: scan Anna's card (any member's code works)",
        f"  {root / SCAN_SCRIPT} {seeded.anna_code}",
        f"  echo paper_out > {root / PRINTER_FAULT}   (or offline, none)",
        f"  echo down > {root / HQ_FAULT}   (or slow, errors, none)",
    ]


def _hints(loaded: config_mod.LoadedConfig, stack: Stack, seeded: Seeded) -> list[str]:
    root, command = stack.root, _command()
    return [
        f"Demo folder {root}: till config {loaded.path.name}, logs *.log.",
        f"HQ {stack.hq_base}; the till reaches it through a fault proxy at {stack.hq_url}.",
        f"{plural(seeded.members, 'member')} seeded, {seeded.unsynced} of today's events not "
        f"synced yet. Sign in as {CASHIER_ID} (PIN {CASHIER_PIN}) or {MANAGER_ID} "
        f"(PIN {MANAGER_PIN}); try the phone {ANNA_PHONE}.",
        f"Receipts land in {stack.receipts} (.txt and .png per job).",
        "While the demo runs, from a second terminal:",
        "  scan Anna's card (the script runs the next line's command):",
        f"    {root / SCAN_SCRIPT} {seeded.anna_code}",
        f"    {command} sim scan --control {stack.scanner_socket} {seeded.anna_code}",
        "  printer faults (none heals it):",
        f"    echo paper_out > {root / PRINTER_FAULT}   # or offline, none",
        "  HQ faults (none heals it; while HQ is down, new points stay pending):",
        f"    echo down > {root / HQ_FAULT}   # or slow, errors, none",
    ]


def _scan_script(stack: Stack) -> None:
    """``DIR/scan CODE``: the scan command, short enough to type from the sign-in screen."""
    path = stack.root / SCAN_SCRIPT
    command = f"{_command()} sim scan --control {shlex.quote(str(stack.scanner_socket))}"
    path.write_text(f'#!/bin/sh\nexec {command} "$@"\n', encoding="utf-8")
    path.chmod(0o700)


def _command() -> str:
    """How to run pos-loyalty from another terminal: by name if that is this one."""
    beside = Path(sys.executable).parent / "pos-loyalty"
    on_path = shutil.which("pos-loyalty")
    if not beside.exists():
        return "pos-loyalty" if on_path else f"{sys.executable} -m pos_loyalty"
    same = on_path is not None and Path(on_path).resolve() == beside.resolve()
    return "pos-loyalty" if same else str(beside)


@contextlib.contextmanager
def _logging_to(path: Path) -> Iterator[None]:
    """What the demo's threads log goes to a file: the terminal belongs to the screen."""
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(lambda r: r.levelno >= logging.WARNING or not r.name.startswith("httpx"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(min(level, logging.INFO) if level else logging.INFO)
    try:
        yield
    finally:
        root.removeHandler(handler)
        root.setLevel(level)
        handler.close()


def run_walkthrough(folder: str | None, *, as_json: bool = False) -> int:
    root = _empty_folder(folder)
    cfg_path = root / "pos-loyalty.toml"
    cfg_path.write_bytes(config_mod.EXAMPLE.read_bytes())
    loaded = config_mod.load(str(cfg_path))
    say = Narrator(quiet=as_json)
    with Till.open(loaded, create=True) as till:
        manager, chris = add_demo_staff(till)
        store, terminal = loaded.config.store.name, loaded.config.terminal.id
        say(f"Till {terminal} of {store}; journal {loaded.database_path}")

        anna = till.enroll("06 1234 5678", name="Anna de Vries", consent=True, cashier=chris)
        say("Enrol Anna by phone (06 1234 5678):", anna.lines, f"balance {anna.member.balance}")
        code = anna.member.code or ""
        bob = till.enroll(
            "+31 6 8765 4321", name="Bob", referrer=MemberRef(code=code), cashier=chris
        )
        say("Enrol Bob, referred by Anna:", bob.lines)

        sale = till.earn(
            MemberRef(code=display_code(code)),
            amount=6240,
            lines=[BasketLine("fresh", 1850), BasketLine("tobacco", 1100)],
            cashier=chris,
        )
        say(
            "Anna scans her card and buys 62.40 EUR (18.50 fresh, 11.00 tobacco):",
            sale.lines,
            f"balance {sale.member.balance}",
        )
        treat = till.redeem(MemberRef(phone="0612345678"), reward_id="coffee", cashier=chris)
        reward = treat.to_json()["reward"]
        say(
            f"Anna redeems a free coffee (the POS gives item {reward['item']}):",
            treat.lines,
            f"balance {treat.member.balance}",
        )
        refund = till.reverse(str(sale.event.seq), amount=1500, cashier=chris, approval=manager)
        say(
            "She returns 15.00 EUR of the sale; its share of the points is taken back:",
            refund.lines,
            f"balance {refund.member.balance}",
        )
        view = till.lookup(MemberRef(code=code))
        say(
            "Anna's balance now:",
            [f"{plural(view.balance, 'point')}, tier {view.tier.tier.name}, {view.tier.text}"],
        )
        report = verify_chain(till.journal)
        queue = till.queue()
        say(
            f"Journal verified: {plural(report.checked, 'event')} in an intact hash chain; "
            f"{queue.unsynced} wait for HQ."
        )
    if as_json:
        summary = {
            "config": str(cfg_path),
            "database": str(loaded.database_path),
            "verified": report.ok,
            "steps": say.steps,
        }
        print(json.dumps(summary))
    else:
        print(f"\nTry it yourself:  pos-loyalty lookup --config {cfg_path} --phone 0612345678")
    return 0 if report.ok else 1


class Narrator:
    """Numbers and prints each step, and keeps them for the JSON summary."""

    def __init__(self, *, quiet: bool) -> None:
        self.quiet = quiet
        self.steps: list[dict[str, object]] = []

    def __call__(self, title: str, lines: list[str] | None = None, tail: str | None = None) -> None:
        self.steps.append({"title": title, "lines": list(lines or ()), "result": tail})
        if self.quiet:
            return
        print(f"\n{len(self.steps)}. {title}")
        for line in lines or ():
            print(f"     {line}")
        if tail:
            print(f"     → {tail}")
