"""A manager's approval, asked for only when the till refuses without one (over the offline
cap, many visits today, a large refund): manager id, PIN and the reason, kept with the event."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeVar, cast

from textual import on, work
from textual.widget import Widget
from textual.widgets import Input, Static

from ...errors import LoyaltyError, NeedsManager, OfflineCapExceeded
from ...service import Till
from ...staff import StaffSession
from .base import TillScreen

T = TypeVar("T")
Attempt = Callable[[StaffSession | None, str], Callable[[Till], T]]
Approval = tuple[StaffSession, str]


class ApprovalScreen(TillScreen):
    TITLE_TEXT = "Manager approval"

    def __init__(self, why: str, *, reason: bool = True) -> None:
        super().__init__()
        self.why = why
        self.ask_reason = reason

    def body(self) -> Iterable[Widget]:
        yield Static(f"{self.why}\nA manager approves with their id and PIN.", classes="lead")
        yield Input(placeholder="Manager id", id="manager", max_length=32)
        yield Input(placeholder="PIN", id="pin", password=True, restrict=r"[0-9]*", max_length=12)
        if self.ask_reason:
            yield Input(placeholder="Reason (kept with the event)", id="reason", max_length=200)

    def on_mount(self) -> None:
        self.query_one("#manager", Input).focus()

    @on(Input.Submitted)
    def _next(self, event: Input.Submitted) -> None:
        if event.input.id == "manager":
            self.query_one("#pin", Input).focus()
        elif event.input.id == "pin" and self.ask_reason:
            self.query_one("#reason", Input).focus()
        else:
            self.approve()

    @work(exclusive=True)
    async def approve(self) -> None:
        manager = self.query_one("#manager", Input).value.strip()
        pin_field = self.query_one("#pin", Input)
        pin, pin_field.value = pin_field.value, ""
        reason = self.query_one("#reason", Input).value.strip() if self.ask_reason else ""
        if self.ask_reason and not reason:
            self.say("Say why it is approved (a few words).", problem=True)
            self.query_one("#reason", Input).focus()
            return
        session = await self.service(lambda t: t.sign_in(manager, pin, manager=True))
        if session is None:  # asked again from the top: the id may be what was wrong
            self.query_one("#manager", Input).value = ""
            self.query_one("#manager", Input).focus()
            return
        self.dismiss((session, reason))

    def action_back(self) -> None:
        self.dismiss(None)


async def with_manager(screen: TillScreen, attempt: Attempt[T], *, reason: bool = True) -> T | None:
    """Run ``attempt(approval, reason)`` without a manager first (a signed-in manager approves
    it themself); if the till says it needs one, ask, and run it again approved. The
    approving sign-in ends with it. From a worker: it waits for the approval screen."""
    own = screen.till.manager_session()
    try:
        return await screen.till.call(attempt(own, ""))
    except (NeedsManager, OfflineCapExceeded) as exc:
        if own is not None:
            screen.say(exc.message, problem=True)
            return None
        refusal = exc.message
    except LoyaltyError as exc:
        screen.say(exc.message, problem=True)
        return None
    asked = await screen.app.push_screen_wait(ApprovalScreen(refusal, reason=reason))
    got = cast("Approval | None", asked)
    if got is None:
        screen.say(f"Not done: {refusal}", problem=True)
        return None
    session, why = got
    try:
        return await screen.service(attempt(session, why))
    finally:
        await screen.till.call(lambda t: t.sign_out(session))
