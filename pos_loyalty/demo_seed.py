"""The demo's customers: twenty members of the example program with weeks of history each
(enrolments, sales by category, rewards, a donation, a refund, a paid membership), synced to
HQ but for a few of today's events, so the cashier's screen shows confirmed and pending
points, all three tiers and rewards to afford.

History is written with the till's clock set back to each event's moment, day by day in
order, so the journal's times rise with its sequence as a real till's do.
"""

from __future__ import annotations

import datetime as dt
import random
import zoneinfo
from collections.abc import Iterator
from dataclasses import dataclass

import msgspec

from sync.daemon import Syncer

from .clock import utc_now
from .config import LoadedConfig, Printer
from .demo_stack import StartFailed
from .errors import LoyaltyError
from .members import display_code
from .rules.earn import BasketLine
from .service import MemberRef, Till
from .staff import StaffSession

MANAGER_ID, MANAGER_NAME, MANAGER_PIN = "M1", "Maria", "2468"
CASHIER_ID, CASHIER_NAME, CASHIER_PIN = "C7", "Chris", "1357"
ANNA_PHONE = "06 1234 5678"  # the one printed for the tester to type
HISTORY_DAYS = 70


@dataclass(frozen=True)
class Customer:
    name: str
    phone: str
    basket: int  # a usual shop, minor units
    visits: int  # sales over the weeks since enrolment
    fresh: int = 20  # percent of each basket that is fresh produce (double points)
    extras: tuple[str, ...] = ()  # what else they did, halfway through (see Seeder.extra)
    referrer: str | None = None  # phone of the member who referred them


CUSTOMERS: tuple[Customer, ...] = (
    Customer("Anna de Vries", ANNA_PHONE, 5500, 12, extras=("coffee",)),
    Customer("Bram Jansen", "06 2000 0001", 14000, 12, fresh=30, extras=("5off",)),
    Customer("Carla Smit", "06 2000 0002", 6500, 10, extras=("donate",)),
    Customer("Daan Bakker", "06 2000 0003", 4800, 9, extras=("refund",)),
    Customer("Eva Visser", "06 2000 0004", 7000, 10, extras=("plus",)),
    Customer("Femke de Boer", "06 2000 0005", 3000, 6, referrer=ANNA_PHONE),
    Customer("Gijs Mulder", "06 2000 0006", 16000, 12, fresh=25, extras=("plus", "coffee")),
    Customer("Hanna Peters", "06 2000 0007", 2500, 5),
    Customer("Ivo de Groot", "06 2000 0008", 1800, 4, fresh=0),
    Customer("Julia Bos", "06 2000 0009", 6000, 9, fresh=40),
    Customer("Koen Vos", "06 2000 0010", 2200, 6, extras=("refund",)),
    Customer("Lotte Hendriks", "06 2000 0011", 13000, 12, fresh=35),
    Customer("Milan Dekker", "06 2000 0012", 3500, 5),
    Customer("Noor van Dijk", "06 2000 0013", 5000, 11, extras=("coffee",)),
    Customer("Olaf Brouwer", "06 2000 0014", 1500, 3, fresh=0),
    Customer("Puck de Wit", "06 2000 0015", 4000, 8, referrer="06 2000 0001"),
    Customer("Rik Dijkstra", "06 2000 0016", 8000, 8, extras=("donate",)),
    Customer("Saar Smits", "06 2000 0017", 2000, 4),
    Customer("Tom de Graaf", "06 2000 0018", 3200, 7),
)
# Today, after the sync: what is still pending on the screen.
NEWCOMER = "06 2000 0019"  # enrolled today, phone only
TODAY_SALES = ((ANNA_PHONE, 2480), ("06 2000 0001", 8650), ("06 2000 0013", 1200))


@dataclass(frozen=True)
class Seeded:
    members: int
    anna_code: str  # her member code as printed on her card
    unsynced: int  # events HQ has not got yet


class SeedClock:
    """The till's clock while the history is written: set to each event's moment."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def set(self, moment: dt.datetime) -> None:
        self.now = max(self.now, moment)  # never back: times rise with the journal's seq


def seed(loaded: LoadedConfig) -> Seeded:
    """The demo's members and staff in a new journal, synced to HQ but for today's few."""
    # No slips for the history: the printer would otherwise print weeks of receipts at start.
    quiet = msgspec.structs.replace(
        loaded, config=msgspec.structs.replace(loaded.config, printer=Printer())
    )
    zone = zoneinfo.ZoneInfo(loaded.config.store.timezone)
    start = dt.datetime.now(zone).replace(hour=8, minute=0, second=0, microsecond=0)
    clock = SeedClock(start - dt.timedelta(days=HISTORY_DAYS + 1))
    with Till.open(quiet, clock=clock, create=True) as till:
        seeder = Seeder(till, *add_demo_staff(till))
        for moment, customer, step in _history(start):
            clock.set(moment)
            seeder.do(customer, step)
    sync_once(quiet)
    clock.set(utc_now() - dt.timedelta(minutes=30))
    with Till.open(quiet, clock=clock) as till:
        seeder = Seeder(till, *_sessions(till))
        till.enroll(NEWCOMER, consent=False, cashier=seeder.cashier)
        for phone, amount in TODAY_SALES:
            clock.set(clock.now + dt.timedelta(minutes=7))
            seeder.sale(phone, amount)
        anna = till.lookup(MemberRef(phone=ANNA_PHONE))
        return Seeded(len(CUSTOMERS) + 1, display_code(anna.code or ""), till.queue().unsynced)


def add_demo_staff(till: Till) -> tuple[StaffSession, StaffSession]:
    """Maria the manager and Chris the cashier, both signed in: (manager, cashier)."""
    till.add_staff(MANAGER_ID, name=MANAGER_NAME, role="manager", pin=MANAGER_PIN)
    manager = till.sign_in(MANAGER_ID, MANAGER_PIN, manager=True)
    till.add_staff(CASHIER_ID, name=CASHIER_NAME, role="cashier", pin=CASHIER_PIN, approval=manager)
    return manager, till.sign_in(CASHIER_ID, CASHIER_PIN)


def _sessions(till: Till) -> tuple[StaffSession, StaffSession]:
    manager = till.sign_in(MANAGER_ID, MANAGER_PIN, manager=True)
    return manager, till.sign_in(CASHIER_ID, CASHIER_PIN)


def sync_once(loaded: LoadedConfig) -> None:
    """Push the journal to HQ and pull HQ's word, as ``sync --once`` does."""
    try:
        with Syncer(loaded) as syncer:
            syncer.push(attempts=3)
            syncer.pull(attempts=3)
    except LoyaltyError as exc:
        raise StartFailed(f"The demo could not sync its till with HQ: {exc.message}") from None


def _history(today: dt.datetime) -> Iterator[tuple[dt.datetime, Customer, str]]:
    """Every customer's steps, in time order: enrolled on a staggered day, visits spread
    evenly to yesterday, extras halfway. Same-day steps follow each other minutes apart."""
    plan: list[tuple[int, int, int, str]] = []  # (days ago, customer, order, step)
    for n, customer in enumerate(CUSTOMERS):
        enrolled = HISTORY_DAYS - 2 * n
        plan.append((enrolled, n, 0, "enroll"))
        for visit in range(customer.visits):
            ago = enrolled - 1 - visit * (enrolled - 2) // max(customer.visits - 1, 1)
            plan.append((max(ago, 1), n, 1 + visit, "sale"))
            if visit == customer.visits // 2:
                plan.extend((max(ago, 1), n, 1 + visit, extra) for extra in customer.extras)
    plan.sort(key=lambda p: (-p[0], p[1], p[2]))
    slot, day = 0, None
    for ago, n, _, step in plan:
        slot, day = (slot + 1 if ago == day else 0), ago
        moment = today - dt.timedelta(days=ago) + dt.timedelta(hours=1, minutes=4 * slot)
        yield moment, CUSTOMERS[n], step


class Seeder:
    """Writes one customer's step at the till, as Chris at the counter would."""

    def __init__(self, till: Till, manager: StaffSession, cashier: StaffSession) -> None:
        self.till, self.manager, self.cashier = till, manager, cashier
        self.last_sale: dict[str, tuple[int, int]] = {}  # phone: (seq, amount)
        self.visits = 0

    def do(self, customer: Customer, step: str) -> None:
        if step == "enroll":
            referrer = MemberRef(phone=customer.referrer) if customer.referrer else None
            self.till.enroll(
                customer.phone,
                name=customer.name,
                consent=len(customer.name) % 2 == 0,  # some said yes to marketing
                referrer=referrer,
                cashier=self.cashier,
            )
        elif step == "sale":
            self.visits += 1  # the same baskets every run: a demo to describe in words
            shop = random.Random(self.visits)
            amount = int(round(customer.basket * shop.uniform(0.7, 1.3), -1))
            self.sale(customer.phone, amount, customer.fresh)
        else:
            self.extra(customer.phone, step)

    def sale(self, phone: str, amount: int, fresh: int = 20) -> None:
        lines = [BasketLine("fresh", amount * fresh // 100), BasketLine("bakery", amount // 10)]
        done = self.till.earn(
            MemberRef(phone=phone),
            amount=amount,
            lines=[line for line in lines if line.amount],
            cashier=self.cashier,
        )
        self.last_sale[phone] = (done.event.seq, amount)

    def extra(self, phone: str, step: str) -> None:
        ref = MemberRef(phone=phone)
        if step in ("coffee", "5off"):
            self.till.redeem(ref, reward_id=step, cashier=self.cashier)
        elif step == "donate":
            self.till.donate(ref, charity_id="foodbank", points=100, cashier=self.cashier)
        elif step == "plus":
            self.till.buy_membership(ref, plan_id="plus", cashier=self.cashier)
        elif step == "refund":  # a third of the last sale came back
            seq, amount = self.last_sale[phone]
            self.till.reverse(
                str(seq), amount=amount // 3, cashier=self.cashier, approval=self.manager
            )
        else:
            raise ValueError(f"no demo step {step!r}")
