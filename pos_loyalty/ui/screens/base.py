"""What every till screen has: a title line, its body, a line for what was refused or done,
the status bar and the footer of keys."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, ClassVar, TypeVar, cast

from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Input, OptionList, Static
from textual.worker import Worker

from ...errors import LoyaltyError
from ...service import Till
from ..widgets.key_line import KeyLine
from ..widgets.notice import Notice
from ..widgets.status_bar import StatusBar
from ..widgets.too_small import TooSmall, too_small

if TYPE_CHECKING:
    from ..app import TillApp

log = logging.getLogger(__name__)
T = TypeVar("T")
_MISSING = object()


class TillScreen(Screen[object]):
    TITLE_TEXT: ClassVar[str] = ""
    accepts_scan: ClassVar[bool] = False  # a scan opens the member here (nothing half-typed)
    BINDINGS: ClassVar[list[Binding | tuple[str, str] | tuple[str, str, str]]] = [
        Binding("escape", "back", "Back"),
        # As Tab and Shift+Tab, from a field that has no use for them (a list or a pick
        # list binds them itself, and so keeps them).
        Binding("down", "app.focus_next", "Next field", show=False),
        Binding("up", "app.focus_previous", "Previous field", show=False),
    ]

    @property
    def till(self) -> TillApp:
        return cast("TillApp", self.app)

    def compose(self) -> ComposeResult:
        yield Static(self.title_line(), id="title")
        with Vertical(id="body"):
            yield from self.body()
        yield Notice(id="notice")
        yield StatusBar(self.till.status_text, self.till.status_changed, id="status")
        yield KeyLine(id="keys")
        yield TooSmall(id="too-small")

    def title_line(self) -> str:
        store = self.till.config.store
        return f"{store.name} · {self.TITLE_TEXT}" if self.TITLE_TEXT else store.name

    def body(self) -> Iterable[Widget]:
        return ()

    # A field's cursor blinking under another screen redraws that screen twice a second,
    # and a member scanned just after one of those frames waits up to two more for its own.
    def on_resize(self, event: events.Resize) -> None:
        # On the app: the screens below this one are shown at this size too, when it closes.
        self.app.set_class(too_small(*event.size), "-too-small")

    @on(events.ScreenSuspend)
    def _fields_still(self) -> None:
        for field in self.query(Input):
            field.cursor_blink = False

    @on(events.ScreenResume)
    def _fields_blink(self) -> None:
        for field in self.query(Input):
            field.cursor_blink = True
        self.till.typed_ahead.screen_up()

    def keys_changed(self) -> None:
        """Draw the key line again (a key shown or hidden by ``check_action``)."""
        for line in self.query(KeyLine):
            line.redraw()

    def say(
        self, sentence: str, *, problem: bool = False, keep: float = 0.0, also: bool = False
    ) -> None:
        notices = self.query(Notice)
        if notices:
            notices.first().say(sentence, problem=problem, keep=keep, also=also)
        else:  # the screen is still being built (or taken down): say it anyway
            self.app.notify(sentence, severity="warning" if problem else "information")

    def hush(self) -> None:
        for notice in self.query(Notice):
            notice.clear()

    # What a first Enter offered (a reward, a donation): the same again does it.
    asked: object = None

    def asked_twice(self, what: object, question: str, *, problem: bool = False) -> bool:
        """Whether ``what`` is confirmed: asked by the Enter before this one. If not, the
        ``question`` says what it will do, and the next Enter on the same confirms it."""
        if what is not None and self.asked == what:
            return True
        self.asked = what
        self.say(question, problem=problem)
        return False

    async def service(self, fn: Callable[[Till], T]) -> T | None:
        """``fn(till)`` on the till's thread; a refusal or failure is said in one sentence
        on this screen (and None returned), never raised into the screen."""
        try:
            return await self.till.call(fn)
        except LoyaltyError as exc:
            self.say(exc.message, problem=True)
        except Exception as exc:  # the cashier never sees a traceback
            log.exception("till operation failed")
            self.say(f"Something went wrong: {type(exc).__name__}: {exc}", problem=True)
        return None

    async def service_or(
        self, fn: Callable[[Till], T], on_refusal: Callable[[LoyaltyError], Awaitable[T | None]]
    ) -> T | None:
        """Like ``service``, but a refusal goes to ``on_refusal`` (e.g. to ask a manager)."""
        try:
            return await self.till.call(fn)
        except LoyaltyError as exc:
            return await on_refusal(exc)
        except Exception as exc:
            log.exception("till operation failed")
            self.say(f"Something went wrong: {type(exc).__name__}: {exc}", problem=True)
        return None

    def action_back(self) -> None:
        if len(self.app.screen_stack) > 2:
            self.app.pop_screen()


class FormScreen(TillScreen):
    """A form of fields: Enter moves to the next field; on the last (``LAST_FIELD``), or on
    F10 from anywhere, ``submit`` runs."""

    LAST_FIELD: ClassVar[str] = ""
    BINDINGS = [Binding("escape", "back", "Back"), Binding("f10", "submit", "Confirm")]

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == self.LAST_FIELD:
            self.till.typed_ahead.wait_for(self.action_submit())
        else:
            self.focus_next()

    def action_submit(self) -> Worker[None]:
        return self.run_worker(self.submit(), exclusive=True, group="submit")

    async def submit(self) -> None:
        """What the form does with its fields: each form says (enrol, staff, adjust, ...)."""
        raise NotImplementedError


class ChoiceScreen(TillScreen):
    """A list to choose from: Enter on a choice says what it will do (``offer``), Enter
    again on it, or F10, does it (``act``); moving to another choice forgets the first."""

    BINDINGS = [Binding("escape", "back", "Back"), Binding("f10", "confirm", "Confirm")]

    def offer(self, key: str) -> str | None:
        """The sentence that says what choosing ``key`` will do; None: nothing to do."""
        raise NotImplementedError

    def act(self, key: str) -> None:
        raise NotImplementedError

    def on_mount(self) -> None:
        self.query_one(OptionList).focus()

    @on(OptionList.OptionHighlighted)
    def _moved(self) -> None:
        self.asked = None
        self.hush()

    @on(OptionList.OptionSelected)
    def _selected(self, event: OptionList.OptionSelected) -> None:
        self.choose(event.option.id)

    def action_confirm(self) -> None:
        self.choose(getattr(self.query_one(OptionList).highlighted_option, "id", None))

    def choose(self, key: str | None) -> None:
        if key is None:
            return
        sentence = self.offer(key)
        if sentence is not None and self.asked_twice(key, sentence):
            self.act(key)
