"""Config validation: a bad file gives one sentence naming the file, the key and the problem."""

from __future__ import annotations

import pytest

from pos_loyalty import config as config_mod
from pos_loyalty.errors import ConfigError

EXAMPLE = config_mod.EXAMPLE.read_text()


def edited(old: str, new: str) -> bytes:
    assert old in EXAMPLE, old
    return EXAMPLE.replace(old, new, 1).encode()


def test_the_example_config_is_valid():
    cfg = config_mod.parse(EXAMPLE.encode(), "example.toml")
    assert cfg.store.currency == "EUR" and cfg.program.tiers[-1].name == "Gold"


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ('name = "Corner Market Amsterdam"', 'nmae = "x"', "c.toml: store.nmae: unknown key."),
        ("points_per_unit = 1 ", 'points_per_unit = "one" ',
         "c.toml: program.points_per_unit: expected float, got str."),
        ('rounding = "floor"', 'rounding = "down"',
         "c.toml: program.rounding: invalid enum value 'down'; use one of: floor, half_up, ceil."),
        ('currency = "EUR"', 'currency = "EUX"',
         "c.toml: store.currency: “EUX” is not an ISO 4217 code like EUR."),
        ('phone_region = "NL"', 'phone_region = "XX"',
         "c.toml: store.phone_region: “XX” is not a region code like NL, US or TR."),
        ('timezone = "Europe/Amsterdam"', 'timezone = "Mars/Olympus"',
         "c.toml: store.timezone: “Mars/Olympus” is not a time zone like Europe/Amsterdam."),
        ("threshold = 500", "threshold = 0",
         "c.toml: program.tiers[1].threshold: tiers must rise in threshold."),
        ('categories = ["fresh"]', 'categories = ["toys"]',
         "c.toml: program.promotions[1].categories: “toys” is not a category in "
         "program.categories."),
        ('item = "SKU-COFFEE"', 'item = ""',
         "c.toml: program.rewards[0].item: a free_item reward names the item the POS should "
         "give."),
        ("percent = 10", "percent = 150",
         "c.toml: program.rewards[2].percent: must be between 1 and 100."),
        ('fee = "49.00"', 'fee = "49.001"',
         "c.toml: program.memberships[0].fee: the amount 49.001 has too many decimals: EUR has "
         "only 2 decimals."),
        ("timeout_seconds = 5.0             # every", "timeout_seconds = 0  # every",
         "c.toml: printer.timeout_seconds: must be between 0 and 120 (0 would block forever)."),
        ("symbologies = []", 'symbologies = ["Q1"]',
         "c.toml: scanner.symbologies[0]: “Q1” is not an AIM identifier like ]Q1."),
        ('id = "T1"', 'id = "till one"',
         "c.toml: terminal.id: use 1-32 letters, digits, dot, dash or underscore."),
        ("fresh = { multiplier = 2 }", "fresh = { multiplier = nan }",
         "c.toml: program.categories.fresh.multiplier: must be a number from 0 to 100."),
        ("pending_days = 0 ", "pending_days = 10000000 ",
         "c.toml: program.pending_days: must be at most 365."),
        ('url = ""', 'url = "not a url"',
         "c.toml: hq.url: “not a url” is not an http(s) address like https://hq.example.com."),
        ('point_value = "0.01"', 'point_value = "a cent"',
         "c.toml: program.point_value: “a cent” is not a money value per point like 0.01 or "
         "0.005."),
        ("welcome_bonus = 50", "welcome_bonus = -5",
         "c.toml: program.welcome_bonus: must not be negative."),
        ("points_per_unit = 1 ", "points_per_unit = 1e9 ",
         "c.toml: program.points_per_unit: must be a number more than zero and at most 1000."),
        ("offline_redeem_cap = 500", "offline_redeem_cap = 9223372036854775807",
         "c.toml: program.offline_redeem_cap: must be at most 1000000000."),
        ("threshold = 2000", "threshold = 99999999999",
         "c.toml: program.tiers[2].threshold: must be at most 1000000000."),
        ("cost = 150", "cost = 1000000000000",
         "c.toml: program.rewards[0].cost: must be more than zero and at most 1000000000."),
        ('name = "Corner Market Amsterdam"', 'name = "Corner\\u001b@\\u001dV Market"',
         "c.toml: store.name: must not contain control characters (tabs, line breaks, "
         "escapes)."),
        ('name = "Corner Market Amsterdam"', 'name = "' + "x" * 201 + '"',
         "c.toml: store.name: is longer than 200 characters."),
        ('default_category = "general"', 'default_category = "nope"',
         "c.toml: program.default_category: “nope” is not a category in program.categories."),
        ("port = 9100", "port = 70000",
         "c.toml: printer.port: must be a TCP port between 1 and 65535."),
        ('id = "foodbank"', 'id = ""',
         "c.toml: program.charities[0].id: use 1-32 letters, digits, dot, dash or underscore."),
        ('locale = "nl_NL"', 'locale = "xx_XX_yy"',
         "c.toml: store.locale: “xx_XX_yy” is not a locale like nl_NL or en_US."),
        ('adjust_reasons = ["goodwill", "correction"', 'adjust_reasons = ["goodwill", "goodwill"',
         "c.toml: program.adjust_reasons: reason “goodwill” appears twice."),
        ('weekdays = ["tue"]', 'weekdays = ["tue", "tue"]',
         "c.toml: program.promotions[0].weekdays: weekday “tue” appears twice."),
        ("tobacco = { excluded = true }", "tobacco = { excluded = true, multiplier = 2 }",
         "c.toml: program.categories.tobacco.multiplier: an excluded category earns nothing; "
         "leave out its multiplier."),
    ],
)  # fmt: skip
def test_each_mistake_is_one_sentence_naming_file_and_key(old, new, message):
    with pytest.raises(ConfigError) as caught:
        config_mod.parse(edited(old, new), "c.toml")
    assert str(caught.value) == message


def test_not_toml_and_not_utf8():
    with pytest.raises(ConfigError, match=r"^c.toml: is not valid TOML \(.*\)\.$"):
        config_mod.parse(b"[store\n", "c.toml")
    with pytest.raises(ConfigError, match=r"^c.toml: is not UTF-8 text\.$"):
        config_mod.parse(b"\xff\xfe", "c.toml")


def test_missing_file_says_how_to_make_one(tmp_path, monkeypatch):
    monkeypatch.delenv(config_mod.ENV_VAR, raising=False)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError, match="run `pos-loyalty init` to create one"):
        config_mod.load(None)


def test_environment_variable_selects_the_file(tmp_path, monkeypatch):
    path = tmp_path / "elsewhere.toml"
    path.write_text(EXAMPLE)
    monkeypatch.setenv(config_mod.ENV_VAR, str(path))
    loaded = config_mod.load(None)
    assert loaded.path == path and loaded.database_path == tmp_path / "till.db"
