"""HQ's web service: a Starlette app made by ``create_app``, which ``pos-loyalty hq serve``
runs on uvicorn and the tests serve on loopback.

Every refusal is JSON ``{"error": {"code", "message"}}`` with a 4xx status and one sentence;
a token never reaches a log.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any

import msgspec
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from pos_loyalty.errors import NotAllowed, one_line

from ..logs import mask_phones_in_logs
from ..protocol import (
    API,
    E164,
    ID,
    INSTANT,
    MAX_BODY,
    MAX_PAGE,
    MEMBER_ID,
    UUID,
    Directory,
    ErrorReply,
    EventReply,
    Health,
    MemberLookup,
    Problem,
    PushRequest,
    Snapshot,
    openapi,
)
from .store import HQStore, PushRefused, Terminal, UnknownToken

log = logging.getLogger("pos_loyalty.hq")
_INSTANT = re.compile(INSTANT)
_UUID = re.compile(UUID)
_ID = re.compile(ID)
_MEMBER_ID = re.compile(MEMBER_ID)
_E164 = re.compile(E164)
# A till catching up after an outage pushes batches of hundreds; a sale just made, one or a
# few events. Batches beyond this take turns in a lane of their own, so that fifty tills
# catching up never hold every thread and database connection while a live sale's push or
# a lookup waits behind them (PostgreSQL: two connections stay free; SQLite writes one
# transaction at a time anyway).
BULK_EVENTS = 20
BULK_AT_ONCE = 2  # measured: 2 gave fifty tills the best p99 on two cores (docs/BENCHMARKS.md)


def create_app(store: HQStore) -> Starlette:
    mask_phones_in_logs()
    bulk = asyncio.Semaphore(1 if store.db.kind == "sqlite" else BULK_AT_ONCE)

    async def health(request: Request) -> Response:
        return _json(Health("ok", API, store.db.kind))

    async def document(request: Request) -> Response:
        return Response(msgspec.json.encode(openapi()), media_type="application/json")

    async def push(request: Request) -> Response:
        # The push's own transaction finds and locks the terminal by its token: no lookup of
        # its own before it. A request that is refused anyway is told 401 first, if so.
        token = _bearer(request)
        try:
            _json_content(request)
            batch = _read_push(await _body(request))
        except (HTTPRefusal, msgspec.MsgspecError) as exc:
            await _authenticated(request, store)
            if isinstance(exc, HTTPRefusal):
                raise
            if isinstance(exc, msgspec.ValidationError):
                return _problem(400, "bad_request", f"That is not a valid push: {_plain(exc)}.")
            return _problem(400, "bad_request", "That is not a valid push: the body is not JSON.")
        try:
            async with bulk if len(batch.events) > BULK_EVENTS else contextlib.nullcontext():
                reply = await run_in_threadpool(store.push, token, batch)
        except UnknownToken:
            raise _unknown_token() from None
        except PushRefused as refused:
            status = 409 if refused.code in ("gap", "conflict", "journal_replaced") else 400
            return _json(ErrorReply(refused.problem()), status)
        except NotAllowed as exc:
            return _problem(403, "forbidden", exc.message)
        return _json(reply)

    async def members(request: Request) -> Response:
        terminal = await _authenticated(request, store)
        params = _query(request, "since", "limit", "scope")
        since, limit = params.get("since", "0"), params.get("limit")
        scope = params.get("scope", "all")
        if scope not in ("all", "store"):
            return _problem(400, "bad_request", "scope is all or store.")
        numbers = [since] if limit is None else [since, limit]
        if not all(n.isascii() and n.isdigit() and len(n) <= 15 for n in numbers):
            return _problem(400, "bad_request", "since and limit are whole numbers.")
        page = int(limit) if limit else MAX_PAGE
        if not 1 <= page <= MAX_PAGE:
            return _problem(400, "bad_request", f"limit is a number from 1 to {MAX_PAGE}.")
        snapshots, cursor = await run_in_threadpool(
            store.changes, terminal, int(since), page, scope
        )
        return _json(Directory(snapshots, cursor, len(snapshots) == page))

    async def member_by_id(request: Request) -> Response:
        terminal = await _authenticated(request, store)
        _query(request)
        member_id = request.path_params["member_id"]
        if not _MEMBER_ID.match(member_id):
            return _problem(400, "bad_request", "A member id is 16 letters and digits.")
        found = await run_in_threadpool(store.find_member, terminal, member_id=member_id)
        return _members(found)

    async def member_by_phone(request: Request) -> Response:
        terminal = await _authenticated(request, store)
        _query(request)
        phone = request.path_params["phone"]
        if not _E164.match(phone):
            return _problem(400, "bad_request", "A phone is asked for in E.164, like +31612345678.")
        found = await run_in_threadpool(store.find_member, terminal, phone=phone)
        return _members(found)

    async def event_by_id(request: Request) -> Response:
        terminal = await _authenticated(request, store)
        _query(request)
        event_id = request.path_params["event_id"]
        if not _UUID.match(event_id):
            return _problem(400, "bad_request", "An event id is a UUID in lower case.")
        found = await run_in_threadpool(store.find_event, terminal, event_id=event_id)
        return _found(found)

    async def event_by_ref(request: Request) -> Response:
        terminal = await _authenticated(request, store)
        _query(request)
        at, seq = request.path_params["terminal"], request.path_params["seq"]
        if not (_ID.match(at) and seq.isascii() and seq.isdigit() and 1 <= int(seq) < 2**53):
            return _problem(400, "bad_request", "A receipt's ref is a terminal id and a seq.")
        found = await run_in_threadpool(store.find_event, terminal, terminal_id=at, seq=int(seq))
        return _found(found)

    async def program(request: Request) -> Response:
        await _authenticated(request, store)
        _query(request)
        return _json(store.program_reply)

    async def totals(request: Request) -> Response:
        terminal = await _authenticated(request, store)
        params = _query(request, "since", "until")
        since, until = params.get("since", ""), params.get("until", "")
        # An empty or inverted window is not an error: it counts nothing.
        if not (_INSTANT.match(since) and _INSTANT.match(until)):
            return _problem(
                400, "bad_request", "since and until are times like 2026-11-24T23:00:00.000Z."
            )
        return _json(await run_in_threadpool(store.totals, terminal, since, until))

    async def refused(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPRefusal):
            return _problem(exc.status_code, exc.code, exc.message)
        status = exc.status_code if isinstance(exc, HTTPException) else 404
        if status == 405:
            allowed = exc.headers if isinstance(exc, HTTPException) and exc.headers else {}
            reply = _problem(405, "method_not_allowed", "That method is not allowed here.")
            reply.headers.update(allowed)  # Allow: what is (RFC 9110)
            return reply
        path = request.url.path[:80]
        return _problem(404, "not_found", f"There is nothing at {path}; see {API}/openapi.json.")

    async def failure(request: Request, exc: Exception) -> Response:
        log.exception("HQ could not answer %s %s", request.method, request.url.path)
        return _problem(500, "internal", "HQ could not answer; try again later.")

    return Starlette(
        routes=[
            Route(f"{API}/health", health),
            Route(f"{API}/openapi.json", document),
            Route(f"{API}/push", push, methods=["POST"]),
            Route(f"{API}/members", members),
            Route(f"{API}/totals", totals),
            Route(f"{API}/program", program),
            Route(f"{API}/members/{{member_id}}", member_by_id),
            Route(f"{API}/phones/{{phone}}", member_by_phone),
            Route(f"{API}/events/{{event_id}}", event_by_id),
            Route(f"{API}/terminals/{{terminal}}/events/{{seq}}", event_by_ref),
        ],
        exception_handlers={HTTPException: refused, 500: failure},
    )


def _members(found: list[Snapshot]) -> Response:
    if not found:
        return _problem(404, "not_found", "HQ knows no such member.")
    return _json(MemberLookup(found))


def _found(found: EventReply | None) -> Response:
    if found is None:
        return _problem(404, "not_found", "HQ holds no such event.")
    return _json(found)


async def _authenticated(request: Request, store: HQStore) -> Terminal:
    terminal = await run_in_threadpool(store.terminal_for, _bearer(request))
    if terminal is None:
        raise _unknown_token()
    return terminal


def _bearer(request: Request) -> str:
    """The request's token, or 401 for a request without one."""
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPRefusal(401, "unauthorized", "This request needs the terminal's token.")
    return token.strip()


def _unknown_token() -> HTTPRefusal:
    return HTTPRefusal(401, "unauthorized", "That terminal token is wrong or was revoked.")


def _query(request: Request, *allowed: str) -> dict[str, str]:
    """The query's parameters, each one of ``allowed`` and given once, or a refusal."""
    names = [name for name, _ in request.query_params.multi_items()]
    if set(names) - set(allowed) or len(names) != len(set(names)):
        wanted = f"with {' and '.join(allowed)} only, each once" if allowed else "without a query"
        raise HTTPRefusal(400, "bad_request", f"Ask {wanted}.")
    return dict(request.query_params)


async def _body(request: Request) -> bytes:
    size = request.headers.get("content-length")
    if size is not None and (not size.isdigit() or int(size) > MAX_BODY):
        raise HTTPRefusal(413, "too_large", f"A request may be at most {MAX_BODY} bytes.")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise HTTPRefusal(413, "too_large", f"A request may be at most {MAX_BODY} bytes.")
    return body


class HTTPRefusal(HTTPException):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(status, message)
        self.code = code
        self.message = message


_push = msgspec.json.Decoder(PushRequest)


def _json_content(request: Request) -> None:
    """A push is JSON, said so: a form or text post is a client's mistake, told as 415."""
    media = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if media != "application/json":
        raise HTTPRefusal(415, "unsupported_media_type", "A push is sent as application/json.")


def _read_push(body: bytes) -> PushRequest:
    """A push as the tills write it, decoded straight into its struct; only a body that
    does not fit that way is read again, with integral floats (42.0) taken as integers."""
    try:
        return _push.decode(body)
    except msgspec.ValidationError:
        try:
            return msgspec.convert(_integral(msgspec.json.decode(body)), PushRequest)
        except RecursionError:  # JSON nested deeper than any push: never a 500
            raise HTTPRefusal(
                400, "bad_request", "That is not a valid push: it is nested far too deep."
            ) from None


def _integral(value: Any) -> Any:
    """JSON's integers as JSON Schema counts them: 42.0 is 42 (a client's JSON library may
    write it so); a fraction stays a fraction, and is refused where an integer belongs."""
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def _json(value: Any, status: int = 200) -> Response:
    return Response(msgspec.json.encode(value), status_code=status, media_type="application/json")


def _problem(status: int, code: str, message: str) -> Response:
    return _json(ErrorReply(Problem(code, one_line(message))), status)


def _plain(exc: msgspec.ValidationError) -> str:
    text, _, where = str(exc).partition(" - at ")
    text = text.replace("`", "").rstrip(".")
    return f"{text} at {where.strip('`')}" if where else text
