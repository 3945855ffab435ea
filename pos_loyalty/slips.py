"""Slips laid out once, device-independently: what a receipt says, not how a printer says it.

A ``Slip`` is a list of blocks (text, two-column rows, rules, a QR). The driver renders it for
the printer's profile (columns, dots, code page, native or raster QR); the print queue stores it
as JSON, so a reprint is the same slip.
"""

from __future__ import annotations

import zoneinfo
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from .clock import parse_iso
from .members import display_code, mask_phone
from .money import format_amount
from .views import EventResult, MemberView

Align = Literal["left", "center", "right"]


@dataclass(frozen=True)
class Text:
    text: str
    align: Align = "left"
    bold: bool = False
    big: bool = False  # double width and height
    underline: bool = False
    type: str = "text"


@dataclass(frozen=True)
class Row:
    """Left text and right text on one line, the right flush to the margin."""

    left: str
    right: str
    bold: bool = False
    type: str = "row"


@dataclass(frozen=True)
class Rule:
    char: str = "-"
    type: str = "rule"


@dataclass(frozen=True)
class QR:
    data: str
    type: str = "qr"


Block = Text | Row | Rule | QR
_TYPES: dict[str, type] = {"text": Text, "row": Row, "rule": Rule, "qr": QR}


@dataclass(frozen=True)
class Slip:
    kind: str
    blocks: tuple[Block, ...] = field(default_factory=tuple)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "blocks": [asdict(b) for b in self.blocks]}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Slip:
        blocks = tuple(_TYPES[b["type"]](**b) for b in data["blocks"])
        return cls(data["kind"], blocks)

    def text(self, width: int | None = None) -> str:
        """A plain rendering, for logs, tests and the screen's print preview; laid out in
        ``width`` columns, as on paper, when given."""
        out = []
        for b in self.blocks:
            if isinstance(b, Text):
                out.append(_aligned(b.text, b.align, width) if width else b.text)
            elif isinstance(b, Row):
                gap = max(2, (width or 0) - len(b.left) - len(b.right))
                out.append(f"{b.left}{' ' * gap}{b.right}")
            elif isinstance(b, QR):
                out.append(f"[QR {b.data}]")
            else:
                out.append(b.char * (width or 8))
        return "\n".join(out)


def _aligned(text: str, align: str, width: int) -> str:
    if align == "center":
        return text.center(width).rstrip()
    return text.rjust(width) if align == "right" else text


@dataclass(frozen=True)
class Header:
    """Where and when: printed at the top of every slip."""

    store_name: str
    address: str
    terminal_id: str
    timezone: str

    def local_time(self, utc_iso: str) -> str:
        moment = parse_iso(utc_iso).astimezone(zoneinfo.ZoneInfo(self.timezone))
        return moment.strftime("%Y-%m-%d %H:%M")

    def blocks(self, utc_iso: str, title: str) -> list[Block]:
        top: list[Block] = [Text(self.store_name, "center", bold=True, big=True)]
        if self.address:
            top.append(Text(self.address, "center"))
        top += [
            Row(f"Till {self.terminal_id}", self.local_time(utc_iso)),
            Text(title, "center", bold=True),
        ]
        return top


TITLES = {
    "earn": "POINTS EARNED",
    "redeem": "REWARD REDEEMED",
    "donate": "POINTS DONATED",
    "reverse": "POINTS REVERSED",
    "adjust": "POINTS ADJUSTED",
    "membership": "MEMBERSHIP",
    "enroll": "WELCOME",
}


def event_slip(header: Header, result: EventResult) -> Slip:
    """The slip for any event: what happened, explained line by line, and the new balance."""
    event, member = result.event, result.member
    if event.kind == "enroll":
        return welcome_slip(header, result)
    blocks = header.blocks(event.created_at, TITLES.get(event.kind, event.kind.upper()))
    blocks += [*_member_blocks(member), Rule()]
    if event.amount is not None and event.currency:
        label = "Sale" if event.kind == "earn" else "Amount"
        blocks.append(Row(label, format_amount(event.amount, event.currency)))
    blocks += [_explained(line) for line in result.lines]
    blocks += [Row("Points", f"{result.event.points:+d}", bold=True), Rule()]
    blocks += _balance_blocks(member)
    blocks += _card_blocks(member)
    blocks.append(Text(f"Ref {header.terminal_id}-{event.seq}", "center"))
    return Slip(event.kind, tuple(blocks))


def balance_slip(header: Header, member: MemberView, at: str) -> Slip:
    blocks = header.blocks(at, "YOUR POINTS")
    blocks += [*_member_blocks(member), Rule()]
    blocks += _balance_blocks(member)
    blocks += _card_blocks(member)
    return Slip("balance", tuple(blocks))


def welcome_slip(header: Header, result: EventResult) -> Slip:
    """The welcome card: the member QR the customer shows at every visit."""
    member = result.member
    code = member.code or ""
    blocks = header.blocks(result.event.created_at, "WELCOME")
    greeting = f"Welcome, {member.name}!" if member.name else "Welcome!"
    blocks += [Text(greeting, "center", bold=True), QR(code), Text(display_code(code), "center")]
    blocks += [
        Text("Show this code at the till to", "center"),
        Text("earn and spend your points.", "center"),
        Rule(),
    ]
    # Only the new member's own bonuses: a referrer's gift is on the referrer's account.
    own = [e for e in result.also if e.member_id == result.event.member_id]
    blocks += [_explained(line) for e in own for line in e.lines]
    earlier = member.balance - sum(e.points for e in own)
    if earlier:  # points earned against the phone before enrolling
        blocks.append(Row("Points from earlier visits", f"{earlier:+d}"))
    blocks += _balance_blocks(member)
    return Slip("welcome", tuple(blocks))


def _card_blocks(member: MemberView) -> list[Block]:
    """The member QR again, so the slip works as a card at the next visit."""
    if not member.code:
        return []
    return [QR(member.code), Text("Scan at your next visit", "center")]


def _member_blocks(member: MemberView) -> list[Block]:
    short = f"card {display_code(member.code)[-6:]}" if member.code else mask_phone(member.phone)
    return [Row(member.name or "Member", short, bold=True)]


def _balance_blocks(member: MemberView) -> list[Block]:
    blocks: list[Block] = [Row("BALANCE", f"{member.balance} pts", bold=True)]
    if member.balance < 0:
        blocks.append(Text("Points are owed after a refund;"))
        blocks.append(Text("new points pay them off first."))
    if member.pending:
        blocks.append(Row("  as of last sync", str(member.confirmed)))
        blocks.append(Row("  pending*", f"{member.pending:+d}"))
    if member.held:
        until = member.held_until[:10] if member.held_until else ""
        blocks.append(Row(f"  held until {until}", f"{member.held} pts"))
    blocks.append(Text(f"{member.tier.tier.name}: {member.tier.text}"))
    if member.redeemable:
        blocks.append(Text("You can redeem:"))
        blocks += [Row(f"  {r.name}", f"{r.cost} pts") for r in member.redeemable]
    if member.pending:
        blocks.append(Text("*confirmed at the next sync"))
    return blocks


def _explained(line: str) -> Block:
    """An explanation line ("Gold ×1.5 = +6") as a row with its points on the right."""
    text, sep, points = line.rpartition(" = ")
    return Row(text, points) if sep else Text(line)
