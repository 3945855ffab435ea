"""The till's ``Remote`` over the network: HQ asked for what the till's journal cannot
answer, once: another till's sale to refund (within the till's HQ timeout), a member the
till has not seen (within ``LOOKUP_TIMEOUT``: a cashier is waiting)."""

from __future__ import annotations

import json

from pos_loyalty.config import LoadedConfig
from pos_loyalty.errors import ConfigError
from pos_loyalty.journal import Event, HQWord
from pos_loyalty.remote import NeedsHQ, RemoteEvent, Reversal, SaleRef

from .daemon import HQUnreachable, Syncer, SyncStopped
from .protocol import EventReply, Snapshot, WireEvent

LOOKUP_TIMEOUT = 0.5  # seconds: longer, and the till goes on as if offline


class HQRemote:
    def __init__(self, loaded: LoadedConfig, token: str | None = None) -> None:
        self.loaded = loaded
        self.token = token  # else from the config's token file or the environment

    def event(self, ref: SaleRef) -> RemoteEvent | None:
        try:
            with Syncer(self.loaded, token=self.token) as syncer:
                reply = syncer.find_event(ref)
        except (HQUnreachable, SyncStopped, ConfigError) as exc:
            raise NeedsHQ(exc.message) from None
        return None if reply is None else _remote(reply)

    def member(
        self, *, member_id: str | None = None, phone: str | None = None
    ) -> tuple[HQWord, ...]:
        timeout = min(LOOKUP_TIMEOUT, self.loaded.config.hq.timeout_seconds)
        try:
            with Syncer(self.loaded, token=self.token) as syncer:
                found = syncer.find_member(member_id=member_id, phone=phone, timeout=timeout)
        except (HQUnreachable, SyncStopped, ConfigError) as exc:
            raise NeedsHQ(exc.message) from None
        return () if found is None else tuple(_word(s) for s in found.members)


def _remote(reply: EventReply) -> RemoteEvent:
    return RemoteEvent(
        event=_event(reply.event),
        reversals=tuple(Reversal(r.event_id, r.points, r.refund_amount) for r in reply.reversals),
        word=None if reply.member is None else _word(reply.member),
    )


def _word(snap: Snapshot) -> HQWord:
    return HQWord(
        snap.member_id,
        snap.phone,
        snap.name,
        snap.version,
        snap.ledger,
        snap.through_seq,
        snap.merged_into,
    )


def _event(wire: WireEvent) -> Event:
    return Event(
        event_id=wire.event_id,
        kind=wire.kind,
        member_id=wire.member_id,
        phone=wire.phone,
        points=wire.points,
        amount=wire.amount,
        currency=wire.currency,
        ref_event_id=wire.ref_event_id,
        ruleset=wire.ruleset,
        detail=json.loads(wire.detail),
        staff_id=wire.staff_id,
        created_at=wire.created_at,
        seq=wire.seq,
        store_id=wire.store_id,
        terminal_id=wire.terminal_id,
        prev_hash=wire.prev_hash,
        hash=wire.hash,
        chain_version=wire.chain_version,
        detail_text=wire.detail,
    )
