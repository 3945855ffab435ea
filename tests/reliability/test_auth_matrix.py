"""Proof 5: every HQ endpoint × every bad credential (missing, malformed, wrong, revoked,
another terminal's) on both backends: the 401 or 403 expected, each a JSON sentence, and
HQ's database exactly as it was."""

from __future__ import annotations

import httpx
import msgspec
import pytest

from pos_loyalty.service import MemberRef
from sync.daemon import wire_batch
from sync.hq.app import create_app
from sync.protocol import API, PushRequest

OPEN = {f"{API}/health", f"{API}/openapi.json"}  # what a load balancer and a newcomer read

CREDENTIALS = {
    "missing": {},
    "empty bearer": {"authorization": "Bearer"},
    "another scheme": {"authorization": "Basic dDE6c2VjcmV0"},
    "no scheme": {"authorization": "sometoken"},
    "wrong": {"authorization": "Bearer not-a-token-hq-gave"},
    "revoked": None,  # filled in below: a token HQ gave and then revoked
}


def everything(db) -> dict[str, list[str]]:
    """Every row of every table of HQ's database, to show that nothing was written."""
    if db.kind == "sqlite":
        sql = "SELECT name FROM sqlite_master WHERE type = 'table'"
    else:
        sql = "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
    with db.transaction() as tx:
        tables = [row[0] for row in tx.all(sql)]
        return {t: sorted(map(repr, tx.all(f"SELECT * FROM {t}"))) for t in tables}


def requests(till, member_id: str, event_id: str) -> dict[str, tuple[str, str, bytes]]:
    """A well-formed request for each route HQ serves (method, path, body)."""
    journal = till.journal
    push = PushRequest(
        journal.store_id, journal.terminal_id, journal.journal_id, wire_batch(journal, 0, 50)
    )
    return {
        f"{API}/push": ("POST", f"{API}/push", msgspec.json.encode(push)),
        f"{API}/members": ("GET", f"{API}/members?since=0", b""),
        f"{API}/totals": (
            "GET",
            f"{API}/totals?since=2020-01-01T00:00:00.000Z&until=2030-01-01T00:00:00.000Z",
            b"",
        ),
        f"{API}/program": ("GET", f"{API}/program", b""),
        f"{API}/members/{{member_id}}": ("GET", f"{API}/members/{member_id}", b""),
        f"{API}/phones/{{phone}}": ("GET", f"{API}/phones/+31612345678", b""),
        f"{API}/events/{{event_id}}": ("GET", f"{API}/events/{event_id}", b""),
        f"{API}/terminals/{{terminal}}/events/{{seq}}": (
            "GET",
            f"{API}/terminals/T1/events/1",
            b"",
        ),
    }


def test_every_endpoint_refuses_every_bad_credential_and_writes_nothing(make_synced_till, hq):
    till, _ = make_synced_till("T1")
    _, other = make_synced_till("T2")
    _, revoked = make_synced_till("T3")
    hq.store.revoke("AMS-01", "T3")
    member = till.enroll("0612345678").member
    event = till.earn(MemberRef(member_id=member.member_id), amount=2000).event
    routes = {route.path for route in create_app(hq.store).routes} - OPEN
    matrix = requests(till, member.member_id, event.event_id)
    assert set(matrix) == routes  # a new route must join the matrix
    credentials = {**CREDENTIALS, "revoked": {"authorization": f"Bearer {revoked}"}}
    before = everything(hq.store.db)
    seen: list[tuple[str, str, int]] = []
    with httpx.Client(base_url=hq.base, timeout=10) as client:
        for method, path, body in matrix.values():
            for name, headers in credentials.items():
                reply = client.request(
                    method,
                    path,
                    content=body,
                    headers={"content-type": "application/json", **headers},
                )
                seen.append((path, name, reply.status_code))
                assert reply.status_code == 401, (path, name, reply.text)
                assert set(reply.json()["error"]) == {"code", "message"}
                assert reply.json()["error"]["code"] == "unauthorized"
        # Another terminal's valid token: it may read the chain's members, never push as T1.
        method, path, body = matrix[f"{API}/push"]
        reply = client.post(
            path,
            content=body,
            headers={"authorization": f"Bearer {other}", "content-type": "application/json"},
        )
        assert reply.status_code == 403, reply.text
        assert reply.json()["error"]["code"] == "forbidden"
    assert everything(hq.store.db) == before
    assert len(seen) == len(routes) * len(credentials)


@pytest.mark.parametrize("path", sorted(OPEN))
def test_only_health_and_the_api_document_answer_without_a_token(hq, path):
    assert httpx.get(f"{hq.base}{path}").status_code == 200
