"""A member's account as one pure fold over their events: the till and HQ call the same code.

``fold(account, events, now, program)`` is the only way an account changes. What it carries
from one fold to the next is a ``Ledger`` (what a till's checkpoint and an HQ snapshot store);
what that comes to at ``now`` (spendable, tier, membership, flags, ...) is recomputed by every
fold, so folding a snapshot and then the later events equals folding all events from nothing.

The rules the fold holds, whatever order events from several tills arrive in:

- an event's ``points`` are authoritative: ``balance == sum(lot.remaining) - deficit == the
  sum of the points of every event folded``;
- what an event froze about lots is a hint: a draw from a lot that is gone or too small takes
  what is there, the rest comes from the other lots, and only what no lot covers is deficit;
  no lot is ever negative, the deficit never is, and a deficit and a live lot never coexist;
- incoming points (a new lot, a cancelled redemption) pay the deficit first;
- a refund's shortfall is whatever the fold finds it to be, never what the till froze;
- qualifying points count over a rolling window of whole days, and a refund counts on its
  sale's day, so it only lowers the tier while its sale still counts;
- paid memberships chain in the order they were bought, so two tills selling a year each while
  offline give two years, whichever reaches HQ first.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import msgspec

from ..clock import add_months, iso, parse_iso
from .lots import Book, Draw, Lot, MemoryShelf, Shelf, draw_order, hinted_draws, moment
from .program import Membership, Program
from .tiers import TierStatus, tier_status

SPENDS = frozenset({"redeem", "donate"})
TRANSACTION_KINDS = frozenset({"earn", "redeem", "donate"})  # what the velocity check counts
ACTIVITY_KINDS = frozenset({"enroll", "earn", "redeem", "donate", "membership"})  # inactivity
FOLD_VERSION = 2  # bump when the fold's rules change: checkpoints folded by older rules rebuild


class FoldEvent(Protocol):
    """What the fold reads of an event: the journal's events and HQ's rows both have it."""

    @property
    def event_id(self) -> str: ...
    @property
    def kind(self) -> str: ...
    @property
    def points(self) -> int: ...
    @property
    def created_at(self) -> str: ...
    @property
    def detail(self) -> Mapping[str, Any]: ...


class Purchase(msgspec.Struct, frozen=True, array_like=True):
    """One paid membership bought: ``months`` from when it was bought or the previous one
    ends. ``until`` is for events from before months were frozen: their end as written."""

    bought_at: str
    event_id: str
    plan_id: str
    months: int
    until: str | None = None


class Ledger(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """What the fold carries from event to event: the state a checkpoint or snapshot holds."""

    lots: tuple[Lot, ...] = ()
    deficit: int = 0
    # The sum of the points of every event folded: the balance, kept beside the lots so it is
    # known without reading them (the till keeps its lots apart). Given none, the lots' sum.
    booked: int | None = None
    qualifying_days: tuple[tuple[str, int], ...] = ()  # (UTC day of the sale, points)
    purchases: tuple[Purchase, ...] = ()
    unconfirmed_spent: int = 0  # spent net of cancels in events HQ's word does not include
    day: str = ""  # store day of the latest loyalty transaction
    day_count: int = 0  # loyalty transactions on that day
    last_activity: str = ""
    granted_tier: str | None = None  # HQ's word on the tier, when higher than points reach

    def __post_init__(self) -> None:
        if self.booked is None:
            total = sum(lot.remaining for lot in self.lots) - self.deficit
            msgspec.structs.force_setattr(self, "booked", total)

    @property
    def balance(self) -> int:
        return self.booked or 0


@dataclass(frozen=True)
class Account:
    """A member's account at ``as_of``: the ledger and what it comes to then."""

    ledger: Ledger
    as_of: str
    balance: int
    spendable: int
    held: int
    held_from: str | None  # when the first held points become spendable
    held_until: str | None  # when the last held points become spendable
    tier: TierStatus
    membership: Membership | None
    membership_until: str | None
    unconfirmed_spent: int
    cap_room: int  # points that may still be spent before HQ confirms what was
    transactions_today: int
    flags: tuple[str, ...]
    shelf: Shelf = field(compare=False, repr=False)  # where the lots are: plan draws from it

    @property
    def lots(self) -> tuple[Lot, ...]:
        return self.shelf.all()

    @property
    def deficit(self) -> int:
        return self.ledger.deficit

    @property
    def qualifying(self) -> int:
        return self.tier.qualifying

    @property
    def can_spend_now(self) -> int:
        """What a redemption may take now without a manager: the spendable points within the
        offline cap."""
        return max(0, min(self.spendable, self.cap_room))


EMPTY = Ledger()


def fold(
    account: Account | Ledger | None,
    events: Iterable[FoldEvent],
    now: dt.datetime,
    program: Program,
    *,
    shelf: Shelf | None = None,
) -> Account:
    """The account after ``events`` (in the order given), as it stands at ``now``.

    ``now`` is timezone-aware: its zone is the store's, which decides what "today" is.
    Without ``shelf`` the lots are the ledger's own, in memory, and the result's ledger holds
    them; with one (the till's journal rows), the fold keeps the lots there and the result's
    ledger holds everything else."""
    ledger = account.ledger if isinstance(account, Account) else (account or EMPTY)
    if shelf is None and isinstance(account, Account) and not ledger.lots:
        ledger = msgspec.structs.replace(ledger, lots=account.lots)  # lots that were kept apart
    events = list(events)
    if events:
        ledger = advance(ledger, events, now, program, shelf=shelf)
    else:
        ledger = _pruned(ledger, now, program)
    return settle(ledger, now, program, shelf)


def advance(
    ledger: Ledger,
    events: Iterable[FoldEvent],
    now: dt.datetime,
    program: Program,
    *,
    shelf: Shelf | None = None,
) -> Ledger:
    """The ledger after ``events``: the fold without working out what it comes to (HQ folds
    event after event and needs only the ledger)."""
    kept = shelf is not None  # the caller keeps the lots (the till's rows); else in memory
    if shelf is None:
        shelf = MemoryShelf(ledger.lots)
    zone = now.tzinfo or dt.UTC
    book = Book(shelf, ledger.deficit)
    qualifying = dict(ledger.qualifying_days)
    purchases = list(ledger.purchases)
    spent, day, count, active = (
        ledger.unconfirmed_spent,
        ledger.day,
        ledger.day_count,
        ledger.last_activity,
    )
    points_folded = 0
    for event in events:
        detail, at, points = event.detail, event.created_at, event.points
        points_folded += points
        _apply_points(book, event.event_id, points, at, detail)
        reverses = detail.get("reverses") if event.kind == "reverse" else None
        if event.kind == "earn" or reverses == "earn":
            sale_at = detail.get("sale_at") if reverses else at
            key = (sale_at if isinstance(sale_at, str) else at)[:10]
            qualifying[key] = qualifying.get(key, 0) + points
        if event.kind in SPENDS or reverses in SPENDS:
            spent -= points
        if event.kind == "membership":
            purchases.append(_purchase(event))
        if event.kind in TRANSACTION_KINDS:
            local = parse_iso(at).astimezone(zone).date().isoformat()
            if local > day:
                day, count = local, 1
            elif local == day:
                count += 1
        if event.kind in ACTIVITY_KINDS and at > active:
            active = at
    start = _window_start(now, program)
    return Ledger(
        lots=() if kept else shelf.all(),
        deficit=book.deficit,
        booked=ledger.balance + points_folded,
        qualifying_days=tuple(sorted((d, p) for d, p in qualifying.items() if d >= start and p)),
        purchases=tuple(sorted(purchases, key=lambda p: (p.bought_at, p.event_id))),
        unconfirmed_spent=spent,
        day=day,
        day_count=count,
        last_activity=active,
        granted_tier=ledger.granted_tier,
    )


def _pruned(ledger: Ledger, now: dt.datetime, program: Program) -> Ledger:
    """The ledger without qualifying days that have left the window (as ``fold`` leaves it)."""
    start = _window_start(now, program)
    days = ledger.qualifying_days
    if not days or days[0][0] >= start:
        return ledger
    return msgspec.structs.replace(
        ledger, qualifying_days=tuple((d, p) for d, p in days if d >= start)
    )


def _window_start(now: dt.datetime, program: Program) -> str:
    """The first UTC day of the rolling tier window that ends ``now``."""
    return (now - dt.timedelta(days=program.tier_window_days)).astimezone(dt.UTC).date().isoformat()


def _apply_points(
    book: Book, event_id: str, points: int, at: str, detail: Mapping[str, Any]
) -> None:
    if points > 0 and "restores" in detail:
        book.restore(event_id, points, hinted_draws(detail["restores"]), at)
    elif points > 0:
        lot = detail.get("lot")
        lot = lot if isinstance(lot, Mapping) else {}
        book.credit(
            Lot(
                event_id,
                points,
                points,
                at,
                moment(lot.get("expires_at")),
                moment(lot.get("spendable_at")),
            )
        )
    elif points < 0:
        book.debit(-points, hinted_draws(detail.get("draws")), at)


def _purchase(event: FoldEvent) -> Purchase:
    detail = event.detail
    plan = detail.get("membership")
    plan_id = plan.get("id") if isinstance(plan, Mapping) else None
    months = detail.get("months")
    until = detail.get("valid_until")
    return Purchase(
        event.created_at,
        event.event_id,
        plan_id if isinstance(plan_id, str) else "",
        months if type(months) is int and 0 < months <= 1200 else 0,
        None if type(months) is int else (until if isinstance(until, str) else None),
    )


def settle(
    ledger: Ledger, now: dt.datetime, program: Program, shelf: Shelf | None = None
) -> Account:
    """What ``ledger`` (with its lots on ``shelf``) comes to at ``now``; nothing changes."""
    at = iso(now)
    shelf = shelf if shelf is not None else MemoryShelf(ledger.lots)
    lots = shelf.summary(at)
    start = _window_start(now, program)
    qualifying = sum(p for d, p in ledger.qualifying_days if d >= start)
    plan_id, until = membership_at(ledger.purchases, at)
    today = now.date().isoformat()
    count = ledger.day_count if ledger.day == today else 0
    unconfirmed = max(0, ledger.unconfirmed_spent)
    flags = []
    if ledger.deficit > 0:
        flags.append("overdraft")
    if 0 < program.velocity_max_per_day <= count:
        flags.append("velocity")
    return Account(
        ledger=ledger,
        as_of=at,
        balance=ledger.balance,
        spendable=ledger.balance - lots.expired - lots.held,
        held=lots.held,
        held_from=lots.held_from,
        held_until=lots.held_until,
        tier=tier_status(program, qualifying, ledger.granted_tier),
        membership=program.membership(plan_id) if plan_id else None,
        membership_until=until,
        unconfirmed_spent=unconfirmed,
        cap_room=max(0, program.offline_redeem_cap - unconfirmed),
        transactions_today=count,
        flags=tuple(flags),
        shelf=shelf,
    )


def membership_at(purchases: Iterable[Purchase], at: str) -> tuple[str | None, str | None]:
    """The plan in force at ``at`` and when it ends (a renewal of the same plan extends it):
    each purchase runs from when it was bought, or from the end of the one before."""
    end: str | None = None
    spans: list[tuple[str, str, str]] = []
    for p in purchases:
        start = max(p.bought_at, end) if end else p.bought_at
        # Events from before months were frozen carry only their end.
        stop = iso(add_months(parse_iso(start), p.months)) if p.months else (p.until or start)
        spans.append((p.plan_id, start, stop))
        end = max(end, stop) if end else stop
    current = next(
        (i for i, (plan, start, stop) in enumerate(spans) if plan and start <= at < stop), None
    )
    if current is None:
        return None, None
    plan_id, _, until = spans[current]
    for later_plan, start, stop in spans[current + 1 :]:
        if later_plan != plan_id or start > until:
            break
        until = max(until, stop)
    return plan_id, until


def confirmed(ledger: Ledger) -> Ledger:
    """HQ's snapshot as the base a till folds its later events onto: everything in it is
    confirmed, so nothing of it counts against the offline cap."""
    return msgspec.structs.replace(ledger, unconfirmed_spent=0)


def expiry_due(ledger: Ledger, now: dt.datetime, program: Program) -> tuple[int, list[Draw]]:
    """Points to expire at ``now`` and the lots they go from (HQ records them as an
    ``expire`` event, which the fold applies like any other): every lot past its expiry, or,
    with inactivity expiry, every point once the member has been inactive that long. For a
    ledger that holds its lots (HQ's, in memory); a till's checkpoint keeps them as rows."""
    at = iso(now)
    months = program.inactivity_expiry_months
    inactive = bool(
        months
        and ledger.last_activity
        and iso(add_months(parse_iso(ledger.last_activity), months)) <= at
    )
    going = [lot for lot in ledger.lots if lot.remaining > 0 and (inactive or lot.expired(at))]
    going.sort(key=lambda lot: draw_order(lot, at))
    draws = [
        Draw(lot.lot_id, lot.remaining, lot.earned_at, lot.expires_at, lot.spendable_at)
        for lot in going
    ]
    return sum(d.points for d in draws), draws


def encode(ledger: Ledger) -> bytes:
    """The ledger as JSON (a checkpoint row, or HQ's snapshot on the wire)."""
    return msgspec.json.encode(ledger)


def decode(data: bytes | str) -> Ledger:
    return msgspec.json.decode(data, type=Ledger)
