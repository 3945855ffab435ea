"""`pos-loyalty hq serve`, `hq add-terminal` and `sync --once` as processes, the way a store
sets them up: HQ killed under the till, and brought back."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from conftest import config_text

CLI = [sys.executable, "-m", "pos_loyalty"]


def run(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    full = {
        **{k: v for k, v in os.environ.items() if not k.startswith("POS_LOYALTY")},
        **(env or {}),
    }
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, timeout=60, env=full, cwd=cwd
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def start_hq(db: str, port: int, *more: str) -> subprocess.Popen[str]:
    proc = subprocess.Popen(
        [*CLI, "hq", "serve", "--db", db, "--port", str(port), *more],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/v1/health", timeout=0.5).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError(f"HQ did not start: {proc.communicate()}")


def test_a_store_sets_up_hq_and_a_till_syncs_through_hq_going_down(tmp_path: Path):
    db, port = f"sqlite:///{tmp_path / 'hq.db'}", free_port()
    hq = start_hq(db, port)
    try:
        added = run("hq", "add-terminal", "--db", db, "--store", "AMS-01", "--terminal", "T1")
        assert added.returncode == 0, added.stderr
        token = added.stdout.strip().splitlines()[-1]  # the token is the last line, once
        token_file = tmp_path / "hq.token"
        token_file.write_text(token + "\n")
        token_file.chmod(0o600)
        config = tmp_path / "pos-loyalty.toml"
        text = config_text().replace('url = ""', f'url = "http://127.0.0.1:{port}"', 1)
        config.write_text(text.replace('token_file = ""', 'token_file = "hq.token"', 1))
        assert run("init", "--config", str(config)).returncode == 0
        assert run("enroll", "--config", str(config), "--phone", "0612345678").returncode == 0
        synced = run("sync", "--once", "--config", str(config), "--json")
        assert synced.returncode == 0, synced.stdout + synced.stderr
        assert json.loads(synced.stdout) == {
            "pushed": 2,
            "duplicates": 0,
            "acked_seq": 2,
            "waiting": 0,
            "members_updated": 1,
        }
        hq.send_signal(signal.SIGKILL)  # HQ goes down, hard
        hq.wait()
        assert (
            run(
                "earn", "--config", str(config), "--phone", "0612345678", "--amount", "10"
            ).returncode
            == 0
        )
        down = run("sync", "--once", "--config", str(config), "--json")
        assert down.returncode == 1
        error = json.loads(down.stdout)["error"]
        assert error["code"] == "hq_unreachable" and error["message"].endswith(
            "1 event waits to be sent."
        )
        queue = json.loads(run("queue", "--config", str(config), "--json").stdout)
        assert (queue["acked_seq"], queue["unsynced"]) == (2, 1)
        assert queue["last_error"].startswith("HQ cannot be reached")
        hq = start_hq(db, port)  # back up: the rest goes
        again = run("sync", "--once", "--config", str(config), "--json")
        assert json.loads(again.stdout)["acked_seq"] == 3, again.stdout + again.stderr
    finally:
        hq.kill()
        hq.wait()


def test_hqs_sqlite_url_names_a_file_in_this_folder_or_with_a_fourth_slash_an_absolute_path(
    tmp_path: Path,
):
    here = tmp_path / "store"
    here.mkdir()
    terminal = ("--store", "AMS-01", "--terminal", "T1")
    added = run("hq", "add-terminal", "--db", "sqlite:///hq.db", *terminal, cwd=here)
    assert added.returncode == 0, added.stderr
    assert (here / "hq.db").is_file()  # as the README's `sqlite:///hq.db` means it
    absolute = tmp_path / "elsewhere" / "hq.db"
    added = run("hq", "add-terminal", "--db", f"sqlite:///{absolute}", *terminal, cwd=here)
    assert added.returncode == 0 and absolute.is_file(), added.stderr
    for wrong in ("sqlite://hq.db", "sqlite:///"):
        refused = run("hq", "add-terminal", "--db", wrong, *terminal, cwd=here)
        assert refused.returncode == 2
        assert "names no file; write sqlite:///hq.db" in refused.stderr
        assert "Traceback" not in refused.stderr


def test_hq_serve_that_cannot_start_says_why_in_a_sentence_and_makes_no_database(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        in_use = str(taken.getsockname()[1])
        for args, status, words in (
            (("--port", "99999"), 2, "give a port number from 1 to 65535"),
            (("--port", in_use), 2, f"cannot listen on 127.0.0.1:{in_use}: something else"),
            (("--host", "999.1.1.1"), 2, "cannot listen on 999.1.1.1: no such address"),
            (("--program", "nope.toml"), 2, "nope.toml: cannot be read"),
            (("--expire-every", "-1"), 2, "give hours from 0 (never)"),
        ):
            refused = run("hq", "serve", "--db", "sqlite:///hq.db", *args, cwd=tmp_path)
            assert refused.returncode == status, refused.stderr
            [line] = refused.stderr.splitlines()  # no banner, no traceback: one sentence
            assert line.startswith("pos-loyalty: ") and words in line, line
    missing = run("hq", "serve", "--db", "postgresql://postgres@127.0.0.1:5432/pl_not_there")
    assert missing.returncode == 1
    assert missing.stderr.splitlines() == [
        "pos-loyalty: HQ cannot reach the database postgresql://postgres@127.0.0.1:5432/"
        'pl_not_there: database "pl_not_there" does not exist.'
    ]
    assert not list(tmp_path.iterdir())


def test_hqs_commands_that_read_a_database_do_not_make_one_from_a_mistyped_path(tmp_path):
    for command in (
        ("verify",),
        ("review",),
        ("expire",),
        ("revoke-terminal", "--store", "A", "--terminal", "T"),
    ):
        refused = run("hq", *command, "--db", "sqlite:///typo/hq.db", cwd=tmp_path)
        assert refused.returncode == 1, refused.stderr
        assert "HQ's database typo/hq.db does not exist; check --db" in refused.stderr
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("store", "terminal"),
    [("", "T1"), ("bad store!", "T1"), ("AMS/01", "T1"), ("A", "T" * 33), ("A", "T1\nT2")],
)
def test_add_terminal_refuses_ids_no_till_can_have(tmp_path, store, terminal):
    refused = run(
        "hq",
        "add-terminal",
        "--db",
        "sqlite:///hq.db",
        "--store",
        store,
        "--terminal",
        terminal,
        cwd=tmp_path,
    )
    assert refused.returncode == 2
    [line] = refused.stderr.splitlines()
    assert line.endswith("id a till can have: use 1-32 letters, digits, dot, dash or underscore.")


def test_a_token_file_others_can_read_is_refused(tmp_path: Path):
    token_file = tmp_path / "hq.token"
    token_file.write_text("secret\n")
    token_file.chmod(0o644)
    config = tmp_path / "pos-loyalty.toml"
    text = config_text().replace('url = ""', 'url = "http://127.0.0.1:9"', 1)
    config.write_text(text.replace('token_file = ""', 'token_file = "hq.token"', 1))
    assert run("init", "--config", str(config)).returncode == 0
    refused = run("sync", "--once", "--config", str(config), "--json")
    assert refused.returncode == 2
    message = json.loads(refused.stdout)["error"]["message"]
    assert "can be read by others" in message and "secret" not in refused.stdout + refused.stderr


@pytest.mark.parametrize(
    ("in_env", "token"),
    [(True, "bad token é"), (False, "ünï".encode()), (False, b"\xff\xfe"), (True, "a b")],
)
def test_a_token_that_is_not_one_is_refused_in_a_sentence(tmp_path: Path, in_env, token):
    token_file = tmp_path / "hq.token"
    token_file.write_bytes(b"" if in_env else token)
    token_file.chmod(0o600)
    config = tmp_path / "pos-loyalty.toml"
    text = config_text().replace('url = ""', 'url = "http://127.0.0.1:9"', 1)
    config.write_text(text.replace('token_file = ""', 'token_file = "hq.token"', 1))
    assert run("init", "--config", str(config)).returncode == 0
    env = {"POS_LOYALTY_HQ_TOKEN": token} if in_env else {}
    refused = run("sync", "--once", "--config", str(config), env=env)
    assert refused.returncode == 2, refused.stderr
    source = "$POS_LOYALTY_HQ_TOKEN" if in_env else "The HQ token file"
    assert (
        refused.stderr.startswith(f"pos-loyalty: {source}")
        and "holds no HQ token" in refused.stderr
    )
    assert "Error" not in refused.stderr and len(refused.stderr.splitlines()) == 1


def test_hq_killed_in_the_middle_of_a_long_push_applies_no_half_batch(tmp_path: Path):
    import threading

    from pos_loyalty import config as config_mod
    from pos_loyalty.service import MemberRef, Till
    from sync.daemon import HQUnreachable, Syncer
    from sync.fault_proxy import FaultProxy
    from sync.hq.commands import open_store

    db, port = f"sqlite:///{tmp_path / 'hq.db'}", free_port()
    hq = start_hq(db, port)
    slow = FaultProxy(("127.0.0.1", port))  # each reply held back a little: the push takes a while
    slow.inject("delay", times=1000, seconds=0.05)
    try:
        store = open_store(db)
        token = store.add_terminal("AMS-01", "T1")
        config = tmp_path / "pos-loyalty.toml"
        text = config_text(velocity_max_per_day=0)
        config.write_text(text.replace('url = ""', f'url = "{slow.url}"', 1))
        till = Till.open(config_mod.load(str(config)), create=True)
        till.enroll("0612345678")
        for n in range(1500):
            till.earn(MemberRef(phone="0612345678"), amount=100 + n)
        outcome: list[object] = []

        def push() -> None:
            try:
                with Syncer(till.source, token=token, batch_size=50, sleep=lambda s: None) as s:
                    outcome.append(s.push(attempts=2))
            except HQUnreachable as exc:
                outcome.append(exc)

        pushing = threading.Thread(target=push)
        pushing.start()
        deadline = time.monotonic() + 30
        while store.event_count() < 200 and time.monotonic() < deadline:
            time.sleep(0.01)
        hq.send_signal(signal.SIGKILL)  # mid-push, mid-batch most likely
        hq.wait()
        pushing.join(60)
        assert outcome and isinstance(outcome[0], HQUnreachable)
        held = store.event_count()
        with store.db.transaction() as tx:
            head = tx.one("SELECT head_seq FROM terminals WHERE terminal_id = 'T1'")[0]
        assert held == head and held % 50 in (0, 2)  # whole batches only (the first had 2 more)
        assert till.queue().acked_seq <= head  # never ahead of what HQ holds
        hq = start_hq(db, port)
        slow.faults.clear()
        with Syncer(till.source, token=token, batch_size=500) as syncer:
            assert syncer.push().acked_seq == till.journal.events.last_seq() == 1502
        assert store.event_count() == 1502
        assert store.account(till.lookup(MemberRef(phone="0612345678")).member_id)[1].balance == (
            till.lookup(MemberRef(phone="0612345678")).balance
        )
        till.close()
        store.db.close()
    finally:
        slow.close()
        hq.kill()
        hq.wait()


def test_sync_daemon_runs_until_ctrl_c_and_a_second_one_is_refused(tmp_path: Path):
    from sync.hq.commands import open_store

    db, port = f"sqlite:///{tmp_path / 'hq.db'}", free_port()
    hq = start_hq(db, port)
    try:
        store = open_store(db)
        token = store.add_terminal("AMS-01", "T1")
        config = tmp_path / "pos-loyalty.toml"
        config.write_text(config_text().replace('url = ""', f'url = "http://127.0.0.1:{port}"', 1))
        assert run("init", "--config", str(config)).returncode == 0
        env = {**os.environ, "POS_LOYALTY_HQ_TOKEN": token}
        daemon = subprocess.Popen(
            [*CLI, "sync", "--daemon", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        time.sleep(1.0)
        second = run(
            "sync",
            "--daemon",
            "--config",
            str(config),
            "--json",
            env={"POS_LOYALTY_HQ_TOKEN": token},
        )
        assert second.returncode == 2
        assert json.loads(second.stdout)["error"]["code"] == "already_syncing"
        plain = run(
            "sync", "--daemon", "--config", str(config), env={"POS_LOYALTY_HQ_TOKEN": token}
        )
        database = tmp_path / "till.db"
        # The refusal is all it says: nothing claims it is syncing first.
        assert (plain.returncode, plain.stdout) == (2, "")
        assert plain.stderr == (
            f"pos-loyalty: Another sync daemon is running for the till database {database}.\n"
        )
        assert run("enroll", "--config", str(config), "--phone", "0612345678").returncode == 0
        deadline = time.monotonic() + 10
        while store.event_count() < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert store.event_count() == 2
        daemon.send_signal(signal.SIGINT)
        out, err = daemon.communicate(timeout=20)
        assert daemon.returncode == 0, err
        assert "Traceback" not in err and "online" in out
        store.db.close()
    finally:
        hq.kill()
        hq.wait()
