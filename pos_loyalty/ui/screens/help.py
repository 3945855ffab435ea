"""F1: the keys, screen by screen."""

from __future__ import annotations

from collections.abc import Iterable

from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import Static

from .base import TillScreen

HELP = """\
Everywhere   F1 this help   F12 lock the till   Esc back   Ctrl+Q quit
             A scanned card opens its member on the find and member screens.
Find         Enter looks up the phone or member code typed
             F2 enrol a new member   F3 a sale for a phone no member has yet
             F9 manager   F11 sign out
Member       F2 sale   F3 redeem   F4 donate   F5 print the balance
             F6 adjust (manager)   F9 manager
Sale         type the total, and any part of it by category; the points show as
             you type; Enter (or F10) confirms what is shown
Redeem       arrows choose a reward, Enter redeems it; over the offline cap a
             manager approves with their PIN and a reason
Manager      refund or cancel by the slip's number (#12, or T2-12 for another
             till's sale), adjust, reprint, staff, end of day
Locked       the signed-in cashier's PIN opens it; F11 lets someone else sign in

Balances: "confirmed" is HQ's word (as of the time shown); "pending" is what this
till recorded since. Nothing waits on the network: offline, sales are kept and
sent when HQ answers; the status line says how many wait.
"""


class HelpScreen(TillScreen):
    TITLE_TEXT = "Help"

    def body(self) -> Iterable[Widget]:
        with VerticalScroll(id="help-box"):
            yield Static(HELP, id="help")

    def action_back(self) -> None:
        self.app.pop_screen()
