"""F1: the keys, screen by screen."""

from __future__ import annotations

from collections.abc import Iterable

from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from .base import TillScreen

HELP = """\
Everywhere  F1 this help  F12 lock  Esc back  Ctrl+Q twice quits
            A scanned card opens its member on the find and member
            screens; in a half-typed form it waits.
            Tab or Down: the next field; Shift+Tab or Up: the one before
Find        Enter looks up the phone or member code typed
            F2 enrol  F3 a sale for a phone no member has yet
            F9 manager  F11 sign out
Member      F2 sale  F3 redeem  F4 donate  F5 print the balance
            F6 adjust (manager)  F7 sell a membership plan  F9 manager
Sale        the total, and any part of it by category; the points
            show as you type; Enter or F10 confirms what is shown
Redeem      arrows choose, Enter shows the cost, Enter again spends;
            over the offline cap a manager approves (PIN, reason)
Donate      the points, Enter says what is given, Enter again gives
Manager     refund or cancel by the slip's Ref (T1-12; T2-12 is
            another till's, through HQ), adjust, reprint, staff,
            end of day
Locked      the signed-in PIN opens it; F11 lets another sign in

Confirmed points are HQ's word, as of the time shown; pending ones
were recorded here since. Offline, sales are kept and sent when HQ
answers; the status line says how many wait.
"""


class HelpScreen(TillScreen):
    TITLE_TEXT = "Help"

    def body(self) -> Iterable[Widget]:
        with VerticalScroll(id="help-box"):
            yield Static(HELP, id="help")

    def action_back(self) -> None:
        self.app.pop_screen()
