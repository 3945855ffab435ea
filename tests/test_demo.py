"""`pos-loyalty demo`: the real HQ, simulated printer and simulated scanner as child processes,
the fault proxy, a seeded till; the screen is the test's own runner, which checks every part
while it runs. Afterwards nothing the demo started may be left running."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from queue import Queue

import httpx
import pytest

from drivers.printer import PrinterLink
from drivers.scanner import Scan, SerialScanner, classify
from pos_loyalty.config import LoadedConfig
from pos_loyalty.demo import run_demo
from pos_loyalty.demo_seed import ANNA_PHONE, CUSTOMERS, NEWCOMER
from pos_loyalty.demo_stack import StartFailed
from pos_loyalty.service import MemberRef, Till

CLI = [sys.executable, "-m", "pos_loyalty"]


def demo_children(pid: int | None = None) -> list[int]:
    """Live (not zombie) pos_loyalty processes whose parent is ``pid`` (default: this one)."""
    parent = os.getpid() if pid is None else pid
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            state, ppid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if int(ppid) == parent and state != "Z" and b"pos_loyalty" in command:
            found.append(int(entry.name))
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def eventually(check: Callable[[], bool], seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, "not within the time allowed"
        time.sleep(0.05)


def health(url: str) -> int | None:
    try:
        return httpx.get(f"{url}/v1/health", timeout=2.0).status_code
    except httpx.HTTPError:
        return None


def test_the_demo_runs_every_part_and_leaves_nothing_running(tmp_path: Path, capsys):
    root = tmp_path / "demo"
    seen: dict[str, list[int]] = {}

    def screen(loaded: LoadedConfig, *, intro: Sequence[str] = ()) -> int:
        seen["children"] = children = demo_children()
        assert len(children) == 3  # HQ, printer, scanner
        assert any("2468" in line for line in intro) and any(ANNA_PHONE in line for line in intro)
        # the screen covers the terminal: how to scan and break things is on it too
        assert any(line.strip().startswith(f"{root / 'scan'} M1-") for line in intro)
        assert any("printer-fault" in line for line in intro)
        assert any("hq-fault" in line for line in intro)
        hq = loaded.config.hq.url
        assert health(hq) == 200  # through the proxy

        with Till.open(loaded) as till:
            views = [till.lookup(MemberRef(phone=c.phone)) for c in CUSTOMERS]
            newcomer = till.lookup(MemberRef(phone=NEWCOMER))
            queue_status = till.queue()
        assert len(views) + 1 >= 20 and all(v.known for v in views) and newcomer.member_id
        assert {v.tier.tier.name for v in views} == {"Bronze", "Silver", "Gold"}
        assert sum(1 for v in views if v.confirmed > 0) >= 15  # the sync happened
        assert queue_status.acked_seq > 0 and queue_status.unsynced > 0
        assert any(v.pending for v in views)  # today's sales wait for the screen's sync
        assert any(v.membership for v in views)
        anna = views[0]

        # What the demo printed before its screen says how to scan Anna's card: do that.
        printed = capsys.readouterr().out
        scan_line = next(line for line in printed.splitlines() if " sim scan " in line)
        code = scan_line.split()[-1]
        assert f"--control {root / 'scanner.sock'} " in scan_line
        scans: Queue[Scan] = Queue()  # the test is the screen: it reads the scanner
        with SerialScanner.from_config(loaded.config.scanner, queue=scans):
            sent = subprocess.run(
                [*CLI, "sim", "scan", "--control", str(root / "scanner.sock"), code],
                capture_output=True,
                text=True,
                timeout=30,
            )
            assert sent.returncode == 0, sent.stderr
            assert classify(scans.get(timeout=5)) == anna.member_id
            time.sleep(1.6)  # past the scanner's duplicate window
            script = subprocess.run(  # the short form the sign-in screen shows
                [str(root / "scan"), code], capture_output=True, text=True, timeout=30
            )
            assert script.returncode == 0, script.stderr
            assert classify(scans.get(timeout=5)) == anna.member_id

        (root / "hq-fault").write_text("down\n")
        eventually(lambda: health(hq) is None)
        (root / "hq-fault").write_text("none\n")
        eventually(lambda: health(hq) == 200)

        printer = PrinterLink.from_config(loaded.config.printer)
        assert printer.status().state == "online"
        (root / "printer-fault").write_text("paper_out\n")
        eventually(lambda: printer.status().state == "paper_out")
        return 7

    status = run_demo(str(root), ui=screen)
    assert status == 7
    children = seen["children"]
    assert not any(alive(pid) for pid in children) and demo_children() == []
    out = capsys.readouterr().out
    assert f"{root / 'receipts'} (.txt and .png per job)" in out
    assert f"echo down > {root / 'hq-fault'}" in out
    assert f"echo paper_out > {root / 'printer-fault'}" in out
    assert (root / "hq.token").stat().st_mode & 0o777 == 0o600


def test_a_part_that_cannot_start_is_one_sentence_and_the_rest_is_stopped(tmp_path: Path):
    called: list[bool] = []
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(StartFailed) as failed:
            run_demo(
                str(tmp_path / "demo"), ui=lambda *a, **k: called.append(True) or 0, hq_port=port
            )
    message = failed.value.message
    assert message.startswith("The demo could not start HQ: it stopped at once")
    assert "\n" not in message and message.endswith(".") and "hq.log" in message
    assert failed.value.exit_status == 1
    assert not called and demo_children() == []


@pytest.mark.parametrize("json_flag", [["--json"], []], ids=["json", "no terminal"])
def test_the_demo_screen_wants_a_terminal_and_has_no_json(tmp_path: Path, json_flag: list[str]):
    run = subprocess.run(
        [*CLI, "demo", "--dir", str(tmp_path / "demo"), *json_flag],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 2
    said = json.loads(run.stdout)["error"]["message"] if json_flag else run.stderr
    assert "--no-ui" in said and said.count("\n") <= 1
    assert sorted(p.name for p in (tmp_path / "demo").iterdir()) == []  # nothing started


# A demo in a process of its own, its screen a stand-in that says when all is up and waits.
DEMO = textwrap.dedent(
    """
    import sys, time
    from pos_loyalty.demo import run_demo

    def screen(loaded, *, intro=()):
        print("SCREEN UP", flush=True)
        time.sleep(60)
        return 0

    try:
        sys.exit(run_demo(sys.argv[1], ui=screen))
    except KeyboardInterrupt:
        sys.exit(130)
    """
)


def start_demo(root: Path) -> tuple[subprocess.Popen[str], list[int]]:
    demo = subprocess.Popen(
        [sys.executable, "-c", DEMO, str(root)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert demo.stdout is not None
    for line in demo.stdout:
        if line.startswith("SCREEN UP"):
            break
    else:
        raise AssertionError(f"the demo did not start: {demo.stderr and demo.stderr.read()}")
    children = demo_children(demo.pid)
    assert len(children) == 3
    return demo, children


@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "kill -9"])
def test_the_demo_stopped_or_killed_takes_its_children_with_it(tmp_path: Path, how: int):
    demo, children = start_demo(tmp_path / "demo")
    try:
        demo.send_signal(how)
        demo.wait(15)
        eventually(lambda: not any(alive(pid) for pid in children), seconds=10)
    finally:
        demo.kill()
        demo.wait()
        for pid in children:  # a failed test must not leave them behind either
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        for stream in (demo.stdout, demo.stderr):
            if stream:
                stream.close()
