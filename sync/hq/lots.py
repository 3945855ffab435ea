"""Each member's lots at HQ, a row each beside the account rather than inside its ledger: an
earn writes one small row instead of every lot the member holds again, and only a batch that
spends or gives back points reads them. The account's ledger keeps everything else (its
``booked`` balance among it), so the lots are read only where the fold or a snapshot needs
them. Distributed by ``member_key`` with the accounts (docs/SCALING.md)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import msgspec

from pos_loyalty.rules.account import Ledger, decode, encode
from pos_loyalty.rules.lots import Lot, MemoryShelf

from .db import Tx, insert_rows

DDL = (
    "CREATE TABLE IF NOT EXISTS lots (member_key TEXT NOT NULL, lot_id TEXT NOT NULL, "
    "points BIGINT NOT NULL, remaining BIGINT NOT NULL, earned_at TEXT NOT NULL, "
    "expires_at TEXT, spendable_at TEXT, PRIMARY KEY (member_key, lot_id))"
)
_COLUMNS = ("lot_id", "points", "remaining", "earned_at", "expires_at", "spendable_at")


class TrackedShelf(MemoryShelf):
    """A member's lots in memory while the fold works on them, noting which it touched."""

    def __init__(self, lots: Iterable[Lot] = ()) -> None:
        lots = list(lots)
        super().__init__(lots)
        self.loaded = {lot.lot_id for lot in lots}  # what the table holds already
        self.touched: set[str] = set()

    def put(self, lot: Lot) -> None:
        super().put(lot)
        self.touched.add(lot.lot_id)


def lots_of(tx: Tx, keys: Sequence[str]) -> dict[str, list[Lot]]:
    """The lots of these accounts, each account's in the order they were earned."""
    if not keys:
        return {}
    condition, args = tx.among("member_key", sorted(keys))
    found: dict[str, list[Lot]] = {}
    for row in tx.all(
        f"SELECT member_key, {', '.join(_COLUMNS)} FROM lots WHERE {condition} "
        "ORDER BY member_key, earned_at, lot_id",
        args,
    ):
        found.setdefault(row[0], []).append(Lot(row[1], int(row[2]), int(row[3]), *row[4:]))
    return found


def with_lots(ledger: Ledger, lots: Sequence[Lot]) -> Ledger:
    """The account's ledger with its lots in it: what a snapshot and the expiry rule take."""
    return msgspec.structs.replace(ledger, lots=tuple(lots)) if lots else ledger


def write_lots(tx: Tx, shelves: Mapping[str, TrackedShelf]) -> None:
    """What the fold changed of each account's lots: new lots inserted, changed ones
    updated, spent ones gone. Most lots a batch writes are new (an earn's), and a plain
    insert of them costs about half what an upsert does."""
    new: list[tuple[Any, ...]] = []
    changed: list[tuple[Any, ...]] = []
    gone: list[tuple[str, str]] = []
    for key, shelf in shelves.items():
        for lot_id in sorted(shelf.touched):
            lot = shelf.get(lot_id)
            if lot is None:
                if lot_id in shelf.loaded:
                    gone.append((key, lot_id))
                continue
            row = (key, *(getattr(lot, c) for c in _COLUMNS))
            (changed if lot_id in shelf.loaded else new).append(row)
    if gone:
        tx.many("DELETE FROM lots WHERE member_key = ? AND lot_id = ?", gone)
    insert_rows(tx, "lots", ("member_key", *_COLUMNS), new)
    insert_rows(
        tx,
        "lots",
        ("member_key", *_COLUMNS),
        changed,
        "ON CONFLICT (member_key, lot_id) DO UPDATE SET remaining = excluded.remaining, "
        "points = excluded.points, earned_at = excluded.earned_at, "
        "expires_at = excluded.expires_at, spendable_at = excluded.spendable_at",
    )


def move_lots_out(tx: Tx, page: int = 1000) -> None:
    """An HQ database from before lot rows: each account's lots taken out of its ledger, a
    page of accounts at a time (a chain's HQ holds millions)."""
    after = ""
    while rows := tx.all(
        "SELECT member_key, ledger FROM accounts WHERE member_key > ? ORDER BY member_key LIMIT ?",
        (after, page),
    ):
        after = rows[-1][0]
        shelves: dict[str, TrackedShelf] = {}
        ledgers = []
        for key, text in rows:
            ledger = decode(text)
            if ledger.lots:
                shelves[key] = TrackedShelf()
                for lot in ledger.lots:
                    shelves[key].put(lot)
                ledgers.append((encode(msgspec.structs.replace(ledger, lots=())).decode(), key))
        write_lots(tx, shelves)
        tx.many("UPDATE accounts SET ledger = ? WHERE member_key = ?", ledgers)
