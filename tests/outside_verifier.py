"""A verifier of till journals written from docs/JOURNAL.md alone, with nothing but the
standard library: what an auditor (or HQ in another language) would write. It imports
nothing of pos-loyalty; tests/test_verify.py holds it to agree with `pos-loyalty verify`.

    python tests/outside_verifier.py JOURNAL.db     # prints the first problem, exit 1; or "ok"
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import sys
import urllib.parse
from typing import Any

APPLICATION_ID = 0x504F534C
SCHEMA = 8
FIELDS = (
    "seq", "event_id", "store_id", "terminal_id", "kind", "member_id", "phone", "points",
    "amount", "currency", "ref_event_id", "ruleset", "detail", "staff_id", "created_at",
    "prev_hash",
)  # fmt: skip
_ONLY = "BEGIN SELECT RAISE(ABORT, 'events are append-only'); END"
TRIGGERS = {
    "events_no_update": f"CREATE TRIGGER events_no_update BEFORE UPDATE ON events {_ONLY}",
    "events_no_delete": f"CREATE TRIGGER events_no_delete BEFORE DELETE ON events {_ONLY}",
    "events_in_order": "CREATE TRIGGER events_in_order BEFORE INSERT ON events "
    "WHEN NEW.seq IS NOT (SELECT coalesce(max(seq), 0) + 1 FROM events) "
    "BEGIN SELECT RAISE(ABORT, 'events are appended in seq order'); END",
}
SAFE = 2**53 - 1


def jcs(value: Any) -> str:
    """RFC 8785 for what a journal may hold: text, safe integers, true, false, null."""
    if isinstance(value, dict):
        keys = sorted(value, key=lambda k: k.encode("utf-16-be"))
        return "{" + ",".join(f"{jcs(k)}:{jcs(value[k])}" for k in keys) + "}"
    if isinstance(value, list):
        return "[" + ",".join(jcs(v) for v in value) + "]"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    if isinstance(value, int):
        if abs(value) > SAFE:
            raise ValueError("an integer beyond 2**53 - 1")
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # escapes exactly what RFC 8785 does
    raise ValueError(f"a {type(value).__name__}, which a journal never holds")


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check(path: str) -> str | None:
    """The first problem with the journal at ``path``, or None."""
    uri = "file:" + urllib.parse.quote(path) + "?mode=ro"
    db = sqlite3.connect(uri, uri=True)
    try:
        return _check(db)
    except sqlite3.DatabaseError as exc:
        return f"not a readable journal: {exc}"
    finally:
        db.close()


def _check(db: sqlite3.Connection) -> str | None:
    q = db.execute
    if q("PRAGMA application_id").fetchone()[0] != APPLICATION_ID:
        return "not a pos-loyalty journal"
    if q("PRAGMA user_version").fetchone()[0] != SCHEMA:
        return "another schema"
    triggers = dict(
        q("SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'events'")
    )
    if triggers != TRIGGERS:
        return "the triggers are not the journal's"
    meta = dict(q("SELECT key, value FROM meta"))
    store, terminal, journal = meta["store_id"], meta["terminal_id"], meta["journal_id"]
    genesis = sha256(
        jcs({"journal_id": journal, "store_id": store, "terminal_id": terminal, "v": 1})
    )
    db.row_factory = sqlite3.Row
    rows = [
        dict(r)
        for r in q(f"SELECT {', '.join(FIELDS)}, hash, chain_version FROM events ORDER BY seq")
    ]
    prev, version = None, 0
    for n, row in enumerate(rows, start=1):
        if row["seq"] != n:
            return f"event {n} is missing or out of place"
        if (row["store_id"], row["terminal_id"]) != (store, terminal):
            return f"event {n} is another till's"
        if row["chain_version"] not in (0, 1) or row["chain_version"] < version:
            return f"event {n} has a wrong chain version"
        version = row["chain_version"]
        if prev is None:
            prev = "0" * 64 if version == 0 else genesis
        if row["prev_hash"] != prev:
            return f"event {n} does not link"
        if version == 0:
            digest = sha256(
                json.dumps([row[f] for f in FIELDS], separators=(",", ":"), ensure_ascii=False)
            )
        else:
            try:
                detail = json.loads(row["detail"], parse_float=_refuse, parse_constant=_refuse)
                if not isinstance(detail, dict) or jcs(detail) != row["detail"]:
                    return f"event {n}'s detail is not in its canonical form"
                values = {f: row[f] for f in FIELDS} | {"detail": detail, "v": 1}
                digest = sha256(jcs(values))
            except ValueError:
                return f"event {n}'s detail holds what a journal never does"
        if digest != row["hash"]:
            return f"event {n} does not match its hash"
        prev = row["hash"]
    last = len(rows)
    head_seq, _, head_hash = meta.get("head", "").partition(" ")
    if not head_seq.isdigit():
        return "the head is missing"
    written = max(
        int(head_seq),
        q("SELECT coalesce(max(through_seq), 0) FROM accounts").fetchone()[0],
        q("SELECT coalesce(max(acked_seq), 0) FROM outbox").fetchone()[0],
    )
    if written > last:
        return "events are missing from the end"
    for table in ("requests", "print_jobs"):
        if q(
            f"SELECT count(*) FROM {table} WHERE event_id IS NOT NULL "
            "AND event_id NOT IN (SELECT event_id FROM events)"
        ).fetchone()[0]:
            return "events are missing from the end"
    if int(head_seq) < last:
        return "events were added behind the head"
    if last and head_hash != prev:
        return "the head names another hash"
    return None


def _refuse(text: str) -> Any:
    raise ValueError(text)


if __name__ == "__main__":
    problem = check(sys.argv[1])
    print(problem or "ok")
    sys.exit(1 if problem else 0)
