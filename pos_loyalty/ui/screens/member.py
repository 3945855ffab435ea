"""The member on screen: balance (confirmed and pending apart, as of HQ's word), tier and its
progress, what they can redeem now, flags, and the recent history; the keys for each flow.
It reads the member again when another connection commits (a sync brought HQ's word)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass

from textual.binding import Binding
from textual.widget import Widget

from ...journal import Event
from ...service import MemberRef, Till
from ...views import MemberView
from ..messages import JournalChanged
from ..present import history_row, member_lines
from ..widgets.history import History
from ..widgets.member_panel import MemberPanel
from .base import TillScreen

HISTORY_ROWS = 8
RESHOW_AFTER = 1.0  # seconds: a screen shown more recently than this is not read again


@dataclass(frozen=True)
class Shown:
    """A member as read in one go on the till's thread, ready to draw."""

    ref: MemberRef
    view: MemberView
    lines: list[str]
    rows: list[tuple[str, str, str, str, str]]


def load_member(till: Till, ref: MemberRef) -> Shown:
    view, events = till.history(ref, HISTORY_ROWS)
    return shown_of(till, view, events)


def shown_of(till: Till, view: MemberView, events: list[Event]) -> Shown:
    ref = MemberRef(member_id=view.member_id) if view.member_id else MemberRef(phone=view.phone)
    local = till.header.local_time
    return Shown(
        ref,
        view,
        member_lines(view, till.program, local),
        [history_row(e, local) for e in events],
    )


class MemberScreen(TillScreen):
    TITLE_TEXT = "Member"
    accepts_scan = True
    BINDINGS = [
        Binding("escape", "back", "Back", show=False),  # the footer's room is the F-keys'
        Binding("f2", "earn", "Sale"),
        Binding("f3", "redeem", "Redeem"),
        Binding("f4", "donate", "Donate"),
        Binding("f5", "balance_slip", "Print"),
        Binding("f6", "adjust", "Adjust"),
        Binding("f7", "membership", "Plan"),  # shown where the program sells one
        Binding("f9", "manager", "Mgr"),  # short: the line is 80 columns
    ]

    def __init__(self, shown: Shown) -> None:
        super().__init__()
        self.shown = shown
        self._shown_at = 0.0

    def body(self) -> Iterable[Widget]:
        yield MemberPanel(id="member")
        yield History(id="history")

    def on_mount(self) -> None:
        self.show(self.shown)

    def show(self, shown: Shown) -> None:
        """Draw the member (on the next refresh, or when the screen is brought up); what
        was said about another member is not left under this one."""
        if shown.ref != self.shown.ref:
            self.hush()
        self.shown = shown
        self._shown_at = time.monotonic()
        for panel in self.query(MemberPanel):  # none yet before the screen is first shown
            panel.show(shown.lines)
        for history in self.query(History):
            history.show(shown.rows)

    async def on_journal_changed(self, message: JournalChanged) -> None:
        ref = self.shown.ref
        again = await self.service(lambda t: load_member(t, ref))
        if again is not None and again != self.shown:
            self.show(again)

    def on_screen_resume(self) -> None:
        """Back from a flow: read the member again (a flow that wrote shows it anyway)."""
        if time.monotonic() - self._shown_at > RESHOW_AFTER:
            self.run_worker(self.on_journal_changed(JournalChanged()), exclusive=True)

    def action_earn(self) -> None:
        from .earn import EarnScreen

        self.app.push_screen(EarnScreen(self.shown.ref, self.shown.view.label))

    def action_redeem(self) -> None:
        from .redeem import RedeemScreen

        self.app.push_screen(RedeemScreen(self.shown))

    def action_donate(self) -> None:
        from .donate import DonateScreen

        self.app.push_screen(DonateScreen(self.shown))

    def action_balance_slip(self) -> None:
        self.run_worker(self._balance_slip(), exclusive=True)

    async def _balance_slip(self) -> None:
        if self.till.config.printer.transport == "none":
            self.say("This till has no printer configured.", problem=True)
            return
        ref = self.shown.ref
        done = await self.service(lambda t: t.print_balance(ref))
        if done is not None:
            self.till.print_soon()
            self.say(self.till.with_slip(f"Balance slip queued (print job {done[1]})."))

    def action_adjust(self) -> None:
        from .adjust import AdjustScreen

        self.app.push_screen(AdjustScreen(self.shown))

    def action_membership(self) -> None:
        from .membership import MembershipScreen

        self.app.push_screen(MembershipScreen(self.shown))

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "membership":
            return bool(self.till.program.memberships)
        return True

    def action_manager(self) -> None:
        from .manager import open_manager

        open_manager(self)
