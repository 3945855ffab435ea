"""What an event of each kind may be, whoever writes or reads it: the till checks every event
it writes against these rules and HQ every event it is sent, so an event a till could never
have written (an earn of negative points, an adjustment no manager approved, a kind no till
knows) is refused in the same words at both ends, and never reaches an account.

``problem`` is pure: the event's fields, its detail as parsed, and the program that was in
force (None where the reader does not know it; then the checks that need it are skipped).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any, Literal, Protocol

from ..config import ID_PATTERN
from ..members import ALPHABET, ID_LENGTH, is_e164
from ..money import MAX_MINOR
from .points import MAX_POINTS
from .program import Program

Sign = Literal[
    "zero", "positive", "not_negative", "not_positive", "negative", "not_zero", "reversal"
]

# Every kind a till writes, and the sign its points take. (``expire`` is HQ's own: it writes
# it itself, so a till sending one is refused as for any unknown kind.)
KINDS: Mapping[str, Sign] = {
    "enroll": "zero",
    "welcome_bonus": "positive",
    "referral_bonus": "positive",
    "earn": "not_negative",  # a sale too small to earn a point is still recorded
    "redeem": "negative",
    "donate": "negative",
    "adjust": "not_zero",
    "reverse": "reversal",  # a refund takes points back, a cancel gives them back
    "membership": "zero",
}
# What a reversal reverses, and the sign its points take.
REVERSIBLE: Mapping[str, Sign] = {"earn": "negative", "redeem": "positive", "donate": "positive"}
_WITH_AMOUNT = {"earn", "membership", "reverse"}  # money changed hands: the sale, fee, refund
_MEMBER_ID = re.compile(f"[{re.escape(ALPHABET)}]{{{ID_LENGTH}}}")
_STAFF_ID = re.compile(ID_PATTERN)


class Shape(Protocol):
    """The fields of an event these rules read: a journal event and a wire event have them."""

    @property
    def kind(self) -> str: ...
    @property
    def member_id(self) -> str | None: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def points(self) -> int: ...
    @property
    def amount(self) -> int | None: ...
    @property
    def ref_event_id(self) -> str | None: ...


def problem(event: Shape, detail: Mapping[str, Any], program: Program | None) -> str | None:
    """What is wrong with ``event``, as words that follow "Event #12 " (or None)."""
    kind = event.kind
    sign = KINDS.get(kind)
    if sign is None:
        return f"is of a kind no till writes (“{kind[:32]}”)"
    return (
        _who(event)
        or _points(event, sign, detail)
        or _amount(event)
        or _approval(event, detail, program)
    )


def _who(event: Shape) -> str | None:
    member_id, phone = event.member_id, event.phone
    if member_id is None and phone is None:
        return "names neither a member nor a phone"
    if member_id is not None and not _MEMBER_ID.fullmatch(member_id):
        return "names a member id that no till gives (16 letters and digits)"
    if phone is not None and not is_e164(phone):
        return "names a phone that is not a valid phone number in E.164"
    if event.kind == "enroll" and (member_id is None or phone is None):
        return "enrols without a member id and a phone"
    return None


def _points(event: Shape, sign: Sign, detail: Mapping[str, Any]) -> str | None:
    points, kind = event.points, event.kind
    if abs(points) > MAX_POINTS:
        return f"moves {points} points, beyond the {MAX_POINTS} one event may"
    if sign == "reversal":
        reverses = detail.get("reverses")
        if not event.ref_event_id:
            return "reverses no event (it has no ref_event_id)"
        if not isinstance(reverses, str) or reverses not in REVERSIBLE:
            return "reverses a kind that cannot be reversed"
        sign = "not_negative" if REVERSIBLE[reverses] == "positive" else "not_positive"
        kind = "refund" if reverses == "earn" else "cancellation"
    fits, rule = _SIGNS[sign]
    if not fits(points):
        return f"is {_a(kind)} of {points:+d} points; {_a(kind)}'s points {rule}"
    return None


_SIGNS: Mapping[Sign, tuple[Callable[[int], bool], str]] = {
    "zero": (lambda p: p == 0, "are always 0"),
    "positive": (lambda p: p > 0, "are always above 0"),
    "not_negative": (lambda p: p >= 0, "are never below 0"),
    "not_positive": (lambda p: p <= 0, "are never above 0"),
    "negative": (lambda p: p < 0, "are always below 0"),
    "not_zero": (lambda p: p != 0, "are never 0"),
}


def _amount(event: Shape) -> str | None:
    amount = event.amount
    if amount is None:
        return "is a sale without its amount" if event.kind == "earn" else None
    if event.kind not in _WITH_AMOUNT:
        return f"is {_a(event.kind)} with an amount of money, which {_a(event.kind)} never has"
    if not 0 <= amount <= MAX_MINOR:
        return f"has an amount of {amount} minor units, beyond 0 to {MAX_MINOR}"
    return None


def _approval(event: Shape, detail: Mapping[str, Any], program: Program | None) -> str | None:
    """A manager's approval, where a till asks for one: always for an adjustment; beyond the
    program's limits for a sale or a reversal (only where the program is known)."""
    approver = detail.get("approved_by")
    if isinstance(approver, str) and _STAFF_ID.match(approver):
        return None
    if event.kind == "adjust":
        return "adjusts points without the id of the manager who approved it"
    if program is None:
        return None
    size = abs(event.points)
    if event.kind == "reverse" and size > program.reversal_manager_limit:
        return (
            f"reverses {size} points, above the {program.reversal_manager_limit}-point limit, "
            "without the id of the manager who approved it"
        )
    if event.kind == "earn" and 0 < program.earn_manager_limit < size:
        return (
            f"earns {size} points, above the {program.earn_manager_limit}-point limit, "
            "without the id of the manager who approved it"
        )
    return None


def _a(kind: str) -> str:
    noun = {"enroll": "enrolment", "earn": "sale", "redeem": "redemption", "reverse": "reversal"}
    word = noun.get(kind, kind.replace("_", " "))
    return f"an {word}" if word[0] in "aeiou" else f"a {word}"
