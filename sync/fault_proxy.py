"""A TCP proxy between a till and HQ that injects faults into real connections.

Two ways to fault it. ``inject(kind)`` faults the next connections, one fault each, then
heals: drop the request before it reaches HQ, drop HQ's reply after HQ committed, delay it,
cut it short, reset the connection, or answer 503 itself (the tests). A *mode* holds until
changed: ``none`` passes through, ``down`` refuses connections (nothing listens on the port),
``slow`` holds each reply back ``slow_seconds``, ``errors`` answers every request 503 with
``Retry-After``. The mode is set with ``set_mode`` or, from another process, by writing it
into the ``control_file`` (polled as the simulated printer's is): ``echo down > PATH``.
An injected fault comes before the mode.
"""

from __future__ import annotations

import logging
import socket
import struct
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger(__name__)

FAULTS = ("drop_request", "drop_reply", "delay", "truncate", "reset", "unavailable")
MODES = ("none", "down", "slow", "errors")
POLL = 0.2  # seconds between looks at the control file (and at close())


@dataclass
class Fault:
    kind: str
    times: int = 1  # connections it applies to, then the proxy heals
    seconds: float = 0.0  # for "delay", and the Retry-After of "unavailable"


class FaultProxy:
    """Listens on a free loopback port (``url``) and forwards to ``target`` (host, port)."""

    def __init__(
        self,
        target: tuple[str, int],
        *,
        control_file: Path | str | None = None,
        slow_seconds: float = 3.0,
        retry_after: int = 5,
    ) -> None:
        self.target = target
        self.control_file = Path(control_file) if control_file else None
        self.slow_seconds = slow_seconds
        self.retry_after = retry_after
        self.faults: list[Fault] = []
        self.served = 0  # connections handled
        self.mode = "none"
        self.lock = threading.Lock()
        self._closing = threading.Event()
        self._control_seen: int | None = None
        self._listener: socket.socket | None = self._listen(0)
        self.port = self._listener.getsockname()[1]
        self._poll_control_file()  # a mode written before the start holds from the start
        self.thread = threading.Thread(target=self._run, name="fault-proxy", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def inject(self, kind: str, *, times: int = 1, seconds: float = 0.0) -> None:
        if kind not in FAULTS:
            raise ValueError(f"{kind!r} is not one of {', '.join(FAULTS)}")
        with self.lock:
            self.faults.append(Fault(kind, times, seconds))

    def set_mode(self, mode: str) -> None:
        if mode not in MODES:
            raise ValueError(f"{mode!r} is not one of {', '.join(MODES)}")
        with self.lock:
            self.mode = mode

    def close(self) -> None:
        self._closing.set()
        if self.thread is not threading.current_thread():
            self.thread.join(2 * POLL + 1)
        self._set_listening(False)

    def __enter__(self) -> FaultProxy:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- listening ----------------------------------------------------------------------------

    @staticmethod
    def _listen(port: int) -> socket.socket:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("127.0.0.1", port))
            listener.listen(64)
        except OSError:
            listener.close()
            raise
        listener.settimeout(POLL)  # so mode changes and close() are seen while idle
        return listener

    def _set_listening(self, on: bool) -> socket.socket | None:
        """Open or close the port as the mode wants; ``down`` is a port nobody listens on,
        so a till's connect is refused at once, as with an HQ that is not running."""
        if on and self._listener is None:
            try:
                self._listener = self._listen(self.port)
            except OSError as exc:  # taken meanwhile: try again at the next turn
                log.warning("The HQ fault proxy cannot listen again on %s: %s", self.port, exc)
        elif not on and self._listener is not None:
            self._listener.close()
            self._listener = None
        return self._listener

    def _run(self) -> None:
        while not self._closing.is_set():
            self._poll_control_file()
            listener = self._set_listening(self.mode != "down")
            if listener is None:
                self._closing.wait(POLL)
                continue
            try:
                client, _ = listener.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._closing.is_set():
                    return
                continue
            client.settimeout(None)
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _poll_control_file(self) -> None:
        if self.control_file is None:
            return
        try:
            stamp = self.control_file.stat().st_mtime_ns
            if stamp == self._control_seen:
                return
            self._control_seen = stamp
            words = self.control_file.read_text(encoding="utf-8", errors="replace").split()
        except OSError:
            return
        mode = words[0].lower() if words else "none"
        if mode not in MODES:
            log.warning(
                "%s names %r, which is not an HQ fault (%s); still %s.",
                self.control_file,
                mode[:40],
                ", ".join(MODES),
                self.mode,
            )
            return
        if mode != self.mode:
            log.info("HQ fault set to %s from %s", mode, self.control_file)
        self.set_mode(mode)

    # -- one connection -----------------------------------------------------------------------

    def _next_fault(self) -> Fault | None:
        with self.lock:
            self.served += 1
            if not self.faults:
                return self._mode_fault()
            fault = self.faults[0]
            fault.times -= 1
            if fault.times <= 0:
                self.faults.pop(0)
            return fault

    def _mode_fault(self) -> Fault | None:
        if self.mode == "slow":
            return Fault("delay", seconds=self.slow_seconds)
        if self.mode == "errors":
            return Fault("unavailable", seconds=self.retry_after)
        return None

    def _serve(self, client: socket.socket) -> None:
        fault = self._next_fault()
        kind = fault.kind if fault else None
        try:
            request = _read_http(client)
            if kind == "drop_request":
                return
            if kind == "reset":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                return
            if kind == "unavailable":
                body = b'{"error":{"code":"unavailable","message":"HQ is busy; try again."}}'
                client.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n"
                    + f"retry-after: {int(fault.seconds if fault else 1)}\r\n".encode()
                    + f"content-length: {len(body)}\r\nconnection: close\r\n\r\n".encode()
                    + body
                )
                return
            with socket.create_connection(self.target, timeout=30) as upstream:
                upstream.sendall(request)
                reply = _read_http(upstream)
            if kind == "drop_reply":
                return  # HQ did the work and answered; the till never hears it
            if kind == "delay" and fault:
                time.sleep(fault.seconds)
            if kind == "truncate":
                reply = reply[: len(reply) // 2]
            client.sendall(reply)
        except OSError:
            pass  # either side went away: that connection is over, the proxy goes on
        finally:
            client.close()


def _read_http(sock: socket.socket) -> bytes:
    """One HTTP/1.1 message (headers and a Content-Length body)."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            return data
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length" and value.strip().isdigit():
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
