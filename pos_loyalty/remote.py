"""What a till asks HQ for while a cashier waits, as the domain sees it: the parts are plain
values and a protocol; the sync package answers it over the network.

Only what cannot be done from the till's own journal goes there (a sale made at another
till, a member it has not seen), and an answer that does not come fast is a refusal in one
sentence or, for a lookup, the till going on as if offline; never a hang.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from .errors import Refused
from .journal import Event, HQWord


class NeedsHQ(Refused):
    """What was asked needs HQ, and HQ cannot answer now."""

    code = "needs_hq"


@dataclass(frozen=True)
class SaleRef:
    """Another till's event, by its id (anywhere in the chain) or by the receipt's
    ``Ref TERMINAL-SEQ`` (a till of this store)."""

    event_id: str | None = None
    terminal_id: str | None = None
    seq: int | None = None

    def shown(self) -> str:
        return self.event_id or f"{self.terminal_id}-{self.seq}"


@dataclass(frozen=True)
class Reversal:
    event_id: str
    points: int
    refund_amount: int | None


@dataclass(frozen=True)
class RemoteEvent:
    """An event of another till as HQ holds it, every reversal of it HQ holds (from any
    till), and its member's account now."""

    event: Event
    reversals: tuple[Reversal, ...]
    word: HQWord | None


class Remote(Protocol):
    def event(self, ref: SaleRef) -> RemoteEvent | None:
        """The event, or None when HQ holds none such; raises ``NeedsHQ`` when HQ does not
        answer in time."""

    def member(
        self, *, member_id: str | None = None, phone: str | None = None
    ) -> tuple[HQWord, ...]:
        """HQ's word on a member the till has not seen (and on the member they were merged
        into), empty when HQ knows none; raises ``NeedsHQ`` unless HQ answers at once."""
