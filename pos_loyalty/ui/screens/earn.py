"""Record a sale: the amount in the store's currency, optionally split by category; a preview
of the points with the rules' explanation lines; Enter confirms what the preview shows."""

from __future__ import annotations

from collections.abc import Iterable

from textual import on, work
from textual.binding import Binding
from textual.widget import Widget
from textual.widgets import Input, Static

from ...errors import LoyaltyError
from ...money import exponent, format_amount, parse_amount
from ...rules.earn import BasketLine, Earned
from ...service import MemberRef
from ..present import money_hint, preview_lines
from ..widgets.field_row import FieldRow
from .approval import with_manager
from .base import TillScreen


class EarnScreen(TillScreen):
    TITLE_TEXT = "Sale"
    BINDINGS = [
        Binding("escape", "back", "Back"),
        Binding("f10", "confirm", "Confirm"),
    ]

    def __init__(self, ref: MemberRef, label: str) -> None:
        super().__init__()
        self.ref = ref
        self.label = label
        self.previewed: tuple[int | None, tuple[BasketLine, ...]] | None = None
        self.points = 0  # what the previewed basket earns

    def categories(self) -> list[str]:
        program = self.till.program
        return [c for c in program.categories if c != program.default_category]

    def body(self) -> Iterable[Widget]:
        currency = self.till.config.store.currency
        yield Static(f"Sale for {self.label}. Amount, then any part by category.", classes="lead")
        hint = money_hint(currency, exponent(currency))
        yield FieldRow(
            f"Total {currency}",
            Input(id="total", max_length=16, compact=True),
            hint=hint,
        )
        for name in self.categories():
            yield FieldRow(
                f"  of it {name}",
                Input(id=f"cat-{name}", max_length=16, compact=True),
            )
        yield Static("", id="preview")

    def on_mount(self) -> None:
        self.query_one("#total", Input).focus()

    def basket(self) -> tuple[int | None, tuple[BasketLine, ...]]:
        """What is typed, in minor units; BadAmount with the sentence for a bad amount."""
        currency = self.till.config.store.currency
        total_text = self.query_one("#total", Input).value.strip()
        total = parse_amount(total_text, currency) if total_text else None
        lines = []
        for name in self.categories():
            text = self.query_one(f"#cat-{name}", Input).value.strip()
            if text:
                lines.append(BasketLine(name, parse_amount(text, currency)))
        return total, tuple(lines)

    @on(Input.Changed)
    def _changed(self) -> None:
        self.previewed = None
        self.preview()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "total" and self.categories() and not event.value.strip():
            self.query_one(f"#cat-{self.categories()[0]}", Input).focus()
            return
        self.action_confirm()

    @work(exclusive=True, group="preview")
    async def preview(self) -> None:
        await self.show_points()

    async def show_points(self) -> bool:
        """The points of what is typed, shown under it; whether they could be worked out."""
        box = self.query_one("#preview", Static)
        try:
            total, lines = self.basket()
        except LoyaltyError as exc:
            box.update("")
            self.say(exc.message, problem=True)
            return False
        if total is None and not lines:
            box.update("")
            self.hush()
            return False
        ref = self.ref
        earned: Earned | None = await self.service(
            lambda t: t.preview_earn(ref, amount=total, lines=list(lines))
        )
        if earned is None:
            box.update("")
            return False
        self.hush()
        self.previewed, self.points = (total, lines), earned.points
        box.update("\n".join(["Points:", *preview_lines(earned.points, earned.lines)]))
        return True

    def action_confirm(self) -> None:
        self.confirm()

    @work(exclusive=True, group="confirm")
    async def confirm(self) -> None:
        try:
            basket = self.basket()
        except LoyaltyError as exc:
            self.say(exc.message, problem=True)
            return
        if basket == (None, ()):
            self.say("Type the sale's amount first.", problem=True)
            return
        # Typed ahead, the Enter comes before the points of the last key are shown: they
        # are worked out now, as a hand typing would have seen them, and the sale goes on.
        if basket != self.previewed and not await self.show_points():
            return
        # A manager at the till approves their own sales: one that earns more than a
        # cashier may give is a mistyped amount as often as not, so it takes a second Enter.
        limit = self.till.program.earn_manager_limit
        own = self.till.manager_session() is not None
        check = (
            f"{self.points} points: above the {limit}-point limit for one sale. "
            "Check the amount; Enter again confirms."
        )
        if (
            own
            and limit
            and self.points > limit
            and not self.asked_twice(basket, check, problem=True)
        ):
            return
        total, lines = basket
        ref, cashier = self.ref, self.till.session
        result = await with_manager(
            self,
            lambda manager, why: (
                lambda t: t.earn(
                    ref,
                    amount=total,
                    lines=list(lines),
                    cashier=cashier,
                    approval=manager,
                    reason=why,
                )
            ),
        )
        if result is None:
            return
        self.till.print_soon()
        currency = self.till.config.store.currency
        paid = format_amount(result.event.amount or 0, currency)
        done = (
            f"Sale #{result.event.seq} of {paid}: {result.event.points:+d} points; "
            f"balance {result.member.balance}."
        )
        self.till.done(done, ref=ref)
