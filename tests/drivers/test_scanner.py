"""The serial scanner driver read through a real pseudo-terminal (the simulated scanner)."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from queue import Empty, Queue

import pytest
from hypothesis import given
from hypothesis import strategies as st

from drivers.scanner import (
    NO_AIM,
    NO_END,
    TOO_LONG,
    UNREADABLE,
    DuplicateFilter,
    FrameSplitter,
    OverlongFrame,
    Scan,
    ScannerError,
    ScannerSettings,
    SerialScanner,
    classify,
    decode_frame,
    open_port,
)
from drivers.sim_scanner import (
    NOT_RUNNING,
    ScanControl,
    SimScanner,
    SimScannerError,
    main_scan,
    main_scanner,
    send_scan,
)
from pos_loyalty.errors import BadInput, BadScan, ConfigError
from pos_loyalty.members import ALPHABET, member_code, new_member_id

ROOT = Path(__file__).resolve().parents[2]
MISSING_DEVICE = "/dev/ttyNO-SUCH-SCANNER"


@pytest.fixture
def sim() -> Iterator[SimScanner]:
    with SimScanner() as simulator:
        yield simulator


@contextmanager
def reading(sim: SimScanner, **settings: object) -> Iterator[Queue[Scan]]:
    """Scans the real driver reads from ``sim``'s pty, as a queue."""
    scans: Queue[Scan] = Queue()
    with SerialScanner(sim.device_path, settings=ScannerSettings(**settings), queue=scans):
        yield scans


def next_scan(scans: Queue[Scan]) -> Scan:
    return scans.get(timeout=2)


def assert_nothing_more(scans: Queue[Scan]) -> None:
    with pytest.raises(Empty):
        scans.get(timeout=0.15)


def a_member_code() -> str:
    return member_code(new_member_id())


# --- framing over the pty --------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["cr", "lf", "crlf"])
def test_every_line_end_ends_a_scan_and_leaves_nothing_behind(sim, suffix):
    first, second = a_member_code(), a_member_code()
    with reading(sim) as scans:
        sim.scan(first, suffix=suffix)
        sim.scan(second, suffix=suffix)
        assert next_scan(scans) == Scan(first)
        assert next_scan(scans) == Scan(second)
        assert_nothing_more(scans)


def test_crlf_split_across_two_reads_leaves_no_stray_frame(sim):
    with reading(sim) as scans:
        sim.send_raw(b"FIRST\r")
        time.sleep(0.05)
        sim.send_raw(b"\nSECOND\r")
        time.sleep(0.05)
        sim.send_raw(b"\n")
        assert [next_scan(scans).code for _ in range(2)] == ["FIRST", "SECOND"]
        assert_nothing_more(scans)


def test_back_to_back_frames_in_one_write_are_separate_scans(sim):
    with reading(sim) as scans:
        sim.send_raw(b"ONE\r\nTWO\rTHREE\n")
        assert [next_scan(scans).code for _ in range(3)] == ["ONE", "TWO", "THREE"]
        assert_nothing_more(scans)


def test_a_code_trickling_in_over_several_writes_is_one_scan(sim):
    code = a_member_code()
    with reading(sim) as scans:
        for piece in (code[:3], code[3:11], code[11:], "\r\n"):
            sim.send_raw(piece.encode())
            time.sleep(0.03)
        assert next_scan(scans) == Scan(code)
        assert_nothing_more(scans)


def test_a_code_without_a_line_end_is_reported_not_held_forever(sim):
    with reading(sim, stale_after=0.3) as scans:
        sim.send_raw(b"M1NOSUFFIX")
        assert next_scan(scans) == Scan.bad(NO_END)
        sim.scan("NEXT")
        assert next_scan(scans).code == "NEXT"


# --- AIM symbology identifiers -----------------------------------------------------------


def test_aim_off_passes_the_text_through_untouched(sim):
    with reading(sim, aim="off") as scans:
        sim.scan("ABC", aim="]Q1")
        assert next_scan(scans) == Scan("]Q1ABC")


def test_aim_optional_strips_an_identifier_and_accepts_none(sim):
    code = a_member_code()
    with reading(sim, aim="optional") as scans:
        sim.scan(code, aim="]Q1")
        sim.scan("PLAIN")
        assert next_scan(scans) == Scan(code, symbology="]Q1")
        assert next_scan(scans) == Scan("PLAIN")


def test_aim_required_refuses_a_scan_without_identifier(sim):
    with reading(sim, aim="required") as scans:
        sim.scan("PLAIN")
        sim.scan("TAGGED", aim="]C0")
        assert next_scan(scans) == Scan.bad(NO_AIM)
        assert next_scan(scans) == Scan("TAGGED", symbology="]C0")


def test_a_symbology_the_till_does_not_accept_is_refused_by_name(sim):
    with reading(sim, aim="required", symbologies=frozenset({"]Q1"})) as scans:
        sim.scan("4006381333931", aim="]E0")
        sim.scan("QRTEXT", aim="]Q1")
        refused = next_scan(scans)
        assert not refused.ok
        assert "(]E0) is not accepted at this till" in refused.error
        assert next_scan(scans) == Scan("QRTEXT", symbology="]Q1")


def test_an_identifier_with_nothing_after_it_is_unreadable():
    assert decode_frame(b"]Q1", ScannerSettings()) == Scan.bad(UNREADABLE)


# --- garbage, length, duplicates ---------------------------------------------------------


@pytest.mark.parametrize(
    "noise",
    [b"\xff\xfe\x80garbage", b"AB\x00CD", b"\x1b[2J", "caf\u00e9\u200b".encode()],
    ids=["bad-utf8", "nul", "escape-sequence", "invisible-char"],
)
def test_noise_is_a_bad_scan_and_the_next_code_still_reads(sim, noise):
    code = a_member_code()
    with reading(sim) as scans:
        sim.send_raw(noise + b"\r\n")
        sim.scan(code)
        assert next_scan(scans) == Scan.bad(UNREADABLE)
        assert next_scan(scans) == Scan(code)


def test_an_over_long_frame_is_dropped_once_and_the_next_code_reads(sim):
    code = a_member_code()
    with reading(sim, max_frame=64) as scans:
        sim.send_raw(b"X" * 500 + b"\r\n")
        sim.scan(code)
        assert next_scan(scans) == Scan.bad(TOO_LONG)
        assert next_scan(scans) == Scan(code)
        assert_nothing_more(scans)


def test_blank_and_padded_lines(sim):
    with reading(sim) as scans:
        sim.send_raw(b"\r\n\r\n  \t\r\n\tPADDED \r\n")
        assert next_scan(scans) == Scan("PADDED")
        assert_nothing_more(scans)


def test_a_repeat_within_the_window_is_ignored_and_after_it_accepted(sim):
    code = a_member_code()
    with reading(sim, duplicate_window=0.3) as scans:
        sim.scan(code)
        sim.scan(code)
        assert next_scan(scans) == Scan(code)
        assert_nothing_more(scans)
        time.sleep(0.35)
        sim.scan(code)
        assert next_scan(scans) == Scan(code)


def test_a_code_held_under_the_scanner_counts_once_and_another_code_breaks_the_run():
    now = [0.0]
    repeats = DuplicateFilter(window=1.5, clock=lambda: now[0])
    seen = []
    reads = [(0, "A"), (1, "A"), (2, "A"), (3, "B"), (3.1, "A"), (4.5, "A"), (6.1, "A")]
    for at, code in reads:
        now[0] = at
        seen.append(repeats.is_repeat(code))
    assert seen == [False, True, True, False, False, True, False]


# --- the reader thread and the port ------------------------------------------------------


def test_stop_is_prompt_and_releases_the_port(sim):
    scanner = SerialScanner(sim.device_path, queue=Queue())
    scanner.start()
    time.sleep(0.2)
    started = time.monotonic()
    scanner.stop()
    assert time.monotonic() - started < 0.5
    assert not scanner.running
    with SerialScanner(sim.device_path, queue=Queue()):
        pass  # the exclusive lock is gone


def test_callback_runs_and_a_failing_callback_does_not_stop_the_scanner(sim):
    seen: list[tuple[str, str]] = []

    def on_scan(scan: Scan) -> None:
        seen.append((scan.code, threading.current_thread().name))
        if scan.code == "BOOM":
            raise RuntimeError("consumer bug")

    scans: Queue[Scan] = Queue()
    with SerialScanner(sim.device_path, on_scan=on_scan, queue=scans):
        sim.scan("BOOM")
        sim.scan("AFTER")
        assert [next_scan(scans).code for _ in range(2)] == ["BOOM", "AFTER"]
    assert seen == [("BOOM", "scanner-reader"), ("AFTER", "scanner-reader")]


def test_an_unplugged_scanner_is_reported_once_and_stop_stays_prompt(sim):
    scanner = SerialScanner(sim.device_path, queue=(scans := Queue()))
    scanner.start()
    sim.close()
    gone = next_scan(scans)
    assert gone.error == f"The scanner at {sim.device_path} stopped answering; check its cable."
    assert_nothing_more(scans)
    started = time.monotonic()
    scanner.stop()
    assert time.monotonic() - started < 0.5


def test_a_missing_device_says_what_to_check():
    with pytest.raises(ScannerError) as caught:
        SerialScanner(MISSING_DEVICE, queue=Queue()).start()
    assert str(caught.value) == (
        f"No scanner at {MISSING_DEVICE}: check the cable and the config's scanner.port."
    )


def test_a_scanner_the_user_may_not_open_says_how_to_fix_it(sim):
    os.chmod(sim.device_path, 0)
    message = _open_as_unprivileged_user(sim.device_path)
    assert message.startswith(f"This user may not open the scanner at {sim.device_path}")
    assert "dialout group" in message and "udev rule" in message


def test_a_scanner_already_in_use_says_so(sim):
    with SerialScanner(sim.device_path, queue=Queue()), pytest.raises(ScannerError) as caught:
        open_port(sim.device_path, 9600, 0.1)
    assert "is in use by another program" in str(caught.value)


def test_a_serial_url_opens_like_a_device():
    port = open_port("loop://", 9600, 0.1)
    try:
        port.write(b"LOOPED\r\n")
        assert port.read(8) == b"LOOPED\r\n"
    finally:
        port.close()


def test_unknown_url_scheme_and_bad_settings_are_config_errors():
    with pytest.raises(ScannerError, match="not usable"):
        open_port("nosuch://scanner", 9600, 0.1)
    with pytest.raises(ConfigError, match=r"scanner\.aim"):
        ScannerSettings(aim="sometimes")  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=r"scanner\.symbologies"):
        ScannerSettings(symbologies=frozenset({"QR"}))


def _open_as_unprivileged_user(path: str) -> str:
    """The open error seen by a user without rights to ``path`` (root drops to nobody)."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: drop privileges, try the real open, report, exit at once
        try:
            if os.getuid() == 0:
                os.setgroups([])
                os.setgid(65534)
                os.setuid(65534)
            try:
                open_port(path, 9600, 0.1).close()
                message = "opened"
            except ScannerError as exc:
                message = exc.message
            os.write(write_end, message.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    with os.fdopen(read_end, "rb") as child_output:
        message = child_output.read().decode()
    os.waitpid(pid, 0)
    return message


# --- member codes: one classification for serial and keyboard-wedge scans -----------------


def test_a_member_code_scan_gives_the_member_id():
    member_id = new_member_id()
    assert classify(Scan(member_code(member_id), symbology="]Q1")) == member_id
    assert classify(f"]Q1{member_code(member_id)}\n") == member_id  # wedge with AIM on


def test_a_misread_check_character_is_rejected_not_matched():
    code = a_member_code()
    wrong_check = next(ch for ch in ALPHABET if ch != code[-1])
    with pytest.raises(BadScan, match="does not check out"):
        classify(Scan(code[:-1] + wrong_check))


def test_a_qr_that_is_not_a_member_code_says_so():
    with pytest.raises(BadScan) as caught:
        classify(Scan("https://example.com/menu", symbology="]Q1"))
    assert str(caught.value) == "That is not a member code."


def test_a_bad_scan_classifies_as_its_own_sentence():
    with pytest.raises(BadScan, match="unreadable"):
        classify(Scan.bad(UNREADABLE))


# --- FrameSplitter properties ------------------------------------------------------------

_frame = st.binary(min_size=1, max_size=100).map(
    lambda b: b.replace(b"\r", b"x").replace(b"\n", b"y")
)
_line_end = st.sampled_from([b"\r", b"\n", b"\r\n"])


def _chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    return [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]


def _split(chunks: list[bytes], max_length: int = 512) -> list[bytes]:
    splitter = FrameSplitter(max_length)
    return [frame for chunk in chunks for frame in splitter.feed(chunk)]


@given(st.lists(st.tuples(_frame, _line_end)), st.lists(st.integers(min_value=0)))
def test_frames_come_back_whole_however_the_stream_is_chunked(lines, cuts):
    stream = b"".join(frame + end for frame, end in lines)
    frames = _split(_chunked(stream, cuts), max_length=50)
    expected = [frame if len(frame) <= 50 else frame[:50] for frame, _ in lines]
    assert frames == expected
    assert [isinstance(f, OverlongFrame) for f in frames] == [len(f) > 50 for f, _ in lines]


@given(st.binary(max_size=2000), st.lists(st.integers(min_value=0)))
def test_any_bytes_split_the_same_whatever_the_chunking_and_never_raise(data, cuts):
    whole = _split([data], max_length=64)
    assert _split(_chunked(data, cuts), max_length=64) == whole
    assert all(
        0 < len(frame) <= 64 and b"\r" not in frame and b"\n" not in frame for frame in whole
    )
    settings = ScannerSettings(max_frame=64)
    for frame in whole:
        decode_frame(frame, settings)  # never raises either


# --- the simulator's control channel and commands ----------------------------------------


@pytest.fixture
def control(sim, tmp_path) -> Iterator[Path]:
    """A simulator control socket served on a thread; yields its path."""
    path = tmp_path / "scanner.sock"
    stop = threading.Event()
    with ScanControl(sim, path) as server:
        thread = threading.Thread(target=server.serve, args=(stop, lambda line: None))
        thread.start()
        yield path
        stop.set()
        thread.join()
    assert not path.exists()


def test_sim_scan_without_a_simulator_says_how_to_start_one(tmp_path, capsys):
    assert main_scan(["M1X", "--control", str(tmp_path / "none.sock")]) == 2
    assert capsys.readouterr().err.strip() == NOT_RUNNING


def test_a_scan_sent_over_the_control_socket_reaches_the_reader(sim, control):
    code = a_member_code()
    with reading(sim, aim="required") as scans:
        assert main_scan([code, "--suffix", "lf", "--aim", "]Q1", "--control", str(control)]) == 0
        assert next_scan(scans) == Scan(code, symbology="]Q1")


def test_scanning_into_a_pty_nobody_reads_fails_instead_of_hanging():
    with (
        SimScanner(write_wait=0.1) as unread,
        pytest.raises(SimScannerError, match="Nothing is reading"),
    ):
        for _ in range(10_000):
            unread.scan(a_member_code())


def test_bad_control_requests_are_refused_and_the_simulator_carries_on(sim, control):
    with pytest.raises(BadInput, match="AIM identifier"):
        send_scan(control, "CODE", aim="Q1")
    with socket.socket(socket.AF_UNIX) as raw:
        raw.connect(str(control))
        raw.sendall(b"this is not json\n")
        assert b"could not read that request" in raw.recv(1000)
    with reading(sim) as scans:
        send_scan(control, "STILL-HERE")
        assert next_scan(scans).code == "STILL-HERE"


def test_sim_scanner_and_sim_scan_commands_end_to_end(tmp_path, capsys):
    control = tmp_path / "scanner.sock"
    simulator = subprocess.Popen(
        _module_command("scanner", "--control", str(control)),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        bufsize=0,
    )
    try:
        first_line = _line_from(simulator)
        assert first_line.startswith("device: /dev/pts/")
        device = first_line.removeprefix("device: ")
        member_id = new_member_id()
        code = member_code(member_id)
        with SerialScanner(device, queue=(scans := Queue())):
            sent = subprocess.run(
                _module_command(
                    "scan", code, "--suffix", "crlf", "--aim", "]Q1", "--control", str(control)
                ),
                cwd=ROOT,
                capture_output=True,
                text=True,
                timeout=10,
            )
            assert (sent.returncode, sent.stderr) == (0, "")
            assert classify(next_scan(scans)) == member_id
        assert _line_from(simulator) == f"scan: {code} (suffix crlf, aim ]Q1)"

        assert main_scanner(["--control", str(control)]) == 2  # one simulator per socket
        assert "already running" in capsys.readouterr().err

        simulator.send_signal(signal.SIGINT)
        assert simulator.wait(timeout=5) == 0
        assert not control.exists()
    finally:
        if simulator.poll() is None:
            simulator.kill()
            simulator.wait()


def _module_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "drivers.sim_scanner", *args]


def _line_from(process: subprocess.Popen[bytes], timeout: float = 5.0) -> str:
    """One line of the process's stdout, failing instead of hanging if none comes."""
    assert process.stdout is not None
    line = bytearray()
    deadline = time.monotonic() + timeout
    while not line.endswith(b"\n"):
        left = deadline - time.monotonic()
        ready, _, _ = select.select([process.stdout], [], [], max(left, 0))
        assert ready, f"no line from the simulator within {timeout} s (got {bytes(line)!r})"
        byte = process.stdout.read(1)
        assert byte, (
            f"the simulator exited: {process.stderr.read().decode() if process.stderr else ''}"
        )
        line += byte
    return line.decode().rstrip("\n")


def test_scanner_from_the_till_config_reads_the_simulated_scanner(tmp_path):
    """The config's [scanner] table, as a till sets it up, pointed at the simulator's pty."""
    from pos_loyalty import config as config_mod

    with SimScanner() as sim:
        text = config_mod.EXAMPLE.read_text()
        text = text.replace('transport = "keyboard"', 'transport = "serial"', 1)
        text = text.replace('port = ""', f'port = "{sim.device_path}"', 1)
        text = text.replace("symbologies = []", 'symbologies = ["]Q1"]', 1)
        text = text.replace('aim = "optional"', 'aim = "required"', 1)
        cfg = tmp_path / "till.toml"
        cfg.write_text(text)
        scanner_cfg = config_mod.load(str(cfg)).config.scanner
        scans: Queue[Scan] = Queue()
        with SerialScanner.from_config(scanner_cfg, queue=scans):
            sim.scan("M1ABCDEFGHJKMNPQRS5", suffix="crlf", aim="]Q1")
            sim.scan("4006381333931", aim="]E0")
            first, second = scans.get(timeout=2), scans.get(timeout=2)
    assert (first.code, first.symbology) == ("M1ABCDEFGHJKMNPQRS5", "]Q1")
    assert not second.ok  # an EAN-13 is not accepted by a till that takes only QR


def test_scanner_command_looks_up_each_scanned_member(tmp_path):
    """`pos-loyalty scanner`: the config's serial scanner (the simulator's pty) → member
    lookups, one JSON object per scan; a misread says so and the next scan still works."""
    import json as json_mod

    from pos_loyalty import config as config_mod
    from pos_loyalty.service import Till

    with SimScanner() as sim:
        text = config_mod.EXAMPLE.read_text()
        text = text.replace('transport = "keyboard"', 'transport = "serial"', 1)
        text = text.replace('port = ""', f'port = "{sim.device_path}"', 1)
        cfg = tmp_path / "till.toml"
        cfg.write_text(text)
        with Till.open(config_mod.load(str(cfg)), create=True) as till:
            code = till.enroll("0612345678", name="Anna").member.code
        argv = ["scanner", "--config", str(cfg), "--json", "--count", "2"]
        proc = subprocess.Popen(
            [sys.executable, "-m", "pos_loyalty.cli", *argv],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert proc.stderr is not None
        assert "Reading the scanner at" in proc.stderr.readline()  # the port is open
        sim.scan(code[:-1] + ("0" if code[-1] != "0" else "1"), aim="]Q1")  # a misread
        time.sleep(0.2)
        sim.scan(code, suffix="crlf", aim="]Q1")
        output, _ = proc.communicate(timeout=10)
    first, second = (json_mod.loads(line) for line in output.splitlines())
    assert first["error"]["code"] == "bad_scan"
    assert (second["name"], second["code"], second["balance"]) == ("Anna", code, 50)
