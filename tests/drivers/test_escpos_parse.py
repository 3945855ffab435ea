"""The ESC/POS parser: what python-escpos sends is understood, bad bytes become warnings."""

from __future__ import annotations

import pytest
from escpos.printer import Dummy
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw

from drivers.escpos_parse import (
    PAPERS,
    Barcode,
    Feed,
    Job,
    Picture,
    QrSymbol,
    Style,
    TextLine,
    lex,
    next_token,
    parse_job,
)
from drivers.receipt_render import render_image, render_text

ESC, GS, DLE = b"\x1b", b"\x1d", b"\x10"


def dummy() -> Dummy:
    """python-escpos's own in-memory printer, so the bytes are exactly what it emits."""
    return Dummy()


def lines(job: Job) -> list[TextLine]:
    return [block for block in job.blocks if isinstance(block, TextLine)]


def only(job: Job, kind: type) -> list:
    return [block for block in job.blocks if isinstance(block, kind)]


# -- text and styles --------------------------------------------------------------------------


def test_python_escpos_set_reaches_each_style():
    p = dummy()
    p.set(bold=True, underline=2, invert=True, double_width=True, double_height=True)
    p.textln("BIG")
    p.set_with_default()
    p.set(custom_size=True, width=3, height=4)
    p.textln("X")
    p.set_with_default(font="b")
    p.textln("small")
    job = parse_job(p.output)
    assert job.warnings == ()
    big, custom, small = (line.runs[0] for line in lines(job))
    assert big.style == Style(bold=True, underline=2, width=2, height=2, reverse=True)
    assert (custom.style.width, custom.style.height) == (3, 4)
    assert small.style == Style(font=1) and small.pitch == 9


def test_esc_bang_sets_font_bold_size_and_underline_at_once():
    job = parse_job(ESC + b"!\xb9" + b"A\n" + ESC + b"!\x00" + b"B\n")
    first, second = (line.runs[0].style for line in lines(job))
    assert first == Style(font=1, bold=True, underline=1, width=2, height=2)
    assert second == Style()


@pytest.mark.parametrize(
    ("align", "expected_x"), [("left", 0), ("center", (576 - 5 * 12) // 2), ("right", 576 - 60)]
)
def test_justification_places_the_line(align, expected_x):
    p = dummy()
    p.set(align=align)
    p.textln("Hello")
    (line,) = lines(parse_job(p.output))
    assert line.runs[0].x == expected_x


def test_justification_in_mid_line_is_ignored_as_the_printer_does():
    job = parse_job(b"ab" + ESC + b"a\x01" + b"cd\n")
    assert lines(job)[0].runs[0].x == 0
    assert "ESC a in the middle of a line" in job.warnings[0].message


@pytest.mark.parametrize(("paper", "columns"), [(58, 32), (80, 48)])
def test_long_lines_wrap_at_the_paper_width(paper, columns):
    job = parse_job(b"x" * (columns + 5) + b"\n", PAPERS[paper])
    assert [len(line.text) for line in lines(job)] == [columns, 5]
    assert render_text(job) == "x" * columns + "\n" + "xxxxx\n"


def test_tabs_absolute_and_relative_positions():
    job = parse_job(b"a\tb" + ESC + b"$\x00\x01" + b"c" + ESC + b"\\\x0c\x00" + b"d\n")
    xs = [run.x for run in lines(job)[0].runs]
    assert xs == [0, 96, 256, 256 + 12 + 12]
    assert render_text(job).startswith("a       b")


def test_left_margin_and_print_width_narrow_the_area():
    job = parse_job(GS + b"L\x30\x00" + GS + b"W\x80\x01" + ESC + b"a\x02" + b"R\n")
    assert lines(job)[0].runs[0].x == 0x30 + 0x180 - 12


def test_line_spacing_and_feeds():
    job = parse_job(ESC + b"3\x40" + b"a\n\n" + ESC + b"2" + ESC + b"d\x03" + ESC + b"J\x0a")
    first, blank, feed3, dots = job.blocks
    assert isinstance(first, TextLine) and first.advance == 0x40
    assert blank == Feed(0x40, 1)
    assert feed3 == Feed(90, 3)
    assert dots == Feed(10, 0)


def test_double_height_line_feeds_at_least_its_height():
    job = parse_job(ESC + b"3\x10" + GS + b"!\x11" + b"T\n")
    assert lines(job)[0].advance == 48


# -- code pages ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "byte", "char"),
    [
        (0, 0x81, "ü"),  # PC437
        (2, 0x81, "ü"),  # PC850
        (19, 0xD5, "€"),  # PC858
        (13, 0xA7, "ğ"),  # PC857
        (13, 0x98, "İ"),  # PC857
        (17, 0x80, "А"),  # PC866, Cyrillic A
        (16, 0x80, "€"),  # WPC1252
        (40, 0xA4, "€"),  # ISO8859-15
    ],
)
def test_esc_t_selects_epsons_code_page_numbers(n, byte, char):
    job = parse_job(ESC + b"t" + bytes([n, byte]) + b"\n")
    assert lines(job)[0].text == char


@pytest.mark.parametrize(
    ("code_page", "text"), [("CP858", "Prix 12,50 € für Müller"), ("CP857", "ğüşİıç Işık")]
)
def test_python_escpos_forced_code_pages_round_trip(code_page, text):
    p = dummy()
    p.charcode(code_page)
    p.textln(text)
    assert render_text(parse_job(p.output)) == text + "\n"


def test_python_escpos_automatic_code_page_switching_round_trips():
    p = dummy()
    p.textln("€ ü ğ ş İ Ж")
    assert render_text(parse_job(p.output)) == "€ ü ğ ş İ Ж\n"


def test_esc_at_resets_code_page_which_python_escpos_does_not_resend():
    """The brief's trap: after hw('INIT') python-escpos believes PC858 is still selected."""
    p = dummy()
    p.charcode("CP858")
    p.textln("€")
    p.hw("INIT")
    p.textln("€")
    assert render_text(parse_job(p.output)) == "€\n╒\n"


def test_esc_at_resets_styles_and_discards_an_unprinted_buffer():
    job = parse_job(ESC + b"E\x01" + ESC + b"a\x01" + b"lost" + ESC + b"@" + b"plain\n")
    (line,) = lines(job)
    assert (line.text, line.runs[0].style, line.runs[0].x) == ("plain", Style(), 0)
    assert "discarded" in job.warnings[0].message


def test_international_character_set():
    job = parse_job(ESC + b"R\x02" + b"[\\]{|}~\n")
    assert lines(job)[0].text == "ÄÖÜäöüß"


def test_unsimulated_code_page_is_reported():
    job = parse_job(ESC + b"t\x01" + b"x\n")
    assert "not simulated" in job.warnings[0].message


# -- images -------------------------------------------------------------------------------------


def logo() -> Image.Image:
    image = Image.new("RGB", (100, 30), "white")
    ImageDraw.Draw(image).rectangle((10, 5, 59, 24), fill="black")  # 50 x 20 dots of ink
    return image


def ink(image: Image.Image) -> int:
    return image.convert("L").histogram()[0]


@pytest.mark.parametrize("impl", ["bitImageRaster", "graphics", "bitImageColumn"])
def test_each_image_command_prints_every_dot(impl):
    p = dummy()
    p.image(logo(), impl=impl)
    job = parse_job(p.output)
    assert job.warnings == ()
    assert ink(render_image(job)) == 50 * 20


def test_raster_scaling_modes():
    image = GS + b"v0\x03\x01\x00\x02\x00" + b"\xff\xff"
    (picture,) = only(parse_job(image), Picture)
    assert (picture.graphic.width, picture.graphic.height) == (16, 4)


def test_graphics_print_without_store_is_reported():
    job = parse_job(GS + b"(L\x02\x00\x30\x32")
    assert "no graphics stored" in job.warnings[0].message


# -- symbols ------------------------------------------------------------------------------------


def test_native_qr_settings_from_python_escpos():
    p = dummy()
    p.qr("MEMBER-0042", native=True, size=6, ec=3)
    (symbol,) = only(parse_job(p.output), QrSymbol)
    assert (symbol.payload, symbol.module, symbol.error_correction) == (b"MEMBER-0042", 6, "H")
    assert symbol.size == len(symbol.matrix) * 6
    assert not any(symbol.matrix[0])  # the quiet zone is part of the symbol


def test_qr_print_without_data_is_reported():
    job = parse_job(GS + b"(k\x03\x00\x31\x51\x30")
    assert "no data stored" in job.warnings[0].message


def test_qr_too_wide_for_the_paper_is_not_printed():
    store = GS + b"(k" + (3 + 300).to_bytes(2, "little") + b"\x31\x50\x30" + b"7" * 300
    job = parse_job(GS + b"(k\x03\x00\x31\x43\x10" + store + GS + b"(k\x03\x00\x31\x51\x30")
    assert only(job, QrSymbol) == []
    assert "do not fit" in job.warnings[0].message


def test_barcode_both_function_forms_and_settings():
    a = GS + b"h\x50" + GS + b"w\x02" + GS + b"H\x02" + GS + b"k\x02" + b"400638133393\x00"
    b = GS + b"k\x49\x08" + b"{BAB-123"
    first, second = only(parse_job(a + b), Barcode)
    assert (first.symbology, first.hri_text, first.bar_height, first.module) == (
        "EAN13",
        "4006381333931",
        0x50,
        2,
    )
    assert (second.symbology, second.hri_text) == ("CODE128", "AB-123")


def test_barcode_with_bad_data_is_rejected_like_the_printer():
    job = parse_job(GS + b"k\x02" + b"12AB\x00")
    assert only(job, Barcode) == []
    assert "rejected" in job.warnings[0].message


# -- cuts, drawer, status -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("command", "cut"),
    [
        (GS + b"V\x00", "full"),
        (GS + b"V\x01", "partial"),
        (GS + b"V0", "full"),
        (GS + b"V1", "partial"),
        (GS + b"VA\x10", "full"),
        (GS + b"VB\x00", "partial"),
        (ESC + b"i", "full"),
        (ESC + b"m", "partial"),
    ],
)
def test_every_cut_form_ends_a_receipt(command, cut):
    job = parse_job(b"one\n" + command + b"two\n")
    assert [r.cut for r in job.receipts] == [cut, None]
    assert [lines(Job(job.paper, (r,), (), ()))[0].text for r in job.receipts] == ["one", "two"]


def test_python_escpos_cut_and_cashdraw():
    p = dummy()
    p.textln("slip")
    p.cut()
    p.cashdraw(2)
    job = parse_job(p.output)
    assert [r.cut for r in job.receipts] == ["full"]
    assert [(e.kind, e.detail) for e in job.events] == [("drawer", "pin 2, on 100 ms, off 100 ms")]


def test_status_requests_are_events():
    job = parse_job(DLE + b"\x04\x01" + GS + b"r\x01" + DLE + b"\x04\x04")
    assert [e.detail for e in job.events] == ["DLE EOT 1", "GS r 1", "DLE EOT 4"]
    assert job.warnings == ()


# -- bad input ----------------------------------------------------------------------------------


def test_unknown_command_is_a_warning_with_offset_and_bytes():
    job = parse_job(b"ok\n" + ESC + b"\x7fA\n")
    (warning,) = job.warnings
    assert (warning.offset, warning.raw) == (3, ESC + b"\x7f")
    assert "unknown command ESC 0x7f" in str(warning)


def test_truncated_command_is_a_warning():
    job = parse_job(b"ok\n" + GS + b"v0\x00\x10\x00\x10\x00" + b"\xff" * 10)
    (warning,) = job.warnings
    assert warning.offset == 3 and "truncated GS v 0" in warning.message


def test_text_without_a_final_line_feed_is_never_printed():
    job = parse_job(b"pending")
    assert lines(job) == [] and "never printed" in job.warnings[0].message


def test_display_data_between_esc_equals_is_not_printed():
    p = dummy()
    p.linedisplay("on the display")
    p.textln("on paper")
    assert render_text(parse_job(p.output)) == "on paper\n"


COMMANDS = [
    ESC + b"@",
    ESC + b"!\x38",
    GS + b"!\x11",
    ESC + b"E\x01",
    ESC + b"-\x01",
    GS + b"B\x01",
    ESC + b"a\x01",
    ESC + b"t\x13",
    ESC + b"3\x20",
    ESC + b"d\x02",
    GS + b"V\x42\x00",
    GS + b"v0\x00\x01\x00\x02\x00\xaa\x55",
    GS + b"(k\x03\x00\x31\x43\x04",
    GS + b"(k\x06\x00\x31\x50\x30abc",
    GS + b"(k\x03\x00\x31\x51\x30",
    GS + b"k\x04ABC\x00",
    ESC + b"*\x21\x02\x00" + b"\xff" * 6,
    DLE + b"\x04\x04",
    b"text \xd5\x81",
    b"\n",
]


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_parser_never_raises_on_random_bytes(data):
    job = parse_job(data, PAPERS[58])
    render_text(job)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(st.sampled_from(COMMANDS), st.binary(max_size=8)), max_size=40))
def test_parser_never_raises_on_commands_mixed_with_noise(parts):
    data = b"".join(parts)
    job = parse_job(data)
    assert b"".join(token.raw for token in lex(data)) == data  # every byte is accounted for
    render_image(job)
    render_text(job)


@given(st.lists(st.sampled_from(COMMANDS), max_size=20), st.integers(0, 400))
def test_tokens_found_while_bytes_arrive_match_the_whole_job(parts, split):
    """The simulator reads status requests from partial data: a split must change nothing."""
    data = b"".join(parts)
    split = min(split, len(data))
    found, pos, buffer = [], 0, bytearray()
    for chunk in (data[:split], data[split:]):
        buffer += chunk
        while pos < len(buffer) and (token := next_token(buffer, pos)) is not None:
            found.append(token)
            pos += len(token.raw)
    commands = [t for t in lex(data) if t.name != "TEXT"]
    assert [t for t in found if t.name != "TEXT"] == commands
