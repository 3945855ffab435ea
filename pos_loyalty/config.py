"""The till's configuration: one TOML file, validated at start.

A bad file gives one sentence naming the file, the key and what is wrong. The file is chosen
by ``--config PATH``, else ``$POS_LOYALTY_CONFIG``, else ``./pos-loyalty.toml``.
"""

from __future__ import annotations

import itertools
import math
import os
import re
import tomllib
from pathlib import Path
from typing import Any, Literal

import msgspec

from .errors import BadAmount, ConfigError
from .money import check_point_value, is_currency, parse_amount
from .rules.points import MAX_POINTS
from .rules.program import Program

ENV_VAR = "POS_LOYALTY_CONFIG"
DEFAULT_NAME = "pos-loyalty.toml"
EXAMPLE = Path(__file__).with_name("config.example.toml")
ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$"  # a store's, terminal's or staff id
ID_RULE = "use 1-32 letters, digits, dot, dash or underscore"
_ID = re.compile(ID_PATTERN)


class _Section(msgspec.Struct, frozen=True, forbid_unknown_fields=True, kw_only=True):
    pass


class Store(_Section, frozen=True):
    id: str
    name: str
    currency: str
    phone_region: str
    timezone: str = "UTC"
    locale: str = "en_US"
    address: str = ""


class Terminal(_Section, frozen=True):
    id: str


class Database(_Section, frozen=True):
    path: str = "till.db"


class HQ(_Section, frozen=True):
    url: str = ""
    token_file: str = ""
    verify_tls: bool = True
    ca_file: str = ""  # a CA bundle (PEM) to trust for HQ's certificate, beside the system's
    timeout_seconds: float = 5.0
    directory: Literal["all", "store"] = "all"


class Printer(_Section, frozen=True):
    transport: Literal["none", "network", "usb", "serial", "file"] = "none"
    profile: str = "TM-T20II"
    host: str = "127.0.0.1"
    port: int = 9100
    device: str = ""
    baudrate: int = 9600
    usb_vendor: int = 0
    usb_product: int = 0
    timeout_seconds: float = 5.0


class Scanner(_Section, frozen=True):
    transport: Literal["none", "serial", "keyboard"] = "keyboard"
    port: str = ""
    baudrate: int = 9600
    aim: Literal["off", "optional", "required"] = "optional"
    symbologies: tuple[str, ...] = ()
    duplicate_window_seconds: float = 1.5


class UI(_Section, frozen=True):
    idle_lock_seconds: float = 120.0  # the screen locks after this long untouched (0: never)
    wedge_gap_ms: float = 35.0  # keys closer than this, ending in Enter, are a wedge scanner's


class Config(_Section, frozen=True):
    store: Store
    terminal: Terminal
    database: Database = Database()
    program: Program = Program()
    hq: HQ = HQ()
    printer: Printer = Printer()
    scanner: Scanner = Scanner()
    ui: UI = UI()


class LoadedConfig(msgspec.Struct, frozen=True):
    """A validated config and where it came from (relative paths resolve against it)."""

    config: Config
    path: Path

    @property
    def database_path(self) -> Path:
        return (self.path.parent / self.config.database.path).resolve()


def config_path(explicit: str | None) -> Path:
    return Path(explicit or os.environ.get(ENV_VAR) or DEFAULT_NAME)


def load(explicit: str | None = None) -> LoadedConfig:
    path = config_path(explicit)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(
            f"No config file at {path}: pass --config PATH, set {ENV_VAR}, "
            "or run `pos-loyalty init` to create one."
        ) from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot be read ({exc.strerror}).") from None
    return LoadedConfig(parse(raw, str(path)), path)


def parse(raw: bytes, name: str) -> Config:
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"{name}: is not UTF-8 text.") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{name}: is not valid TOML ({exc}).") from None
    try:
        config = msgspec.convert(data, Config)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"{name}: {_describe(str(exc))}") from None
    problem = next(validate(config), None)
    if problem:
        key, message = problem
        raise ConfigError(f"{name}: {key}: {message}.")
    return config


def _describe(message: str) -> str:
    """msgspec's "Expected `int`, got `str` - at `$.a.b`" as "a.b: expected int, got str"."""
    text, _, where = message.partition(" - at ")
    key = where.strip("`").removeprefix("$").lstrip(".")
    unknown = re.match(r"Object contains unknown field `(.+)`", text)
    if unknown:
        return f"{_join(key, unknown.group(1))}: unknown key."
    missing = re.match(r"Object missing required field `(.+)`", text)
    if missing:
        return f"{_join(key, missing.group(1))}: missing (it is required)."
    text = text.replace("`", "")
    choices = _CHOICES.get(re.sub(r"\[\d+\]", "[]", key))
    if choices and text.startswith("Invalid enum value"):
        text += f"; use one of: {choices}"
    return f"{key}: {text[0].lower()}{text[1:]}." if key else f"{text}."


# Keys whose values come from a fixed list, to name the choices when a value is not one.
_CHOICES = {
    "program.rounding": "floor, half_up, ceil",
    "hq.directory": "all, store",
    "program.rewards[].kind": "free_item, fixed_discount, percent_discount",
    "program.promotions[].weekdays[]": "mon, tue, wed, thu, fri, sat, sun",
    "printer.transport": "none, network, usb, serial, file",
    "scanner.transport": "none, serial, keyboard",
    "scanner.aim": "off, optional, required",
}


def _join(prefix: str, key: str) -> str:
    return f"{prefix}.{key}" if prefix else key


def validate(config: Config) -> Any:
    """Yield (key, problem) for every rule a type alone cannot express."""
    store, program = config.store, config.program
    yield from _check_text(msgspec.to_builtins(config), "")
    for key, value in (("store.id", store.id), ("terminal.id", config.terminal.id)):
        if not _ID.match(value):
            yield key, ID_RULE
    if not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", store.locale):
        yield "store.locale", f"“{store.locale[:20]}” is not a locale like nl_NL or en_US"
    if not is_currency(store.currency):
        yield "store.currency", f"“{store.currency}” is not an ISO 4217 code like EUR"
    yield from _check_region(store.phone_region)
    yield from _check_timezone(store.timezone)
    yield from check_program(program, store.currency)
    if not config.database.path.strip():
        yield "database.path", "give the journal's file name, e.g. till.db"
    if config.hq.url and not re.match(r"^https?://[^\s/]+", config.hq.url):
        yield "hq.url", f"“{config.hq.url}” is not an http(s) address like https://hq.example.com"
    yield from _check_printer(config.printer)
    if not 0 < config.hq.timeout_seconds <= 120:
        yield "hq.timeout_seconds", "must be between 0 and 120"
    scanner = config.scanner
    if scanner.transport == "serial" and not scanner.port:
        yield "scanner.port", "a serial scanner needs its device path or pyserial URL"
    if not 0 <= scanner.duplicate_window_seconds <= 60:
        yield "scanner.duplicate_window_seconds", "must be between 0 and 60"
    for i, aim in enumerate(scanner.symbologies):
        if not re.fullmatch(r"\][A-Za-z][0-9A-Za-z]", aim):
            yield f"scanner.symbologies[{i}]", f"“{aim}” is not an AIM identifier like ]Q1"
    if not 0 <= config.ui.idle_lock_seconds <= 86400:
        yield "ui.idle_lock_seconds", "must be between 0 (never) and 86400"
    if not 5 <= config.ui.wedge_gap_ms <= 200:
        yield "ui.wedge_gap_ms", "must be between 5 and 200"
    if not 0 < config.printer.timeout_seconds <= 120:
        yield "printer.timeout_seconds", "must be between 0 and 120 (0 would block forever)"


# Text a person reads (names on slips and screens) is short; paths and addresses may be long.
_LONG_TEXT = {
    "database.path",
    "hq.url",
    "hq.token_file",
    "hq.ca_file",
    "printer.device",
    "scanner.port",
}
MAX_TEXT = 200


def _check_text(value: Any, key: str) -> Any:
    """Every piece of text in the config: printable (a control character would reach the
    printer as a command, and the terminal), and of a sensible length."""
    if isinstance(value, dict):
        for name, item in value.items():
            yield from _check_text(item, _join(key, str(name)))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from _check_text(item, f"{key}[{i}]")
    elif isinstance(value, str):
        if not value.isprintable():
            yield key, "must not contain control characters (tabs, line breaks, escapes)"
        elif len(value) > (1000 if key in _LONG_TEXT else MAX_TEXT):
            yield key, f"is longer than {1000 if key in _LONG_TEXT else MAX_TEXT} characters"


def _check_printer(printer: Printer) -> Any:
    """What can be checked without the printer; the profile is checked when printing starts."""
    if not 1 <= printer.port <= 65535:
        yield "printer.port", "must be a TCP port between 1 and 65535"
    if printer.transport == "none":
        return
    if printer.transport in ("serial", "file") and not printer.device:
        yield "printer.device", f"a {printer.transport} printer needs its device path"
    if printer.transport == "usb" and not (printer.usb_vendor > 0 and printer.usb_product > 0):
        yield "printer.usb_vendor", "a usb printer needs usb_vendor and usb_product (e.g. 0x04b8)"
    if printer.transport == "network" and not printer.host:
        yield "printer.host", "a network printer needs its host name or address"
    if printer.baudrate not in (1200, 2400, 4800, 9600, 19200, 38400, 57600, 115200):
        yield "printer.baudrate", "must be a serial speed such as 9600, 19200 or 115200"


def _check_region(region: str) -> Any:
    import phonenumbers

    if region not in phonenumbers.SUPPORTED_REGIONS:
        yield "store.phone_region", f"“{region}” is not a region code like NL, US or TR"


def _check_timezone(name: str) -> Any:
    import zoneinfo

    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        yield "store.timezone", f"“{name}” is not a time zone like Europe/Amsterdam"


def check_program(program: Program, currency: str) -> Any:
    p = "program"
    non_negative = (
        "min_redeem_balance",
        "pending_days",
        "offline_redeem_cap",
        "velocity_max_per_day",
        "reversal_manager_limit",
        "earn_manager_limit",
        "lot_expiry_months",
        "inactivity_expiry_months",
        "welcome_bonus",
        "referral_bonus_referrer",
        "referral_bonus_referee",
    )
    for key in non_negative:
        if getattr(program, key) < 0:
            yield f"{p}.{key}", "must not be negative"
    for key, most in _AT_MOST.items():
        if getattr(program, key) > most:
            yield f"{p}.{key}", f"must be at most {most}"
    if not math.isfinite(program.points_per_unit) or not 0 < program.points_per_unit <= 1000:
        yield f"{p}.points_per_unit", "must be a number more than zero and at most 1000"
    if program.tier_window_days <= 0:
        yield f"{p}.tier_window_days", "must be more than zero"
    try:
        check_point_value(program.point_value)
    except BadAmount as exc:
        yield f"{p}.point_value", exc.message[0].lower() + exc.message[1:].rstrip(".")
    if not program.adjust_reasons:
        yield f"{p}.adjust_reasons", "list at least one reason code"
    yield from _unique(f"{p}.adjust_reasons", list(program.adjust_reasons), "reason")
    if program.categories and program.default_category not in program.categories:
        yield (
            f"{p}.default_category",
            (f"“{program.default_category}” is not a category in program.categories"),
        )
    for name, category in program.categories.items():
        if not _sane_multiplier(category.multiplier):
            yield f"{p}.categories.{name}.multiplier", _MULTIPLIER
        if category.excluded and category.multiplier != 1:
            yield (
                f"{p}.categories.{name}.multiplier",
                ("an excluded category earns nothing; leave out its multiplier"),
            )
    yield from _check_tiers(program)
    yield from _check_promotions(program, currency)
    for section, ids in (
        ("rewards", [r.id for r in program.rewards]),
        ("charities", [c.id for c in program.charities]),
        ("memberships", [m.id for m in program.memberships]),
        ("promotions", [x.id for x in program.promotions]),
    ):
        for i, item_id in enumerate(ids):
            if not _ID.match(item_id):
                yield f"{p}.{section}[{i}].id", ID_RULE
    for section, names in (
        ("rewards", [r.name for r in program.rewards]),
        ("charities", [c.name for c in program.charities]),
        ("memberships", [m.name for m in program.memberships]),
        ("promotions", [x.name for x in program.promotions]),
        ("tiers", [t.name for t in program.tiers]),
    ):
        for i, name in enumerate(names):
            if not name.strip():
                yield f"{p}.{section}[{i}].name", "give it a name people can read"
    yield from _unique(f"{p}.rewards", [r.id for r in program.rewards])
    for i, reward in enumerate(program.rewards):
        yield from _check_reward(f"{p}.rewards[{i}]", reward, currency)
    yield from _unique(f"{p}.charities", [c.id for c in program.charities])
    yield from _unique(f"{p}.memberships", [m.id for m in program.memberships])
    for i, plan in enumerate(program.memberships):
        yield from _money(f"{p}.memberships[{i}].fee", plan.fee, currency)
        if plan.months <= 0:
            yield f"{p}.memberships[{i}].months", "must be more than zero"
        if not _sane_multiplier(plan.multiplier):
            yield f"{p}.memberships[{i}].multiplier", _MULTIPLIER
        if plan.months > 600:
            yield f"{p}.memberships[{i}].months", "must be at most 600"


# Ranges beyond which a value is a typo (and date arithmetic would overflow, or points would
# not fit the journal's integers).
_AT_MOST = {
    "min_redeem_balance": MAX_POINTS,
    "offline_redeem_cap": MAX_POINTS,
    "reversal_manager_limit": MAX_POINTS,
    "earn_manager_limit": MAX_POINTS,
    "tier_window_days": 3650,
    "pending_days": 365,
    "lot_expiry_months": 600,
    "inactivity_expiry_months": 600,
    "velocity_max_per_day": 10_000,
    "welcome_bonus": 1_000_000,
    "referral_bonus_referrer": 1_000_000,
    "referral_bonus_referee": 1_000_000,
}
_MULTIPLIER = "must be a number from 0 to 100"


def _sane_multiplier(value: float) -> bool:
    return math.isfinite(value) and 0 <= value <= 100


def _check_tiers(program: Program) -> Any:
    if not program.tiers:
        yield "program.tiers", "list at least one tier"
        return
    if program.tiers[0].threshold != 0:
        yield "program.tiers[0].threshold", "the first tier must start at 0"
    for i, (lower, upper) in enumerate(itertools.pairwise(program.tiers)):
        if upper.threshold <= lower.threshold:
            yield f"program.tiers[{i + 1}].threshold", "tiers must rise in threshold"
    for i, tier in enumerate(program.tiers):
        if not _sane_multiplier(tier.multiplier):
            yield f"program.tiers[{i}].multiplier", _MULTIPLIER
        if tier.threshold > MAX_POINTS:
            yield f"program.tiers[{i}].threshold", f"must be at most {MAX_POINTS}"
    yield from _unique("program.tiers", [t.name for t in program.tiers], "name")


def _check_promotions(program: Program, currency: str) -> Any:
    known = {*program.categories, program.default_category}
    yield from _unique("program.promotions", [x.id for x in program.promotions])
    for i, promo in enumerate(program.promotions):
        key = f"program.promotions[{i}]"
        if promo.starts and promo.ends and promo.ends < promo.starts:
            yield f"{key}.ends", "is before starts"
        if not _sane_multiplier(promo.multiplier):
            yield f"{key}.multiplier", _MULTIPLIER
        if not 0 <= promo.bonus <= 1_000_000:
            yield f"{key}.bonus", "must be between 0 and 1000000"
        for name in promo.categories:
            if name not in known:
                yield f"{key}.categories", f"“{name}” is not a category in program.categories"
        yield from _unique(f"{key}.weekdays", list(promo.weekdays), "weekday")
        yield from _unique(f"{key}.categories", list(promo.categories), "category")
        yield from _money(f"{key}.min_amount", promo.min_amount, currency, allow_zero=True)


def _check_reward(key: str, reward: Any, currency: str) -> Any:
    if not 0 < reward.cost <= MAX_POINTS:
        yield f"{key}.cost", f"must be more than zero and at most {MAX_POINTS}"
    if reward.kind == "free_item" and not reward.item:
        yield f"{key}.item", "a free_item reward names the item the POS should give"
    if reward.kind == "fixed_discount":
        yield from _money(f"{key}.amount", reward.amount, currency)
    if reward.kind == "percent_discount" and not 0 < reward.percent <= 100:
        yield f"{key}.percent", "must be between 1 and 100"


def _money(key: str, text: str, currency: str, *, allow_zero: bool = False) -> Any:
    try:
        parse_amount(text, currency, allow_zero=allow_zero)
    except BadAmount as exc:
        yield key, exc.message[0].lower() + exc.message[1:].rstrip(".")


def _unique(key: str, ids: list[str], field: str = "id") -> Any:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            yield key, f"{field} “{value}” appears twice"
        seen.add(value)
