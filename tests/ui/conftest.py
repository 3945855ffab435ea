"""The cashier's screen over real parts: a till database in a temp folder, the simulated
printer over TCP, the simulated scanner over a pseudo-terminal, and (for the sync flows) the
real HQ on loopback. The app runs headless at 80x24 through Textual's Pilot."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from conftest import Clock, config_text
from hq.conftest import hq, hq_url, make_synced_till  # noqa: F401  (fixtures for the sync flows)
from textual import events
from textual.app import App
from textual.css.query import NoMatches
from textual.pilot import Pilot
from textual.widgets import Input, OptionList

from drivers.sim_printer import SimPrinter
from drivers.sim_scanner import SimScanner
from pos_loyalty import config as config_mod
from pos_loyalty.config import LoadedConfig
from pos_loyalty.service import MemberRef, Till
from pos_loyalty.ui.app import TillApp

PHONE = "06 1234 5678"
SIZE = (80, 24)
MANAGER_PIN, CASHIER_PIN = "2468", "1357"


def section(text: str, name: str, **values: object) -> str:
    """``text`` with keys of its ``[name]`` table replaced (tables share key names)."""
    head, start, rest = text.partition(f"[{name}]")
    body, bracket, tail = rest.partition("\n[")
    for key, value in values.items():
        shown = f'"{value}"' if isinstance(value, str) else str(value).lower()
        body, count = re.subn(rf"(?m)^{key} = [^#\n]*", f"{key} = {shown}  ", body)
        assert count == 1, f"no {name}.{key} in the config"
    return head + start + body + bracket + tail


@dataclass
class Shop:
    """A till folder, its config, and the simulated parts it is wired to."""

    loaded: LoadedConfig
    till: Till  # the test's own connection, to arrange and to check what the screen did
    printer: SimPrinter
    scanner: SimScanner
    clock: Clock
    anna: str  # Anna's member code

    def app(self, *, background: bool = True) -> TillApp:
        return TillApp(self.loaded, clock=self.clock, background=background)


def staff(till: Till) -> None:
    till.add_staff("M1", name="Maria", role="manager", pin=MANAGER_PIN)
    manager = till.sign_in("M1", MANAGER_PIN, manager=True)
    till.add_staff("C7", name="Chris", role="cashier", pin=CASHIER_PIN, approval=manager)
    till.sign_out(manager)


@pytest.fixture
def printer(tmp_path: Path) -> Iterator[SimPrinter]:
    with SimPrinter(out_dir=tmp_path / "receipts") as sim:
        yield sim


@pytest.fixture
def scanner() -> Iterator[SimScanner]:
    with SimScanner() as sim:
        yield sim


def wired(text: str, printer: SimPrinter, scanner: SimScanner, **ui: object) -> str:
    text = section(text, "printer", transport="network", port=printer.port, timeout_seconds=1)
    text = section(text, "scanner", transport="serial", port=scanner.device_path)
    return section(text, "ui", **ui) if ui else text


@pytest.fixture
def make_shop(
    tmp_path: Path, clock: Clock, printer: SimPrinter, scanner: SimScanner
) -> Iterator[Callable[..., Shop]]:
    opened: list[Till] = []

    def make(text: str | None = None, **ui: object) -> Shop:
        path = tmp_path / "pos-loyalty.toml"
        path.write_text(wired(text or config_text(), printer, scanner, **ui))
        loaded = config_mod.load(str(path))
        till = Till.open(loaded, clock=clock, create=True)
        opened.append(till)
        staff(till)
        anna = till.enroll(PHONE, name="Anna", consent=True)
        till.earn(MemberRef(phone=PHONE), amount=30000)  # 350 points, Bronze
        return Shop(loaded, till, printer, scanner, clock, anna.member.code or "")

    yield make
    for till in opened:
        till.close()


@pytest.fixture
def shop(make_shop: Callable[..., Shop]) -> Shop:
    return make_shop()


async def until(pilot: Pilot[object], check: Callable[[], object], timeout: float = 5.0) -> None:
    """Let the app run until ``check()`` holds (a worker answered, a message arrived). A
    widget the check asks for that is not there yet is not there *yet*: a pushed screen is
    the top one a frame or so before its widgets are composed."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not _holds(check):
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {check}")
        await pilot.pause(0.05)


def _holds(check: Callable[[], object]) -> bool:
    try:
        return bool(check())
    except NoMatches:
        return False


async def sign_in(pilot: Pilot[object], staff_id: str = "C7", pin: str = CASHIER_PIN) -> None:
    app = pilot.app
    await until(pilot, lambda: isinstance(app.focused, Input))
    await pilot.press(*staff_id, "enter", *pin, "enter")
    await until(pilot, lambda: app.screen.__class__.__name__ == "LookupScreen")


_CHARACTERS = {"enter": "\r", "tab": "\t", "space": " "}
_NAMED = ("up", "down", "escape", "backspace", "shift+tab")  # keys without a character


def paste(app: App[object], *keys: str) -> None:
    """``keys`` (Textual's key names, or text to type) all at once, as a paste or a scanner
    sends them: each queued before the one in front of it is handled."""
    for key in keys:
        named = key in _CHARACTERS or key in _NAMED or (key[:1] == "f" and key[1:].isdigit())
        for name in [key] if named else key:
            name = "space" if name == " " else name
            character = _CHARACTERS.get(name, name if len(name) == 1 else None)
            app.post_message(events.Key(name, character))


def shown(app: App[object]) -> str:
    """The text of the top screen's widgets: titles, panels, notices, the status line."""
    parts: list[str] = []
    for widget in app.screen.query("Static, Label"):
        if widget.display:
            parts.append(str(widget.render()))
    for options in app.screen.query(OptionList):
        parts += [str(options.get_option_at_index(i).prompt) for i in range(options.option_count)]
    return "\n".join(parts)
