"""The print worker: drains the till's print queue to the printer.

The till queues a slip in the same transaction as its event, so printing is only ever late,
never lost. For each due job the worker checks the printer, sends the slip, and checks again;
only a printer that took the slip and still reports paper counts as printed. Anything else
keeps the job, with the reason, for a retry with exponential backoff and jitter. A printed job
is marked in the journal at once and never sent again (a reprint is a new job).

One connection per job: status, slip, status. A network printer (and the simulator) takes the
connection as one job, and a status reply queued behind the slip proves the printer read it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from pos_loyalty.clock import iso, utc_now
from pos_loyalty.config import LoadedConfig
from pos_loyalty.journal import Journal, PrintJob
from pos_loyalty.slips import Slip, Text

from .escpos_render import Renderer
from .printer import PrinterError, PrinterLink, PrinterState
from .profiles import load_profile

log = logging.getLogger(__name__)

BACKOFF_FIRST, BACKOFF_CAP = 1.0, 60.0  # seconds: 1, 2, 4 ... 60, each with jitter
POLL_SECONDS = 1.0  # the background worker looks at the queue at least this often
PROBE_SECONDS = 10.0  # with nothing to print, it asks the printer's state this often
LEASE = dt.timedelta(minutes=2)  # a claimed job is this worker's until done or this passes
UNREADABLE = "This slip cannot be read back from the queue; it will not be retried."


@dataclass(frozen=True)
class _Attempt:
    printed: bool
    state: PrinterState
    error: str | None = None


def backoff_seconds(attempts: int, rng: random.Random) -> float:
    """Delay before the next try after ``attempts`` failed ones: doubling, capped, with jitter
    (half fixed, half random) so tills that lost the printer together do not retry together."""
    delay = min(BACKOFF_CAP, BACKOFF_FIRST * 2 ** min(attempts, 16))
    return delay / 2 + rng.uniform(0, delay / 2)


SILENT_NOW = "The printer stopped answering; check that it is on and connected."
_ANSWERS = frozenset({"online", "near_end", "paper_out", "cover_open"})


def _has_answered(journal: Journal) -> bool:
    """Whether this till's printer has ever answered a status request."""
    return journal.prints.device_state("printer.answers") is not None


class PrintWorker:
    """Prints queued jobs: ``run_once`` in the caller's thread, or ``start`` a background thread.

    Each thread opens its own Journal. ``on_state`` is called with the printer's state when it
    changes, from the thread that found it out (a UI must hand it to its own thread).
    """

    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        clock: Callable[[], dt.datetime] = utc_now,
        on_state: Callable[[PrinterState], None] | None = None,
    ) -> None:
        cfg = loaded.config
        self.loaded = loaded
        self.clock = clock
        self.on_state = on_state
        self.link = PrinterLink.from_config(cfg.printer)  # ConfigError for transport "none"
        # An unknown profile or pixel width is refused here, at start, not at the first slip.
        self.renderer = Renderer(load_profile(cfg.printer.profile), cfg.store.locale)
        self.state: PrinterState | None = None  # the last state found, for the UI
        self._rng = random.Random()
        self._lock = threading.Lock()  # one drain at a time: a job must not be sent twice
        self._wakeup = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    # -- one pass over the queue -------------------------------------------------------------

    def run_once(self, limit: int = 20, *, now_not_later: bool = False) -> list[tuple[int, str]]:
        """Process the due jobs now (every waiting one if ``now_not_later``, as when a cashier
        asks to print); returns (job id, "printed" or "kept") for each."""
        with self._lock, self._journal() as journal:
            return self._drain(journal, limit, now_not_later)

    @contextlib.contextmanager
    def _journal(self) -> Iterator[Journal]:
        journal = self._open_journal()
        try:
            yield journal
        finally:
            journal.close()

    def _drain(
        self, journal: Journal, limit: int, now_not_later: bool = False
    ) -> list[tuple[int, str]]:
        """One job at a time, each under its own lease, so a slow printer never outlives the
        lease of jobs still waiting; the first job the printer does not take ends the pass."""
        outcomes: list[tuple[int, str]] = []
        while len(outcomes) < limit and not self._stopping.is_set():
            now = self.clock()
            claimed = journal.prints.claim(
                iso(now), iso(now + LEASE), 1, now_not_later=now_not_later
            )
            if not claimed:
                break
            job = claimed[0]
            data = self._render(job)
            if data is None:
                journal.prints.mark_failed(job.job_id, UNREADABLE)
                outcomes.append((job.job_id, "failed"))
                continue
            attempt = self._print(data, answered_before=_has_answered(journal))
            self._report(journal, attempt.state)
            if attempt.printed:
                journal.prints.mark_printed(job.job_id, iso(self.clock()))
                outcomes.append((job.job_id, "printed"))
                continue
            # Later jobs stay queued behind this one (the queue keeps its order).
            journal.prints.mark_retry(job.job_id, attempt.error or "", self._retry_at(job))
            outcomes.append((job.job_id, "kept"))
            break
        return outcomes

    def _render(self, job: PrintJob) -> bytes | None:
        try:
            slip = Slip.from_json(job.slip)
            if job.reprint_of:
                banner = Text(f"REPRINT (print job {job.reprint_of})", "center", bold=True)
                slip = Slip(slip.kind, (banner, *slip.blocks))
            return self.renderer.render(slip)
        except (ValueError, KeyError, TypeError):
            log.exception("print job %s holds a slip that cannot be rendered", job.job_id)
            return None

    def _print(self, data: bytes, *, answered_before: bool = False) -> _Attempt:
        """Status, slip, status, on one connection. Only a printer that took every byte and
        still reports paper and a closed cover afterwards has printed the slip."""
        try:
            with self.link:
                before = self.link.status()
                if before.state == "unknown" and answered_before and self.link.port.can_read:
                    # It answered status before and is silent now: off or unplugged, most
                    # likely. Sending would lose the slip (python-escpos would call it fine).
                    before = PrinterState("unknown", SILENT_NOW, stalled=True)
                if not before.ready:
                    return _Attempt(False, before, before.detail)
                self.link.send(data)
                if before.state == "unknown":  # it cannot answer: asking again only costs time
                    return _Attempt(True, before)
                after = self.link.status(after=len(data))
        except PrinterError as exc:
            return _Attempt(False, PrinterState("offline", exc.message), exc.message)
        return _Attempt(after.ready, after, None if after.ready else after.detail)

    def probe(self) -> PrinterState:
        """Ask the printer's state now, between slips: a cashier sees paper out or a printer
        switched off before the next sale, not after it."""
        with self._lock, self._journal() as journal:
            try:
                with self.link:
                    state = self.link.status()
            except PrinterError as exc:
                state = PrinterState("offline", exc.message)
            self._report(journal, state)
            return state

    def _retry_at(self, job: PrintJob) -> str:
        delay = backoff_seconds(job.attempts, self._rng)
        return iso(self.clock() + dt.timedelta(seconds=delay))

    def _report(self, journal: Journal, state: PrinterState) -> None:
        prints = journal.prints
        prints.set_device_state("printer", state.state, state.detail, iso(self.clock()))
        if state.state in _ANSWERS and not _has_answered(journal):
            prints.set_device_state("printer.answers", "yes", "", iso(self.clock()))
        if state == self.state:
            return
        self.state = state
        if self.on_state is not None:
            try:
                self.on_state(state)
            except Exception:  # the listener's bug must not stop printing
                log.exception("printer state listener failed")

    # -- in the background ---------------------------------------------------------------------

    def start(self) -> None:
        """Print in a background thread until ``stop``; ``wake`` after queueing a slip."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stopping.clear()
        self._thread = threading.Thread(target=self._run, name="print-worker", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Look at the queue now (e.g. right after an event), not at the next poll."""
        self._wakeup.set()

    def stop(self, timeout: float = 2.0) -> None:
        """Stop after the job in hand; waits at most ``timeout`` seconds for the thread (it is a
        daemon, and a job cut short stays queued)."""
        self._stopping.set()
        self._wakeup.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)
        self._thread = None

    def _run(self, probe_every: float = PROBE_SECONDS) -> None:
        journal: Journal | None = None
        probed = 0.0
        while not self._stopping.is_set():
            try:
                journal = journal or self._open_journal()
                with self._lock:
                    done = self._drain(journal, 20)
                if done:
                    probed = time.monotonic()
                elif time.monotonic() - probed >= probe_every:
                    probed = time.monotonic()
                    self.probe()
            except Exception:  # nothing may end this thread but stop()
                log.exception("print worker: the queue could not be processed; retrying")
                _closed(journal)
                journal = None
            self._wakeup.wait(POLL_SECONDS)
            self._wakeup.clear()
        _closed(journal)

    def _open_journal(self) -> Journal:
        cfg = self.loaded.config
        return Journal.open(
            self.loaded.database_path, store_id=cfg.store.id, terminal_id=cfg.terminal.id
        )


def _closed(journal: Journal | None) -> None:
    if journal is not None:
        with contextlib.suppress(sqlite3.Error):
            journal.close()
