"""The journal's hash chain, version 1, as written down in docs/JOURNAL.md.

Each event's hash is the SHA-256 of the RFC 8785 (JSON Canonicalization Scheme) encoding of
one JSON object: the event's fields, its ``detail`` as a nested object, the hash of the event
before it, and ``"v": 1``. The first event links to a genesis hash derived from the journal's
own random id, so a reinstalled till starts a chain of its own rather than looking like a fork.

The values a journal holds are restricted so that the encoding is the same in every language:
text without lone surrogates, integers within ±(2**53 − 1), true, false, null, lists and
objects with text keys. Anything else (a float, NaN, a huge integer) is refused before it is
written, as bad input.

Journals written before version 1 keep their events and their hashes (``legacy_hash``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from typing import Any

import msgspec

from .errors import BadInput

# The standard library's string encoder (C): exactly RFC 8785's escaping with ensure_ascii off.
_encode_text = json.encoder.encode_basestring

VERSION = 1
LEGACY_GENESIS = "0" * 64
# The fields of an event, in the order they appear in the journal (the hash does not depend on
# this order: the canonical encoding sorts the keys). Frozen for version 1.
FIELDS = (
    "seq",
    "event_id",
    "store_id",
    "terminal_id",
    "kind",
    "member_id",
    "phone",
    "points",
    "amount",
    "currency",
    "ref_event_id",
    "ruleset",
    "detail",
    "staff_id",
    "created_at",
    "prev_hash",
)
SAFE_INTEGER = 2**53 - 1  # what every JSON reader, JavaScript's included, reads exactly


class NotCanonical(BadInput):
    code = "bad_input"


def canonical(value: Any) -> str:
    """``value`` in RFC 8785 canonical form: keys sorted by UTF-16 code units, no spaces,
    strings escaped only where JSON requires. Refuses what the journal may not hold."""
    text = json.dumps(_sorted(value), ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    _check_text(text)
    return text


def parse_canonical(text: str) -> Any:
    """The value of ``text`` if ``text`` is its canonical form, else ``NotCanonical``: what
    HQ checks of every event's detail. Where every key is ASCII (every detail the till
    writes), the standard library's C encoder checks it: its escaping is RFC 8785's, and for
    ASCII keys code point order is RFC 8785's order; floats, NaN and unsafe integers are
    refused while parsing. Other keys take the full canonical encoding."""
    quick = _plain_value(text)
    if quick is not _NOT_PLAIN:
        return quick
    try:
        try:
            value = json.loads(text, object_hook=_ascii_keys, **_STRICT)
            again = json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
        except _OtherKeys:
            again = canonical(json.loads(text, **_STRICT))
            value = json.loads(text)
    except ValueError:
        raise NotCanonical("The detail is not JSON.") from None
    if again != text:
        raise NotCanonical("The detail is not in its canonical form.")
    return value


# Sixteen digits in a row: text that may hold an integer beyond the safe range (or only
# looks so, inside a string).
_LONG_NUMBER = re.compile(r"[0-9]{16}")
_FROM_E000 = re.compile("[\ue000-\U0010ffff]")
_NOT_PLAIN = object()


def _no_float_here(text: str) -> Any:
    raise ValueError(text)


_PLAIN_DECODER = msgspec.json.Decoder(float_hook=_no_float_here)


def _plain_value(text: str) -> Any:
    """The value of ``text`` when it holds no float, no integer that could be unsafe and no
    character from U+E000 on, and is exactly msgspec's sorted encoding of what it reads as;
    otherwise ``_NOT_PLAIN`` and the full check decides. On such text msgspec's encoding is
    RFC 8785's: the standard library's escaping (the same for every code point), keys in
    code point order (below U+E000 that is UTF-16's), only whole numbers in the safe range.
    Any other spelling reads back differently, so it is never taken here."""
    if _LONG_NUMBER.search(text) or not (text.isascii() or not _FROM_E000.search(text)):
        return _NOT_PLAIN
    try:
        value = _PLAIN_DECODER.decode(text)
        again = msgspec.json.encode(value, order="sorted")
        same = again == text.encode("utf-8")
    except (msgspec.DecodeError, UnicodeEncodeError):  # ValidationError: a float
        return _NOT_PLAIN
    return value if same else _NOT_PLAIN


class _OtherKeys(Exception):
    """A key beyond ASCII: the full canonical encoding decides."""


def _ascii_keys(obj: dict[str, Any]) -> dict[str, Any]:
    if not all(key.isascii() for key in obj):
        raise _OtherKeys
    return obj


def _no_float(text: str) -> Any:
    raise NotCanonical(f"{text} is not a whole number; the journal holds whole numbers.")


def _safe_int(text: str) -> int:
    value = int(text)
    if -SAFE_INTEGER <= value <= SAFE_INTEGER:
        return value
    raise NotCanonical(f"The number {text[:24]} is too large to be recorded.")


_STRICT: dict[str, Any] = {
    "parse_float": _no_float,
    "parse_int": _safe_int,
    "parse_constant": _no_float,
}


def _check_text(text: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise NotCanonical(
            "Text with a broken character (a lone surrogate) cannot be recorded; retype it."
        ) from None


def _sorted(value: Any) -> Any:
    kind = type(value)
    if kind is str or value is None or kind is bool:
        return value
    if kind is int:
        if -SAFE_INTEGER <= value <= SAFE_INTEGER:
            return value
        raise NotCanonical(f"The number {value} is too large to be recorded.")
    if kind is float:
        raise NotCanonical(f"{value!r} is not a whole number; the journal holds whole numbers.")
    if isinstance(value, Mapping):
        if not all(type(k) is str for k in value):
            raise NotCanonical("Only text can name a value in the journal.")
        return {k: _sorted(value[k]) for k in sorted(value, key=_utf16)}
    if kind is list or kind is tuple:
        return [_sorted(v) for v in value]
    raise NotCanonical(f"A {kind.__name__} cannot be recorded in the journal.")


def _utf16(key: str) -> bytes:
    # RFC 8785 orders keys by UTF-16 code units; below U+D800 that is code point order.
    return key.encode("utf-16-be", "surrogatepass")


def genesis(journal_id: str, store_id: str, terminal_id: str) -> str:
    """The hash the first event of a version-1 journal links to."""
    body = {"journal_id": journal_id, "store_id": store_id, "terminal_id": terminal_id, "v": 1}
    return _sha256(canonical(body))


_ENVELOPE = sorted((*FIELDS, "v"))  # all ASCII: this is the canonical key order


def hash_input(fields: Mapping[str, Any], detail_text: str | None = None) -> str:
    """The canonical text that is hashed for one event: ``fields`` holds every name in
    ``FIELDS``, with ``detail`` as an object; ``detail_text``, if given, is that object's
    canonical text already (the journal stores it, so it is encoded once)."""
    values = {**fields, "v": VERSION}
    parts = []
    for name in _ENVELOPE:
        if name == "detail":
            text = canonical(fields["detail"]) if detail_text is None else detail_text
        else:
            text = _scalar(values[name])
        parts.append(f'"{name}":{text}')
    envelope = "{" + ",".join(parts) + "}"
    _check_text(envelope)
    return envelope


def _scalar(value: Any) -> str:
    """One of the envelope's fields (text, a whole number or null), canonically."""
    kind = type(value)
    if kind is str:
        return _encode_text(value)
    if value is None:
        return "null"
    if kind is int and -SAFE_INTEGER <= value <= SAFE_INTEGER:
        return str(value)
    return canonical(value)  # anything else: refused there, in words


def event_hash(fields: Mapping[str, Any], detail_text: str | None = None) -> str:
    quick = None if detail_text is None else _plain_envelope(fields, detail_text)
    if quick is not None:
        return hashlib.sha256(quick).hexdigest()
    return _sha256(hash_input(fields, detail_text))


def _plain_envelope(fields: Mapping[str, Any], detail_text: str) -> bytes | None:
    """``hash_input``'s bytes from msgspec's encoder, when every field is text, null or a
    safe whole number (every event a till writes): its escaping is the standard library's
    and the envelope's keys are ASCII. None where the full encoding must decide."""
    values: dict[str, Any] = {"v": VERSION}
    for name in FIELDS:
        value = fields[name]
        kind = type(value)
        if kind is int:
            if not -SAFE_INTEGER <= value <= SAFE_INTEGER:
                return None
        elif kind is not str and value is not None and name != "detail":
            return None
        values[name] = value
    try:
        values["detail"] = msgspec.Raw(detail_text.encode("utf-8"))
        return msgspec.json.encode(values, order="sorted")
    except UnicodeEncodeError:  # a lone surrogate: the full encoding refuses it, in words
        return None


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


# -- before version 1 ---------------------------------------------------------------------------


def legacy_hash(row: Mapping[str, Any]) -> str:
    """How journals written before version 1 hashed an event: a JSON list of the columns in
    table order, ``detail`` as the text it was stored as, every chain from 64 zeros."""
    payload = json.dumps([row[c] for c in FIELDS], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(payload.encode("utf-8", "surrogatepass")).hexdigest()
