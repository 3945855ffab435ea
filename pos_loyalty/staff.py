"""Cashier and manager PINs, stored only as slow scrypt hashes."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass

from .errors import BadInput, NotAllowed

ROLES = ("cashier", "manager")
# scrypt cost: about 40 ms per check here: a stolen journal's 4-digit PINs fall in minutes,
# 6-digit ones in hours; PINs guard the till's roles, HQ credentials guard the data.
_N, _R, _P = 2**14, 8, 1
DUMMY_PIN_HASH = "scrypt$16384$8$1$" + "00" * 16 + "$" + "00" * 32  # matches no PIN


@dataclass(frozen=True)
class Staff:
    staff_id: str
    name: str
    role: str

    @property
    def is_manager(self) -> bool:
        return self.role == "manager"


def check_staff_id(staff_id: str, what: str = "staff") -> None:
    """Ids go into the journal for good: short, plain, no terminal control characters."""
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,31}", staff_id):
        raise BadInput(f"A {what} id is 1 to 32 letters, digits, dot, dash or underscore.")


def check_new_pin(pin: str) -> None:
    if not re.fullmatch(r"[0-9]{4,12}", pin):
        raise BadInput("A PIN is 4 to 12 digits.")


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
    candidate = hashlib.scrypt(
        pin.encode(), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return hmac.compare_digest(candidate.hex(), digest)


def wrong_pin(staff_id: str) -> NotAllowed:
    # One sentence for unknown staff and wrong PIN alike, so ids cannot be probed.
    shown = staff_id if staff_id.isprintable() and len(staff_id) <= 32 else "(that id)"
    return NotAllowed(f"Staff {shown} and that PIN do not match.")
