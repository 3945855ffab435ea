"""The link to an ESC/POS printer: python-escpos's transports, every I/O bounded, every failure
one sentence, and a printer status that never mistakes silence for "fine".

The bytes sent are the renderer's (``drivers.escpos_render``); python-escpos is used only to
open, write, read and close its transports, never for its code-page autoselection.

Status follows the Epson real-time requests: ``DLE EOT 1`` (printer), ``DLE EOT 2`` (offline
cause, asked only when the printer says it is offline) and ``DLE EOT 4`` (roll paper sensor).
Each reply has fixed bits (bits 1 and 4 set, bits 0 and 7 clear); anything else, or no reply,
is **unknown**. python-escpos 3.1's ``paper_status()`` reads silence as "paper present", so it
is not used.
"""

from __future__ import annotations

import abc
import contextlib
import errno
import os
import select
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import TracebackType

import serial
import usb.core
from escpos.escpos import Escpos
from escpos.exceptions import DeviceNotFoundError
from escpos.printer import File, Network, Serial, Usb

from pos_loyalty.config import Printer
from pos_loyalty.errors import ConfigError, LoyaltyError

DLE_EOT = b"\x10\x04"
FIXED_MASK, FIXED_BITS = 0x93, 0x12  # bits 0, 1, 4, 7 of every DLE EOT reply: 0, 1, 1, 0
OFFLINE = 0x08  # DLE EOT 1, bit 3
COVER_OPEN = 0x04  # DLE EOT 2, bit 2
PAPER_END_STOP = 0x20  # DLE EOT 2, bit 5: printing stopped at the paper end
ROLL_NEAR_END = 0x0C  # DLE EOT 4, bits 2-3
ROLL_END = 0x60  # DLE EOT 4, bits 5-6
# A status reply queues behind the job's bytes, which a 9600-baud printer takes at 960 bytes a
# second: the slowest link we allow for when we do not know the real one (network, USB, file).
SLOWEST_BYTES_PER_SECOND = 960.0

STATES = ("online", "near_end", "paper_out", "cover_open", "offline", "unknown")
HOLDING = frozenset({"paper_out", "cover_open", "offline"})  # sending now would lose the slip

READY = "The printer is ready."
NEAR_END = "The paper roll is nearly finished; have a new roll ready."
PAPER_OUT = "The printer is out of paper; load a roll and the slip will print."
COVER = "The printer cover is open; close it and the slip will print."
STOPPED = (
    "The printer is offline (an error, or the feed button held); check it and the slip will print."
)
NO_STATUS = "The printer does not answer status requests; slips are sent without a paper check."
CANNOT_READ = "This printer connection cannot report status; slips are sent without a paper check."


class PrinterError(LoyaltyError):
    """The printer could not be opened or written; the message says what to check."""

    code = "printer_error"


@dataclass(frozen=True)
class PrinterState:
    """What the cashier is told about the printer.

    ``stalled``: the link is up and can carry replies, but the printer kept silent past the
    timeout. The state is still ``unknown``, but a slip sent now may vanish, so it waits.
    """

    state: str
    detail: str
    stalled: bool = False

    @property
    def ready(self) -> bool:
        """Whether a slip may be sent now (and, after sending, whether it counts as printed)."""
        return self.state not in HOLDING and not self.stalled


def decode_status(printer: int, cause: int, roll: int) -> PrinterState:
    """The state from the replies to DLE EOT 1, 2 and 4 (each already checked for its form)."""
    if roll & ROLL_END or cause & PAPER_END_STOP:
        return PrinterState("paper_out", PAPER_OUT)
    if cause & COVER_OPEN:
        return PrinterState("cover_open", COVER)
    if printer & OFFLINE:
        return PrinterState("offline", STOPPED)
    if roll & ROLL_NEAR_END:
        return PrinterState("near_end", NEAR_END)
    return PrinterState("online", READY)


class _NoStatus(Exception):
    """The printer gave no usable status; carries the state to report instead."""

    def __init__(self, state: PrinterState) -> None:
        super().__init__(state.detail)
        self.state = state


# -- transports --------------------------------------------------------------------------------


class _Port(abc.ABC):
    """One python-escpos transport. ``read`` returns None when nothing came within the time
    and the link could have carried a reply, b"" when the link carries no replies."""

    can_read = True
    permission_hint = "give this user access to the device"

    def __init__(self, printer: Escpos, where: str) -> None:
        self.printer = printer
        self.where = where

    def open(self) -> None:
        self.printer.open()

    @abc.abstractmethod
    def write(self, data: bytes, seconds: float) -> None:
        """Send ``data`` within ``seconds`` or raise; each transport bounds it its own way."""

    def read(self, seconds: float) -> bytes | None:
        return b""

    def close(self) -> None:
        self.printer.close()


class _NetworkPort(_Port):
    printer: Network

    def write(self, data: bytes, seconds: float) -> None:
        self.printer.device.settimeout(seconds)  # sendall's timeout covers the whole send
        self.printer._raw(data)

    def read(self, seconds: float) -> bytes | None:
        self.printer.device.settimeout(seconds)
        try:
            return self.printer._read()  # b"": the printer shut its side (a one-way link)
        except TimeoutError:
            return None


class _SerialPort(_Port):
    printer: Serial
    permission_hint = (
        "add this user to the dialout group (sudo usermod -aG dialout $USER, then log in again) "
        "or add a udev rule for the port"
    )

    def __init__(self, printer: Escpos, where: str) -> None:
        super().__init__(printer, where)
        self._unsent = False

    def write(self, data: bytes, seconds: float) -> None:
        port = self.printer.device
        deadline = time.monotonic() + seconds
        port.write_timeout = seconds
        self._unsent = True
        port.write(data)
        # write() returns once the kernel holds the bytes; wait for the line to take them
        # ourselves, as close()'s flush (tcdrain) would wait forever on a flow-stopped line.
        while port.out_waiting:
            if time.monotonic() > deadline:
                raise TimeoutError(errno.ETIMEDOUT, "the serial line did not drain")
            time.sleep(0.01)
        self._unsent = False

    def read(self, seconds: float) -> bytes:
        # A serial line cannot tell a silent printer from one with no return wire: b"" for both.
        port = self.printer.device
        port.timeout = seconds
        first = port.read(1)
        return first + port.read(port.in_waiting) if first else b""

    def close(self) -> None:
        if self._unsent:  # drop what a stuck line still holds, or close() blocks in flush
            with contextlib.suppress(OSError, serial.SerialException):
                self.printer.device.reset_output_buffer()
            self._unsent = False
        super().close()


class _UsbPort(_Port):
    printer: Usb

    @property
    def permission_hint(self) -> str:  # type: ignore[override]
        vendor = self.printer.usb_args["idVendor"]
        return (
            f'add a udev rule for it (SUBSYSTEM=="usb", ATTR{{idVendor}}=="{vendor:04x}", '
            'MODE="0660", GROUP="lp") and add this user to the lp group'
        )

    def write(self, data: bytes, seconds: float) -> None:
        self.printer.timeout = _ms(seconds)  # python-escpos passes it to every USB write
        self.printer._raw(data)

    def read(self, seconds: float) -> bytes | None:
        # python-escpos's _read has no timeout of its own: read the endpoint with ours.
        try:
            return bytes(self.printer.device.read(self.printer.in_ep, 16, _ms(seconds)))
        except usb.core.USBTimeoutError:
            return None


class _FilePort(_Port):
    printer: File
    can_read = False
    permission_hint = (
        "add this user to the lp group (sudo usermod -aG lp $USER, then log in again) "
        "or add a udev rule for the device"
    )

    def open(self) -> None:
        # python-escpos opens with "wb", which would create a plain file where an unplugged
        # printer's device node was, and swallow every slip: the device must exist.
        if not os.path.exists(self.printer.devfile):
            raise FileNotFoundError(errno.ENOENT, "no such device", self.printer.devfile)
        super().open()
        os.set_blocking(self.printer.device.fileno(), False)

    def write(self, data: bytes, seconds: float) -> None:
        """Write without python-escpos's blocking write: a printer's device file blocks for as
        long as the printer does not take bytes (paper out, switched off)."""
        fd = self.printer.device.fileno()
        deadline = time.monotonic() + seconds
        rest = memoryview(data)
        while rest:
            with contextlib.suppress(BlockingIOError):
                rest = rest[os.write(fd, rest) :]
            left = deadline - time.monotonic()
            if rest and (left <= 0 or not select.select([], [fd], [], left)[1]):
                raise TimeoutError(errno.ETIMEDOUT, "the device did not take the slip")


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))  # never 0: for pyusb that means wait forever


def _port(cfg: Printer) -> _Port:
    """The python-escpos transport the config names; a config it cannot work with is refused."""
    if cfg.transport == "network":
        if not cfg.host:
            raise ConfigError("printer.host: set the printer's address for a network printer.")
        return _NetworkPort(
            Network(cfg.host, cfg.port, timeout=cfg.timeout_seconds), f"at {cfg.host}:{cfg.port}"
        )
    if cfg.transport in ("serial", "file") and not cfg.device:
        example = "/dev/ttyUSB0" if cfg.transport == "serial" else "/dev/usb/lp0"
        raise ConfigError(f"printer.device: set the printer's device, e.g. {example}.")
    if cfg.transport == "serial":
        return _SerialPort(
            Serial(cfg.device, cfg.baudrate, timeout=cfg.timeout_seconds), f"on {cfg.device}"
        )
    if cfg.transport == "file":
        return _FilePort(File(cfg.device), f"at {cfg.device}")
    if cfg.transport == "usb":
        if not (cfg.usb_vendor and cfg.usb_product):  # python-escpos would take any device
            raise ConfigError(
                "printer.usb_vendor: set usb_vendor and usb_product to the printer's ids "
                "(see lsusb, e.g. 0x04b8 and 0x0202)."
            )
        ids = f"{cfg.usb_vendor:04x}:{cfg.usb_product:04x}"
        printer = Usb(cfg.usb_vendor, cfg.usb_product, timeout=_ms(cfg.timeout_seconds))
        return _UsbPort(printer, f"USB {ids}")
    raise ConfigError('printer.transport: no printer is configured (transport = "none").')


# -- failures as sentences ------------------------------------------------------------------------

_DROPPED = "dropped the connection in the middle of the slip"
_GONE = "is not there; check that it is plugged in and switched on, and the device setting"
_REFUSED = "refused the connection; check that it is switched on and the port is right"
_PHRASES = {
    errno.ECONNREFUSED: _REFUSED,
    errno.ECONNRESET: _DROPPED,
    errno.ECONNABORTED: _DROPPED,
    errno.EPIPE: _DROPPED,
    errno.EHOSTUNREACH: "cannot be reached; check its network cable and address",
    errno.ENETUNREACH: "cannot be reached; check its network cable and address",
    errno.ENOENT: _GONE,
    errno.ENODEV: _GONE,
    errno.ENXIO: _GONE,
    errno.EBUSY: "is in use by another program; close that one",
    errno.EIO: "had an input/output error; check its cable and power",
}
_TIMEOUTS = (TimeoutError, serial.SerialTimeoutException, usb.core.USBTimeoutError)


def _root(exc: BaseException) -> BaseException:
    """The error underneath python-escpos's and pyserial's wrappers, which keep only text."""
    while getattr(exc, "errno", None) is None and exc.__context__ is not None:
        if isinstance(exc, _TIMEOUTS):
            break
        exc = exc.__context__
    return exc


def _phrase(exc: BaseException, port: _Port, seconds: float) -> str:
    cause = _root(exc)
    code = getattr(cause, "errno", None)
    if isinstance(cause, _TIMEOUTS) or code == errno.ETIMEDOUT:
        return f"did not respond within {seconds:g} s"
    if isinstance(cause, usb.core.NoBackendError):
        return "cannot be used: libusb is not installed (e.g. sudo apt install libusb-1.0-0)"
    if isinstance(cause, AssertionError):  # python-escpos's way of saying find() found nothing
        return "is not plugged in; check the cable and printer.usb_vendor and usb_product"
    if isinstance(cause, socket.gaierror):
        return "has a host name that cannot be found; check printer.host"
    if code in (errno.EACCES, errno.EPERM):
        return f"may not be opened by this user (permission denied): {port.permission_hint}"
    if code in _PHRASES:
        return _PHRASES[code]
    text = getattr(cause, "strerror", None) or str(cause).splitlines()[-1] or type(cause).__name__
    return f"failed ({text.rstrip('.')})"


# -- the link ------------------------------------------------------------------------------------


class PrinterLink:
    """The configured printer. ``send`` and ``status`` each open and close the transport, unless
    called inside ``with link:``, which keeps one connection (for a network printer, one job)
    for a status check, the slip and the check after it."""

    def __init__(self, port: _Port, timeout: float, bytes_per_second: float) -> None:
        self.port = port
        self.timeout = timeout
        self.bytes_per_second = bytes_per_second
        self._open = False

    @classmethod
    def from_config(cls, cfg: Printer) -> PrinterLink:
        speed = cfg.baudrate / 10 if cfg.transport == "serial" else SLOWEST_BYTES_PER_SECOND
        return cls(_port(cfg), cfg.timeout_seconds, speed)

    @property
    def where(self) -> str:
        return self.port.where

    def __enter__(self) -> PrinterLink:
        self.open()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()

    def open(self) -> None:
        with self._explained(self.timeout):
            self.port.open()
        self._open = True

    def close(self) -> None:
        if self._open:
            self._open = False
            with contextlib.suppress(Exception):  # a failing close has nothing left to tell
                self.port.close()

    @contextlib.contextmanager
    def _session(self) -> Iterator[None]:
        if self._open:
            yield
            return
        with self:
            yield

    @contextlib.contextmanager
    def _explained(self, seconds: float) -> Iterator[None]:
        try:
            yield
        except (OSError, ValueError, DeviceNotFoundError) as exc:
            phrase = _phrase(exc, self.port, seconds)
            raise PrinterError(f"The printer {self.where} {phrase}.") from None

    def allowance(self, size: int) -> float:
        """Time for ``size`` bytes to reach the printer, plus the configured timeout."""
        return self.timeout + size / self.bytes_per_second

    def send(self, data: bytes) -> None:
        """Write the bytes; PrinterError with one sentence when they do not all go."""
        seconds = self.allowance(len(data))
        with self._session(), self._explained(seconds):
            self.port.write(data, seconds)

    def status(self, *, after: int = 0) -> PrinterState:
        """The printer's state; never raises. ``after``: bytes just sent, which the printer
        reads before it sees the status request, so the first reply may take that long."""
        try:
            with self._session():
                if not self.port.can_read:
                    return PrinterState("unknown", CANNOT_READ)
                return self._query(self.allowance(after))
        except PrinterError as exc:
            return PrinterState("offline", exc.message)

    def _query(self, first_wait: float) -> PrinterState:
        try:
            printer = self._ask(1, first_wait)
            cause = self._ask(2, self.timeout) if printer & OFFLINE else FIXED_BITS
            roll = self._ask(4, self.timeout)
        except _NoStatus as silent:
            return silent.state
        return decode_status(printer, cause, roll)

    def _ask(self, n: int, wait: float) -> int:
        with self._explained(wait):
            self.port.write(DLE_EOT + bytes([n]), self.timeout)
            reply = self.port.read(wait)
        if reply is None:
            detail = (
                f"The printer {self.where} did not answer within {wait:g} s; "
                "the slip will print when it does."
            )
            raise _NoStatus(PrinterState("unknown", detail, stalled=True))
        if not reply:
            raise _NoStatus(PrinterState("unknown", NO_STATUS))
        byte = reply[-1]  # the latest byte answers this request
        if byte & FIXED_MASK != FIXED_BITS:
            detail = (
                f"The printer answered a status request with {reply.hex(' ')}, which is not "
                "ESC/POS status; slips are sent without a paper check."
            )
            raise _NoStatus(PrinterState("unknown", detail))
        return byte
