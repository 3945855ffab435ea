"""What the background (sync daemon, print worker, serial scanner) tells the screen. Status
messages replace an unhandled one of their kind: only the latest state matters."""

from __future__ import annotations

from textual.message import Message

from ..reports import QueueStatus


class QueueChanged(Message):
    def __init__(self, status: QueueStatus) -> None:
        super().__init__()
        self.status = status

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, QueueChanged)


class SyncChanged(Message):
    """The sync daemon's line: online or offline, and why."""

    def __init__(self, line: str) -> None:
        super().__init__()
        self.line = line

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, SyncChanged)


class PrinterChanged(Message):
    def __init__(self, state: str, detail: str | None) -> None:
        super().__init__()
        self.state = state
        self.detail = detail

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, PrinterChanged)


class Scanned(Message):
    """A code from the serial scanner or a wedge burst; ``problem`` when it was unreadable."""

    def __init__(self, code: str | None, problem: str | None = None, *, wedge: bool) -> None:
        super().__init__()
        self.code = code
        self.problem = problem
        self.wedge = wedge


class JournalChanged(Message):
    """Another connection committed (a sync took HQ's word, a slip printed)."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, JournalChanged)
