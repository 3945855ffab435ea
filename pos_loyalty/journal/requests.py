"""The host POS's request ids: a retried command finds the event it already made."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import StorageError
from .events import SELECT, Event, from_row

if TYPE_CHECKING:
    from .unit import Journal


class RequestStore:
    def __init__(self, unit: Journal) -> None:
        self.unit = unit

    def event(self, request_id: str) -> Event | None:
        conn = self.unit.conn
        made = conn.execute(
            "SELECT event_id FROM requests WHERE request_id = ?", (request_id,)
        ).fetchone()
        if made is None:
            return None
        row = conn.execute(f"{SELECT} WHERE event_id = ?", (made[0],)).fetchone()
        if row is None:
            raise StorageError(
                f"The event request {request_id} made is missing from the till database; "
                "run `pos-loyalty verify`."
            )
        return from_row(row)

    def remember(self, request_id: str, event_id: str) -> None:
        self.unit.require_write("remember a request")
        self.unit.conn.execute(
            "INSERT INTO requests (request_id, event_id) VALUES (?, ?)", (request_id, event_id)
        )
