"""The append-only events, their hash chain, and the outbox position HQ has acknowledged."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .. import chain
from ..errors import StorageError
from .verify import row_hash

if TYPE_CHECKING:
    from .unit import Journal

COLUMNS = (*chain.FIELDS, "hash", "chain_version")
SELECT = f"SELECT {', '.join(COLUMNS)} FROM events"
_INSERT = f"INSERT INTO events ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"


def _member_match(
    member_id: str | None, phone: str | None, aliases: tuple[str, ...]
) -> tuple[str, list[object]]:
    """A member's events: by member id (or the id of one HQ merged into them), or by phone
    where the till did not know the member yet."""
    ids = [member_id, *aliases]
    marks = ", ".join("?" for _ in ids)
    return f"(member_id IN ({marks}) OR (member_id IS NULL AND phone = ?))", [*ids, phone]


@dataclass(frozen=True)
class NewEvent:
    """What the service layer asks the journal to append; the journal adds seq and hashes."""

    event_id: str
    kind: str
    member_id: str | None
    phone: str | None
    points: int
    amount: int | None
    currency: str | None
    ref_event_id: str | None
    ruleset: str
    detail: dict[str, Any] = field(compare=False)
    staff_id: str | None
    created_at: str

    @property
    def lines(self) -> list[str]:
        return list(self.detail.get("lines", ()))


@dataclass(frozen=True)
class Event(NewEvent):
    """One journal row. ``detail`` holds what the event froze: lines, breakdown, lots;
    ``detail_text`` is it exactly as stored and hashed."""

    seq: int
    store_id: str
    terminal_id: str
    prev_hash: str
    hash: str
    chain_version: int
    detail_text: str = field(compare=False, repr=False)


@dataclass(frozen=True)
class Outbox:
    """How far HQ has acknowledged this terminal's events, and the last try."""

    acked_seq: int
    last_attempt_at: str | None
    last_error: str | None
    last_success_at: str | None = None


@dataclass(frozen=True)
class KindCount:
    kind: str
    events: int
    points: int
    amount: int
    oldest_at: str


class EventStore:
    def __init__(self, unit: Journal) -> None:
        self.unit = unit

    def append(self, new: NewEvent) -> Event:
        """Add an event at the end of the chain (hash chain v1); call inside ``writing()``."""
        unit = self.unit
        unit.require_write("append")
        seq, prev = self._next(unit)
        fields = dict(new.__dict__)  # not asdict(): it deep-copies the detail for nothing
        fields.update(seq=seq, store_id=unit.store_id, terminal_id=unit.terminal_id, prev_hash=prev)
        detail_text = chain.canonical(new.detail)  # refuses what the journal may not hold
        fields["hash"] = chain.event_hash(fields, detail_text)
        fields["chain_version"] = chain.VERSION
        row = [fields[c] for c in COLUMNS]
        row[COLUMNS.index("detail")] = detail_text
        unit.conn.execute(_INSERT, row)
        unit.conn.execute(
            "UPDATE meta SET value = ? WHERE key = 'head'", (f"{seq} {fields['hash']}",)
        )
        fields["detail_text"] = detail_text
        return Event(**fields)

    def _next(self, unit: Journal) -> tuple[int, str]:
        """The next seq and the hash it links to. The journal's head (kept in ``meta`` with
        every event) must be its newest event: if events were deleted from the end, nothing
        more is written, so no seq is ever used twice."""
        head, newest = unit.conn.execute(
            "SELECT value, (SELECT coalesce(max(seq), 0) FROM events) FROM meta WHERE key = 'head'"
        ).fetchone()
        recorded, _, last_hash = head.partition(" ")
        if newest != int(recorded):
            raise StorageError(
                f"The till database's newest events are missing (it ends at #{newest}, "
                f"#{recorded} was recorded); nothing was saved: run `pos-loyalty verify`."
            )
        if not newest:
            return 1, unit.genesis
        # The chain goes on only from an event that is what was written: the newest is
        # checked against its hash and the head before anything links to it.
        cursor = unit.conn.execute(f"{SELECT} WHERE seq = ?", (newest,))
        row = dict(zip(COLUMNS, cursor.fetchone(), strict=True))
        if row["hash"] != last_hash or row_hash(row) != last_hash:
            raise StorageError(
                f"The till database's newest event #{newest} is not what was written (it "
                "does not match its hash); nothing was saved: run `pos-loyalty verify`."
            )
        return newest + 1, last_hash

    def get(self, event_id: str) -> Event | None:
        return self._one(f"{SELECT} WHERE event_id = ?", (event_id,))

    def by_seq(self, seq: int) -> Event | None:
        return self._one(f"{SELECT} WHERE seq = ?", (seq,))

    def reversals_of(self, event_id: str) -> list[Event]:
        return self._all(
            f"{SELECT} WHERE ref_event_id = ? AND kind = 'reverse' ORDER BY seq", (event_id,)
        )

    def bonuses_of(self, event_id: str) -> list[Event]:
        """The bonuses an enrolment gave (welcome, referral: the new member's and the
        referrer's), in the order they were written."""
        return self._all(
            f"{SELECT} WHERE ref_event_id = ? AND kind IN ('welcome_bonus', 'referral_bonus') "
            "ORDER BY seq",
            (event_id,),
        )

    def for_member(
        self,
        member_id: str | None,
        phone: str | None,
        *,
        after_seq: int = 0,
        aliases: tuple[str, ...] = (),
    ) -> list[Event]:
        """A member's events after ``after_seq``, including those recorded against their
        phone before the till knew them, and those of members HQ merged into them."""
        match, args = _member_match(member_id, phone, aliases)
        return self._all(f"{SELECT} WHERE seq > ? AND {match} ORDER BY seq", (after_seq, *args))

    def recent_for_member(
        self, member_id: str | None, phone: str | None, limit: int, aliases: tuple[str, ...] = ()
    ) -> list[Event]:
        match, args = _member_match(member_id, phone, aliases)
        return self._all(f"{SELECT} WHERE {match} ORDER BY seq DESC LIMIT ?", (*args, limit))

    def any_for_member(
        self, member_id: str | None, phone: str | None, aliases: tuple[str, ...] = ()
    ) -> bool:
        """Whether this till recorded anything for the member (offline, before it knew them)."""
        match, args = _member_match(member_id, phone, aliases)
        row = self.unit.conn.execute(f"SELECT 1 FROM events WHERE {match} LIMIT 1", args).fetchone()
        return row is not None

    def iter_rows(self, after_seq: int = 0) -> Iterator[dict[str, Any]]:
        """Every event as stored (``detail`` as its text), in order: what verify reads."""
        cursor = self.unit.conn.execute(f"{SELECT} WHERE seq > ? ORDER BY seq", (after_seq,))
        for row in cursor:
            yield dict(zip(COLUMNS, row, strict=True))

    def last_seq(self) -> int:
        return int(self.unit.conn.execute("SELECT coalesce(max(seq), 0) FROM events").fetchone()[0])

    def head(self) -> tuple[int, str | None]:
        """The chain's head: the newest event's seq and hash (0 and None when empty)."""
        row = self.unit.conn.execute(
            "SELECT seq, hash FROM events ORDER BY seq DESC LIMIT 1"
        ).fetchone()
        return (int(row[0]), row[1]) if row else (0, None)

    def count_by_kind(
        self, *, after_seq: int = 0, since: str = "", until: str = "~"
    ) -> list[KindCount]:
        """Events by kind after ``after_seq`` and created in ``[since, until)``."""
        rows = self.unit.conn.execute(
            "SELECT kind, count(*), coalesce(sum(points), 0), coalesce(sum(amount), 0), "
            "min(created_at) FROM events WHERE seq > ? AND created_at >= ? AND created_at < ? "
            "GROUP BY kind ORDER BY kind",
            (after_seq, since, until),
        )
        return [KindCount(*row) for row in rows]

    def reversal_points(self, *, since: str, until: str) -> tuple[int, int]:
        """Points taken back by refunds and given back by cancels in ``[since, until)``, both
        as positive numbers."""
        row = self.unit.conn.execute(
            "SELECT coalesce(-sum(CASE WHEN points < 0 THEN points END), 0), "
            "coalesce(sum(CASE WHEN points > 0 THEN points END), 0) FROM events "
            "WHERE kind = 'reverse' AND created_at >= ? AND created_at < ?",
            (since, until),
        ).fetchone()
        return int(row[0]), int(row[1])

    def points_after_hq_word(self) -> int:
        """Points of every event HQ's word on its member does not include yet, matched to
        members as ``for_member`` matches them."""
        return int(
            self.unit.conn.execute(
                "SELECT coalesce(sum(e.points), 0) FROM events e LEFT JOIN members m "
                "ON m.member_id = e.member_id OR (e.member_id IS NULL AND m.phone = e.phone) "
                "LEFT JOIN members t ON t.member_id = m.merged_into "
                "WHERE e.seq > coalesce(t.hq_through_seq, m.hq_through_seq, 0)"
            ).fetchone()[0]
        )

    def outbox(self) -> Outbox:
        row = self.unit.conn.execute(
            "SELECT acked_seq, last_attempt_at, last_error, last_success_at FROM outbox "
            "WHERE terminal_id = ?",
            (self.unit.terminal_id,),
        ).fetchone()
        return Outbox(*row) if row else Outbox(0, None, None)

    def stored_after(self, seq: int, limit: int) -> list[tuple[Any, ...]]:
        """Up to ``limit`` events after ``seq``, in order, as stored (``COLUMNS``) and checked
        as ``from_row`` checks them: the next batch for HQ, which takes them as they are, so
        no ``Event`` is built for it."""
        rows = self.unit.conn.execute(
            f"{SELECT} WHERE seq > ? ORDER BY seq LIMIT ?", (seq, limit)
        ).fetchall()
        for row in rows:
            _checked_detail(row)
        return rows

    def acknowledged(self, acked_seq: int, at: str) -> None:
        """HQ's reply: it holds this terminal's events up to ``acked_seq`` (only ever from a
        reply, never assumed)."""
        with self.unit.writing():
            self.unit.conn.execute(
                "UPDATE outbox SET acked_seq = ?, last_attempt_at = ?, last_success_at = ?, "
                "last_error = NULL WHERE terminal_id = ?",
                (acked_seq, at, at, self.unit.terminal_id),
            )

    def heard_from_hq(self, at: str) -> None:
        """HQ answered (a pull): online, whatever waits to be sent."""
        self.unit.require_write("note that HQ answered")
        self.unit.conn.execute(
            "UPDATE outbox SET last_attempt_at = ?, last_success_at = ?, last_error = NULL "
            "WHERE terminal_id = ?",
            (at, at, self.unit.terminal_id),
        )

    def sync_failed(self, error: str, at: str) -> None:
        with self.unit.writing():
            self.unit.conn.execute(
                "UPDATE outbox SET last_attempt_at = ?, last_error = ? WHERE terminal_id = ?",
                (at, error, self.unit.terminal_id),
            )

    def _one(self, sql: str, args: tuple[Any, ...]) -> Event | None:
        row = self.unit.conn.execute(sql, args).fetchone()
        return from_row(row) if row else None

    def _all(self, sql: str, args: tuple[Any, ...]) -> list[Event]:
        return [from_row(row) for row in self.unit.conn.execute(sql, args)]


_DETAIL = COLUMNS.index("detail")


_SEQ, _POINTS = COLUMNS.index("seq"), COLUMNS.index("points")


def from_row(row: tuple[Any, ...]) -> Event:
    values = dict(zip(COLUMNS, row, strict=True))
    values["detail_text"] = row[_DETAIL]
    values["detail"] = _checked_detail(row)
    return Event(**values)


def _checked_detail(row: tuple[Any, ...]) -> dict[str, Any]:
    """A row's detail, read; a row no till writes (its detail not a JSON object, its points
    not a whole number) is refused as damaged."""
    try:
        detail = json.loads(row[_DETAIL])
    except (TypeError, ValueError):
        detail = None
    if not isinstance(detail, dict) or type(row[_POINTS]) is not int:
        raise StorageError(
            f"Event {row[_SEQ]} in the till database is damaged; run `pos-loyalty verify`."
        )
    return detail
