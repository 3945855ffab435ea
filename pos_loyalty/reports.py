"""What waits: events not yet acknowledged by HQ (the outbox the sync daemon drains), and the
slips not yet printed."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .journal import Journal
from .printing import PrintStatus


@dataclass(frozen=True)
class QueueStatus:
    last_seq: int
    acked_seq: int
    unsynced: int
    oldest_unsynced_at: str | None
    by_kind: dict[str, int]
    last_attempt_at: str | None
    last_error: str | None
    last_success_at: str | None
    online: bool | None  # learned from the last real request to HQ; None: never tried
    print: PrintStatus

    def to_json(self) -> dict[str, Any]:
        return {**self.__dict__, "print": self.print.to_json()}


def queue_status(journal: Journal, printing: PrintStatus) -> QueueStatus:
    with journal.reading():
        outbox = journal.events.outbox()
        waiting = journal.events.count_by_kind(after_seq=outbox.acked_seq)
        last_seq = journal.events.last_seq()
    return QueueStatus(
        last_seq=last_seq,
        acked_seq=outbox.acked_seq,
        unsynced=sum(k.events for k in waiting),
        oldest_unsynced_at=min((k.oldest_at for k in waiting), default=None),
        by_kind={k.kind: k.events for k in waiting},
        last_attempt_at=outbox.last_attempt_at,
        last_error=outbox.last_error,
        last_success_at=outbox.last_success_at,
        online=None if outbox.last_attempt_at is None else outbox.last_error is None,
        print=printing,
    )
