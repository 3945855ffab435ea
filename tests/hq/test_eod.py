"""End of day against the real HQ: the till's push, HQ's word and the chain's figures in one
report, saved and printed; with HQ down, a report that says so and a non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from pos_loyalty.errors import NeedsManager, NotAllowed
from pos_loyalty.service import MemberRef
from sync.daemon import Syncer
from sync.eod import end_of_day, save_report
from sync.protocol import API

from .test_cli_sync import free_port

ANNA = MemberRef(phone="0612345678")
PIN = "4321"


def with_manager(till):
    till.add_staff("M1", name="Maria", role="manager", pin=PIN)
    return till.sign_in("M1", PIN, manager=True)


def test_end_of_day_with_hq_up_sends_everything_and_shows_the_chain(make_synced_till, hq):
    other, other_token = make_synced_till("T1", "RTM-01")  # another store of the chain
    other.enroll("0687654321")
    other.earn(MemberRef(phone="0687654321"), amount=10000)
    with Syncer(other.source, token=other_token) as syncer:
        syncer.push()
    till, token = make_synced_till("T1", "AMS-01")
    manager = with_manager(till)
    till.enroll("0612345678", name="Anna")
    till.earn(ANNA, amount=30000)
    till.redeem(ANNA, reward_id="coffee")
    seen: list[tuple[int, int]] = []
    eod = end_of_day(
        till, manager, token=token, batch_size=2, on_progress=lambda a, b, why: seen.append((a, b))
    )

    last = till.journal.events.last_seq()
    assert eod.complete and eod.sync.problem is None
    assert (eod.sync.pushed, eod.till.unsynced) == (last, 0)
    assert (eod.sync.hq_seq, eod.sync.hq_hash) == (eod.sync.head_seq, eod.sync.head_hash)
    assert eod.sync.head_seq == last and eod.sync.agreed
    assert seen[-1] == (last, last) and len(seen) >= 3  # batches of 2: progress after each
    chain = eod.chain
    assert chain is not None
    # This store: Anna's welcome 50 + 300 earned − 150 redeemed; the chain adds RTM-01's.
    assert (chain.store.issued, chain.store.redeemed, chain.store.net) == (350, 150, 200)
    assert (chain.chain.issued, chain.chain.redeemed, chain.chain.net) == (500, 150, 350)
    assert (chain.members, chain.liability_points) == (2, 350)
    assert chain.liability == 350 * 1  # the example program: a point is worth a cent
    # The till's own figure: every member it knows, here both, as the pull brought RTM-01's.
    assert eod.till.liability_points == 350 and eod.till.net == 200

    text_path, json_path = save_report(till, eod)
    text = text_path.read_text()
    assert "END OF DAY" in text and "Run by M1 Maria" in text
    assert "ALL SYNCED: HQ HOLDS EVERY EVENT" in text
    saved = json.loads(json_path.read_text())
    assert saved["complete"] is True and saved["chain"]["liability_points"] == 350
    assert saved["sync"]["head_seq"] == last and saved["sync"]["agreed"] is True
    assert not list(text_path.parent.glob("*.part"))


def test_end_of_day_with_hq_down_says_what_waits_and_is_not_complete(make_synced_till, hq):
    dead = f"http://127.0.0.1:{free_port()}"
    till, token = make_synced_till(url=dead, timeout=0.5)
    manager = with_manager(till)
    till.enroll("0612345678")
    started = time.monotonic()
    eod = end_of_day(till, manager, token=token, deadline=1.0)
    assert time.monotonic() - started < 10  # the deadline holds, whatever the backoff
    assert not eod.complete and eod.chain is None
    assert eod.till.unsynced == 2 and eod.sync.pushed == 0 and eod.sync.hq_seq is None
    assert eod.sync.problem is not None and "cannot be reached" in eod.sync.problem
    text = save_report(till, eod)[0].read_text()
    assert "NOT SYNCED: 2 EVENTS WAITING" in text
    assert "Not known: HQ could not be asked." in text


def test_end_of_day_with_hq_down_after_a_sync_is_not_confirmed_and_keeps_the_days_report(
    make_synced_till, proxy
):
    """Every event went to HQ earlier, but HQ does not answer now: the day is not confirmed
    (no chain figures, a non-zero exit), and the complete report of earlier that day stays."""
    till, token = make_synced_till(url=proxy.url, timeout=0.5)
    manager = with_manager(till)
    till.enroll("0612345678")
    first = end_of_day(till, manager, token=token)
    assert first.complete
    complete_text, complete_json = save_report(till, first)
    kept = complete_text.read_text()
    proxy.mode = "down"
    later = end_of_day(till, manager, token=token, deadline=1.0)
    assert later.till.unsynced == 0 and later.sync.hq_seq is None
    assert not later.complete and later.chain is None
    text_path, json_path = save_report(till, later)
    assert "NOT CONFIRMED: HQ COULD NOT BE ASKED" in text_path.read_text()
    assert text_path != complete_text and json.loads(json_path.read_text())["complete"] is False
    assert complete_text.read_text() == kept and json.loads(complete_json.read_text())["complete"]


def test_end_of_day_needs_a_manager(make_synced_till, hq):
    till, token = make_synced_till()
    with_manager(till)
    till.add_staff("C7", name="Carl", role="cashier", pin="1111", approval=till.sign_in("M1", PIN))
    with pytest.raises(NotAllowed):
        end_of_day(till, None, token=token)
    with pytest.raises(NeedsManager):
        end_of_day(till, till.sign_in("C7", "1111"), token=token)
    assert not (Path(till.journal.path).parent / "reports").exists()


@pytest.mark.parametrize(
    "query",
    [
        "",
        "?since=2026-11-25T00:00:00.000Z",
        "?since=yesterday&until=today",
        "?since=2026-11-25&until=2026-11-26",
        "?since=2026-11-25T00:00:00.000Z&until=2026-11-26T00:00:00.000Z&extra=1",
    ],
)
def test_hq_refuses_a_totals_request_it_cannot_read(make_synced_till, hq, query):
    _, token = make_synced_till()
    reply = httpx.get(f"{hq.base}{API}/totals{query}", headers={"authorization": f"Bearer {token}"})
    assert reply.status_code == 400
    assert reply.json()["error"]["message"].endswith(".")


def test_an_inverted_window_counts_nothing(make_synced_till, hq):
    till, token = make_synced_till()
    till.enroll("0612345678")
    with Syncer(till.source, token=token) as syncer:
        syncer.push()
        empty = syncer.totals("2026-11-26T00:00:00.000Z", "2026-11-25T00:00:00.000Z")
        day = syncer.totals("2026-11-25T00:00:00.000Z", "2026-11-26T00:00:00.000Z")
    assert (empty.chain, empty.store, empty.liability_points) == ({}, {}, 50)
    assert day.chain["welcome_bonus"].points == 50 and day.acked_seq == 2


def test_eod_from_the_command_line_with_hq_down(tmp_path: Path):
    """As a manager runs it, not on a terminal: plain progress lines on stderr, the report on
    stdout, both files saved, exit 1."""
    from conftest import config_text

    config = tmp_path / "pos-loyalty.toml"
    text = config_text().replace('url = ""', f'url = "http://127.0.0.1:{free_port()}"', 1)
    config.write_text(text.replace("timeout_seconds = 5.0\n", "timeout_seconds = 0.5\n", 1))
    env = {k: v for k, v in os.environ.items() if not k.startswith("POS_LOYALTY")}
    env |= {"POS_LOYALTY_HQ_TOKEN": "t", "POS_LOYALTY_PIN": PIN, "POS_LOYALTY_MANAGER_PIN": PIN}

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        command = [sys.executable, "-m", "pos_loyalty", *args, "--config", str(config)]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=60, env=env, stdin=subprocess.DEVNULL
        )

    assert run("init").returncode == 0
    assert run("staff", "add", "M1", "--role", "manager", "--name", "Maria").returncode == 0
    assert run("enroll", "--phone", "0612345678").returncode == 0
    missing = run("eod")
    assert missing.returncode == 2 and "--manager" in missing.stderr
    down = run("eod", "--manager", "M1", "--deadline", "1")
    assert down.returncode == 1, down.stdout + down.stderr
    assert "NOT SYNCED: 2 EVENTS WAITING" in down.stdout
    assert "HQ holds #0 of #2." in down.stderr and "Traceback" not in down.stderr
    assert "HQ cannot be reached (nothing answers at its address). Trying again." in down.stderr
    assert down.stderr.count("Trying again.") == 1
    saved = sorted(p.name for p in (tmp_path / "reports").iterdir())
    assert len(saved) == 2 and saved[0].endswith(".json") and saved[1].endswith(".txt")
    modes = {p.name: p.stat().st_mode & 0o777 for p in (tmp_path / "reports").iterdir()}
    assert set(modes.values()) == {0o600}, modes  # the owner's only, whatever the umask
    assert (tmp_path / "reports").stat().st_mode & 0o777 == 0o700
    as_json = run("eod", "--manager", "M1", "--deadline", "1", "--json")
    assert as_json.returncode == 1 and as_json.stderr == ""  # no progress lines with --json
    data = json.loads(as_json.stdout)
    assert data["complete"] is False and data["till"]["unsynced"] == 2
    assert data["sync"]["problem"].startswith("HQ cannot be reached")
