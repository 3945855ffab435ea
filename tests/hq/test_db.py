"""HQ's database interface on both backends: rows handed over with ``send`` are stored with
the transaction, or not at all."""

from __future__ import annotations

import pytest

from sync.hq.db import DuplicateKey, connect


@pytest.fixture
def db(hq_url: str):
    database = connect(hq_url)
    with database.transaction() as tx:
        tx.run("CREATE TABLE t (k TEXT PRIMARY KEY, v BIGINT NOT NULL)")
    yield database
    database.close()


def _rows(db) -> list[tuple]:
    with db.transaction() as tx:
        return [tuple(r) for r in tx.all("SELECT k, v FROM t ORDER BY k")]


def test_sent_rows_are_read_by_the_next_statement_and_kept_by_the_commit(db):
    with db.transaction() as tx:
        tx.send("t", ("k", "v"), [(f"k{n:04d}", n) for n in range(3000)])
        assert tx.one("SELECT count(*), sum(v) FROM t") == (3000, sum(range(3000)))
        tx.send("t", ("k", "v"), [("z", -1)])  # left open until the commit
    assert _rows(db)[-1] == ("z", -1) and len(_rows(db)) == 3001


def test_sent_rows_go_with_a_transaction_that_fails(db):
    with pytest.raises(ZeroDivisionError), db.transaction() as tx:
        tx.send("t", ("k", "v"), [("a", 1), ("b", 2)])
        _ = 1 / 0
    with db.transaction() as tx:  # the connection is fit to use again
        tx.send("t", ("k", "v"), [("c", 3)])
    assert _rows(db) == [("c", 3)]


def test_a_taken_key_in_sent_rows_is_a_duplicate_key_and_nothing_is_kept(db):
    with db.transaction() as tx:
        tx.run("INSERT INTO t (k, v) VALUES ('a', 1)")
    with pytest.raises(DuplicateKey), db.transaction() as tx:
        tx.run("INSERT INTO t (k, v) VALUES ('b', 2)")
        tx.send("t", ("k", "v"), [("c", 3), ("a", 4)])
        tx.all("SELECT k FROM t")
    with pytest.raises(DuplicateKey), db.transaction() as tx:
        tx.send("t", ("k", "v"), [("a", 5)])  # found at the commit
    assert _rows(db) == [("a", 1)]
