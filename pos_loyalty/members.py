"""Member identity: random member ids, the checked member code, and phone numbers.

A member code is ``M1`` (kind and version) + a 16-character member id + one check character,
all in Crockford base-32, e.g. ``M1K8Q3ZT0B7N4XW2HC5`` (printed grouped as
``M1-K8Q3-ZT0B-7N4X-W2HC-5``). The check is Damm's algorithm over GF(32) (the quasigroup
``x∗y = 2x + y``, which is totally anti-symmetric), so every single mistyped character and
every swap of two neighbours is rejected rather than matched to someone else. (Luhn mod 32
would miss a swap of 0 and Z.)
"""

from __future__ import annotations

import functools
import re
import secrets
import unicodedata

from .errors import BadScan, InvalidPhone

ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford base-32: no I, L, O, U
_VALUE = {ch: i for i, ch in enumerate(ALPHABET)}
_LOOKALIKES = str.maketrans({"O": "0", "I": "1", "L": "1"})
PREFIX = "M"
VERSION = "1"
ID_LENGTH = 16  # 80 random bits
CODE_LENGTH = len(PREFIX) + len(VERSION) + ID_LENGTH + 1
_SEPARATORS = re.compile(r"[\s\-]")
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")


def new_member_id() -> str:
    """A random, unguessable member id (80 bits)."""
    return "".join(secrets.choice(ALPHABET) for _ in range(ID_LENGTH))


def _times_two(x: int) -> int:
    """2·x in GF(32) with the field polynomial x⁵ + x² + 1."""
    x <<= 1
    return (x ^ 0b100101) if x & 0b100000 else x


def _damm(payload: str) -> int:
    interim = 0
    for ch in payload:
        interim = _times_two(interim) ^ _VALUE[ch]
    return interim


def _check_char(payload: str) -> str:
    """The character that brings the Damm fold of ``payload`` + it to zero."""
    return ALPHABET[_times_two(_damm(payload))]


def member_code(member_id: str) -> str:
    """The scannable code for a member id."""
    return f"{PREFIX}{VERSION}{member_id}{_check_char(VERSION + member_id)}"


def display_code(code: str) -> str:
    """The code grouped for people to read and type: M1-XXXX-XXXX-XXXX-XXXX-C."""
    body = code[2:-1]
    groups = [body[i : i + 4] for i in range(0, len(body), 4)]
    return "-".join([code[:2], *groups, code[-1]])


def parse_member_code(text: str) -> str:
    """The member id carried by a scanned or typed member code; BadScan if it is not one."""
    cleaned = _SEPARATORS.sub("", text.strip()).upper().translate(_LOOKALIKES)
    if not cleaned.startswith(PREFIX):
        raise BadScan("That is not a member code.")
    if len(cleaned) >= 2 and cleaned[1] != VERSION:
        raise BadScan("That member code is from an unsupported version; ask for a new card.")
    if len(cleaned) != CODE_LENGTH or any(ch not in _VALUE for ch in cleaned[1:]):
        raise BadScan("That member code is incomplete or misread; scan or type it again.")
    payload = cleaned[1:-1]
    if _damm(cleaned[1:]) != 0:
        raise BadScan("That member code does not check out; scan or type it again.")
    return payload[1:]


def normalise_phone(raw: str, region: str) -> str:
    """E.164 form of a phone number written in any common local or international format."""
    if not isinstance(raw, str):
        raise InvalidPhone("A phone number is text, like 06 1234 5678.")
    return _normalised(raw, region)


@functools.lru_cache(maxsize=4096)  # pure, and a till sees the same customers again
def _normalised(raw: str, region: str) -> str:
    import phonenumbers  # imported here: only commands that take a phone pay for it

    text = raw.strip()
    shown = _as_typed(text)
    if not text or len(text) > 32:
        raise InvalidPhone(f"{shown} is not a phone number.")
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is not None and number.extension:  # E.164 has none: two customers would merge
        ending = str(number.national_number)[-3:]
        raise InvalidPhone(f"The number ending in {ending} has an extension; leave it out.")
    if any(ch.isalpha() for ch in text):  # phonenumbers reads letters as keypad digits
        raise InvalidPhone(f"{shown} has letters in it; a phone number is digits only.")
    if number is None:
        raise InvalidPhone(f"{shown} is not a phone number.")
    if not phonenumbers.is_valid_number(number):
        raise InvalidPhone(f"{shown} is not a valid phone number for region {region}.")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def is_e164(text: str) -> bool:
    """Whether ``text`` is a valid phone number written as ``normalise_phone`` writes it."""
    if not (isinstance(text, str) and _E164.fullmatch(text)):
        return False
    return _is_valid_e164(text)


@functools.lru_cache(maxsize=4096)
def _is_valid_e164(text: str) -> bool:
    import phonenumbers

    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        return False
    return phonenumbers.is_valid_number(number) and (
        phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164) == text
    )


def _as_typed(text: str) -> str:
    """How an error names what was typed: never a whole phone number (messages end up in
    logs), in whatever script its digits were typed, never a control character."""
    digits = [str(unicodedata.digit(ch)) for ch in text if ch.isdigit() and _is_digit(ch)]
    if len(digits) >= 4:
        return f"The number ending in {''.join(digits[-3:])}"
    if digits:
        return "That short number"
    shown = "".join(ch for ch in text if ch.isprintable())[:20]
    return f"“{shown}”"


def _is_digit(ch: str) -> bool:
    return unicodedata.digit(ch, None) is not None


def mask_phone(e164: str | None) -> str:
    """A phone number safe to write to logs and slips: only the last three digits."""
    if not e164:
        return ""
    return "•" * max(0, len(e164) - 3) + e164[-3:]
