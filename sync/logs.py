"""Log lines that name no one. HQ's routes and the till's requests carry phone numbers in
their paths (``/v1/phones/+31612345678``), and a log outlives the screen and leaves the
store: every phone in a log record is masked, as on a slip, before any handler sees it."""

from __future__ import annotations

import logging
import re

from pos_loyalty.members import mask_phone

# E.164 as written and as percent-encoded in a URL.
_PHONE = re.compile(r"(?:\+|%2[Bb])(\d{7,15})")

# The loggers that write request paths: uvicorn's access log, HQ's own, and httpx's request
# lines, which a host POS logging at INFO would otherwise keep.
LOGGERS = ("uvicorn.access", "uvicorn.error", "pos_loyalty.hq", "httpx")


def masked(text: str) -> str:
    """``text`` with every phone number in it masked to its last three digits."""
    return _PHONE.sub(lambda m: mask_phone("+" + m.group(1)), text)


class MaskPhones(logging.Filter):
    """Masks the message and every argument of a record (uvicorn's access formatter reads
    its arguments one by one, so they stay a tuple of the same length)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.msg, str):
            record.msg = masked(record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(_masked_arg(a) for a in record.args)
        elif isinstance(record.args, dict):
            record.args = {k: _masked_arg(v) for k, v in record.args.items()}
        return True


def _masked_arg(value: object) -> object:
    if isinstance(value, (int, float)) or value is None:
        return value
    text = str(value)
    clean = masked(text)
    return value if clean == text else clean


_FILTER = MaskPhones()


def mask_phones_in_logs() -> None:
    """Puts the mask on every logger that writes request paths; doing it again adds none."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if _FILTER not in logger.filters:
            logger.addFilter(_FILTER)
