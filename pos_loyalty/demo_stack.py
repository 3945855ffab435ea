"""The parts the demo runs beside the till: HQ on SQLite, the simulated printer and the
simulated scanner, each a child process, and the fault proxy in front of HQ, a thread.

Children write to log files in the demo's folder (the terminal belongs to the cashier's
screen) and never outlive the demo: ``stop`` ends them (SIGTERM, then SIGKILL), and on Linux
the kernel kills them if the demo itself is killed. Anything that does not start is one
sentence (``StartFailed``), with what was started stopped again.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import httpx

from sync.fault_proxy import FaultProxy
from sync.hq.commands import open_store

from .errors import LoyaltyError

START_SECONDS = 30.0  # a cold start imports a lot on a slow laptop
STOP_SECONDS = 5.0
HQ_FAULT, PRINTER_FAULT = "hq-fault", "printer-fault"
SCANNER_SOCKET, RECEIPTS, TOKEN_FILE = "scanner.sock", "receipts", "hq.token"
_PRINTER_UP = re.compile(r"Simulated printer on [^ ]+:(\d+) ")
_SCANNER_UP = re.compile(r"(?m)^device: (\S+)$")
_PR_SET_PDEATHSIG = 1


class StartFailed(LoyaltyError):
    """A part of the demo did not start."""

    code = "demo_failed"
    exit_status = 1


@dataclass
class Child:
    """One part running as a child process, its output in ``log``."""

    what: str  # how a sentence names it: "HQ", "the simulated printer"
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def failed(self, reason: str) -> StartFailed:
        return StartFailed(f"The demo could not start {self.what}: {reason}; see {self.log}.")

    def check_alive(self) -> None:
        if self.process.poll() is not None:
            last = self.log.read_text(errors="replace").strip().splitlines()[-1:] or [""]
            said = re.sub(r"^(ERROR|CRITICAL):\s*", "", last[0]).rstrip(".")[:200]
            raise self.failed(f"it stopped at once ({said})" if said else "it stopped at once")

    def wait_for(self, pattern: re.Pattern[str], deadline: float) -> re.Match[str]:
        """The first match of ``pattern`` in the child's output, waiting for it."""
        while True:
            found = pattern.search(self.log.read_text(errors="replace"))
            if found:
                return found
            self.check_alive()
            if time.monotonic() > deadline:
                raise self.failed(f"it did not get ready in {START_SECONDS:.0f} seconds")
            time.sleep(0.05)

    def terminate(self) -> None:
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.terminate()

    def reap(self, deadline: float) -> None:
        try:
            self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


@dataclass
class Stack:
    """Everything the demo's till talks to, under ``root``; a context that stops it all."""

    root: Path
    store_id: str
    terminal_id: str
    hq_port: int | None = None  # None: any free port
    children: list[Child] = field(default_factory=list)
    proxy: FaultProxy | None = None
    hq_base: str = ""
    printer_port: int = 0
    scanner_device: str = ""
    _logs: list[IO[bytes]] = field(default_factory=list)

    @property
    def receipts(self) -> Path:
        return self.root / RECEIPTS

    @property
    def scanner_socket(self) -> Path:
        return self.root / SCANNER_SOCKET

    @property
    def token_file(self) -> Path:
        return self.root / TOKEN_FILE

    @property
    def hq_url(self) -> str:
        """Where the till finds HQ: through the fault proxy."""
        assert self.proxy is not None
        return self.proxy.url

    def start(self) -> None:
        """Start every part and wait until each answers; StartFailed if one does not."""
        db = f"sqlite:///{self.root / 'hq.db'}"
        self._provision(db)
        port = self.hq_port or free_port()
        # All three start at once (each takes a moment to import), then each is waited for.
        hq = self._spawn("HQ", "hq.log", "hq", "serve", "--db", db, "--port", str(port))
        printer = self._spawn(
            "the simulated printer",
            "printer.log",
            "sim",
            "printer",
            "--port",
            "0",
            "--out",
            str(self.receipts),
            "--control-file",
            str(self.root / PRINTER_FAULT),
        )
        scanner = self._spawn(
            "the simulated scanner",
            "scanner.log",
            "sim",
            "scanner",
            "--control",
            str(self.scanner_socket),
        )
        deadline = time.monotonic() + START_SECONDS
        self.hq_base = f"http://127.0.0.1:{port}"
        _wait_for_health(hq, self.hq_base, deadline)
        self.printer_port = int(printer.wait_for(_PRINTER_UP, deadline).group(1))
        self.scanner_device = scanner.wait_for(_SCANNER_UP, deadline).group(1)
        self.proxy = FaultProxy(("127.0.0.1", port), control_file=self.root / HQ_FAULT)

    def stop(self) -> None:
        """Stop everything started, whatever state it is in; safe to call twice."""
        if self.proxy is not None:
            self.proxy.close()
        for child in self.children:
            child.terminate()
        deadline = time.monotonic() + STOP_SECONDS
        for child in self.children:
            child.reap(deadline)
        for log in self._logs:
            log.close()
        self._logs.clear()

    def __enter__(self) -> Stack:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _provision(self, db: str) -> None:
        """Terminal T1 at HQ (before HQ serves, so one process writes at a time), its
        token in a file only its owner reads."""
        store = open_store(db)
        try:
            token = store.add_terminal(self.store_id, self.terminal_id)
        finally:
            store.db.close()
        fd = os.open(self.token_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(token + "\n")

    def _spawn(self, what: str, log_name: str, *args: str) -> Child:
        log_path = self.root / log_name
        log = open(log_path, "wb")  # noqa: SIM115 (closed in stop, after the child ended)
        self._logs.append(log)
        try:
            process = subprocess.Popen(
                [sys.executable, "-m", "pos_loyalty", *args],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, "PYTHONUNBUFFERED": "1"},
                cwd=self.root,
                # Its own process group: a Ctrl-C at the terminal reaches the demo alone,
                # which then stops the children in order.
                process_group=0,
                preexec_fn=_die_with_parent(),
            )
        except OSError as exc:
            raise StartFailed(f"The demo could not start {what}: {exc.strerror}.") from None
        child = Child(what, process, log_path)
        self.children.append(child)
        return child


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_health(hq: Child, base: str, deadline: float) -> None:
    while True:
        try:
            if httpx.get(f"{base}/v1/health", timeout=1.0).status_code == 200:
                return
        except httpx.HTTPError:
            pass  # not listening yet: asked again below until the deadline
        hq.check_alive()
        if time.monotonic() > deadline:
            raise hq.failed(f"it did not answer at {base} in {START_SECONDS:.0f} seconds")
        time.sleep(0.1)


def _die_with_parent() -> Callable[[], None] | None:
    """Linux: the child asks the kernel to SIGKILL it when the demo dies, even by SIGKILL.
    The death signal follows the thread that forked, so children are spawned from the
    demo's main thread. libc is looked up here, before the fork."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def in_child() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
        if os.getppid() != parent:  # the demo died before the line above took effect
            os._exit(1)

    return in_child
