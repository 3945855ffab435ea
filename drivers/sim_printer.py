"""A simulated network ESC/POS printer: a TCP server that behaves like a thermal printer on
port 9100, so the till, python-escpos and the tests can print with no hardware.

It serves one connection at a time, as a printer's network card does (later connections wait
in the backlog). Bytes are read as they come; status requests (DLE EOT n, GS r n, ESC u, ESC v,
GS I n) are answered in sequence with the bytes an Epson printer sends. A job ends when the
client closes the connection, or after ``idle_timeout`` seconds without bytes. A connection
that only asked for status is not a job. Each job is written to the out dir as
``job-0001.bin`` (bytes received), ``.log`` (outcome, status exchanges, events, warnings), and,
when something was printed, ``.txt`` and ``.png`` (see ``drivers.receipt_render``).

Faults (``set_fault(name)``, ``--fault NAME``):

==============  ===============================================================================
None            healthy
near_end        prints; status reports the paper near its end
paper_out       status reports no paper and the printer offline; bytes that arrive while out
                are discarded, not printed (a real printer would hold them until a new roll is
                loaded, but a till must never count on that: it has to reprint). The job is
                logged with outcome "paper_out"; a .txt/.png is written only for what arrived
                before the paper ran out.
cover_open      like paper_out, with the cover-open status bits
offline         refuses connections (the listening socket is closed: connect() gets ECONNREFUSED)
silent          reads everything, never answers: its sending side is shut at once, so a client
                reading a status reply sees end-of-stream (one-way links, ``socat -u``)
unresponsive    reads everything, never answers, keeps the line open: a client's read times out
slow            reads at ``rate`` bytes per second (default 960, a 9600-baud serial line)
drop            resets the connection after ``drop_after`` bytes of a job (default 64); the
                partial job is logged with outcome "dropped" and is not printed
==============  ===============================================================================

Each job is interpreted from the printer's power-on state (code page ``default_code_page``,
default styles): a till must not rely on modes left over from an earlier connection, which a
real printer loses at its next power cycle.

Changing the fault from another process: start with ``--control-file PATH``; the simulator
reads the file whenever it changes (polled every 0.2 s) and applies the fault named on its first
line (``none`` or an empty file for healthy): ``echo paper_out > PATH``.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import logging
import re
import select
import signal
import socket
import struct
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType

from drivers.escpos_parse import (
    PAPERS,
    STATUS_COMMANDS,
    Job,
    Paper,
    Token,
    lex,
    next_token,
    parse_job,
    profile_code_pages,
)
from drivers.receipt_render import render_image, render_text

log = logging.getLogger(__name__)

TICK = 0.05  # how often loops look at stop requests, fault changes and idle time
CONTROL_POLL = 0.2
READ_SIZE = 65536


@dataclass(frozen=True)
class Fault:
    """What a fault does to the status bytes, the connection and the paper."""

    paper: str = "ok"  # "ok", "near_end" or "out"
    cover_open: bool = False
    accepts: bool = True
    answers: str = "yes"  # "yes", "eof" (sending side shut) or "never"
    rate_limited: bool = False
    drops: bool = False

    @property
    def prints(self) -> bool:
        return self.paper != "out" and not self.cover_open


FAULTS: dict[str | None, Fault] = {
    None: Fault(),
    "near_end": Fault(paper="near_end"),
    "paper_out": Fault(paper="out"),
    "cover_open": Fault(cover_open=True),
    "offline": Fault(accepts=False),
    "silent": Fault(answers="eof"),
    "unresponsive": Fault(answers="never"),
    "slow": Fault(rate_limited=True),
    "drop": Fault(drops=True),
}


# -- status bytes (Epson): bits 1 and 4 of every DLE EOT reply are fixed at 1 -----------------


def _printer_status(fault: Fault) -> int:
    return 0x12 | (0x08 if not fault.prints else 0)  # bit 3: offline


def _offline_cause(fault: Fault) -> int:
    return 0x12 | (0x04 if fault.cover_open else 0) | (0x20 if fault.paper == "out" else 0)


def _roll_sensor(fault: Fault) -> int:
    near_end = 0x0C if fault.paper in ("near_end", "out") else 0  # bits 2-3: near-end sensor
    return 0x12 | near_end | (0x60 if fault.paper == "out" else 0)  # bits 5-6: paper end


def _paper_sensor(fault: Fault) -> int:  # GS r 1, ESC v: no fixed bits
    return (0x03 if fault.paper in ("near_end", "out") else 0) | (
        0x0C if fault.paper == "out" else 0
    )


_STATUS_REPLIES: dict[tuple[str, int | None], Callable[[Fault], bytes]] = {
    ("DLE EOT", 1): lambda f: bytes([_printer_status(f)]),
    ("DLE EOT", 2): lambda f: bytes([_offline_cause(f)]),
    ("DLE EOT", 3): lambda f: b"\x12",  # no mechanical or cutter error
    ("DLE EOT", 4): lambda f: bytes([_roll_sensor(f)]),
    **{("GS r", n): lambda f: bytes([_paper_sensor(f)]) for n in (1, 49)},
    **{("GS r", n): lambda f: b"\x00" for n in (2, 50)},  # drawer kick connector low
    ("ESC v", None): lambda f: bytes([_paper_sensor(f)]),
    **{("ESC u", n): lambda f: b"\x00" for n in (0, 48)},
    **{("GS I", n): lambda f: b"\x20" for n in (1, 49)},  # printer model ID
    **{("GS I", n): lambda f: b"\x02" for n in (2, 50)},  # type ID: autocutter fitted
    ("GS I", 65): lambda f: b"_1.00 SIM\x00",
    ("GS I", 66): lambda f: b"_POS-LOYALTY\x00",
    ("GS I", 67): lambda f: b"_SIM PRINTER\x00",
}


def status_reply(token: Token, fault: Fault) -> bytes | None:
    """The bytes a printer in `fault` sends back for a status request, None if it sends none."""
    reply = _STATUS_REPLIES.get((token.name, token.args[0] if token.args else None))
    return reply(fault) if reply else None


# -- jobs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PrintJob:
    """One job as the simulator recorded it."""

    number: int
    outcome: str  # "printed", "paper_out", "cover_open" or "dropped"
    raw: bytes
    parsed: Job
    text: str  # what was printed; "" when nothing was
    warnings: tuple[str, ...]
    exchanges: tuple[str, ...]
    bin_path: Path
    log_path: Path
    txt_path: Path | None
    png_path: Path | None

    @property
    def printed(self) -> bool:
        return self.txt_path is not None


@dataclass
class _Reception:
    """The bytes of the job being received on a connection."""

    peer: str
    raw: bytearray = field(default_factory=bytearray)
    printable: bytearray = field(default_factory=bytearray)
    scanned: int = 0  # how far status requests have been looked for
    discarded_by: str | None = None
    dropped: bool = False
    exchanges: list[str] = field(default_factory=list)
    last_byte: float = field(default_factory=time.monotonic)

    def add(self, chunk: bytes, fault_name: str | None, fault: Fault) -> None:
        self.raw += chunk
        self.last_byte = time.monotonic()
        if fault.prints:
            self.printable += chunk
        else:
            self.discarded_by = self.discarded_by or fault_name

    def status_requests(self) -> list[Token]:
        """Status requests completed since the last call."""
        found: list[Token] = []
        while self.scanned < len(self.raw):
            token = next_token(self.raw, self.scanned)
            if token is None:
                break
            self.scanned += len(token.raw)
            if token.name in STATUS_COMMANDS:
                found.append(token)
        return found

    def is_status_only(self) -> bool:
        return all(token.name in STATUS_COMMANDS for token in lex(self.raw))


class SimPrinter:
    """The simulated printer. ``start()`` binds (port 0 picks a free port, see ``.port``)."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        out_dir: Path | str | None = None,
        paper: Paper | int = 80,
        fault: str | None = None,
        *,
        rate: int = 960,
        drop_after: int = 64,
        idle_timeout: float | None = None,
        control_file: Path | str | None = None,
        default_code_page: int = 0,
        profile: str | None = None,
        on_job: Callable[[PrintJob], None] | None = None,
    ) -> None:
        _check_fault(fault)
        self.host, self.port = host, port
        self.out_dir = Path(out_dir or tempfile.mkdtemp(prefix="sim-printer-"))
        self.paper = paper if isinstance(paper, Paper) else PAPERS[paper]
        self.rate, self.drop_after, self.idle_timeout = max(1, rate), drop_after, idle_timeout
        self.control_file = Path(control_file) if control_file else None
        self.default_code_page = default_code_page
        # A profile gives the model's own code-page numbering; without one, Epson's.
        self.code_pages = profile_code_pages(profile) if profile else None
        self.on_job = on_job
        self._fault_name = fault
        self._jobs: list[PrintJob] = []
        self._changed = threading.Condition()
        self._fault_generation = self._applied_generation = 0
        self._listener: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._control_seen: int | None = None
        self._control_checked = 0.0
        self._next_number = 1

    # -- the API for tests and the CLI --------------------------------------------------------

    def start(self) -> SimPrinter:
        # Receipts name members (masked phones, names): this user's only, as the till's files.
        self.out_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._next_number = _next_job_number(self.out_dir)
        self._open_listener()  # raises here, in the caller, when the port is taken
        self._stopping.clear()
        self._thread = threading.Thread(target=self._serve, name="sim-printer", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._close_listener()

    def __enter__(self) -> SimPrinter:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def fault(self) -> str | None:
        return self._fault_name

    def set_fault(self, name: str | None) -> None:
        """Switch fault; returns once the server has applied it (e.g. stopped listening)."""
        _check_fault(name)
        with self._changed:
            self._fault_name = name
            self._fault_generation += 1
            wanted = self._fault_generation
            serving = self._thread is not None and self._thread.is_alive()
            if serving and self._thread is not threading.current_thread():
                self._changed.wait_for(lambda: self._applied_generation >= wanted, 2.0)

    @property
    def jobs(self) -> list[PrintJob]:
        with self._changed:
            return list(self._jobs)

    def wait_for_jobs(self, count: int, timeout: float = 5.0) -> list[PrintJob]:
        """The first `count` jobs, waiting for them; TimeoutError if they do not come."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._jobs) >= count, timeout):
                raise TimeoutError(f"{len(self._jobs)} of {count} print jobs after {timeout} s")
            return list(self._jobs[:count])

    # -- listening ----------------------------------------------------------------------------

    def _open_listener(self) -> None:
        self._listener = socket.create_server((self.host, self.port), backlog=8)
        self.port = self._listener.getsockname()[1]

    def _close_listener(self) -> None:
        if self._listener:
            self._listener.close()
            self._listener = None

    def _sync(self) -> Fault:
        """Apply control-file changes and the listening state the fault wants."""
        self._poll_control_file()
        with self._changed:
            fault = FAULTS[self._fault_name]
            generation = self._fault_generation
        if fault.accepts and self._listener is None:
            try:
                self._open_listener()
            except OSError as error:  # someone took the port meanwhile: try again next tick
                log.warning("cannot listen again on %s:%s: %s", self.host, self.port, error)
        elif not fault.accepts:
            self._close_listener()
        with self._changed:
            self._applied_generation = max(self._applied_generation, generation)
            self._changed.notify_all()
        return fault

    def _poll_control_file(self) -> None:
        if not self.control_file or time.monotonic() - self._control_checked < CONTROL_POLL:
            return
        self._control_checked = time.monotonic()
        try:
            stamp = self.control_file.stat().st_mtime_ns
            if stamp == self._control_seen:
                return
            self._control_seen = stamp
            words = self.control_file.read_text(encoding="utf-8").split()
        except OSError:
            return
        name = None if not words or words[0].lower() in ("none", "healthy") else words[0]
        if name not in FAULTS:
            log.warning(
                "The control file names %r, which is not a fault; still %s.",
                name,
                self.fault or "healthy",
            )
            return
        with self._changed:
            self._fault_name = name
            self._fault_generation += 1
        log.info("fault set to %s from the control file", name or "none")

    def _serve(self) -> None:
        while not self._stopping.is_set():
            self._sync()
            listener = self._listener
            if listener is None:
                time.sleep(TICK)
                continue
            try:
                if not select.select([listener], [], [], TICK)[0]:
                    continue
                connection, address = listener.accept()
            except (OSError, ValueError):  # closed by a fault change
                continue
            with connection:
                self._serve_connection(connection, f"{address[0]}:{address[1]}")
        self._close_listener()

    # -- one connection -----------------------------------------------------------------------

    def _serve_connection(self, connection: socket.socket, peer: str) -> None:
        fault = self._sync()
        with contextlib.suppress(OSError):  # the client has gone; what it sent is still read
            if fault.answers == "eof":
                connection.shutdown(socket.SHUT_WR)
            if fault.rate_limited:  # a small window makes the client feel the slow reader
                connection.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        reception = _Reception(peer)
        while not self._stopping.is_set():
            fault = self._sync()
            if not fault.accepts:  # switched off under the client's feet
                reception.dropped = True
                break
            if not select.select([connection], [], [], TICK)[0]:
                reception = self._end_if_idle(reception)
                continue
            size = max(1, self.rate // 10) if fault.rate_limited else READ_SIZE
            try:
                chunk = connection.recv(size)
            except OSError:
                chunk = b""
            if not chunk:
                break
            reception.add(chunk, self.fault, fault)
            self._answer(connection, reception, fault)
            if fault.rate_limited:
                time.sleep(len(chunk) / self.rate)
            if fault.drops and len(reception.raw) >= self.drop_after:
                reception.dropped = True
                break
        if reception.dropped:
            _abort(connection)
        connection.close()
        self._finish(reception)

    def _end_if_idle(self, reception: _Reception) -> _Reception:
        idle = time.monotonic() - reception.last_byte
        if self.idle_timeout is None or not reception.raw or idle < self.idle_timeout:
            return reception
        self._finish(reception)
        return _Reception(reception.peer)

    def _answer(self, connection: socket.socket, reception: _Reception, fault: Fault) -> None:
        for token in reception.status_requests():
            reply = status_reply(token, fault)
            request = f"{token.name} {' '.join(map(str, token.args))}".strip()
            if reply is None or fault.answers != "yes":
                reception.exchanges.append(f"offset {token.offset}: {request} -> no answer")
                continue
            try:
                connection.sendall(reply)
            except OSError:
                return
            reception.exchanges.append(f"offset {token.offset}: {request} -> {reply.hex(' ')}")

    # -- recording ----------------------------------------------------------------------------

    def _finish(self, reception: _Reception) -> None:
        if not reception.raw or reception.is_status_only():
            return
        try:
            job = self._record(reception)
        except Exception:  # a simulator bug must not stop the printer: keep serving
            log.exception("could not record a job from %s", reception.peer)
            return
        with self._changed:
            self._jobs.append(job)
            self._changed.notify_all()
        if self.on_job:
            self.on_job(job)

    def _record(self, reception: _Reception) -> PrintJob:
        number, self._next_number = self._next_number, self._next_number + 1
        stem = self.out_dir / f"job-{number:04d}"
        parsed = parse_job(
            reception.printable,
            self.paper,
            default_code_page=self.default_code_page,
            code_pages=self.code_pages,
        )
        outcome = "dropped" if reception.dropped else reception.discarded_by or "printed"
        has_output = any(receipt.blocks for receipt in parsed.receipts)
        prints = not reception.dropped and has_output
        paths = {suffix: stem.with_suffix(suffix) for suffix in (".bin", ".log", ".txt", ".png")}
        paths[".bin"].write_bytes(bytes(reception.raw))
        text = render_text(parsed) if prints else ""
        if prints:
            paths[".txt"].write_text(text, encoding="utf-8")
            render_image(parsed).save(paths[".png"])
        job = PrintJob(
            number,
            outcome,
            bytes(reception.raw),
            parsed,
            text,
            tuple(map(str, parsed.warnings)),
            tuple(reception.exchanges),
            paths[".bin"],
            paths[".log"],
            paths[".txt"] if prints else None,
            paths[".png"] if prints else None,
        )
        paths[".log"].write_text(_log_text(job, reception), encoding="utf-8")
        return job


def _log_text(job: PrintJob, reception: _Reception) -> str:
    discarded = len(reception.raw) - len(reception.printable)
    lines = [
        f"job-{job.number:04d}: {job.outcome}; {len(job.raw)} bytes from {reception.peer}; "
        f"{len(job.parsed.receipts)} receipt(s); {len(job.warnings)} warning(s)",
    ]
    if reception.dropped:
        lines.append("connection closed by the printer mid-job: nothing was printed")
    if discarded:
        lines.append(f"{discarded} bytes arrived while {job.outcome} and were not printed")
    lines += [f"status {exchange}" for exchange in job.exchanges]
    events = [e for e in job.parsed.events if e.kind != "status"]  # exchanges list those
    lines += [f"event offset {e.offset}: {e.kind}: {e.detail}" for e in events]
    lines += [f"warning {warning}" for warning in job.warnings]
    return "\n".join(lines) + "\n"


def _abort(connection: socket.socket) -> None:
    """Make the coming close a reset, as when a printer's network card restarts: the client's
    next send fails instead of vanishing into a half-closed socket."""
    with contextlib.suppress(OSError):
        connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _check_fault(name: str | None) -> None:
    if name not in FAULTS:
        known = ", ".join(str(n) for n in FAULTS if n)
        raise ValueError(f"Unknown printer fault {name!r}; known faults: none, {known}.")


def _next_job_number(out_dir: Path) -> int:
    """Continue after the jobs already in the folder, so a restart overwrites nothing."""
    names = (path.name for path in out_dir.glob("job-*.bin"))
    numbers = [int(found[1]) for name in names if (found := re.match(r"job-(\d+)", name))]
    return max(numbers, default=0) + 1


# -- command line -----------------------------------------------------------------------------


def _arguments() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pos-loyalty sim printer",
        description="Run a simulated ESC/POS network printer; each job is written as "
        ".bin, .log, .txt and .png.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=_port, default=9100, help="TCP port, 0 for any free one")
    parser.add_argument("--out", type=Path, default=Path("sim-printer-jobs"), help="job folder")
    parser.add_argument("--paper", type=int, choices=sorted(PAPERS), default=80, help="mm")
    parser.add_argument(
        "--fault", choices=["none", *(n for n in FAULTS if n)], default="none", help="to start with"
    )
    parser.add_argument(
        "--rate", type=int, default=960, help="bytes/s for --fault slow (960: 9600 baud)"
    )
    parser.add_argument("--drop-after", type=int, default=64, help="bytes, for --fault drop")
    parser.add_argument("--idle", type=float, help="also end a job after this many idle seconds")
    parser.add_argument("--control-file", type=Path, help="file naming the fault to apply")
    parser.add_argument("--code-page", type=int, default=0, help="code page after power-on")
    parser.add_argument(
        "--profile", help="python-escpos profile whose code-page numbers to use (default Epson's)"
    )
    parser.epilog = (
        "To change the fault while it runs, start with --control-file PATH and write a fault "
        "name into that file, e.g. `echo paper_out > PATH` (`none` for healthy)."
    )
    return parser


def _job_line(job: PrintJob) -> str:
    paths = [job.txt_path, job.png_path] if job.printed else [job.bin_path, job.log_path]
    state = "printed" if job.printed else f"not printed ({job.outcome})"
    warnings = f" ({len(job.warnings)} warnings)" if job.warnings else ""
    return f"job-{job.number:04d} {state}: {' '.join(map(str, paths))}{warnings}"


def _port(text: str) -> int:
    if not text.isascii() or not text.isdigit() or int(text) > 65535:
        raise argparse.ArgumentTypeError(f"“{text}” is not a TCP port (0 to 65535)")
    return int(text)


def main(argv: list[str] | None = None) -> int:
    """``pos-loyalty sim printer``: serve until Ctrl-C or SIGTERM; 2 when it cannot listen."""
    try:
        args = _arguments().parse_args(argv)
    except SystemExit as exit_:
        return int(exit_.code or 0)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stderr)
    simulator = SimPrinter(
        args.host,
        args.port,
        args.out,
        args.paper,
        None if args.fault == "none" else args.fault,
        rate=args.rate,
        drop_after=args.drop_after,
        idle_timeout=args.idle,
        control_file=args.control_file,
        default_code_page=args.code_page,
        profile=args.profile,
        on_job=lambda job: print(_job_line(job), flush=True),
    )
    try:
        simulator.start()
    except OSError as error:
        reason = "the port is already in use" if error.errno == errno.EADDRINUSE else error.strerror
        print(f"Cannot listen on {args.host}:{args.port}: {reason}.", file=sys.stderr)
        return 2
    print(
        f"Simulated printer on {args.host}:{simulator.port} ({args.paper} mm paper), "
        f"writing jobs to {args.out}; Ctrl-C stops it.",
        flush=True,
    )
    stop = threading.Event()
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set()) if in_main_thread else None
    try:
        while not stop.wait(0.2):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        simulator.stop()
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
