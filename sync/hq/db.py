"""HQ's database, SQLite or PostgreSQL by URL, behind one small interface: transactions whose
queries are written once (``?`` placeholders; the PostgreSQL side turns them into ``%s``).

HQ keeps no state in its processes: every request opens a transaction on the database, so
several HQ processes can serve one PostgreSQL.
"""

from __future__ import annotations

import contextlib
import sqlite3
import sys
import threading
import urllib.parse
import weakref
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

from pos_loyalty.errors import ConfigError, StorageError
from pos_loyalty.private import create_private

Row = tuple[Any, ...]
CACHE_KIB = 64 * 1024  # each SQLite connection's page cache
CHECKPOINT_PAGES = 10_000  # WAL pages before SQLite copies them back into the database
POOL_SIZE = 10  # PostgreSQL connections an HQ process holds at most


class DuplicateKey(Exception):
    """A row with a unique key the table already holds: the transaction is void."""


class Tx(Protocol):
    """One open transaction."""

    lock: str  # " FOR UPDATE" where the database locks rows, "" where it locks the whole file

    def among(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        """``column`` is one of ``values``: the condition and its parameters, as each
        database plans it best (PostgreSQL: one array, so the index is used)."""

    def contains(self, expression: str) -> str:
        """The condition that the text ``expression`` holds the next parameter's text."""

    def one(self, sql: str, args: Sequence[Any] = ()) -> Row | None: ...

    def all(self, sql: str, args: Sequence[Any] = ()) -> list[Row]: ...

    def run(self, sql: str, args: Sequence[Any] = ()) -> int: ...

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def lock_names(self, names: Sequence[str]) -> None:
        """Hold a lock on each name until commit, for what has no row to lock yet (a phone
        number two tills may both be about to claim)."""

    def bulk(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], then: str = ""
    ) -> None:
        """Insert ``rows`` into ``table`` (``then``: an ``ON CONFLICT`` clause), the fastest
        way the database has: SQLite's prepared statement in a loop, PostgreSQL's COPY.
        Raises ``DuplicateKey`` where a row's unique key is taken."""

    def send(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows`` into ``table`` without waiting for the database to store them:
        PostgreSQL takes them in while the caller goes on (the next statement, or the
        commit, waits for it and raises its ``DuplicateKey``); SQLite stores them at once."""


def _insert(table: str, columns: Sequence[str], then: str) -> str:
    marks = ", ".join("?" * len(columns))
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks}) {then}"


def insert_rows(
    tx: Tx, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], then: str = ""
) -> None:
    if rows:
        tx.bulk(table, columns, rows, then)


class Database(Protocol):
    kind: str  # "sqlite" or "postgresql"

    def transaction(self, *, snapshot: bool = False) -> contextlib.AbstractContextManager[Tx]:
        """One transaction; ``snapshot``: every statement in it reads the same committed
        state (a read of several statements that must agree, without locking rows)."""

    def close(self) -> None: ...


def connect(url: str, *, create: bool = True) -> Database:
    """``sqlite:///hq.db`` (a path from the current folder), ``sqlite:////var/lib/hq.db``
    (an absolute path: a fourth slash, as SQLAlchemy reads these URLs too) or
    ``postgresql://user@host:port/db``. Without ``create``, an SQLite file that is not
    there is an error, not a new empty HQ (a mistyped path must not look like one)."""
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "sqlite":
        path = urllib.parse.unquote(parts.path)[1:]
        if parts.netloc or not path:
            raise ConfigError(
                f"“{url[:60]}” names no file; write sqlite:///hq.db for hq.db in this folder "
                "or sqlite:////var/lib/pos-loyalty/hq.db for an absolute path."
            )
        return SQLiteDatabase(Path(path), create=create)
    if parts.scheme in ("postgresql", "postgres"):
        return PostgresDatabase(url)
    raise ConfigError(
        f"“{url[:60]}” is not a database URL like sqlite:///hq.db or postgresql://host/db."
    )


class _SQLiteTx:
    lock = ""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def among(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} IN ({', '.join('?' for _ in values)})", list(values)

    def contains(self, expression: str) -> str:
        return f"instr({expression}, ?) > 0"

    def one(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        row: Row | None = self.conn.execute(sql, args).fetchone()
        return row

    def all(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        return self.conn.execute(sql, args).fetchall()

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, args).rowcount

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    def lock_names(self, names: Sequence[str]) -> None:
        pass  # BEGIN IMMEDIATE: the transaction already holds the whole file

    def bulk(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], then: str = ""
    ) -> None:
        try:
            self.conn.executemany(_insert(table, columns, then), rows)
        except sqlite3.IntegrityError as exc:
            if "UNIQUE" in str(exc):
                raise DuplicateKey(table) from None
            raise

    def send(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.bulk(table, columns, rows)


class SQLiteDatabase:
    """One file, WAL, a full sync on every commit; a connection per thread (the server's
    worker threads each keep one), every write one ``BEGIN IMMEDIATE`` transaction."""

    kind = "sqlite"

    def __init__(self, path: Path, *, create: bool = True) -> None:
        self.path = path
        self._local = threading.local()
        self._opened: list[sqlite3.Connection] = []  # every thread's, for close()
        self._lock = threading.Lock()
        if not create and not path.is_file():
            raise StorageError(
                f"HQ's database {path} does not exist; check --db (`pos-loyalty hq serve` "
                "and `hq add-terminal` make a new one)."
            )
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            if create:
                create_private(path)  # it holds phones and names
        except OSError as exc:
            raise StorageError(f"HQ's database {path} cannot be created: {exc.strerror}.") from None

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            try:
                # Each used by its own thread only; closed by close() from another.
                conn = sqlite3.connect(
                    self.path, isolation_level=None, timeout=30, check_same_thread=False
                )
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")
                conn.execute("PRAGMA busy_timeout = 30000")
                # A push rewrites hundreds of accounts: their pages stay in memory, and the
                # WAL is copied back into the file every ~40 MB rather than every 4 MB, so
                # an account written by several pushes in between is copied back once.
                conn.execute(f"PRAGMA cache_size = -{CACHE_KIB}")
                conn.execute(f"PRAGMA wal_autocheckpoint = {CHECKPOINT_PAGES}")
            except sqlite3.Error as exc:
                raise StorageError(f"HQ's database {self.path} cannot be opened: {exc}.") from None
            self._local.conn = conn
            with self._lock:
                self._opened.append(conn)
        return conn

    @contextlib.contextmanager
    def transaction(self, *, snapshot: bool = False) -> Iterator[Tx]:
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")  # one writer at a time: a snapshot in any case
        try:
            yield _SQLiteTx(conn)
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    def close(self) -> None:
        """Every thread's connection closed, the WAL first copied back into the file and
        emptied: what is left is one file, whole, that a copy backs up alone."""
        with self._lock:
            opened, self._opened = self._opened, []
        for n, conn in enumerate(opened):
            if n == 0:
                with contextlib.suppress(sqlite3.Error):  # busy: SQLite does it on close
                    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.close()
        self._local = threading.local()


class _PostgresTx:
    lock = " FOR UPDATE"

    def __init__(self, conn: Any, staged: set[str]) -> None:
        self.conn = conn
        self.staged = staged  # the stage tables this connection's session has
        self._sending: tuple[str, contextlib.ExitStack] | None = None  # a COPY left open

    def among(self, column: str, values: Sequence[Any]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    def contains(self, expression: str) -> str:
        return f"strpos({expression}, ?) > 0"

    def one(self, sql: str, args: Sequence[Any] = ()) -> Row | None:
        self.sent()
        row: Row | None = self.conn.execute(_pg(sql), args).fetchone()
        return row

    def all(self, sql: str, args: Sequence[Any] = ()) -> list[Row]:
        self.sent()
        rows: list[Row] = self.conn.execute(_pg(sql), args).fetchall()
        return rows

    def run(self, sql: str, args: Sequence[Any] = ()) -> int:
        self.sent()
        return int(self.conn.execute(_pg(sql), args).rowcount)

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        self.sent()
        with self.conn.cursor() as cur:
            cur.executemany(_pg(sql), rows)  # pipelined by psycopg: one round trip, not n

    def lock_names(self, names: Sequence[str]) -> None:
        # Transaction-scoped advisory locks, taken in one order so two batches cannot each
        # hold one the other waits for.
        if names:
            self.run(
                "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT "
                "hashtextextended(n, 0) AS h FROM unnest(?::text[]) AS n ORDER BY h) AS s",
                [list(names)],
            )

    def bulk(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], then: str = ""
    ) -> None:
        from psycopg.errors import UniqueViolation

        self.sent()
        try:
            self._bulk(table, columns, rows, then)
        except UniqueViolation:
            raise DuplicateKey(table) from None

    def send(self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]) -> None:
        self.sent()
        if not rows:
            return
        # The COPY stays open: libpq hands the server the rows as they are written (all but
        # the last few kilobytes), and the server stores them while this process goes on.
        stack = contextlib.ExitStack()
        try:
            cursor = stack.enter_context(self.conn.cursor())
            copy = stack.enter_context(
                cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN")
            )
            for row in rows:
                copy.write_row(row)
        except BaseException:
            stack.__exit__(*sys.exc_info())
            raise
        self._sending = (table, stack)

    def sent(self, failure: BaseException | None = None) -> None:
        """Wait for the rows ``send`` left with the database; ``failure``: abandon them."""
        from psycopg.errors import UniqueViolation

        if self._sending is None:
            return
        (table, stack), self._sending = self._sending, None
        if failure is not None:
            stack.__exit__(type(failure), failure, failure.__traceback__)
            return
        try:
            stack.close()
        except UniqueViolation:
            raise DuplicateKey(table) from None

    def _bulk(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], then: str
    ) -> None:
        names = ", ".join(columns)
        target = table
        if then:  # COPY cannot upsert: copy into a stage, then insert from it
            target = f"stage_{table}"
            if target not in self.staged:
                self.conn.execute(
                    f"CREATE TEMP TABLE IF NOT EXISTS {target} "
                    f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
                )
                self.staged.add(target)
        with self.conn.cursor() as cur, cur.copy(f"COPY {target} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        if then:  # one round trip: without parameters, both go as one simple query
            self.conn.execute(
                f"INSERT INTO {table} ({names}) SELECT {names} FROM {target} {then}; "
                f"DELETE FROM {target}"
            )


class PostgresDatabase:
    """A psycopg 3 connection pool; each transaction takes a connection for its duration."""

    kind = "postgresql"

    def __init__(self, url: str) -> None:
        import psycopg
        import psycopg_pool

        self.url = url
        # The temporary stage tables each pooled connection's session has made: made once,
        # not asked for again on every upsert.
        self._staged: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
        shown = urllib.parse.urlsplit(url)._replace(netloc=_without_password(url)).geturl()
        try:  # once by hand, so a database that is not there is said at once, in a sentence
            psycopg.connect(url, connect_timeout=5).close()
        except psycopg.Error as exc:
            raise StorageError(f"HQ cannot reach the database {shown}: {_reason(exc)}.") from None
        self.pool = psycopg_pool.ConnectionPool(
            url, min_size=1, max_size=POOL_SIZE, open=False, kwargs={"autocommit": False}
        )
        try:
            self.pool.open(wait=True, timeout=10)
        except Exception as exc:
            raise StorageError(f"HQ cannot reach the database {shown} ({exc}).") from None

    @contextlib.contextmanager
    def transaction(self, *, snapshot: bool = False) -> Iterator[Tx]:
        with self.pool.connection() as conn:
            staged = self._staged.setdefault(conn, set())
            try:
                with conn.transaction():
                    if snapshot:  # else each statement sees what committed before it began
                        conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                    tx = _PostgresTx(conn, staged)
                    try:
                        yield tx
                    except BaseException as exc:
                        tx.sent(failure=exc)
                        raise
                    tx.sent()
            except BaseException:
                staged.clear()  # a stage table created in it is gone with the rollback
                raise

    def close(self) -> None:
        self.pool.close()


def _pg(sql: str) -> str:
    return sql.replace("%", "%%").replace("?", "%s")  # a literal % (LIKE) is not a placeholder


def _reason(exc: Exception) -> str:
    """The server's own words from a failed connection's message, on one line."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()] or ["no reason"]
    fatal = next((line for line in lines if "FATAL:" in line), lines[0])
    return fatal.split("FATAL:", 1)[-1].strip().rstrip(".")


def _without_password(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    user = f"{parts.username}@" if parts.username else ""
    port = f":{parts.port}" if parts.port else ""
    return f"{user}{host}{port}"
