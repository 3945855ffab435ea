"""The command line end to end: real `pos-loyalty` processes on a real till database.

Every test runs the CLI as the host POS or a cashier would, in a subprocess, against a
journal file in a temp folder and a config copied from ``config.example.toml``. The Python
API (``Till``) is used only to set the scene quickly (members, sales, staff) where the
command line is not what is under test.

The config pins the rules the expected numbers are computed from (1 point per whole euro,
rounded down; fresh ×2, bakery ×1.5, tobacco excluded; welcome bonus 50; ...) and removes
the example's weekday promotions ("Double points Tuesday", "Fresh weekend bonus"), so no
result depends on the day the tests run. The one promotion test adds its own promotions.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import math
import os
import re
import shlex
import shutil
import sqlite3
import stat
import subprocess
import sys
import tomllib
import uuid
import zoneinfo
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from pos_loyalty import config as config_mod
from pos_loyalty.members import member_code
from pos_loyalty.service import MemberRef, Till

EXAMPLE = config_mod.EXAMPLE.read_text(encoding="utf-8")

# The rules these tests compute with, written into every test config (see `config_text`).
POINTS_PER_EURO = 1  # rounding "floor": 24.80 EUR → 24 points
WELCOME_BONUS = 50
REFERRER_BONUS = 100
REFEREE_BONUS = 50
OFFLINE_CAP = 500
REVERSAL_LIMIT = 200
PROGRAM = {
    "points_per_unit": str(POINTS_PER_EURO),
    "rounding": '"floor"',
    "point_value": '"0.01"',
    "min_redeem_balance": "0",
    "pending_days": "0",
    "offline_redeem_cap": str(OFFLINE_CAP),
    "velocity_max_per_day": "10",
    "reversal_manager_limit": str(REVERSAL_LIMIT),
    "welcome_bonus": str(WELCOME_BONUS),
    "referral_bonus_referrer": str(REFERRER_BONUS),
    "referral_bonus_referee": str(REFEREE_BONUS),
    "default_category": '"general"',
}
CATEGORIES = {
    "general": "{}",
    "fresh": "{ multiplier = 2 }",
    "bakery": "{ multiplier = 1.5 }",
    "tobacco": "{ excluded = true }",
}

MANAGER_PIN = "2468"
CASHIER_PIN = "1357"
ANNA = "0612345678"  # +31612345678
BOB = "0687654321"  # +31687654321
STRANGER = "0622223333"  # a valid number that is nobody's
# A well-formed member code (check character right) of a member this till has never seen.
UNSEEN_ID = "ABCDEFGH0Z234567"
UNSEEN_CODE = member_code(UNSEEN_ID)

MEMBER_FIELDS = {"member_id", "code", "phone", "name", "tier", "balance", "confirmed", "pending"}
EVENT_FIELDS = {"event_id", "seq", "kind", "points", "balance", "lines"}


# -- the config ------------------------------------------------------------------------------


def set_key(text: str, section: str, key: str, value: str) -> str:
    """``key = value`` in ``[section]`` of a config's text; the key must already be there."""
    lines = text.splitlines(keepends=True)
    current = None
    for i, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith("["):
            current = stripped
            continue
        if current == f"[{section}]" and re.match(rf"{re.escape(key)}\s*=", stripped):
            lines[i] = f"{key} = {value}\n"
            return "".join(lines)
    raise AssertionError(f"the example config has no {section}.{key}")


def replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"expected {old!r} once in the config"
    return text.replace(old, new)


def without_promotions(text: str) -> str:
    kept, skipping = [], False
    for line in text.splitlines(keepends=True):
        if line.strip().startswith("["):
            skipping = line.strip() == "[[program.promotions]]"
        if not skipping:
            kept.append(line)
    return "".join(kept)


def config_text(**program: str) -> str:
    """The example config, promotions removed, with the rules above (and ``program``) pinned."""
    text = without_promotions(EXAMPLE)
    for key, value in {**PROGRAM, **program}.items():
        text = set_key(text, "program", key, value)
    for name, value in CATEGORIES.items():
        text = set_key(text, "program.categories", name, value)
    parsed = tomllib.loads(text)
    assert not parsed["program"].get("promotions"), "promotions would make results day-dependent"
    return text


# -- running the command line ----------------------------------------------------------------


@dataclass
class Run:
    args: list[str]
    returncode: int
    stdout: str
    stderr: str

    def __str__(self) -> str:
        return (
            f"pos-loyalty {shlex.join(self.args)} → exit {self.returncode}\n"
            f"stdout: {self.stdout!r}\nstderr: {self.stderr!r}"
        )

    def json(self) -> dict[str, Any]:
        """The one JSON object the host-POS contract promises on stdout."""
        assert self.stdout.count("\n") == 1 and self.stdout.endswith("\n"), str(self)
        data = json.loads(self.stdout)
        assert isinstance(data, dict), str(self)
        return data


CLI = [sys.executable, "-m", "pos_loyalty.cli"]


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("POS_LOYALTY_")}
    env.pop("PYTHONIOENCODING", None)
    env.update(extra)
    return env


def run_cli(
    command: str,
    *,
    cwd: Path,
    env: dict[str, str] | None = None,
    program: list[str] | None = None,
    encoding: str = "utf-8",
) -> Run:
    """Run ``pos-loyalty COMMAND`` (split like a shell would) in a fresh process."""
    args = shlex.split(command)
    proc = subprocess.run(
        [*(program or CLI), *args],
        cwd=cwd,
        env=env if env is not None else clean_env(),
        capture_output=True,
        timeout=60,
    )
    return Run(
        args, proc.returncode, proc.stdout.decode(encoding), proc.stderr.decode(encoding, "replace")
    )


def one_sentence(message: str) -> None:
    assert message and message.strip() == message, repr(message)
    assert "\n" not in message and "Traceback" not in message, repr(message)
    assert not message[0].islower(), f"starts mid-sentence: {message!r}"
    assert message.endswith("."), f"not a sentence: {message!r}"
    assert not re.search(r"[.!?]\s+[A-Z]", message[:-1]), f"more than one sentence: {message!r}"


def done(run: Run) -> dict[str, Any]:
    assert run.returncode == 0, str(run)
    assert run.stderr == "", str(run)
    return run.json()


def refused(run: Run, code: str) -> str:
    """Exit 2 and ``{"error": {"code", "message"}}`` with one plain sentence; the message."""
    assert run.returncode == 2, str(run)
    data = run.json()
    assert set(data) == {"error"}, str(run)
    assert set(data["error"]) == {"code", "message"}, str(run)
    assert data["error"]["code"] == code, str(run)
    one_sentence(data["error"]["message"])
    return data["error"]["message"]


def is_points(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_member(member: dict[str, Any]) -> dict[str, Any]:
    assert set(member) >= MEMBER_FIELDS, sorted(member)
    for key in ("balance", "confirmed", "pending"):
        assert is_points(member[key]), (key, member[key])
    assert member["balance"] == member["confirmed"] + member["pending"]
    return member


def check_event(result: dict[str, Any], kind: str) -> dict[str, Any]:
    assert set(result) >= EVENT_FIELDS, sorted(result)
    uuid.UUID(result["event_id"])
    assert is_points(result["seq"]) and result["seq"] >= 1
    assert result["kind"] == kind
    assert is_points(result["points"]) and is_points(result["balance"])
    assert all(isinstance(line, str) for line in result["lines"])
    check_member(result["member"])
    assert result["balance"] == result["member"]["balance"]
    return result


def euros(amount: str) -> int:
    """Points for a sale at the pinned rate: whole euros × POINTS_PER_EURO, rounded down."""
    return math.floor(Decimal(amount) * POINTS_PER_EURO)


def half_up(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))


def grouped(code: str) -> str:
    """A member code as printed for people: M1-XXXX-XXXX-XXXX-XXXX-C."""
    body = code[2:-1]
    return "-".join([code[:2], *(body[i : i + 4] for i in range(0, 16, 4)), code[-1]])


# -- a till in a temp folder -----------------------------------------------------------------


@dataclass
class Shop:
    """One till: its folder, config file and journal, driven through the real CLI."""

    root: Path
    config: Path

    @property
    def db(self) -> Path:
        return config_mod.load(str(self.config)).database_path

    @property
    def rules(self) -> dict[str, Any]:
        return tomllib.loads(self.config.read_text(encoding="utf-8"))["program"]

    def reward(self, reward_id: str) -> dict[str, Any]:
        return next(r for r in self.rules["rewards"] if r["id"] == reward_id)

    def cli(self, command: str, *, manager_pin: str | None = None, **env: str) -> Run:
        """``pos-loyalty COMMAND --config FILE --json``, as the host POS calls it."""
        if manager_pin:
            env["POS_LOYALTY_MANAGER_PIN"] = manager_pin
        full = f"{command} --config {shlex.quote(str(self.config))} --json"
        return run_cli(full, cwd=self.root, env=clean_env(**env))

    def text(self, command: str, **env: str) -> Run:
        """``pos-loyalty COMMAND --config FILE``, as a person reads it."""
        full = f"{command} --config {shlex.quote(str(self.config))}"
        return run_cli(full, cwd=self.root, env=clean_env(**env))

    def till(self) -> Till:
        return Till.open(config_mod.load(str(self.config)))

    def enrol(self, phone: str, name: str | None = None, **kw: Any) -> dict[str, Any]:
        with self.till() as till:
            return till.enroll(phone, name=name, **kw).member.to_json()

    def earn(self, phone: str, amount_cents: int) -> dict[str, Any]:
        with self.till() as till:
            return till.earn(MemberRef(phone=phone), amount=amount_cents).to_json()

    def add_staff(self, staff_id: str = "M1", role: str = "manager", pin: str = MANAGER_PIN):
        with self.till() as till:
            has_manager = till.journal.staff.count(role="manager") > 0
            boss = till.sign_in("M1", MANAGER_PIN) if has_manager else None
            till.add_staff(staff_id, name=staff_id, role=role, pin=pin, approval=boss)

    def last_seq(self) -> int:
        return done(self.cli("queue"))["last_seq"]

    def snapshot(self) -> dict[str, Any]:
        """Every row of every table and the schema version: what "nothing written" compares."""
        conn = sqlite3.connect(self.db)
        try:
            names = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name"
            state: dict[str, Any] = {
                t: sorted(conn.execute(f'SELECT * FROM "{t}"').fetchall(), key=repr)
                for (t,) in conn.execute(names).fetchall()
            }
            state["user_version"] = conn.execute("PRAGMA user_version").fetchone()[0]
        finally:
            conn.close()
        return state

    @contextlib.contextmanager
    def writes_nothing(self) -> Iterator[None]:
        before = self.snapshot()
        yield
        assert self.snapshot() == before, "a refused command changed the till database"


@pytest.fixture
def new_shop(tmp_path: Path) -> Callable[..., Shop]:
    count = iter(range(1, 100))

    def make(text: str | None = None, **program: str) -> Shop:
        root = tmp_path / f"till{next(count)}"
        root.mkdir()
        config = root / "pos-loyalty.toml"
        config.write_text(text if text is not None else config_text(**program), encoding="utf-8")
        with Till.open(config_mod.load(str(config)), create=True):
            pass  # creates the journal, as `pos-loyalty init` does
        return Shop(root, config)

    return make


@pytest.fixture
def shop(new_shop: Callable[..., Shop]) -> Shop:
    return new_shop()


@pytest.fixture
def anna(shop: Shop) -> dict[str, Any]:
    """Anna, enrolled by phone; her balance is the welcome bonus."""
    return shop.enrol(ANNA, name="Anna de Vries", consent=True)


# -- setting up --------------------------------------------------------------------------------


def test_init_creates_the_config_and_a_private_database(tmp_path: Path):
    config = tmp_path / "store" / "pos-loyalty.toml"
    data = done(run_cli(f"init --config {config} --json", cwd=tmp_path))
    db = tmp_path / "store" / "till.db"
    assert data == {"config": str(config), "database": str(db), "created_config": True}
    assert config.read_text(encoding="utf-8") == EXAMPLE
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    for path in db.parent.glob("till.db*"):
        assert stat.S_IMODE(path.stat().st_mode) & 0o077 == 0, f"{path.name} is readable by others"

    # A second init keeps the manager's edits and the journal.
    config.write_text(config.read_text(encoding="utf-8") + "\n# edited by the manager\n")
    again = run_cli(f"init --config {config}", cwd=tmp_path)
    assert again.returncode == 0, str(again)
    assert again.stdout == f"Using config {config}\nTill database ready at {db}\n"
    assert config.read_text(encoding="utf-8").endswith("# edited by the manager\n")


def test_config_is_found_by_environment_variable_and_flag(shop: Shop, anna: dict[str, Any]):
    env = clean_env(POS_LOYALTY_CONFIG=str(shop.config))
    by_env = run_cli(f"lookup --phone {ANNA} --json", cwd=shop.root.parent, env=env)
    assert done(by_env)["member_id"] == anna["member_id"]
    # --config wins over the environment.
    env = clean_env(POS_LOYALTY_CONFIG=str(shop.root / "missing.toml"))
    by_flag = run_cli(
        f"lookup --phone {ANNA} --config {shop.config} --json", cwd=shop.root, env=env
    )
    assert done(by_flag)["member_id"] == anna["member_id"]


def test_staff_added_on_the_command_line_can_approve(shop: Shop, anna: dict[str, Any]):
    added = shop.cli("staff add M1 --role manager --name Maria", POS_LOYALTY_PIN=MANAGER_PIN)
    assert done(added) == {"staff_id": "M1", "role": "manager"}
    adjust = f"adjust --phone {ANNA} --points 25 --reason goodwill --manager M1"
    assert done(shop.cli(adjust, manager_pin=MANAGER_PIN))["approved_by"] == "M1"


def test_staff_pin_must_be_four_to_twelve_digits(shop: Shop):
    with shop.writes_nothing():
        message = refused(shop.cli("staff add C7", POS_LOYALTY_PIN="12"), "bad_input")
    assert message == "A PIN is 4 to 12 digits."


# -- enrolling and finding members -------------------------------------------------------------


def test_enroll_prints_welcome_slip_text_with_member_code(shop: Shop):
    script = shutil.which("pos-loyalty", path=str(Path(sys.executable).parent))
    assert script, "the pos-loyalty console script is not installed next to this Python"
    command = (
        f"enroll --phone '06 12 34 56 78' --name 'Anna de Vries' --consent --config {shop.config}"
    )
    run = run_cli(command, cwd=shop.root, program=[script])
    assert run.returncode == 0 and run.stderr == "", str(run)
    assert "Welcome, Anna de Vries! Member code M1-" in run.stdout
    assert f"Welcome bonus = +{WELCOME_BONUS}" in run.stdout
    balance = f"Balance {WELCOME_BONUS} points (confirmed 0, not yet synced +{WELCOME_BONUS})"
    assert balance in run.stdout
    assert "+31612345678" not in run.stdout, "the whole phone number is printed"


def test_enroll_json_gives_the_member_and_the_welcome_bonus(shop: Shop):
    run = shop.cli(f"enroll --phone {ANNA} --name 'Anna de Vries'")
    result = check_event(done(run), "enroll")
    member = result["member"]
    assert member["phone"] == "+31612345678"  # stored as E.164
    assert member["name"] == "Anna de Vries"
    assert re.fullmatch(r"M1[0-9A-HJKMNP-TV-Z]{17}", member["code"])
    assert (result["points"], result["balance"]) == (WELCOME_BONUS, WELCOME_BONUS)
    assert (member["confirmed"], member["pending"]) == (0, WELCOME_BONUS)  # nothing synced yet
    assert member["tier"] == "Bronze"
    assert result["lines"][-1] == f"Welcome bonus = +{WELCOME_BONUS}"
    assert [e["kind"] for e in result["also"]] == ["welcome_bonus"]


def test_enroll_twice_is_refused_already_a_member(shop: Shop, anna: dict[str, Any]):
    with shop.writes_nothing():
        run = shop.cli("enroll --phone '+31 6 12345678' --name Other")
        message = refused(run, "already_member")
    assert message.startswith("Already a member:")
    assert message.endswith(f"678, code {grouped(anna['code'])}.")
    assert "+31612345678" not in message, "the whole phone number is shown"


def test_member_found_by_phone_in_several_local_formats(shop: Shop, anna: dict[str, Any]):
    for phone in (
        "06 1234 5678",
        "06-12 34 56 78",
        "+31 6 1234 5678",
        "0031612345678",
        "(06) 12345678",
    ):
        member = check_member(done(shop.cli(f"lookup --phone '{phone}'")))
        assert member["member_id"] == anna["member_id"], phone


def test_member_found_by_code_plain_grouped_lowercase_or_member_id(
    shop: Shop, anna: dict[str, Any]
):
    code = anna["code"]
    for ref in (
        f"--code {code}",
        f"--code {grouped(code)}",
        f"--code {grouped(code).lower()}",
        f"--code '{grouped(code).replace('-', ' ')}'",
        f"--member {anna['member_id']}",
        f"--member {anna['member_id'].lower()}",
    ):
        member = check_member(done(shop.cli(f"lookup {ref}")))
        assert (member["member_id"], member["code"]) == (anna["member_id"], code), ref


def test_lookup_shows_balance_tier_progress_and_affordable_rewards(
    shop: Shop, anna: dict[str, Any]
):
    shop.earn(ANNA, 20000)  # 200.00 EUR → 200 points
    balance = WELCOME_BONUS + euros("200.00")
    silver = shop.rules["tiers"][1]
    to_silver = silver["threshold"] - euros("200.00")  # the welcome bonus does not qualify
    member = done(shop.cli(f"lookup --phone {ANNA}"))
    assert (member["balance"], member["tier"], member["next_tier"]) == (balance, "Bronze", "Silver")
    assert (member["to_next_tier"], member["tier_progress"]) == (
        to_silver,
        f"{to_silver} points to Silver",
    )
    affordable = [r["id"] for r in shop.rules["rewards"] if r["cost"] <= balance]
    assert member["affordable_rewards"] == affordable

    run = shop.text(f"lookup --phone {ANNA}")
    assert run.returncode == 0, str(run)
    assert f"Balance {balance} points (confirmed 0, not yet synced +{balance})" in run.stdout
    assert f"{to_silver} points to Silver" in run.stdout


# -- earning ----------------------------------------------------------------------------------


def test_earn_by_scanned_code_prints_explanations_and_new_balance(shop: Shop, anna: dict[str, Any]):
    shop.add_staff("M1", "manager", MANAGER_PIN)
    shop.add_staff("C7", "cashier", CASHIER_PIN)
    run = shop.text(
        f"earn --code {anna['code']} --amount 24.80 --cashier C7", POS_LOYALTY_PIN=CASHIER_PIN
    )
    points = euros("24.80")  # 24.80 EUR × 1 pt, rounded down = 24
    assert run.returncode == 0 and run.stderr == "", str(run)
    lines = run.stdout.splitlines()
    assert lines[0].endswith(" earn")
    assert lines[1:] == [
        f"  24.80 EUR × 1 pt = {points}",
        f"Balance: {WELCOME_BONUS + points} points",
    ]


def test_earn_json_gives_the_event_and_the_member(shop: Shop, anna: dict[str, Any]):
    before = shop.last_seq()
    result = check_event(done(shop.cli(f"earn --phone {ANNA} --amount 24,80")), "earn")
    assert result["seq"] == before + 1
    assert (result["amount"], result["currency"]) == (2480, "EUR")  # money in minor units
    assert result["points"] == euros("24.80") == 24
    assert result["balance"] == WELCOME_BONUS + 24
    assert result["lines"] == ["24.80 EUR × 1 pt = 24"]
    assert result["member"]["member_id"] == anna["member_id"]


def test_earn_by_basket_lines_applies_category_multipliers_and_exclusions(
    shop: Shop, anna: dict[str, Any]
):
    basket = "--amount 62.40 --line fresh=18.50 --line tobacco=11.00 --line bakery=3.00"
    result = check_event(done(shop.cli(f"earn --phone {ANNA} {basket}")), "earn")
    # Tobacco is excluded: 62.40 - 11.00 = 51.40 EUR earns, rounded down 51.
    base = euros("51.40")
    fresh_bonus = math.floor(Decimal("18.50") * POINTS_PER_EURO * (2 - 1))  # fresh ×2 → +18
    bakery_bonus = math.floor(Decimal("3.00") * POINTS_PER_EURO * Decimal("0.5"))  # ×1.5 → +1
    assert result["lines"] == [
        f"51.40 EUR × 1 pt = {base}",
        "tobacco 11.00 EUR: no points",
        f"bakery ×1.5 = +{bakery_bonus}",
        f"fresh ×2 = +{fresh_bonus}",
    ]
    assert result["points"] == base + fresh_bonus + bakery_bonus == 70
    assert result["amount"] == 6240


def test_earn_by_lines_alone_sums_them(shop: Shop, anna: dict[str, Any]):
    result = done(shop.cli(f"earn --phone {ANNA} --line general=5.99 --line general=4.01"))
    assert (result["amount"], result["points"]) == (1000, euros("10.00"))


def test_earn_for_a_phone_not_yet_enrolled_is_kept_for_that_phone(shop: Shop):
    """Offline, a phone the till has never seen still earns; enrolling later keeps the points."""
    earned = check_event(done(shop.cli(f"earn --phone {STRANGER} --amount 12.40")), "earn")
    assert earned["member"]["member_id"] is None and earned["member"]["known"] is False
    assert earned["member"]["phone"] == "+31622223333"
    assert earned["balance"] == euros("12.40")
    enrolled = done(shop.cli(f"enroll --phone {STRANGER}"))
    assert enrolled["balance"] == euros("12.40") + WELCOME_BONUS


def test_promotions_apply_on_their_weekdays_only(new_shop: Callable[..., Shop]):
    zone = zoneinfo.ZoneInfo(tomllib.loads(EXAMPLE)["store"]["timezone"])
    days = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
    other_day = days[(dt.datetime.now(zone).weekday() + 3) % 7]  # neither today nor tomorrow
    promotions = f"""
[[program.promotions]]
id = "double-daily"
name = "Double points every day"
multiplier = 2
weekdays = []

[[program.promotions]]
id = "not-today"
name = "Triple points on {other_day}"
multiplier = 3
weekdays = ["{other_day}"]
"""
    shop = new_shop(config_text() + promotions)
    shop.enrol(ANNA)
    result = done(shop.cli(f"earn --phone {ANNA} --amount 24.80"))
    base = euros("24.80")
    assert result["lines"] == [f"24.80 EUR × 1 pt = {base}", f"Double points every day = +{base}"]
    assert result["points"] == 2 * base


def test_tier_multiplier_applies_once_the_member_reaches_silver(shop: Shop, anna: dict[str, Any]):
    silver = shop.rules["tiers"][1]
    assert (silver["name"], silver["threshold"], silver["multiplier"]) == ("Silver", 500, 1.25)
    shop.earn(ANNA, silver["threshold"] * 100)  # 500.00 EUR → 500 qualifying points
    result = done(shop.cli(f"earn --phone {ANNA} --amount 40.00"))
    bonus = math.floor(euros("40.00") * Decimal("0.25"))  # Silver ×1.25 on 40 → +10
    assert result["lines"] == ["40.00 EUR × 1 pt = 40", f"Silver ×1.25 = +{bonus}"]
    assert result["points"] == 50
    assert result["member"]["tier"] == "Silver"


def test_membership_purchase_then_its_multiplier_on_the_next_earn(shop: Shop, anna: dict[str, Any]):
    plan = shop.rules["memberships"][0]
    assert (plan["id"], plan["fee"], plan["multiplier"], plan["months"]) == ("plus", "49.00", 2, 12)
    bought = check_event(done(shop.cli(f"membership --phone {ANNA} --plan plus")), "membership")
    assert (bought["points"], bought["amount"], bought["currency"]) == (0, 4900, "EUR")
    assert bought["membership"] == {"id": "plus", "name": plan["name"]}
    assert bought["member"]["membership"] == "plus"
    next_year = dt.datetime.now(dt.UTC).year + 1
    assert bought["member"]["membership_until"].startswith(str(next_year))
    assert set(plan["perks"]) <= set(bought["member"]["perks"])

    result = done(shop.cli(f"earn --phone {ANNA} --amount 24.80"))
    base = euros("24.80")
    assert result["lines"] == [f"24.80 EUR × 1 pt = {base}", f"{plan['name']} ×2 = +{base}"]
    assert result["points"] == 2 * base == 48


def test_membership_plan_must_exist(shop: Shop, anna: dict[str, Any]):
    with shop.writes_nothing():
        message = refused(shop.cli(f"membership --phone {ANNA} --plan gold"), "bad_input")
    assert message == "There is no membership plan “gold”; plans: plus."


def test_referral_bonus_for_the_new_member_and_the_referrer(shop: Shop, anna: dict[str, Any]):
    run = shop.cli(f"enroll --phone {BOB} --name Bob --referrer-code {grouped(anna['code'])}")
    result = done(run)
    bob = result["member"]["member_id"]
    assert result["points"] == result["balance"] == WELCOME_BONUS + REFEREE_BONUS
    assert result["lines"][1:] == [
        f"Welcome bonus = +{WELCOME_BONUS}",
        f"Referral bonus = +{REFEREE_BONUS}",
        f"Bonus for referring a friend = +{REFERRER_BONUS}",
    ]
    assert [(e["kind"], e["member_id"], e["points"]) for e in result["also"]] == [
        ("welcome_bonus", bob, WELCOME_BONUS),
        ("referral_bonus", bob, REFEREE_BONUS),
        ("referral_bonus", anna["member_id"], REFERRER_BONUS),
    ]
    assert done(shop.cli(f"lookup --phone {ANNA}"))["balance"] == WELCOME_BONUS + REFERRER_BONUS
    # Enrolling Bob again, referred again, is refused and pays nobody twice.
    with shop.writes_nothing():
        refused(shop.cli(f"enroll --phone {BOB} --referrer-phone {ANNA}"), "already_member")


def test_referrer_unknown_to_the_till_is_refused_and_nobody_is_enrolled(shop: Shop):
    with shop.writes_nothing():
        run = shop.cli(f"enroll --phone {BOB} --referrer-phone {STRANGER}")
        refused(run, "unknown_member")
    assert done(shop.cli(f"enroll --phone {BOB}"))["balance"] == WELCOME_BONUS


# -- spending ---------------------------------------------------------------------------------


def test_redeem_a_reward_tells_the_pos_what_to_give(shop: Shop, anna: dict[str, Any]):
    shop.earn(ANNA, 20000)
    coffee = shop.reward("coffee")
    run = shop.cli(f"redeem --code {anna['code']} --reward coffee")
    result = check_event(done(run), "redeem")
    assert result["points"] == -coffee["cost"]
    assert result["balance"] == WELCOME_BONUS + 200 - coffee["cost"]
    assert result["lines"] == [f"{coffee['name']} = -{coffee['cost']}"]
    reward = result["reward"]
    assert (reward["id"], reward["kind"], reward["item"]) == ("coffee", "free_item", coffee["item"])


def test_redeem_a_fixed_discount_gives_the_money_off_with_its_currency(
    shop: Shop, anna: dict[str, Any]
):
    shop.earn(ANNA, 50000)
    result = done(shop.cli(f"redeem --phone {ANNA} --reward 5off"))
    assert result["reward"]["kind"] == "fixed_discount"
    assert result["reward"]["amount"] == 500  # 5.00 EUR in cents
    # Money is minor units *with* its currency; the POS must not have to guess it.
    currency = result["reward"].get("currency") or result.get("currency")
    assert currency == "EUR", f"5.00 off is given as {result['reward']['amount']} of no currency"


def test_redeem_points_as_money_off(shop: Shop, anna: dict[str, Any]):
    result = done(shop.cli(f"redeem --phone {ANNA} --points 40"))
    assert (result["points"], result["balance"]) == (-40, WELCOME_BONUS - 40)
    # point_value 0.01 EUR: 40 points are 40 cents off.
    assert (result["reward"]["kind"], result["reward"]["amount"]) == ("points", 40)


def test_redeem_beyond_balance_is_refused_and_writes_nothing(shop: Shop, anna: dict[str, Any]):
    coffee = shop.reward("coffee")
    before = shop.last_seq()
    with shop.writes_nothing():
        run = shop.cli(f"redeem --phone {ANNA} --reward coffee")
        message = refused(run, "insufficient_points")
    assert message == (
        f"Not enough points: {coffee['name']} needs {coffee['cost']}, "
        f"only {WELCOME_BONUS} can be spent now."
    )
    assert shop.last_seq() == before
    assert done(shop.cli("verify"))["ok"] is True


def test_points_held_for_pending_days_cannot_be_spent_yet(new_shop: Callable[..., Shop]):
    shop = new_shop(pending_days="14", welcome_bonus="0")
    shop.enrol(ANNA)
    day = (dt.datetime.now(dt.UTC) + dt.timedelta(days=14)).date().isoformat()
    member = done(shop.cli(f"earn --phone {ANNA} --amount 200.00"))["member"]
    assert (member["balance"], member["spendable"], member["held"]) == (200, 0, 200)
    assert member["held_until"][:10] == day
    with shop.writes_nothing():
        run = shop.cli(f"redeem --phone {ANNA} --reward coffee")
        message = refused(run, "insufficient_points")
    assert message.endswith(f"only 0 can be spent now (200 more become spendable from {day}).")


def test_redeem_beyond_the_offline_cap_needs_a_manager(new_shop: Callable[..., Shop]):
    cap = 200
    shop = new_shop(offline_redeem_cap=str(cap))
    shop.enrol(ANNA)
    shop.earn(ANNA, 60000)
    shop.add_staff("M1", "manager", MANAGER_PIN)
    shop.add_staff("C7", "cashier", CASHIER_PIN)
    cost = shop.reward("coffee")["cost"]
    coffee = f"redeem --phone {ANNA} --reward coffee"
    done(shop.cli(coffee))  # 150 of the 200 points the till may risk before HQ confirms

    with shop.writes_nothing():
        message = refused(shop.cli(coffee), "offline_cap_exceeded")
        assert f"Only {cap - cost} more points" in message and f"(offline cap {cap})" in message
    # A wrong PIN writes no event, but it is counted towards the lock-out.
    before = shop.last_seq()
    refused(shop.cli(f"{coffee} --manager M1", manager_pin="9999"), "not_allowed")
    assert shop.last_seq() == before
    with shop.till() as till:
        assert till.journal.staff.attempts("M1").failed == 1
    with shop.writes_nothing():
        cashier = refused(
            shop.cli(f"{coffee} --manager C7", manager_pin=CASHIER_PIN), "not_allowed"
        )
        assert cashier == "C7 is not a manager."
        no_pin = refused(shop.cli(f"{coffee} --manager M1"), "needs_manager")
        assert "POS_LOYALTY_MANAGER_PIN" in no_pin

    result = done(shop.cli(f"{coffee} --manager M1", manager_pin=MANAGER_PIN))
    assert result["approved_by"] == "M1"
    assert result["balance"] == WELCOME_BONUS + 600 - 2 * cost


def test_donation_of_points_to_a_charity(shop: Shop, anna: dict[str, Any]):
    charity = shop.rules["charities"][0]
    run = shop.cli(f"donate --phone {ANNA} --charity {charity['id']} --points 30")
    result = check_event(done(run), "donate")
    assert (result["points"], result["balance"]) == (-30, WELCOME_BONUS - 30)
    assert result["charity"] == {"id": charity["id"], "name": charity["name"]}
    assert result["lines"] == [f"Donation to {charity['name']} = -30"]
    with shop.writes_nothing():
        refused(shop.cli(f"donate --phone {ANNA} --charity nosuch --points 5"), "bad_input")
        too_much = f"donate --phone {ANNA} --charity {charity['id']} --points 999"
        refused(shop.cli(too_much), "insufficient_points")


def test_velocity_limit_asks_for_a_manager(new_shop: Callable[..., Shop]):
    shop = new_shop(velocity_max_per_day="2")
    shop.enrol(ANNA)
    shop.add_staff()
    sale = f"earn --phone {ANNA} --amount 1.00"
    for _ in range(2):
        done(shop.cli(sale))
    with shop.writes_nothing():
        message = refused(shop.cli(sale), "needs_manager")
    assert "2 loyalty transactions today" in message
    approved = done(shop.cli(f"{sale} --manager M1", manager_pin=MANAGER_PIN))
    assert (approved["flags"], approved["approved_by"]) == (["velocity"], "M1")
    member = done(shop.cli(f"lookup --phone {ANNA}"))
    assert (member["transactions_today"], member["flags"]) == (3, ["velocity"])


# -- adjusting and reversing ------------------------------------------------------------------


def test_adjust_without_a_manager_is_refused(shop: Shop, anna: dict[str, Any]):
    with shop.writes_nothing():
        run = shop.cli(f"adjust --phone {ANNA} --points 25 --reason goodwill")
        message = refused(run, "needs_manager")
    assert message == "Adjusting points needs a manager."


def test_adjust_by_a_manager_with_a_reason_code(shop: Shop, anna: dict[str, Any]):
    shop.add_staff()
    adjust = f"adjust --phone {ANNA} --manager M1"
    with shop.writes_nothing():
        run = shop.cli(f"{adjust} --points 25 --reason because", manager_pin=MANAGER_PIN)
        refused(run, "bad_input")
        run = shop.cli(f"{adjust} --points -999 --reason correction", manager_pin=MANAGER_PIN)
        refused(run, "insufficient_points")
    run = shop.cli(
        f"{adjust} --points 25 --reason goodwill --note 'late bus'", manager_pin=MANAGER_PIN
    )
    result = check_event(done(run), "adjust")
    assert (result["points"], result["balance"]) == (25, WELCOME_BONUS + 25)
    assert (result["reason"], result["approved_by"]) == ("goodwill", "M1")
    assert result["lines"] == ["Adjustment (goodwill) = +25"]


def test_adjust_by_an_absurd_number_of_points_is_refused_as_bad_input(
    shop: Shop, anna: dict[str, Any]
):
    shop.add_staff()
    adjust = f"adjust --phone {ANNA} --manager M1 --points 99999999999999999999 --reason goodwill"
    with shop.writes_nothing():
        refused(shop.cli(adjust, manager_pin=MANAGER_PIN), "bad_input")


def test_refund_of_a_whole_sale_then_again_is_refused(shop: Shop, anna: dict[str, Any]):
    sale = shop.earn(ANNA, 2480)
    shop.add_staff("M1", "manager", MANAGER_PIN)
    shop.add_staff("C7", "cashier", CASHIER_PIN)
    reverse = f"reverse '#{sale['seq']}' --cashier C7"
    result = check_event(done(shop.cli(reverse, POS_LOYALTY_PIN=CASHIER_PIN)), "reverse")
    assert result["points"] == -sale["points"] == -euros("24.80")
    assert result["ref_event_id"] == sale["event_id"]
    assert (result["amount"], result["currency"]) == (2480, "EUR")
    assert result["balance"] == WELCOME_BONUS
    assert result["lines"] == [f"Refund 24.80 EUR of sale #{sale['seq']} = -24"]
    with shop.writes_nothing():
        message = refused(shop.cli(f"reverse {sale['event_id']}"), "already_reversed")
        assert message == "That sale has already been fully refunded."
        refused(shop.cli(f"reverse {sale['seq']} --amount 1.00"), "already_reversed")


def test_partial_refunds_add_up_to_what_the_sale_earned(shop: Shop, anna: dict[str, Any]):
    sale = shop.earn(ANNA, 2480)
    earned = sale["points"]
    assert earned == euros("24.80") == 24
    # Each refund takes back the cumulative share, rounded half up, minus what went before:
    # 8.00 → 24×8.00/24.80 = 7.74 → 8;  16.00 → 15.48 → 15 (-7);  24.80 → 24 (-9).
    taken, refunded = 0, 0
    for part in ("8.00", "8.00", "8.80"):
        refunded += int(Decimal(part) * 100)
        expected = half_up(Fraction(earned * refunded, 2480)) - taken
        result = done(shop.cli(f"reverse {sale['event_id']} --amount {part}"))
        assert (result["points"], result["amount"]) == (-expected, int(Decimal(part) * 100))
        taken += expected
    assert taken == earned  # not 8 + 8 + 9 = 25, which rounding each part alone would give
    assert done(shop.cli(f"lookup --phone {ANNA}"))["balance"] == WELCOME_BONUS
    with shop.writes_nothing():
        refused(shop.cli(f"reverse {sale['event_id']} --amount 0.01"), "already_reversed")


def test_refund_of_more_than_is_left_of_the_sale_is_refused(shop: Shop, anna: dict[str, Any]):
    sale = shop.earn(ANNA, 2480)
    done(shop.cli(f"reverse {sale['seq']} --amount 10.00"))
    with shop.writes_nothing():
        message = refused(shop.cli(f"reverse {sale['seq']} --amount 20.00"), "bad_amount")
    assert message == "Only 14.80 EUR of that sale is left to refund."


def test_cancel_of_a_redemption_restores_exactly_the_points_spent(shop: Shop, anna: dict[str, Any]):
    shop.earn(ANNA, 20000)
    coffee = shop.reward("coffee")
    spent = done(shop.cli(f"redeem --phone {ANNA} --reward coffee"))
    with shop.writes_nothing():
        message = refused(shop.cli(f"reverse {spent['seq']} --amount 1.00"), "bad_input")
        assert message == "A redemption is cancelled whole; leave out the amount."
    cancel = check_event(done(shop.cli(f"reverse {spent['seq']}")), "reverse")
    assert cancel["points"] == coffee["cost"]
    assert cancel["ref_event_id"] == spent["event_id"]
    assert cancel["balance"] == WELCOME_BONUS + 200
    assert cancel["lines"] == [f"Cancel redeem #{spent['seq']} = +{coffee['cost']}"]
    with shop.writes_nothing():
        refused(shop.cli(f"reverse {spent['event_id']}"), "already_reversed")


def test_reversal_above_the_limit_needs_a_manager(shop: Shop, anna: dict[str, Any]):
    shop.add_staff()
    sale = shop.earn(ANNA, 30000)  # 300 points, above the 200-point limit
    with shop.writes_nothing():
        message = refused(shop.cli(f"reverse {sale['seq']}"), "needs_manager")
    assert (
        f"Reversing 300 points of this sale in all is above the {REVERSAL_LIMIT}-point limit"
        in message
    )
    result = done(shop.cli(f"reverse {sale['seq']} --manager M1", manager_pin=MANAGER_PIN))
    assert (result["points"], result["approved_by"]) == (-300, "M1")


@pytest.mark.parametrize(
    ("event", "code"),
    [
        ("99", "unknown_event"),
        ("'#99'", "unknown_event"),
        ("no-such-event", "unknown_event"),
        ("99999999999999999999", "unknown_event"),  # a mistyped receipt number, not a crash
        ("1", "not_allowed"),  # the enrolment itself
    ],
)
def test_reverse_of_something_that_is_not_a_sale_or_redemption(
    shop: Shop, anna: dict[str, Any], event: str, code: str
):
    with shop.writes_nothing():
        refused(shop.cli(f"reverse {event}"), code)


# -- reading ----------------------------------------------------------------------------------


def test_history_lists_the_members_events_newest_first(shop: Shop, anna: dict[str, Any]):
    sale = shop.earn(ANNA, 2480)
    shop.add_staff("M1", "manager", MANAGER_PIN)
    shop.add_staff("C7", "cashier", CASHIER_PIN)
    redeem = f"redeem --phone {ANNA} --points 10 --cashier C7"
    done(shop.cli(redeem, POS_LOYALTY_PIN=CASHIER_PIN))
    data = done(shop.cli(f"history --phone {ANNA}"))
    assert set(data) == {"member", "events"}
    check_member(data["member"])
    assert [e["kind"] for e in data["events"]] == ["redeem", "earn", "welcome_bonus", "enroll"]
    assert [e["points"] for e in data["events"]] == [-10, sale["points"], WELCOME_BONUS, 0]
    assert sum(e["points"] for e in data["events"]) == data["member"]["balance"]
    assert set(data["events"][0]) == {
        *("event_id", "seq", "kind", "points", "amount", "currency", "ref_event_id"),
        *("created_at", "staff_id", "lines"),
    }
    assert data["events"][0]["staff_id"] == "C7"
    assert (data["events"][1]["amount"], data["events"][1]["currency"]) == (2480, "EUR")
    limited = done(shop.cli(f"history --code {anna['code']} --limit 2"))
    assert [e["kind"] for e in limited["events"]] == ["redeem", "earn"]


def test_rewards_lists_the_catalogue_and_what_the_member_can_afford(
    shop: Shop, anna: dict[str, Any]
):
    shop.earn(ANNA, 20000)  # balance 250
    catalogue = shop.rules["rewards"]
    assert done(shop.cli("rewards")) == {
        "rewards": [
            {
                "id": r["id"],
                "name": r["name"],
                "cost": r["cost"],
                "kind": r["kind"],
                "affordable": False,
            }
            for r in catalogue
        ]
    }
    for_anna = done(shop.cli(f"rewards --phone {ANNA}"))
    assert for_anna["member"]["member_id"] == anna["member_id"]
    assert {r["id"]: r["affordable"] for r in for_anna["rewards"]} == {
        r["id"]: r["cost"] <= WELCOME_BONUS + 200 for r in catalogue
    }


def test_queue_counts_what_waits_for_hq(shop: Shop, anna: dict[str, Any]):
    shop.earn(ANNA, 1000)
    data = done(shop.cli("queue"))
    assert (data["last_seq"], data["acked_seq"], data["unsynced"]) == (3, 0, 3)
    assert data["by_kind"] == {"enroll": 1, "welcome_bonus": 1, "earn": 1}
    assert data["oldest_unsynced_at"].endswith("Z")
    assert data["last_error"] is None
    assert data["program"] == {
        "ruleset": data["program"]["ruleset"],
        "source": "config",
        "fetched_at": None,
    }
    run = shop.text("queue")
    assert run.stdout.startswith(
        "Journal: 3 events; HQ has acknowledged up to #0.\nWaiting to sync: 3"
    )


def test_verify_on_a_clean_journal(shop: Shop, anna: dict[str, Any]):
    shop.earn(ANNA, 1000)
    assert done(shop.cli("verify")) == {"ok": True, "checked": 3, "problem": None, "seq": None}
    run = shop.text("verify")
    assert (run.returncode, run.stdout) == (0, "Journal intact: 3 events, hash chain verified.\n")


def test_verify_reports_an_altered_event_with_exit_1(shop: Shop, anna: dict[str, Any]):
    shop.earn(ANNA, 1000)
    conn = sqlite3.connect(shop.db)
    guard = "SELECT sql FROM sqlite_master WHERE name = 'events_no_update'"
    trigger = conn.execute(guard).fetchone()[0]
    tamper = "UPDATE events SET points = 1000 WHERE seq = 3"
    conn.executescript(f"DROP TRIGGER events_no_update; {tamper}; {trigger};")
    conn.close()
    run = shop.cli("verify")
    assert run.returncode == 1, str(run)
    data = run.json()
    assert data["error"]["code"] == "chain_broken"
    assert (data["ok"], data["checked"], data["seq"]) == (False, 2, 3)
    assert data["error"]["message"] == "Event 3 was altered after it was written."
    one_sentence(data["error"]["message"])  # what the host POS shows, like every other error


# -- bad input: exit 2, one sentence, nothing written -----------------------------------------


@pytest.mark.parametrize(
    "command",
    [
        f"lookup --phone {STRANGER}",
        f"history --code {UNSEEN_CODE}",
        f"rewards --member {UNSEEN_ID}",
        f"redeem --phone {STRANGER} --reward coffee",
        f"redeem --code {UNSEEN_CODE} --points 10",
        f"donate --member {UNSEEN_ID} --charity foodbank --points 10",
        f"membership --phone {STRANGER} --plan plus",
    ],
)
def test_unknown_member_is_refused(shop: Shop, anna: dict[str, Any], command: str):
    with shop.writes_nothing():
        message = refused(shop.cli(command), "unknown_member")
    assert "+31622223333" not in message, "the whole phone number is shown"


def mistype(code: str, kind: str) -> str:
    if kind == "one character wrong":
        return code[:6] + ("X" if code[6] != "X" else "Y") + code[7:]
    if kind == "neighbours swapped":
        i = next(i for i in range(2, 17) if code[i] != code[i + 1])
        return code[:i] + code[i + 1] + code[i] + code[i + 2 :]
    if kind == "0 and Z swapped":
        i = code.index("0Z")
        return code[:i] + "Z0" + code[i + 2 :]
    if kind == "check character missing":
        return code[:-1]
    if kind == "one character too many":
        return code + "A"
    if kind == "other version":
        return "M2" + code[2:]
    return "4006381333931"  # a product barcode scanned by mistake


@pytest.mark.parametrize(
    "kind",
    [
        "one character wrong",
        "neighbours swapped",
        "0 and Z swapped",
        "check character missing",
        "one character too many",
        "other version",
        "a product barcode",
    ],
)
def test_malformed_or_mistyped_member_code_is_refused(shop: Shop, kind: str):
    """A misread must never earn for someone else (here: a member enrolled at another till)."""
    typo = mistype(UNSEEN_CODE, kind)
    assert typo != UNSEEN_CODE
    with shop.writes_nothing():
        refused(shop.cli(f"earn --code {typo} --amount 24.80"), "bad_scan")


def test_malformed_member_id_is_refused(shop: Shop):
    with shop.writes_nothing():
        refused(shop.cli("earn --member not-an-id --amount 1.00"), "bad_input")


@pytest.mark.parametrize(
    "command",
    [
        "enroll --phone 12345",
        "enroll --phone '06 1234 567'",  # one digit short
        "lookup --phone 'not a phone'",
        "earn --phone '+31 6 1234 5678 9999' --amount 5.00",
        f"enroll --phone {BOB} --referrer-phone 0000",
    ],
)
def test_invalid_phone_is_refused(shop: Shop, command: str):
    with shop.writes_nothing():
        refused(shop.cli(command), "invalid_phone")


@pytest.mark.parametrize(
    ("sale", "words"),
    [
        ("--amount -5.00", "negative"),
        ("--amount abc", "is not an amount"),
        ("--amount 12.345", "too many decimals: EUR has only 2 decimals"),
        ("--amount 0", "more than zero"),
        ("--amount 0.00", "more than zero"),
        ("--amount 1e3", "is not an amount"),
        ("--amount 1,000.00", "is not an amount"),
        ("--amount ''", "is not an amount"),
        ("--line fresh=-1.00", "negative"),
        ("--line fresh=1.999", "too many decimals"),
        ("--amount 5.00 --line fresh=6.00", "more than the sale's 5.00 EUR"),
        ("", "Give the sale amount or its lines"),
    ],
)
def test_bad_amount_is_refused(shop: Shop, anna: dict[str, Any], sale: str, words: str):
    with shop.writes_nothing():
        message = refused(shop.cli(f"earn --phone {ANNA} {sale}"), "bad_amount")
    assert words in message


def test_amount_with_decimals_a_currency_has_not_is_refused(new_shop: Callable[..., Shop]):
    text = set_key(config_text(point_value='"1"'), "store", "currency", '"JPY"')
    text = replace_once(text, 'fee = "49.00"', 'fee = "4900"')
    text = replace_once(text, 'amount = "5.00"', 'amount = "500"')
    shop = new_shop(text)
    shop.enrol(ANNA)
    with shop.writes_nothing():
        message = refused(shop.cli(f"earn --phone {ANNA} --amount 1500.5"), "bad_amount")
    assert message == "The amount 1500.5 has too many decimals: JPY has no decimals."
    result = done(shop.cli(f"earn --phone {ANNA} --amount 1500"))
    assert (result["amount"], result["currency"], result["points"]) == (1500, "JPY", 1500)


def test_unknown_reward_is_refused_naming_the_known_ones(shop: Shop, anna: dict[str, Any]):
    with shop.writes_nothing():
        message = refused(shop.cli(f"redeem --phone {ANNA} --reward nosuch"), "unknown_reward")
    assert message == "There is no reward “nosuch”; rewards: coffee, 5off, 10pct."


def test_unknown_category_is_refused(shop: Shop, anna: dict[str, Any]):
    with shop.writes_nothing():
        message = refused(shop.cli(f"earn --phone {ANNA} --line nosuch=1.00"), "unknown_category")
    assert (
        message
        == "Unknown product category “nosuch”; known: bakery, fresh, general, lottery, tobacco."
    )


@pytest.mark.parametrize(
    "command",
    [
        "lookup",
        f"lookup --phone {ANNA} --member {UNSEEN_ID}",
        f"redeem --phone {ANNA}",
        f"redeem --phone {ANNA} --reward coffee --points 5",
        f"redeem --phone {ANNA} --points 0",
        f"redeem --phone {ANNA} --points -5",
        f"redeem --phone {ANNA} --points ten",
        f"earn --phone {ANNA} --line fresh",
        f"history --phone {ANNA} --limit many",
        "refund 3",
    ],
)
def test_usage_mistakes_are_refused_as_bad_input(shop: Shop, anna: dict[str, Any], command: str):
    with shop.writes_nothing():
        refused(shop.cli(command), "bad_input")


def test_errors_in_text_mode_go_to_stderr_with_exit_2(shop: Shop, anna: dict[str, Any]):
    run = shop.text(f"redeem --phone {ANNA} --reward nosuch")
    assert (run.returncode, run.stdout) == (2, "")
    assert run.stderr == "pos-loyalty: There is no reward “nosuch”; rewards: coffee, 5off, 10pct.\n"


# -- bad config and a database that is not this till's ----------------------------------------


def broken(edit: Callable[[str], str]) -> Callable[[], str]:
    return lambda: edit(config_text())


@pytest.mark.parametrize(
    ("make_text", "key", "words"),
    [
        (
            broken(lambda t: replace_once(t, "points_per_unit = 1", "pointz_per_unit = 1")),
            "program.pointz_per_unit",
            "unknown key",
        ),
        (broken(lambda t: t + "\n[printr]\nport = 9100\n"), "printr", "unknown key"),
        (
            broken(lambda t: set_key(t, "program", "points_per_unit", '"one"')),
            "program.points_per_unit",
            "expected float, got str",
        ),
        (
            broken(lambda t: replace_once(t, "cost = 150", 'cost = "150"')),
            "program.rewards[0].cost",
            "expected int, got str",
        ),
        (broken(lambda t: set_key(t, "store", "currency", '"EURO"')), "store.currency", "ISO 4217"),
        # Shaped like a code, but no such currency: a typo of EUR must not pass.
        (broken(lambda t: set_key(t, "store", "currency", '"EUX"')), "store.currency", "ISO 4217"),
        (
            broken(lambda t: set_key(t, "program", "pending_days", "-1")),
            "program.pending_days",
            "must not be negative",
        ),
        (
            broken(lambda t: set_key(t, "store", "timezone", '"Mars/Olympus"')),
            "store.timezone",
            "time zone",
        ),
        (broken(lambda t: t.replace("[store]", "[store", 1)), "", "is not valid TOML"),
    ],
    ids=[
        "unknown key",
        "unknown section",
        "wrong type",
        "wrong type in a list",
        "bad currency",
        "no such currency",
        "negative",
        "bad time zone",
        "not TOML",
    ],
)
def test_config_error_names_the_file_and_key_and_writes_nothing(
    tmp_path: Path, make_text: Callable[[], str], key: str, words: str
):
    config = tmp_path / "pos-loyalty.toml"
    config.write_text(make_text(), encoding="utf-8")
    run = run_cli(f"lookup --phone {ANNA} --config {config} --json", cwd=tmp_path)
    message = refused(run, "bad_config")
    assert message.startswith(f"{config}: {key}")
    assert words in message
    assert not (tmp_path / "till.db").exists(), "a database was created from a bad config"


def test_missing_config_file_says_how_to_make_one(tmp_path: Path):
    missing = tmp_path / "nowhere" / "pos-loyalty.toml"
    message = refused(run_cli(f"queue --config {missing} --json", cwd=tmp_path), "bad_config")
    assert message == (
        f"No config file at {missing}: pass --config PATH, set POS_LOYALTY_CONFIG, "
        "or run `pos-loyalty init` to create one."
    )
    assert not missing.parent.exists()


def test_database_written_by_a_newer_version_is_refused(shop: Shop, anna: dict[str, Any]):
    conn = sqlite3.connect(shop.db)
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with shop.writes_nothing():
        message = refused(shop.cli(f"earn --phone {ANNA} --amount 5.00"), "schema_too_new")
        refused(shop.cli("init"), "schema_too_new")
    assert str(shop.db) in message and "newer pos-loyalty" in message and "99" in message


def test_database_of_another_terminal_is_refused(shop: Shop, anna: dict[str, Any]):
    other = shop.root / "t2.toml"
    other.write_text(set_key(shop.config.read_text(encoding="utf-8"), "terminal", "id", '"T2"'))
    with shop.writes_nothing():
        run = run_cli(f"earn --phone {ANNA} --amount 5.00 --config {other} --json", cwd=shop.root)
        message = refused(run, "bad_config")
    assert str(shop.db) in message and "terminal T1" in message and "terminal T2" in message


def test_database_that_cannot_be_created_exits_1(tmp_path: Path):
    (tmp_path / "notes").write_text("a file, where the journal's folder should be")
    config = tmp_path / "pos-loyalty.toml"
    config.write_text(set_key(config_text(), "database", "path", '"notes/till.db"'))
    run = run_cli(f"init --config {config} --json", cwd=tmp_path)
    assert run.returncode == 1, str(run)
    error = run.json()["error"]
    assert error["code"] == "storage_error"
    one_sentence(error["message"])


def test_a_database_path_that_is_a_folder_is_refused(tmp_path: Path):
    (tmp_path / "journal").mkdir()
    config = tmp_path / "pos-loyalty.toml"
    config.write_text(set_key(config_text(), "database", "path", '"journal"'))
    for command in ("queue", "init"):
        run = run_cli(f"{command} --config {config} --json", cwd=tmp_path)
        message = refused(run, "no_journal")
        assert "is a folder, not a till database" in message


# -- the contract holds whatever the output channel -------------------------------------------


def test_json_output_survives_a_non_utf8_stdout(shop: Shop, anna: dict[str, Any]):
    """A host POS on a Windows till with a Cyrillic code page reads our stdout as cp1251.

    The sale is committed before the result is printed; if printing fails the host sees an
    error, retries, and the customer earns twice. JSON must be printable on any stdout.
    """
    before = shop.last_seq()
    run = run_cli(
        f"earn --phone {ANNA} --amount 24.80 --config {shop.config} --json",
        cwd=shop.root,
        env=clean_env(PYTHONIOENCODING="cp1251"),
        encoding="cp1251",
    )
    written = shop.last_seq() - before
    assert run.returncode == 0, f"{written} event(s) written, yet reported as: {run}"
    assert run.json()["points"] == euros("24.80")


def test_demo_honours_json_like_every_command(tmp_path: Path):
    run = run_cli(f"demo --no-ui --dir {tmp_path / 'demo'} --json", cwd=tmp_path)
    assert run.returncode == 0, str(run)
    run.json()


def test_host_retries_with_the_same_request_id_and_earns_once(shop: Shop, anna: dict[str, Any]):
    first = done(shop.cli(f"earn --phone {ANNA} --amount 24.80 --request-id till7-000123"))
    again = done(shop.cli(f"earn --phone {ANNA} --amount 24.80 --request-id till7-000123"))
    assert again["event_id"] == first["event_id"] and again["replayed"] is True
    assert "replayed" not in first
    assert shop.last_seq() == first["seq"]


def test_a_full_stdout_is_told_in_one_sentence_on_stderr(shop: Shop, anna: dict[str, Any]):
    with open("/dev/full", "w") as full:
        proc = subprocess.run(
            [*CLI, "lookup", "--phone", ANNA, "--json", "--config", str(shop.config)],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
            timeout=60,
        )
    assert proc.returncode == 1
    assert proc.stderr == (
        "pos-loyalty: the command ran, but its result could not be written to stdout "
        "(No space left on device).\n"
    )


INTERRUPT_AT = """
import importlib.abc, os, signal, sys

AT = sys.argv.pop(1)

class CtrlC(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == AT:
            os.kill(os.getpid(), signal.SIGINT)  # the cashier's Ctrl-C, right here
        return None

sys.meta_path.insert(0, CtrlC())
from pos_loyalty.__main__ import run  # what the pos-loyalty command runs
sys.exit(run())
"""


@pytest.mark.parametrize(
    "module",
    ["pos_loyalty.cli", "msgspec", "pos_loyalty.config", "pos_loyalty.service", "sqlite3"],
)
def test_ctrl_c_while_starting_up_ends_quietly(shop: Shop, module: str):
    """A real SIGINT while the command is still loading (or opening the journal) stops it
    with status 130 and no traceback."""
    proc = subprocess.run(
        [sys.executable, "-c", INTERRUPT_AT, module, "queue", "--config", str(shop.config)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 130, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr and "KeyboardInterrupt" not in proc.stderr
    assert proc.stdout == ""


def test_version(tmp_path: Path):
    from pos_loyalty import __version__

    run = run_cli("--version", cwd=tmp_path)
    assert (run.returncode, run.stdout) == (0, f"pos-loyalty {__version__}\n")


# -- the journal file: only init creates one; an archived copy can be read ----------------------


def test_only_init_creates_a_journal_other_commands_name_the_missing_path(tmp_path: Path):
    config = tmp_path / "pos-loyalty.toml"
    config.write_text(set_key(config_text(), "database", "path", '"nested/till.db"'))
    for command in ("verify", "queue", f"lookup --phone {ANNA}", f"earn --phone {ANNA} --amount 5"):
        message = refused(
            run_cli(f"{command} --config {config} --json", cwd=tmp_path), "no_journal"
        )
        assert str(tmp_path / "nested" / "till.db") in message and "pos-loyalty init" in message
    assert not (tmp_path / "nested").exists()
    done(run_cli(f"init --config {config} --json", cwd=tmp_path))
    assert done(run_cli(f"verify --config {config} --json", cwd=tmp_path))["checked"] == 0


def test_a_foreign_sqlite_file_is_refused_and_left_as_it_was(tmp_path: Path):
    config = tmp_path / "pos-loyalty.toml"
    config.write_text(set_key(config_text(), "database", "path", '"photos.db"'))
    db = sqlite3.connect(tmp_path / "photos.db")
    db.execute("CREATE TABLE photos (id INTEGER PRIMARY KEY)")
    db.close()
    before = (tmp_path / "photos.db").read_bytes()
    for command in ("init", "verify", f"lookup --phone {ANNA}"):
        message = refused(
            run_cli(f"{command} --config {config} --json", cwd=tmp_path), "no_journal"
        )
        assert "is not a pos-loyalty till database" in message
    assert (tmp_path / "photos.db").read_bytes() == before


@contextlib.contextmanager
def read_only(folder: Path) -> Iterator[Path]:
    """``folder`` as an archived copy on read-only media: a read-only bind mount (root is not
    held back by file modes), or, for anyone else, files and folder without write permission."""
    if os.geteuid() != 0:
        for path in (*folder.iterdir(), folder):
            path.chmod(path.stat().st_mode & ~0o222)
        yield folder
        return
    view = folder.with_name(folder.name + "-ro")
    view.mkdir()
    subprocess.run(["mount", "--bind", str(folder), str(view)], check=True)
    try:
        subprocess.run(["mount", "-o", "remount,ro,bind", str(view)], check=True)
        yield view
    finally:
        subprocess.run(["umount", str(view)], check=True)


def test_an_archived_read_only_journal_can_be_read_but_not_written(
    shop: Shop, anna: dict[str, Any]
):
    shop.earn(ANNA, 2480)
    archive = shop.root.parent / "archive"
    archive.mkdir()
    shutil.copy(shop.db, archive / "till.db")  # closed cleanly: no -wal or -shm beside it
    shutil.copy(shop.config, archive / "pos-loyalty.toml")
    with read_only(archive) as media:
        config = media / "pos-loyalty.toml"

        def cli(command: str) -> Run:
            return run_cli(f"{command} --config {config} --json", cwd=media)

        assert done(cli(f"lookup --phone {ANNA}"))["balance"] == WELCOME_BONUS + euros("24.80")
        assert len(done(cli(f"history --phone {ANNA}"))["events"]) == 3
        assert done(cli("queue"))["last_seq"] == 3
        assert done(cli("verify"))["ok"] is True
        assert done(cli("zreport"))["unsynced"] == 3
        run = cli(f"earn --phone {ANNA} --amount 5.00")
        assert run.returncode == 1, str(run)
        error = run.json()["error"]
        assert error["code"] == "storage_error" and "read-only" in error["message"]
        one_sentence(error["message"])
        assert sorted(p.name for p in media.iterdir()) == ["pos-loyalty.toml", "till.db"]


def test_a_broken_byte_on_the_command_line_is_refused_as_bad_input(
    shop: Shop, anna: dict[str, Any]
):
    shop.add_staff()
    adjust = f"adjust --phone {ANNA} --points 5 --reason goodwill --manager M1 --json"
    with shop.writes_nothing():
        proc = subprocess.run(
            [*CLI, *adjust.split(), "--config", str(shop.config), b"--note=late \xff bus"],
            env=clean_env(POS_LOYALTY_MANAGER_PIN=MANAGER_PIN),
            capture_output=True,
            timeout=60,
        )
    run = Run([], proc.returncode, proc.stdout.decode(), proc.stderr.decode())
    assert "not valid text" in refused(run, "bad_input")


def test_a_refund_of_points_already_spent_says_plainly_that_the_member_owes_them(
    shop: Shop, anna: dict[str, Any]
):
    sale = shop.earn(ANNA, 20000)
    done(shop.cli(f"redeem --phone {ANNA} --reward coffee"))
    shop.add_staff()
    run = shop.text(f"reverse {sale['seq']} --manager M1", POS_LOYALTY_MANAGER_PIN=MANAGER_PIN)
    assert run.returncode == 0, str(run)
    owed = 150 - WELCOME_BONUS
    assert f"Balance: -{owed} points" in run.stdout
    assert f"the member owes {owed} points, paid off by the next points they earn" in run.stdout
    member = done(shop.cli(f"lookup --phone {ANNA}"))
    assert (member["balance"], member["flags"]) == (-owed, ["overdraft"])
    text = shop.text(f"lookup --phone {ANNA}").stdout
    assert f"Owes {owed} points after a refund of points already spent" in text


def test_an_option_given_twice_is_refused_not_silently_the_last(shop: Shop, anna: dict[str, Any]):
    with shop.writes_nothing():
        message = refused(shop.cli(f"enroll --phone {STRANGER} --phone {BOB}"), "bad_input")
        assert message == "--phone is given more than once; give it once."
        refused(shop.cli(f"earn --phone {ANNA} --amount 5 --amount=500"), "bad_input")
        refused(shop.cli(f"lookup --ph {ANNA}"), "bad_input")  # no abbreviations either
    both = f"earn --phone {ANNA} --line fresh=1.00 --line general=2.00 --config {shop.config}"
    assert done(shop.cli(both))["points"] == 2 * 1 + 2


def test_a_demo_never_writes_into_a_folder_that_holds_anything(shop: Shop):
    before = sorted(p.name for p in shop.root.iterdir())
    message = refused(run_cli(f"demo --dir {shop.root} --json", cwd=shop.root), "bad_input")
    assert "is not an empty folder" in message
    assert sorted(p.name for p in shop.root.iterdir()) == before


def test_a_pin_that_is_not_four_to_twelve_digits_is_bad_input_and_not_counted(
    shop: Shop, anna: dict[str, Any]
):
    shop.add_staff()
    run = shop.cli(f"earn --phone {ANNA} --amount 10 --cashier M1", POS_LOYALTY_PIN="12")
    assert refused(run, "bad_input") == "A PIN is 4 to 12 digits."
    with shop.till() as till:
        assert till.journal.staff.attempts("M1").failed == 0
