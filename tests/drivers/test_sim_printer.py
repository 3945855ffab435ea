"""The simulated network printer, driven over real TCP by python-escpos's Network client."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import zxingcpp
from escpos.exceptions import DeviceNotFoundError
from escpos.printer import Network
from PIL import Image, ImageDraw

from drivers.escpos_parse import PAPERS, QrSymbol, parse_job
from drivers.receipt_render import render_image
from drivers.sim_printer import PrintJob, SimPrinter, main

ROOT = Path(__file__).resolve().parents[2]
DLE_EOT = b"\x10\x04"


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimPrinter]:
    with SimPrinter(out_dir=tmp_path / "jobs") as printer:
        yield printer


def connect(sim: SimPrinter, timeout: float = 2.0) -> Network:
    return Network("127.0.0.1", sim.port, timeout=timeout)


def print_one(sim: SimPrinter, build: Callable[[Network], object], count: int = 1) -> PrintJob:
    """Print through python-escpos, hang up, and return the simulator's `count`th job."""
    p = connect(sim)
    build(p)
    p.close()
    return sim.wait_for_jobs(count)[-1]


def decoded(job: PrintJob) -> list[str]:
    assert job.png_path is not None
    return [result.text for result in zxingcpp.read_barcodes(Image.open(job.png_path))]


# -- printing ---------------------------------------------------------------------------------


def test_styled_slip_is_written_as_bin_txt_png_and_log(sim):
    def slip(p: Network) -> None:
        p.set(align="center", bold=True, double_width=True, double_height=True)
        p.textln("CORNER SHOP")
        p.set_with_default()
        p.set(underline=1)
        p.textln("Balance")
        p.set(underline=0, invert=True)
        p.textln("1 250 points")
        p.set_with_default(align="right")
        p.textln("Gold")
        p.cut()

    job = print_one(sim, slip)
    assert job.outcome == "printed" and job.warnings == ()
    assert job.txt_path.read_text(encoding="utf-8").splitlines()[:4] == [
        " " * 18 + "CORNER SHOP",
        "Balance",
        "1 250 points",
        " " * 44 + "Gold",
    ]
    assert job.bin_path.read_bytes() == job.raw
    assert "printed" in job.log_path.read_text(encoding="utf-8")
    png = Image.open(job.png_path)
    assert png.width == 576 and png.mode == "1"
    assert job.txt_path.parent.stat().st_mode & 0o777 == 0o700  # receipts name members


def test_58mm_paper_has_32_columns_and_384_dots(tmp_path):
    with SimPrinter(out_dir=tmp_path, paper=58) as sim:
        job = print_one(sim, lambda p: p.textln("y" * 40))
    assert job.text.splitlines() == ["y" * 32, "y" * 8]
    assert Image.open(job.png_path).width == 384


@pytest.mark.parametrize(
    ("code_page", "text"),
    [("CP858", "Total 12,50 € – Grüße"), ("CP857", "Puan: ğ ş İ ı ç ö ü"), ("AUTO", "€ ü ğ ş İ")],
)
def test_code_pages_print_the_same_glyphs(sim, code_page, text):
    def slip(p: Network) -> None:
        p.charcode(code_page)
        p.textln(text)

    job = print_one(sim, slip)
    expected = text.replace("–", "?") if code_page == "CP858" else text  # no dash in PC858
    assert job.text == expected + "\n"


def test_glyphs_beyond_ascii_render_with_a_real_font():
    """Five different letters must give five different images, not five identical boxes."""
    letters = {"€": (19, 0xD5), "ü": (19, 0x81), "ğ": (13, 0xA7), "ş": (13, 0x9F), "İ": (13, 0x98)}
    images = {
        render_image(parse_job(b"\x1bt" + bytes([page, byte]) + b"\n")).tobytes()
        for page, byte in letters.values()
    }
    assert len(images) == len(letters)


def test_native_qr_decodes_from_the_png_at_the_module_size_asked(sim):
    job = print_one(sim, lambda p: p.qr("https://loyalty.example/m/7Q2K9", native=True, size=4))
    assert decoded(job) == ["https://loyalty.example/m/7Q2K9"]
    (symbol,) = [b for b in job.parsed.blocks if isinstance(b, QrSymbol)]
    assert symbol.module == 4
    assert len(job.raw) < 100  # native QR: a few bytes on the wire


def test_raster_qr_decodes_from_the_png(sim):
    job = print_one(sim, lambda p: p.qr("MEMBER-0042", native=False, size=4))
    assert decoded(job) == ["MEMBER-0042"]


@pytest.mark.parametrize(
    ("code", "kind", "options", "expected"),
    [
        ("4006381333931", "EAN13", {}, "4006381333931"),
        ("{BHELLO-42", "CODE128", {"function_type": "B"}, "HELLO-42"),
    ],
)
def test_hardware_barcodes_decode_from_the_png(sim, code, kind, options, expected):
    job = print_one(sim, lambda p: p.barcode(code, kind, width=2, **options))
    assert decoded(job) == [expected]


def test_image_prints_at_exact_dot_size(sim):
    image = Image.new("RGB", (64, 32), "white")
    ImageDraw.Draw(image).rectangle((0, 0, 31, 15), fill="black")
    job = print_one(sim, lambda p: p.image(image, impl="bitImageRaster"))
    assert Image.open(job.png_path).convert("L").histogram()[0] == 32 * 16
    assert "[image 64x32]" in job.text


def test_cuts_split_receipts_and_drawer_kick_is_logged(sim):
    def slips(p: Network) -> None:
        p.textln("first")
        p.cut()
        p.textln("second")
        p.cut(mode="PART")
        p.cashdraw(2)

    job = print_one(sim, slips)
    assert [receipt.cut for receipt in job.parsed.receipts] == ["full", "partial"]
    assert "✂" in job.text and "partial cut" in job.text
    assert "drawer: pin 2" in job.log_path.read_text(encoding="utf-8")


def test_unknown_bytes_are_logged_not_printed(sim):
    job = print_one(sim, lambda p: p._raw(b"ok\n\x1b\x7fzz\n\x1d(L\x05\x00"))
    log = job.log_path.read_text(encoding="utf-8")
    assert "unknown command ESC 0x7f" in log and "truncated GS ( L" in log
    assert job.text.splitlines() == ["ok", "zz"]


def test_connection_that_only_asks_status_is_not_a_job(sim):
    p = connect(sim)
    assert p.is_online()
    p.close()
    print_one(sim, lambda p: p.textln("real job"))
    assert [job.number for job in sim.jobs] == [1]


def test_idle_gap_ends_a_job_on_an_open_connection(tmp_path):
    with SimPrinter(out_dir=tmp_path, idle_timeout=0.2) as sim:
        p = connect(sim)
        p.textln("one")
        sim.wait_for_jobs(1)
        p.textln("two")
        p.close()
        assert [job.text for job in sim.wait_for_jobs(2)] == ["one\n", "two\n"]


def test_job_numbers_continue_after_a_restart(tmp_path):
    for expected in (1, 2):
        with SimPrinter(out_dir=tmp_path) as sim:
            assert print_one(sim, lambda p: p.textln("x")).number == expected
    assert sorted(path.name for path in tmp_path.glob("*.bin")) == ["job-0001.bin", "job-0002.bin"]


# -- status and faults --------------------------------------------------------------------------


def status(p: Network, request: bytes) -> int:
    return p.query_status(request)[0]


@pytest.mark.parametrize(
    ("fault", "online", "paper", "gs_r_1", "offline_cause"),
    [
        (None, True, 2, 0x00, 0x12),
        ("near_end", True, 1, 0x03, 0x12),
        ("paper_out", False, 0, 0x0F, 0x32),
        ("cover_open", False, 2, 0x00, 0x16),
    ],
)
def test_status_bytes_per_fault_as_python_escpos_reads_them(
    sim, fault, online, paper, gs_r_1, offline_cause
):
    sim.set_fault(fault)
    p = connect(sim)
    assert p.is_online() is online
    assert p.paper_status() == paper
    assert status(p, b"\x1dr\x01") == gs_r_1
    assert status(p, DLE_EOT + b"\x02") == offline_cause
    p.close()


def test_near_end_still_prints(sim):
    sim.set_fault("near_end")
    assert print_one(sim, lambda p: p.textln("still here")).printed


def test_paper_out_discards_the_job_and_logs_it(sim):
    sim.set_fault("paper_out")
    job = print_one(sim, lambda p: p.textln("lost slip"))
    assert (job.outcome, job.printed, job.png_path) == ("paper_out", False, None)
    assert job.bin_path.read_bytes().endswith(b"lost slip\n")
    assert "were not printed" in job.log_path.read_text(encoding="utf-8")
    sim.set_fault(None)
    assert print_one(sim, lambda p: p.textln("reprint"), 2).text == "reprint\n"


def test_offline_refuses_connections_until_back(sim):
    sim.set_fault("offline")
    with pytest.raises(DeviceNotFoundError):
        connect(sim).open()
    sim.set_fault(None)
    assert print_one(sim, lambda p: p.textln("back")).printed


def test_silent_printer_looks_fine_to_python_escpos_paper_status(sim):
    """python-escpos 3.1 reports paper present when no reply comes: never trust that alone."""
    sim.set_fault("silent")
    p = connect(sim)
    assert p.paper_status() == 2  # the trap: "plenty of paper" from a printer that said nothing
    assert p.query_status(DLE_EOT + b"\x04") == b""  # what really came back
    assert p.is_online() is False
    p.textln("printed anyway")
    p.close()
    assert sim.wait_for_jobs(1)[0].printed


def test_unresponsive_printer_makes_status_reads_time_out(sim):
    sim.set_fault("unresponsive")
    p = connect(sim, timeout=0.3)
    with pytest.raises(TimeoutError):
        p.paper_status()
    p.close()


def test_slow_printer_reads_at_its_rate(tmp_path):
    with SimPrinter(out_dir=tmp_path, fault="slow", rate=2000) as sim:
        started = time.monotonic()
        job = print_one(sim, lambda p: p.textln("z" * 999))
        assert time.monotonic() - started >= 0.45
    assert job.printed and job.raw.endswith(b"z" * 999 + b"\n")


def test_drop_resets_mid_job_and_nothing_is_printed(tmp_path):
    with SimPrinter(out_dir=tmp_path, fault="drop", drop_after=64) as sim:
        p = connect(sim)
        p.textln("a" * 100)
        (job,) = sim.wait_for_jobs(1)
        with pytest.raises(OSError):
            for _ in range(50):  # the reset arrives: a following send fails
                p._raw(b"more\n")
                time.sleep(0.02)
        p.close()
    assert (job.outcome, job.printed, job.txt_path) == ("dropped", False, None)
    assert len(job.raw) >= 64
    assert "closed by the printer" in job.log_path.read_text(encoding="utf-8")


def test_control_file_switches_fault_from_outside(tmp_path):
    control = tmp_path / "fault"
    with SimPrinter(out_dir=tmp_path, control_file=control) as sim:
        control.write_text("paper_out\n")
        deadline = time.monotonic() + 3
        while sim.fault != "paper_out" and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sim.fault == "paper_out"
        control.write_text("none\n")
        while sim.fault is not None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sim.fault is None


def test_unknown_fault_is_refused():
    with pytest.raises(ValueError, match="Unknown printer fault 'jammed'"):
        SimPrinter(fault="jammed")


# -- command line -------------------------------------------------------------------------------


def test_command_prints_a_line_per_job_and_exits_cleanly_on_ctrl_c(tmp_path):
    command = [
        sys.executable,
        "-c",
        "import sys; from drivers.sim_printer import main; sys.exit(main(sys.argv[1:]))",
        "--port",
        "0",
        "--out",
        str(tmp_path),
        "--paper",
        "58",
    ]
    process = subprocess.Popen(
        command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        banner = process.stdout.readline()
        port = int(banner.split("127.0.0.1:")[1].split(" ")[0])
        p = Network("127.0.0.1", port, timeout=2)
        p.textln("from the command")
        p.close()
        line = process.stdout.readline()
        assert line.startswith("job-0001 printed: ") and line.strip().endswith("job-0001.png")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
    finally:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
        process.stdout.close()
        process.stderr.close()


def test_command_with_port_in_use_says_so_and_exits_2(tmp_path, capsys):
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        assert main(["--port", str(port), "--out", str(tmp_path)]) == 2
    error = capsys.readouterr().err
    assert error == f"Cannot listen on 127.0.0.1:{port}: the port is already in use.\n"


def test_paper_sizes_are_the_two_rolls():
    assert {mm: (p.dots, p.columns) for mm, p in PAPERS.items()} == {58: (384, 32), 80: (576, 48)}
