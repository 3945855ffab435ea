"""Shared set-up: a real config file and a real till database in a temp folder."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from pos_loyalty import config as config_mod
from pos_loyalty.service import Till

EXAMPLE = config_mod.EXAMPLE.read_text()
# A Wednesday in the store's zone, outside every example promotion's weekdays.
WEDNESDAY = dt.datetime(2026, 11, 25, 10, 0, tzinfo=dt.UTC)


@dataclass(frozen=True)
class Ev:
    """An event as the fold reads it, without a journal: what the rules tests fold."""

    event_id: str
    kind: str
    points: int
    created_at: str
    detail: dict[str, Any] = field(default_factory=dict)


class Clock:
    """The till's clock under the test's control (time is an input, not a part to mock)."""

    def __init__(self, start: dt.datetime = WEDNESDAY) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


def config_text(**program: object) -> str:
    """The example config with ``[program]`` keys replaced, e.g. ``pending_days=3``."""
    text = EXAMPLE
    for key, value in program.items():
        rendered = str(value).lower() if isinstance(value, bool) else repr(value).replace("'", '"')
        text, count = re.subn(rf"(?m)^{key} = [^#\n]*", f"{key} = {rendered}  ", text, count=1)
        assert count == 1, f"no [program] key {key} in the example config"
    return text


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_till(tmp_path: Path, clock: Clock) -> Iterator[Callable[..., Till]]:
    opened: list[Till] = []

    def make(text: str | None = None, **program: object) -> Till:
        path = tmp_path / "pos-loyalty.toml"
        path.write_text(text or config_text(**program))
        till = Till.open(config_mod.load(str(path)), clock=clock, create=True)
        opened.append(till)
        return till

    yield make
    for till in opened:
        till.close()


@pytest.fixture
def till(make_till: Callable[..., Till]) -> Till:
    return make_till()
