"""The service layer: every till operation, called alike by the cashier UI, the command line,
the host POS's Python code and the tests.

Each operation reads what it needs and appends its events inside one ``BEGIN IMMEDIATE``
transaction, so a check (balance, cap, refund left) and the write it allows cannot be split
by another process on the same till.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
import zoneinfo
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from .clock import add_months, iso, parse_iso, utc_now
from .config import Config, LoadedConfig
from .errors import (
    AlreadyMember,
    AlreadyReversed,
    BadInput,
    InsufficientPoints,
    NeedsManager,
    NotAllowed,
    UnknownEvent,
    UnknownMember,
    UnknownReward,
)
from .journal import Event, Journal, NewEvent
from .members import (
    ALPHABET,
    ID_LENGTH,
    display_code,
    mask_phone,
    member_code,
    new_member_id,
    normalise_phone,
    parse_member_code,
)
from .money import check_minor, format_amount, parse_amount, points_worth
from .rules import lots as lots_rules
from .rules.earn import BasketLine, build_basket, compute_earn
from .rules.guards import check_offline_cap, check_reversal, check_spend, check_velocity
from .rules.lots import SPENDS, Ledger, Lot
from .rules.program import Membership, Program, ruleset_version
from .rules.reversal import refund_points
from .rules.tiers import tier_status
from .slips import Header, balance_slip, event_slip
from .staff import (
    DUMMY_PIN_HASH,
    ROLES,
    Staff,
    check_new_pin,
    check_staff_id,
    hash_pin,
    pin_matches,
    wrong_pin,
)
from .views import EventResult, MemberView
from .zreport import ZReport, z_report, z_report_slip

TRANSACTION_KINDS = ("earn", "redeem", "donate")  # what the velocity check counts
MAX_NAME = 80
PIN_TRIES, PIN_LOCK = 5, dt.timedelta(minutes=5)  # wrong PINs in a row, then a pause
_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
MAX_POINTS = 10**9  # far above any real balance, far below SQLite's 64-bit limit


@dataclass(frozen=True)
class MemberRef:
    """How the cashier or host POS names a member: by phone, scanned code, or member id."""

    phone: str | None = None
    code: str | None = None
    member_id: str | None = None

    def __post_init__(self) -> None:
        given = [v for v in (self.phone, self.code, self.member_id) if v]
        if len(given) != 1:
            raise BadInput("Name the member by exactly one of phone, code or member id.")


@dataclass(frozen=True)
class _Who:
    member_id: str | None
    phone: str | None
    row: Any  # the members-cache row, None when the till has not seen this member yet


@dataclass
class _State:
    """A member as this till knows them: HQ's confirmed word plus the events since."""

    ledger: Ledger
    confirmed: int
    qualifying: int
    plan_id: str | None
    until: str | None
    today: int
    since: str  # start of the rolling tier window
    granted_tier: str | None = None  # HQ's word on the tier, when higher than points reach
    pending: int = 0
    unsynced_spent: int = 0

    def absorb(self, events: list[Event]) -> _State:
        self.ledger = lots_rules.replay(
            self.ledger, ((e.event_id, e.points, e.created_at, e.detail) for e in events)
        )
        for e in events:
            self.pending += e.points
            if _qualifies(e) and e.detail.get("sale_at", e.created_at) >= self.since:
                self.qualifying += e.points  # a refund counts only while its sale does
            if _is_spend_or_cancel(e):  # every absorbed event is one HQ has not confirmed
                self.unsynced_spent -= e.points
            if e.kind == "membership" and (
                self.until is None or e.detail["valid_until"] > self.until
            ):
                self.plan_id, self.until = e.detail["membership"]["id"], e.detail["valid_until"]
        return self

    def after(self, event: Event) -> _State:
        """The state once ``event`` (just written) is part of it."""
        self.today += event.kind in TRANSACTION_KINDS
        return self.absorb([event])

    def membership(self, program: Program, now: str) -> tuple[Membership | None, str | None]:
        if self.until is None or self.until <= now:
            return None, None
        return program.membership(self.plan_id or ""), self.until


class Till:
    """One till's loyalty operations over its journal."""

    def __init__(
        self, config: Config, journal: Journal, clock: Callable[[], dt.datetime] = utc_now
    ):
        self.config = config
        self.program: Program = config.program
        self.currency = config.store.currency
        self.journal = journal
        self.clock = clock
        self.ruleset = ruleset_version(config.program)
        self.zone = zoneinfo.ZoneInfo(config.store.timezone)
        self.printing = config.printer.transport != "none"
        self.source: LoadedConfig | None = None  # the file it was opened from, for workers
        store = config.store
        self.header = Header(store.name, store.address, config.terminal.id, store.timezone)

    @classmethod
    def open(cls, loaded: LoadedConfig, clock: Callable[[], dt.datetime] = utc_now) -> Till:
        cfg = loaded.config
        journal = Journal.open(
            loaded.database_path,
            store_id=cfg.store.id,
            terminal_id=cfg.terminal.id,
            currency=cfg.store.currency,
        )
        till = cls(cfg, journal, clock)
        till.source = loaded
        return till

    def close(self) -> None:
        self.journal.close()

    def __enter__(self) -> Till:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- finding members -------------------------------------------------------------------

    def _resolve(self, ref: MemberRef, *, unknown_ok: bool = False) -> _Who:
        j = self.journal
        if ref.phone:
            phone = normalise_phone(ref.phone, self.config.store.phone_region)
            row = j.member_by_phone(phone)
            who = _Who(row["member_id"] if row else None, phone, row)
            missing = f"No member has the phone number {mask_phone(phone)}."
        else:
            member_id = parse_member_code(ref.code) if ref.code else _check_member_id(ref.member_id)
            row = j.member(member_id)
            who = _Who(member_id, row["phone"] if row else None, row)
            named = (
                f"code {display_code(member_code(member_id))}" if ref.code else f"id {member_id}"
            )
            missing = f"No member with {named} is known here."
        # An unseen member may earn offline when named by phone or checked code; a bare
        # member id carries no check, so a typo there must not earn for a stranger.
        may_be_new = unknown_ok and not ref.member_id
        if who.row is None and not may_be_new and not j.has_events(who.member_id, who.phone):
            raise UnknownMember(missing)
        return who

    def lookup(self, ref: MemberRef) -> MemberView:
        who = self._resolve(ref)
        now = self.clock()
        return self._view(who, self._state(who, now), now)

    def _state(self, who: _Who, now: dt.datetime) -> _State:
        row, j = who.row, self.journal
        confirmed = row["confirmed_balance"] if row else 0
        state = _State(
            ledger=self._confirmed_ledger(who, confirmed),
            confirmed=confirmed,
            qualifying=row["confirmed_qualifying"] if row else 0,
            plan_id=row["membership_plan"] if row else None,
            until=row["membership_until"] if row else None,
            today=j.count_member_events(
                who.member_id, who.phone, TRANSACTION_KINDS, self._day_start(now)
            ),
            since=iso(now - dt.timedelta(days=self.program.tier_window_days)),
            granted_tier=row["tier"] if row else None,
        )
        through = row["confirmed_through_seq"] if row else 0
        return state.absorb(j.member_events(who.member_id, who.phone, after_seq=through))

    def _confirmed_ledger(self, who: _Who, confirmed: int) -> Ledger:
        """HQ's last word on the member as lots; a bare balance becomes one undated lot."""
        if who.row is None:
            return Ledger()
        # Lots come only with HQ's word on the member; until then there are none to read.
        heard = who.member_id and who.row["confirmed_at"] is not None
        rows = self.journal.member_lots(who.member_id) if heard else []
        lots = tuple(
            Lot(
                r["lot_id"],
                r["points"],
                r["remaining"],
                r["earned_at"],
                r["expires_at"],
                r["spendable_at"],
            )
            for r in rows
        )
        # HQ's lots should add up to its balance; whatever they do not cover is one undated
        # lot (or a deficit), so the ledger and the shown balance always agree.
        gap = confirmed - sum(lot.remaining for lot in lots)
        if gap > 0:
            lots += (Lot("hq-balance", gap, gap, who.row["confirmed_at"] or ""),)
        return Ledger(lots, max(0, -gap))

    def _view(self, who: _Who, state: _State, now: dt.datetime) -> MemberView:
        now_iso = iso(now)
        membership, until = state.membership(self.program, now_iso)
        spendable = state.ledger.spendable(now_iso)
        held = state.ledger.held(now_iso)
        tier = tier_status(self.program, state.qualifying, state.granted_tier)
        affordable = tuple(
            r
            for r in self.program.rewards
            if r.cost <= spendable and state.ledger.balance >= self.program.min_redeem_balance
        )
        flags = ("velocity",) if 0 < self.program.velocity_max_per_day <= state.today else ()
        return MemberView(
            member_id=who.member_id,
            phone=who.phone,
            name=who.row["name"] if who.row else None,
            known=who.row is not None,
            tier=tier,
            confirmed=state.confirmed,
            pending=state.pending,
            spendable=spendable,
            held=sum(lot.remaining for lot in held),
            held_until=held[-1].spendable_at if held else None,
            membership=membership,
            membership_until=until,
            affordable=affordable,
            transactions_today=state.today,
            flags=flags,
        )

    def _day_start(self, now: dt.datetime) -> str:
        local = now.astimezone(self.zone)
        return iso(local.replace(hour=0, minute=0, second=0, microsecond=0))

    # -- writing events ----------------------------------------------------------------------

    def _new(
        self,
        kind: str,
        who: _Who,
        points: int,
        now: dt.datetime,
        detail: dict[str, Any],
        *,
        amount: int | None = None,
        ref: str | None = None,
        cashier: str | None = None,
        approval: Staff | None = None,
        request_id: str | None = None,
    ) -> Event:
        if approval is not None:
            detail["approved_by"] = approval.staff_id
        if cashier is not None:
            check_staff_id(cashier, "cashier")
        event = self.journal.append(
            NewEvent(
                event_id=str(uuid.uuid4()),
                kind=kind,
                member_id=who.member_id,
                # The phone is kept only where it is the member's sole name (offline, unseen)
                # or the enrolment that HQ creates the member from.
                phone=who.phone if (who.member_id is None or kind == "enroll") else None,
                points=points,
                amount=amount,
                currency=self.currency if amount is not None else None,
                ref_event_id=ref,
                ruleset=self.ruleset,
                detail=detail,
                staff_id=cashier,
                created_at=iso(now),
            )
        )
        if request_id is not None:
            self.journal.remember_request(request_id, event.event_id)
        return event

    def _replayed(self, request_id: str | None, kind: str) -> EventResult | None:
        """The result of a request already done: the host POS retried after a lost answer.
        Exactly once: the same request id never makes a second event."""
        if request_id is None:
            return None
        if not _REQUEST_ID.fullmatch(request_id):
            raise BadInput(
                "A request id is 1 to 64 letters, digits, dot, dash, colon or underscore."
            )
        event = self.journal.request_event(request_id)
        if event is None:
            return None
        if event.kind != kind:
            raise BadInput(
                f"Request id {request_id} was already used for another command ({event.kind})."
            )
        who = self._resolve(_ref_of(event))
        now = self.clock()
        return EventResult(event, self._view(who, self._state(who, now), now), replayed=True)

    def _lot(self, now: dt.datetime, *, held: bool = False) -> dict[str, str | None]:
        """Expiry and hold of a lot earned ``now``, frozen into the event. Only points from a
        sale are held: the hold guards against buy, earn, refund."""
        months, days = self.program.lot_expiry_months, self.program.pending_days
        return {
            "expires_at": iso(add_months(now, months)) if months else None,
            "spendable_at": iso(now + dt.timedelta(days=days)) if days and held else None,
        }

    def _result(self, event: Event, who: _Who, state: _State, now: dt.datetime) -> EventResult:
        """The event and the member after it, without reading the journal again."""
        return self._printed(EventResult(event, self._view(who, state.after(event), now)))

    def _printed(self, result: EventResult) -> EventResult:
        """Queue the event's slip in the event's own transaction: a printer failure can delay
        a slip, never lose it, and never undo or hold up the event."""
        if not self.printing:
            return result
        slip = event_slip(self.header, result)
        job = self.journal.add_print_job(
            slip.kind, slip.to_json(), result.event.created_at, event_id=result.event.event_id
        )
        return replace(result, print_job=job)

    def print_balance(self, ref: MemberRef) -> tuple[MemberView, int]:
        """Queue a balance slip for a member; returns the view and the print job."""
        view = self.lookup(ref)
        at = iso(self.clock())
        slip = balance_slip(self.header, view, at)
        with self.journal.writing():
            return view, self.journal.add_print_job(slip.kind, slip.to_json(), at)

    def reprint(self, job_id: int | None = None) -> tuple[int, int]:
        """Queue a copy of an earlier slip (the last one by default); returns the new job and
        the original it copies."""
        with self.journal.writing():
            job = (
                self.journal.print_job(job_id)
                if job_id is not None
                else self.journal.last_print_job()
            )
            if job is None:
                raise UnknownEvent(
                    f"No print job {job_id}." if job_id else "Nothing has been printed yet."
                )
            original = job["reprint_of"] or job["job_id"]  # always the original
            copy = self.journal.add_print_job(
                job["kind"],
                json.loads(job["slip"]),
                iso(self.clock()),
                event_id=job["event_id"],
                reprint_of=original,
            )
            return copy, original

    def enroll(
        self,
        phone: str,
        *,
        name: str | None = None,
        consent: bool = False,
        referrer: MemberRef | None = None,
        cashier: str | None = None,
        request_id: str | None = None,
    ) -> EventResult:
        e164 = normalise_phone(phone, self.config.store.phone_region)
        clean_name = _clean_name(name)
        program = self.program
        with self.journal.writing():
            if done := self._replayed(request_id, "enroll"):
                return done
            existing = self.journal.member_by_phone(e164)
            if existing:
                code = display_code(member_code(existing["member_id"]))
                raise AlreadyMember(f"Already a member: {mask_phone(e164)}, code {code}.")
            sponsor = self._resolve(referrer) if referrer else None
            if sponsor and sponsor.row is None:
                raise UnknownMember("The referring member is not known at this till yet.")
            now = self.clock()
            member_id = new_member_id()
            self.journal.add_member(
                member_id=member_id,
                phone=e164,
                name=clean_name,
                consent=int(consent),
                enrolled_at=iso(now),
                referred_by=sponsor.member_id if sponsor else None,
            )
            who = _Who(member_id, e164, None)
            greeting = f"Welcome, {clean_name}!" if clean_name else "Welcome!"
            welcome = f"{greeting} Member code {display_code(member_code(member_id))}"
            enrolled = self._new(
                "enroll",
                who,
                0,
                now,
                {
                    "lines": [welcome],
                    "name": clean_name,
                    "consent": consent,
                    "referred_by": sponsor.member_id if sponsor else None,
                },
                cashier=cashier,
                request_id=request_id,
            )
            also = []
            if program.welcome_bonus:
                also.append(
                    self._bonus(
                        "welcome_bonus",
                        who,
                        program.welcome_bonus,
                        "Welcome bonus",
                        now,
                        enrolled,
                        cashier,
                    )
                )
            if sponsor and program.referral_bonus_referee:
                also.append(
                    self._bonus(
                        "referral_bonus",
                        who,
                        program.referral_bonus_referee,
                        "Referral bonus",
                        now,
                        enrolled,
                        cashier,
                    )
                )
            if sponsor and program.referral_bonus_referrer:
                also.append(
                    self._bonus(
                        "referral_bonus",
                        sponsor,
                        program.referral_bonus_referrer,
                        "Bonus for referring a friend",
                        now,
                        enrolled,
                        cashier,
                    )
                )
            who = _Who(member_id, e164, self.journal.member(member_id))
            view = self._view(who, self._state(who, now), now)
            return self._printed(EventResult(enrolled, view, tuple(also)))

    def _bonus(
        self,
        kind: str,
        who: _Who,
        points: int,
        text: str,
        now: dt.datetime,
        cause: Event,
        cashier: str | None,
    ) -> Event:
        detail = {"lines": [f"{text} = {points:+d}"], "lot": self._lot(now)}
        return self._new(kind, who, points, now, detail, ref=cause.event_id, cashier=cashier)

    def earn(
        self,
        ref: MemberRef,
        *,
        amount: int | None = None,
        lines: list[BasketLine] | None = None,
        cashier: str | None = None,
        approval: Staff | None = None,
        request_id: str | None = None,
    ) -> EventResult:
        """Points for a sale: a total, lines by category, or both (the rest is uncategorised)."""
        with self.journal.writing():
            if done := self._replayed(request_id, "earn"):
                return done
            now = self.clock()
            who = self._resolve(ref, unknown_ok=True)
            state = self._state(who, now)
            over = check_velocity(self.program, state.today, approval is not None)
            basket = build_basket(self.program, self.currency, amount, list(lines or ()))
            earned = compute_earn(
                self.program,
                basket,
                self.currency,
                tier=tier_status(self.program, state.qualifying, state.granted_tier).tier,
                membership=state.membership(self.program, iso(now))[0],
                day=now.astimezone(self.zone).date(),
            )
            detail: dict[str, Any] = {"lines": list(earned.lines), "breakdown": earned.breakdown}
            if earned.points:
                detail["lot"] = self._lot(now, held=True)
            if over:
                detail["flags"] = ["velocity"]
            total = sum(line.amount for line in basket)
            event = self._new(
                "earn",
                who,
                earned.points,
                now,
                detail,
                amount=total,
                cashier=cashier,
                approval=approval,
                request_id=request_id,
            )
            return self._result(event, who, state, now)

    def redeem(
        self,
        ref: MemberRef,
        *,
        reward_id: str | None = None,
        points: int | None = None,
        cashier: str | None = None,
        approval: Staff | None = None,
        request_id: str | None = None,
    ) -> EventResult:
        """Spend points on a catalogue reward, or a number of points as money off."""
        if (reward_id is None) == (points is None):
            raise BadInput("Redeem either a reward or a number of points.")
        if reward_id is not None:
            reward = self.program.reward(reward_id)
            if reward is None:
                known = ", ".join(r.id for r in self.program.rewards) or "none"
                raise UnknownReward(f"There is no reward “{reward_id}”; rewards: {known}.")
            cost, what = reward.cost, reward.name
            info = {
                "id": reward.id,
                "name": reward.name,
                "kind": reward.kind,
                "cost": cost,
                "item": reward.item or None,
                "percent": reward.percent or None,
                "amount": parse_amount(reward.amount, self.currency) if reward.amount else None,
                "currency": self.currency if reward.amount else None,
            }
        else:
            cost, what = _positive_points(points), None
            value = points_worth(cost, self.program.point_value, self.currency)
            info = {
                "id": None,
                "name": f"{cost} points off",
                "kind": "points",
                "cost": cost,
                "currency": self.currency,
                "amount": value,
            }
        return self._spend(
            "redeem", ref, cost, what, {"reward": info}, cashier, approval, request_id
        )

    def donate(
        self,
        ref: MemberRef,
        *,
        charity_id: str,
        points: int,
        cashier: str | None = None,
        approval: Staff | None = None,
        request_id: str | None = None,
    ) -> EventResult:
        charity = self.program.charity(charity_id)
        if charity is None:
            known = ", ".join(c.id for c in self.program.charities) or "none"
            raise BadInput(f"There is no charity “{charity_id}”; charities: {known}.")
        cost = _positive_points(points)
        info = {"charity": {"id": charity.id, "name": charity.name}}
        what = f"Donation to {charity.name}"
        return self._spend("donate", ref, cost, what, info, cashier, approval, request_id)

    def _spend(
        self,
        kind: str,
        ref: MemberRef,
        cost: int,
        what: str | None,
        info: dict[str, Any],
        cashier: str | None,
        approval: Staff | None,
        request_id: str | None,
    ) -> EventResult:
        with self.journal.writing():
            if done := self._replayed(request_id, kind):
                return done
            now = self.clock()
            who = self._resolve(ref)
            state = self._state(who, now)
            over = check_velocity(self.program, state.today, approval is not None)
            check_spend(self.program, state.ledger, cost, iso(now), what)
            spent = max(0, state.unsynced_spent)
            check_offline_cap(self.program, spent, cost, approval is not None)
            draws, short = lots_rules.plan_draws(state.ledger, cost, iso(now))
            assert short == 0, "check_spend let through more than the spendable lots"
            detail = {
                "lines": [f"{what or 'Points off'} = {-cost:+d}"],
                "draws": [d.to_json() for d in draws],
                **info,
            }
            if over:
                detail["flags"] = ["velocity"]
            event = self._new(
                kind,
                who,
                -cost,
                now,
                detail,
                cashier=cashier,
                approval=approval,
                request_id=request_id,
            )
            return self._result(event, who, state, now)

    def reverse(
        self,
        event_ref: str,
        *,
        amount: int | None = None,
        cashier: str | None = None,
        approval: Staff | None = None,
        request_id: str | None = None,
    ) -> EventResult:
        """Refund a sale (whole, or part of its amount) or cancel a redemption or donation."""
        if amount is not None:
            check_minor(amount, "The refund amount")
        with self.journal.writing():
            if done := self._replayed(request_id, "reverse"):
                return done
            original = self._find_event(event_ref)
            who = self._resolve(_ref_of(original))
            now = self.clock()
            state = self._state(who, now)
            if original.kind == "earn":
                points, detail = self._refund(original, amount, state, iso(now))
            elif original.kind in SPENDS:
                points, detail = self._cancel(original, amount)
            else:
                raise NotAllowed("Only a sale (earn) or a redemption or donation can be reversed.")
            # The limit counts every reversal of this event, so refunding in slices cannot
            # take back more than the limit without a manager.
            before = -sum(e.points for e in self.journal.reversals_of(original.event_id))
            what = "sale" if original.kind == "earn" else "redemption"
            check_reversal(self.program, abs(points) + abs(before), approval is not None, what)
            event = self._new(
                "reverse",
                who,
                points,
                now,
                detail,
                ref=original.event_id,
                amount=detail.get("refund_amount"),
                cashier=cashier,
                approval=approval,
                request_id=request_id,
            )
            return self._result(event, who, state, now)

    def _find_event(self, event_ref: str) -> Event:
        text = str(event_ref).strip().lstrip("#")[:64]
        by_seq = text.isascii() and text.isdigit() and int(text) < 2**63  # SQLite's integers
        event = self.journal.event_by_seq(int(text)) if by_seq else self.journal.event(text)
        if event is None:
            raise UnknownEvent(f"No event “{text}” in this till's journal.")
        return event

    def _refund(
        self, sale: Event, amount: int | None, state: _State, now: str
    ) -> tuple[int, dict[str, Any]]:
        earlier = self.journal.reversals_of(sale.event_id)
        refunded = sum(e.detail["refund_amount"] for e in earlier)
        sale_amount = sale.amount or 0
        refund = sale_amount - refunded if amount is None else amount
        points = refund_points(
            earned=sale.points,
            sale_amount=sale_amount,
            refunded_before=refunded,
            reversed_before=-sum(e.points for e in earlier),
            refund_amount=refund,
            currency=self.currency,
        )
        draws, short = lots_rules.plan_draws(
            state.ledger, points, now, first=sale.event_id, any_lot=True
        )
        line = f"Refund {format_amount(refund, self.currency)} of sale #{sale.seq} = {-points:+d}"
        return -points, {
            "lines": [line],
            "reverses": "earn",
            "sale_at": sale.created_at,
            "refund_amount": refund,
            "draws": [d.to_json() for d in draws],
            "shortfall": short,
        }

    def _cancel(self, spend: Event, amount: int | None) -> tuple[int, dict[str, Any]]:
        if amount is not None:
            noun = {"redeem": "redemption", "donate": "donation"}[spend.kind]
            raise BadInput(f"A {noun} is cancelled whole; leave out the amount.")
        if self.journal.reversals_of(spend.event_id):
            raise AlreadyReversed(f"That {spend.kind} (#{spend.seq}) was already cancelled.")
        points = -spend.points
        line = f"Cancel {spend.kind} #{spend.seq} = {points:+d}"
        return points, {"lines": [line], "reverses": spend.kind, "restores": spend.detail["draws"]}

    def adjust(
        self,
        ref: MemberRef,
        *,
        points: int,
        reason: str,
        approval: Staff | None,
        note: str = "",
        cashier: str | None = None,
        request_id: str | None = None,
    ) -> EventResult:
        """A manager's correction of a balance, with a reason code from the program."""
        if approval is None:
            raise NeedsManager("Adjusting points needs a manager.")
        if reason not in self.program.adjust_reasons:
            raise BadInput(
                f"“{reason}” is not a reason code; use one of: "
                f"{', '.join(self.program.adjust_reasons)}."
            )
        if _bounded(points) == 0:
            raise BadInput("An adjustment must add or remove at least one point.")
        with self.journal.writing():
            if done := self._replayed(request_id, "adjust"):
                return done
            now = self.clock()
            who = self._resolve(ref)
            state = self._state(who, now)
            detail: dict[str, Any] = {
                "lines": [f"Adjustment ({reason}) = {points:+d}"],
                "reason": reason,
                "note": note[:200],
            }
            if points > 0:
                detail["lot"] = self._lot(now)
            else:
                draws, short = lots_rules.plan_draws(state.ledger, -points, iso(now), any_lot=True)
                if short:
                    raise InsufficientPoints(
                        f"Cannot remove {-points} points: the balance is {state.ledger.balance}."
                    )
                detail["draws"] = [d.to_json() for d in draws]
            event = self._new(
                "adjust",
                who,
                points,
                now,
                detail,
                cashier=cashier,
                approval=approval,
                request_id=request_id,
            )
            return self._result(event, who, state, now)

    def buy_membership(
        self,
        ref: MemberRef,
        *,
        plan_id: str,
        cashier: str | None = None,
        request_id: str | None = None,
    ) -> EventResult:
        plan = self.program.membership(plan_id)
        if plan is None:
            known = ", ".join(m.id for m in self.program.memberships) or "none"
            raise BadInput(f"There is no membership plan “{plan_id}”; plans: {known}.")
        fee = parse_amount(plan.fee, self.currency)
        with self.journal.writing():
            if done := self._replayed(request_id, "membership"):
                return done
            now = self.clock()
            who = self._resolve(ref)
            state = self._state(who, now)
            current, current_until = state.membership(self.program, iso(now))
            if current and current.id != plan.id:
                raise NotAllowed(
                    f"This member has {current.name} until {current_until[:10]}; "
                    f"{plan.name} can be bought when it ends."
                )
            start = max(now, parse_iso(current_until)) if current_until else now
            until = iso(add_months(start, plan.months))
            detail = {
                "lines": [f"{plan.name} until {until[:10]}: {format_amount(fee, self.currency)}"],
                "membership": {"id": plan.id, "name": plan.name},
                "valid_until": until,
            }
            event = self._new(
                "membership",
                who,
                0,
                now,
                detail,
                amount=fee,
                cashier=cashier,
                request_id=request_id,
            )
            return self._result(event, who, state, now)

    # -- reading -----------------------------------------------------------------------------

    def history(self, ref: MemberRef, limit: int = 20) -> tuple[MemberView, list[Event]]:
        who = self._resolve(ref)
        now = self.clock()
        events = self.journal.recent_member_events(
            who.member_id, who.phone, max(1, min(limit, 1000))
        )
        return self._view(who, self._state(who, now), now), events

    def queue(self) -> dict[str, Any]:
        """What is waiting to reach HQ: the outbox the sync daemon drains."""
        outbox = self.journal.outbox()
        acked = outbox["acked_seq"]
        rows = self.journal.events_after_by_kind(acked)
        oldest = min((r[2] for r in rows), default=None)
        return {
            "last_seq": self.journal.last_seq(),
            "acked_seq": acked,
            "unsynced": sum(r[1] for r in rows),
            "oldest_unsynced_at": oldest,
            "by_kind": {r[0]: r[1] for r in rows},
            "last_attempt_at": outbox["last_attempt_at"],
            "last_error": outbox["last_error"],
            "print": self.print_status(),
        }

    def print_status(self) -> dict[str, Any]:
        """Slips waiting to print and the printer's last known state (as the worker found it)."""
        queue = self.journal.print_queue()
        printer = self.journal.device_state("printer")
        return {
            "slips_waiting": queue["queued"],
            "oldest_waiting_at": queue["oldest_queued_at"],
            "printer": printer["state"]
            if printer
            else ("none" if not self.printing else "unknown"),
            "detail": printer["detail"] if printer else None,
            "last_error": queue["last_error"],
        }

    def z_report(
        self, day: dt.date | None = None, *, print_slip: bool = False
    ) -> tuple[ZReport, int | None]:
        """The store day's figures (today by default); queue its slip if asked."""
        now = self.clock()
        report = z_report(
            self.journal,
            day=day or now.astimezone(self.zone).date(),
            timezone=self.config.store.timezone,
            currency=self.currency,
            point_value=self.program.point_value,
            hq_configured=bool(self.config.hq.url),
        )
        if not print_slip:
            return report, None
        slip = z_report_slip(self.header, report, iso(now))
        with self.journal.writing():
            return report, self.journal.add_print_job(slip.kind, slip.to_json(), iso(now))

    # -- staff -------------------------------------------------------------------------------

    def add_staff(
        self, staff_id: str, *, name: str, role: str, pin: str, approval: Staff | None = None
    ) -> Staff:
        """Add staff or change their PIN or role. Only the very first manager is added
        without a manager's approval; after that a cashier cannot make or reset a manager."""
        if role not in ROLES:
            raise BadInput(f"A role is one of: {', '.join(ROLES)}.")
        check_staff_id(staff_id)
        check_new_pin(pin)
        with self.journal.writing():
            if approval is None and (self.journal.has_manager() or role != "manager"):
                raise NeedsManager("Adding or changing staff needs a manager's approval.")
            self.journal.save_staff(staff_id, _clean_name(name) or staff_id, role, hash_pin(pin))
        return Staff(staff_id, name, role)

    def authenticate(self, staff_id: str, pin: str, *, manager: bool = False) -> Staff:
        row = self.journal.staff(staff_id)
        now = self.clock()
        if row is not None and row["locked_until"] and row["locked_until"] > iso(now):
            raise NotAllowed(
                f"Too many wrong PINs: staff {staff_id} is locked until "
                f"{self.header.local_time(row['locked_until'])[11:]}."
            )
        # An unknown id costs the same scrypt as a wrong PIN, so ids cannot be told by timing.
        matched = pin_matches(pin, row["pin_hash"] if row else DUMMY_PIN_HASH)
        if row is None:
            raise wrong_pin(staff_id)
        if not matched or row["failed_pins"]:
            locks = not matched and (row["failed_pins"] + 1) % PIN_TRIES == 0
            until = iso(now + PIN_LOCK) if locks else None
            self.journal.record_pin_attempt(staff_id, matched, until)
        if not matched:
            raise wrong_pin(staff_id)
        staff = Staff(row["staff_id"], row["name"], row["role"])
        if manager and not staff.is_manager:
            raise NotAllowed(f"{staff.name} is not a manager.")
        return staff


def _ref_of(event: Event) -> MemberRef:
    """The member an event is about: by id, or by phone when the till did not know them."""
    return MemberRef(member_id=event.member_id) if event.member_id else MemberRef(phone=event.phone)


def _qualifies(event: Event) -> bool:
    return event.kind == "earn" or (
        event.kind == "reverse" and event.detail.get("reverses") == "earn"
    )


def _is_spend_or_cancel(event: Event) -> bool:
    return event.kind in SPENDS or (
        event.kind == "reverse" and event.detail.get("reverses") in SPENDS
    )


def _check_member_id(member_id: str | None) -> str:
    text = (member_id or "").strip().upper()
    if len(text) != ID_LENGTH or any(ch not in ALPHABET for ch in text):
        raise BadInput(f"“{(member_id or '')[:24]}” is not a member id.")
    return text


def _positive_points(points: int | None) -> int:
    if points is None or points <= 0:
        raise BadInput("The number of points must be more than zero.")
    return _bounded(points)


def _bounded(points: int) -> int:
    if type(points) is not int:  # not bool, not float: the ledger holds whole points
        raise BadInput(f"{points!r} is not a whole number of points.")
    if abs(points) > MAX_POINTS:
        raise BadInput(f"{points} points is not a plausible number; check it and try again.")
    return points


def _clean_name(name: str | None) -> str | None:
    if name is None:
        return None
    text = " ".join(name.split())
    if not text:
        return None
    if not text.isprintable():
        raise BadInput("A name cannot contain control characters.")
    if len(text) > MAX_NAME:
        raise BadInput(f"A name is at most {MAX_NAME} characters.")
    return text


__all__ = ["BasketLine", "MemberRef", "Till"]
