"""What the screen says, as plain text from the service's views: kept apart from the widgets
so it is tested without a screen, and so the words never depend on colour (NO_COLOR)."""

from __future__ import annotations

import datetime as dt
import re
import textwrap
from collections.abc import Callable, Sequence

from ..clock import parse_iso
from ..errors import BadInput
from ..journal import Event
from ..members import display_code, mask_phone
from ..reports import QueueStatus
from ..rules.program import Program
from ..rules.tiers import TierStatus
from ..views import MemberView
from ..words import plural

LocalTime = Callable[[str], str]  # a stored UTC time as the store's "YYYY-MM-DD HH:MM"

FLAG_WORDS = {
    "overdraft": "OWES POINTS: a refund took back points already spent",
    "velocity": "MANY VISITS TODAY: more need a manager",
}
PRINTER_WORDS = {
    "online": "ok",
    "near_end": "paper low",
    "paper_out": "NO PAPER",
    "cover_open": "COVER OPEN",
    "offline": "OFFLINE",
    "unknown": "unknown",
    "none": "none",
}
BAR_WIDTH = 20
STATUS_WIDTH = 78  # an 80-column terminal, less the status bar's padding
NAME_WIDTH = 37  # of the member panel's first line, where the phone and code take 41 more


def tier_bar(tier: TierStatus, width: int = BAR_WIDTH) -> str:
    """``[██████░░░░] 320 points to Gold`` (the top tier is full)."""
    if tier.next_tier is None:
        return f"[{'█' * width}] {tier.text}"
    low, high = tier.tier.threshold, tier.next_tier.threshold
    done = 0 if high <= low else (tier.qualifying - low) / (high - low)
    filled = max(0, min(width, int(done * width)))
    return f"[{'█' * filled}{'░' * (width - filled)}] {tier.text}"


def member_lines(view: MemberView, program: Program, local_time: LocalTime) -> list[str]:
    """The member panel: who, balance (confirmed and pending apart), tier, what they can
    redeem now and the flags, in words."""
    who = view.name or "(no name)"
    if len(who) > NAME_WIDTH:  # the ids stay on the first line, whole
        who = who[: NAME_WIDTH - 1] + "…"
    ids = [mask_phone(view.phone)] if view.phone else []
    if view.code:
        ids.append(display_code(view.code))
    if not view.known:
        who = f"Not enrolled: {mask_phone(view.phone)}"
    as_of = f"HQ, {local_time(view.confirmed_at)}" if view.confirmed_at else "not yet by HQ"
    lines = [
        f"{who}   {'  '.join(ids) if view.known else ''}".rstrip(),
        f"Balance {plural(view.balance, 'point')}: confirmed {view.confirmed} "
        f"({as_of}), pending {view.pending:+d}",
        f"Tier {view.tier.tier.name} {tier_bar(view.tier)}",
    ]
    if view.membership:
        until = local_time(view.membership_until)[:10] if view.membership_until else ""
        lines.append(f"Membership {view.membership.name} until {until}")
    if view.held:
        lines.append(f"Held: {view.held} (spendable from {local_time(view.held_until or '')})")
    rewards = ", ".join(f"{r.name} ({r.cost})" for r in view.affordable) or "none yet"
    capped = program.offline_redeem_cap and view.can_redeem_now < view.spendable
    limit = " (more with HQ's OK or a manager)" if capped else ""
    redeem = f"Redeem now up to {view.can_redeem_now}{limit}: {rewards}"
    if len(redeem) <= STATUS_WIDTH:
        lines.append(redeem)
    else:  # the rewards on lines of their own, each whole (no break inside a reward)
        lines.append(f"Redeem now up to {view.can_redeem_now}{limit}:")
        whole = ", ".join(f"{r.name} ({r.cost})".replace(" ", "\xa0") for r in view.affordable)
        wrapped = textwrap.wrap(whole, STATUS_WIDTH, initial_indent="  ", subsequent_indent="  ")
        lines += [line.replace("\xa0", " ") for line in wrapped]
    for flag in view.flags:
        lines.append(f"! {FLAG_WORDS.get(flag, flag.upper())}")
    return lines


def history_row(event: Event, local_time: LocalTime) -> tuple[str, str, str, str, str]:
    """(#, when, what, points, detail) for the member's history table."""
    first = " · ".join(event.lines)
    return (
        f"#{event.seq}" if event.seq else "",
        local_time(event.created_at)[5:],
        event.kind.replace("_", " "),
        f"{event.points:+d}" if event.points else "0",
        first,
    )


def ago(since: str | None, now: dt.datetime) -> str:
    """``12s``, ``5m``, ``3h``, ``2d`` since a stored time; ``never`` without one."""
    if not since:
        return "never"
    seconds = max(0, int((now - parse_iso(since)).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def status_line(
    queue: QueueStatus | None,
    sync: str | None,
    printer: str,
    who: str,
    where: str,
    now: dt.datetime,
    *,
    hq: bool,
) -> str:
    """The always-visible status: HQ, waiting events, printer, who and where; in words."""
    if not hq:
        net = "NO HQ (offline till)"
    elif sync and sync.startswith("elsewhere"):
        net = "SYNC ELSEWHERE"
    elif queue is None or queue.online is None:
        net = "HQ ?"
    else:
        up = queue.online if sync is None else sync.startswith("online")
        # Offline now: when it last synced, which may be seconds ago (one request failed).
        net = f"ONLINE sync {ago(queue.last_success_at, now)} ago"
        if not up:
            net = f"OFFLINE synced {ago(queue.last_success_at, now)} ago"
        if queue.last_success_at is None:
            net = f"{'ONLINE' if up else 'OFFLINE'} never synced"
    waiting = (f"{queue.unsynced} to HQ" if queue else "…") if hq else ""
    paper = "No printer" if printer == "none" else f"Printer {PRINTER_WORDS.get(printer, printer)}"
    slips = queue.print.slips_waiting if queue else 0
    if slips and printer != "none":
        paper += f" {plural(slips, 'slip')}"
    line = "  ".join(part for part in (net, waiting, paper, who, where) if part)
    if len(line) > STATUS_WIDTH:  # the store's name is in the title line: the till's id will do
        line = "  ".join(part for part in (net, waiting, paper, who, where.split()[-1]) if part)
    return line


# Why the printer holds a slip, and what lets it print: what the cashier can do about it.
HOLD_WORDS = {
    "paper_out": "printer out of paper; it prints when paper is loaded",
    "cover_open": "printer cover open; it prints when the cover is closed",
    "offline": "printer offline; it prints when the printer is on and connected again",
}


def slip_waits(printer: str) -> str:
    """The sentence for a slip the printer holds (in ``printer`` state); "" if it does not."""
    why = HOLD_WORDS.get(printer)
    return f"Receipt waiting: {why}." if why else ""


def parse_points(text: str, *, signed: bool = False) -> int:
    """Whole points as typed (``+50``, ``-20`` where ``signed``); BadInput with the
    sentence for anything else: nothing typed is quietly dropped or changed."""
    raw = text.strip()
    pattern = r"[-+]?[0-9]{1,9}" if signed else r"[0-9]{1,9}"
    if not re.fullmatch(pattern, raw):
        example = "+50 or -20" if signed else "40"
        raise BadInput(f"“{raw[:20]}” is not a whole number of points; type it like {example}.")
    return int(raw)


def money_hint(currency: str, exponent: int) -> str:
    return f"e.g. 24.80 {currency}" if exponent else f"e.g. 2480 {currency}"


def preview_lines(points: int, lines: Sequence[str]) -> list[str]:
    return [*lines, f"= {plural(points, 'point')}"]


def reward_line(name: str, cost: int, view: MemberView) -> str:
    """A catalogue row: cost, and whether the member can have it now, with a manager, or not."""
    if cost <= view.can_redeem_now:
        can = "yes"
    elif cost <= view.spendable:
        can = "HQ's OK or a manager"
    else:
        can = f"no: {plural(cost - view.spendable, 'more point')} needed"
    return f"{name:<28} {cost:>6} pts   {can}"
