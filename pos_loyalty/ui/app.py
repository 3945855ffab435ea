"""The cashier's till: a Textual app over the service layer.

The app holds who is signed in and the status of the parts around the till; the screens
orchestrate the flows; every till operation runs on the runner's thread; the sync daemon, the
print worker and the serial scanner run apart (``background``) and reach the screen only as
messages. A key is never kept waiting on the network, the printer or the database.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from textual import events, work
from textual.app import App
from textual.binding import Binding
from textual.message import Message
from textual.signal import Signal
from textual.widgets import Input

from ..clock import utc_now
from ..config import LoadedConfig
from ..errors import LoyaltyError, UnknownMember
from ..reports import QueueStatus
from ..service import MemberRef, Till
from ..staff import StaffSession
from .background import Background
from .messages import JournalChanged, PrinterChanged, QueueChanged, Scanned, SyncChanged
from .present import slip_waits, status_line
from .runner import TillRunner
from .typeahead import KeyHold, holds_after
from .wedge import WedgeDetector, card_in

log = logging.getLogger(__name__)
T = TypeVar("T")
POLL_SECONDS = 0.5  # how often the screen looks for others' commits and the queue
QUIT_WINDOW = 3.0  # seconds in which a second Ctrl+Q quits
SCAN_NOTICE_KEPT = 1.5  # seconds a scan's notice outlasts the field being put back
MEMBER_SCREEN = "member"


class TillApp(App[int]):
    CSS_PATH = Path(__file__).with_name("till.tcss")
    TITLE = "pos-loyalty"
    ENABLE_COMMAND_PALETTE = False
    BINDINGS = [
        Binding("f1", "help", "Help"),
        Binding("f12", "lock", "Lock"),
        Binding("ctrl+q", "quit_twice", "Quit", show=False, priority=True),
    ]

    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        intro: tuple[str, ...] = (),
        clock: Callable[[], dt.datetime] = utc_now,
        background: bool = True,
    ) -> None:
        super().__init__()
        self.loaded = loaded
        self.config = loaded.config
        self.intro = intro
        self.clock = clock
        self.runner = TillRunner(loaded, clock)
        # A connection of its own for the status: it answers while the till's is busy
        # (end of day holds it for as long as HQ keeps it waiting).
        self.watcher = TillRunner(loaded, clock)
        self.session: StaffSession | None = None
        self.locked = False
        self.queue: QueueStatus | None = None
        self.sync_line: str | None = None
        self.printer_state = "none" if self.config.printer.transport == "none" else "unknown"
        self.printer_detail: str | None = None
        self.background: Background | None = None
        if background:  # post_message is thread-safe: the parts' threads never wait on us
            self.background = Background(
                loaded,
                on_sync=lambda line: self._tell(SyncChanged(line)),
                on_printer=lambda state, detail: self._tell(PrinterChanged(state, detail)),
                on_scan=lambda code, problem: self._tell(Scanned(code, problem, wedge=False)),
            )
        self._wedge = WedgeDetector(self.config.ui.wedge_gap_ms / 1000)
        self._burst_from: tuple[Input, str] | None = None  # the field a wedge burst typed into
        self.typed_ahead = KeyHold(self, self.on_event)
        self._last_input = time.monotonic()
        self._data_version: int | None = None
        self._program_due = True  # HQ may have sent a program since it was last read
        self._polling = False
        self._quit_asked = -QUIT_WINDOW
        self.program = loaded.config.program  # the program in use, as the till last read it
        self.scan_to_panel: list[float] = []  # seconds from each scan to its member drawn
        self.status_text = ""
        self.status_changed: Signal[str] = Signal(self, "status")  # the screens' status bars
        self.eod_deadline = 60.0  # seconds end of day keeps pushing before it reports without HQ

    def _tell(self, message: Message) -> None:
        self.post_message(message)

    # -- the service ---------------------------------------------------------------------

    async def call(self, fn: Callable[[Till], T]) -> T:
        return await self.runner.call(fn)

    def print_soon(self) -> None:
        if self.background is not None:
            self.background.wake_printer()

    # -- start and stop ------------------------------------------------------------------

    async def on_mount(self) -> None:
        from .screens.sign_in import SignInScreen

        self.push_screen(SignInScreen())  # first: the cashier can start typing at once
        # The ~70,000 objects alive once started (Textual, Rich, our modules) live as long
        # as the app: frozen, a full collection no longer walks them (45 ms, a scan's p99).
        self.call_after_refresh(gc.freeze)
        try:
            self.program = await self.call(lambda t: t.program)
        except LoyaltyError as exc:  # no journal, a newer schema: one sentence, then stop
            self.exit(2, return_code=2, message=exc.message)
            return
        if self.background is not None:
            self.background.start()
        self._refresh_status()

        self.set_interval(POLL_SECONDS, self._poll)
        if self.background is not None:
            for problem in self.background.problems:
                self.notify(problem, severity="warning", timeout=10)

    async def on_unmount(self) -> None:
        if self.background is not None:
            self.background.stop()
        if self.session is not None:
            session = self.session
            self.session = None
            with contextlib.suppress(LoyaltyError):
                await self.call(lambda t: t.sign_out(session))
        self.runner.shutdown()
        self.watcher.shutdown()

    # -- keys: wedge scans and the idle lock ------------------------------------------

    async def on_event(self, event: events.Event) -> None:
        if isinstance(event, events.Key | events.MouseDown) and not event.is_forwarded:
            self._last_input = time.monotonic()
        if not isinstance(event, events.Key) or event.is_forwarded:
            await super().on_event(event)
        elif self.typed_ahead.holding:
            self.typed_ahead.add(event)
        elif self._wedge_scan(event):
            self.typed_ahead.start(self.focused)  # the keys after: the scanned member's
        else:
            origin = self.focused
            holds = holds_after(event.key, origin, self.screen)
            await super().on_event(event)
            if holds:
                self.typed_ahead.start(origin)

    def on_descendant_focus(self) -> None:
        self.typed_ahead.focus_moved()

    def on_input_submitted(self, message: Input.Submitted) -> None:
        # Bubbled up from the screen: it has done what the Enter asked (moved the focus, or
        # started the work the keys wait for).
        self.typed_ahead.submitted(message.input)

    def _wedge_scan(self, event: events.Key) -> bool:
        """A member code typed by a wedge scanner, wherever the focus is: taken back out of
        the field it went into and opened as a scan."""
        if event.key != "enter":
            if self._wedge.key(event.character, event.time):
                focused = self.focused
                self._burst_from = (focused, focused.value) if isinstance(focused, Input) else None
            return False
        burst = self._wedge.enter(event.time)
        found = card_in(burst) if burst else None
        if found is None:
            return False
        typed_before, code = found
        if self._burst_from is not None:
            field, before = self._burst_from
            # After the keys still queued for the field: they are the scanner's too.
            field.call_later(setattr, field, "value", before + typed_before)
        self.post_message(Scanned(code, wedge=True))
        return True

    def on_scanned(self, message: Scanned) -> None:
        if message.problem:
            self._say(message.problem)
        elif self.session is None or self.locked:
            self._say("Sign in first; that scan was not used.")
        elif not getattr(self.screen, "accepts_scan", False):
            sentence = "A card was scanned: finish this entry or press Esc, then scan again."
            self._say(sentence, keep=SCAN_NOTICE_KEPT)
        else:
            self.open_member(MemberRef(code=message.code), since=message.time)

    def open_member(self, ref: MemberRef, since: float | None = None) -> None:
        """Look the member up and show them (keys typed after wait for it)."""
        self.typed_ahead.wait_for(self._open_member(ref, since))

    @work(exclusive=True, group="open-member")
    async def _open_member(self, ref: MemberRef, since: float | None) -> None:
        await self.show_member(ref, since=since)

    async def show_member(
        self, ref: MemberRef, *, since: float | None = None, say: str | None = None
    ) -> None:
        """Show a member on the member screen (from the lookup screen, the member screen, a
        scan on either, or the end of a flow); ``say`` the flow's result there."""
        from .screens.lookup import LookupScreen
        from .screens.member import MemberScreen, load_member

        try:
            shown = await self.call(lambda t: load_member(t, ref))
        except UnknownMember as exc:
            screen = self.screen
            if ref.phone and isinstance(screen, LookupScreen):
                screen.offer_enrol(ref.phone, exc.message)
            else:
                self._say(exc.message)
            return
        except LoyaltyError as exc:
            self._say(exc.message)
            return
        if not isinstance(self.screen, MemberScreen):
            while not isinstance(self.screen, LookupScreen) and len(self.screen_stack) > 2:
                await self.pop_screen()
            # One member screen, kept between customers: building it anew for every
            # scan costs a frame or more; only its content changes, before it is brought
            # up, so that it is drawn once, with this member.
            if not self.is_screen_installed(MEMBER_SCREEN):
                self.install_screen(MemberScreen(shown), MEMBER_SCREEN)
            else:
                self.get_screen(MEMBER_SCREEN, MemberScreen).show(shown)
            await self.push_screen(MEMBER_SCREEN)
        else:
            self.screen.show(shown)
        if since is not None:  # the screen on top now draws the member next
            self.screen.call_after_refresh(self.shown_after_scan, since)
        if say:
            self.screen.call_after_refresh(self._say_done, say)

    def _say_done(self, sentence: str) -> None:
        """A flow's result, and whether its slip waits, as the printer is when it is said: a
        hold found later is said after it (``on_printer_changed``)."""
        self._say(self.with_slip(sentence), problem=False)

    def with_slip(self, sentence: str) -> str:
        """``sentence``, and, when the printer holds slips now, that this one waits."""
        waits = slip_waits(self.printer_state) if self.config.printer.transport != "none" else ""
        return f"{sentence} {waits}" if waits else sentence

    def _say(
        self, sentence: str, *, problem: bool = True, keep: float = 0.0, also: bool = False
    ) -> None:
        if not self.screen_stack:  # the app is closing: a late answer has nobody to tell
            return
        say = getattr(self.screen, "say", None)
        if say is not None:
            say(sentence, problem=problem, keep=keep, also=also)
        else:
            self.notify(sentence, severity="warning" if problem else "information")

    def done(self, sentence: str, *, ref: MemberRef) -> None:
        """A flow finished: back to the member, with what was done (and, when the printer
        cannot print now, that its slip waits)."""
        from .screens.lookup import LookupScreen
        from .screens.member import MemberScreen

        async def back() -> None:
            while len(self.screen_stack) > 2 and not isinstance(
                self.screen, MemberScreen | LookupScreen
            ):
                await self.pop_screen()
            await self.show_member(ref, say=sentence)

        self.run_worker(back(), exclusive=True, group="open-member")

    def shown_after_scan(self, since: float) -> None:
        """The member panel is drawn: how long the cashier waited since the scan."""
        self.scan_to_panel.append(time.monotonic() - since)

    # -- status ------------------------------------------------------------------------

    def on_sync_changed(self, message: SyncChanged) -> None:
        self.sync_line = message.line
        self._refresh_status()

    def on_printer_changed(self, message: PrinterChanged) -> None:
        self.printer_state, self.printer_detail = message.state, message.detail
        self._refresh_status()
        if slip_waits(message.state):
            self._tell_if_slips_held(message.state)

    @work(group="printer")
    async def _tell_if_slips_held(self, state: str) -> None:
        """The printer stopped taking slips: if one waits (the worker found out trying it),
        the cashier reads why and what lets it print, after what the screen says now."""
        try:
            waiting = await self.watcher.call(lambda t: t.print_status().slips_waiting)
        except LoyaltyError:
            return  # the database is busy: the status line says the printer's state anyway
        if waiting and self.printer_state == state:
            self._say(slip_waits(state), also=True)

    def on_queue_changed(self, message: QueueChanged) -> None:
        self.queue = message.status
        printer = message.status.print.printer  # what a print last found, here or not
        if printer not in ("unknown", "none") and self.config.printer.transport != "none":
            self.printer_state = printer
        self._refresh_status()

    def _refresh_status(self) -> None:
        session = self.session
        who = "signed out" if session is None else session.name
        if session is not None and session.is_manager:
            who += " (mgr)"
        where = f"{self.config.store.id} {self.config.terminal.id}"
        text = status_line(
            self.queue,
            self.sync_line,
            self.printer_state,
            who,
            where,
            self.clock(),
            hq=bool(self.config.hq.url),
        )
        if text != self.status_text:
            self.status_text = text
            self.status_changed.publish(text)

    @work(group="poll")
    async def _poll(self) -> None:
        """Others' commits (a sync, a slip printed), the queue, a new program, the idle lock.
        The queue and the program are read again only after a commit: between commits only
        the ages in the status line move on."""
        self._check_idle()
        if self._polling:
            return
        self._polling = True
        try:
            version = await self.watcher.call(lambda t: t.journal.data_version())
            changed = version != self._data_version
            if changed:
                queue = await self.watcher.call(lambda t: t.queue())
                self._program_due = True
            if self._program_due and not self.runner.busy:
                program = await self.call(lambda t: t.take_new_program() and t.program)
                self._program_due = False
                if program:
                    self.program = program
        except LoyaltyError:
            return  # the database is busy: the next look will do
        finally:
            self._polling = False
        if not changed:
            self._refresh_status()
            return
        self.post_message(QueueChanged(queue))
        # The app may have closed its screens while the journal was read (quitting).
        if self._data_version is not None and self.screen_stack:
            self.screen.post_message(JournalChanged())
        self._data_version = version

    def _check_idle(self) -> None:
        limit = self.config.ui.idle_lock_seconds
        idle = time.monotonic() - self._last_input
        if limit and self.session and not self.locked and idle >= limit:
            self.action_lock()

    # -- staff -------------------------------------------------------------------------

    def signed_in(self, session: StaffSession) -> None:
        from .screens.lookup import LookupScreen

        self.session = session
        self.locked = False
        self._last_input = time.monotonic()
        self._refresh_status()
        self.push_screen(LookupScreen())

    async def sign_out(self) -> None:
        from .screens.sign_in import SignInScreen

        session, self.session, self.locked = self.session, None, False
        if session is not None:
            with contextlib.suppress(LoyaltyError):
                await self.call(lambda t: t.sign_out(session))
        while not isinstance(self.screen, SignInScreen) and len(self.screen_stack) > 1:
            await self.pop_screen()
        if self.is_screen_installed(MEMBER_SCREEN):  # the next cashier sees no one's member
            self.uninstall_screen(MEMBER_SCREEN)
        self._refresh_status()

    def action_lock(self) -> None:
        from .screens.approval import ApprovalScreen
        from .screens.lock import LockScreen

        if self.session is None or self.locked:
            return
        self.locked = True
        # A manager's approval was given to whoever stood at the till then: the lock ends
        # it, and what it opened closes, so whoever unlocks must ask a manager again. One
        # being typed goes too (refused, as Esc would), or its id and PIN would wait there.
        while True:
            screen = self.screen
            if isinstance(screen, ApprovalScreen):
                screen.dismiss(None)
            elif self._approved_by_another(screen):
                self.pop_screen()
            else:
                break
        self.push_screen(LockScreen(self.session))

    def _approved_by_another(self, screen: object) -> bool:
        manager = getattr(screen, "manager", None)
        return (
            isinstance(manager, StaffSession)
            and self.session is not None
            and manager.staff_id != self.session.staff_id
        )

    def unlocked(self) -> None:
        self.locked = False
        self._last_input = time.monotonic()
        self.pop_screen()

    def action_quit_twice(self) -> None:
        """Quit on a second Ctrl+Q within a few seconds; the first says what still waits
        (nothing is lost by quitting: it waits in the journal for the next start)."""
        now = time.monotonic()
        if now - self._quit_asked <= QUIT_WINDOW:
            self.exit(0)
            return
        self._quit_asked = now
        queue = self.queue
        waits = ""
        if queue is not None and (queue.unsynced or queue.print.slips_waiting):
            waits = (
                f" {queue.unsynced} events wait for HQ and {queue.print.slips_waiting} slips to"
                " print; they are kept and go at the next start."
            )
        self._say(f"Press Ctrl+Q again to quit.{waits}", problem=False)

    def action_help(self) -> None:
        from .screens.help import HelpScreen

        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def manager_session(self) -> StaffSession | None:
        """The signed-in staff when a manager: their own sign-in approves."""
        return self.session if self.session and self.session.is_manager else None
