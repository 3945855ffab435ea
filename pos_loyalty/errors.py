"""Errors the till can show: each message is the sentence a cashier or manager reads.

Every error has a stable ``code`` for the host POS (JSON output) and an exit status for the
command line: 2 for a refusal or bad input, 1 for anything else.
"""

from __future__ import annotations


def one_line(message: str) -> str:
    """A sentence as it is shown: on one line, without control characters, whatever of
    the input it quotes (a typed or scanned line break must not split a log line, a JSON
    reply or the screen's notice, and a broken character must not fail its printing)."""
    return "".join(ch for ch in " ".join(str(message).split()) if ch.isprintable())


class LoyaltyError(Exception):
    """Base of every error the till reports in plain words."""

    code = "error"
    exit_status = 1

    def __init__(self, message: str) -> None:
        message = one_line(message)
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class Refused(LoyaltyError):
    """The request was understood and refused, or its input is invalid (exit 2)."""

    code = "refused"
    exit_status = 2


class BadInput(Refused):
    code = "bad_input"


class ConfigError(Refused):
    code = "bad_config"


class UnknownMember(Refused):
    code = "unknown_member"


class AlreadyMember(Refused):
    code = "already_member"


class InvalidPhone(BadInput):
    code = "invalid_phone"


class BadScan(BadInput):
    code = "bad_scan"


class BadAmount(BadInput):
    code = "bad_amount"


class UnknownReward(Refused):
    code = "unknown_reward"


class UnknownCategory(Refused):
    code = "unknown_category"


class InsufficientPoints(Refused):
    code = "insufficient_points"


class OfflineCapExceeded(Refused):
    code = "offline_cap_exceeded"


class NeedsManager(Refused):
    code = "needs_manager"


class NotAllowed(Refused):
    code = "not_allowed"


class AlreadyReversed(Refused):
    code = "already_reversed"


class UnknownEvent(Refused):
    code = "unknown_event"


class SchemaTooNew(Refused):
    code = "schema_too_new"


class NoJournal(Refused):
    """No till journal where the config says (only ``init`` creates one), or a file that is
    not one."""

    code = "no_journal"


class HQReplyError(LoyaltyError):
    """HQ answered something that cannot be true; nothing of it was applied."""

    code = "bad_hq_reply"


class StorageError(LoyaltyError):
    """The journal could not be written or read (disk full, locked, corrupt)."""

    code = "storage_error"
