"""Simulated serial scanner: a pseudo-terminal the real driver reads, and a way to "scan".

``SimScanner`` owns a pty pair. Its slave path (``/dev/pts/N``) goes into the config's
``scanner.port`` and ``SerialScanner`` opens it exactly as it opens a USB-CDC scanner; each
``scan()`` writes a frame into the master side.

``pos-loyalty sim scanner`` keeps one running and listens on a Unix-domain control socket;
``pos-loyalty sim scan CODE`` sends a code to it from another shell or process. The control
protocol is one JSON line each way: ``{"code", "suffix", "aim"}`` in, ``{"ok"}`` or
``{"ok": false, "error": sentence}`` back.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import signal
import socket
import sys
import tempfile
import threading
import time
import tty
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

from pos_loyalty.errors import BadInput, LoyaltyError

from .scanner import is_aim_identifier

Suffix = Literal["cr", "lf", "crlf"]
SUFFIXES: dict[str, bytes] = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n"}
NOT_RUNNING = "No simulated scanner is running; start one with `pos-loyalty sim scanner`."
_REQUEST_LIMIT = 64 * 1024
_REPLY_WAIT = 3.0


class SimScannerError(LoyaltyError):
    """The simulated scanner could not do what was asked (exit status 2)."""

    code = "sim_scanner"
    exit_status = 2


def default_control_path() -> Path:
    """Where the simulator listens: per user, so two testers on one machine do not collide."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and Path(runtime).is_dir():
        return Path(runtime) / "pos-loyalty-sim-scanner.sock"
    return Path(tempfile.gettempdir()) / f"pos-loyalty-sim-scanner-{os.getuid()}.sock"


def frame_bytes(code: str, suffix: str = "cr", aim: str | None = None) -> bytes:
    """The bytes a scanner sends for ``code``; BadInput for an unknown suffix or AIM id."""
    if suffix not in SUFFIXES:
        raise BadInput(f"The suffix must be one of {', '.join(SUFFIXES)}, not {suffix!r}.")
    if aim is not None and not is_aim_identifier(aim):
        raise BadInput(f"{aim!r} is not an AIM identifier like ]Q1.")
    return f"{aim or ''}{code}".encode() + SUFFIXES[suffix]


class SimScanner:
    """A pseudo-terminal that behaves like a serial scanner's port."""

    def __init__(self, write_wait: float = 1.0) -> None:
        """``write_wait``: seconds a scan may wait for room in the pty before giving up."""
        self._write_wait = write_wait
        self._master, self._slave = os.openpty()
        self._open_fds: tuple[int, ...] = (self._master, self._slave)
        # Raw mode on the slave: no CR/LF translation, no echo, bytes arrive as sent.
        # Keeping the slave open holds these settings and keeps the pty alive between
        # readers, like a scanner that stays plugged in.
        tty.setraw(self._slave)
        os.set_blocking(self._master, False)  # a full pty must not hang the simulator
        self.device_path = os.ttyname(self._slave)

    def scan(self, code: str, suffix: Suffix = "cr", aim: str | None = None) -> None:
        """Send ``code`` as one scan, e.g. ``scan("M1...", suffix="crlf", aim="]Q1")``."""
        self.send_raw(frame_bytes(code, suffix, aim))

    def send_raw(self, data: bytes) -> None:
        """Send bytes exactly as given: noise, half frames, several frames at once."""
        view = memoryview(data)
        deadline = time.monotonic() + self._write_wait
        while view:
            try:
                view = view[os.write(self._master, view) :]
            except BlockingIOError:
                left = deadline - time.monotonic()
                if left <= 0 or not select.select([], [self._master], [], left)[1]:
                    raise SimScannerError(
                        f"Nothing is reading {self.device_path}; the scan was not delivered."
                    ) from None

    def close(self) -> None:
        """Unplug: a reader sees the device disappear. Safe to call twice."""
        # Close each fd once only: a second os.close could hit a reused descriptor.
        fds, self._open_fds = self._open_fds, ()
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> SimScanner:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


# --- control channel -------------------------------------------------------------------


class ScanControl:
    """The simulator's end of the control socket."""

    def __init__(self, sim: SimScanner, path: Path) -> None:
        self.sim = sim
        self.path = path
        self._socket = _listen(path)

    def serve(
        self,
        stop: threading.Event | None = None,
        on_scan: Callable[[str], object] = print,
    ) -> None:
        """Answer requests until ``stop`` is set (or forever); ``on_scan`` gets a log line."""
        self._socket.settimeout(0.25)  # so ``stop`` is noticed promptly
        while stop is None or not stop.is_set():
            try:
                conn, _ = self._socket.accept()
            except TimeoutError:
                continue
            with conn:
                self._answer(conn, on_scan)

    def close(self) -> None:
        self._socket.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    def __enter__(self) -> ScanControl:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _answer(self, conn: socket.socket, on_scan: Callable[[str], object]) -> None:
        conn.settimeout(_REPLY_WAIT)
        try:
            code, suffix, aim = _parse_request(_read_line(conn))
            self.sim.send_raw(frame_bytes(code, suffix, aim))
        except LoyaltyError as exc:
            reply = {"ok": False, "error": exc.message}
        except OSError as exc:
            reply = {"ok": False, "error": f"The simulated scanner failed ({exc.strerror})."}
        else:
            reply = {"ok": True}
            on_scan(f"scan: {code} (suffix {suffix}, aim {aim or 'none'})")
        with contextlib.suppress(OSError):  # the sender may have given up waiting
            conn.sendall(json.dumps(reply).encode() + b"\n")


def _parse_request(line: bytes) -> tuple[str, str, str | None]:
    """(code, suffix, aim) of a control request; BadInput if it is not one."""
    try:
        request = json.loads(line)
        code, suffix, aim = request["code"], request.get("suffix", "cr"), request.get("aim")
    except (ValueError, KeyError, TypeError):
        raise BadInput("The simulated scanner could not read that request.") from None
    if not all(isinstance(v, str) for v in (code, suffix)) or not isinstance(aim, str | None):
        raise BadInput("The simulated scanner could not read that request.")
    return code, suffix, aim


def send_scan(path: Path, code: str, suffix: str = "cr", aim: str | None = None) -> None:
    """Ask the running simulator at ``path`` to scan ``code``; SimScannerError otherwise."""
    frame_bytes(code, suffix, aim)  # refuse bad input here, before touching the socket
    request = json.dumps({"code": code, "suffix": suffix, "aim": aim}).encode() + b"\n"
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.settimeout(_REPLY_WAIT)
        try:
            conn.connect(str(path))
        except (FileNotFoundError, ConnectionRefusedError):
            raise SimScannerError(NOT_RUNNING) from None
        try:
            conn.sendall(request)
            reply = json.loads(_read_line(conn))
        except (OSError, ValueError):
            raise SimScannerError(f"The simulated scanner at {path} did not answer.") from None
    if not reply.get("ok"):
        raise SimScannerError(str(reply.get("error", "The simulated scanner refused the scan.")))


def _listen(path: Path) -> socket.socket:
    if _someone_listens(path):
        raise SimScannerError(f"A simulated scanner is already running (control socket {path}).")
    with contextlib.suppress(FileNotFoundError):
        path.unlink()  # left behind by a simulator that was killed
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.bind(str(path))
    except OSError as exc:
        sock.close()
        raise SimScannerError(f"Cannot listen on {path} ({exc.strerror}).") from None
    path.chmod(0o600)  # only this user may scan into this user's till
    sock.listen()
    return sock


def _someone_listens(path: Path) -> bool:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as probe:
        try:
            probe.connect(str(path))
        except OSError:
            return False
        return True


def _read_line(conn: socket.socket) -> bytes:
    data = bytearray()
    while not data.endswith(b"\n"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk
        if len(data) > _REQUEST_LIMIT:
            raise BadInput("That request is too long for the simulated scanner.")
    return bytes(data)


# --- command line ----------------------------------------------------------------------


def _add_control_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--control",
        type=Path,
        default=None,
        metavar="PATH",
        help=f"control socket (default: {default_control_path()})",
    )


def main_scanner(argv: list[str] | None = None) -> int:
    """``pos-loyalty sim scanner``: run a simulated scanner until Ctrl-C."""
    parser = argparse.ArgumentParser(
        prog="pos-loyalty sim scanner",
        description="Run a simulated serial scanner on a pseudo-terminal.",
    )
    _add_control_option(parser)
    args = parser.parse_args(argv)
    path = args.control or default_control_path()
    try:
        with SimScanner() as sim, ScanControl(sim, path) as control, sigterm_as_interrupt():
            print(f"device: {sim.device_path}", flush=True)
            control.serve(on_scan=lambda line: print(line, flush=True))
    except SimScannerError as exc:
        print(exc.message, file=sys.stderr)
        return exc.exit_status
    except KeyboardInterrupt:
        return 0
    return 0


def main_scan(argv: list[str] | None = None) -> int:
    """``pos-loyalty sim scan CODE``: scan one code into the running simulator."""
    parser = argparse.ArgumentParser(
        prog="pos-loyalty sim scan",
        description="Scan a code into the running simulated scanner.",
    )
    parser.add_argument("code", metavar="CODE")
    parser.add_argument("--suffix", choices=tuple(SUFFIXES), default="cr")
    parser.add_argument("--aim", default=None, help="AIM identifier to prefix, e.g. ]Q1")
    _add_control_option(parser)
    args = parser.parse_args(argv)
    if not args.code.strip():
        print("Give the code to scan; an empty scan is not a scan.", file=sys.stderr)
        return 2
    try:
        send_scan(args.control or default_control_path(), args.code, args.suffix, args.aim)
    except LoyaltyError as exc:
        print(exc.message, file=sys.stderr)
        return exc.exit_status
    return 0


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """Treat SIGTERM like Ctrl-C, so a process stopped by ``demo`` (or the demo itself)
    still cleans up."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be set from the main thread
        return

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _main(argv: list[str]) -> int:
    commands = {"scanner": main_scanner, "scan": main_scan}
    if not argv or argv[0] not in commands:
        print("usage: python -m drivers.sim_scanner {scanner|scan} ...", file=sys.stderr)
        return 2
    return commands[argv[0]](argv[1:])


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
