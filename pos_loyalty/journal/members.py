"""The members this till knows, HQ's last word on each, and the checkpoint of each account.

HQ's word is a ledger (its fold of the member's events at every till) with the last of this
terminal's events it includes. The checkpoint is this till's fold on top of that, updated in
the same transaction as each event, so reading an account is one row, not a replay.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from ..clock import NEVER
from ..errors import HQReplyError
from ..rules.account import Ledger, confirmed, decode, encode
from ..rules.lots import Lot, LotSummary

if TYPE_CHECKING:
    from .unit import Journal


class HQWordLike(Protocol):
    """HQ's word on a member: the directory's snapshot, or a lookup's."""

    @property
    def member_id(self) -> str: ...
    @property
    def phone(self) -> str | None: ...
    @property
    def name(self) -> str | None: ...
    @property
    def version(self) -> int: ...
    @property
    def ledger(self) -> Ledger: ...
    @property
    def through_seq(self) -> int: ...
    @property
    def merged_into(self) -> str | None: ...


@dataclass(frozen=True)
class HQWord:
    """HQ's account of a member, as the directory gives it to this terminal."""

    member_id: str
    phone: str | None
    name: str | None
    version: int
    ledger: Ledger
    through_seq: int
    merged_into: str | None = None


_COLUMNS = (
    "member_id",
    "phone",
    "name",
    "consent",
    "enrolled_at",
    "referred_by",
    "source",
    "hq_version",
    "hq_at",
    "hq_through_seq",
    "hq_balance",
    "hq_ledger",
    "merged_into",
)
_SELECT = f"SELECT {', '.join(_COLUMNS)} FROM members"


@dataclass(frozen=True)
class MemberRecord:
    member_id: str
    phone: str | None
    name: str | None
    consent: bool
    enrolled_at: str | None
    referred_by: str | None
    source: str  # "local": enrolled here, not yet known to HQ; "hq": from HQ's directory
    hq_version: int | None  # HQ's version of its word; None: HQ has not spoken of them
    hq_at: str | None
    hq_through_seq: int  # the last of this terminal's events HQ's word includes
    hq_balance: int
    hq_ledger: bytes | str | None
    merged_into: str | None = None  # HQ merged this enrolment into that member

    @property
    def heard_from_hq(self) -> bool:
        return self.hq_version is not None

    def hq_word(self) -> Ledger | None:
        return decode(self.hq_ledger) if self.hq_ledger else None


@dataclass(frozen=True)
class Checkpoint:
    basis: str  # what the fold started from and with which rules; another basis: rebuild
    through_seq: int
    ledger: Ledger


class MemberStore:
    def __init__(self, unit: Journal) -> None:
        self.unit = unit

    def get(self, member_id: str) -> MemberRecord | None:
        return self._one(f"{_SELECT} WHERE member_id = ?", member_id)

    def by_phone(self, phone: str) -> MemberRecord | None:
        return self._one(f"{_SELECT} WHERE phone = ?", phone)

    def add(
        self,
        *,
        member_id: str,
        phone: str,
        name: str | None,
        consent: bool,
        enrolled_at: str,
        referred_by: str | None,
    ) -> None:
        self.unit.require_write("add a member")
        self.unit.conn.execute(
            "INSERT INTO members (member_id, phone, name, consent, enrolled_at, referred_by) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (member_id, phone, name, int(consent), enrolled_at, referred_by),
        )

    def record_hq_word(
        self, member_id: str, ledger: Ledger, *, version: int, at: str, through_seq: int
    ) -> bool:
        """HQ's snapshot of a member this till knows, applied only if newer than the one
        held (as ``take_words`` applies it). Returns whether it was applied."""
        self.unit.require_write("record HQ's word")
        _check_hq_word(ledger, version, through_seq, self.unit.events.last_seq())
        if self.get(member_id) is None:
            return False
        word = HQWord(member_id, None, None, version, ledger, through_seq)
        return self.take_words([word], at) == 1

    def take_word(self, word: HQWordLike, at: str) -> bool:
        """A member as HQ's directory (or a lookup at HQ) gives them: learned if new, and
        HQ's word on their account recorded if newer than the one held."""
        return self.take_words([word], at) == 1

    def take_words(
        self,
        words: Sequence[HQWordLike],
        at: str,
        last_seq: int | None = None,
        *,
        again: bool = False,
    ) -> int:
        """``take_word`` for a page of HQ's directory, a statement per kind of row rather
        than several per member; all of it or, if one word cannot be true, none. Returns how
        many words were newer than the ones held. ``last_seq``: the journal's last event,
        when the caller has read it. ``again``: HQ was restored from a backup, so its word
        is taken even where its version is not newer than the one held."""
        unit = self.unit
        unit.require_write("record HQ's word")
        conn = unit.conn
        last = unit.events.last_seq() if last_seq is None else last_seq
        for word in words:
            _check_hq_word(word.ledger, word.version, word.through_seq, last)
        # Most words of a pull name members the till does not hold yet, with phones no one
        # here has: they go in first, in one statement whose unique keys do the looking up.
        # The rest (a member held, a phone taken, a member twice in one page) are sorted out
        # below, against what is held now.
        new = _insert_unknown(conn, words, at)
        dropped: list[str] = []
        taken: list[HQWordLike] = []
        rest: list[HQWordLike] = []
        for word in words:
            if word.member_id in new:
                new.discard(word.member_id)  # a second word of theirs in the page is a rest
                dropped += [word.member_id, *([phone_key(word.phone)] if word.phone else [])]
                taken.append(word)
            else:
                rest.append(word)
        held = {
            r[0]: (r[1], r[2])
            for r in _among(conn, "member_id, hq_version, phone", "member_id", rest, "member_id")
        }
        owners = {r[0] for r in _among(conn, "phone", "phone", rest, "phone")}
        inserts, updates, names = [], [], []
        for word in rest:
            ledger = confirmed(word.ledger)
            hq = (word.version, at, word.through_seq, ledger.balance, encode(ledger))
            if word.member_id in held:
                version, phone = held[word.member_id]
                if word.name is not None:
                    names.append((word.name, word.member_id))
                if version is not None and version >= word.version and not again:
                    continue
                updates.append((*hq, word.member_id))
            else:
                # A phone another member here already has stays with them.
                phone = word.phone if word.phone and word.phone not in owners else None
                if phone:
                    owners.add(phone)
                inserts.append((word.member_id, phone, word.name, *hq))
            held[word.member_id] = (word.version, phone)
            dropped += [word.member_id, *([phone_key(phone)] if phone else [])]
            taken.append(word)
        conn.executemany(
            "INSERT INTO members (member_id, phone, name, source, hq_version, hq_at, "
            "hq_through_seq, hq_balance, hq_ledger) VALUES (?, ?, ?, 'hq', ?, ?, ?, ?, ?)",
            inserts,
        )
        conn.executemany("UPDATE members SET name = ? WHERE member_id = ? AND name IS NULL", names)
        conn.executemany(
            "UPDATE members SET hq_version = ?, hq_at = ?, hq_through_seq = ?, hq_balance = ?, "
            "hq_ledger = ?, source = 'hq' WHERE member_id = ?",
            updates,
        )
        # Checkpoints folded before this word are stale: the next read folds onto it.
        marks = ", ".join("?" for _ in dropped)
        stale = (
            conn.execute(
                f"SELECT account_key FROM accounts WHERE account_key IN ({marks})", dropped
            ).fetchall()
            if dropped
            else []
        )
        for (key,) in stale:
            self.drop_checkpoint(key)
        for word in taken:
            if word.merged_into:
                self._merge(word.member_id, word.merged_into)
        return len(taken)

    def _merge(self, member_id: str, into: str) -> None:
        """``member_id`` is now part of ``into``: the phone goes with the member it names,
        and both accounts are folded again (the merged one's events count for ``into``)."""
        conn = self.unit.conn
        merged = self.get(member_id)
        conn.execute(
            "UPDATE members SET merged_into = ?, phone = NULL WHERE member_id = ?",
            (into, member_id),
        )
        if merged is not None and merged.phone:
            conn.execute(
                "UPDATE members SET phone = ? WHERE member_id = ? AND phone IS NULL",
                (merged.phone, into),
            )
        for key in (member_id, into):
            self.drop_checkpoint(key)

    def aliases(self, member_id: str) -> tuple[str, ...]:
        """The members HQ merged into this one."""
        rows = self.unit.conn.execute(
            "SELECT member_id FROM members WHERE merged_into = ? ORDER BY member_id", (member_id,)
        ).fetchall()
        return tuple(r[0] for r in rows)

    def learn(self, member_id: str, phone: str | None, name: str | None) -> None:
        """A member HQ told this till of: added if new (from HQ's directory), the name filled
        in if the till had none. A phone another member here already has stays with them."""
        self.unit.require_write("learn a member")
        taken = phone is not None and self.by_phone(phone) is not None
        self.unit.conn.execute(
            "INSERT INTO members (member_id, phone, name, source) VALUES (?, ?, ?, 'hq') "
            "ON CONFLICT (member_id) DO UPDATE SET name = coalesce(members.name, excluded.name)",
            (member_id, None if taken else phone, name),
        )

    def directory_cursor(self) -> int:
        """Where the pull of HQ's directory goes on from."""
        row = self.unit.conn.execute(
            "SELECT value FROM meta WHERE key = 'directory_cursor'"
        ).fetchone()
        return int(row[0]) if row else 0

    def set_directory_cursor(self, cursor: int) -> None:
        self.unit.require_write("move the directory cursor")
        self.unit.conn.execute(
            "INSERT INTO meta (key, value) VALUES ('directory_cursor', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (str(cursor),),
        )

    def hq_balances(self) -> int:
        """The sum of HQ's balances for every member it has spoken of."""
        row = self.unit.conn.execute("SELECT coalesce(sum(hq_balance), 0) FROM members").fetchone()
        return int(row[0])

    # -- checkpoints ------------------------------------------------------------------------

    def checkpoint(self, key: str) -> Checkpoint | None:
        row = self.unit.conn.execute(
            "SELECT basis, through_seq, ledger FROM accounts WHERE account_key = ?", (key,)
        ).fetchone()
        return Checkpoint(row[0], row[1], decode(row[2])) if row else None

    def save_checkpoint(self, key: str, basis: str, through_seq: int, ledger: Ledger) -> None:
        self.unit.require_write("save a checkpoint")
        self.unit.conn.execute(
            "INSERT INTO accounts (account_key, basis, through_seq, ledger) VALUES (?, ?, ?, ?) "
            "ON CONFLICT (account_key) DO UPDATE SET basis = excluded.basis, "
            "through_seq = excluded.through_seq, ledger = excluded.ledger",
            (key, basis, through_seq, encode(ledger)),
        )

    def drop_checkpoint(self, key: str) -> None:
        self.unit.require_write("drop a checkpoint")
        conn = self.unit.conn
        # Lot rows are written only with their checkpoint's row: none without it.
        if conn.execute("DELETE FROM accounts WHERE account_key = ?", (key,)).rowcount:
            conn.execute("DELETE FROM account_lots WHERE account_key = ?", (key,))

    def lots(self, key: str) -> LotRows:
        """The checkpoint's lots of one account, as a shelf the fold works on."""
        return LotRows(self.unit, key)

    def _one(self, sql: str, arg: str) -> MemberRecord | None:
        row = self.unit.conn.execute(sql, (arg,)).fetchone()
        if row is None:
            return None
        values = dict(zip(_COLUMNS, row, strict=True))
        values["consent"] = bool(values["consent"])
        return MemberRecord(**values)


_LOT = "lot_id, points, remaining, earned_at, expires_at, spendable_at"
# Lots that are neither expired nor held at :at, the same test as Lot.spendable.
_SPENDABLE = (
    "(spendable_at IS NULL OR spendable_at <= :at) AND (expires_at IS NULL OR expires_at > :at)"
)
_SUMMARY = (
    "SELECT (SELECT coalesce(sum(remaining), 0) FROM account_lots "
    "WHERE account_key = :key AND expires_at <= :at), held.* FROM "
    "(SELECT coalesce(sum(remaining), 0), min(spendable_at), max(spendable_at) "
    "FROM account_lots WHERE account_key = :key AND spendable_at > :at "
    "AND (expires_at IS NULL OR expires_at > :at)) AS held"
)
_PUT = f"INSERT OR REPLACE INTO account_lots (account_key, {_LOT}) VALUES (?, ?, ?, ?, ?, ?, ?)"


class LotRows:
    """One account's lots as rows of ``account_lots``: the till's ``Shelf``. It answers in
    SQL what ``MemoryShelf`` answers by looping (a property test holds the two together), so
    a member with hundreds of lots costs an earn one row, not hundreds."""

    def __init__(self, unit: Journal, key: str) -> None:
        self.unit = unit
        self.key = key

    def get(self, lot_id: str) -> Lot | None:
        row = self.unit.conn.execute(
            f"SELECT {_LOT} FROM account_lots WHERE account_key = ? AND lot_id = ?",
            (self.key, lot_id),
        ).fetchone()
        return Lot(*row) if row else None

    def put(self, lot: Lot) -> None:
        self.unit.require_write("keep a lot")
        if lot.remaining <= 0:
            self.unit.conn.execute(
                "DELETE FROM account_lots WHERE account_key = ? AND lot_id = ?",
                (self.key, lot.lot_id),
            )
            return
        self.unit.conn.execute(_PUT, (self.key, *_fields(lot)))

    def replace_all(self, lots: Iterable[Lot]) -> None:
        self.unit.require_write("keep lots")
        conn = self.unit.conn
        conn.execute("DELETE FROM account_lots WHERE account_key = ?", (self.key,))
        conn.executemany(_PUT, [(self.key, *_fields(lot)) for lot in lots if lot.remaining > 0])

    def in_order(self, at: str, first: str | None = None) -> Iterable[Lot]:
        rows = self.unit.conn.execute(
            f"SELECT {_LOT} FROM account_lots WHERE account_key = :key "
            f"ORDER BY lot_id IS NOT :first, NOT ({_SPENDABLE}), coalesce(expires_at, :never), "
            "earned_at, lot_id",
            {"key": self.key, "first": first, "at": at, "never": NEVER},
        )
        return [Lot(*row) for row in rows]

    def summary(self, at: str) -> LotSummary:
        """Two index ranges, whatever the number of lots: the expired ones and the held ones
        (usually none of either)."""
        row = self.unit.conn.execute(_SUMMARY, {"key": self.key, "at": at}).fetchone()
        return LotSummary(*row)

    def all(self) -> tuple[Lot, ...]:
        rows = self.unit.conn.execute(
            f"SELECT {_LOT} FROM account_lots WHERE account_key = ? ORDER BY earned_at, lot_id",
            (self.key,),
        )
        return tuple(Lot(*row) for row in rows)


_UNKNOWN_ROW = "(?, ?, ?, 'hq', ?, ?, ?, ?, ?)"


def _insert_unknown(conn: sqlite3.Connection, words: Sequence[HQWordLike], at: str) -> set[str]:
    """The words whose member and phone the till does not hold, inserted (a few hundred rows
    a statement, within SQLite's limit on parameters); returns their member ids."""
    new: set[str] = set()
    for start in range(0, len(words), 500):
        part = words[start : start + 500]
        args: list[Any] = []
        for word in part:
            ledger = confirmed(word.ledger)
            args += (word.member_id, word.phone or None, word.name, word.version, at)
            args += (word.through_seq, ledger.balance, encode(ledger))
        values = ", ".join([_UNKNOWN_ROW] * len(part))
        rows = conn.execute(
            "INSERT OR IGNORE INTO members (member_id, phone, name, source, hq_version, hq_at, "
            f"hq_through_seq, hq_balance, hq_ledger) VALUES {values} RETURNING member_id",
            args,
        ).fetchall()
        new.update(r[0] for r in rows)
    return new


def _among(
    conn: sqlite3.Connection, columns: str, key: str, words: Sequence[Any], field: str
) -> list[tuple[Any, ...]]:
    """Members rows whose ``key`` is one of the words' ``field`` values."""
    values = sorted({v for w in words if (v := getattr(w, field))})
    if not values:
        return []
    marks = ", ".join("?" for _ in values)
    return conn.execute(
        f"SELECT {columns} FROM members WHERE {key} IN ({marks})", values
    ).fetchall()


def _check_hq_word(ledger: Ledger, version: int, through_seq: int, last_seq: int) -> None:
    """HQ's word is applied whole or not at all: one that cannot be true is refused in a
    sentence, never applied as far as it goes (a ``through_seq`` beyond this till's newest
    event would hide that event's points for good)."""
    problem = None
    if type(version) is not int or version < 1:
        problem = "its version is not a whole number from 1"
    elif type(through_seq) is not int or not 0 <= through_seq <= last_seq:
        problem = f"it claims this till's event #{through_seq}, but the journal ends at #{last_seq}"
    elif ledger.deficit < 0 or any(not 0 < lot.remaining <= lot.points for lot in ledger.lots):
        problem = "it holds a negative deficit or a lot with more points left than it earned"
    elif ledger.balance != sum(lot.remaining for lot in ledger.lots) - ledger.deficit:
        problem = "its balance is not what its lots and deficit add up to"
    if problem:
        raise HQReplyError(f"HQ's word on a member makes no sense ({problem}); it was not applied.")


def _fields(lot: Lot) -> tuple[object, ...]:
    return (lot.lot_id, lot.points, lot.remaining, lot.earned_at, lot.expires_at, lot.spendable_at)


def phone_key(phone: str) -> str:
    """The account key of points kept against a phone the till does not know as a member."""
    return f"tel:{phone}"
