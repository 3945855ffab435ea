"""The till's service layer, called from the screen without ever blocking it.

SQLite connections belong to the thread that opened them, and a till's operations must not
interleave, so one thread owns the ``Till`` and runs every call in order; the screen awaits
the result. A slow HQ lookup or a busy database then delays that one answer, never a key.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from ..clock import utc_now
from ..config import LoadedConfig
from ..service import Till

T = TypeVar("T")


class TillRunner:
    def __init__(self, loaded: LoadedConfig, clock: Callable[[], dt.datetime] = utc_now) -> None:
        self.loaded = loaded
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="till")
        self._till: Till | None = None
        self.busy = 0  # calls waiting or running: a long one (end of day) holds the rest

    def _open(self) -> Till:
        if self._till is None:
            self._till = open_till(self.loaded, self.clock)
        return self._till

    async def call(self, fn: Callable[[Till], T]) -> T:
        """``fn(till)`` on the till's thread; its result, or the exception it raised."""
        loop = asyncio.get_running_loop()
        self.busy += 1
        try:
            return await loop.run_in_executor(self._pool, lambda: fn(self._open()))
        finally:
            self.busy -= 1

    def _close(self) -> None:
        if self._till is not None:
            self._till.close()
            self._till = None

    def shutdown(self) -> None:
        self._pool.submit(self._close)
        self._pool.shutdown(wait=True, cancel_futures=True)


def open_till(loaded: LoadedConfig, clock: Callable[[], dt.datetime] = utc_now) -> Till:
    """The till of a config, with HQ as its remote when one is configured."""
    from sync.remote import HQRemote

    till = Till.open(loaded, clock)
    if loaded.config.hq.url:
        till.remote = HQRemote(loaded)
    return till
