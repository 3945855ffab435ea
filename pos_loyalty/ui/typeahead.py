"""Keys typed ahead: a paste, a slow link or a fast hand sends keys in one read, all queued
before the key in front of them has had its effect. The field an Enter leaves moves the
focus only once it has taken the Enter; a sign-in, a lookup or a form sent finishes later
still; a screen an F-key opens is mounted a frame on. So the keys after such a key wait
here, and go on, in order, to wherever the focus is once that key is done with."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from functools import partial
from typing import Any

from textual import events
from textual.app import App
from textual.screen import Screen
from textual.timer import Timer
from textual.widget import Widget
from textual.worker import Worker, WorkerCancelled, WorkerFailed, WorkerState

STEP_SECONDS = 0.25  # without a sign that the key is done with, the keys wait this long
MOST_SECONDS = 3.0  # ... or, while work the cashier waits for runs, at most this long
FOCUS_KEYS = ("tab", "shift+tab")  # keys that move the focus: the next key is the next field's
# Keys that open or close a screen (a binding's action runs after the key is handled).
SCREEN_KEYS = ("escape", *(f"f{n}" for n in range(1, 13)))
MOVING_KEYS = (*FOCUS_KEYS, *SCREEN_KEYS)
ARROW_KEYS = ("up", "down")  # move the focus where the screen's binding, not the field's, has them


def holds_after(key: str, focused: Widget | None, screen: Screen[Any]) -> bool:
    """Whether ``key`` does what it does later than the keys after it arrive: it moves the
    focus or opens a screen. Enter does, in any field (the next field, the flow's work, the
    screen a menu opens); an arrow, where the screen's binding moves the focus with it."""
    if key in MOVING_KEYS:
        return True
    if key == "enter":
        return focused is not None
    if key in ARROW_KEYS:
        bound = screen.active_bindings.get(key)
        if bound is None or bound.node is screen:
            return bound is not None
        # A field's own scroll binding, with nothing to scroll, passes the key to the screen.
        scrolls = bound.binding.action.startswith("scroll_")
        return scrolls and not getattr(bound.node, "allow_vertical_scroll", True)
    return False


class KeyHold:
    """The keys held after one key, until it is done with. Each hold has a number, so a
    late sign meant for an earlier hold never lets a later one go."""

    def __init__(self, app: App[Any], give: Callable[[events.Key], Awaitable[None]]) -> None:
        self.app = app
        self.give = give  # how a key goes on: through the app's own handling, as if new
        self.keys: list[events.Key] | None = None
        self.number = 0
        self.since = 0.0
        self.timer: Timer | None = None
        self.awaited: Worker[None] | None = None
        self.origin: Widget | None = None

    @property
    def holding(self) -> bool:
        return self.keys is not None

    def add(self, key: events.Key) -> None:
        assert self.keys is not None
        self.keys.append(key)

    def start(self, origin: Widget | None) -> None:
        """Hold the keys after the one just handled; ``origin`` had the focus then."""
        self.number += 1
        self.keys = []
        self.origin = origin
        self.since = time.monotonic()
        self._arm()

    def wait_for(self, worker: Worker[None]) -> None:
        """The held keys wait for ``worker`` (what an Enter asked), then act on whatever
        screen it leaves."""
        self.awaited = worker
        self.app.run_worker(self._after(worker), group="keys")

    def focus_moved(self) -> None:
        """The focus moved: away from where the key was typed, the keys go on (unless work
        is awaited). A late move from an earlier hold leaves the focus where this one began."""
        if self.keys is not None and self._focused() is not self.origin:
            self._go_on()

    def submitted(self, field: Widget) -> None:
        """The screen has handled an Enter in ``field``: if this hold's, the keys go on
        (unless it started work to wait for)."""
        if field is self.origin:
            self._go_on()

    def _go_on(self) -> None:
        if self.keys is not None and self.awaited is None:
            self.app.call_later(self.release, self.number)

    def screen_up(self) -> None:
        """A screen came up: one the key or the awaited work opened, or one that work asks
        the cashier on (a manager's approval): the held keys are that screen's."""
        self.awaited = None
        if self.keys is not None:
            self.app.call_after_refresh(self._once_focused, self.number, 3)

    async def release(self, number: int) -> None:
        if number != self.number or self.keys is None:
            return
        keys, self.keys = self.keys, None
        if self.timer is not None:
            self.timer.stop()
            self.timer = None
        for n, key in enumerate(keys):
            if self.keys is not None:  # one of them holds the rest again
                self.keys += keys[n:]
                return
            await self.give(key)

    def _arm(self) -> None:
        if self.timer is not None:
            self.timer.stop()
        self.timer = self.app.set_timer(STEP_SECONDS, partial(self._expired, self.number))

    async def _expired(self, number: int) -> None:
        if number != self.number:
            return
        if self.awaited is not None and time.monotonic() - self.since < MOST_SECONDS:
            self._arm()
        else:
            await self.release(number)

    async def _after(self, worker: Worker[None]) -> None:
        while worker.state == WorkerState.PENDING:  # started, not yet running
            await asyncio.sleep(0)
        with contextlib.suppress(WorkerCancelled, WorkerFailed):  # its screen says why
            await worker.wait()
        if self.awaited is worker:
            self.screen_up()

    async def _once_focused(self, number: int, tries: int) -> None:
        """Once a field has the focus (a screen focuses one as it is mounted), or a few
        frames on (a screen without fields)."""
        if number != self.number:
            return
        if self._focused() is None and self.keys and tries:
            self.app.call_after_refresh(self._once_focused, number, tries - 1)
        else:
            await self.release(number)

    def _focused(self) -> Widget | None:
        """What has the focus; nothing while the app closes (its screens are gone)."""
        return self.app.focused if self.app.screen_stack else None
