"""The host POS's request ids: a retried command finds the event it already made."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .events import SELECT, Event, from_row

if TYPE_CHECKING:
    from .unit import Journal


class RequestStore:
    def __init__(self, unit: Journal) -> None:
        self.unit = unit

    def event(self, request_id: str) -> Event | None:
        row = self.unit.conn.execute(
            f"{SELECT} WHERE event_id = (SELECT event_id FROM requests WHERE request_id = ?)",
            (request_id,),
        ).fetchone()
        return from_row(row) if row else None

    def remember(self, request_id: str, event_id: str) -> None:
        self.unit.require_write("remember a request")
        self.unit.conn.execute(
            "INSERT INTO requests (request_id, event_id) VALUES (?, ?)", (request_id, event_id)
        )
