"""Serial barcode scanner: bytes from the port in, checked scans out.

The pure core is ``FrameSplitter`` (bytes -> frames), ``decode_frame`` (frame -> ``Scan``)
and ``ScanStream`` (both, plus the duplicate filter and the missing-suffix watchdog); it
needs no port, so the tests drive it directly. ``SerialScanner`` is the thin shell: it opens
the port with pyserial, runs a reader thread with bounded read timeouts, and hands each
``Scan`` to a callback and/or a queue.

Keyboard-wedge scanners type into the UI instead; the UI and this driver share ``classify``
so a code means the same thing whichever way it arrives.
"""

from __future__ import annotations

import contextlib
import errno
import logging
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from queue import Queue
from typing import Literal

import serial

from pos_loyalty.config import Scanner as ScannerConfig
from pos_loyalty.errors import BadScan, ConfigError, LoyaltyError
from pos_loyalty.members import parse_member_code

log = logging.getLogger(__name__)

AimMode = Literal["off", "optional", "required"]
AIM_MODES: tuple[str, ...] = ("off", "optional", "required")

# What the cashier reads. One sentence each, saying what to do next.
UNREADABLE = "The scanner sent something unreadable; scan again."
TOO_LONG = "The scanner sent more than any code holds; scan again."
NO_END = "The scanner sent a code without an end of line; set its suffix to CR or LF."
NO_AIM = (
    "The scanner did not say what kind of code it read; "
    'switch on its AIM prefix or set scanner.aim to "optional".'
)

# "]" + symbology letter + modifier character, e.g. ]Q1 (QR), ]C0 (Code 128), ]E0 (EAN-13).
_AIM_PREFIX = re.compile(r"\][A-Za-z][0-9A-Za-z]")
_CR, _LF = 0x0D, 0x0A
_TERMINATOR = re.compile(rb"[\r\n]")


class ScannerError(LoyaltyError):
    """The scanner could not be opened or read; the message says what to check."""

    code = "scanner_error"


@dataclass(frozen=True, slots=True)
class Scan:
    """One read from the scanner: a code, or the sentence saying why it was unusable."""

    code: str = ""
    symbology: str | None = None  # the AIM identifier, e.g. "]Q1", when the scanner sent one
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    @classmethod
    def bad(cls, sentence: str) -> Scan:
        return cls(error=sentence)


def is_aim_identifier(text: str) -> bool:
    return _AIM_PREFIX.fullmatch(text) is not None


def split_aim(text: str) -> tuple[str | None, str]:
    """(AIM identifier or None, the rest) of a scanned text."""
    if _AIM_PREFIX.match(text):
        return text[:3], text[3:]
    return None, text


def classify(scan: Scan | str) -> str:
    """The member id in a scan or in typed/wedge text; BadScan with the cashier's sentence.

    A leading AIM identifier is dropped: a keyboard-wedge scanner may type one, and no
    member code starts with "]".
    """
    if isinstance(scan, Scan):
        if scan.error is not None:
            raise BadScan(scan.error)
        text = scan.code
    else:
        text = split_aim(scan.strip())[1]
    return parse_member_code(text)


# --- framing ---------------------------------------------------------------------------


class OverlongFrame(bytes):
    """A frame that ran past the maximum length: its first ``max_length`` bytes."""


class FrameSplitter:
    """Splits a byte stream into frames ending in CR, LF or CRLF.

    Empty frames are dropped, so the LF of a CRLF that arrives in a later read cannot turn
    into a bogus frame. A frame longer than ``max_length`` is returned once, as an
    ``OverlongFrame``, as soon as it overflows; the rest of it, up to the next terminator,
    is discarded (a scanner spewing junk without line ends must not grow memory).
    """

    def __init__(self, max_length: int = 512) -> None:
        if max_length < 1:
            raise ValueError("max_length must be at least 1")
        self.max_length = max_length
        self._buffer = bytearray()
        self._discarding = False

    @property
    def pending(self) -> bool:
        """Whether part of a frame is waiting for its terminator."""
        return bool(self._buffer)

    def feed(self, data: bytes) -> list[bytes]:
        frames: list[bytes] = []
        *complete, tail = _TERMINATOR.split(data)
        for piece in complete:
            self._append(piece, frames)
            self._end_frame(frames)
        self._append(tail, frames)
        return frames

    def flush(self) -> bytes:
        """Drop and return the unterminated partial frame, if any."""
        partial = bytes(self._buffer)
        self._buffer.clear()
        self._discarding = False
        return partial

    def _append(self, piece: bytes, frames: list[bytes]) -> None:
        if self._discarding or not piece:
            return
        self._buffer += piece
        if len(self._buffer) > self.max_length:
            frames.append(OverlongFrame(self._buffer[: self.max_length]))
            self._buffer.clear()
            self._discarding = True

    def _end_frame(self, frames: list[bytes]) -> None:
        if self._buffer:
            frames.append(bytes(self._buffer))
            self._buffer.clear()
        self._discarding = False


# --- decoding --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ScannerSettings:
    """How scans are checked; mirrors the config's ``[scanner]`` table."""

    aim: AimMode = "optional"
    # AIM identifiers accepted, e.g. {"]Q1"}; empty accepts any.
    symbologies: frozenset[str] = field(default_factory=frozenset)
    duplicate_window: float = 1.5  # seconds; a repeat of the last code within it is ignored
    max_frame: int = 512
    stale_after: float = 2.0  # seconds a partial frame may wait for its line end

    @classmethod
    def from_config(cls, scanner: ScannerConfig) -> ScannerSettings:
        return cls(
            aim=scanner.aim,
            symbologies=frozenset(scanner.symbologies),
            duplicate_window=scanner.duplicate_window_seconds,
        )

    def __post_init__(self) -> None:
        if self.aim not in AIM_MODES:
            modes = ", ".join(AIM_MODES)
            raise ConfigError(f"scanner.aim must be one of {modes}, not {self.aim!r}.")
        bad = sorted(s for s in self.symbologies if not is_aim_identifier(s))
        if bad:
            raise ConfigError(
                f"scanner.symbologies holds {bad[0]!r}, which is not an AIM identifier like ]Q1."
            )
        if self.duplicate_window < 0:
            raise ConfigError("scanner.duplicate_window must be zero or more seconds.")
        if self.max_frame < 1:
            raise ConfigError("scanner.max_frame must be at least 1 byte.")
        if self.stale_after <= 0:
            raise ConfigError("scanner.stale_after must be more than zero seconds.")


def decode_frame(frame: bytes, settings: ScannerSettings) -> Scan | None:
    """The scan a frame carries; None for a blank line."""
    if isinstance(frame, OverlongFrame):
        return Scan.bad(TOO_LONG)
    frame = frame.strip(b" \t")  # some scanners pad or add a tab before the line end
    if not frame:
        return None
    try:
        text = frame.decode("utf-8")
    except UnicodeDecodeError:
        return Scan.bad(UNREADABLE)
    if not text.isprintable():
        return Scan.bad(UNREADABLE)
    return _check_aim(text, settings)


def _check_aim(text: str, settings: ScannerSettings) -> Scan:
    if settings.aim == "off":
        return Scan(code=text)
    symbology, code = split_aim(text)
    if symbology is None:
        return Scan.bad(NO_AIM) if settings.aim == "required" else Scan(code=text)
    if settings.symbologies and symbology not in settings.symbologies:
        return Scan.bad(
            f"That kind of barcode ({symbology}) is not accepted at this till; "
            "scan the member's code."
        )
    if not code:
        return Scan.bad(UNREADABLE)
    return Scan(code=code, symbology=symbology)


class DuplicateFilter:
    """Ignores a repeat of the most recent code within ``window`` seconds of its last read.

    The window restarts on every repeat: a phone held under a presentation scanner counts
    once however long it stays there. A different code in between ends the run, so A, B, A
    is three scans.
    """

    def __init__(self, window: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._clock = clock
        self._last_code: str | None = None
        self._last_seen = 0.0

    def is_repeat(self, code: str) -> bool:
        now = self._clock()
        repeat = code == self._last_code and now - self._last_seen < self.window
        self._last_code, self._last_seen = code, now
        return repeat


class ScanStream:
    """Bytes from a scanner in, scans out: framing, decoding, duplicates, missing suffix."""

    def __init__(
        self, settings: ScannerSettings, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._splitter = FrameSplitter(settings.max_frame)
        self._duplicates = DuplicateFilter(settings.duplicate_window, clock)
        self._last_data = clock()

    def feed(self, data: bytes) -> list[Scan]:
        if data:
            self._last_data = self._clock()
        scans = []
        for frame in self._splitter.feed(data):
            scan = decode_frame(frame, self.settings)
            if scan is not None and not (scan.ok and self._duplicates.is_repeat(scan.code)):
                scans.append(scan)
        return scans

    def idle(self) -> list[Scan]:
        """Call when a read timed out: reports a frame whose line end never came."""
        if not self._splitter.pending:
            return []
        if self._clock() - self._last_data < self.settings.stale_after:
            return []
        self._splitter.flush()
        return [Scan.bad(NO_END)]

    def reset(self) -> None:
        """Forget any partial frame (after the port was reopened)."""
        self._splitter.flush()


# --- the port ----------------------------------------------------------------------------


def open_port(port: str, baudrate: int, timeout: float) -> serial.SerialBase:
    """The scanner's port opened for reading, or ScannerError with what to check."""
    try:
        return serial.serial_for_url(port, baudrate=baudrate, timeout=timeout, exclusive=True)
    except serial.SerialException as exc:
        raise _open_error(port, exc) from exc
    except ValueError as exc:
        raise ScannerError(
            f"The scanner settings are not usable (port {port}, baud {baudrate}): {exc}."
        ) from exc


def _open_error(port: str, exc: BaseException) -> ScannerError:
    code = getattr(exc, "errno", None) or getattr(exc.__context__, "errno", None)
    if code in (errno.ENOENT, errno.ENODEV, errno.ENXIO):
        return ScannerError(f"No scanner at {port}: check the cable and the config's scanner.port.")
    if code in (errno.EACCES, errno.EPERM):
        return ScannerError(
            f"This user may not open the scanner at {port}: add it to the dialout group "
            "(sudo usermod -aG dialout $USER, then log in again) or add a udev rule for it."
        )
    if code in (errno.EBUSY, errno.EAGAIN):
        return ScannerError(f"The scanner at {port} is in use by another program; close that one.")
    return ScannerError(f"Could not open the scanner at {port} ({exc}).")


class SerialScanner:
    """Reads a serial (or USB-CDC) barcode scanner on a thread and delivers ``Scan``s.

    ``on_scan`` and ``queue`` are called/filled from the reader thread. If the port goes
    away (cable pulled) one error scan is delivered and the port is retried every
    ``reconnect_every`` seconds until ``stop()``.
    """

    def __init__(
        self,
        port: str,
        *,
        baudrate: int = 9600,
        settings: ScannerSettings | None = None,
        on_scan: Callable[[Scan], object] | None = None,
        queue: Queue[Scan] | None = None,
        read_timeout: float = 0.1,
        reconnect_every: float = 1.0,
    ) -> None:
        if on_scan is None and queue is None:
            raise ValueError("SerialScanner needs on_scan, queue, or both")
        self.port = port
        self.baudrate = baudrate
        self.settings = settings or ScannerSettings()
        self._sinks: list[Callable[[Scan], object]] = []
        if on_scan is not None:
            self._sinks.append(on_scan)
        if queue is not None:
            self._sinks.append(queue.put)
        self._read_timeout = read_timeout
        self._reconnect_every = reconnect_every
        self._stream = ScanStream(self.settings)
        self._serial: serial.SerialBase | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @classmethod
    def from_config(
        cls,
        scanner: ScannerConfig,
        *,
        on_scan: Callable[[Scan], object] | None = None,
        queue: Queue[Scan] | None = None,
    ) -> SerialScanner:
        """The serial scanner a config's ``[scanner]`` table describes."""
        if scanner.transport != "serial":
            raise ConfigError('scanner.transport: this till has no serial scanner (not "serial").')
        return cls(
            scanner.port,
            baudrate=scanner.baudrate,
            settings=ScannerSettings.from_config(scanner),
            on_scan=on_scan,
            queue=queue,
        )

    def start(self) -> None:
        """Open the port (ScannerError if it cannot be) and start reading."""
        if self.running:
            return
        self._serial = open_port(self.port, self.baudrate, self._read_timeout)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="scanner-reader", daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 0.5) -> None:
        """Stop reading and close the port; returns within about ``timeout`` seconds."""
        # The reader notices within one read timeout; it closes the port itself, so no
        # other thread ever touches a port that may be mid-read.
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> SerialScanner:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _run(self) -> None:
        try:
            while not self._stopping.is_set():
                if self._serial is None and not self._reopen():
                    continue
                data = self._read()
                scans = self._stream.feed(data) if data else self._stream.idle()
                self._deliver_all(scans)
        finally:
            self._close()

    def _read(self) -> bytes:
        assert self._serial is not None
        try:
            return self._serial.read(max(1, self._serial.in_waiting))
        except (serial.SerialException, OSError):
            if not self._stopping.is_set():
                self._close()
                self._deliver(
                    Scan.bad(f"The scanner at {self.port} stopped answering; check its cable.")
                )
            return b""

    def _reopen(self) -> bool:
        if self._stopping.wait(self._reconnect_every):
            return False
        try:
            self._serial = open_port(self.port, self.baudrate, self._read_timeout)
        except ScannerError:
            return False
        self._stream.reset()
        return True

    def _close(self) -> None:
        port, self._serial = self._serial, None
        if port is not None:
            with contextlib.suppress(serial.SerialException, OSError):  # already gone
                port.close()

    def _deliver_all(self, scans: Iterable[Scan]) -> None:
        for scan in scans:
            self._deliver(scan)

    def _deliver(self, scan: Scan) -> None:
        for sink in self._sinks:
            try:
                sink(scan)
            except Exception:
                # A faulty consumer must not stop the scanner for the rest of the day.
                log.exception("scan consumer failed")
