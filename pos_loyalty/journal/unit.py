"""The journal as a unit of work: one SQLite file, its pragmas, its transactions, its stores.

Durability: WAL with ``synchronous=FULL``, so a returned commit survives a power cut; every
write is one ``BEGIN IMMEDIATE`` transaction, so two processes on one till never interleave;
every read of more than one query is one read transaction (``reading()``), so a sync
committing in between cannot make a balance count twice or not at all.

Only ``init`` creates a journal (``create=True``); opening one that is missing, empty or not a
pos-loyalty journal is refused with a sentence naming the path. A journal that cannot be
written (an archived copy) opens read-only: everything that only reads works.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

from .. import chain
from ..errors import ConfigError, NoJournal, SchemaTooNew, StorageError
from .events import EventStore
from .members import MemberStore
from .print_queue import PrintQueue
from .program import ProgramStore
from .requests import RequestStore
from .schema import APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION
from .staff import StaffStore

BUSY_TIMEOUT_MS = 5000


class Journal:
    """The open journal of one till. Not shared between threads: open one per thread."""

    def __init__(
        self,
        conn: sqlite3.Connection,
        path: Path,
        store_id: str,
        terminal_id: str,
        *,
        read_only: bool = False,
    ) -> None:
        self.conn = conn
        self.path = path
        self.store_id = store_id
        self.terminal_id = terminal_id
        self.read_only = read_only
        self.journal_id = ""
        self.genesis = chain.LEGACY_GENESIS
        self._depth = 0  # open transactions (writing or reading); only the outermost commits
        self._writing = False
        self.events = EventStore(self)
        self.members = MemberStore(self)
        self.prints = PrintQueue(self)
        self.staff = StaffStore(self)
        self.requests = RequestStore(self)
        self.program = ProgramStore(self)

    @classmethod
    def open(
        cls,
        path: Path,
        *,
        store_id: str,
        terminal_id: str,
        currency: str | None = None,
        create: bool = False,
        read_only: bool = False,
    ) -> Journal:
        """``read_only``: open it as it is (SQLite's mode=ro), never migrated nor written,
        as verify does; a file that cannot be written is opened so anyway."""
        path = Path(path)
        new = _prepare(path, create and not read_only)
        read_only = read_only or (not new and not _writable(path))
        try:
            conn = _connect(path, read_only)
            journal = cls(conn, path, store_id, terminal_id, read_only=read_only)
            journal._check_kind(new)
            if not read_only:
                _durable(conn)
            journal._migrate()
            journal._check_owner(currency)
        except sqlite3.DatabaseError as exc:
            raise StorageError(f"The till database {path} cannot be opened: {exc}.") from None
        return journal

    def close(self) -> None:
        self.conn.close()

    def data_version(self) -> int:
        """A number that changes when another connection (the sync daemon, the print
        worker, another process) commits: how a screen knows to read again."""
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    # -- transactions ---------------------------------------------------------------------

    @contextlib.contextmanager
    def writing(self) -> Iterator[None]:
        """One ``BEGIN IMMEDIATE`` transaction: all of it commits durably, or none of it."""
        if self._writing:
            yield
            return
        if self._depth:
            raise RuntimeError("a write cannot start inside a read transaction")
        if self.read_only:
            raise StorageError(
                f"The till database {self.path} is read-only (an archived copy?): it can be "
                "read, but nothing can be recorded in it."
            )
        try:
            self.conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StorageError(f"The till database is busy or unwritable ({exc}).") from None
        self._writing, self._depth = True, 1
        try:
            yield
            self.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            self._rollback()
            raise StorageError(f"Nothing was saved: {_storage_reason(exc)}.") from None
        except BaseException:
            self._rollback()
            raise
        finally:
            self._writing, self._depth = False, 0

    @contextlib.contextmanager
    def reading(self) -> Iterator[None]:
        """One read transaction: every query inside sees the same committed state."""
        if self._depth:
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            return
        try:
            self.conn.execute("BEGIN")
        except sqlite3.OperationalError as exc:
            raise StorageError(f"The till database cannot be read ({exc}).") from None
        self._depth = 1
        try:
            yield
        finally:
            self._depth = 0
            self._rollback()  # nothing was written: ending the snapshot is all that is left

    def require_write(self, what: str) -> None:
        if not self._writing:
            raise RuntimeError(f"{what}: outside a write transaction")

    def _rollback(self) -> None:
        with contextlib.suppress(sqlite3.Error):
            self.conn.execute("ROLLBACK")

    # -- opening ------------------------------------------------------------------------------

    def _check_kind(self, new: bool) -> None:
        """Refuse an SQLite file that is not a pos-loyalty journal before touching it."""
        conn = self.conn
        app = conn.execute("PRAGMA application_id").fetchone()[0]
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if app == APPLICATION_ID:
            return
        legacy = app == 0 and 1 <= version <= 5 and {"meta", "events"} <= tables
        if legacy or (new and not tables and version == 0):
            return
        if not tables and version == 0:
            raise NoJournal(
                f"{self.path} is an empty database, not a till journal; run `pos-loyalty init` "
                "to create the journal, or check database.path in the config."
            )
        raise NoJournal(
            f"{self.path} is not a pos-loyalty till database (it holds other data); "
            "check database.path in the config."
        )

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise SchemaTooNew(
                f"The till database {self.path} was written by a newer pos-loyalty (schema "
                f"{version}, this one knows {SCHEMA_VERSION}); upgrade pos-loyalty."
            )
        if version < SCHEMA_VERSION and self.read_only:
            raise StorageError(
                f"The till database {self.path} is at schema {version}, and this pos-loyalty "
                f"reads schema {SCHEMA_VERSION} only as it is: any other command (on a "
                "writable copy, if this one is read-only) upgrades it first."
            )
        if version < SCHEMA_VERSION:
            with self.writing():
                # Another process may have migrated while this one waited for the write lock.
                version = self.conn.execute("PRAGMA user_version").fetchone()[0]
                for step in range(version + 1, SCHEMA_VERSION + 1):
                    MIGRATIONS[step](self.conn)
                if version == 0:
                    self.conn.executemany(
                        "INSERT INTO meta (key, value) VALUES (?, ?)",
                        [("store_id", self.store_id), ("terminal_id", self.terminal_id)],
                    )
                    self.conn.execute(
                        "INSERT INTO outbox (terminal_id, acked_seq) VALUES (?, 0)",
                        (self.terminal_id,),
                    )
                self.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    def _check_owner(self, currency: str | None) -> None:
        meta = dict(self.conn.execute("SELECT key, value FROM meta").fetchall())
        owner = (meta.get("store_id"), meta.get("terminal_id"))
        if owner != (self.store_id, self.terminal_id):
            raise ConfigError(
                f"The till database {self.path} belongs to store {owner[0]} terminal {owner[1]}, "
                f"but the config says store {self.store_id} terminal {self.terminal_id}."
            )
        self.journal_id = meta["journal_id"]
        self.genesis = chain.genesis(self.journal_id, self.store_id, self.terminal_id)
        if currency:
            self._check_currency(meta.get("currency"), currency)

    def _check_currency(self, recorded: str | None, currency: str) -> None:
        """Amounts in the journal are minor units of one currency: a till never changes it."""
        if recorded is None and not self.read_only:
            with self.writing():  # first open since the currency was recorded: record it once
                self.conn.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES ('currency', ?)", (currency,)
                )
            recorded = self.conn.execute(
                "SELECT value FROM meta WHERE key = 'currency'"
            ).fetchone()[0]
        if recorded is not None and recorded != currency:
            raise ConfigError(
                f"The till database {self.path} keeps its amounts in {recorded}, but the config "
                f"says store.currency = {currency}; a till cannot change its currency."
            )


def _prepare(path: Path, create: bool) -> bool:
    """Whether the journal is new. Only ``create`` makes the file (readable by its owner only,
    before SQLite touches it; SQLite gives its -wal and -shm files the same mode)."""
    exists = path.exists()
    if exists and path.is_dir():
        raise NoJournal(f"{path} is a folder, not a till database; check database.path.")
    if exists and not path.is_file():  # a device or a pipe: never chmod, never open it
        raise NoJournal(f"{path} is not a regular file, not a till database; check database.path.")
    if exists and path.stat().st_size > 0:
        return False
    if exists and not create:
        raise NoJournal(
            f"{path} is an empty file, not a till journal; run `pos-loyalty init` to create "
            "the journal, or check database.path in the config."
        )
    if not create:
        if not path.parent.is_dir():
            raise NoJournal(
                f"No till database at {path} (the folder {path.parent} does not exist); run "
                "`pos-loyalty init` to create it, or check database.path in the config."
            )
        raise NoJournal(
            f"No till database at {path}; run `pos-loyalty init` to create it, or check "
            "database.path in the config."
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_CREAT | os.O_WRONLY, 0o600)
        os.close(fd)
        if path.stat().st_mode & 0o077:
            path.chmod(0o600)
    except OSError as exc:
        verb = "written" if exists else "created"
        raise StorageError(f"The till database {path} cannot be {verb}: {exc.strerror}.") from None
    return True


def _writable(path: Path) -> bool:
    """Whether this process may write the journal: the file, and the folder for its -wal and
    -shm files (unless they are there already)."""
    if not os.access(path, os.W_OK):
        return False
    sidecars = [path.with_name(path.name + s) for s in ("-wal", "-shm")]
    return all(s.exists() and os.access(s, os.W_OK) for s in sidecars) or os.access(
        path.parent, os.W_OK
    )


def _connect(path: Path, read_only: bool) -> sqlite3.Connection:
    timeout = BUSY_TIMEOUT_MS / 1000
    if not read_only:
        conn = sqlite3.connect(path, isolation_level=None, timeout=timeout)
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        return conn
    uri = "file:" + urllib.parse.quote(str(path.resolve()))
    # An archived copy: read it in place. "immutable" when SQLite cannot even make the
    # shared-memory file WAL reading needs (a read-only folder); nobody writes such a copy.
    for flags in ("mode=ro", "mode=ro&immutable=1"):
        try:
            conn = sqlite3.connect(
                f"{uri}?{flags}", uri=True, isolation_level=None, timeout=timeout
            )
            conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return conn
        except sqlite3.OperationalError:
            continue
    raise StorageError(f"The till database {path} cannot be read.")


# Pages the WAL may hold before a commit folds it back into the database. An event writes
# about seven pages, so at SQLite's default (1,000) a cashier would wait for that fold every
# ~140 events; at 4,000 it is every ~570 (a process that closes the journal, as every
# command line call does, folds it then, after its answer).
WAL_PAGES = 4000


def _durable(conn: sqlite3.Connection) -> None:
    """WAL and a full sync on every commit; set only once the file is known to be ours."""
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = FULL")
    conn.execute("PRAGMA foreign_keys = ON")
    conn.execute(f"PRAGMA wal_autocheckpoint = {WAL_PAGES}")


def _storage_reason(exc: sqlite3.OperationalError) -> str:
    text = str(exc)
    if "full" in text:
        return "the disk is full"
    if "locked" in text or "busy" in text:
        return "the database is busy"
    return text
