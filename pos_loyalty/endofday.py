"""The end-of-day report: this till's Z-report, what the sync did, and the chain's figures
from HQ, kept apart; as data, a slip and a file. Gathering it is the sync's part."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from .money import format_amount, points_worth
from .slips import Block, Header, Row, Rule, Slip, Text
from .words import plural
from .zreport import BONUS_KINDS, ZReport, z_report_blocks

REPORT_WIDTH = 48  # columns of the report as on 80 mm paper: on screen and in its file


@dataclass(frozen=True)
class DayTotals:
    """A day's points by what happened to them, from events by kind (events, points)."""

    events: int
    issued: int  # from sales and bonuses
    adjusted: int  # managers' adjustments, net
    redeemed: int  # on rewards (positive)
    donated: int  # to charities (positive)
    reversed: int  # refunds and cancels, net (signed)
    expired: int  # positive
    net: int

    @classmethod
    def of(cls, by_kind: dict[str, tuple[int, int]]) -> DayTotals:
        points = {kind: p for kind, (_, p) in by_kind.items()}
        return cls(
            events=sum(n for n, _ in by_kind.values()),
            issued=points.get("earn", 0) + sum(points.get(k, 0) for k in BONUS_KINDS),
            adjusted=points.get("adjust", 0),
            redeemed=-points.get("redeem", 0),
            donated=-points.get("donate", 0),
            reversed=points.get("reverse", 0),
            expired=-points.get("expire", 0),
            net=sum(points.values()),
        )


@dataclass(frozen=True)
class ChainFigures:
    """HQ's figures: the day across the chain and in this store, and the chain's liability."""

    as_of: str
    chain: DayTotals
    store: DayTotals
    members: int
    liability_points: int
    liability: int  # minor units, at the program's point value
    deficit_points: int  # what members in deficit owe


def chain_figures(
    *,
    as_of: str,
    chain: dict[str, tuple[int, int]],
    store: dict[str, tuple[int, int]],
    members: int,
    liability_points: int,
    deficit_points: int,
    point_value: str,
    currency: str,
) -> ChainFigures:
    return ChainFigures(
        as_of=as_of,
        chain=DayTotals.of(chain),
        store=DayTotals.of(store),
        members=members,
        liability_points=liability_points,
        liability=points_worth(liability_points, point_value, currency),
        deficit_points=deficit_points,
    )


@dataclass(frozen=True)
class SyncOutcome:
    """What the end-of-day sync did, and how far the till's chain and HQ's agree."""

    pushed: int  # events HQ took now
    members_updated: int  # members whose word was pulled
    head_seq: int  # this till's chain head
    head_hash: str | None
    hq_seq: int | None  # how far HQ holds this till's chain, as HQ said; None: not known
    hq_hash: str | None
    problem: str | None  # why the sync stopped short, in a sentence

    @property
    def agreed(self) -> bool:
        """HQ holds this till's chain to its head, with the same head hash."""
        return (self.hq_seq, self.hq_hash) == (self.head_seq, self.head_hash)


@dataclass(frozen=True)
class EndOfDay:
    at: str
    run_by: str  # the manager, "ID Name"
    till: ZReport
    sync: SyncOutcome
    chain: ChainFigures | None  # None when HQ could not be asked

    @property
    def complete(self) -> bool:
        """Nothing of this till is left unsynced, and HQ answered and agrees on its chain:
        with HQ down, events an earlier sync sent are safe, but the day is not confirmed
        and the chain's figures are missing."""
        return self.till.unsynced == 0 and self.sync.agreed

    def to_json(self) -> dict[str, Any]:
        return {
            "at": self.at,
            "run_by": self.run_by,
            "complete": self.complete,
            "till": self.till.to_json(),
            "sync": {**asdict(self.sync), "agreed": self.sync.agreed},
            "chain": asdict(self.chain) if self.chain else None,
        }


def end_of_day_slip(header: Header, eod: EndOfDay) -> Slip:
    report = eod.till

    def money(minor: int) -> str:
        return format_amount(minor, report.currency)

    blocks = z_report_blocks(header, report, eod.at, "END OF DAY")
    blocks.insert(len(header.blocks(eod.at, "")), Text(f"Run by {eod.run_by}", "center"))
    sync = eod.sync
    blocks += [Rule(), Text("SYNC WITH HQ", bold=True)]
    blocks.append(Row("Sent now", plural(sync.pushed, "event")))
    blocks.append(Row("Members updated", str(sync.members_updated)))
    blocks.append(Row("Chain head", _head(sync.head_seq, sync.head_hash)))
    if sync.hq_seq is None:
        blocks.append(Row("HQ holds", "not known"))
    else:
        blocks.append(Row("HQ holds", _head(sync.hq_seq, sync.hq_hash), bold=not sync.agreed))
    if sync.problem:
        blocks.append(Text(f"  {sync.problem}"))
    blocks += [Rule(), Text("THE CHAIN (FROM HQ)", bold=True)]
    chain = eod.chain
    if chain is None:
        blocks.append(Text("  Not known: HQ could not be asked."))
    else:
        blocks += _totals("This store", chain.store)
        blocks += _totals("All stores", chain.chain)
        blocks += [
            Row("Members", str(chain.members)),
            Row("Outstanding points", str(chain.liability_points)),
            Row("Chain liability", money(chain.liability), bold=True),
        ]
        if chain.deficit_points:
            blocks.append(Row("Owed by members in deficit", str(chain.deficit_points)))
        blocks.append(Row("  as of", header.local_time(chain.as_of)))
    blocks += [Rule(), Text(_verdict(eod), "center", bold=True)]
    return Slip("eod", tuple(blocks))


def _totals(title: str, day: DayTotals) -> list[Block]:
    return [
        Row(f"{title}: events", str(day.events)),
        Row("  issued", f"{day.issued:+d}"),
        Row("  adjusted", f"{day.adjusted:+d}"),
        Row("  redeemed", f"{-day.redeemed:+d}"),
        Row("  donated", f"{-day.donated:+d}"),
        Row("  reversed", f"{day.reversed:+d}"),
        Row("  expired", f"{-day.expired:+d}"),
        Row("  net", f"{day.net:+d}"),
    ]


def _head(seq: int, digest: str | None) -> str:
    return f"#{seq} {digest[:12]}" if digest else f"#{seq}"


def _verdict(eod: EndOfDay) -> str:
    if eod.complete:
        return "ALL SYNCED: HQ HOLDS EVERY EVENT"
    if eod.till.unsynced:
        return f"NOT SYNCED: {plural(eod.till.unsynced, 'event').upper()} WAITING"
    if eod.sync.hq_seq is None:
        return "NOT CONFIRMED: HQ COULD NOT BE ASKED"
    return "HQ'S COPY OF THIS TILL'S CHAIN DIFFERS"
