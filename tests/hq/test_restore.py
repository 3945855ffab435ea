"""HQ backed up while it serves and restored from that backup, on each backend, exactly as
docs/BACKUP.md says: the tills send again what HQ lost (even a till with nothing new to
send), take HQ's word on their members again, and every event ends up at HQ once. And
`hq serve` stopped with SIGTERM closes cleanly, its SQLite database one whole file."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import uuid
from pathlib import Path

import pytest
from conftest import config_text

from sync.hq.commands import open_store

from .conftest import PG_ADMIN
from .test_cli_sync import free_port, run, start_hq


class SQLiteHQ:
    def __init__(self, folder: Path) -> None:
        self.file = folder / "hq.db"
        self.url = f"sqlite:///{self.file}"
        self.copy = folder / "backup.db"

    def back_up(self) -> None:  # while HQ serves: SQLite's online backup
        subprocess.run(["sqlite3", str(self.file), f".backup '{self.copy}'"], check=True)

    def restore(self) -> None:  # HQ stopped
        for stale in (self.file, Path(f"{self.file}-wal"), Path(f"{self.file}-shm")):
            stale.unlink(missing_ok=True)
        shutil.copyfile(self.copy, self.file)

    def drop(self) -> None:
        pass


class PostgresHQ:
    def __init__(self, folder: Path) -> None:
        import psycopg

        self.name = f"pos_loyalty_test_{uuid.uuid4().hex[:12]}"
        self.url = PG_ADMIN.rsplit("/", 1)[0] + f"/{self.name}"
        self.copy = folder / "hq.sql"
        try:
            self.admin = psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=3)
        except psycopg.OperationalError as exc:
            if os.environ.get("CI") == "true":
                pytest.fail(f"PostgreSQL at {PG_ADMIN} is not reachable under CI: {exc}")
            pytest.skip(f"no PostgreSQL at {PG_ADMIN} ({exc})")
        self.admin.execute(f'CREATE DATABASE "{self.name}"')

    def back_up(self) -> None:
        subprocess.run(["pg_dump", "-d", self.url, "-f", str(self.copy)], check=True)

    def restore(self) -> None:
        self.admin.execute(f'DROP DATABASE "{self.name}"')
        self.admin.execute(f'CREATE DATABASE "{self.name}"')
        subprocess.run(
            ["psql", "-q", "-v", "ON_ERROR_STOP=1", "-d", self.url, "-f", str(self.copy)],
            check=True,
            capture_output=True,
        )

    def drop(self) -> None:
        self.admin.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path):
    hq = SQLiteHQ(tmp_path) if request.param == "sqlite" else PostgresHQ(tmp_path)
    yield hq
    hq.drop()


def stop(hq: subprocess.Popen[str]) -> None:
    hq.send_signal(signal.SIGTERM)
    _, err = hq.communicate(timeout=30)
    assert hq.returncode == 0 and "Traceback" not in err, err


def events_at(url: str) -> int:
    store = open_store(url)
    try:
        return store.event_count()
    finally:
        store.db.close()


class CliTill:
    """A till of its own folder, provisioned at HQ, driven through the command line."""

    def __init__(self, folder: Path, hq_url: str, port: int, terminal: str) -> None:
        added = run(
            "hq", "add-terminal", "--db", hq_url, "--store", "AMS-01", "--terminal", terminal
        )
        assert added.returncode == 0, added.stderr
        self.env = {"POS_LOYALTY_HQ_TOKEN": added.stdout.strip().splitlines()[-1]}
        folder.mkdir()
        self.config = folder / "pos-loyalty.toml"
        text = config_text().replace('url = ""', f'url = "http://127.0.0.1:{port}"', 1)
        self.config.write_text(text.replace('id = "T1"', f'id = "{terminal}"', 1))
        self("init")

    def __call__(self, *args: str) -> dict:
        done = run(*args, "--config", str(self.config), "--json", env=self.env)
        assert done.returncode == 0, done.stdout + done.stderr
        return json.loads(done.stdout)


def test_hq_restored_from_a_backup_gets_back_every_event_once(backend, tmp_path):
    port = free_port()
    hq = start_hq(backend.url, port)
    try:
        till = CliTill(tmp_path / "T1", backend.url, port, "T1")
        other = CliTill(tmp_path / "T2", backend.url, port, "T2")  # sells nothing, only reads
        till("enroll", "--phone", "0612345678", "--name", "Anna")
        till("earn", "--phone", "0612345678", "--amount", "10")
        assert till("sync", "--once")["acked_seq"] == 3
        backend.back_up()  # HQ holds #1-#3 in the backup
        till("earn", "--phone", "0612345678", "--amount", "20")
        assert till("sync", "--once")["acked_seq"] == 4
        assert other("sync", "--once")["members_updated"] == 1
        assert other("lookup", "--phone", "0612345678")["balance"] == 80
        stop(hq)
        backend.restore()
        assert events_at(backend.url) == 3  # #4 was lost with the restore
        hq = start_hq(backend.url, port)
        # T2 has sent nothing; HQ's directory went back behind its cursor: it takes HQ's
        # word again, from the start (HQ does not hold T1's #4 yet).
        assert other("sync", "--once")["members_updated"] == 1
        assert other("lookup", "--phone", "0612345678")["balance"] == 60
        # Nothing new at T1: its sync still finds HQ behind and sends #4 again.
        again = till("sync", "--once")
        assert (again["pushed"], again["acked_seq"], again["waiting"]) == (1, 4, 0), again
        assert again["members_updated"] == 1  # HQ's word on Anna, taken again from the start
        assert events_at(backend.url) == 4
        quiet = till("sync", "--once")
        assert (quiet["pushed"], quiet["duplicates"], quiet["acked_seq"]) == (0, 0, 4)
        member_id = till("lookup", "--phone", "0612345678")["member_id"]
        store = open_store(backend.url)
        held = store.account(member_id)
        store.db.close()
        assert held is not None and held[1].balance == 50 + 10 + 20
        assert till("lookup", "--phone", "0612345678")["balance"] == 80
        assert other("sync", "--once")["members_updated"] == 1
        assert other("lookup", "--phone", "0612345678")["balance"] == 80
    finally:
        hq.kill()
        hq.wait()


def test_hq_serve_stopped_with_sigterm_closes_its_sqlite_database_whole(tmp_path):
    db, port = tmp_path / "hq.db", free_port()
    url = f"sqlite:///{db}"
    hq = start_hq(url, port)
    try:
        added = run("hq", "add-terminal", "--db", url, "--store", "AMS-01", "--terminal", "T1")
        assert added.returncode == 0, added.stderr
        config = tmp_path / "pos-loyalty.toml"
        config.write_text(config_text().replace('url = ""', f'url = "http://127.0.0.1:{port}"', 1))
        env = {"POS_LOYALTY_HQ_TOKEN": added.stdout.strip().splitlines()[-1]}
        for args in (("init",), ("enroll", "--phone", "0612345678"), ("sync", "--once")):
            assert run(*args, "--config", str(config), env=env).returncode == 0
        assert Path(f"{db}-wal").stat().st_size > 0  # what HQ took sits in its WAL
    finally:
        stop(hq)
    wal = Path(f"{db}-wal")
    assert not wal.exists() or wal.stat().st_size == 0
    # The file alone holds everything: a copy of it without the WAL is the whole HQ.
    alone = tmp_path / "alone.db"
    shutil.copyfile(db, alone)
    store = open_store(f"sqlite:///{alone}")
    with store.db.transaction() as tx:
        assert tx.all("SELECT store_id, terminal_id FROM terminals") == [("AMS-01", "T1")]
        assert tx.one("SELECT count(*) FROM events") == (2,)
    store.db.close()
