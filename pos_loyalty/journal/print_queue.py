"""Slips waiting to print, queued in the same transaction as the event they print, and the
devices' last known state."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..chain import canonical

if TYPE_CHECKING:
    from .unit import Journal

_COLUMNS = (
    "job_id",
    "event_id",
    "kind",
    "slip",
    "status",
    "attempts",
    "next_attempt_at",
    "last_error",
    "created_at",
    "printed_at",
    "reprint_of",
    "lease_until",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM print_jobs"


@dataclass(frozen=True)
class PrintJob:
    job_id: int
    event_id: str | None
    kind: str
    slip: dict[str, Any]
    status: str  # queued, printed, failed
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    created_at: str
    printed_at: str | None
    reprint_of: int | None
    lease_until: str | None

    def claimable(self, now: str, now_not_later: bool) -> bool:
        """A job waiting out its backoff, or leased to another worker, holds back every later
        one: slips print in queue order."""
        if self.lease_until and self.lease_until > now:
            return False
        return now_not_later or not self.next_attempt_at or self.next_attempt_at <= now


@dataclass(frozen=True)
class QueueSummary:
    queued: int
    oldest_queued_at: str | None
    next_attempt_at: str | None
    last_error: str | None


@dataclass(frozen=True)
class DeviceState:
    device: str
    state: str
    detail: str
    updated_at: str


class PrintQueue:
    def __init__(self, unit: Journal) -> None:
        self.unit = unit

    def add(
        self,
        kind: str,
        slip: dict[str, Any],
        created_at: str,
        *,
        event_id: str | None = None,
        reprint_of: int | None = None,
    ) -> int:
        """Queue a slip; call inside ``writing()``, with the event it prints."""
        self.unit.require_write("queue a slip")
        cur = self.unit.conn.execute(
            "INSERT INTO print_jobs (event_id, kind, slip, created_at, reprint_of) "
            "VALUES (?, ?, ?, ?, ?)",
            (event_id, kind, canonical(slip), created_at, reprint_of),
        )
        return int(cur.lastrowid or 0)

    def get(self, job_id: int) -> PrintJob | None:
        return self._one(f"{_SELECT} WHERE job_id = ?", (job_id,))

    def last(self) -> PrintJob | None:
        return self._one(f"{_SELECT} ORDER BY job_id DESC LIMIT 1", ())

    def claim(
        self, now: str, lease_until: str, limit: int = 20, *, now_not_later: bool = False
    ) -> list[PrintJob]:
        """The due jobs (all waiting ones if ``now_not_later``), leased to the caller until
        ``lease_until``: another process draining the same queue (the UI's worker and a CLI
        call) skips them, so no slip prints twice; if the worker dies, the lease runs out."""
        with self.unit.writing():
            waiting = [
                _job(row)
                for row in self.unit.conn.execute(
                    f"{_SELECT} WHERE status = 'queued' ORDER BY job_id LIMIT ?", (limit,)
                )
            ]
            jobs = list(itertools.takewhile(lambda j: j.claimable(now, now_not_later), waiting))
            self.unit.conn.executemany(
                "UPDATE print_jobs SET lease_until = ? WHERE job_id = ?",
                [(lease_until, job.job_id) for job in jobs],
            )
        return jobs

    def mark_failed(self, job_id: int, error: str) -> None:
        """A job that can never print (its slip cannot be read); kept for the record."""
        self._update("status = 'failed', attempts = attempts + 1, last_error = ?", (error,), job_id)

    def mark_printed(self, job_id: int, at: str) -> None:
        self._update(
            "status = 'printed', printed_at = ?, lease_until = NULL, attempts = attempts + 1, "
            "last_error = NULL",
            (at,),
            job_id,
        )

    def mark_retry(self, job_id: int, error: str, next_attempt_at: str) -> None:
        self._update(
            "attempts = attempts + 1, last_error = ?, next_attempt_at = ?, lease_until = NULL",
            (error, next_attempt_at),
            job_id,
        )

    def summary(self) -> QueueSummary:
        conn = self.unit.conn
        row = conn.execute(
            "SELECT count(*), min(created_at), min(next_attempt_at) FROM print_jobs "
            "WHERE status = 'queued'"
        ).fetchone()
        latest = conn.execute(
            "SELECT last_error FROM print_jobs WHERE status = 'queued' AND last_error IS NOT NULL "
            "ORDER BY job_id DESC LIMIT 1"
        ).fetchone()
        return QueueSummary(row[0], row[1], row[2], latest[0] if latest else None)

    def set_device_state(self, device: str, state: str, detail: str, at: str) -> None:
        with self.unit.writing():
            self.unit.conn.execute(
                "INSERT INTO device_state (device, state, detail, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (device) DO UPDATE SET state = excluded.state, "
                "detail = excluded.detail, updated_at = excluded.updated_at",
                (device, state, detail, at),
            )

    def device_state(self, device: str) -> DeviceState | None:
        row = self.unit.conn.execute(
            "SELECT device, state, detail, updated_at FROM device_state WHERE device = ?",
            (device,),
        ).fetchone()
        return DeviceState(*row) if row else None

    def _update(self, assignments: str, args: tuple[Any, ...], job_id: int) -> None:
        with self.unit.writing():
            self.unit.conn.execute(
                f"UPDATE print_jobs SET {assignments} WHERE job_id = ?", (*args, job_id)
            )

    def _one(self, sql: str, args: tuple[Any, ...]) -> PrintJob | None:
        row = self.unit.conn.execute(sql, args).fetchone()
        return _job(row) if row else None


def _job(row: tuple[Any, ...]) -> PrintJob:
    values = dict(zip(_COLUMNS, row, strict=True))
    try:
        values["slip"] = json.loads(values["slip"])
    except (TypeError, ValueError):
        values["slip"] = {}  # an unreadable slip: the worker marks the job failed
    return PrintJob(**values)
