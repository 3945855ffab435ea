"""A TCP proxy between a till and HQ that injects faults into real connections: drop the
request before it reaches HQ, drop HQ's reply after HQ committed, delay it, cut it short,
reset the connection, or answer 503 itself."""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass, field

FAULTS = ("drop_request", "drop_reply", "delay", "truncate", "reset", "unavailable")


@dataclass
class Fault:
    kind: str
    times: int = 1  # connections it applies to, then the proxy heals
    seconds: float = 0.0  # for "delay", and the Retry-After of "unavailable"


@dataclass
class Proxy:
    target: tuple[str, int]
    faults: list[Fault] = field(default_factory=list)
    served: int = 0  # connections handled

    def __post_init__(self) -> None:
        self.listener = socket.socket()
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind(("127.0.0.1", 0))
        self.listener.listen(64)
        self.port = self.listener.getsockname()[1]
        self.lock = threading.Lock()
        self.closing = False
        self.thread = threading.Thread(target=self._accept, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def inject(self, kind: str, *, times: int = 1, seconds: float = 0.0) -> None:
        assert kind in FAULTS
        with self.lock:
            self.faults.append(Fault(kind, times, seconds))

    def close(self) -> None:
        self.closing = True
        self.listener.close()

    def _next_fault(self) -> Fault | None:
        with self.lock:
            self.served += 1
            if not self.faults:
                return None
            fault = self.faults[0]
            fault.times -= 1
            if fault.times <= 0:
                self.faults.pop(0)
            return fault

    def _accept(self) -> None:
        while not self.closing:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

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
            pass
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
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    while len(body) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        body += chunk
    return head + b"\r\n\r\n" + body
