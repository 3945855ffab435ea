"""Cashiers and managers: PINs stored only as slow scrypt hashes, signing in, and the sessions
that record who did what.

A ``StaffSession`` is what signing in yields, and only the till's ``Roster`` makes one: the
roster remembers every session it issued, so one built by hand (or issued by another till)
approves nothing. Wrong PINs are counted in the write transaction *before* the PIN is checked,
so any number of attempts in parallel get no more tries than attempts one after another.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import re
import secrets
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from .clock import iso
from .errors import BadInput, NeedsManager, NotAllowed
from .journal import Journal, StaffRecord

ROLES = ("cashier", "manager")
# scrypt cost: about 40 ms per check here: a stolen journal's 4-digit PINs fall in minutes,
# 6-digit ones in hours; PINs guard the till's roles, HQ credentials guard the data.
_N, _R, _P = 2**14, 8, 1
DUMMY_PIN_HASH = "scrypt$16384$8$1$" + "00" * 16 + "$" + "00" * 32  # matches no PIN
PIN_TRIES, PIN_LOCK = 5, dt.timedelta(minutes=5)  # wrong PINs in a row, then a pause
MAX_NAME = 80
_STAFF_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}")
_PIN = re.compile(r"[0-9]{4,12}")


class StaffSession:
    """A member of staff signed in at one till. Made only by ``Roster.sign_in``; read-only.

    What it says is only a label: the roster that issued it keeps who really signed in, so a
    session whose attributes were changed afterwards still speaks for that person only."""

    __slots__ = ("__weakref__", "name", "role", "signed_in_at", "staff_id")
    staff_id: str
    name: str
    role: str
    signed_in_at: str

    def __init__(self, staff_id: str, name: str, role: str, signed_in_at: str) -> None:
        set_ = object.__setattr__
        set_(self, "staff_id", staff_id)
        set_(self, "name", name)
        set_(self, "role", role)
        set_(self, "signed_in_at", signed_in_at)

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError("a staff session cannot be changed; sign in again")

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"

    def __repr__(self) -> str:
        return f"StaffSession({self.staff_id!r}, {self.role})"


@dataclass(frozen=True)
class SignedIn:
    """Who signed in with a session, as the roster recorded it when it issued the session."""

    session: weakref.ref[StaffSession]
    staff_id: str
    name: str
    role: str
    pin_hash: str  # the PIN it was signed in with: a new PIN ends the session


class Roster:
    """The till's staff: adding them, signing them in, and checking the sessions it issued."""

    def __init__(
        self, journal: Journal, clock: Callable[[], dt.datetime], local_time: Callable[[str], str]
    ) -> None:
        self.journal = journal
        self.clock = clock
        self.local_time = local_time
        # By the session's identity, never its equality: only the very object issued counts.
        self._issued: dict[int, SignedIn] = {}

    def sign_in(self, staff_id: str, pin: str, *, manager: bool = False) -> StaffSession:
        """A session for ``staff_id`` if ``pin`` is theirs. Unknown ids and wrong PINs get the
        same sentence, cost the same scrypt and lock alike, so ids cannot be probed."""
        if not isinstance(staff_id, str) or not _STAFF_ID.fullmatch(staff_id):
            raise wrong_pin(str(staff_id))
        if not isinstance(pin, str) or not _PIN.fullmatch(pin):
            raise BadInput("A PIN is 4 to 12 digits.")  # a typo, not a guess: not counted
        store, now = self.journal.staff, self.clock()
        with self.journal.writing():
            attempts = store.attempts(staff_id)
            if attempts.locked_until and attempts.locked_until > iso(now):
                raise self._locked(staff_id, attempts.locked_until)
            if attempts.failed >= PIN_TRIES:  # the tries are used up by attempts in flight
                store.lock(staff_id, iso(now + PIN_LOCK))
                raise self._locked(staff_id, iso(now + PIN_LOCK))
            store.count_attempt(staff_id, iso(now))
            store.forget_stale_attempts(iso(now - dt.timedelta(days=1)))
            record = store.get(staff_id)
            if record is None and store.count() == 0:  # a new till: no ids to probe
                raise NotAllowed(
                    "No staff are set up on this till yet: add a manager with "
                    "`pos-loyalty staff add M1 --role manager --name NAME`."
                )
        matched = pin_matches(pin, record.pin_hash if record else DUMMY_PIN_HASH)
        with self.journal.writing():
            if matched and record is not None:
                store.clear_attempts(staff_id)
            elif store.attempts(staff_id).failed >= PIN_TRIES:
                store.lock(staff_id, iso(now + PIN_LOCK))
        if not matched or record is None:
            raise wrong_pin(staff_id)
        if manager and record.role != "manager":
            raise NotAllowed(f"{record.name} is not a manager.")
        session = StaffSession(record.staff_id, record.name, record.role, iso(now))
        self._forget_dead()
        key = id(session)
        self._issued[key] = SignedIn(
            weakref.ref(session), record.staff_id, record.name, record.role, record.pin_hash
        )
        return session

    def sign_out(self, session: StaffSession) -> None:
        issued = self._issued.get(id(session))
        if issued is not None and issued.session() is session:
            del self._issued[id(session)]

    def check(self, session: object, *, manager: bool = False) -> SignedIn:
        """Who signed in with ``session``, if this till issued that very object and it still
        holds (the staff member was not removed or demoted since); otherwise a refusal."""
        issued = self._issued.get(id(session))
        if type(session) is not StaffSession or issued is None or issued.session() is not session:
            raise NotAllowed("That sign-in was not made at this till; sign in with your PIN.")
        record = self.journal.staff.get(issued.staff_id)
        if record is None or (record.role, record.pin_hash) != (issued.role, issued.pin_hash):
            del self._issued[id(session)]
            raise NotAllowed(f"{issued.name}'s sign-in no longer holds; sign in again.")
        if manager and issued.role != "manager":
            raise NeedsManager(f"{issued.name} is not a manager; a manager must approve this.")
        return issued

    def _forget_dead(self) -> None:
        for key in [k for k, issued in self._issued.items() if issued.session() is None]:
            del self._issued[key]

    def add(
        self,
        staff_id: str,
        *,
        pin: str,
        name: str | None = None,
        role: str | None = None,
        approval: object = None,
    ) -> StaffRecord:
        """Add staff, or change a PIN (and the name or role, when given: otherwise they stay).
        Only the till's very first staff member, a manager, is added without a manager's
        approval, and the till always keeps a manager, so there is never an open door."""
        if role is not None and role not in ROLES:
            raise BadInput(f"A role is one of: {', '.join(ROLES)}.")
        check_staff_id(staff_id)
        check_new_pin(pin)
        display = clean_name(name)
        pin_hash = hash_pin(pin)  # slow: before the write lock, not inside it
        with self.journal.writing():
            store = self.journal.staff
            existing = store.get(staff_id)
            new_role = role or (existing.role if existing else "cashier")
            if approval is not None:
                self.check(approval, manager=True)
            elif store.count():
                raise NeedsManager("Adding or changing staff needs a manager's approval.")
            elif new_role != "manager":
                raise NeedsManager(
                    "The till's first staff member must be a manager (--role manager)."
                )
            demoted = existing and existing.role == "manager" and new_role != "manager"
            if existing and demoted and store.count(role="manager") == 1:
                raise NotAllowed(
                    f"{existing.name} is the till's only manager; add another manager first."
                )
            saved = StaffRecord(
                staff_id, display or (existing.name if existing else staff_id), new_role, pin_hash
            )
            store.save(saved.staff_id, saved.name, saved.role, saved.pin_hash)
            return saved

    def _locked(self, staff_id: str, until: str) -> NotAllowed:
        return NotAllowed(
            f"Too many wrong PINs: staff {staff_id} is locked until {self.local_time(until)[11:]}."
        )


def check_staff_id(staff_id: object, what: str = "staff") -> None:
    """Ids go into the journal for good: short, plain, no terminal control characters."""
    if not isinstance(staff_id, str) or not _STAFF_ID.fullmatch(staff_id):
        raise BadInput(f"A {what} id is 1 to 32 letters, digits, dot, dash or underscore.")


def check_new_pin(pin: str) -> None:
    if not isinstance(pin, str) or not _PIN.fullmatch(pin):
        raise BadInput("A PIN is 4 to 12 digits.")


def clean_name(name: str | None) -> str | None:
    """A person's name as typed, spaces tidied; refused if it cannot be printed or stored."""
    return one_line(name, "name", MAX_NAME) or None


def one_line(text: object, what: str, most: int) -> str:
    """Text for a slip or a record: runs of spaces, tabs and line breaks become one space;
    other control characters, broken characters and text longer than ``most`` are refused
    (never cut short or changed behind the cashier's back)."""
    if text is None:
        return ""
    if not isinstance(text, str):
        raise BadInput(f"A {what} is text.")
    line = check_text(" ".join(text.split()), f"The {what}")
    if not line.isprintable():
        raise BadInput(f"A {what} cannot contain control characters.")
    if len(line) > most:
        raise BadInput(f"A {what} is at most {most} characters.")
    return line


def check_text(text: str, what: str) -> str:
    """Text that will be recorded: a lone surrogate (what a broken byte becomes on the
    command line) is refused here, in words, rather than by the journal's encoder."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise BadInput(f"{what} has a character that is not valid text; retype it.") from None
    return text


def hash_pin(pin: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${_N}${_R}${_P}${salt.hex()}${digest.hex()}"


def pin_matches(pin: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
    except ValueError:
        return False
    if scheme != "scrypt":
        return False
    try:
        secret = pin.encode()
    except UnicodeEncodeError:
        secret = b""  # a broken character in a PIN: still checked, so it costs the same
    candidate = hashlib.scrypt(
        secret, salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(candidate.hex(), digest) and bool(secret)


def wrong_pin(staff_id: str) -> NotAllowed:
    # One sentence for unknown staff and wrong PIN alike, so ids cannot be probed.
    shown = staff_id if staff_id.isprintable() and len(staff_id) <= 32 else "(that id)"
    return NotAllowed(f"Staff {shown} and that PIN do not match.")
