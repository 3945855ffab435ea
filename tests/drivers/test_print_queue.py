"""The print queue through the real path: the till's SQLite journal, the print worker,
python-escpos's transport, real TCP, and the simulated printer with its faults."""

from __future__ import annotations

import contextlib
import os
import pty
import re
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from conftest import EXAMPLE, Clock

from drivers.print_worker import BACKOFF_CAP, PrintWorker
from drivers.printer import CANNOT_READ, PrinterError, PrinterLink, PrinterState
from drivers.sim_printer import PrintJob, SimPrinter
from pos_loyalty import config as config_mod
from pos_loyalty.config import Printer
from pos_loyalty.errors import ConfigError
from pos_loyalty.journal import PrintJob as QueuedJob
from pos_loyalty.service import MemberRef, Till
from pos_loyalty.views import EventResult

PHONE = "0612345678"


def printer_config(**values: object) -> str:
    """The example config with ``[printer]`` keys replaced (other sections share key names)."""
    head, start, rest = EXAMPLE.partition("[printer]")
    section, end, tail = rest.partition("[scanner]")
    for key, value in values.items():
        rendered = f'"{value}"' if isinstance(value, str) else str(value)
        section, count = re.subn(rf"(?m)^{key} = [^#\n]*", f"{key} = {rendered}  ", section)
        assert count == 1, f"no [printer] key {key} in the example config"
    return head + start + section + end + tail


@dataclass
class Shop:
    """A till and its print worker, printing to the simulator over TCP."""

    till: Till
    worker: PrintWorker
    sim: SimPrinter
    clock: Clock
    states: list[PrinterState] = field(default_factory=list)

    def earn(self) -> EventResult:
        return self.till.earn(MemberRef(phone=PHONE), amount=1240)

    def job(self, job_id: int) -> QueuedJob:
        row = self.till.journal.prints.get(job_id)
        assert row is not None
        return row


@pytest.fixture
def sim(tmp_path: Path) -> Iterator[SimPrinter]:
    with SimPrinter(out_dir=tmp_path / "jobs") as printer:
        yield printer


@pytest.fixture
def shop(
    tmp_path: Path, sim: SimPrinter, clock: Clock, make_till: Callable[..., Till]
) -> Iterator[Shop]:
    text = printer_config(transport="network", host="127.0.0.1", port=sim.port, timeout_seconds=1)
    till = make_till(text)
    loaded = config_mod.load(str(tmp_path / "pos-loyalty.toml"))
    states: list[PrinterState] = []
    worker = PrintWorker(loaded, clock=clock, on_state=states.append)
    yield Shop(till, worker, sim, clock, states)
    worker.stop()


def copies(sim: SimPrinter, marker: str, count: int, timeout: float = 5.0) -> list[PrintJob]:
    """The printed jobs whose text holds ``marker``, once there are ``count`` of them (the
    simulator records a job just after the worker hangs up)."""
    deadline = time.monotonic() + timeout
    while True:
        found = [job for job in sim.jobs if job.printed and marker in job.text]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def explained(result: EventResult) -> list[str]:
    """The text of the event's explanation lines, as the slip prints them."""
    return [line.rpartition(" = ")[0] or line for line in result.lines]


# -- the queue -----------------------------------------------------------------------------------


def test_an_earn_queues_its_slip_with_the_event_and_the_worker_prints_it(shop: Shop) -> None:
    result = shop.earn()
    job = shop.job(result.print_job)
    assert job.event_id == result.event.event_id and job.status == "queued"
    assert shop.sim.jobs == []  # queued, not printed: no worker has run

    assert shop.worker.run_once() == [(result.print_job, "printed")]

    marker = explained(result)[0]
    [printed] = copies(shop.sim, marker, 1)
    text = printed.txt_path.read_text(encoding="utf-8")
    assert all(line in text for line in explained(result))
    assert re.search(rf"BALANCE +{result.member.balance} pts", text)
    assert shop.job(result.print_job).status == "printed"
    assert shop.till.journal.prints.device_state("printer").state == "online"
    assert [s.state for s in shop.states] == ["online"]


FAULTS = [
    # fault, first outcome, state reported, what the kept job's last_error says
    ("paper_out", "kept", "paper_out", "out of paper"),
    ("cover_open", "kept", "cover_open", "cover is open"),
    ("offline", "kept", "offline", "refused the connection"),
    ("unresponsive", "kept", "unknown", "did not answer within 1 s"),
    ("drop", "kept", "offline", "dropped the connection"),
    ("silent", "printed", "unknown", None),
    ("slow", "printed", "online", None),
    ("near_end", "printed", "near_end", None),
]


@pytest.mark.parametrize(("fault", "outcome", "state", "error"), FAULTS, ids=[f[0] for f in FAULTS])
def test_a_printer_fault_keeps_the_job_and_it_prints_once_when_cleared(
    shop: Shop, fault: str, outcome: str, state: str, error: str | None
) -> None:
    shop.sim.set_fault(fault)
    result = shop.earn()
    job_id = result.print_job

    assert shop.worker.run_once() == [(job_id, outcome)]

    # The event is done whatever the printer did.
    assert shop.till.journal.events.get(result.event.event_id) is not None
    assert shop.till.lookup(MemberRef(phone=PHONE)).balance == result.member.balance > 0
    assert shop.states[-1].state == shop.till.journal.prints.device_state("printer").state == state
    if outcome == "kept":
        kept = shop.job(job_id)
        assert kept.status == "queued" and error in kept.last_error
        assert shop.worker.run_once() == []  # backing off, not hammering the printer

    shop.sim.set_fault(None)
    shop.clock.advance(seconds=BACKOFF_CAP)
    assert shop.worker.run_once() == ([(job_id, "printed")] if outcome == "kept" else [])
    shop.clock.advance(seconds=BACKOFF_CAP)
    assert shop.worker.run_once() == []

    assert len(copies(shop.sim, explained(result)[0], 1)) == 1
    time.sleep(0.1)  # a second copy would have been recorded by now
    assert len(copies(shop.sim, explained(result)[0], 1)) == 1
    assert shop.job(job_id).status == "printed"


def test_reprint_of_the_last_job_prints_a_second_copy_marked_as_reprint(shop: Shop) -> None:
    result = shop.earn()
    shop.worker.run_once()
    copy, original = shop.till.reprint()
    assert original == result.print_job
    assert shop.job(copy).reprint_of == result.print_job

    assert shop.worker.run_once() == [(copy, "printed")]

    first, second = copies(shop.sim, explained(result)[0], 2)
    assert "REPRINT" not in first.text
    assert f"REPRINT (print job {result.print_job})" in second.text
    assert f"{result.member.balance} pts" in second.text


def test_the_background_worker_prints_on_wake_and_stops_promptly(shop: Shop) -> None:
    shop.worker.start()
    result = shop.earn()
    shop.worker.wake()
    assert copies(shop.sim, explained(result)[0], 1)

    started = time.monotonic()
    shop.worker.stop()
    assert time.monotonic() - started < 1.0
    assert shop.job(result.print_job).status == "printed"


# -- the link ------------------------------------------------------------------------------------


STATUS = [
    (None, "online", False),
    ("near_end", "near_end", False),
    ("paper_out", "paper_out", False),
    ("cover_open", "cover_open", False),
    ("offline", "offline", False),
    ("silent", "unknown", False),  # the link says it carries no replies: slips still go
    ("unresponsive", "unknown", True),  # the line is open but nothing answers: slips wait
    ("slow", "online", False),
    ("drop", "online", False),  # a status check is shorter than where the drop happens
]


@pytest.mark.parametrize(("fault", "state", "stalled"), STATUS, ids=[str(s[0]) for s in STATUS])
def test_status_against_each_fault(
    sim: SimPrinter, fault: str | None, state: str, stalled: bool
) -> None:
    sim.set_fault(fault)
    link = PrinterLink.from_config(Printer(transport="network", port=sim.port, timeout_seconds=1))
    found = link.status()
    assert (found.state, found.stalled) == (state, stalled)
    assert found.detail.endswith(".") and "\n" not in found.detail
    assert sim.jobs == []  # asking for status is not a print job


def test_a_file_transport_writes_the_bytes_and_cannot_tell_its_status(tmp_path: Path) -> None:
    device = tmp_path / "lp0"
    device.touch()  # a device file exists while its printer is plugged in
    link = PrinterLink.from_config(Printer(transport="file", device=str(device)))
    link.send(b"\x1b@hello\n")
    assert device.read_bytes() == b"\x1b@hello\n"
    assert link.status() == PrinterState("unknown", CANNOT_READ)

    gone = PrinterLink.from_config(Printer(transport="file", device=str(tmp_path / "lp1")))
    with pytest.raises(PrinterError, match=r"lp1 is not there; check that it is plugged in"):
        gone.send(b"x")
    assert not (tmp_path / "lp1").exists()  # no plain file swallowing the slips


def test_a_serial_transport_to_a_missing_device_says_so(tmp_path: Path) -> None:
    port = str(tmp_path / "ttyUSB9")
    link = PrinterLink.from_config(Printer(transport="serial", device=port))
    with pytest.raises(PrinterError) as caught:
        link.send(b"x")
    assert str(caught.value) == (
        f"The printer on {port} is not there; check that it is plugged in and switched on, "
        "and the device setting."
    )
    assert link.status() == PrinterState("offline", str(caught.value))


def test_a_serial_printer_on_a_pseudo_terminal() -> None:
    controller, device = pty.openpty()
    try:
        cfg = Printer(transport="serial", device=os.ttyname(device), timeout_seconds=0.3)
        link = PrinterLink.from_config(cfg)
        link.send(b"\x1b@slip\n")
        assert os.read(controller, 100) == b"\x1b@slip\n"
        silent = link.status()  # no reply on a serial line: cannot tell, so unknown, not stalled
        assert (silent.state, silent.stalled) == ("unknown", False)
        with link:  # open first: the port is raw only once pyserial has set it up
            os.write(controller, b"\xff")  # a reply without DLE EOT's fixed bits
            garbled = link.status()
        assert garbled.state == "unknown" and "ff, which is not ESC/POS status" in garbled.detail
    finally:
        os.close(controller)
        os.close(device)


def test_a_usb_transport_without_the_device_fails_fast_with_a_sentence() -> None:
    link = PrinterLink.from_config(
        Printer(transport="usb", usb_vendor=0x04B8, usb_product=0x0202, timeout_seconds=1)
    )
    started = time.monotonic()
    with pytest.raises(
        PrinterError, match=r"^The printer USB 04b8:0202 (is not plugged in|cannot)"
    ):
        link.send(b"x")
    assert time.monotonic() - started < 5
    assert link.status().state == "offline"
    with pytest.raises(ConfigError, match="usb_vendor"):
        PrinterLink.from_config(Printer(transport="usb"))  # ids of 0 would match any device


@contextlib.contextmanager
def unprivileged() -> Iterator[None]:
    """Run as nobody for a while when the tests run as root, who may open any file."""
    if os.geteuid() != 0:
        yield
        return
    os.seteuid(65534)
    try:
        yield
    finally:
        os.seteuid(0)


def test_a_device_without_permission_says_how_to_fix_it() -> None:
    with tempfile.TemporaryDirectory() as folder:  # not tmp_path: nobody may not enter it
        os.chmod(folder, 0o755)
        device = Path(folder, "lp0")
        device.touch(mode=0o000)
        link = PrinterLink.from_config(Printer(transport="file", device=str(device)))
        with unprivileged():
            state = link.status()
    assert state == PrinterState(
        "offline",
        f"The printer at {device} may not be opened by this user (permission denied): add "
        "this user to the lp group (sudo usermod -aG lp $USER, then log in again) or add a "
        "udev rule for the device.",
    )


def test_an_unknown_profile_is_refused_when_the_worker_starts(tmp_path: Path) -> None:
    path = tmp_path / "pos-loyalty.toml"
    path.write_text(printer_config(transport="network", profile="NO-SUCH-PRINTER"))
    with pytest.raises(ConfigError, match="NO-SUCH-PRINTER"):
        PrintWorker(config_mod.load(str(path)))
