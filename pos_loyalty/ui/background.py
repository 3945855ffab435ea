"""What runs beside the screen, each on its own thread with its own journal connection: the
sync daemon, the print worker and the serial scanner's reader. They tell the screen what
changed only through the callbacks given here (which post messages); none of them can stop
or freeze it, and none is needed for a sale to be recorded."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..config import LoadedConfig
from ..errors import LoyaltyError

if TYPE_CHECKING:
    from drivers.print_worker import PrintWorker
    from drivers.scanner import Scan, SerialScanner

log = logging.getLogger(__name__)
RESTART_SECONDS = 5.0  # a sync daemon that failed is started again after this long


@dataclass
class Background:
    loaded: LoadedConfig
    on_sync: Callable[[str], None]
    on_printer: Callable[[str, str | None], None]
    on_scan: Callable[[str | None, str | None], None]  # (code, or the sentence why unreadable)
    problems: list[str] = field(default_factory=list)  # what could not start, one sentence each
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _printer: PrintWorker | None = None
    _scanner: SerialScanner | None = None

    def start(self) -> None:
        cfg = self.loaded.config
        if cfg.hq.url:
            self._thread(self._sync, "sync-daemon")
        if cfg.printer.transport != "none":
            self._start_printer()
        if cfg.scanner.transport == "serial":
            self._start_scanner()

    def wake_printer(self) -> None:
        """A slip was queued: print it now, not at the worker's next look."""
        if self._printer is not None:
            self._printer.wake()

    def stop(self) -> None:
        self._stop.set()
        if self._printer is not None:
            self._printer.stop()
        if self._scanner is not None:
            self._scanner.stop()
        for thread in self._threads:
            thread.join(3.0)

    def _thread(self, target: Callable[[], None], name: str) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        self._threads.append(thread)
        thread.start()

    def _sync(self) -> None:
        from sync.daemon import AlreadySyncing, run_daemon

        while not self._stop.is_set():
            try:
                run_daemon(self.loaded, stop=self._stop, on_change=self.on_sync)
            except AlreadySyncing:
                self.on_sync("elsewhere: another sync daemon serves this till")
                return
            except LoyaltyError as exc:
                self.on_sync(f"offline: {exc.message}")
            except Exception as exc:  # the daemon's bug must not end syncing for the day
                log.exception("sync daemon failed; starting it again")
                self.on_sync(f"offline: the sync stopped ({type(exc).__name__}); restarting")
            self._stop.wait(RESTART_SECONDS)

    def _start_printer(self) -> None:
        from drivers.print_worker import PrintWorker

        try:
            worker = PrintWorker(
                self.loaded, on_state=lambda state: self.on_printer(state.state, state.detail)
            )
        except LoyaltyError as exc:
            self.problems.append(f"Printing is off: {exc.message}")
            return
        worker.start()
        self._printer = worker

    def _start_scanner(self) -> None:
        from drivers.scanner import SerialScanner

        def scanned(scan: Scan) -> None:
            self.on_scan(scan.code or None, scan.error)

        scanner = SerialScanner.from_config(self.loaded.config.scanner, on_scan=scanned)
        try:
            scanner.start()
        except LoyaltyError as exc:
            self.problems.append(f"The scanner is not read: {exc.message}")
            return
        self._scanner = scanner
