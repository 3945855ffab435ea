"""A scripted walk-through of a till's day on the command line: enrol, earn, redeem, refund,
balance and verify, against a real journal in a folder of its own."""

from __future__ import annotations

import tempfile
from pathlib import Path

from . import config as config_mod
from .errors import BadInput
from .journal import verify_chain
from .members import display_code
from .rules.earn import BasketLine
from .service import MemberRef, Till
from .words import plural

MANAGER_PIN = "2468"
CASHIER_PIN = "1357"


def run_walkthrough(folder: str | None, *, as_json: bool = False) -> int:
    root = Path(folder or tempfile.mkdtemp(prefix="pos-loyalty-demo-"))
    if root.exists() and (not root.is_dir() or any(root.iterdir())):
        # The walk-through writes a till of its own: never into a folder holding anything.
        raise BadInput(f"{root} is not an empty folder; give the demo a new --dir.")
    root.mkdir(parents=True, exist_ok=True)
    cfg_path = root / "pos-loyalty.toml"
    cfg_path.write_bytes(config_mod.EXAMPLE.read_bytes())
    loaded = config_mod.load(str(cfg_path))
    say = Narrator(quiet=as_json)
    with Till.open(loaded, create=True) as till:
        till.add_staff("M1", name="Maria (manager)", role="manager", pin=MANAGER_PIN)
        manager = till.sign_in("M1", MANAGER_PIN, manager=True)
        till.add_staff("C7", name="Chris", role="cashier", pin=CASHIER_PIN, approval=manager)
        chris = till.sign_in("C7", CASHIER_PIN)
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
        import json

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
