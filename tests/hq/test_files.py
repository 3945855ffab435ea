"""What HQ writes that holds tokens, phones or points is its owner's only from the moment it
exists, whatever the umask: the database (and SQLite's -wal and -shm beside it) and a token
written with ``hq add-terminal --token-file``."""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest
from test_cli import one_sentence, run_cli

from sync.hq.db import connect


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_hqs_sqlite_database_and_its_wal_are_the_owners_only(tmp_path):
    path = tmp_path / "hq.db"
    with umask(0o022):
        db = connect(f"sqlite:///{path}")
        with db.transaction() as tx:
            tx.run("CREATE TABLE t (x TEXT)")
            tx.run("INSERT INTO t VALUES ('+31612345678')")
        files = {p.name: mode(p) for p in tmp_path.iterdir()}
        db.close()
    assert files.get("hq.db-wal") == 0o600 and set(files.values()) == {0o600}, files


def test_a_token_written_to_a_file_is_the_owners_only_and_works(tmp_path):
    db = f"sqlite:///{tmp_path / 'hq.db'}"
    token_file = tmp_path / "t1.token"
    with umask(0o022):
        run = run_cli(
            f"hq add-terminal --db {db} --store S1 --terminal T1 --token-file {token_file}",
            cwd=tmp_path,
        )
    assert run.returncode == 0, run
    assert run.stdout.strip() == (
        f"Terminal T1 of store S1 provisioned; its token is in {token_file}, readable by you "
        "only: copy it to the till's hq.token_file."
    )
    token = token_file.read_text().strip()
    assert len(token) >= 40 and token not in run.stdout + run.stderr
    assert mode(token_file) == 0o600 and mode(tmp_path / "hq.db") == 0o600
    store = connect(db)
    with store.transaction() as tx:
        assert tx.all("SELECT store_id, terminal_id FROM terminals") == [("S1", "T1")]
    store.close()


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ("nowhere/t.token", "The folder {tmp}/nowhere for the token file does not exist."),
        (".", "{tmp} is a folder; --token-file names the file to write."),
    ],
)
def test_a_token_file_that_cannot_be_written_provisions_nothing(tmp_path, where, message):
    db = f"sqlite:///{tmp_path / 'hq.db'}"
    target = tmp_path / where if where != "." else tmp_path
    run = run_cli(
        f"hq add-terminal --db {db} --store S1 --terminal T1 --token-file {target}",
        cwd=tmp_path,
    )
    assert run.returncode == 2 and run.stdout == ""
    error = run.stderr.removeprefix("pos-loyalty: ").strip()
    one_sentence(error)
    assert error == message.format(tmp=tmp_path)
    if (tmp_path / "hq.db").exists():
        store = connect(db)
        with store.transaction() as tx:
            assert tx.all("SELECT store_id FROM terminals") == []
        store.close()
