"""The wire protocol between a till and HQ, version 1: defined once, used by the sync daemon
and by HQ alike, and published as HQ's OpenAPI document.

JSON over HTTP under ``/v1``. A terminal authenticates with its own bearer token. Events travel
as the journal stores them: every hashed field, ``detail`` as its exact canonical text (so HQ
recomputes the v1 hash from what it received, without trusting a parse), and the hash.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

from pos_loyalty.config import ID_PATTERN
from pos_loyalty.rules.account import Ledger
from pos_loyalty.rules.program import Program

API = "/v1"
MAX_BATCH = 500  # events in one push
MAX_BODY = 2 * 1024 * 1024  # bytes in one request
MAX_PAGE = 1000  # members in one directory page
MEMBER_ID = r"^[0-9A-HJKMNP-TV-Z]{16}$"  # Crockford base-32
E164 = r"^\+[1-9][0-9]{6,14}$"

Text = Annotated[str, msgspec.Meta(max_length=200)]
ID = ID_PATTERN  # a store or terminal id, as a till's config takes it
Id = Annotated[str, msgspec.Meta(pattern=ID)]
Hash = Annotated[str, msgspec.Meta(pattern=r"^[0-9a-f]{64}$")]
Seq = Annotated[int, msgspec.Meta(ge=1, le=2**53 - 1)]
Points = Annotated[int, msgspec.Meta(ge=-(2**53 - 1), le=2**53 - 1)]
INSTANT = r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"  # as the journal writes times
Instant = Annotated[str, msgspec.Meta(pattern=INSTANT)]
UUID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"  # an event id


class _Wire(
    msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True, omit_defaults=True
):
    pass


class WireEvent(_Wire, frozen=True):
    """One journal event exactly as the till stored and hashed it (docs/JOURNAL.md)."""

    seq: Seq
    event_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    store_id: Id
    terminal_id: Id
    kind: Annotated[str, msgspec.Meta(pattern=r"^[a-z_]{1,32}$")]
    member_id: Annotated[str, msgspec.Meta(max_length=32)] | None
    phone: Annotated[str, msgspec.Meta(max_length=32)] | None
    points: Points
    amount: Points | None
    currency: Annotated[str, msgspec.Meta(pattern=r"^[A-Z]{3}$")] | None
    ref_event_id: Annotated[str, msgspec.Meta(max_length=64)] | None
    ruleset: Text
    detail: Annotated[str, msgspec.Meta(max_length=64 * 1024)]  # the canonical text
    staff_id: Id | None
    created_at: Instant
    prev_hash: Hash
    hash: Hash
    chain_version: Annotated[int, msgspec.Meta(ge=0, le=1)]


class PushRequest(_Wire, frozen=True):
    """A batch of one terminal's events, in ``seq`` order, without gaps."""

    store_id: Id
    terminal_id: Id
    journal_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    events: Annotated[list[WireEvent], msgspec.Meta(min_length=1, max_length=MAX_BATCH)]


class EventOutcome(_Wire, frozen=True):
    event_id: str
    seq: int
    status: Literal["applied", "duplicate"]
    flags: list[str] = []  # e.g. "overdraft": applied, and for review


class PushReply(_Wire, frozen=True):
    """Per event, applied or duplicate; and what HQ now holds of the terminal's chain."""

    results: list[EventOutcome]
    acked_seq: int  # the highest contiguous seq HQ holds for the terminal
    head_hash: str | None


class Problem(_Wire, frozen=True):
    """Every refusal: a stable code, one sentence, and where it helps, the seq HQ expects."""

    code: str
    message: str
    expected_seq: int | None = None


class ErrorReply(_Wire, frozen=True):
    error: Problem


class Snapshot(_Wire, frozen=True):
    """HQ's word on one member: the fold of every event of theirs HQ holds, from every till.
    ``through_seq`` is the last event of the asking terminal that it includes, read in the
    same database transaction, so the till folds exactly its later events on top."""

    member_id: str
    phone: str | None
    name: str | None
    version: int
    ledger: Ledger
    updated_at: str
    through_seq: int
    # Enrolled again at another till with a phone this member had: now part of that member
    # (whose snapshot carries the points); the till looks them up as that member.
    merged_into: str | None = None


class MemberLookup(_Wire, frozen=True):
    """A member a till has not seen, asked for by id or phone: their snapshot (and, for an
    enrolment merged into another member, that member's too)."""

    members: list[Snapshot]


class Directory(_Wire, frozen=True):
    """A page of member changes after a cursor; ``next`` is the cursor to ask from next (the
    same as asked when nothing changed, or lower when HQ's newest change is older than the
    cursor asked from: HQ was restored from a backup, and the till reads it all again)."""

    members: list[Snapshot]
    next: int
    more: bool


class ReversalInfo(_Wire, frozen=True):
    event_id: str
    points: int
    refund_amount: int | None  # money refunded, minor units; None for a cancel


class EventReply(_Wire, frozen=True):
    """One event of any till as HQ holds it, for a reversal at another till: every reversal
    of it HQ holds, and its member's account in the asking terminal's view."""

    event: WireEvent
    reversals: list[ReversalInfo]
    member: Snapshot | None


class KindTotal(_Wire, frozen=True):
    events: int
    points: int


class Totals(_Wire, frozen=True):
    """The chain's figures for a time window (a store day), for the end-of-day report: events
    by kind across the chain and in the asking terminal's store, every member's outstanding
    points now, and how far HQ holds the asking terminal's chain."""

    as_of: str
    members: int
    liability_points: int  # the sum of the positive balances, now
    deficit_points: int  # what members in deficit owe (a positive number), now
    chain: dict[str, KindTotal]
    store: dict[str, KindTotal]
    acked_seq: int
    head_hash: str | None


class ProgramReply(_Wire, frozen=True):
    """The chain's loyalty program, which every till uses (offline too) in place of its own
    ``[program]``; ``ruleset`` is the name each event made under it carries."""

    ruleset: str
    program: Program


class Health(_Wire, frozen=True):
    status: Literal["ok"]
    api: str
    database: str  # "sqlite" or "postgresql"


def openapi() -> dict[str, object]:
    """HQ's OpenAPI document, from the very structs above."""
    names = (
        PushRequest,
        PushReply,
        ErrorReply,
        Health,
        Directory,
        Totals,
        ProgramReply,
        EventReply,
        MemberLookup,
    )
    schemas, components = msgspec.json.schema_components(
        names, ref_template="#/components/schemas/{name}"
    )
    push, push_reply, error, health, directory, totals, program, found, lookup = schemas

    def refusal(text: str) -> dict[str, object]:
        return {"description": text, "content": {"application/json": {"schema": error}}}

    lookup_replies = {
        "200": {
            "description": "The member's snapshot (and the member they were merged into)",
            "content": {"application/json": {"schema": lookup}},
        },
        "400": refusal("Not a member id or an E.164 phone number; or a query given"),
        "401": refusal("No token, or a wrong or revoked one"),
        "404": refusal("HQ knows no such member"),
    }
    event_replies = {
        "200": {
            "description": "The event, every reversal of it HQ holds, and its member",
            "content": {"application/json": {"schema": found}},
        },
        "400": refusal("Not an event id, or not a terminal id and a seq; or a query given"),
        "401": refusal("No token, or a wrong or revoked one"),
        "404": refusal("HQ holds no such event"),
    }

    return {
        "openapi": "3.1.0",
        "info": {"title": "pos-loyalty HQ", "version": "1"},
        "paths": {
            f"{API}/health": {
                "get": {
                    "summary": "Whether HQ and its database answer",
                    "responses": {
                        "200": {
                            "description": "HQ is up",
                            "content": {"application/json": {"schema": health}},
                        }
                    },
                }
            },
            f"{API}/members": {
                "get": {
                    "summary": "Member changes after a cursor, this terminal's view",
                    "security": [{"terminal": []}],
                    "parameters": [
                        {
                            "name": "since",
                            "in": "query",
                            "schema": {
                                "type": "integer",
                                "minimum": 0,
                                "maximum": 999_999_999_999_999,
                            },
                        },
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE},
                        },
                        {
                            "name": "scope",
                            "in": "query",
                            "schema": {"type": "string", "enum": ["all", "store"]},
                        },
                    ],
                    "responses": {
                        "200": {
                            "description": "A page of member snapshots",
                            "content": {"application/json": {"schema": directory}},
                        },
                        "400": refusal(
                            "The cursor or limit is not a number in range, or no such scope"
                        ),
                        "401": refusal("No token, or a wrong or revoked one"),
                    },
                }
            },
            f"{API}/members/{{member_id}}": {
                "get": {
                    "summary": "A member by id, for a till that has not seen them",
                    "security": [{"terminal": []}],
                    "parameters": [
                        {
                            "name": "member_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": MEMBER_ID},
                        }
                    ],
                    "responses": lookup_replies,
                }
            },
            f"{API}/phones/{{phone}}": {
                "get": {
                    "summary": "The member who holds a phone (E.164), for a till that has not "
                    "seen them",
                    "security": [{"terminal": []}],
                    "parameters": [
                        {
                            "name": "phone",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": E164},
                        }
                    ],
                    "responses": lookup_replies,
                }
            },
            f"{API}/events/{{event_id}}": {
                "get": {
                    "summary": "One event of any till by its id, for a reversal at another till",
                    "security": [{"terminal": []}],
                    "parameters": [
                        {
                            "name": "event_id",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": UUID},
                        }
                    ],
                    "responses": event_replies,
                }
            },
            f"{API}/terminals/{{terminal}}/events/{{seq}}": {
                "get": {
                    "summary": "One event of a till of this store, by the receipt's ref "
                    "(terminal and seq, in that till's current chain)",
                    "security": [{"terminal": []}],
                    "parameters": [
                        {
                            "name": "terminal",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "string", "pattern": ID},
                        },
                        {
                            "name": "seq",
                            "in": "path",
                            "required": True,
                            "schema": {"type": "integer", "minimum": 1, "maximum": 2**53 - 1},
                        },
                    ],
                    "responses": event_replies,
                }
            },
            f"{API}/program": {
                "get": {
                    "summary": "The chain's loyalty program and its ruleset name",
                    "security": [{"terminal": []}],
                    "responses": {
                        "200": {
                            "description": "The program",
                            "content": {"application/json": {"schema": program}},
                        },
                        "400": refusal("A query was given; it takes none"),
                        "401": refusal("No token, or a wrong or revoked one"),
                    },
                }
            },
            f"{API}/totals": {
                "get": {
                    "summary": "The chain's figures in [since, until), this store's apart",
                    "security": [{"terminal": []}],
                    "parameters": [
                        {
                            "name": name,
                            "in": "query",
                            "required": True,
                            "schema": {"type": "string", "pattern": INSTANT},
                        }
                        for name in ("since", "until")
                    ],
                    "responses": {
                        "200": {
                            "description": "The figures",
                            "content": {"application/json": {"schema": totals}},
                        },
                        "400": refusal("since or until is not a time as the journal writes it"),
                        "401": refusal("No token, or a wrong or revoked one"),
                    },
                }
            },
            f"{API}/push": {
                "post": {
                    "summary": "Push a batch of one terminal's events",
                    "security": [{"terminal": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": push}},
                    },
                    "responses": {
                        "200": {
                            "description": "Each event applied or already held",
                            "content": {"application/json": {"schema": push_reply}},
                        },
                        "400": refusal(
                            "The request is not a valid push, or an event in it is not one a "
                            "till writes (code invalid: an unknown kind, a wrong sign, an "
                            "unknown member, ...); nothing of the batch is applied"
                        ),
                        "401": refusal("No token, or a wrong or revoked one"),
                        "403": refusal("The token is another terminal's"),
                        "409": refusal("A gap (resend from expected_seq) or a conflict"),
                        "413": refusal("The request is too large"),
                        "415": refusal("The body is not sent as application/json"),
                    },
                }
            },
        },
        "components": {
            "schemas": components,
            "securitySchemes": {"terminal": {"type": "http", "scheme": "bearer"}},
        },
    }
