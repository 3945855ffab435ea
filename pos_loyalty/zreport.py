"""End-of-day figures for one store day at this till (the Z-report), from the journal."""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass
from typing import Any

from .clock import iso
from .journal import Journal
from .money import format_amount, parse_amount
from .slips import Block, Header, Row, Rule, Slip, Text


@dataclass(frozen=True)
class ZReport:
    day: dt.date
    currency: str
    by_kind: dict[str, tuple[int, int]]  # kind → (events, points)
    sales: int  # money of the day's sales, minor units
    refunds: int
    issued: int  # points added: sales, bonuses, positive adjustments, cancelled redemptions
    redeemed: int  # points spent on rewards and donations (positive number)
    liability_points: int  # all points this till knows to be outstanding
    liability: int  # liability_points at the program's point value, minor units
    unsynced: int
    oldest_unsynced_at: str | None
    sync_problem: str | None
    slips_waiting: int

    def to_json(self) -> dict[str, Any]:
        out = dict(self.__dict__)
        out["day"] = self.day.isoformat()
        out["by_kind"] = {k: {"events": n, "points": p} for k, (n, p) in self.by_kind.items()}
        return out


def z_report(
    journal: Journal, *, day: dt.date, timezone: str, currency: str, point_value: str
) -> ZReport:
    zone = zoneinfo.ZoneInfo(timezone)
    start = dt.datetime.combine(day, dt.time(), zone)
    since, until = iso(start), iso(start + dt.timedelta(days=1))
    q = journal.conn.execute
    rows = q(
        "SELECT kind, count(*), coalesce(sum(points), 0), coalesce(sum(amount), 0) FROM events "
        "WHERE created_at >= ? AND created_at < ? GROUP BY kind",
        (since, until),
    ).fetchall()
    by_kind = {r[0]: (r[1], r[2]) for r in rows}
    money = {r[0]: r[3] for r in rows}
    issued, redeemed = q(
        "SELECT coalesce(sum(CASE WHEN points > 0 THEN points END), 0), "
        "coalesce(-sum(CASE WHEN kind IN ('redeem', 'donate') THEN points END), 0) "
        "FROM events WHERE created_at >= ? AND created_at < ?",
        (since, until),
    ).fetchone()
    outstanding = _outstanding_points(journal)
    outbox = journal.outbox()
    unsynced = q(
        "SELECT count(*), min(created_at) FROM events WHERE seq > ?", (outbox["acked_seq"],)
    ).fetchone()
    return ZReport(
        day=day,
        currency=currency,
        by_kind=by_kind,
        sales=money.get("earn", 0),
        refunds=money.get("reverse", 0),
        issued=issued,
        redeemed=redeemed,
        liability_points=outstanding,
        liability=outstanding * parse_amount(point_value, currency),
        unsynced=unsynced[0],
        oldest_unsynced_at=unsynced[1],
        sync_problem=outbox["last_error"],
        slips_waiting=journal.print_queue()["queued"],
    )


def _outstanding_points(journal: Journal) -> int:
    """HQ's confirmed balances plus every later event of this till (members or not)."""
    confirmed = journal.conn.execute(
        "SELECT coalesce(sum(confirmed_balance), 0) FROM members"
    ).fetchone()[0]
    later = journal.conn.execute(
        "SELECT coalesce(sum(e.points), 0) FROM events e LEFT JOIN members m "
        "ON m.member_id = e.member_id WHERE e.seq > coalesce(m.confirmed_through_seq, 0)"
    ).fetchone()[0]
    return confirmed + later


def z_report_slip(header: Header, report: ZReport, at: str) -> Slip:
    money = lambda minor: format_amount(minor, report.currency)  # noqa: E731
    blocks: list[Block] = header.blocks(at, f"Z-REPORT {report.day.isoformat()}")
    blocks.append(Rule())
    for kind, (count, points) in sorted(report.by_kind.items()):
        blocks.append(Row(f"{kind} ×{count}", f"{points:+d}"))
    blocks += [
        Rule(),
        Row("Sales", money(report.sales)),
        Row("Refunds", money(report.refunds)),
        Row("Points issued", str(report.issued)),
        Row("Points redeemed", str(report.redeemed)),
        Row("Outstanding points", str(report.liability_points)),
        Row("Liability", money(report.liability), bold=True),
        Rule(),
        Row("Not yet at HQ", f"{report.unsynced} events", bold=bool(report.unsynced)),
    ]
    if report.unsynced and report.oldest_unsynced_at:
        blocks.append(Row("  oldest", header.local_time(report.oldest_unsynced_at)))
    if report.sync_problem:
        blocks.append(Text(f"  why: {report.sync_problem}"))
    elif report.unsynced:
        blocks.append(Text("  why: the till has not reached HQ yet"))
    if report.slips_waiting:
        blocks.append(Row("Slips waiting to print", str(report.slips_waiting)))
    return Slip("zreport", tuple(blocks))
