"""A till doing random loyalty work until it is killed: run by test_till_kills.py.

Usage: python till_worker.py CONFIG TOKEN SEED [RETRY]

Each operation is announced on stdout as ``{"try": RID, ...}`` before it starts and, only
after the call returned, acknowledged as ``{"ack": RID, "events": [...]}`` (the event ids it
wrote) or ``{"refused": RID}``. RETRY is the JSON of a ``try`` line the last run never
acknowledged: it is done again first, with the same request id, as a host POS retries.
Each line is one ``os.write`` of less than PIPE_BUF bytes, so a kill never leaves half a line.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import sys
import uuid
from typing import Any

from drivers.print_worker import PrintWorker
from pos_loyalty import config as config_mod
from pos_loyalty.errors import LoyaltyError
from pos_loyalty.service import MemberRef, Till
from sync.daemon import Syncer

OPS = ("enroll", "earn", "earn", "earn", "redeem", "reverse", "print", "sync")


def say(line: dict[str, Any]) -> None:
    os.write(1, (json.dumps(line) + "\n").encode())


def choose(rng: random.Random, db: sqlite3.Connection) -> dict[str, Any]:
    """The next operation and its arguments, from what the journal holds now."""
    op = rng.choice(OPS)
    members = [r[0] for r in db.execute("SELECT member_id FROM members ORDER BY member_id")]
    if not members:
        op = "enroll"
    if op == "enroll":
        return {"op": op, "phone": f"0612{rng.randrange(10**6):06d}"}
    if op == "reverse":
        earns = db.execute(
            "SELECT event_id FROM events e WHERE kind = 'earn' AND NOT EXISTS "
            "(SELECT 1 FROM events r WHERE r.ref_event_id = e.event_id)"
        ).fetchall()
        if earns:
            return {"op": op, "event": rng.choice(earns)[0]}
        op = "earn"
    member = rng.choice(members)
    if op == "earn":
        return {"op": op, "member": member, "amount": rng.randrange(100, 15000)}
    if op == "redeem":
        return {"op": op, "member": member, "points": rng.randrange(1, 60)}
    return {"op": op, "member": member}


def run(till: Till, token: str, op: dict[str, Any], rid: str) -> list[str]:
    """Do one operation; the ids of the events it wrote (none for print and sync)."""
    kind = op["op"]
    if kind == "enroll":
        done = till.enroll(op["phone"], request_id=rid)
        return [e.event_id for e in (done.event, *done.also)]
    if kind == "reverse":
        done = till.reverse(op["event"], request_id=rid)
        return [done.event.event_id]
    ref = MemberRef(member_id=op["member"])
    if kind == "earn":
        done = till.earn(ref, amount=op["amount"], request_id=rid)
    elif kind == "redeem":
        done = till.redeem(ref, points=op["points"], request_id=rid)
    elif kind == "print":
        till.print_balance(ref)
        PrintWorker(till.source).run_once(now_not_later=True)
        return []
    else:
        with Syncer(till.source, token=token, sleep=lambda s: None) as syncer:
            syncer.push(attempts=2)
            syncer.pull()
        return []
    return [e.event_id for e in (done.event, *done.also)]


def main(config: str, token: str, seed: str, retry: str = "") -> None:
    rng = random.Random(int(seed))
    till = Till.open(config_mod.load(config))
    db = sqlite3.connect(f"file:{till.source.database_path}?mode=ro", uri=True)
    pending = [json.loads(retry)] if retry else []
    say({"ready": True})
    while True:
        line = pending.pop() if pending else {"try": uuid.uuid4().hex, **choose(rng, db)}
        say(line)
        try:
            events = run(till, token, line, line["try"])
        except LoyaltyError as exc:
            say({"refused": line["try"], "why": str(exc)[:200]})
            continue
        say({"ack": line["try"], "events": events})


if __name__ == "__main__":
    main(*sys.argv[1:])
