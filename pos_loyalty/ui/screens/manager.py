"""The manager's menu, behind a manager's PIN (a signed-in manager is asked nothing): refund,
cancel a redemption, adjust, reprint, staff, end of day. The approving sign-in ends when the
menu closes."""

from __future__ import annotations

from collections.abc import Iterable

from textual import on, work
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import OptionList, Static
from textual.widgets.option_list import Option

from ...staff import StaffSession
from .approval import Approval, ApprovalScreen
from .base import TillScreen

ACTIONS = (
    ("refund", "Refund a sale, whole or in part"),
    ("cancel", "Cancel a redemption or donation"),
    ("adjust", "Adjust a member's points"),
    ("reprint", "Reprint the last slip"),
    ("staff", "Add staff or change a PIN"),
    ("eod", "End of day: sync, then the Z-report"),
)


def open_manager(screen: TillScreen) -> None:
    """The manager menu: at once for a manager, else after a manager's PIN."""
    own = screen.till.manager_session()
    if own is not None:
        screen.app.push_screen(ManagerScreen(own, own=True))
        return

    def approved(got: object) -> None:
        if isinstance(got, tuple):
            session, _ = got
            screen.app.push_screen(ManagerScreen(session, own=False))

    screen.app.push_screen(
        ApprovalScreen("The manager's menu needs a manager.", reason=False), approved
    )


class ManagerScreen(TillScreen):
    TITLE_TEXT = "Manager"
    BINDINGS = [Binding("escape", "back", "Back")]

    def __init__(self, manager: StaffSession, *, own: bool) -> None:
        super().__init__()
        self.manager = manager
        self.own = own  # the signed-in manager's session: not ended with the menu

    def body(self) -> Iterable[Widget]:
        yield Static(f"Manager: {self.manager.name}. Choose and press Enter.", classes="lead")
        yield OptionList(*(Option(text, id=key) for key, text in ACTIONS), id="actions")

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionSelected)
    def _chosen(self, event: OptionList.OptionSelected) -> None:
        from .adjust import AdjustScreen
        from .end_of_day import EndOfDayScreen
        from .refund import RefundScreen
        from .staff import StaffScreen

        key = event.option.id
        if key in ("refund", "cancel"):
            self.app.push_screen(RefundScreen(self.manager, cancel=key == "cancel"))
        elif key == "adjust":
            self.app.push_screen(AdjustScreen(None, manager=self.manager))
        elif key == "reprint":
            self.reprint()
        elif key == "staff":
            self.app.push_screen(StaffScreen(self.manager))
        elif key == "eod":
            self.app.push_screen(EndOfDayScreen(self.manager, deadline=self.till.eod_deadline))

    @work(exclusive=True)
    async def reprint(self) -> None:
        if self.till.config.printer.transport == "none":
            self.say("This till has no printer configured.", problem=True)
            return
        done = await self.service(lambda t: t.reprint())
        if done is not None:
            self.till.print_soon()
            self.say(f"Reprint queued: job {done[0]}, a copy of slip {done[1]}.")

    def on_unmount(self) -> None:
        if not self.own:
            manager = self.manager
            self.app.run_worker(self.till.call(lambda t: t.sign_out(manager)))


__all__ = ["Approval", "ManagerScreen", "open_manager"]
