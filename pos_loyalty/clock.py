"""Time stamps as UTC ISO-8601 strings of one fixed shape, so they sort as text."""

from __future__ import annotations

import datetime as dt

UTC = dt.UTC
NEVER = "9999-12-31T23:59:59.999Z"


def utc_now() -> dt.datetime:
    return dt.datetime.now(UTC)


def iso(moment: dt.datetime) -> str:
    """``2026-11-24T07:12:03.123Z``: millisecond precision, always UTC, always this shape."""
    return (
        moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    )


def parse_iso(text: str) -> dt.datetime:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))


def add_months(moment: dt.datetime, months: int) -> dt.datetime:
    """Same day ``months`` later, clamped to the month's end (31 Jan + 1 month = 28/29 Feb)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    next_first = dt.date(year + month // 12, month % 12 + 1, 1)
    last_day = (next_first - dt.timedelta(days=1)).day
    return moment.replace(year=year, month=month, day=min(moment.day, last_day))
