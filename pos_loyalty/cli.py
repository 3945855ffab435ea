"""The ``pos-loyalty`` command line: the service layer, one subcommand per operation.

With ``--json`` every command prints exactly one JSON object on stdout (the host-POS contract
in docs/CLI.md). Exit status: 0 done, 2 refused or bad input, 1 anything else.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, NoReturn

from . import __version__
from . import config as config_mod
from .errors import BadInput, ConfigError, LoyaltyError, NeedsManager, StorageError, one_line
from .private import write_private
from .words import plural

PIN_ENV = "POS_LOYALTY_PIN"
MANAGER_PIN_ENV = "POS_LOYALTY_MANAGER_PIN"


class _Parser(argparse.ArgumentParser):
    """Usage mistakes become BadInput, so they exit 2 and honour --json like any refusal.
    Options are spelled out: an abbreviation that happens to match is not a contract."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def error(self, message: str) -> NoReturn:
        raise BadInput(f"{message[0].upper()}{message[1:]} (see `{self.prog} --help`).")


def whole_number(text: str) -> int:
    """An argparse type: a whole number in ASCII digits (no Arabic or full-width digits, which
    Python's int() would quietly take), within 64-bit range."""
    if not re.fullmatch(r"-?[0-9]{1,18}", text.strip()):
        raise argparse.ArgumentTypeError(f"“{text[:20]}” is not a whole number")
    return int(text)


def positive(text: str) -> int:
    value = whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError("give a number from 1 up")
    return value


def port_number(text: str) -> int:
    value = whole_number(text)
    if not 1 <= value <= 65535:
        raise argparse.ArgumentTypeError("give a port number from 1 to 65535")
    return value


def hours(text: str) -> float:
    with contextlib.suppress(ValueError):
        if 0 <= (value := float(text)) <= 24 * 366:  # nan fails this too
            return value
    raise argparse.ArgumentTypeError("give hours from 0 (never) to 8784, like 24 or 0.5")


def limit(text: str) -> int:
    value = whole_number(text)
    if not 1 <= value <= 1000:
        raise argparse.ArgumentTypeError("give a number from 1 to 1000")
    return value


class Output:
    """Either one JSON object or human lines, chosen once per command."""

    def __init__(self, as_json: bool) -> None:
        self.as_json = as_json
        self.emitted = False  # the command's result is out: a Ctrl-C now changes nothing

    def emit(self, data: dict[str, Any], text: Sequence[str], *, last: bool = True) -> None:
        try:
            if self.as_json:
                # ASCII escapes: a committed event must never fail to report because the
                # host's stdout cannot encode "×" or "€".
                print(json.dumps(data))
            else:
                print("\n".join(text))
            if last:
                sys.stdout.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:  # a full disk or a closed terminal: say so once, on stderr
            raise OutputLost(exc) from None
        if last:
            self.emitted = True
            _ignore_interrupts()  # one result, never followed by "Stopped."


@contextlib.contextmanager
def _interrupts_deferred() -> Iterator[None]:
    """While a command records its events and reports them, a Ctrl-C waits: the write takes
    milliseconds, and stopping between the commit and the report would leave the host POS
    not knowing that the sale was recorded (and retrying it). Printing may still be
    stopped: ``deliver`` lets interrupts through while it waits for the printer."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, lambda signum, frame: None)
    try:
        yield
    finally:
        if signal.getsignal(signal.SIGINT) is not signal.SIG_IGN:
            signal.signal(signal.SIGINT, previous)


@contextlib.contextmanager
def _interrupts_allowed() -> Iterator[None]:
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _ignore_interrupts() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, signal.SIG_IGN)


class OutputLost(Exception):
    """The result could not be written to stdout (the work itself is done)."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))


# -- rendering for people -------------------------------------------------------------------


def member_text(view: Any) -> list[str]:
    from .members import display_code, mask_phone

    who = view.name or "(no name)"
    ids = ", ".join(
        x for x in (display_code(view.code) if view.code else "", mask_phone(view.phone)) if x
    )
    lines = [f"{who}  [{ids}]" if ids else who]
    if not view.known:
        lines.append("Not yet in this till's member list: points kept against the number or code.")
    lines.append(
        f"Balance {plural(view.balance, 'point')} "
        f"(confirmed {view.confirmed}, not yet synced {view.pending:+d})"
    )
    if view.balance < 0:
        lines.append(
            f"Owes {plural(-view.balance, 'point')} after a refund of points already spent; "
            "new points pay them off first."
        )
    if view.held:
        lines.append(
            f"Spendable now {view.spendable}; {view.held} held until {view.held_until[:10]}"
        )
    progress = view.tier.text if view.tier.next_tier else "the top tier"
    lines.append(f"Tier {view.tier.tier.name}: {progress}")
    if view.membership:
        lines.append(f"Membership {view.membership.name} until {view.membership_until[:10]}")
    if view.affordable:
        lines.append(
            "Can redeem now: " + ", ".join(f"{r.name} ({r.cost})" for r in view.affordable)
        )
    if view.offline_cap_room < view.spendable:
        lines.append(
            f"Without HQ's OK or a manager, {plural(view.offline_cap_room, 'more point')} "
            "can be redeemed."
        )
    if "velocity" in view.flags:
        lines.append(f"Flagged: {view.transactions_today} loyalty transactions today")
    return lines


def deliver(till: Any, out: Output, data: dict[str, Any], text: list[str]) -> None:
    """Print what was queued now (bounded by the printer's timeout), then report. The event is
    already safe in the journal, so a printer problem of any kind is reported, never raised."""
    job = data.get("print_job")
    if job is not None and till.printing:
        with _interrupts_allowed():  # the event is saved; a Ctrl-C only stops the printing
            state = print_now(till, job, now_not_later=True)  # the cashier waits: try all now
        data["print"] = state
        if state["status"] == "printed":
            text.append(
                "Slip printed." + ("" if state["printer"] == "online" else f" {state['detail']}")
            )
        else:
            text.append(f"Slip waiting (job {job}): {state['detail']}")
    out.emit(data, text)


def print_now(till: Any, job: int, *, now_not_later: bool = False) -> dict[str, Any]:
    try:
        from drivers.print_worker import PrintWorker

        worker = PrintWorker(till.source)
        outcomes = dict(worker.run_once(now_not_later=now_not_later))
    except LoyaltyError as exc:
        return {"job": job, "status": "kept", "printer": "unknown", "detail": exc.message}
    except KeyboardInterrupt:  # the event is saved; the host must still learn its id
        return {"job": job, "status": "kept", "printer": "unknown", "detail": "Printing stopped."}
    except Exception as exc:  # a printer driver's bug must not turn a saved sale into an error
        detail = f"The slip could not be sent ({type(exc).__name__}); it waits in the queue."
        return {"job": job, "status": "kept", "printer": "unknown", "detail": detail}
    state = worker.state
    return {
        "job": job,
        "status": outcomes.get(job, "kept"),
        "printer": state.state if state else "unknown",
        "detail": state.detail if state else "Another till process is printing the slips.",
    }


def result_text(result: Any) -> list[str]:
    head = f"#{result.event.seq} {result.event.kind}"
    if result.replayed:
        head += " (recorded before under this request id; nothing new was written)"
    balance = result.member.balance
    text = [head, *(f"  {line}" for line in result.lines), f"Balance: {plural(balance, 'point')}"]
    if balance < 0:
        text.append(
            "The refund took back points already spent: the member owes "
            f"{plural(-balance, 'point')}, paid off by the next points they earn."
        )
    return text


# -- commands --------------------------------------------------------------------------------


def _member_ref(args: argparse.Namespace) -> Any:
    from .service import MemberRef

    return MemberRef(phone=args.phone, code=args.code, member_id=args.member)


def _recorded(till: Any, args: argparse.Namespace) -> dict[str, Any]:
    """Who is at the till, who approved, and the host's request id: recorded with the event."""
    return {
        "cashier": _cashier(till, args),
        "approval": _approval(till, args),
        "request_id": args.request_id,
    }


def _cashier(till: Any, args: argparse.Namespace) -> Any:
    """The cashier signs in with their own PIN, so the event records who really was there."""
    if not getattr(args, "cashier", None):
        return None
    pin = _secret(PIN_ENV, f"PIN for {args.cashier}: ", BadInput)
    return till.sign_in(args.cashier, pin)


def _approval(till: Any, args: argparse.Namespace) -> Any:
    if not getattr(args, "manager", None):
        return None
    return till.sign_in(
        args.manager, _secret(MANAGER_PIN_ENV, f"PIN for {args.manager}: "), manager=True
    )


def _secret(env: str, prompt: str, missing: type[LoyaltyError] = NeedsManager) -> str:
    value = os.environ.get(env)
    if value:
        return value
    if not sys.stdin.isatty():
        raise missing(f"Give the PIN in ${env}: there is no terminal to ask for it on.")
    import getpass

    with _interrupts_allowed():  # nothing is recorded yet: Ctrl-C at the prompt stops
        return getpass.getpass(prompt)


def cmd_init(args: argparse.Namespace, out: Output) -> int:
    import shutil

    path = config_mod.config_path(args.config)
    created = not path.exists()
    if created:
        path.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(config_mod.EXAMPLE, path)
    loaded = config_mod.load(str(path))
    if loaded.config.printer.transport != "none":
        from drivers.profiles import load_profile

        try:  # an unknown profile or paper width fails here, early
            load_profile(loaded.config.printer.profile)
        except ConfigError as exc:
            raise ConfigError(f"{path}: {exc.message}") from None
    _open_till(loaded, create=True).close()  # creates or migrates the database
    db = loaded.database_path
    out.emit(
        {"config": str(path), "database": str(db), "created_config": created},
        [f"{'Created' if created else 'Using'} config {path}", f"Till database ready at {db}"],
    )
    return 0


def _open_till(loaded: Any, *, create: bool = False) -> Any:
    from .service import Till

    till = Till.open(loaded, create=create)
    if loaded.config.hq.url:
        from sync.remote import HQRemote

        till.remote = HQRemote(loaded)
    return till


def cmd_enroll(args: argparse.Namespace, till: Any, out: Output) -> int:
    from .service import MemberRef

    referrer = None
    if args.referrer_code and args.referrer_phone:
        raise BadInput("Name the referrer by code or by phone, not both.")
    if args.referrer_code or args.referrer_phone:
        referrer = MemberRef(code=args.referrer_code, phone=args.referrer_phone)
    result = till.enroll(
        args.phone,
        name=args.name,
        consent=args.consent,
        referrer=referrer,
        cashier=_cashier(till, args),
        request_id=args.request_id,
    )
    text = [f"#{result.event.seq} enroll", *(f"  {line}" for line in result.lines)]
    deliver(till, out, result.to_json(), [*text, *member_text(result.member)])
    return 0


def cmd_lookup(args: argparse.Namespace, till: Any, out: Output) -> int:
    if not args.print:
        view = till.lookup(_member_ref(args))
        out.emit(view.to_json(), member_text(view))
        return 0
    _need_printer(till)
    view, job = till.print_balance(_member_ref(args))
    deliver(till, out, {**view.to_json(), "print_job": job}, member_text(view))
    return 0


def _need_printer(till: Any) -> None:
    if not till.printing:
        raise BadInput("No printer is configured: set [printer] transport in the config.")


def cmd_print(args: argparse.Namespace, till: Any, out: Output) -> int:
    """Send every slip waiting in the print queue now, without waiting out the backoff."""
    _need_printer(till)
    from drivers.print_worker import PrintWorker

    worker = PrintWorker(till.source)
    outcomes = worker.run_once(limit=args.limit, now_not_later=True)
    known = till.print_status()  # what waits now, and the state last found
    state = worker.state
    data = {
        "printed": [j for j, o in outcomes if o == "printed"],
        "kept": [j for j, o in outcomes if o != "printed"],
        "waiting": known.slips_waiting,
        "printer": state.state if state else known.printer,
        "detail": state.detail if state else known.detail,
    }
    text = [f"Printed {len(data['printed'])}; {data['waiting']} waiting."]
    if not outcomes and known.slips_waiting:
        data["detail"] = "The waiting slips are being printed by another till process."
    elif not outcomes:
        data["detail"] = "Nothing was waiting to print."
    text.append(data["detail"] or "")
    out.emit(data, text)
    return 0


def cmd_reprint(args: argparse.Namespace, till: Any, out: Output) -> int:
    _need_printer(till)
    if args.last and args.job is not None:
        raise BadInput("Give a print job number or --last, not both.")
    job, original = till.reprint(args.job)
    text = [f"Reprint of slip {original} queued as job {job}."]
    deliver(till, out, {"print_job": job, "reprint_of": original}, text)
    return 0


def cmd_zreport(args: argparse.Namespace, till: Any, out: Output) -> int:
    import datetime as dt

    from .clock import iso
    from .zreport import z_report_slip

    try:
        day = dt.date.fromisoformat(args.day) if args.day else None
    except ValueError:
        raise BadInput(f"“{args.day}” is not a date like 2026-11-24.") from None
    if args.print:
        _need_printer(till)
    if day and not dt.date(2000, 1, 1) <= day <= dt.date(2100, 1, 1):
        raise BadInput(f"{day.isoformat()} is not a store day this till can have.")
    report, job = till.z_report(day, print_slip=args.print)
    data = {**report.to_json(), "print_job": job}
    text = z_report_slip(till.header, report, iso(till.clock())).text().splitlines()
    if job is None:
        out.emit(data, text)
    else:
        deliver(till, out, data, text)
    return 0


def cmd_earn(args: argparse.Namespace, till: Any, out: Output) -> int:
    from .money import parse_amount
    from .rules.earn import BasketLine

    amount = parse_amount(args.amount, till.currency) if args.amount is not None else None
    lines = []
    for spec in args.line or ():
        category, sep, value = spec.partition("=")
        if not sep or not category.strip():
            raise BadInput(f"A sale line is CATEGORY=AMOUNT, like fresh=4.50; got “{spec}”.")
        lines.append(BasketLine(category.strip(), parse_amount(value, till.currency)))
    result = till.earn(
        _member_ref(args),
        amount=amount,
        lines=lines,
        **_recorded(till, args),
    )
    deliver(till, out, result.to_json(), result_text(result))
    return 0


def cmd_redeem(args: argparse.Namespace, till: Any, out: Output) -> int:
    result = till.redeem(
        _member_ref(args),
        reward_id=args.reward,
        points=args.points,
        **_recorded(till, args),
    )
    deliver(till, out, result.to_json(), result_text(result))
    return 0


def cmd_donate(args: argparse.Namespace, till: Any, out: Output) -> int:
    result = till.donate(
        _member_ref(args),
        charity_id=args.charity,
        points=args.points,
        **_recorded(till, args),
    )
    deliver(till, out, result.to_json(), result_text(result))
    return 0


def cmd_membership(args: argparse.Namespace, till: Any, out: Output) -> int:
    result = till.buy_membership(
        _member_ref(args),
        plan_id=args.plan,
        cashier=_cashier(till, args),
        request_id=args.request_id,
    )
    deliver(till, out, result.to_json(), result_text(result))
    return 0


def cmd_reverse(args: argparse.Namespace, till: Any, out: Output) -> int:
    from .money import parse_amount

    amount = parse_amount(args.amount, till.currency) if args.amount is not None else None
    result = till.reverse(
        args.event,
        amount=amount,
        **_recorded(till, args),
    )
    deliver(till, out, result.to_json(), result_text(result))
    return 0


def cmd_adjust(args: argparse.Namespace, till: Any, out: Output) -> int:
    result = till.adjust(
        _member_ref(args),
        points=args.points,
        reason=args.reason,
        note=args.note or "",
        **_recorded(till, args),
    )
    deliver(till, out, result.to_json(), result_text(result))
    return 0


def cmd_history(args: argparse.Namespace, till: Any, out: Output) -> int:
    from .views import event_json

    view, events = till.history(_member_ref(args), limit=args.limit)
    rows = [event_json(e) for e in events]
    text = [*member_text(view), ""]
    for e in events:
        when = till.header.local_time(e.created_at)  # the store's clock, as on the slips
        text.append(f"#{e.seq:<5} {when}  {e.kind:<14} {e.points:+6d}")
        text.extend(f"        {line}" for line in e.lines)
    out.emit({"member": view.to_json(), "events": rows}, text)
    return 0


def cmd_rewards(args: argparse.Namespace, till: Any, out: Output) -> int:
    view = till.lookup(_member_ref(args)) if (args.phone or args.code or args.member) else None
    rows, text = [], []
    for r in till.program.rewards:
        can = view is not None and r in view.affordable
        rows.append({"id": r.id, "name": r.name, "cost": r.cost, "kind": r.kind, "affordable": can})
        mark = "✓" if can else " "
        text.append(f"{mark} {r.id:<12} {r.cost:>6} pts  {r.name}")
    data: dict[str, Any] = {"rewards": rows}
    if view:
        data["member"] = view.to_json()
    out.emit(data, text or ["No rewards are configured."])
    return 0


def cmd_queue(args: argparse.Namespace, till: Any, out: Output) -> int:
    status = till.queue()
    text = [
        f"Journal: {plural(status.last_seq, 'event')}; "
        f"HQ has acknowledged up to #{status.acked_seq}.",
        f"Waiting to sync: {status.unsynced}"
        + (
            f" (oldest {till.header.local_time(status.oldest_unsynced_at)})"
            if status.oldest_unsynced_at
            else ""
        ),
    ]
    if status.by_kind:
        text.append("  " + ", ".join(f"{k} {n}" for k, n in sorted(status.by_kind.items())))
    if status.online is True and status.last_success_at:
        text.append(f"HQ: online, last sync {till.header.local_time(status.last_success_at)}.")
    elif status.last_error:
        text.append(f"HQ: offline. Last sync problem: {status.last_error}")
    printing = status.print
    if printing.printer != "none":
        text.append(
            f"Slips waiting to print: {printing.slips_waiting}; printer {printing.printer}."
        )
        if printing.detail:
            text.append(f"  {printing.detail}")
    program = till.program_in_use()
    text.append(
        f"Program {program['ruleset']}, "
        + (
            f"HQ's, fetched {till.header.local_time(program['fetched_at'])}."
            if program["fetched_at"]
            else "this till's own (config)."
        )
    )
    out.emit({**status.to_json(), "program": program}, text)
    return 0


def cmd_verify(args: argparse.Namespace, out: Output) -> int:
    """The journal as it is on disk, opened read-only: verify never migrates or writes it."""
    from .journal import Journal, verify_chain

    loaded = config_mod.load(args.config)
    cfg = loaded.config
    journal = Journal.open(
        loaded.database_path, store_id=cfg.store.id, terminal_id=cfg.terminal.id, read_only=True
    )
    try:
        report = verify_chain(journal)
    finally:
        journal.close()
    data = {
        "ok": report.ok,
        "checked": report.checked,
        "problem": report.problem,
        "seq": report.seq,
    }
    if report.ok:
        out.emit(data, [f"Journal intact: {plural(report.checked, 'event')}, hash chain verified."])
        return 0
    if out.as_json:
        out.emit({"error": {"code": "chain_broken", "message": report.problem}, **data}, [])
    else:
        print(
            f"pos-loyalty: the journal is broken after {plural(report.checked, 'good event')}: "
            f"{report.problem}",
            file=sys.stderr,
        )
    return 1


def cmd_staff_add(args: argparse.Namespace, till: Any, out: Output) -> int:
    pin = _secret(PIN_ENV, f"New PIN for {args.staff_id}: ", BadInput)
    saved = till.add_staff(
        args.staff_id, pin=pin, name=args.name, role=args.role, approval=_approval(till, args)
    )
    out.emit(
        {"staff_id": saved.staff_id, "role": saved.role},
        [f"Saved {saved.role} {saved.staff_id}."],
    )
    return 0


def cmd_scanner(args: argparse.Namespace, till: Any, out: Output) -> int:
    """Read the configured serial scanner and look up each member scanned, one line (or one
    JSON object) per scan, until Ctrl-C: the scanner end to end, without the cashier screen."""
    import queue

    from drivers.scanner import Scan, SerialScanner, classify

    from .service import MemberRef

    scans: queue.Queue[Scan] = queue.Queue()
    with SerialScanner.from_config(till.config.scanner, queue=scans):
        where = till.config.scanner.port
        print(f"Reading the scanner at {where}; Ctrl-C stops.", file=sys.stderr, flush=True)
        try:
            for _ in range(args.count or 10**12):
                scan = scans.get()
                try:
                    view = till.lookup(MemberRef(member_id=classify(scan)))
                except LoyaltyError as exc:
                    error = {"error": {"code": exc.code, "message": exc.message}}
                    out.emit(error, [exc.message], last=False)
                    continue
                out.emit(view.to_json(), member_text(view), last=False)
                sys.stdout.flush()
        except KeyboardInterrupt:
            pass
    return 0


def cmd_sim(args: argparse.Namespace, out: Output) -> int:
    """The simulators are tools of their own; hand them the rest of the command line."""
    if args.device == "printer":
        from drivers.sim_printer import main as run
    elif args.device == "scanner":
        from drivers.sim_scanner import main_scanner as run
    else:
        from drivers.sim_scanner import main_scan as run
    return run(list(args.rest))


def cmd_demo(args: argparse.Namespace, out: Output) -> int:
    from .demo import run_demo, run_walkthrough

    if args.no_ui:
        return run_walkthrough(args.dir, as_json=out.as_json)
    return run_demo(args.dir, as_json=out.as_json)


def cmd_ui(args: argparse.Namespace, out: Output) -> int:
    """The cashier's screen (Textual), with the sync daemon, printing and the scanner."""
    from .ui import run_app

    if not sys.stdin.isatty() or not sys.stdout.isatty():
        raise BadInput("The cashier screen needs a terminal; run it in one (not piped).")
    loaded = config_mod.load(args.config)
    _open_till(loaded).close()  # no journal or a newer schema: one sentence before the screen
    return run_app(loaded)


def cmd_sync(args: argparse.Namespace, till: Any, out: Output) -> int:
    """Push every event HQ does not hold yet, then pull HQ's word on the members that changed."""
    from sync.daemon import Syncer, run_daemon

    if till.source is None:
        raise BadInput("sync needs a till opened from a config file.")
    if args.daemon:
        import threading

        stop = threading.Event()
        try:
            run_daemon(
                till.source,
                stop=stop,
                on_change=lambda line: print(line, flush=True),
                on_start=lambda: print(
                    "Syncing with HQ until Ctrl-C.", file=sys.stderr, flush=True
                ),
            )
        except KeyboardInterrupt:
            stop.set()
        return 0
    with Syncer(till.source, batch_size=args.batch) as syncer:
        summary = syncer.push()
        members = syncer.pull()
    data = {
        "pushed": summary.pushed,
        "duplicates": summary.duplicates,
        "acked_seq": summary.acked_seq,
        "waiting": summary.waiting,
        "members_updated": members,
    }
    text = [
        f"HQ holds this till's events up to #{summary.acked_seq}: "
        f"{plural(summary.pushed, 'event')} sent now"
        + (f", {summary.duplicates} it already had." if summary.duplicates else "."),
        f"HQ's word taken on {plural(members, 'member')}.",
    ]
    out.emit(data, text)
    return 0


def cmd_eod(args: argparse.Namespace, till: Any, out: Output) -> int:
    """End of day: sync as far as HQ lets, then the report, saved and printed; exit 1 if
    anything of this till is still not at HQ."""
    from sync.eod import end_of_day, save_report

    from .endofday import end_of_day_slip

    approval = _approval(till, args)
    with _push_progress(quiet=out.as_json) as progress:
        eod = end_of_day(till, approval, deadline=args.deadline, on_progress=progress)
    text_path, json_path = save_report(till, eod)
    slip = end_of_day_slip(till.header, eod)
    job = till.slips.slip(slip) if till.printing else None
    data = {**eod.to_json(), "saved": [str(text_path), str(json_path)], "print_job": job}
    text = [*slip.text().splitlines(), "", f"Saved as {text_path} and {json_path.name}."]
    deliver(till, out, data, text)
    return 0 if eod.complete else 1


@contextlib.contextmanager
def _push_progress(quiet: bool) -> Iterator[Callable[[int, int, str | None], None]]:
    """How far the push has come, and why it waits when HQ does not answer: a bar on a
    terminal, else a plain line at most each second (and each new reason); on stderr, so
    the report alone is on stdout. ``quiet`` (``--json``): nothing."""
    import time

    if quiet:
        yield lambda acked, last, why: None
        return

    if sys.stderr.isatty():
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn

        bar = Progress(
            "{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        )
        task = bar.add_task("Sending to HQ", total=None)
        start: list[int] = []  # what HQ held before: the bar counts this run's events

        def show(acked: int, last: int, why: str | None) -> None:
            if not start:
                start.append(acked)
            text = "Sending to HQ" if why is None else "HQ does not answer; trying again"
            bar.update(task, completed=acked - start[0], total=last - start[0], description=text)

        with bar:
            yield show
        return
    said: list[Any] = [0.0, None]

    def say(acked: int, last: int, why: str | None) -> None:
        now = time.monotonic()
        if why is not None and why != said[1]:
            print(why, file=sys.stderr, flush=True)
        elif acked == last or now - said[0] >= 1.0:
            print(f"HQ holds #{acked} of #{last}.", file=sys.stderr, flush=True)
        else:
            return
        said[0], said[1] = now, why

    yield say


def _token_file(name: str) -> Path:
    """Where ``hq add-terminal --token-file`` may write, checked before the terminal is
    provisioned: a token written nowhere would have to be made again."""
    path = Path(name).expanduser()
    folder = path.parent
    if path.is_dir():
        raise BadInput(f"{path} is a folder; --token-file names the file to write.")
    if not folder.is_dir():
        raise BadInput(f"The folder {folder} for the token file does not exist.")
    if not os.access(folder, os.W_OK):
        raise BadInput(f"The folder {folder} for the token file cannot be written.")
    return path


def cmd_hq(args: argparse.Namespace, out: Output) -> int:
    from sync.hq import commands

    if args.hq_command == "openapi":
        from sync.protocol import openapi

        print(json.dumps(openapi(), indent=2, sort_keys=True))
        return 0
    if args.hq_command == "serve":
        commands.serve(
            args.db,
            args.host,
            args.port,
            args.program,
            args.expire_every,
            args.workers,
            access_log=args.access_log,
        )
        return 0
    # Only provisioning makes a new HQ database; the rest read or change one that exists.
    store = commands.open_store(
        args.db, getattr(args, "program", None), create=args.hq_command == "add-terminal"
    )
    try:
        if args.hq_command == "expire":
            accounts, points = store.expire()
            out.emit(
                {"accounts": accounts, "points": points},
                [
                    f"Expired {plural(points, 'point')} of {plural(accounts, 'account')}."
                    if points
                    else "Nothing was due to expire."
                ],
            )
        elif args.hq_command == "add-terminal" and args.token_file:
            into = _token_file(args.token_file)
            token = store.add_terminal(args.store, args.terminal)
            try:
                write_private(into, f"{token}\n".encode())
            except OSError as exc:
                raise StorageError(
                    f"Terminal {args.terminal} is provisioned, but its token could not be "
                    f"written to {into} ({exc.strerror}); run add-terminal again."
                ) from None
            out.emit(
                {"store_id": args.store, "terminal_id": args.terminal, "token_file": str(into)},
                [
                    f"Terminal {args.terminal} of store {args.store} provisioned; its token is "
                    f"in {into}, readable by you only: copy it to the till's hq.token_file."
                ],
            )
        elif args.hq_command == "add-terminal":
            token = store.add_terminal(args.store, args.terminal)
            out.emit(
                {"store_id": args.store, "terminal_id": args.terminal, "token": token},
                [
                    f"Terminal {args.terminal} of store {args.store} provisioned; its token "
                    "(shown once, keep it in the till's hq.token_file):",
                    token,
                ],
            )
        elif args.hq_command == "verify":
            chains = store.verify()
            broken = [c for c in chains if c[3]]
            out.emit(
                {
                    "ok": not broken,
                    "chains": [
                        {"store_id": s, "terminal_id": t, "checked": n, "problem": p}
                        for s, t, n, p in chains
                    ],
                },
                [
                    f"{s}/{t}: {plural(n, 'event')} " + (f"then broken: {p}" if p else "intact")
                    for s, t, n, p in chains
                ]
                or ["HQ holds no events yet."],
            )
            return 1 if broken else 0
        elif args.hq_command == "revoke-terminal":
            if not store.revoke(args.store, args.terminal):
                raise BadInput(f"No active terminal {args.terminal} of store {args.store}.")
            out.emit(
                {"store_id": args.store, "terminal_id": args.terminal, "revoked": True},
                [f"Terminal {args.terminal} of store {args.store} can no longer push."],
            )
        else:
            rows = store.review()
            items = [
                dict(
                    zip(
                        ("store_id", "terminal_id", "seq", "event_id", "reason", "at"),
                        r,
                        strict=True,
                    )
                )
                for r in rows
            ]
            text = [f"{r[0]}/{r[1]} #{r[2]}  {r[4]}" for r in rows] or ["Nothing to review."]
            out.emit({"review": items}, text)
    finally:
        store.db.close()
    return 0


# -- the parser ------------------------------------------------------------------------------


def _common(parser: argparse.ArgumentParser, default: Any) -> None:
    """--config and --json, before or after the command (SUPPRESS keeps a sub-command's
    absent option from clobbering one given before the command)."""
    where = f"${config_mod.ENV_VAR} or ./{config_mod.DEFAULT_NAME}"
    parser.add_argument(
        "--config", metavar="PATH", default=default, help=f"config file (default {where})"
    )
    parser.add_argument(
        "--json", action="store_true", default=default, help="print one JSON object"
    )


def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    _common(common, argparse.SUPPRESS)
    who = _Parser(add_help=False)
    group = who.add_argument_group("member (one of)")
    group.add_argument("--phone", help="phone number in any common format")
    group.add_argument("--code", help="member code, scanned or typed")
    group.add_argument("--member", metavar="ID", help="member id")
    cashier = _Parser(add_help=False)
    cashier.add_argument("--cashier", metavar="ID", help="who is at the till (recorded)")
    cashier.add_argument(
        "--request-id",
        metavar="ID",
        help="the host POS's id for this request: a retry returns the first result",
    )
    staff = _Parser(add_help=False, parents=[cashier])
    staff.add_argument(
        "--manager", metavar="ID", help=f"manager approving (PIN from ${MANAGER_PIN_ENV})"
    )

    parser = _Parser(prog="pos-loyalty", description="Offline-first loyalty for the till.")
    parser.add_argument("--version", action="version", version=f"pos-loyalty {__version__}")
    parser.add_argument("--config", metavar="PATH", help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help=argparse.SUPPRESS)
    sub = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )

    def add(name: str, handler: Callable[..., int], help: str, *parents: _Parser) -> Any:
        p = sub.add_parser(name, help=help, description=help, parents=[common, *parents])
        p.set_defaults(handler=handler)
        return p

    add("init", cmd_init, "create the config (if missing) and the till database")
    p = add("enroll", cmd_enroll, "enrol a new member", cashier)
    p.add_argument("--phone", required=True)
    p.add_argument("--name")
    p.add_argument("--consent", action="store_true", help="the customer agreed to marketing")
    p.add_argument("--referrer-code", metavar="CODE", help="member code of who referred them")
    p.add_argument("--referrer-phone", metavar="PHONE", help="phone of who referred them")
    p = add("lookup", cmd_lookup, "show a member's balance, tier and rewards", who)
    p.add_argument("--print", action="store_true", help="print a balance slip")
    p = add("earn", cmd_earn, "record a sale and earn points", who, staff)
    p.add_argument("--amount", help="sale total, e.g. 24.80")
    p.add_argument(
        "--line", action="append", metavar="CATEGORY=AMOUNT", help="a basket line (repeatable)"
    )
    p = add("redeem", cmd_redeem, "redeem a reward or points", who, staff)
    p.add_argument("--reward", metavar="ID")
    p.add_argument("--points", type=whole_number)
    p = add("donate", cmd_donate, "donate points to a charity", who, staff)
    p.add_argument("--charity", required=True, metavar="ID")
    p.add_argument("--points", type=whole_number, required=True)
    p = add("membership", cmd_membership, "sell a paid membership", who, cashier)
    p.add_argument("--plan", required=True, metavar="ID")
    p = add("reverse", cmd_reverse, "refund a sale's points or cancel a redemption", staff)
    p.add_argument("event", metavar="EVENT", help="event id or #seq")
    p.add_argument("--amount", help="refund only this much of the sale")
    p = add("adjust", cmd_adjust, "manager's adjustment of a balance", who, staff)
    p.add_argument("--points", type=whole_number, required=True, help="signed, e.g. 50 or -20")
    p.add_argument("--reason", required=True, help="a reason code from the program")
    p.add_argument("--note", help="free text kept with the adjustment")
    p = add("history", cmd_history, "a member's recent events", who)
    p.add_argument("--limit", type=limit, default=20, help="1 to 1000 (default 20)")
    add("rewards", cmd_rewards, "the rewards catalogue (and what a member can afford)", who)
    add("queue", cmd_queue, "events waiting to sync to HQ")
    p = add("print", cmd_print, "send the slips waiting in the print queue")
    p.add_argument("--limit", type=limit, default=50, help="1 to 1000 (default 50)")
    p = add("reprint", cmd_reprint, "print a slip again (the last one by default)")
    p.add_argument("job", nargs="?", type=positive, metavar="JOB", help="print job number")
    p.add_argument("--last", action="store_true", help="the last slip (the default)")
    p = add("zreport", cmd_zreport, "end-of-day figures (the Z-report)")
    p.add_argument("--day", metavar="YYYY-MM-DD", help="store day (default today)")
    p.add_argument("--print", action="store_true", help="print the Z-report slip")
    add("verify", cmd_verify, "check the journal's hash chain")
    staff_cmd = sub.add_parser("staff", help="manage cashier and manager PINs", parents=[common])
    staff_sub = staff_cmd.add_subparsers(
        dest="staff_command", required=True, metavar="ACTION", parser_class=_Parser
    )
    p = staff_sub.add_parser(
        "add", help=f"add or update staff (PIN from ${PIN_ENV})", parents=[common]
    )
    p.add_argument("staff_id", metavar="ID")
    p.add_argument(
        "--role",
        choices=("cashier", "manager"),
        help="new staff: cashier unless given; existing staff keep their role unless given",
    )
    p.add_argument("--name")
    p.add_argument(
        "--manager", metavar="ID", help=f"manager approving (PIN from ${MANAGER_PIN_ENV})"
    )
    p.set_defaults(handler=cmd_staff_add)
    p = add("scanner", cmd_scanner, "read the serial scanner and look up each member scanned")
    p.add_argument("--count", type=positive, help="stop after this many scans")
    p = sub.add_parser(
        "sim",
        help="simulated printer and scanner for testing without hardware",
        description="pos-loyalty sim printer [--port 9100 --out DIR --paper 58|80 --fault F] | "
        "sim scanner | sim scan CODE [--suffix cr|lf|crlf] [--aim ]Q1]",
    )
    p.add_argument("device", choices=("printer", "scanner", "scan"))
    p.add_argument("rest", nargs=argparse.REMAINDER, help="the simulator's own options")
    p.set_defaults(handler=cmd_sim, json=False, config=None)
    p = add("demo", cmd_demo, "the till, HQ, simulated printer and scanner, seeded members")
    p.add_argument("--dir", help="where to keep the demo till (default: a new temporary folder)")
    p.add_argument("--no-ui", action="store_true", help="a scripted walk-through instead")
    add("ui", cmd_ui, "the cashier's screen: find members, sales, rewards, manager tasks")
    p = add("sync", cmd_sync, "push the events HQ does not hold yet, pull HQ's word")
    mode = p.add_mutually_exclusive_group(required=True)
    mode.add_argument("--once", action="store_true", help="push and pull once, then stop")
    mode.add_argument("--daemon", action="store_true", help="keep syncing until Ctrl-C")
    p.add_argument("--batch", type=limit, default=200, help="events per request (1 to 1000)")
    p = add("eod", cmd_eod, "end of day: sync, then the day's report (manager)")
    p.add_argument(
        "--manager",
        metavar="ID",
        required=True,
        help=f"the manager running it (PIN from ${MANAGER_PIN_ENV})",
    )
    p.add_argument(
        "--deadline",
        type=positive,
        default=60,
        metavar="SECONDS",
        help="stop retrying the push after this long (default 60)",
    )
    hq = sub.add_parser("hq", help="the reference HQ service and its terminals", parents=[common])
    hq_sub = hq.add_subparsers(
        dest="hq_command", required=True, metavar="ACTION", parser_class=_Parser
    )
    db_help = (
        "HQ's database: sqlite:///hq.db (in this folder), sqlite:////abs/path/hq.db, "
        "or postgresql://host/db"
    )
    p = hq_sub.add_parser("serve", help="run HQ", parents=[common])
    p.add_argument("--db", required=True, metavar="URL", help=db_help)
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=port_number, default=8700)
    p.add_argument("--program", metavar="FILE", help="the chain's [program] (TOML)")
    p.add_argument(
        "--expire-every",
        type=hours,
        default=24.0,
        metavar="HOURS",
        help="run expiry this often while serving (default 24; 0: never)",
    )
    p.add_argument(
        "--workers",
        type=positive,
        default=1,
        metavar="N",
        help="serve from N processes (PostgreSQL only; default 1)",
    )
    p.add_argument(
        "--access-log",
        action="store_true",
        help="write a line per request to standard output (phone numbers masked)",
    )
    p = hq_sub.add_parser(
        "expire", help="expire points due now, as events of HQ's own chain", parents=[common]
    )
    p.add_argument("--db", required=True, metavar="URL", help=db_help)
    p.add_argument("--program", metavar="FILE", help="the chain's [program] (TOML)")
    for action, text in (
        ("add-terminal", "provision a terminal and print its token"),
        ("revoke-terminal", "stop a terminal's token from pushing"),
    ):
        p = hq_sub.add_parser(action, help=text, parents=[common])
        p.add_argument("--db", required=True, metavar="URL", help=db_help)
        p.add_argument("--store", required=True, metavar="ID")
        p.add_argument("--terminal", required=True, metavar="ID")
        if action == "add-terminal":
            p.add_argument(
                "--token-file",
                metavar="PATH",
                help="write the token to PATH (mode 600) instead of printing it",
            )
    hq_sub.add_parser("openapi", help="print HQ's OpenAPI document", parents=[common])
    p = hq_sub.add_parser("verify", help="recompute every terminal's chain", parents=[common])
    p.add_argument("--db", required=True, metavar="URL", help=db_help)
    p = hq_sub.add_parser("review", help="conflicts and flagged events", parents=[common])
    p.add_argument("--db", required=True, metavar="URL", help=db_help)
    hq.set_defaults(handler=cmd_hq)
    return parser


_NO_TILL = {cmd_init, cmd_demo, cmd_sim, cmd_hq, cmd_ui, cmd_verify}
# Commands that record events (or staff): a Ctrl-C waits until their result is reported.
_WRITES = {
    cmd_enroll,
    cmd_earn,
    cmd_redeem,
    cmd_donate,
    cmd_membership,
    cmd_reverse,
    cmd_adjust,
    cmd_staff_add,
}


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; the exit status. Nothing it does ends in a traceback."""
    try:
        return _finish(_run(argv))
    except KeyboardInterrupt:  # between the command and its last word
        return 130


def _run(argv: Sequence[str] | None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    out = Output("--json" in argv)
    for stream in (sys.stdout, sys.stderr):  # a sentence with "€" must reach any terminal
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="replace")
    try:
        args = build_parser().parse_args(argv)
        out = Output(args.json)
        if args.handler is not cmd_sim:
            _refuse_repeats(argv)
        if args.handler in _NO_TILL:
            return int(args.handler(args, out))
        with _open_till(config_mod.load(args.config)) as till:
            if args.handler not in _WRITES:
                return int(args.handler(args, till, out))
            with _interrupts_deferred():
                return int(args.handler(args, till, out))
    except LoyaltyError as exc:
        return _fail(out, exc.code, exc.message, exc.exit_status)
    except KeyboardInterrupt:
        if out.emitted:  # the result was given already: nothing was cut short
            return 0
        return _fail(out, "interrupted", "Stopped.", 130)
    except BrokenPipeError:  # the reader went away (`| head`): nothing left to tell
        _silence_stdout()
        return 0
    except OutputLost as exc:
        return _output_lost(str(exc))
    except Exception as exc:  # the till never shows a stack trace
        if os.environ.get("POS_LOYALTY_DEBUG"):
            raise
        return _fail(out, "internal", f"Something went wrong: {type(exc).__name__}: {exc}", 1)


# Options that may be given more than once: basket lines, and --config and --json, which may
# stand before and after the command (the one after it wins).
_REPEATABLE = {"--line", "--config", "--json"}


def _refuse_repeats(argv: Sequence[str]) -> None:
    """An option given twice is a mistake to point out, not a choice to make silently
    (argparse would keep the last: the wrong phone, the wrong role)."""
    seen: set[str] = set()
    for token in argv:
        if token == "--":
            break
        name = token.split("=", 1)[0]
        if not name.startswith("--") or name in _REPEATABLE:
            continue
        if name in seen:
            raise BadInput(f"{name} is given more than once; give it once.")
        seen.add(name)


def _fail(out: Output, code: str, message: str, status: int) -> int:
    message = one_line(message)  # also an unforeseen exception's text
    if out.as_json:
        return _written(
            lambda: print(json.dumps({"error": {"code": code, "message": message}})), status
        )
    return _written(lambda: print(f"pos-loyalty: {message}", file=sys.stderr), status)


def _finish(status: int) -> int:
    """Flush what is buffered now, where a failure can still be told in one sentence."""
    return _written(sys.stdout.flush, status)


def _written(write: Callable[[], object], status: int) -> int:
    """``status`` once ``write`` worked; a reader gone away (``| head``) is no failure, a full
    disk or a closed terminal is one sentence on stderr and exit 1."""
    try:
        write()
    except BrokenPipeError:
        _silence_stdout()
    except OSError as exc:
        return _output_lost(exc.strerror or str(exc))
    return status


def _output_lost(reason: str) -> int:
    _silence_stdout()
    with contextlib.suppress(OSError):
        print(
            f"pos-loyalty: the command ran, but its result could not be written to stdout "
            f"({reason}).",
            file=sys.stderr,
        )
    return 1


def _silence_stdout() -> None:
    """Point stdout at /dev/null, so nothing buffered fails again when Python exits."""
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


if __name__ == "__main__":
    sys.exit(main())
