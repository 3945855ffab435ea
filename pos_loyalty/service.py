"""The service layer: every till operation, called alike by the cashier UI, the command line,
the host POS's Python code and the tests.

Each operation reads the member's account and appends its events inside one ``BEGIN
IMMEDIATE`` transaction, so a check (balance, cap, refund left) and the write it allows cannot
be split by another process on the same till; each read of more than one query is one read
transaction. Staff, printing and reports live in modules of their own (``staff``,
``printing``, ``zreport``, ``reports``); the ``Till`` is the one object callers hold.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
import zoneinfo
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import msgspec

from .accounts import Accounts, Holder, Loaded
from .clock import add_months, iso, utc_now
from .config import Config, LoadedConfig
from .errors import (
    AlreadyMember,
    AlreadyReversed,
    BadInput,
    InsufficientPoints,
    LoyaltyError,
    NeedsManager,
    NotAllowed,
    OfflineCapExceeded,
    StorageError,
    UnknownEvent,
    UnknownMember,
    UnknownReward,
)
from .journal import Event, HQWord, Journal, NewEvent, StaffRecord, phone_key
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
from .printing import PrintStatus, SlipQueue
from .remote import NeedsHQ, Remote, RemoteEvent, Reversal, SaleRef
from .reports import QueueStatus, queue_status
from .rules.account import SPENDS, Account, Purchase, membership_at, settle
from .rules.earn import BasketLine, Earned, build_basket, compute_earn
from .rules.guards import (
    check_earn,
    check_offline_cap,
    check_reversal,
    check_spend,
    check_velocity,
)
from .rules.kinds import problem
from .rules.lots import plan_draws
from .rules.points import MAX_POINTS
from .rules.program import Program, ruleset_version
from .rules.reversal import refund_points
from .slips import Header
from .staff import Roster, SignedIn, StaffSession, clean_name, one_line
from .views import EventResult, MemberView
from .words import plural
from .zreport import ZReport, z_report, z_report_slip

_REQUEST_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:-]{0,63}")
MAX_NOTE = 200


@dataclass(frozen=True)
class MemberRef:
    """How the cashier or host POS names a member: by phone, scanned code, or member id."""

    phone: str | None = None
    code: str | None = None
    member_id: str | None = None

    def __post_init__(self) -> None:
        if any(v is not None and not isinstance(v, str) for v in self._names()):
            raise BadInput('A phone, code or member id is text, e.g. "06 1234 5678".')
        given = [v for v in self._names() if v]
        if len(given) != 1:
            raise BadInput("Name the member by exactly one of phone, code or member id.")

    def _names(self) -> tuple[object, ...]:
        return (self.phone, self.code, self.member_id)


class Till:
    """One till's loyalty operations over its journal."""

    def __init__(
        self, config: Config, journal: Journal, clock: Callable[[], dt.datetime] = utc_now
    ):
        self.config = config
        self.currency = config.store.currency
        self.journal = journal
        self.clock = clock
        # The chain's program as last fetched from HQ; the config's serves a till without HQ.
        self.hq_program = journal.program.get() if config.hq.url else None
        held = self.hq_program
        self.program: Program = held.program if held else config.program
        self.ruleset = held.ruleset if held else ruleset_version(config.program)
        self.zone = zoneinfo.ZoneInfo(config.store.timezone)
        self.printing = config.printer.transport != "none"
        self.source: LoadedConfig | None = None  # the file it was opened from, for workers
        self.remote: Remote | None = None  # HQ, for what this till's journal cannot answer
        store = config.store
        self.header = Header(store.name, store.address, config.terminal.id, store.timezone)
        self.accounts = Accounts(journal, self.program, config.store.timezone)
        self.roster = Roster(journal, clock, self.header.local_time)
        self.slips = SlipQueue(journal, self.header, clock, enabled=self.printing)

    @classmethod
    def open(
        cls,
        loaded: LoadedConfig,
        clock: Callable[[], dt.datetime] = utc_now,
        *,
        create: bool = False,
    ) -> Till:
        """The till of a config; only ``create`` (``pos-loyalty init``) makes a new journal."""
        cfg = loaded.config
        journal = Journal.open(
            loaded.database_path,
            store_id=cfg.store.id,
            terminal_id=cfg.terminal.id,
            currency=cfg.store.currency,
            create=create,
        )
        till = cls(cfg, journal, clock)
        till.source = loaded
        return till

    def close(self) -> None:
        self.journal.close()

    def take_new_program(self) -> bool:
        """Use the program HQ sent since this till opened, if it sent one (a till that runs
        all day, like the cashier's screen, asks between sales); whether it changed."""
        if not self.config.hq.url:
            return False
        with self.journal.reading():
            held = self.journal.program.get()
        if held is None or held.ruleset == self.ruleset:
            return False
        self.hq_program, self.program, self.ruleset = held, held.program, held.ruleset
        self.accounts = Accounts(self.journal, self.program, self.config.store.timezone)
        return True

    def __enter__(self) -> Till:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _now(self) -> dt.datetime:
        """Now in the store's zone: the account's "today" is the store's day."""
        return self.clock().astimezone(self.zone)

    # -- staff -------------------------------------------------------------------------------

    def sign_in(self, staff_id: str, pin: str, *, manager: bool = False) -> StaffSession:
        """A session for the cashier or manager whose PIN this is; what approves and records."""
        return self.roster.sign_in(staff_id, pin, manager=manager)

    def sign_out(self, session: StaffSession) -> None:
        self.roster.sign_out(session)

    def add_staff(
        self,
        staff_id: str,
        *,
        pin: str,
        name: str | None = None,
        role: str | None = None,
        approval: object = None,
    ) -> StaffRecord:
        """Add staff or change a PIN; the saved record (its PIN only as a hash)."""
        return self.roster.add(staff_id, pin=pin, name=name, role=role, approval=approval)

    def _approved(self, approval: object) -> SignedIn | None:
        return None if approval is None else self.roster.check(approval, manager=True)

    # -- finding members -------------------------------------------------------------------

    def _ask_hq_for(self, ref: MemberRef) -> None:
        """A member this till has not seen, taken from HQ when HQ answers at once (a cashier
        is waiting: the remote's lookup timeout is short); else the till goes on as offline.
        Before any transaction, so the journal never waits on the network."""
        if self.remote is None or not self._online():
            return
        try:
            if ref.phone:
                phone = normalise_phone(ref.phone, self.config.store.phone_region)
                member_id = None
            else:
                phone = None
                member_id = (
                    parse_member_code(ref.code) if ref.code else _check_member_id(ref.member_id)
                )
        except LoyaltyError:
            return  # _resolve says what is wrong with it
        members = self.journal.members
        with self.journal.reading():
            if (members.by_phone(phone) if phone else members.get(member_id or "")) is not None:
                return
        try:
            words = self.remote.member(member_id=member_id, phone=phone)
        except NeedsHQ:
            return
        self._take_words(words)

    def _take_words(self, words: Sequence[HQWord]) -> None:
        if words:
            with self.journal.writing():
                at = iso(self._now())
                for word in words:
                    self.journal.members.take_word(word, at)

    def _word_from_hq(self, ref: MemberRef) -> bool:
        """HQ's word on a known member taken now, when HQ answers at once: then the balance
        is HQ's own, not what this till has seen of it. False when HQ is not asked or does
        not answer."""
        if self.remote is None or not self._online():
            return False
        with self.journal.reading():
            member_id = self._resolve(ref).member_id
        if member_id is None:
            return False
        try:
            words = self.remote.member(member_id=member_id)
        except NeedsHQ:
            return False
        self._take_words(words)
        return bool(words)

    def _resolve(self, ref: MemberRef, *, unknown_ok: bool = False) -> Holder:
        members = self.journal.members
        if ref.phone:
            phone = normalise_phone(ref.phone, self.config.store.phone_region)
            record = members.by_phone(phone)
            holder = Holder(record.member_id if record else None, phone, record)
            missing = f"No member has the phone number {mask_phone(phone)}."
        else:
            member_id = parse_member_code(ref.code) if ref.code else _check_member_id(ref.member_id)
            record = members.get(member_id)
            holder = Holder(member_id, record.phone if record else None, record)
            named = (
                f"code {display_code(member_code(member_id))}" if ref.code else f"id {member_id}"
            )
            missing = f"No member with {named} is known here."
        holder = self._merged(holder)
        # An unseen member may earn offline when named by phone or checked code; a bare
        # member id carries no check, so a typo there must not earn for a stranger.
        may_be_new = unknown_ok and not ref.member_id
        events = self.journal.events
        if (
            holder.record is None
            and not may_be_new
            and not events.any_for_member(holder.member_id, holder.phone, holder.aliases)
        ):
            raise UnknownMember(missing)
        return holder

    def _merged(self, holder: Holder) -> Holder:
        """The member as HQ knows them: an enrolment HQ merged into another member is that
        member (its card and phone still find them), with every enrolment merged into them."""
        members = self.journal.members
        record = holder.record
        if record is not None and record.merged_into:
            into = members.get(record.merged_into)
            if into is not None:
                record = into
        if record is None:
            return holder
        return Holder(
            record.member_id,
            record.phone or holder.phone,
            record,
            members.aliases(record.member_id),
        )

    def lookup(self, ref: MemberRef) -> MemberView:
        self._ask_hq_for(ref)
        with self.journal.reading():
            holder = self._resolve(ref)
            return self._view(holder, self.accounts.get(holder, self._now()).account)

    def account(self, ref: MemberRef) -> Account:
        """The member's account itself (lots, deficit, ...), as the fold gives it: a value
        read in one snapshot, not a view onto the journal that changes after."""
        self._ask_hq_for(ref)
        with self.journal.reading():
            now = self._now()
            account = self.accounts.get(self._resolve(ref), now).account
            whole = msgspec.structs.replace(account.ledger, lots=account.lots)
            return settle(whole, now, self.program)

    def _view(self, holder: Holder, account: Account) -> MemberView:
        return MemberView.of(holder, account, self.program)

    # -- writing events ----------------------------------------------------------------------

    def _new(
        self,
        kind: str,
        holder: Holder,
        points: int,
        now: dt.datetime,
        detail: dict[str, Any],
        *,
        amount: int | None = None,
        ref: str | None = None,
        cashier: object = None,
        approval: SignedIn | None = None,
        approval_reason: str = "",
        request_id: str | None = None,
    ) -> Event:
        staff_id = self.roster.check(cashier).staff_id if cashier is not None else None
        if approval is not None:
            detail["approved_by"] = approval.staff_id
            if reason := one_line(approval_reason, "reason", MAX_NOTE):
                detail["approval_reason"] = reason  # why the manager allowed it
        new = NewEvent(
            event_id=str(uuid.uuid4()),
            kind=kind,
            member_id=holder.member_id,
            # The phone is kept only where it is the member's sole name (offline, unseen)
            # or the enrolment that HQ creates the member from.
            phone=holder.phone if (holder.member_id is None or kind == "enroll") else None,
            points=points,
            amount=amount,
            currency=self.currency if amount is not None else None,
            ref_event_id=ref,
            ruleset=self.ruleset,
            detail=detail,
            staff_id=staff_id,
            created_at=iso(now),
        )
        # HQ refuses an event these rules refuse, which would hold up every later one.
        if wrong := problem(new, detail, self.program):
            raise StorageError(f"This {kind} event {wrong}; nothing was saved.")
        event = self.journal.events.append(new)
        if request_id is not None:
            self.journal.requests.remember(request_id, event.event_id)
        return event

    def _replayed(
        self, request_id: str | None, kind: str, ref: MemberRef | None = None, **same: Any
    ) -> EventResult | None:
        """The result of a request already done: the host POS retried after a lost answer.
        Exactly once: the same request id never makes a second event. ``same``: what the
        retry must repeat (an event field and its value; None: not given); a request id
        sent again with another amount is a bug of the host's, said, not answered with the
        first result. ``ref``: the member the retry names, who must be the same."""
        if request_id is None:
            return None
        if not isinstance(request_id, str) or not _REQUEST_ID.fullmatch(request_id):
            raise BadInput(
                "A request id is 1 to 64 letters, digits, dot, dash, colon or underscore."
            )
        event = self.journal.requests.event(request_id)
        if event is None:
            return None
        if event.kind != kind:
            raise BadInput(
                f"Request id {request_id} was already used for another command ({event.kind})."
            )
        if any(v is not None and getattr(event, k) != v for k, v in same.items()):
            raise BadInput(
                f"Request id {request_id} was already used for #{event.seq}, with other "
                "figures; a new request needs a new id."
            )
        holder = self._resolve(_ref_of(event))
        if ref is not None and self._resolve(ref, unknown_ok=True).key != holder.key:
            raise BadInput(
                f"Request id {request_id} was already used for #{event.seq}, for another "
                "member; a new request needs a new id."
            )
        account = self.accounts.get(holder, self._now()).account
        # The retried enrolment answers as the first did: with the bonuses it gave.
        also = tuple(self.journal.events.bonuses_of(event.event_id)) if kind == "enroll" else ()
        return EventResult(event, self._view(holder, account), also, replayed=True)

    def _lot(self, now: dt.datetime, *, held: bool = False) -> dict[str, str | None]:
        """Expiry and hold of a lot earned ``now``, frozen into the event. Only points from a
        sale are held: the hold guards against buy, earn, refund."""
        months, days = self.program.lot_expiry_months, self.program.pending_days
        return {
            "expires_at": iso(add_months(now, months)) if months else None,
            "spendable_at": iso(now + dt.timedelta(days=days)) if days and held else None,
        }

    def _result(
        self, event: Event, holder: Holder, loaded: Loaded, now: dt.datetime
    ) -> EventResult:
        """The event and the member after it, with the checkpoint kept and the slip queued,
        all in the event's transaction."""
        account = self.accounts.record(holder, loaded, [event], now)
        return self.slips.with_slip(EventResult(event, self._view(holder, account)))

    def enroll(
        self,
        phone: str,
        *,
        name: str | None = None,
        consent: bool = False,
        referrer: MemberRef | None = None,
        cashier: object = None,
        request_id: str | None = None,
    ) -> EventResult:
        e164 = normalise_phone(phone, self.config.store.phone_region)
        clean = clean_name(name)
        if type(consent) is not bool:
            raise BadInput("Consent is yes or no (True or False).")
        if referrer is not None and not isinstance(referrer, MemberRef):
            raise BadInput("Name the referrer with a MemberRef (phone, code or member id).")
        program = self.program
        with self.journal.writing():
            if done := self._replayed(request_id, "enroll"):
                return done
            existing = self.journal.members.by_phone(e164)
            if existing:
                code = display_code(member_code(existing.member_id))
                raise AlreadyMember(f"Already a member: {mask_phone(e164)}, code {code}.")
            sponsor = self._resolve(referrer) if referrer else None
            if sponsor and sponsor.record is None:
                raise UnknownMember("The referring member is not known at this till yet.")
            now = self._now()
            sponsor_loaded = self.accounts.get(sponsor, now) if sponsor else None
            member_id = new_member_id()
            self.journal.members.add(
                member_id=member_id,
                phone=e164,
                name=clean,
                consent=bool(consent),
                enrolled_at=iso(now),
                referred_by=sponsor.member_id if sponsor else None,
            )
            holder = Holder(member_id, e164, self.journal.members.get(member_id))
            loaded = self.accounts.get(holder, now)  # with points kept against the phone
            greeting = f"Welcome, {clean}!" if clean else "Welcome!"
            welcome = f"{greeting} Member code {display_code(member_code(member_id))}"
            detail = {
                "lines": [welcome],
                "name": clean,
                "consent": bool(consent),
                "referred_by": sponsor.member_id if sponsor else None,
            }
            enrolled = self._new(
                "enroll", holder, 0, now, detail, cashier=cashier, request_id=request_id
            )
            own = [enrolled]
            bonus = self._bonus_maker(now, enrolled, cashier)
            if program.welcome_bonus:
                own.append(bonus("welcome_bonus", holder, program.welcome_bonus, "Welcome bonus"))
            if sponsor and program.referral_bonus_referee:
                own.append(
                    bonus(
                        "referral_bonus", holder, program.referral_bonus_referee, "Referral bonus"
                    )
                )
            also = own[1:]
            if sponsor and sponsor_loaded and program.referral_bonus_referrer:
                gift = bonus(
                    "referral_bonus",
                    sponsor,
                    program.referral_bonus_referrer,
                    "Bonus for referring a friend",
                )
                self.accounts.record(sponsor, sponsor_loaded, [gift], now)
                also.append(gift)
            account = self.accounts.record(holder, loaded, own, now)
            self.accounts.forget(phone_key(e164))
            result = EventResult(enrolled, self._view(holder, account), tuple(also))
            return self.slips.with_slip(result)

    def _bonus_maker(
        self, now: dt.datetime, cause: Event, cashier: object
    ) -> Callable[[str, Holder, int, str], Event]:
        def bonus(kind: str, holder: Holder, points: int, text: str) -> Event:
            detail = {"lines": [f"{text} = {points:+d}"], "lot": self._lot(now)}
            return self._new(kind, holder, points, now, detail, ref=cause.event_id, cashier=cashier)

        return bonus

    def earn(
        self,
        ref: MemberRef,
        *,
        amount: int | None = None,
        lines: list[BasketLine] | None = None,
        cashier: object = None,
        approval: object = None,
        reason: str = "",
        request_id: str | None = None,
    ) -> EventResult:
        """Points for a sale: a total, lines by category, or both (the rest is uncategorised);
        ``reason``: why a manager approved it, kept with the event."""
        self._ask_hq_for(ref)
        with self.journal.writing():
            if done := self._replayed(request_id, "earn", ref, amount=amount):
                return done
            manager = self._approved(approval)
            now = self._now()
            holder = self._resolve(ref, unknown_ok=True)
            loaded = self.accounts.get(holder, now)
            account = loaded.account
            basket = build_basket(self.program, self.currency, amount, _lines(lines))
            over = check_velocity(self.program, account.transactions_today, manager is not None)
            earned = self._earned(basket, account, now)
            check_earn(self.program, earned.points, manager is not None)
            detail: dict[str, Any] = {"lines": list(earned.lines), "breakdown": earned.breakdown}
            if earned.points:
                detail["lot"] = self._lot(now, held=True)
            if over:
                detail["flags"] = ["velocity"]
            total = sum(line.amount for line in basket)
            event = self._new(
                "earn",
                holder,
                earned.points,
                now,
                detail,
                amount=total,
                cashier=cashier,
                approval=manager,
                approval_reason=reason,
                request_id=request_id,
            )
            return self._result(event, holder, loaded, now)

    def preview_earn(
        self, ref: MemberRef, *, amount: int | None = None, lines: list[BasketLine] | None = None
    ) -> Earned:
        """The points a sale would earn, with the explanation lines, writing nothing: what
        the cashier sees before confirming (the rules and the account as ``earn`` uses them)."""
        with self.journal.reading():
            now = self._now()
            account = self.accounts.get(self._resolve(ref, unknown_ok=True), now).account
            basket = build_basket(self.program, self.currency, amount, _lines(lines))
            return self._earned(basket, account, now)

    def _earned(self, basket: list[BasketLine], account: Account, now: dt.datetime) -> Earned:
        earned = compute_earn(
            self.program,
            basket,
            self.currency,
            tier=account.tier.tier,
            membership=account.membership,
            day=now.date(),
        )
        if earned.points > MAX_POINTS:
            raise BadInput(
                f"This sale would earn {plural(earned.points, 'point')}, which is not "
                "plausible; check the amount and try again."
            )
        return earned

    def redeem(
        self,
        ref: MemberRef,
        *,
        reward_id: str | None = None,
        points: int | None = None,
        cashier: object = None,
        approval: object = None,
        reason: str = "",
        request_id: str | None = None,
    ) -> EventResult:
        """Spend points on a catalogue reward, or a number of points as money off; ``reason``
        says why a manager approved it (over the offline cap, say), kept with the event."""
        if (reward_id is None) == (points is None):
            raise BadInput("Redeem either a reward or a number of points.")
        if reward_id is not None:
            reward = self.program.reward(_text_id(reward_id, "reward"))
            if reward is None:
                known = ", ".join(r.id for r in self.program.rewards) or "none"
                shown = reward_id[:32] if reward_id.isprintable() else "(that id)"
                raise UnknownReward(f"There is no reward “{shown}”; rewards: {known}.")
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
                "name": f"{plural(cost, 'point')} off",
                "kind": "points",
                "cost": cost,
                "currency": self.currency,
                "amount": value,
            }
        info = {"reward": info}
        return self._spend("redeem", ref, cost, what, info, cashier, approval, reason, request_id)

    def donate(
        self,
        ref: MemberRef,
        *,
        charity_id: str,
        points: int,
        cashier: object = None,
        approval: object = None,
        reason: str = "",
        request_id: str | None = None,
    ) -> EventResult:
        charity = self.program.charity(_text_id(charity_id, "charity"))
        if charity is None:
            known = ", ".join(c.id for c in self.program.charities) or "none"
            shown = charity_id[:32] if charity_id.isprintable() else "(that id)"
            raise BadInput(f"There is no charity “{shown}”; charities: {known}.")
        cost = _positive_points(points)
        info = {"charity": {"id": charity.id, "name": charity.name}}
        what = f"Donation to {charity.name}"
        return self._spend("donate", ref, cost, what, info, cashier, approval, reason, request_id)

    def _spend(
        self,
        kind: str,
        ref: MemberRef,
        cost: int,
        what: str | None,
        info: dict[str, Any],
        cashier: object,
        approval: object,
        reason: str,
        request_id: str | None,
    ) -> EventResult:
        def write(by_hq: bool) -> EventResult:
            with self.journal.writing():
                if done := self._replayed(request_id, kind, ref, points=-cost):
                    return done
                manager = self._approved(approval)
                now = self._now()
                holder = self._resolve(ref)
                loaded = self.accounts.get(holder, now)
                account = loaded.account
                over = check_velocity(self.program, account.transactions_today, manager is not None)
                check_spend(self.program, account, cost, what)
                check_offline_cap(self.program, account, cost, manager is not None or by_hq)
                draws, short = plan_draws(account.shelf, cost, iso(now))
                # The spendable points were checked: lots disagreeing is a bug, not a sale.
                if short:
                    raise InsufficientPoints(
                        f"Not enough points: only {cost - short} can be spent."
                    )
                detail = {
                    "lines": [f"{what or 'Points off'} = {-cost:+d}"],
                    "draws": [d.to_json() for d in draws],
                    **info,
                }
                if over:
                    detail["flags"] = ["velocity"]
                if by_hq and cost > account.cap_room:
                    detail["checked_with_hq"] = True  # over the offline cap: HQ's balance let it
                event = self._new(
                    kind,
                    holder,
                    -cost,
                    now,
                    detail,
                    cashier=cashier,
                    approval=manager,
                    approval_reason=reason,
                    request_id=request_id,
                )
                return self._result(event, holder, loaded, now)

        self._ask_hq_for(ref)
        try:
            return write(by_hq=False)
        except OfflineCapExceeded:
            # Over the cap on this till's word alone: the cap bounds what is spent without
            # HQ, so HQ's word on the balance, asked now (never inside a transaction), lets it.
            if not self._word_from_hq(ref):
                raise
        return write(by_hq=True)

    def reverse(
        self,
        event_ref: str,
        *,
        amount: int | None = None,
        cashier: object = None,
        approval: object = None,
        reason: str = "",
        request_id: str | None = None,
    ) -> EventResult:
        """Refund a sale (whole, or part of its amount) or cancel a redemption or donation;
        one made at another till is looked up at HQ first (outside the write, so the journal
        never waits on the network), with every reversal of it HQ holds."""
        if amount is not None:
            check_minor(amount, "The refund amount")
        if self._already_done(request_id):  # answered from the journal below, HQ or not
            original, remote = self._locate(event_ref)[0], None
        else:
            original, remote = self._reversed(event_ref)
        with self.journal.writing():
            if done := self._replayed(request_id, "reverse", amount=amount):
                return done
            manager = self._approved(approval)
            if remote is not None:
                original = original or remote.event
                if remote.word is not None:
                    self.journal.members.take_word(remote.word, iso(self._now()))
            if original is None:
                raise UnknownEvent(f"No event “{_shown_ref(event_ref)}” in this till's journal.")
            now = self._now()
            holder, loaded, points, detail, earlier = self._reversal(original, amount, remote, now)
            # The limit counts every reversal of this event, so refunding in slices cannot
            # take back more than the limit without a manager.
            before = -sum(r.points for r in earlier)
            what = "sale" if original.kind == "earn" else "redemption"
            check_reversal(self.program, abs(points) + abs(before), manager is not None, what)
            event = self._new(
                "reverse",
                holder,
                points,
                now,
                detail,
                ref=original.event_id,
                amount=detail.get("refund_amount"),
                cashier=cashier,
                approval=manager,
                approval_reason=reason,
                request_id=request_id,
            )
            return self._result(event, holder, loaded, now)

    def preview_reverse(self, event_ref: str, *, amount: int | None = None) -> tuple[int, int]:
        """The points a refund or cancel would take back or give back, and the money it
        refunds (0 for a cancel), writing nothing: what the manager confirms."""
        if amount is not None:
            check_minor(amount, "The refund amount")
        original, remote = self._reversed(event_ref)
        original = original or (remote.event if remote else None)
        if original is None:
            raise UnknownEvent(f"No event “{_shown_ref(event_ref)}” in this till's journal.")
        with self.journal.reading():
            _, _, points, detail, _ = self._reversal(original, amount, remote, self._now())
        return points, int(detail.get("refund_amount") or 0)

    def _reversed(self, event_ref: str) -> tuple[Event | None, RemoteEvent | None]:
        """The event a reversal names, from this journal, and HQ's word on it (with its
        reversals at other tills) when HQ can be asked: for another till's event, HQ must."""
        original, elsewhere = self._locate(event_ref)
        if original is None:
            if elsewhere is None:
                raise UnknownEvent(f"No event “{_shown_ref(event_ref)}” in this till's journal.")
            return None, self._ask_hq(elsewhere)
        return original, self._ask_hq_if_up(original) if self._online() else None

    def _reversal(
        self, original: Event, amount: int | None, remote: RemoteEvent | None, now: dt.datetime
    ) -> tuple[Holder, Loaded, int, dict[str, Any], list[Reversal]]:
        """What reversing ``original`` does: whose account, the account, the points, the
        detail, and the reversals of it before this one."""
        holder = self._resolve(_ref_of(original))
        loaded = self.accounts.get(holder, now)
        earlier = self._reversals(original, remote)
        if original.kind == "earn":
            points, detail = self._refund(original, amount, loaded.account, iso(now), earlier)
        elif original.kind in SPENDS:
            points, detail = self._cancel(original, amount, earlier)
        else:
            raise NotAllowed("Only a sale (earn) or a redemption or donation can be reversed.")
        return holder, loaded, points, detail, earlier

    def event(self, event_ref: str) -> Event:
        """The event a slip's reference names (``12``, ``#12``, ``T2-12`` or its id), from this
        till's journal or, for another till's, from HQ: what a manager checks before a
        refund or cancel."""
        original, elsewhere = self._locate(event_ref)
        if original is not None:
            return original
        if elsewhere is None:
            raise UnknownEvent(f"No event “{_shown_ref(event_ref)}” in this till's journal.")
        return self._ask_hq(elsewhere).event

    def _locate(self, event_ref: str) -> tuple[Event | None, SaleRef | None]:
        """This till's event for a reference (its seq, its id, or the receipt's ``Ref
        T1-12``), or, when it names another till's, where to ask HQ for it."""
        text = str(event_ref).strip().lstrip("#")[:64]
        events = self.journal.events
        if _UUID.fullmatch(text.lower()):
            found = events.get(text.lower())
            return (found, None) if found else (None, SaleRef(event_id=text.lower()))
        terminal, dash, number = text.rpartition("-")
        if dash and terminal:
            if not (number.isascii() and number.isdigit() and len(number) <= 15):
                return None, None
            if terminal.upper() != self.config.terminal.id.upper():
                return None, SaleRef(terminal_id=terminal, seq=int(number))
            text = number
        if text.isascii() and text.isdigit() and len(text) <= 15:
            return events.by_seq(int(text)), None
        return None, None

    def _already_done(self, request_id: str | None) -> bool:
        return isinstance(request_id, str) and self.journal.requests.event(request_id) is not None

    def _ask_hq(self, ref: SaleRef) -> RemoteEvent:
        """Another till's event, from HQ: it alone knows what is left of it chain-wide."""
        where = f"{ref.shown()} was made at another till; reversing it needs HQ"
        if self.remote is None:
            raise NeedsHQ(f"{where}, and this till has no HQ configured.")
        try:
            found = self.remote.event(ref)
        except NeedsHQ:
            raise NeedsHQ(f"{where}, which cannot be reached now.") from None
        if found is None:
            raise UnknownEvent(f"No event {ref.shown()} here or at HQ.")
        return found

    def _online(self) -> bool:
        """HQ answered the last sync: worth asking, as a lookup will not hang."""
        outbox = self.journal.events.outbox()
        return (
            self.remote is not None
            and outbox.last_success_at is not None
            and (outbox.last_error is None)
        )

    def _ask_hq_if_up(self, event: Event) -> RemoteEvent | None:
        """This till's own event as HQ holds it, if HQ answers; offline the till's journal
        is enough to reverse its own sales."""
        assert self.remote is not None
        try:
            return self.remote.event(SaleRef(event_id=event.event_id))
        except NeedsHQ:
            return None

    def _reversals(self, original: Event, remote: RemoteEvent | None) -> list[Reversal]:
        """Every reversal of an event this till knows of: its own, and those HQ holds."""
        here = [
            Reversal(e.event_id, e.points, e.detail.get("refund_amount"))
            for e in self.journal.events.reversals_of(original.event_id)
        ]
        seen = {r.event_id for r in here}
        return here + [r for r in (remote.reversals if remote else ()) if r.event_id not in seen]

    def _refund(
        self,
        sale: Event,
        amount: int | None,
        account: Account,
        now: str,
        earlier: list[Reversal],
    ) -> tuple[int, dict[str, Any]]:
        refunded = sum(r.refund_amount or 0 for r in earlier)
        sale_amount = sale.amount or 0
        refund = sale_amount - refunded if amount is None else amount
        points = refund_points(
            earned=sale.points,
            sale_amount=sale_amount,
            refunded_before=refunded,
            reversed_before=-sum(r.points for r in earlier),
            refund_amount=refund,
            currency=self.currency,
        )
        # Drawn from the sale's own lot first, then the others; when the fold applies the
        # refund, what no lot covers (held and expired lots count too) becomes a deficit,
        # and the member is flagged as owing points.
        draws, _ = plan_draws(account.shelf, points, now, first=sale.event_id, any_lot=True)
        line = f"Refund {format_amount(refund, self.currency)} of sale {self._sale_name(sale)}"
        return -points, {
            "lines": [f"{line} = {-points:+d}"],
            "reverses": "earn",
            "sale_at": sale.created_at,
            "refund_amount": refund,
            "draws": [d.to_json() for d in draws],
        }

    def _sale_name(self, event: Event) -> str:
        """``#12`` for this till's own event; ``T2-12`` for another till's."""
        journal = self.journal
        here = (event.store_id, event.terminal_id) == (journal.store_id, journal.terminal_id)
        return f"#{event.seq}" if here else f"{event.terminal_id}-{event.seq}"

    def _cancel(
        self, spend: Event, amount: int | None, earlier: list[Reversal]
    ) -> tuple[int, dict[str, Any]]:
        if amount is not None:
            noun = {"redeem": "redemption", "donate": "donation"}[spend.kind]
            raise BadInput(f"A {noun} is cancelled whole; leave out the amount.")
        if earlier:
            raise AlreadyReversed(
                f"That {spend.kind} ({self._sale_name(spend)}) was already cancelled."
            )
        points = -spend.points
        line = f"Cancel {spend.kind} {self._sale_name(spend)} = {points:+d}"
        return points, {
            "lines": [line],
            "reverses": spend.kind,
            "restores": spend.detail.get("draws", []),
        }

    def adjust(
        self,
        ref: MemberRef,
        *,
        points: int,
        reason: str,
        approval: object = None,
        note: str = "",
        cashier: object = None,
        request_id: str | None = None,
    ) -> EventResult:
        """A manager's correction of a balance, with a reason code from the program."""
        if approval is None:
            raise NeedsManager("Adjusting points needs a manager.")
        if reason not in self.program.adjust_reasons:
            shown = reason[:32] if isinstance(reason, str) and reason.isprintable() else "that"
            raise BadInput(
                f"“{shown}” is not a reason code; use one of: "
                f"{', '.join(self.program.adjust_reasons)}."
            )
        if _bounded(points) == 0:
            raise BadInput("An adjustment must add or remove at least one point.")
        note = one_line(note, "note", MAX_NOTE)
        self._ask_hq_for(ref)
        with self.journal.writing():
            if done := self._replayed(request_id, "adjust", ref, points=points):
                return done
            manager = self._approved(approval)
            now = self._now()
            holder = self._resolve(ref)
            loaded = self.accounts.get(holder, now)
            detail: dict[str, Any] = {
                "lines": [f"Adjustment ({reason}) = {points:+d}"],
                "reason": reason,
                "note": note,
            }
            if points > 0:
                detail["lot"] = self._lot(now)
            else:
                lots = loaded.account.shelf
                draws, short = plan_draws(lots, -points, iso(now), any_lot=True)
                if short:
                    raise InsufficientPoints(
                        f"Cannot remove {plural(-points, 'point')}: "
                        f"the balance is {loaded.account.balance}."
                    )
                detail["draws"] = [d.to_json() for d in draws]
            event = self._new(
                "adjust",
                holder,
                points,
                now,
                detail,
                cashier=cashier,
                approval=manager,
                request_id=request_id,
            )
            return self._result(event, holder, loaded, now)

    def buy_membership(
        self,
        ref: MemberRef,
        *,
        plan_id: str,
        cashier: object = None,
        request_id: str | None = None,
    ) -> EventResult:
        plan = self.program.membership(_text_id(plan_id, "membership plan"))
        if plan is None:
            known = ", ".join(m.id for m in self.program.memberships) or "none"
            shown = plan_id[:32] if plan_id.isprintable() else "(that id)"
            raise BadInput(f"There is no membership plan “{shown}”; plans: {known}.")
        fee = parse_amount(plan.fee, self.currency)
        self._ask_hq_for(ref)
        with self.journal.writing():
            if done := self._replayed(request_id, "membership"):
                return done
            now = self._now()
            holder = self._resolve(ref)
            loaded = self.accounts.get(holder, now)
            current, current_until = loaded.account.membership, loaded.account.membership_until
            if current and current.id != plan.id:
                raise NotAllowed(
                    f"This member has {current.name} until {(current_until or '')[:10]}; "
                    f"{plan.name} can be bought when it ends."
                )
            # Its end as the fold will compute it (one rule: purchases chain in order).
            bought = Purchase(iso(now), "", plan.id, plan.months)
            purchases = (*loaded.account.ledger.purchases, bought)
            until = membership_at(purchases, bought.bought_at)[1] or bought.bought_at
            day = self.header.local_time(until)[:10]
            detail = {
                "lines": [f"{plan.name} until {day}: {format_amount(fee, self.currency)}"],
                "membership": {"id": plan.id, "name": plan.name},
                "months": plan.months,
                "valid_until": until,
            }
            event = self._new(
                "membership",
                holder,
                0,
                now,
                detail,
                amount=fee,
                cashier=cashier,
                request_id=request_id,
            )
            return self._result(event, holder, loaded, now)

    # -- reading -----------------------------------------------------------------------------

    def history(self, ref: MemberRef, limit: int = 20) -> tuple[MemberView, list[Event]]:
        if type(limit) is not int or not 1 <= limit <= 1000:
            raise BadInput("A history limit is a whole number from 1 to 1000.")
        self._ask_hq_for(ref)
        with self.journal.reading():
            holder = self._resolve(ref)
            account = self.accounts.get(holder, self._now()).account
            events = self.journal.events.recent_for_member(
                holder.member_id, holder.phone, limit, holder.aliases
            )
            return self._view(holder, account), events

    def queue(self) -> QueueStatus:
        """What is waiting to reach HQ (the outbox the sync daemon drains), and to print."""
        return queue_status(self.journal, self.print_status())

    def program_in_use(self) -> dict[str, str | None]:
        """Which program this till earns and redeems by: HQ's (as fetched) or its own."""
        held = self.hq_program
        return {
            "ruleset": self.ruleset,
            "source": "hq" if held else "config",
            "fetched_at": held.fetched_at if held else None,
        }

    def print_status(self) -> PrintStatus:
        return self.slips.status()

    def print_balance(self, ref: MemberRef) -> tuple[MemberView, int]:
        """Queue a balance slip for a member; returns the view and the print job."""
        view = self.lookup(ref)
        return view, self.slips.balance(view)

    def reprint(self, job_id: int | None = None) -> tuple[int, int]:
        return self.slips.reprint(job_id)

    def z_report(
        self, day: dt.date | None = None, *, print_slip: bool = False
    ) -> tuple[ZReport, int | None]:
        """The store day's figures (today by default); queue its slip if asked."""
        if day is not None and (type(day) is not dt.date or not 2000 <= day.year <= 2100):
            raise BadInput("A store day is a date (datetime.date) from 2000 to 2100.")
        now = self._now()
        report = z_report(
            self.journal,
            day=day or now.date(),
            timezone=self.config.store.timezone,
            currency=self.currency,
            point_value=self.program.point_value,
            hq_configured=bool(self.config.hq.url),
        )
        if not print_slip:
            return report, None
        return report, self.slips.slip(z_report_slip(self.header, report, iso(now)))


def _text_id(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise BadInput(f"A {what} id is text.")
    return value


def _lines(lines: object) -> list[BasketLine]:
    if lines is None:
        return []
    if not isinstance(lines, list | tuple) or not all(isinstance(x, BasketLine) for x in lines):
        raise BadInput("Basket lines are a list of BasketLine(category, amount).")
    return list(lines)


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _shown_ref(event_ref: object) -> str:
    text = str(event_ref).strip()[:64]
    return text if text.isprintable() else "(that id)"


def _ref_of(event: Event) -> MemberRef:
    """The member an event is about: by id, or by phone when the till did not know them."""
    return MemberRef(member_id=event.member_id) if event.member_id else MemberRef(phone=event.phone)


def _check_member_id(member_id: str | None) -> str:
    text = (member_id or "").strip().upper()
    if len(text) != ID_LENGTH or any(ch not in ALPHABET for ch in text):
        shown = "".join(ch for ch in (member_id or "") if ch.isprintable())[:24]
        raise BadInput(f"“{shown}” is not a member id.")
    return text


def _positive_points(points: object) -> int:
    if points is None or _bounded(points) <= 0:
        raise BadInput("The number of points must be more than zero.")
    return _bounded(points)


def _bounded(points: object) -> int:
    if type(points) is not int:  # not bool, not float: the ledger holds whole points
        raise BadInput(f"{points!r} is not a whole number of points.")
    if abs(points) > MAX_POINTS:
        raise BadInput(f"{points} points is not a plausible number; check it and try again.")
    return points


__all__ = ["BasketLine", "MemberRef", "StaffSession", "Till"]
