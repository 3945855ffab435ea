"""Proof: a full run of HQ and two tills, every log and output line scanned, names no full
phone number and no token. HQ writes its access log; a till logs at DEBUG, as a host POS
might, and asks HQ for members by phone, so a phone is in a request path both ends log."""

from __future__ import annotations

import logging
import re
import signal
import subprocess
from pathlib import Path

import pytest
from hq.test_cli_sync import free_port, run, start_hq

from pos_loyalty import config as config_mod
from sync.daemon import Syncer

from .conftest import till_text

PHONE = "0612345678"  # +31 6 12345678: no log may hold its last nine digits together
FULL = re.compile(r"6\D{0,3}1\D{0,3}2\D{0,3}3\D{0,3}4\D{0,3}5\D{0,3}6\D{0,3}7\D{0,3}8")


def a_till(folder: Path, port: int, db: str, terminal: str) -> Path:
    folder.mkdir()
    token = folder / "hq.token"
    added = run(
        "hq",
        "add-terminal",
        "--db",
        db,
        "--store",
        "AMS-01",
        "--terminal",
        terminal,
        "--token-file",
        str(token),
    )
    assert added.returncode == 0, added.stderr
    text = till_text(f"http://127.0.0.1:{port}", terminal=terminal)
    config = folder / "pos-loyalty.toml"
    config.write_text(text.replace('token_file = ""', 'token_file = "hq.token"', 1))
    return config


def test_no_log_or_output_line_names_a_full_phone_or_a_token(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
):
    db, port = f"sqlite:///{tmp_path / 'hq.db'}", free_port()
    hq = start_hq(db, port, "--access-log")
    outputs: list[str] = []
    try:
        first = a_till(tmp_path / "T1", port, db, "T1")
        second = a_till(tmp_path / "T2", port, db, "T2")

        def cli(config: Path, *args: str) -> None:
            done = run(*args, "--config", str(config))
            outputs.extend((done.stdout, done.stderr))
            assert done.returncode == 0, done.stdout + done.stderr

        cli(first, "init")
        cli(first, "enroll", "--phone", PHONE, "--name", "Anna")
        cli(first, "earn", "--phone", PHONE, "--amount", "12.50")
        cli(first, "sync", "--once")
        cli(second, "init")
        cli(second, "sync", "--once")
        cli(second, "lookup", "--phone", PHONE)
        with caplog.at_level(logging.DEBUG), Syncer(config_mod.load(str(second))) as syncer:
            assert syncer.find_member(member_id=None, phone="+31612345678", timeout=5)
            assert syncer.find_member(member_id=None, phone="+31699999999", timeout=5) is None
        assert any("phones" in r.getMessage() for r in caplog.records), "httpx logged nothing"
    finally:
        hq.send_signal(signal.SIGTERM)
        try:
            access, said = hq.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            hq.kill()
            access, said = hq.communicate()
        hq_log = access + said
    tokens = [(tmp_path / t / "hq.token").read_text().strip() for t in ("T1", "T2")]
    lines = [
        *hq_log.splitlines(),
        *(line for text in outputs for line in text.splitlines()),
        *caplog.text.splitlines(),
    ]
    # Not vacuous: HQ's access log holds both lookups, with what is left of the phone.
    looked_up = [line for line in hq_log.splitlines() if "/v1/phones/" in line]
    assert [line.split("/v1/phones/")[1][:12] for line in looked_up] == [
        "•••••••••678",
        "•••••••••999",
    ], hq_log
    assert [line for line in lines if FULL.search(line)] == []
    assert [line for line in lines if any(t in line for t in tokens)] == []


def test_the_mask_takes_phones_as_written_and_as_in_a_url_and_nothing_else():
    from sync.logs import masked

    assert masked("GET /v1/phones/+31612345678 200") == "GET /v1/phones/•••••••••678 200"
    assert masked("phones/%2B31612345678?x") == "phones/•••••••••678?x"
    assert masked("events/12345678 seq 4000000 +12") == "events/12345678 seq 4000000 +12"
