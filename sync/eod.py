"""End of day (``pos-loyalty eod``): push until HQ holds every event or the deadline passes,
pull HQ's word, ask HQ for the chain's figures, and build, save and print the report.

Whatever HQ does, the report is made: what could not be done is said in it, and what is
still unsynced decides the exit status.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import msgspec

from pos_loyalty.clock import iso
from pos_loyalty.endofday import (
    REPORT_WIDTH,
    EndOfDay,
    SyncOutcome,
    chain_figures,
    end_of_day_slip,
)
from pos_loyalty.errors import LoyaltyError
from pos_loyalty.private import write_private
from pos_loyalty.service import Till
from pos_loyalty.zreport import day_bounds

from .daemon import Syncer
from .protocol import Totals

# (HQ holds up to #, the journal's last #, why it is waiting for HQ or None)
Progress = Callable[[int, int, str | None], None]


def end_of_day(
    till: Till,
    approval: object,
    *,
    deadline: float = 60.0,
    batch_size: int = 200,
    token: str | None = None,
    on_progress: Progress | None = None,
) -> EndOfDay:
    """The day's end-of-day report, after syncing as far as HQ lets. ``approval`` is a
    manager's sign-in at this till; ``deadline`` is in seconds from now, the push retrying
    until then; ``token`` is the terminal's, where not read from the config's file or
    environment."""
    manager = till.roster.check(approval, manager=True)
    loaded = till.source
    now = till.clock()
    day = now.astimezone(till.zone).date()
    totals: Totals | None = None
    pulled = 0
    problem: str | None = None
    events = till.journal.events
    acked_before = events.outbox().acked_seq
    if loaded is None or not till.config.hq.url:
        problem = "No HQ is configured (hq.url is empty): this till works offline."
    else:
        try:
            with Syncer(loaded, token=token, batch_size=batch_size, clock=till.clock) as syncer:
                until = time.monotonic() + deadline
                syncer.push(attempts=None, deadline=until, on_progress=on_progress)
                pulled = syncer.pull()
                totals = syncer.totals(*day_bounds(day, till.config.store.timezone))
        except LoyaltyError as exc:
            problem = exc.message
    report, _ = till.z_report(day)
    head_seq, head_hash = events.head()
    sync = SyncOutcome(
        pushed=events.outbox().acked_seq - acked_before,
        members_updated=pulled,
        head_seq=head_seq,
        head_hash=head_hash,
        hq_seq=totals.acked_seq if totals else None,
        hq_hash=totals.head_hash if totals else None,
        problem=problem,
    )
    chain = None
    if totals is not None:
        chain = chain_figures(
            as_of=totals.as_of,
            chain={k: (t.events, t.points) for k, t in totals.chain.items()},
            store={k: (t.events, t.points) for k, t in totals.store.items()},
            members=totals.members,
            liability_points=totals.liability_points,
            deficit_points=totals.deficit_points,
            point_value=till.program.point_value,
            currency=till.currency,
        )
    return EndOfDay(iso(now), f"{manager.staff_id} {manager.name}", report, sync, chain)


def save_report(till: Till, eod: EndOfDay) -> tuple[Path, Path]:
    """The report as text and JSON in ``reports/`` beside the journal, one pair per store
    day, each written whole or not at all. A later run that day replaces it, except that
    an incomplete run never replaces a complete one (whose chain figures came from HQ): it
    is saved beside it, with its time in the name."""
    folder = Path(till.journal.path).parent / "reports"
    folder.mkdir(mode=0o700, exist_ok=True)  # reports name members by masked phone
    stem = f"eod-{till.config.store.id}-{till.config.terminal.id}-{eod.till.day.isoformat()}"
    if not eod.complete and _was_complete(folder / f"{stem}.json"):
        stem += f"-{eod.at[11:19].replace(':', '')}Z"  # the run's time, UTC
    text = end_of_day_slip(till.header, eod).text(width=REPORT_WIDTH) + "\n"
    paths = folder / f"{stem}.txt", folder / f"{stem}.json"
    write_private(paths[0], text.encode())
    write_private(paths[1], msgspec.json.format(msgspec.json.encode(eod.to_json())) + b"\n")
    return paths


def _was_complete(path: Path) -> bool:
    try:
        return bool(msgspec.json.decode(path.read_bytes()).get("complete"))
    except (OSError, msgspec.DecodeError, AttributeError):
        return False
