"""The till's ``Remote`` over the network: HQ asked for what the till's journal cannot
answer (another till's sale to refund), once, within the till's HQ timeout."""

from __future__ import annotations

import json

from pos_loyalty.config import LoadedConfig
from pos_loyalty.errors import ConfigError
from pos_loyalty.journal import Event
from pos_loyalty.remote import HQWord, NeedsHQ, RemoteEvent, Reversal, SaleRef

from .daemon import HQUnreachable, Syncer, SyncStopped
from .protocol import EventReply, WireEvent


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


def _remote(reply: EventReply) -> RemoteEvent:
    word = reply.member
    return RemoteEvent(
        event=_event(reply.event),
        reversals=tuple(Reversal(r.event_id, r.points, r.refund_amount) for r in reply.reversals),
        word=None
        if word is None
        else HQWord(
            word.member_id,
            word.phone,
            word.name,
            word.version,
            word.ledger,
            word.through_seq,
            word.merged_into,
        ),
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
