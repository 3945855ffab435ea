"""Each slip on a 58 mm and an 80 mm profile through the real path: the renderer's bytes →
python-escpos's network transport → TCP → the simulated printer → .txt and .png."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import zxingcpp
from escpos.printer import Network
from PIL import Image

from drivers.escpos_render import Renderer
from drivers.profiles import load_profile
from drivers.sim_printer import SimPrinter
from pos_loyalty import config as config_mod
from pos_loyalty.errors import ConfigError
from pos_loyalty.service import MemberRef, Till
from pos_loyalty.slips import Header, Slip, Text, balance_slip, event_slip

PROFILES = {58: "POS-5890", 80: "TM-T20II"}  # raster QR only / native QR
NOON = dt.datetime(2026, 11, 25, 11, 0, tzinfo=dt.UTC)


@pytest.fixture
def till(tmp_path: Path):
    cfg = tmp_path / "pos-loyalty.toml"
    cfg.write_text(config_mod.EXAMPLE.read_text())
    with Till.open(config_mod.load(str(cfg)), clock=lambda: NOON, create=True) as till:
        yield till


def print_on(paper: int, slip: Slip, out: Path, locale: str = "nl_NL"):
    renderer = Renderer(load_profile(PROFILES[paper]), locale)
    data = renderer.render(slip)
    with SimPrinter(paper=paper, out_dir=out, profile=PROFILES[paper]) as sim:
        link = Network("127.0.0.1", sim.port, timeout=2)
        link.open()
        link._raw(data)
        link.close()
        (job,) = sim.wait_for_jobs(1)
    assert not job.warnings, job.warnings
    return job, data


def decoded_qr(png: Path) -> list[str]:
    return [r.text for r in zxingcpp.read_barcodes(Image.open(png))]


@pytest.mark.parametrize("paper", [58, 80])
def test_welcome_card_qr_scans_back_to_the_member_code(till, tmp_path, paper):
    result = till.enroll("0612345678", name="Anna de Vries")
    job, data = print_on(paper, event_slip(till.header, result), tmp_path)
    assert decoded_qr(job.png_path) == [result.member.code]
    assert "Welcome, Anna de Vries!" in job.text
    assert "BALANCE" in job.text and "50 pts" in job.text
    if paper == 80:
        assert b"\x1d(k" in data  # native QR where the profile has it
    else:
        assert b"\x1d(k" not in data and b"\x1dv0" in data  # raster otherwise


@pytest.mark.parametrize("paper", [58, 80])
def test_earn_slip_holds_explanations_and_balance_as_of_last_sync(till, tmp_path, paper):
    till.enroll("0612345678", name="Anna")
    sale = till.earn(MemberRef(phone="0612345678"), amount=2480, lines=[])
    job, _ = print_on(paper, event_slip(till.header, sale), tmp_path)
    lines = job.text.splitlines()
    columns = 32 if paper == 58 else 48
    assert all(len(line) <= columns for line in lines)
    assert any(line.startswith("24.80 EUR × 1 pt") and line.endswith(" 24") for line in lines)
    assert any(line.startswith("Points") and line.endswith("+24") for line in lines)
    assert any(line.startswith("BALANCE") and line.endswith("74 pts") for line in lines)
    assert any(line.startswith("  as of last sync") and line.endswith(" 0") for line in lines)
    assert any(line.startswith("  pending*") and line.endswith("+74") for line in lines)
    assert "Till T1" in job.text and "2026-11-25 12:00" in job.text  # store's local time


def test_balance_slip_on_58_mm(till, tmp_path):
    result = till.enroll("0612345678", name="Anna")
    slip = balance_slip(till.header, result.member, "2026-11-25T11:00:00.000Z")
    job, _ = print_on(58, slip, tmp_path)
    assert "YOUR POINTS" in job.text
    assert "Bronze: 500 points to Silver" in job.text


@pytest.mark.parametrize(
    ("locale", "text"),
    [("nl_NL", "Café Müller – 12,40 €"), ("tr_TR", "İstanbul şubesi ğüşİ"), ("de_DE", "Grüße")],
)
def test_non_ascii_text_prints_as_the_same_glyphs(tmp_path, locale, text):
    job, data = print_on(80, Slip("test", (Text(text),)), tmp_path, locale)
    assert text.replace("–", "-") in job.text
    assert data.startswith(b"\x1b@\x1bt")  # the code page pinned right after the reset


def test_text_the_code_page_cannot_carry_is_spelled_out_not_garbage(tmp_path):
    job, _ = print_on(80, Slip("test", (Text("Zoë pays 5 € → ✓"),)), tmp_path, "tr_TR")
    assert "Zoë pays 5 EUR -> ?" in job.text


def test_only_needed_style_changes_are_sent(tmp_path):
    slip = Slip("test", (Text("a", bold=True), Text("b", bold=True), Text("c")))
    data = Renderer(load_profile("TM-T20II"), "nl_NL").render(slip)
    assert data.count(b"\x1bE\x01") == 1 and data.count(b"\x1bE\x00") == 1
    assert data.count(b"\x1b@") == 1


def test_a_profile_without_a_known_paper_width_is_refused_at_start():
    with pytest.raises(ConfigError, match="does not say its paper width"):
        load_profile("default")
    with pytest.raises(ConfigError, match="not in python-escpos's profile list"):
        load_profile("NoSuchPrinter-9000")


def test_slip_survives_the_print_queue_as_json(till):
    result = till.enroll("0612345678", name="Anna")
    slip = event_slip(Header("Shop", "", "T1", "Europe/Amsterdam"), result)
    assert Slip.from_json(slip.to_json()) == slip


@pytest.mark.parametrize("paper", [58, 80])
def test_redeem_slip_names_the_reward_not_the_pos_item_code(till, tmp_path, paper):
    till.enroll("0612345678", name="Anna")
    till.earn(MemberRef(phone="0612345678"), amount=20000)
    redeemed = till.redeem(MemberRef(phone="0612345678"), reward_id="coffee")
    job, _ = print_on(paper, event_slip(till.header, redeemed), tmp_path)
    assert "REWARD REDEEMED" in job.text
    assert "SKU-COFFEE" not in job.text  # the POS's item code is the host's, not the customer's
    assert redeemed.to_json()["reward"]["item"] == "SKU-COFFEE"  # what the POS applies
    lines = job.text.splitlines()
    assert any(line.startswith("Free coffee") and line.endswith("-150") for line in lines)
    assert any(
        line.startswith("BALANCE") and line.endswith(f"{redeemed.member.balance} pts")
        for line in lines
    )
    assert decoded_qr(job.png_path) == [redeemed.member.code]


@pytest.mark.parametrize("paper", [58, 80])
def test_z_report_slip_shows_the_days_figures(till, tmp_path, paper):
    from pos_loyalty.zreport import z_report_slip

    till.enroll("0612345678")
    till.earn(MemberRef(phone="0612345678"), amount=2480)
    report, _ = till.z_report()
    job, _ = print_on(
        paper, z_report_slip(till.header, report, "2026-11-25T17:00:00.000Z"), tmp_path
    )
    lines = job.text.splitlines()
    assert "Z-REPORT 2026-11-25" in job.text
    assert any(line.startswith("Sales") and line.endswith("24.80 EUR") for line in lines)
    assert any(line.startswith("Points earned on sales") and line.endswith("+24") for line in lines)
    assert any(line.startswith("Bonuses") and line.endswith("+50") for line in lines)
    assert any(line.startswith("Net change on the day") and line.endswith("+74") for line in lines)
    assert any(line.startswith("Liability") and line.endswith("0.74 EUR") for line in lines)
    assert any(line.startswith("Not yet at HQ") and line.endswith("3 events") for line in lines)
    assert "No HQ is configured (hq.url is empty)" in " ".join(lines)  # wrapped on 58 mm


def test_a_long_row_wraps_on_58_mm_instead_of_losing_text(tmp_path):
    from pos_loyalty.slips import Row

    slip = Slip(
        "test",
        (
            Row("Refund 123.45 EUR of sale #12345", "-1234"),
            Row("Bonus for referring a friend", "+100"),
        ),
    )
    job, _ = print_on(58, slip, tmp_path)
    assert job.text.splitlines()[:4] == [
        "Refund 123.45 EUR of sale #12345",
        "                           -1234",
        "Bonus for referring a friend",
        "                            +100",
    ]


def code_page_of(locale: str) -> str:
    """The codec the default profile's renderer pins for a store in ``locale``."""
    assert config_mod.Printer().profile == PROFILES[80]  # the default profile prints these
    return Renderer(load_profile(PROFILES[80]), locale).codec


def lacks(locale: str, char: str) -> bool:
    try:
        char.encode(code_page_of(locale))
    except UnicodeEncodeError:
        return True
    return False


@pytest.mark.parametrize("locale", ["en_US", "nl_NL"])  # CP437 and CP858: neither has ı or ł
def test_a_letter_the_code_page_lacks_prints_as_its_plain_latin_stand_in(tmp_path, locale):
    assert all(lacks(locale, ch) for ch in "ıİŁłź")
    text = "Kırıkkale İzmir Łódź Wałęsa"
    job, data = print_on(80, Slip("test", (Text(text),)), tmp_path, locale)
    assert "Kirikkale Izmir Lódz Walesa" in job.text  # ó is on both pages: it stays
    assert b"?" not in data


@pytest.mark.parametrize(
    ("locale", "text", "expected"),
    [
        ("en_US", "đ Đ ð ø Ø œ Œ þ Þ", "d D d o O oe OE th Th"),
        ("en_US", "‘a’ ‚b‘ “c” „d“ 1–2—3 − €5", "'a' 'b' \"c\" \"d\" 1-2-3 - EUR5"),
        ("en_US", "ǿ ő ﬁ ⅓", "o o fi 1/3"),  # decomposed, accents dropped, parts spelled out
        ("nl_NL", "ǿ ő", "ø o"),  # CP858 has ø: only the accent goes
        ("tr_TR", "Straße ł e\u0301", "Straße l é"),  # CP857 has ß and é (composed first)
    ],
)
def test_the_fallback_decomposes_first_then_uses_the_stand_in_table(
    tmp_path, locale, text, expected
):
    job, data = print_on(80, Slip("test", (Text(text),)), tmp_path, locale)
    assert expected in job.text
    assert b"?" not in data


@pytest.mark.parametrize(
    ("locale", "text"),
    [
        ("en_US", "Café Müller Straße æÆ ½ «x»"),  # CP437
        ("nl_NL", "Café Müller 12,40 € Søren Þór æ ×"),  # CP858
        ("tr_TR", "Kırıkkale İzmir ş ğ"),  # CP857 has ı and İ
        ("pl_PL", "Łódź źdźbło żółć"),  # CP852 has ł
    ],
)
def test_a_character_the_code_page_has_prints_as_itself(tmp_path, locale, text):
    assert not any(lacks(locale, ch) for ch in text)
    job, data = print_on(80, Slip("test", (Text(text),)), tmp_path, locale)
    assert text in job.text
    assert text.encode(code_page_of(locale)) in data  # the page's own bytes, no stand-in


def test_a_row_is_laid_out_with_the_spelled_out_width(tmp_path):
    from pos_loyalty.slips import Row

    left = "œuvre œuvre œuvre œuvre xyzz"  # 28 columns, 32 once CP437 spells œ as oe
    job, _ = print_on(58, Slip("test", (Row(left, "+10"),)), tmp_path, "en_US")
    assert job.text.splitlines()[:2] == [
        "oeuvre oeuvre oeuvre oeuvre xyzz",
        "                             +10",
    ]


def test_a_slip_after_a_refund_of_spent_points_says_the_points_are_owed(till, tmp_path):
    boss_pin = "2468"
    till.add_staff("M1", name="Maria", role="manager", pin=boss_pin)
    boss = till.sign_in("M1", boss_pin, manager=True)
    till.enroll("0612345678", name="Anna")
    sale = till.earn(MemberRef(phone="0612345678"), amount=20000)
    till.redeem(MemberRef(phone="0612345678"), reward_id="coffee")
    refund = till.reverse(sale.event.event_id, approval=boss)
    job, _ = print_on(80, event_slip(till.header, refund), tmp_path)
    assert "Points are owed after a refund;" in job.text
    assert "new points pay them off first." in job.text
    assert any(
        line.startswith("BALANCE") and line.endswith(f"{refund.member.balance} pts")
        for line in job.text.splitlines()
    )


def test_a_slip_lists_what_the_points_cover_not_what_the_offline_cap_lets_this_till_spend(
    till, tmp_path
):
    """The cap is this till's risk until HQ speaks; the member reads the slip at their next
    visit, when it no longer holds them back."""
    till.enroll("0612345678", name="Anna")
    till.earn(MemberRef(phone="0612345678"), amount=60000)  # 650 points
    spent = till.redeem(MemberRef(phone="0612345678"), reward_id="5off")  # all 500 of the cap
    assert spent.member.can_redeem_now == 0  # the cap is used up here until HQ confirms
    job, _ = print_on(80, event_slip(till.header, spent), tmp_path)
    lines = job.text.splitlines()
    start = lines.index("You can redeem:")
    assert lines[start + 1].split() == ["Free", "coffee", "150", "pts"]
    assert not lines[start + 2].startswith("  ")  # nothing else: 150 of 150 points
