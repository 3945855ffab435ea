"""What the till reports back: a member as the cashier sees them, and an event's result.

``to_json`` is the host-POS contract (docs/CLI.md): field names are stable.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .accounts import Holder
from .journal import Event
from .members import display_code, mask_phone, member_code
from .rules.account import Account
from .rules.program import Membership, Program, Reward
from .rules.tiers import TierStatus


@dataclass(frozen=True)
class MemberView:
    member_id: str | None
    phone: str | None
    name: str | None
    known: bool  # False: only this till's offline events, HQ has not told us of them yet
    tier: TierStatus
    confirmed: int
    pending: int
    spendable: int
    held: int
    held_until: str | None
    membership: Membership | None
    membership_until: str | None
    affordable: tuple[Reward, ...]
    transactions_today: int
    flags: tuple[str, ...] = ()
    can_redeem_now: int = 0  # spendable within the offline cap: what needs no manager
    offline_cap_room: int = 0
    confirmed_at: str | None = None  # when HQ last spoke of the member
    # What the spendable points cover, the offline cap aside: the cap is this till's risk
    # until HQ speaks, not the member's due, so a slip read at the next visit lists these.
    redeemable: tuple[Reward, ...] = ()

    @classmethod
    def of(cls, holder: Holder, account: Account, program: Program) -> MemberView:
        record = holder.record
        enough = account.balance >= program.min_redeem_balance
        can = account.can_spend_now if enough else 0
        confirmed = holder.confirmed
        return cls(
            member_id=holder.member_id,
            phone=holder.phone,
            name=record.name if record else None,
            known=record is not None,
            tier=account.tier,
            confirmed=confirmed,
            pending=account.balance - confirmed,
            spendable=account.spendable,
            held=account.held,
            held_until=account.held_until,
            membership=account.membership,
            membership_until=account.membership_until if account.membership else None,
            affordable=tuple(r for r in program.rewards if r.cost <= can),
            transactions_today=account.transactions_today,
            flags=account.flags,
            can_redeem_now=can,
            offline_cap_room=account.cap_room,
            confirmed_at=record.hq_at if record and record.heard_from_hq else None,
            redeemable=tuple(r for r in program.rewards if enough and r.cost <= account.spendable),
        )

    @property
    def balance(self) -> int:
        return self.confirmed + self.pending

    @property
    def code(self) -> str | None:
        return member_code(self.member_id) if self.member_id else None

    @property
    def label(self) -> str:
        """How the screen and slips name the member without printing the whole phone."""
        return self.name or (display_code(self.code) if self.code else mask_phone(self.phone))

    def to_json(self) -> dict[str, Any]:
        return {
            "member_id": self.member_id,
            "code": self.code,
            "phone": self.phone,
            "name": self.name,
            "known": self.known,
            "tier": self.tier.tier.name,
            "balance": self.balance,
            "confirmed": self.confirmed,
            "pending": self.pending,
            "spendable": self.spendable,
            "held": self.held,
            "held_until": self.held_until,
            "qualifying": self.tier.qualifying,
            "next_tier": self.tier.next_tier.name if self.tier.next_tier else None,
            "to_next_tier": self.tier.to_next,
            "tier_progress": self.tier.text,
            "perks": list(self.tier.tier.perks)
            + list(self.membership.perks if self.membership else ()),
            "membership": self.membership.id if self.membership else None,
            "membership_until": self.membership_until,
            "affordable_rewards": [r.id for r in self.affordable],
            "can_redeem_now": self.can_redeem_now,
            "offline_cap_room": self.offline_cap_room,
            "confirmed_at": self.confirmed_at,
            "transactions_today": self.transactions_today,
            "flags": list(self.flags),
        }


@dataclass(frozen=True)
class EventResult:
    event: Event
    member: MemberView
    also: tuple[Event, ...] = field(default=())  # bonuses recorded with it (welcome, referral)
    print_job: int | None = None  # the slip queued with it, when a printer is configured
    replayed: bool = False  # returned for a request id already done: nothing new was written

    @property
    def lines(self) -> list[str]:
        return [line for e in (self.event, *self.also) for line in e.lines]

    def to_json(self) -> dict[str, Any]:
        event = self.event
        out: dict[str, Any] = {
            "event_id": event.event_id,
            "seq": event.seq,
            "kind": event.kind,
            "points": event.points
            + sum(e.points for e in self.also if e.member_id == event.member_id),
            "balance": self.member.balance,
            "lines": self.lines,
            "created_at": event.created_at,
            "amount": event.amount,
            "currency": event.currency,
            "ref_event_id": event.ref_event_id,
            "member": self.member.to_json(),
        }
        if self.print_job is not None:
            out["print_job"] = self.print_job
        if self.replayed:
            out["replayed"] = True
        for key in (
            "reward",
            "charity",
            "membership",
            "flags",
            "approved_by",
            "approval_reason",
            "reason",
        ):
            if key in event.detail:
                out[key] = event.detail[key]
        if self.also:
            out["also"] = [
                {
                    "event_id": e.event_id,
                    "seq": e.seq,
                    "kind": e.kind,
                    "member_id": e.member_id,
                    "points": e.points,
                }
                for e in self.also
            ]
        return out


def event_json(event: Event) -> dict[str, Any]:
    """One history row."""
    return {
        "event_id": event.event_id,
        "seq": event.seq,
        "kind": event.kind,
        "points": event.points,
        "amount": event.amount,
        "currency": event.currency,
        "ref_event_id": event.ref_event_id,
        "created_at": event.created_at,
        "staff_id": event.staff_id,
        "lines": event.lines,
    }
