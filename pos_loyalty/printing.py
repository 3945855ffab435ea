"""Slips into the print queue: an event's slip in the event's own transaction, a balance slip,
a reprint, and what the queue and printer look like now. Sending them is the print worker's
job (drivers/print_worker.py), after the commit, so a printer never holds up an event."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, replace

from .clock import iso
from .errors import UnknownEvent
from .journal import Journal
from .slips import Header, Slip, balance_slip, event_slip
from .views import EventResult, MemberView


@dataclass(frozen=True)
class PrintStatus:
    slips_waiting: int
    oldest_waiting_at: str | None
    printer: str  # online, near_end, paper_out, cover_open, offline, unknown, or none
    detail: str | None
    last_error: str | None

    def to_json(self) -> dict[str, object]:
        return dict(self.__dict__)


class SlipQueue:
    def __init__(
        self,
        journal: Journal,
        header: Header,
        clock: Callable[[], dt.datetime],
        *,
        enabled: bool,
    ) -> None:
        self.journal = journal
        self.header = header
        self.clock = clock
        self.enabled = enabled  # a printer is configured

    def with_slip(self, result: EventResult) -> EventResult:
        """Queue the event's slip in the event's own transaction: a printer failure can delay
        a slip, never lose it, and never undo or hold up the event."""
        if not self.enabled:
            return result
        slip = event_slip(self.header, result)
        job = self._queue(slip, result.event.created_at, event_id=result.event.event_id)
        return replace(result, print_job=job)

    def balance(self, view: MemberView) -> int:
        at = iso(self.clock())
        with self.journal.writing():
            return self._queue(balance_slip(self.header, view, at), at)

    def slip(self, slip: Slip) -> int:
        with self.journal.writing():
            return self._queue(slip, iso(self.clock()))

    def reprint(self, job_id: int | None = None) -> tuple[int, int]:
        """Queue a copy of an earlier slip (the last one by default); returns the new job and
        the original it copies."""
        prints = self.journal.prints
        with self.journal.writing():
            job = prints.get(job_id) if job_id is not None else prints.last()
            if job is None:
                raise UnknownEvent(
                    f"No print job {job_id}." if job_id else "Nothing has been printed yet."
                )
            original = job.reprint_of or job.job_id  # always the original
            copy = prints.add(
                job.kind, job.slip, iso(self.clock()), event_id=job.event_id, reprint_of=original
            )
            return copy, original

    def status(self) -> PrintStatus:
        """Slips waiting to print and the printer's last known state (as the worker found it)."""
        with self.journal.reading():
            queue = self.journal.prints.summary()
            printer = self.journal.prints.device_state("printer")
        state = printer.state if printer else ("unknown" if self.enabled else "none")
        return PrintStatus(
            queue.queued,
            queue.oldest_queued_at,
            state,
            printer.detail if printer else None,
            queue.last_error,
        )

    def _queue(self, slip: Slip, at: str, *, event_id: str | None = None) -> int:
        return self.journal.prints.add(slip.kind, slip.to_json(), at, event_id=event_id)
