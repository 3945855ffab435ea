"""The till's side of sync: push the journal's events to HQ, batch by batch, until HQ holds
them all (``pos-loyalty sync --once``).

An event counts as acknowledged only from HQ's reply, never before. Network errors and 5xx
retry with exponential backoff and full jitter, honouring ``Retry-After``; 401 and 403 stop
("terminal credential rejected"); a gap resends from where HQ says; a conflict stops and is
reported. Each write to the journal is a short transaction of its own, so a cashier never
waits on a sync.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import os
import queue
import random
import re
import ssl
import stat
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
import msgspec

from pos_loyalty.clock import iso, utc_now
from pos_loyalty.config import LoadedConfig, check_program
from pos_loyalty.errors import ConfigError, LoyaltyError
from pos_loyalty.journal import EVENT_COLUMNS, Journal, StoredProgram
from pos_loyalty.remote import SaleRef
from pos_loyalty.words import plural

from .logs import mask_phones_in_logs
from .protocol import (
    API,
    Directory,
    ErrorReply,
    EventReply,
    MemberLookup,
    Problem,
    ProgramReply,
    PushReply,
    PushRequest,
    Totals,
    WireEvent,
)

TOKEN_ENV = "POS_LOYALTY_HQ_TOKEN"
BACKOFF_FIRST, BACKOFF_CAP = 0.5, 60.0  # seconds
PULL_GROUP = 2000  # members of HQ's directory applied in one journal transaction
SYNC_CACHE_KIB = 32 * 1024  # the sync connection's page cache: a big pull's indexes fit
_reply = msgspec.json.Decoder(PushReply)
_error = msgspec.json.Decoder(ErrorReply)
_directory = msgspec.json.Decoder(Directory)
_totals = msgspec.json.Decoder(Totals)
_program = msgspec.json.Decoder(ProgramReply)
_event = msgspec.json.Decoder(EventReply)
_lookup = msgspec.json.Decoder(MemberLookup)
T = TypeVar("T")


class SyncStopped(LoyaltyError):
    """Sync cannot go on without a person: a rejected credential, a conflict, a replaced
    journal, or an HQ that answers nonsense."""

    code = "sync_stopped"


class HQUnreachable(LoyaltyError):
    code = "hq_unreachable"


@dataclass(frozen=True)
class PushSummary:
    pushed: int  # events HQ applied in this run
    duplicates: int  # events HQ already held (a retry after a lost reply)
    acked_seq: int
    waiting: int  # events still not at HQ


def backoff(attempt: int, rng: random.Random, retry_after: float | None = None) -> float:
    """Exponential backoff with full jitter; at least what HQ asked for in ``Retry-After``."""
    delay = rng.uniform(0, min(BACKOFF_CAP, BACKOFF_FIRST * 2**attempt))
    return max(delay, retry_after or 0.0)


def read_token(loaded: LoadedConfig) -> str:
    """The terminal's HQ token: from ``$POS_LOYALTY_HQ_TOKEN`` or ``hq.token_file``, which
    only its owner may read. It is never logged or printed."""
    token = os.environ.get(TOKEN_ENV, "").strip()
    if token:
        return _checked_token(token, f"${TOKEN_ENV}")
    name = loaded.config.hq.token_file
    if not name:
        raise ConfigError(f"No HQ token: set hq.token_file in {loaded.path} or ${TOKEN_ENV}.")
    path = (loaded.path.parent / name).resolve()
    try:
        mode = path.stat().st_mode
        if mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise ConfigError(
                f"The HQ token file {path} can be read by others; make it private "
                "(chmod 600) and try again."
            )
        # Bytes that are not text become U+FFFD, which no token holds: refused below.
        token = path.read_bytes().decode("utf-8", "replace").strip()
    except OSError as exc:
        raise ConfigError(f"The HQ token file {path} cannot be read ({exc.strerror}).") from None
    if not token:
        raise ConfigError(f"The HQ token file {path} is empty.")
    return _checked_token(token, f"The HQ token file {path}")


# A bearer token as RFC 6750 writes it; HQ's own are URL-safe base64.
_TOKEN = re.compile(r"[A-Za-z0-9\-._~+/]+=*")


def _checked_token(token: str, source: str) -> str:
    if not _TOKEN.fullmatch(token):
        raise ConfigError(
            f"{source} holds no HQ token: a token is the last line `pos-loyalty hq "
            "add-terminal` printed (letters, digits and -._~+/)."
        )
    return token


class Syncer:
    """Pushes one till's journal to HQ. Opens its own journal connection."""

    def __init__(
        self,
        loaded: LoadedConfig,
        *,
        token: str | None = None,
        batch_size: int = 200,
        clock: Callable[[], dt.datetime] = utc_now,
        sleep: Callable[[float], None] = time.sleep,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        cfg = loaded.config
        if not cfg.hq.url:
            raise ConfigError(f"{loaded.path}: hq.url: no HQ is configured for this till.")
        self.loaded = loaded
        self.batch_size = batch_size
        self.clock = clock
        self.sleep = sleep
        self.rng = random.Random()
        self.token = token if token is not None else read_token(loaded)
        mask_phones_in_logs()  # a lookup's path holds the phone: httpx logs it at INFO
        self.client = httpx.Client(
            base_url=cfg.hq.url.rstrip("/"),
            timeout=httpx.Timeout(cfg.hq.timeout_seconds),
            verify=_tls(loaded),
            headers={"authorization": f"Bearer {self.token}"},
            transport=transport,
        )
        self.journal = Journal.open(
            loaded.database_path, store_id=cfg.store.id, terminal_id=cfg.terminal.id
        )
        self.journal.conn.execute(f"PRAGMA cache_size = -{SYNC_CACHE_KIB}")

    def close(self) -> None:
        self.client.close()
        self.journal.close()

    def __enter__(self) -> Syncer:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def push(
        self,
        *,
        attempts: int | None = 5,
        deadline: float | None = None,
        on_progress: Callable[[int, int, str | None], None] | None = None,
    ) -> PushSummary:
        """Push until HQ holds every event; retry what may pass, stop on what will not:
        after ``attempts`` failures in a row (None: no limit) or at the ``deadline`` (a
        ``time.monotonic()`` instant). After each batch ``on_progress(acked_seq, last_seq, None)``,
        and before each retry the same with why it waits."""
        pushed = duplicates = 0
        failures = 0
        events = self.journal.events
        check = 0  # the seq sent again only to hear what HQ holds
        with ThreadPoolExecutor(1, thread_name_prefix="push") as sender:
            while True:
                acked = events.outbox().acked_seq
                if on_progress:
                    on_progress(acked, events.last_seq(), None)
                batch = self._batch(acked)
                if not batch and acked and not check:
                    # Nothing new: the last event HQ acknowledged goes again, and HQ's reply
                    # says whether it still holds this chain up to it. HQ restored from an
                    # older backup answers with a gap, and the rest is sent again.
                    batch = self._batch(acked - 1)
                    check = acked
                if not batch:
                    return PushSummary(pushed, duplicates, acked, 0)
                try:
                    for reply, more in self._pushes(sender, batch):
                        failures = 0
                        pushed += sum(1 for r in reply.results if r.status == "applied")
                        duplicates += sum(
                            1 for r in reply.results if r.status == "duplicate" and r.seq != check
                        )
                        if any(r.seq == check and r.status == "applied" for r in reply.results):
                            self._hq_restored()  # HQ had lost the last event it acknowledged
                        events.acknowledged(reply.acked_seq, iso(self.clock()))
                        if more and on_progress:
                            on_progress(reply.acked_seq, events.last_seq(), None)
                except _Retry as retry:
                    failures += 1
                    check = 0  # a check HQ did not answer is asked again
                    events.sync_failed(retry.message, iso(self.clock()))
                    left = None if deadline is None else deadline - time.monotonic()
                    if (attempts is not None and failures >= attempts) or (
                        left is not None and left <= 0
                    ):
                        waiting = events.last_seq() - events.outbox().acked_seq
                        verb = "waits" if waiting == 1 else "wait"
                        raise HQUnreachable(
                            f"{retry.message} {plural(waiting, 'event')} {verb} to be sent."
                        ) from None
                    delay = backoff(failures, self.rng, retry.after)
                    if on_progress:
                        acked = events.outbox().acked_seq
                        on_progress(acked, events.last_seq(), f"{retry.message} Trying again.")
                    self.sleep(delay if left is None else min(delay, left))
                except _Gap as gap:
                    # HQ holds less than the till thought (restored from a backup): resend.
                    with self.journal.writing():
                        events.acknowledged(gap.expected - 1, iso(self.clock()))
                        self._hq_restored()
                except SyncStopped as stopped:
                    events.sync_failed(stopped.message, iso(self.clock()))
                    raise

    def _hq_restored(self) -> None:
        """HQ holds less of this till's chain than it acknowledged: it was restored from a
        backup, so its word on every member is taken again, from the start, at the next pull
        (whatever versions the till holds: HQ's may have gone back too)."""
        with self.journal.writing():
            self.journal.members.set_directory_cursor(0)

    def _batch(self, after: int) -> list[WireEvent]:
        """The next batch for HQ: up to ``batch_size`` events after ``after``, as stored."""
        return wire_batch(self.journal, after, self.batch_size)

    def _pushes(
        self, sender: ThreadPoolExecutor, batch: list[WireEvent]
    ) -> Iterator[tuple[PushReply, bool]]:
        """HQ's replies to ``batch`` and to the batches after it, each with whether another
        batch is on its way. One push is in flight at a time, in seq order, but while HQ
        applies one, the till reads the next from its journal and writes the last reply's
        acknowledgement, so neither side waits for the other. Ends at the end of the queue,
        or at a reply that does not take its batch whole."""
        sent = sender.submit(self._post, batch)
        while True:
            following = self._batch(batch[-1].seq)
            reply = self._read(sent.result(), batch)
            if not following or reply.acked_seq != batch[-1].seq:
                yield reply, False
                return
            sent = sender.submit(self._post, following)
            yield reply, True
            batch = following

    def pull(self, *, attempts: int = 5, page: int = 500) -> int:
        """HQ's word on the members that changed since the last pull. A worker fetches the
        pages (no transaction open) while this thread applies what has come, a few pages
        (about ``PULL_GROUP`` members) per short transaction with the cursor, so a pull cut
        short goes on where it stopped and a cashier's write waits at most one such commit.
        Returns how many members' word was taken."""
        members = self.journal.members
        pages: queue.Queue[Directory | Exception] = queue.Queue(maxsize=8)
        stop = threading.Event()
        fetcher = threading.Thread(
            target=self._fetch_pages,
            args=(members.directory_cursor(), page, attempts, pages, stop),
            daemon=True,
        )
        fetcher.start()
        taken = 0
        # From the start (HQ restored, or a till new to HQ), HQ's word is taken whatever
        # version the till holds: HQ's versions may have gone back.
        again = members.directory_cursor() == 0
        try:
            while True:
                group: list[Directory] = []
                failed: Exception | None = None
                while not group or (group[-1].more and _size(group) < PULL_GROUP):
                    try:
                        item = pages.get(block=not group)
                    except queue.Empty:
                        break  # apply what has come while the next page is on its way
                    if item is _RESTORED:
                        again = True
                        continue
                    if isinstance(item, Exception):
                        failed = item
                        break
                    group.append(item)
                if group:
                    taken += self._apply_pages(group, again)
                if failed is not None:
                    if isinstance(failed, HQUnreachable):
                        self.journal.events.sync_failed(failed.message, iso(self.clock()))
                    raise failed
                if not group[-1].more:
                    break
        finally:
            stop.set()
            fetcher.join(5)
        self.fetch_program(attempts=attempts)
        return taken

    def _apply_pages(self, group: list[Directory], again: bool = False) -> int:
        members = self.journal.members
        at = iso(self.clock())
        taken = 0
        with self.journal.writing():
            last = self.journal.events.last_seq()
            for directory in group:
                taken += members.take_words(directory.members, at, last, again=again)
                members.set_directory_cursor(directory.next)
            self.journal.events.heard_from_hq(at)
        return taken

    def _fetch_pages(
        self,
        cursor: int,
        page: int,
        attempts: int,
        into: queue.Queue[Directory | Exception],
        stop: threading.Event,
    ) -> None:
        """The pull's worker: HQ's directory page after page into ``into``, each retried
        with backoff; the failure that ends it goes into the queue too. It touches only the
        network, never the journal (whose connection belongs to the pulling thread)."""
        failures = 0
        while not stop.is_set():
            try:
                directory = self._directory(cursor, page)
            except _Retry as retry:
                failures += 1
                if failures >= attempts:
                    _put(into, HQUnreachable(f"{retry.message} HQ's word was not fetched."), stop)
                    return
                self.sleep(backoff(failures, self.rng, retry.after))
                continue
            except Exception as exc:  # whatever ends the worker ends the pull, in its thread
                _put(into, exc, stop)
                return
            failures = 0
            if directory.next < cursor:
                # HQ's directory went back: HQ was restored from a backup. Its word on every
                # member is taken again from the start, whatever version the till holds.
                _put(into, _RESTORED, stop)
                cursor = 0
                continue
            _put(into, directory, stop)
            if not directory.more:
                return
            cursor = directory.next

    def fetch_program(self, *, attempts: int = 5) -> bool:
        """HQ's loyalty program, kept in the journal when it is not the one held; the till
        uses it from its next start (offline too). True when it changed. A program this
        till cannot use is refused whole, and the one held stays."""
        failures = 0
        while True:
            try:
                reply = self._get("program", {}, _program)
                break
            except _Retry as retry:
                failures += 1
                if failures >= attempts:
                    raise HQUnreachable(f"{retry.message} HQ's program was not fetched.") from None
                self.sleep(backoff(failures, self.rng, retry.after))
        held = self.journal.program.get()
        if held is not None and held.ruleset == reply.ruleset:
            return False
        currency = self.loaded.config.store.currency
        problem = next(check_program(reply.program, currency), None)
        if problem:
            raise SyncStopped(
                f"HQ's program {reply.ruleset} cannot be used here ({problem[0]}: {problem[1]}); "
                "this till keeps the program it has."
            )
        with self.journal.writing():
            self.journal.program.put(StoredProgram(reply.ruleset, iso(self.clock()), reply.program))
        return True

    def totals(self, since: str, until: str, *, attempts: int = 3) -> Totals:
        """The chain's figures for a window (HQ's ``/v1/totals``), for the end-of-day report."""
        failures = 0
        while True:
            try:
                return self._get("totals", {"since": since, "until": until}, _totals)
            except _Retry as retry:
                failures += 1
                if failures >= attempts:
                    raise HQUnreachable(
                        f"{retry.message} The chain's figures are not known."
                    ) from None
                self.sleep(backoff(failures, self.rng, retry.after))

    def _directory(self, cursor: int, page: int) -> Directory:
        scope = self.loaded.config.hq.directory
        return self._get("members", {"since": cursor, "limit": page, "scope": scope}, _directory)

    def find_member(
        self, *, member_id: str | None, phone: str | None, timeout: float
    ) -> MemberLookup | None:
        """A member this till has not seen, asked once within ``timeout`` seconds."""
        where = f"members/{member_id}" if member_id else f"phones/{quote(phone or '', safe='')}"
        try:
            return self._get(where, {}, _lookup, missing_ok=True, timeout=timeout)
        except _Retry as retry:
            raise HQUnreachable(retry.message) from None
        except _Missing:
            return None

    def find_event(self, ref: SaleRef) -> EventReply | None:
        """Another till's event as HQ holds it, asked once: for a cashier waiting on it."""
        where = (
            f"events/{ref.event_id}"
            if ref.event_id
            else f"terminals/{quote(str(ref.terminal_id), safe='')}/events/{ref.seq}"
        )
        try:
            return self._get(where, {}, _event, missing_ok=True)
        except _Retry as retry:
            raise HQUnreachable(retry.message) from None
        except _Missing:
            return None

    def _get(
        self,
        what: str,
        params: dict[str, Any],
        decoder: msgspec.json.Decoder[T],
        *,
        missing_ok: bool = False,
        timeout: float | None = None,
    ) -> T:
        """One GET of HQ's: what may pass on a retry raises _Retry, what will not SyncStopped;
        with ``missing_ok``, a 404 (HQ holds no such thing) raises _Missing."""
        try:
            response = self.client.get(
                f"{API}/{what}",
                params=params,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
        except httpx.HTTPError as exc:
            raise _unreached(exc) from None
        status = response.status_code
        if status in (401, 403):
            raise SyncStopped(
                "Terminal credential rejected by HQ; ask HQ for this terminal's token."
            )
        if status == 429 or status >= 500:
            raise _Retry(f"HQ answered {status}.", _retry_after(response))
        if status == 404 and missing_ok:
            raise _Missing(what)
        if status != 200:
            problem = self._problem(response).message
            raise SyncStopped(f"HQ refused the request for {what} ({status}): {problem}")
        try:
            return decoder.decode(response.content)
        except msgspec.MsgspecError:
            raise SyncStopped(
                f"HQ's answer on {what} makes no sense; none of it was used."
            ) from None

    def _post(self, batch: list[WireEvent]) -> httpx.Response:
        journal = self.journal
        request = PushRequest(
            store_id=journal.store_id,
            terminal_id=journal.terminal_id,
            journal_id=journal.journal_id,
            events=batch,
        )
        try:
            return self.client.post(
                f"{API}/push",
                content=msgspec.json.encode(request),
                headers={"content-type": "application/json"},
            )
        except httpx.HTTPError as exc:
            raise _unreached(exc) from None

    def _read(self, response: httpx.Response, batch: list[WireEvent]) -> PushReply:
        status = response.status_code
        if status in (401, 403):
            raise SyncStopped(
                "Terminal credential rejected by HQ; ask HQ for this terminal's token."
            )
        if status == 429 or status >= 500:
            raise _Retry(f"HQ answered {status}.", _retry_after(response))
        if status == 409:
            problem = self._problem(response)
            if problem.code == "gap" and problem.expected_seq is not None:
                if not 1 <= problem.expected_seq <= batch[-1].seq + 1:
                    raise SyncStopped("HQ asked for events this till does not have.")
                raise _Gap(problem.expected_seq)
            raise SyncStopped(problem.message)
        if status != 200:
            raise SyncStopped(f"HQ refused the push ({status}): {self._problem(response).message}")
        try:
            reply = _reply.decode(response.content)
        except msgspec.MsgspecError:
            raise SyncStopped(
                "HQ's reply to a push makes no sense; nothing was marked as sent."
            ) from None
        if not batch[0].seq - 1 <= reply.acked_seq <= batch[-1].seq:
            raise SyncStopped(
                f"HQ's reply to a push makes no sense (it holds #{reply.acked_seq} of a batch "
                f"#{batch[0].seq}–#{batch[-1].seq}); nothing was marked as sent."
            )
        return reply

    def _problem(self, response: httpx.Response) -> Problem:
        try:
            return _error.decode(response.content).error
        except msgspec.MsgspecError:
            raise SyncStopped(f"HQ refused the request ({response.status_code}).") from None


class _Retry(Exception):
    def __init__(self, message: str, after: float | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.after = after


_RESTORED = object()  # the pull's worker to its applier: HQ's directory went back


class _Missing(Exception):
    """HQ holds no such thing (404, where that is an answer)."""


class _Gap(Exception):
    def __init__(self, expected: int) -> None:
        super().__init__(expected)
        self.expected = expected


def _size(group: list[Directory]) -> int:
    return sum(len(d.members) for d in group)


def _put(into: queue.Queue[Any], item: object, stop: threading.Event) -> None:
    """Hand a page (or the failure) to the pulling thread, unless it stopped listening."""
    while not stop.is_set():
        try:
            into.put(item, timeout=0.1)
            return
        except queue.Full:
            continue


def _unreached(exc: httpx.HTTPError) -> Exception:
    """What a request that got no answer means: retry, except for a certificate this till
    does not trust, which no retry mends."""
    if isinstance(exc, httpx.TimeoutException):
        return _Retry("HQ did not answer in time.")
    if isinstance(exc, httpx.ConnectError) and "CERTIFICATE_VERIFY_FAILED" in str(exc):
        return SyncStopped(
            "HQ's TLS certificate is not trusted by this till; if HQ uses a private CA, "
            "set hq.ca_file to its certificate."
        )
    return _Retry(f"HQ cannot be reached ({_why_unreached(exc)}).")


def _why_unreached(exc: httpx.HTTPError) -> str:
    """A request's failure in the words of someone at the till, not the exception's."""
    text = str(exc).lower()
    if isinstance(exc, httpx.ConnectError):
        if "refused" in text:
            return "nothing answers at its address"
        if "name or service" in text or "nodename" in text or "getaddrinfo" in text:
            return "its address is not known here"
        if "unreachable" in text:
            return "no network route to it"
        return "no connection"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "the connection broke off"
    return "the request failed"


def _tls(loaded: LoadedConfig) -> ssl.SSLContext | bool:
    """TLS as configured: verified by default, against the system's CAs and ``hq.ca_file``."""
    hq = loaded.config.hq
    if not hq.verify_tls:
        return False
    context = ssl.create_default_context()
    if hq.ca_file:
        path = (loaded.path.parent / hq.ca_file).resolve()
        try:
            context.load_verify_locations(cafile=str(path))
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(
                f"{loaded.path}: hq.ca_file: {path} is not a readable CA bundle ({exc})."
            ) from None
    return context


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("retry-after", "")
    return min(float(value), BACKOFF_CAP * 5) if value.isdigit() else None


def wire_batch(journal: Journal, after: int, limit: int) -> list[WireEvent]:
    """Up to ``limit`` of the journal's events after ``after``, as stored: what a push sends."""
    rows = journal.events.stored_after(after, limit)
    return [WireEvent(**dict(zip(EVENT_COLUMNS, row, strict=True))) for row in rows]


__all__ = ["HQUnreachable", "PushSummary", "SyncStopped", "Syncer", "read_token"]


class AlreadySyncing(LoyaltyError):
    code = "already_syncing"
    exit_status = 2


@contextlib.contextmanager
def sync_lock(loaded: LoadedConfig) -> Iterator[None]:
    """One sync daemon per till: an exclusive lock beside the journal, held while it runs
    (released by the system if the daemon dies). Two would not double-apply anything (HQ
    deduplicates), but they would race for the network and the outbox."""
    path = loaded.database_path.with_name(loaded.database_path.name + ".sync-lock")
    fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise AlreadySyncing(
                f"Another sync daemon is running for the till database {loaded.database_path}."
            ) from None
        yield
    finally:
        os.close(fd)


def run_daemon(
    loaded: LoadedConfig,
    *,
    stop: threading.Event,
    token: str | None = None,
    poll: float = 0.2,
    pull_every: float = 30.0,
    on_change: Callable[[str], None] = lambda line: None,
    on_start: Callable[[], None] = lambda: None,
) -> None:
    """Sync until ``stop``: an event reaches HQ within ``poll`` of its commit when HQ is up
    (the journal's ``data_version`` tells when another process committed), HQ's word is
    pulled at least every ``pull_every`` seconds, and failures retry on a timer with
    backoff, never only after the next sale. ``on_start`` is called once this daemon holds
    the till's sync lock, so a second daemon says it is refused before anything else."""

    def wait(seconds: float) -> None:
        stop.wait(seconds)  # a retry's pause ends at once when the daemon is stopped

    with sync_lock(loaded), Syncer(loaded, token=token, sleep=wait) as syncer:
        on_start()
        conn = syncer.journal.conn
        seen = -1
        due = 0.0  # when to try next without a new event
        failures = 0
        state = ""
        while not stop.is_set():
            version = conn.execute("PRAGMA data_version").fetchone()[0]
            now = time.monotonic()
            if version != seen or now >= due:
                seen = version
                try:
                    summary = syncer.push(attempts=1)
                    syncer.pull(attempts=1)
                    failures, due = 0, now + pull_every
                    line = f"online: HQ holds every event up to #{summary.acked_seq}"
                except (HQUnreachable, SyncStopped) as exc:
                    failures += 1
                    due = now + backoff(failures, syncer.rng)
                    line = f"offline: {exc.message}"
                if line != state:
                    state = line
                    on_change(line)
            stop.wait(poll)
