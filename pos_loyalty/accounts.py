"""A member's account at this till: HQ's last word, plus this till's events since, folded by
the same ``rules.account.fold`` HQ uses, and kept as a checkpoint so an operation reads one
row instead of replaying the member's history.

The checkpoint is written in the same transaction as each event: the folded ledger in one row,
its lots a row each (``LotRows``), so an earn adds one lot rather than rewriting them all.
Its *basis* names what it was folded from (the fold's version, the tier window, the store's
time zone, HQ's version of its word); when any changes, the account is folded again from
HQ's word, once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from .journal import Event, Journal, MemberRecord, phone_key
from .rules.account import EMPTY, FOLD_VERSION, Account, Ledger, fold
from .rules.lots import MemoryShelf
from .rules.program import Program


@dataclass(frozen=True)
class Holder:
    """Whose account: a member this till knows, or a phone it has kept points against
    (offline, before HQ told it who that is)."""

    member_id: str | None
    phone: str | None
    record: MemberRecord | None
    aliases: tuple[str, ...] = ()  # members HQ merged into this one: their events count

    @property
    def key(self) -> str:
        return self.member_id or phone_key(self.phone or "")

    @property
    def confirmed(self) -> int:
        """HQ's balance for the member (0 before HQ has spoken of them)."""
        return self.record.hq_balance if self.record and self.record.heard_from_hq else 0


@dataclass(frozen=True)
class Loaded:
    account: Account
    through_seq: int  # the last event of this till folded in
    on_rows: bool  # the account's lots are the checkpoint's rows, as they stand


class Accounts:
    def __init__(self, journal: Journal, program: Program, timezone: str) -> None:
        self.journal = journal
        self.program = program
        self.timezone = timezone

    def get(self, holder: Holder, now: dt.datetime) -> Loaded:
        """The account now: the checkpoint (or HQ's word) and any event not yet in it. Reads
        only, so it works on a read-only journal; ``record`` writes."""
        members = self.journal.members
        checkpoint = members.checkpoint(holder.key)
        if checkpoint is not None and checkpoint.basis == self._basis(holder):
            ledger, after = checkpoint.ledger, checkpoint.through_seq
            rows = members.lots(holder.key)
            events = self._events(holder, after)
            if not events:
                return Loaded(fold(ledger, [], now, self.program, shelf=rows), after, True)
            shelf = MemoryShelf(rows.all())  # events another writer left unfolded: in memory
        else:
            base, after = self._base(holder)
            ledger, shelf = base, MemoryShelf(base.lots)
            events = self._events(holder, after)
        account = fold(ledger, events, now, self.program, shelf=shelf)
        return Loaded(account, events[-1].seq if events else after, False)

    def record(
        self, holder: Holder, loaded: Loaded, events: list[Event], now: dt.datetime
    ) -> Account:
        """Fold events just appended onto the account ``get`` loaded before them, and keep
        the result; call inside the events' transaction. An event already folded (seq not
        after the loaded one) is not folded twice."""
        rows = self.journal.members.lots(holder.key)
        if not loaded.on_rows:  # the lots were folded in memory: the rows take them over
            rows.replace_all(loaded.account.lots)
        new = [e for e in events if e.seq > loaded.through_seq]
        after = fold(loaded.account, new, now, self.program, shelf=rows)
        through = max([loaded.through_seq, *(e.seq for e in new)])
        self.journal.members.save_checkpoint(holder.key, self._basis(holder), through, after.ledger)
        return after

    def forget(self, key: str) -> None:
        """Drop a checkpoint no longer used (a phone's points now belong to a member)."""
        self.journal.members.drop_checkpoint(key)

    def _events(self, holder: Holder, after: int) -> list[Event]:
        return self.journal.events.for_member(
            holder.member_id, holder.phone, after_seq=after, aliases=holder.aliases
        )

    def _base(self, holder: Holder) -> tuple[Ledger, int]:
        record = holder.record
        if record is not None and record.heard_from_hq:
            return record.hq_word() or EMPTY, record.hq_through_seq
        return EMPTY, 0

    def _basis(self, holder: Holder) -> str:
        record = holder.record
        heard = record.hq_version if record is not None and record.heard_from_hq else "-"
        # What the carried state depends on besides the events: the rolling window (it prunes
        # old days) and the store's zone (it says which day "today" is).
        return f"{FOLD_VERSION}|{self.program.tier_window_days}|{self.timezone}|{heard}"
