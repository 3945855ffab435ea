"""Proof 4: whatever arrives from outside (scanner frames, member codes and phones typed or
scanned, amounts, config files, command lines, printer byte streams, bodies and paths sent to
HQ) either works or is told in one clear sentence: the project's own error, on one line,
never a traceback and never a 500. POS_LOYALTY_EXAMPLES sets the examples per property."""

from __future__ import annotations

import contextlib
import io
import json
import re
import signal
from pathlib import Path
from urllib.parse import quote

import httpx
import msgspec
import pytest
from conftest import config_text
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from drivers.escpos_parse import parse_job
from drivers.receipt_render import render_text
from drivers.scanner import ScannerSettings, ScanStream, classify
from pos_loyalty import config as config_mod
from pos_loyalty.cli import main
from pos_loyalty.errors import LoyaltyError
from pos_loyalty.members import normalise_phone, parse_member_code
from pos_loyalty.money import parse_amount
from pos_loyalty.service import MemberRef
from sync.daemon import wire_batch
from sync.protocol import API, PushRequest

from .conftest import size

EXAMPLES = size("POS_LOYALTY_EXAMPLES", 100)
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


def clear(message: str) -> None:
    """One sentence a person can read: there, on one line, no Python showing through."""
    assert message.strip() and "\n" not in message and "\r" not in message, repr(message)
    assert "Traceback" not in message and "Error:" not in message, message
    assert all(ch.isprintable() for ch in message), repr(message)


def works_or_says(fn, *args) -> None:
    try:
        fn(*args)
    except LoyaltyError as exc:
        clear(exc.message)


typed = st.text(max_size=40) | st.from_regex(r"[0-9 +\-.,()]{0,20}", fullmatch=True)


@FUZZ
@given(typed)
@example("12\n40")
@example("-\n1")
@example("1.2.3\u2028")
def test_amounts_typed(text):
    works_or_says(parse_amount, text, "EUR")
    works_or_says(parse_amount, text, "JPY")


@FUZZ
@given(typed)
@example("06 1234\n5678")
@example("\ud800")
def test_phones_typed(text):
    works_or_says(normalise_phone, text, "NL")
    works_or_says(normalise_phone, text, "US")


@FUZZ
@given(typed | st.from_regex(r"[0-9A-Z\-]{10,24}", fullmatch=True))
@example("]Q1\x00")
def test_member_codes_typed_or_scanned(text):
    works_or_says(parse_member_code, text)
    works_or_says(classify, text)


@FUZZ
@given(
    st.lists(st.binary(max_size=80) | st.sampled_from([b"\r\n", b"\n", b"]Q1", b"\xff"])),
    st.sampled_from(["off", "optional", "required"]),
)
def test_scanner_frames(chunks, aim):
    stream = ScanStream(ScannerSettings(aim=aim, max_frame=64))
    for chunk in chunks:
        for scan in stream.feed(chunk):
            if scan.ok:
                works_or_says(classify, scan)
            else:
                clear(scan.error or "")


@FUZZ
@given(st.binary(max_size=600))
@example(b"\x1d(k\xff\xff1P0")  # a QR store command claiming 64 KiB
@example(b"\x1dv0\x00\xff\xff\xff\xff")  # a raster image of 65535 × 65535
def test_printer_byte_streams(data):
    render_text(parse_job(data))  # parse_job never raises; what it parsed renders


EXAMPLE_LINES = config_mod.EXAMPLE.read_text().splitlines()
KEYED = [i for i, line in enumerate(EXAMPLE_LINES) if re.match(r"^[a-z_]+\s*=", line)]
TOML_VALUES = st.one_of(
    st.text(max_size=30).map(json.dumps),
    st.integers(min_value=-(2**70), max_value=2**70).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["true", "[]", "{}", "nan", "inf", "[1, 2]", '["a"]', "{ a = 1 }", '""']),
)


@FUZZ
@given(st.sampled_from(KEYED), TOML_VALUES)
@example(KEYED[0], '"a\\nb"')
def test_config_values(line, value):
    key = EXAMPLE_LINES[line].split("=")[0].strip()
    text = "\n".join(x if i != line else f"{key} = {value}" for i, x in enumerate(EXAMPLE_LINES))
    works_or_says(config_mod.parse, text.encode(), "pos-loyalty.toml")


@FUZZ
@given(st.binary(max_size=300) | st.text(max_size=300).map(str.encode))
def test_config_files(raw):
    works_or_says(config_mod.parse, raw, "pos-loyalty.toml")


COMMANDS = [
    "lookup",
    "earn",
    "redeem",
    "donate",
    "reverse",
    "adjust",
    "enroll",
    "queue",
    "verify",
    "report",
    "staff",
    "membership",
    "init",
    "--help",
]
OPTIONS = [
    "--phone",
    "--code",
    "--amount",
    "--points",
    "--line",
    "--reward",
    "--charity",
    "--json",
    "--cashier",
    "--manager",
    "--day",
    "--reason",
    "--name",
    "--event",
]
ARGUMENT = st.one_of(
    st.sampled_from(COMMANDS),
    st.sampled_from(OPTIONS),
    st.text(max_size=12),
    st.sampled_from(["0612345678", "12.40", "-1", "1e9", "T1-1", "9" * 30, "a=1", "\n"]),
)


@pytest.fixture
def till_config(tmp_path: Path) -> Path:
    path = tmp_path / "pos-loyalty.toml"
    path.write_text(config_text())
    interrupt = signal.getsignal(signal.SIGINT)
    with contextlib.redirect_stdout(io.StringIO()):
        assert main(["init", "--config", str(path)]) == 0
        assert main(["enroll", "--phone", "0612345678", "--config", str(path)]) == 0
    signal.signal(signal.SIGINT, interrupt)
    return path


@FUZZ
@given(st.lists(ARGUMENT, max_size=6))
@example(["earn", "--phone", "0612345678", "--amount", "1\n2"])
@example(["lookup", "--code", "\ud800"])
def test_command_lines(till_config, argv):
    out, err = io.StringIO(), io.StringIO()
    # A command that gave its result ignores Ctrl-C until its process ends; this process goes
    # on (and the processes it starts would inherit the ignoring).
    interrupt = signal.getsignal(signal.SIGINT)
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main([*argv, "--config", str(till_config)])
        except SystemExit as done:  # --help
            status = done.code
        finally:
            signal.signal(signal.SIGINT, interrupt)
    assert status in (0, 1, 2), (argv, status, err.getvalue())
    if status:
        said = err.getvalue() or out.getvalue()
        clear(said.removesuffix("\n"))
        assert "Something went wrong" not in said, said


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)


def replaced(doc, path: list[int], value):
    """``doc`` with the node ``path`` leads to (each step an index into a node's children)
    replaced by ``value``."""
    if not path:
        return value
    if isinstance(doc, dict) and doc:
        keys = sorted(doc)
        key = keys[path[0] % len(keys)]
        return {**doc, key: replaced(doc[key], path[1:], value)}
    if isinstance(doc, list) and doc:
        at = path[0] % len(doc)
        return [*doc[:at], replaced(doc[at], path[1:], value), *doc[at + 1 :]]
    return value


def answered(reply: httpx.Response) -> None:
    assert reply.status_code < 500, reply.text
    if reply.status_code >= 400:
        error = reply.json()["error"]
        assert isinstance(error["code"], str)
        clear(error["message"])


@pytest.fixture
def pushing(make_synced_till):
    till, token = make_synced_till()
    member = till.enroll("0612345678").member
    till.earn(MemberRef(member_id=member.member_id), amount=2500)
    journal = till.journal
    push = PushRequest(
        journal.store_id, journal.terminal_id, journal.journal_id, wire_batch(journal, 0, 50)
    )
    return json.loads(msgspec.json.encode(push)), {"authorization": f"Bearer {token}"}


@FUZZ
@given(st.lists(st.integers(min_value=0, max_value=50), max_size=5), JSON)
def test_push_bodies(hq, pushing, path, value):
    valid, auth = pushing
    body = json.dumps(replaced(valid, path, value)).encode()
    before = hq.store.event_count()
    reply = httpx.post(
        f"{hq.base}{API}/push", content=body, headers={**auth, "content-type": "application/json"}
    )
    answered(reply)
    if reply.status_code >= 400:
        assert hq.store.event_count() == before


@FUZZ
@given(st.binary(max_size=200))
def test_push_bytes(hq, pushing, body):
    _, auth = pushing
    reply = httpx.post(
        f"{hq.base}{API}/push", content=body, headers={**auth, "content-type": "application/json"}
    )
    answered(reply)
    assert reply.status_code == 400  # bytes at random are never a push


ROUTES = ["members/{}", "phones/{}", "events/{}", "terminals/{}/events/{}", "members", "totals"]


@FUZZ
@given(
    st.sampled_from(ROUTES),
    st.lists(st.text(min_size=1, max_size=20), min_size=2, max_size=2),
    st.dictionaries(
        st.sampled_from(["since", "until", "limit", "scope", "x"]), st.text(max_size=20), max_size=3
    ),
)
def test_paths_and_queries(hq, pushing, route, parts, params):
    _, auth = pushing
    path = route.format(*(quote(p, safe="") for p in parts))
    reply = httpx.get(f"{hq.base}{API}/{path}", params=params, headers=auth)
    answered(reply)
