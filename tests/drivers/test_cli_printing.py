"""Printing from the command line, against the simulated printer over real TCP: the event is
the promise, the slip follows; a printer problem is reported, never an error."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.sim_printer import SimPrinter
from pos_loyalty import config as config_mod
from pos_loyalty.service import Till


def till_config(folder: Path, *, journal: bool = True, **printer: object) -> Path:
    """The example config printing to a network printer, without day-dependent promotions."""
    text = config_mod.EXAMPLE.read_text().replace('transport = "none"  ', 'transport = "network"')
    text = re.sub(r"(?ms)^\[\[program\.promotions\]\].*?(?=^\[\[program\.rewards)", "", text)
    for key, value in printer.items():
        rendered = f'"{value}"' if isinstance(value, str) else str(value)
        old = next(line for line in text.splitlines() if line.startswith(f"{key} = "))
        text = text.replace(old, f"{key} = {rendered}", 1)
    path = folder / "till.toml"
    path.write_text(text)
    if journal:
        Till.open(config_mod.load(str(path)), create=True).close()  # as `pos-loyalty init` does
    return path


def cli(cfg: Path, *args: str) -> tuple[int, dict]:
    run = subprocess.run(
        [sys.executable, "-m", "pos_loyalty.cli", *args, "--config", str(cfg), "--json"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.stderr == "", run.stderr
    return run.returncode, json.loads(run.stdout)


def test_earn_prints_its_slip_at_once(tmp_path):
    with SimPrinter(out_dir=tmp_path / "jobs") as sim:
        cfg = till_config(tmp_path, port=sim.port, timeout_seconds=2)
        assert cli(cfg, "enroll", "--phone", "0612345678")[0] == 0
        status, earned = cli(cfg, "earn", "--phone", "0612345678", "--amount", "24.80")
        jobs = sim.wait_for_jobs(2)
    assert status == 0
    assert earned["print"] == {
        "job": 2,
        "status": "printed",
        "printer": "online",
        "detail": "The printer is ready.",
    }
    assert "POINTS EARNED" in jobs[1].text


@pytest.mark.parametrize(
    ("printer", "detail"),
    [
        ({"profile": "NoSuchPrinter-9000"}, "is not in python-escpos's profile list"),
        ({"port": 1}, "The printer at 127.0.0.1:1 refused the connection"),  # none there
    ],
)
def test_a_broken_printer_never_turns_a_saved_sale_into_an_error(tmp_path, printer, detail):
    cfg = till_config(tmp_path, timeout_seconds=1, **printer)
    status, earned = cli(cfg, "earn", "--phone", "0612345678", "--amount", "10.00")
    assert status == 0, earned
    assert earned["seq"] == 1 and earned["points"] == 10
    assert earned["print"]["status"] == "kept"
    assert detail in earned["print"]["detail"]
    _, queue = cli(cfg, "queue")
    assert queue["print"]["slips_waiting"] == 1


def test_slips_wait_through_paper_out_and_print_once_when_asked(tmp_path):
    with SimPrinter(out_dir=tmp_path / "jobs") as sim:
        cfg = till_config(tmp_path, port=sim.port, timeout_seconds=1)
        sim.set_fault("paper_out")
        status, earned = cli(cfg, "earn", "--phone", "0612345678", "--amount", "10.00")
        assert status == 0 and earned["print"]["printer"] == "paper_out"
        assert "out of paper" in earned["print"]["detail"]
        sim.set_fault(None)
        status, printed = cli(cfg, "print")  # straight away, not after the backoff
        assert (status, printed["printed"], printed["waiting"]) == (0, [1], 0)
        jobs = [job for job in sim.wait_for_jobs(1) if job.printed]
    assert len(jobs) == 1 and "POINTS EARNED" in jobs[0].text


def test_printer_settings_are_checked_when_the_config_loads(tmp_path):
    cfg = till_config(tmp_path, port=99999, journal=False)
    status, refused = cli(cfg, "queue")
    assert status == 2
    assert refused["error"]["message"].endswith(
        "till.toml: printer.port: must be a TCP port between 1 and 65535."
    )


def test_a_printer_that_answered_before_and_falls_silent_keeps_the_slip(tmp_path):
    """Silence from a printer that used to answer means off or unplugged: python-escpos would
    call it fine and the slip would be lost; the till keeps it until the printer is back."""
    with SimPrinter(out_dir=tmp_path / "jobs") as sim:
        cfg = till_config(tmp_path, port=sim.port, timeout_seconds=1)
        assert (
            cli(cfg, "earn", "--phone", "0612345678", "--amount", "10.00")[1]["print"]["status"]
            == "printed"
        )
        sim.set_fault("silent")
        _, second = cli(cfg, "earn", "--phone", "0612345678", "--amount", "20.00")
        assert second["print"]["status"] == "kept"
        assert (
            second["print"]["detail"]
            == "The printer stopped answering; check that it is on and connected."
        )
        sim.set_fault(None)
        _, printed = cli(cfg, "print")
        assert printed["printed"] == [2]
        texts = [job.text for job in sim.wait_for_jobs(2) if job.printed]
    assert len(texts) == 2 and "20.00 EUR" in texts[1]
