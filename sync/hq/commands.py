"""``pos-loyalty hq ...``: run HQ, provision and revoke terminals, list what needs review,
expire points."""

from __future__ import annotations

import atexit
import contextlib
import errno
import gc
import logging
import os
import signal
import socket
import sys
import threading
import time
import tomllib
import urllib.parse
from pathlib import Path
from typing import Any

import msgspec

from pos_loyalty import config as config_mod
from pos_loyalty.errors import BadInput, ConfigError
from pos_loyalty.rules.program import Program

from .db import connect
from .store import HQStore

log = logging.getLogger("pos_loyalty.hq")


def load_program(path: str | None) -> Program:
    """The chain's loyalty program: the ``[program]`` table of a TOML file in the till's
    format (the example program without one), checked as a till checks its own."""
    source = Path(path) if path else config_mod.EXAMPLE
    try:
        data = tomllib.loads(source.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{source}: cannot be read ({exc.strerror}).") from None
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{source}: is not valid TOML ({exc}).") from None
    currency = str(data.get("store", {}).get("currency", "EUR"))
    try:
        program = msgspec.convert(data.get("program", {}), Program)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{source}: program: {exc}.") from None
    problem = next(config_mod.check_program(program, currency), None)
    if problem:
        raise ConfigError(f"{source}: {problem[0]}: {problem[1]}.")
    return program


def open_store(db_url: str, program_path: str | None = None, *, create: bool = True) -> HQStore:
    """HQ on its database; without ``create``, only on one that exists."""
    program = load_program(program_path)  # a bad program file is said before the database
    return HQStore(connect(db_url, create=create), program)


def serve(
    db_url: str,
    host: str,
    port: int,
    program_path: str | None,
    expire_hours: float = 24.0,
    workers: int = 1,
    access_log: bool = False,
) -> None:
    """Serve HQ until Ctrl-C. The program, the database and the port are all checked (the
    port bound) before the line that says HQ runs, so a failure is one sentence. With
    ``workers`` above one, as many processes serve the one socket (PostgreSQL only);
    ``access_log``: a line per request on stdout (uvicorn's), phones masked."""
    if workers > 1 and urllib.parse.urlsplit(db_url).scheme not in ("postgresql", "postgres"):
        raise BadInput("--workers above 1 needs PostgreSQL: an SQLite HQ has one writer.")
    listening = _bound(host, port)  # first: a port in use leaves no new database behind
    try:
        store = open_store(db_url, program_path)
        if workers > 1:
            store = _forked(store, workers - 1, listening, db_url, program_path, access_log)
    except BaseException:
        listening.close()
        raise
    _fewer_collections()
    stop = threading.Event()
    if expire_hours > 0:
        threading.Thread(
            target=_expire_every, args=(store, expire_hours * 3600, stop), daemon=True
        ).start()
    print(f"HQ on http://{host}:{port} ({store.db.kind}); Ctrl-C stops it.", file=sys.stderr)
    # uvicorn answers SIGTERM by finishing the requests in flight, then raises the signal
    # again: this handler turns it into a clean exit (0), which closes the database below.
    signal.signal(signal.SIGTERM, _stopped)
    try:
        _server(store, access_log).run(sockets=[listening])
    finally:
        stop.set()
        listening.close()
        store.db.close()


def _stopped(signum: int, frame: object) -> None:
    raise SystemExit(0)


def _server(store: HQStore, access_log: bool) -> Any:
    """uvicorn serving HQ on ``store``: warnings only, and each request if asked."""
    import uvicorn

    from .app import create_app

    config = uvicorn.Config(create_app(store), log_level="warning", access_log=access_log)
    if access_log:  # uvicorn set its access logger to the warning level with the rest
        logging.getLogger("uvicorn.access").setLevel(logging.INFO)
    return uvicorn.Server(config)


def _forked(
    store: HQStore,
    more: int,
    listening: socket.socket,
    db_url: str,
    program_path: str | None,
    access_log: bool,
) -> HQStore:
    """``more`` child processes serving ``listening`` too, each on a store of its own; the
    parent's store, opened again. HQ keeps no state in its processes, so they need nothing
    from one another; a database connection must not cross a fork, so it is closed first."""
    store.db.close()
    children = []
    for _ in range(more):
        pid = os.fork()
        if pid == 0:  # the child serves until told to stop, and never returns into the CLI
            code = 0
            try:
                _serve_child(listening, db_url, program_path, access_log)
            except BaseException:
                log.exception("an HQ worker process failed")
                code = 1
            os._exit(code)
        children.append(pid)
    atexit.register(_stop_children, children)
    return open_store(db_url, program_path)


def _serve_child(
    listening: socket.socket, db_url: str, program_path: str | None, access_log: bool
) -> None:
    parent = os.getppid()
    store = open_store(db_url, program_path, create=False)
    _fewer_collections()
    server = _server(store, access_log)
    threading.Thread(target=_orphaned, args=(server, parent), daemon=True).start()
    try:
        server.run(sockets=[listening])
    finally:
        store.db.close()


def _orphaned(server: Any, parent: int) -> None:
    """A worker whose parent was killed outright (no chance to stop it) stops too, rather
    than go on holding the port."""
    while os.getppid() == parent:
        time.sleep(1)
    server.should_exit = True


def _stop_children(children: list[int]) -> None:
    """Each worker told to finish what it serves, then waited for."""
    for pid in children:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    for pid in children:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(pid, 0)


def _bound(host: str, port: int) -> socket.socket:
    """A listening socket on ``host``:``port``, or a sentence on why there cannot be one."""
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
    except (socket.gaierror, UnicodeError):
        raise BadInput(f"HQ cannot listen on {host}: no such address here.") from None
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listening.bind((host, port))
        listening.listen(2048)
    except OSError as exc:
        listening.close()
        why = "something else listens there" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise BadInput(f"HQ cannot listen on {host}:{port}: {why}.") from None
    return listening


def _fewer_collections() -> None:
    """A push or a page of the directory makes tens of thousands of short-lived objects,
    nearly all freed by their reference counts; at Python's default the cycle collector
    still ran about fifteen times a batch and walked every long-lived object now and then
    (6% of a drain's time). What HQ holds from its start is set aside, and the collector
    runs when far more has piled up."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)


def _expire_every(store: HQStore, seconds: float, stop: threading.Event) -> None:
    """Expiry while HQ serves: a minute after start, then every ``seconds``. A failed run
    is logged and tried at the next turn; several HQ processes may all run it (each page of
    accounts is locked while read, so nothing expires twice)."""
    wait = 60.0
    while not stop.wait(wait):
        wait = seconds
        try:
            accounts, points = store.expire()
            if points:
                log.info("expired %d points of %d accounts", points, accounts)
        except Exception:
            log.exception("expiry failed; it runs again in %.0f hours", seconds / 3600)
