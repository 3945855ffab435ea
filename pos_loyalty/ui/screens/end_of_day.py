"""End of day on the till: push until HQ holds everything (a live bar, and why it waits
when HQ does not answer), pull, then the Z-report on screen, saved; F10 prints it."""

from __future__ import annotations

from collections.abc import Iterable

from textual import work
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widget import Widget
from textual.widgets import ProgressBar, Static

from ...endofday import REPORT_WIDTH, EndOfDay, end_of_day_slip
from ...service import Till
from ...staff import StaffSession
from .base import TillScreen

DEADLINE = 60.0  # seconds the push keeps trying before the report is made without HQ


class EndOfDayScreen(TillScreen):
    TITLE_TEXT = "End of day"
    BINDINGS = [Binding("escape", "back", "Back"), Binding("f10", "print", "Print")]

    def __init__(self, manager: StaffSession, *, deadline: float = DEADLINE) -> None:
        super().__init__()
        self.manager = manager
        self.deadline = deadline
        self.report: EndOfDay | None = None
        self.printed = False
        self._start: int | None = None

    def body(self) -> Iterable[Widget]:
        yield Static("Sending this till's events to HQ…", id="phase")
        yield ProgressBar(id="bar", show_eta=False)
        with VerticalScroll(id="report-box"):
            yield Static("", id="report")

    def on_mount(self) -> None:
        self.run_end_of_day()

    def _progress(self, acked: int, last: int, why: str | None) -> None:
        if self._start is None:
            self._start = acked
        bar = self.query_one(ProgressBar)
        total = max(1, last - self._start)
        bar.update(total=total, progress=total if acked >= last else acked - self._start)
        phase = self.query_one("#phase", Static)
        if why:  # HQ out of reach, or answering with errors: the reason, as the sync has it
            phase.update(
                f"{why} For up to {self.deadline:.0f} s in all; HQ holds up to #{acked} of #{last}."
            )
        elif acked >= last:
            phase.update(
                f"HQ holds every event of this till (#{last}); now HQ's word and the day's figures."
            )
        else:
            phase.update(f"HQ holds this till's events up to #{acked} of #{last}.")

    @work(exclusive=True)
    async def run_end_of_day(self) -> None:
        from sync.eod import end_of_day, save_report

        manager, deadline = self.manager, self.deadline

        def report(acked: int, last: int, why: str | None) -> None:
            self.app.call_from_thread(self._progress, acked, last, why)

        def run(till: Till) -> tuple[EndOfDay, str, str]:
            eod = end_of_day(till, manager, deadline=deadline, on_progress=report)
            text_path, _ = save_report(till, eod)
            return eod, end_of_day_slip(till.header, eod).text(width=REPORT_WIDTH), str(text_path)

        done = await self.service(run)
        if done is None:
            self.query_one("#phase", Static).update("End of day could not run.")
            return
        eod, text, path = done
        self.report = eod
        bar = self.query_one(ProgressBar)
        bar.update(total=1, progress=1 if eod.complete else 0)
        if eod.complete:
            verdict = "Everything is at HQ."
        elif eod.till.unsynced:
            verdict = "NOT everything is at HQ: see the report. Run it again once HQ answers."
        else:
            verdict = "HQ did not confirm the day: see the report. Run it again once HQ answers."
        self.hush()  # what was said while it ran ("not ready yet") is over
        self.query_one("#phase", Static).update(f"{verdict} Saved as {path}. F10 prints it.")
        self.query_one("#report", Static).update(text)
        self.query_one("#report-box").focus()

    def action_print(self) -> None:
        self.print_report()

    @work(exclusive=True, group="print")
    async def print_report(self) -> None:
        if self.report is None:
            self.say("The report is not ready yet.", problem=True)
            return
        if self.till.config.printer.transport == "none":
            self.say("This till has no printer configured; the report is saved.", problem=True)
            return
        eod = self.report
        job = await self.service(lambda t: t.slips.slip(end_of_day_slip(t.header, eod)))
        if job is not None:
            self.till.print_soon()
            self.printed = True
            self.say(f"The report is printing (job {job}).")
