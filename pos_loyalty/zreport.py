"""End-of-day figures for one store day at this till (the Z-report), from the journal."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from .clock import iso
from .journal import Journal
from .money import format_amount, points_worth
from .slips import Block, Header, Row, Rule, Slip, Text
from .words import plural


@dataclass(frozen=True)
class ZReport:
    day: dt.date
    currency: str
    by_kind: dict[str, tuple[int, int]]  # kind → (events, points)
    sales: int  # money of the day's sales, minor units
    refunds: int
    membership_fees: int  # money taken for paid memberships, minor units
    earned: int  # points from sales
    bonuses: int  # welcome and referral bonuses
    adjusted: int  # managers' adjustments, net
    redeemed: int  # spent on rewards (a positive number)
    donated: int  # given to charities (a positive number)
    refunded: int  # taken back by refunds (a positive number)
    cancelled: int  # given back by cancelled redemptions
    net: int  # the day's change: earned + bonuses + adjusted − redeemed − donated − refunded
    # + cancelled
    liability_points: int  # all points this till knows to be outstanding, every day
    liability: int  # liability_points at the program's point value, minor units
    unsynced: int  # now, not on the day
    oldest_unsynced_at: str | None
    sync_problem: str | None  # why events are still waiting, in a sentence
    slips_waiting: int

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["day"] = self.day.isoformat()
        out["by_kind"] = {k: {"events": n, "points": p} for k, (n, p) in self.by_kind.items()}
        return out


# What each kind of event adds to the day's figures.
BONUS_KINDS = ("welcome_bonus", "referral_bonus")


def day_bounds(day: dt.date, timezone: str) -> tuple[str, str]:
    """The store day as a UTC window [since, until), in the journal's time format."""
    start = dt.datetime.combine(day, dt.time(), zoneinfo.ZoneInfo(timezone))
    return iso(start), iso(start + dt.timedelta(days=1))


def z_report(
    journal: Journal,
    *,
    day: dt.date,
    timezone: str,
    currency: str,
    point_value: str,
    hq_configured: bool,
) -> ZReport:
    """The figures of one store day, and what waits now, read as one snapshot."""
    since, until = day_bounds(day, timezone)
    events = journal.events
    with journal.reading():
        kinds = events.count_by_kind(since=since, until=until)
        reversals = events.reversal_points(since=since, until=until)
        outstanding = journal.members.hq_balances() + events.points_after_hq_word()
        outbox = events.outbox()
        waiting = events.count_by_kind(after_seq=outbox.acked_seq)
        slips = journal.prints.summary().queued
    points = {k.kind: k.points for k in kinds}
    money = {k.kind: k.amount for k in kinds}
    refunded, cancelled = reversals
    unsynced = sum(k.events for k in waiting)
    problem = outbox.last_error
    if unsynced and not problem:
        problem = (
            "HQ has not confirmed them yet."
            if hq_configured
            else ("No HQ is configured (hq.url is empty): this till works offline.")
        )
    return ZReport(
        day=day,
        currency=currency,
        by_kind={k.kind: (k.events, k.points) for k in kinds},
        sales=money.get("earn", 0),
        refunds=money.get("reverse", 0),
        membership_fees=money.get("membership", 0),
        earned=points.get("earn", 0),
        bonuses=sum(points.get(kind, 0) for kind in BONUS_KINDS),
        adjusted=points.get("adjust", 0),
        redeemed=-points.get("redeem", 0),
        donated=-points.get("donate", 0),
        refunded=refunded,
        cancelled=cancelled,
        net=sum(points.values()),
        liability_points=outstanding,
        liability=points_worth(outstanding, point_value, currency),
        unsynced=unsynced,
        oldest_unsynced_at=min((k.oldest_at for k in waiting), default=None),
        sync_problem=problem,
        slips_waiting=slips,
    )


def z_report_slip(header: Header, report: ZReport, at: str) -> Slip:
    return Slip("zreport", tuple(z_report_blocks(header, report, at, "Z-REPORT")))


def z_report_blocks(header: Header, report: ZReport, at: str, title: str) -> list[Block]:
    def money(minor: int) -> str:
        return format_amount(minor, report.currency)

    blocks: list[Block] = header.blocks(at, f"{title} {report.day.isoformat()}")
    blocks.append(Rule())
    for kind, (count, points) in sorted(report.by_kind.items()):
        blocks.append(Row(f"{kind.replace('_', ' ')} ×{count}", f"{points:+d}"))
    blocks += [
        Rule(),
        Row("Sales", money(report.sales)),
        Row("Refunds", money(report.refunds)),
        Row("Membership fees", money(report.membership_fees)),
        Row("Points earned on sales", f"{report.earned:+d}"),
        Row("Bonuses", f"{report.bonuses:+d}"),
        Row("Adjustments", f"{report.adjusted:+d}"),
        Row("Redeemed", f"{-report.redeemed:+d}"),
        Row("Donated", f"{-report.donated:+d}"),
        Row("Taken back by refunds", f"{-report.refunded:+d}"),
        Row("Given back by cancels", f"{report.cancelled:+d}"),
        Row("Net change on the day", f"{report.net:+d}", bold=True),
        Rule(),
        Row("Outstanding points, all days", str(report.liability_points)),
        Row("Liability", money(report.liability), bold=True),
        Rule(),
        Row("Not yet at HQ (now)", plural(report.unsynced, "event"), bold=bool(report.unsynced)),
    ]
    if report.unsynced and report.oldest_unsynced_at:
        blocks.append(Row("  oldest", header.local_time(report.oldest_unsynced_at)))
    if report.sync_problem:
        blocks.append(Text(f"  {report.sync_problem}"))
    if report.slips_waiting:
        blocks.append(Row("Slips waiting to print", str(report.slips_waiting)))
    return blocks
