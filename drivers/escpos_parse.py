"""Strict ESC/POS parser: the bytes of one print job → what an Epson-style thermal printer
puts on paper.

Two stages, both table-driven by ``_COMMANDS`` (one row per command: its bytes, its grammar,
its effect):

- ``next_token`` / ``lex`` split bytes into text runs and commands. The simulated printer runs
  ``next_token`` on bytes as they arrive to answer status requests in sequence, as a printer
  does.
- ``parse_job`` runs the tokens through a model of the printer (styles, justification, code
  page, line spacing, margins, graphics buffer, QR settings) and returns a ``Job``: receipts
  (paper between cuts) made of laid-out blocks, plus events (drawer kicks, status requests)
  and warnings.

Nothing here raises on bad input. Unknown, truncated, malformed or understood-but-not-simulated
commands become ``ParseWarning`` entries with the offset and the bytes, so a slip that would
print wrongly on a real printer shows up in the job log instead of passing quietly.

Units are printer dots: 203 dpi, Font A 12x24, Font B 9x17, one vertical motion unit = one
dot, default line spacing 30 dots. Choices where printers differ are noted where they are made.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from typing import Final

import qrcode
from qrcode.exceptions import DataOverflowError

Buffer = bytes | bytearray

NUL: Final = b"\x00"
DLE: Final = b"\x10"
ESC: Final = b"\x1b"
FS: Final = b"\x1c"
GS: Final = b"\x1d"

DPI: Final = 203
DEFAULT_LINE_SPACING: Final = 30
FONT_CELLS: Final = {0: (12, 24), 1: (9, 17)}  # font → (width, height) in dots
QUIET_ZONE_MODULES: Final = 4


@dataclass(frozen=True)
class Paper:
    """A roll width: the printable dots and the Font A columns they hold."""

    width_mm: int
    dots: int

    @property
    def columns(self) -> int:
        return self.dots // FONT_CELLS[0][0]


PAPERS: Final = {58: Paper(58, 384), 80: Paper(80, 576)}


# -- tokens -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Token:
    """One text run or command. ``name`` is "TEXT", a command such as "ESC !", "UNKNOWN" or
    "TRUNCATED"; ``problem`` is set when the bytes are malformed for that command."""

    offset: int
    raw: bytes
    name: str
    args: tuple[int, ...] = ()
    payload: bytes = b""
    problem: str = ""


@dataclass(frozen=True, slots=True)
class _Parsed:
    end: int
    args: tuple[int, ...] = ()
    payload: bytes = b""
    problem: str = ""


# A grammar reads a command's parameters starting at pos (just after the command bytes).
# None means the bytes end inside the command: more may come.
Grammar = Callable[[Buffer, int], "_Parsed | None"]


def _fixed(count: int) -> Grammar:
    def read(data: Buffer, pos: int) -> _Parsed | None:
        end = pos + count
        return _Parsed(end, tuple(data[pos:end])) if end <= len(data) else None

    return read


_NO_PARAMS: Final = _fixed(0)


def _until_nul(limit: int) -> Grammar:
    def read(data: Buffer, pos: int) -> _Parsed | None:
        nul = data.find(0, pos, pos + limit + 1)
        if nul >= 0:
            return _Parsed(nul + 1, payload=bytes(data[pos:nul]))
        if len(data) - pos > limit:
            return _Parsed(pos + limit, problem=f"no NUL terminator within {limit} bytes")
        return None

    return read


def _length_prefixed(size: int, selector: bool = False) -> Grammar:
    """[selector] then a little-endian length of `size` bytes, then that many bytes."""

    def read(data: Buffer, pos: int) -> _Parsed | None:
        start = pos + selector
        head_end = start + size
        if head_end > len(data):
            return None
        end = head_end + int.from_bytes(data[start:head_end], "little")
        if end > len(data):
            return None
        args = (data[pos],) if selector else ()
        return _Parsed(end, args, bytes(data[head_end:end]))

    return read


def _header_then_data(head: int, data_size: Callable[[tuple[int, ...]], int | None]) -> Grammar:
    """`head` parameter bytes, then data whose size the parameters give (None: invalid)."""

    def read(data: Buffer, pos: int) -> _Parsed | None:
        head_end = pos + head
        if head_end > len(data):
            return None
        args = tuple(data[pos:head_end])
        size = data_size(args)
        if size is None:
            return _Parsed(head_end, args, problem="invalid parameters")
        end = head_end + size
        if end > len(data):
            return None
        return _Parsed(end, args, bytes(data[head_end:end]))

    return read


def _optional_param(head_values: frozenset[int]) -> Grammar:
    """One parameter, plus a second when the first is in `head_values` (GS V, DLE EOT)."""

    def read(data: Buffer, pos: int) -> _Parsed | None:
        if pos >= len(data):
            return None
        count = 2 if data[pos] in head_values else 1
        return _fixed(count)(data, pos)

    return read


# ESC * m: m → (bytes per column, horizontal scale, vertical scale)
_BIT_IMAGE_MODES: Final = {0: (1, 2, 3), 1: (1, 1, 3), 32: (3, 2, 1), 33: (3, 1, 1)}
_DLE_DC4_PARAMS: Final = {1: 2, 2: 2, 7: 1, 8: 7}


def _bit_image_size(args: tuple[int, ...]) -> int | None:
    mode = _BIT_IMAGE_MODES.get(args[0])
    return None if mode is None else (args[1] + 256 * args[2]) * mode[0]


def _read_dle_dc4(data: Buffer, pos: int) -> _Parsed | None:
    if pos >= len(data):
        return None
    count = _DLE_DC4_PARAMS.get(data[pos])
    if count is None:
        return _Parsed(pos + 1, (data[pos],), problem="unknown DLE DC4 function")
    return _fixed(1 + count)(data, pos)


def _read_barcode(data: Buffer, pos: int) -> _Parsed | None:
    if pos >= len(data):
        return None
    kind = data[pos]
    if kind <= 6:  # function A: data ends with NUL
        found = _until_nul(255)(data, pos + 1)
        return found and replace(found, args=(kind,))
    if 65 <= kind <= 79:  # function B: a length byte, then the data
        found = _length_prefixed(1)(data, pos + 1)
        return found and replace(found, args=(kind, len(found.payload)))
    return _Parsed(pos + 1, (kind,), problem=f"unknown barcode system m={kind}")


def _read_user_characters(data: Buffer, pos: int) -> _Parsed | None:
    """ESC & y c1 c2 [x d1...d(y*x)] for each character c1..c2."""
    if pos + 3 > len(data):
        return None
    rows, first, last = data[pos : pos + 3]
    if last < first:
        return _Parsed(pos + 3, (rows, first, last), problem="c2 < c1")
    cursor = pos + 3
    for _ in range(last - first + 1):
        if cursor >= len(data):
            return None
        cursor += 1 + rows * data[cursor]
    if cursor > len(data):
        return None
    return _Parsed(cursor, (rows, first, last), bytes(data[pos + 3 : cursor]))


@dataclass(frozen=True)
class _Command:
    name: str
    grammar: Grammar
    action: str  # the interpreter's handler: _Printer._cmd_<action>


def _rows() -> dict[bytes, _Command]:
    one, two = _fixed(1), _fixed(2)
    gs_paren = _length_prefixed(2)
    table: list[tuple[bytes, str, Grammar, str]] = [
        (NUL, "NUL", _NO_PARAMS, "ignore"),
        (b"\x07", "BEL", _NO_PARAMS, "beep"),
        (b"\x09", "HT", _NO_PARAMS, "tab"),
        (b"\x0a", "LF", _NO_PARAMS, "line_feed"),
        (b"\x0b", "VT", _NO_PARAMS, "line_feed"),  # printers without vertical tabs feed a line
        (b"\x0c", "FF", _NO_PARAMS, "form_feed"),
        (b"\x0d", "CR", _NO_PARAMS, "ignore"),  # ignored while auto line feed is off (default)
        (b"\x18", "CAN", _NO_PARAMS, "ignore"),
        (DLE + b"\x04", "DLE EOT", _optional_param(frozenset({7, 8})), "status"),
        (DLE + b"\x05", "DLE ENQ", one, "ignore"),
        (DLE + b"\x14", "DLE DC4", _read_dle_dc4, "realtime"),
        (ESC + b"\x0c", "ESC FF", _NO_PARAMS, "ignore"),
        (ESC + b" ", "ESC SP", one, "char_spacing"),
        (ESC + b"!", "ESC !", one, "print_mode"),
        (ESC + b"$", "ESC $", two, "absolute_position"),
        (ESC + b"%", "ESC %", one, "ignore"),
        (ESC + b"&", "ESC &", _read_user_characters, "not_simulated"),
        (ESC + b"*", "ESC *", _header_then_data(3, _bit_image_size), "bit_image"),
        (ESC + b"-", "ESC -", one, "underline"),
        (ESC + b"2", "ESC 2", _NO_PARAMS, "default_spacing"),
        (ESC + b"3", "ESC 3", one, "line_spacing"),
        (ESC + b"+", "ESC +", one, "line_spacing"),  # python-escpos: n/360 inch
        (ESC + b"A", "ESC A", one, "line_spacing"),  # python-escpos: n/60 inch
        (ESC + b"=", "ESC =", one, "select_peripheral"),
        (ESC + b"?", "ESC ?", one, "ignore"),
        (ESC + b"@", "ESC @", _NO_PARAMS, "initialize"),
        (ESC + b"B", "ESC B", two, "beep"),
        (ESC + b"D", "ESC D", _until_nul(32), "tab_stops"),
        (ESC + b"E", "ESC E", one, "bold"),
        (ESC + b"G", "ESC G", one, "bold"),  # double-strike looks like emphasis on a thermal head
        (ESC + b"J", "ESC J", one, "feed_dots"),
        (ESC + b"K", "ESC K", one, "not_simulated"),
        (ESC + b"L", "ESC L", _NO_PARAMS, "page_mode"),
        (ESC + b"M", "ESC M", one, "font"),
        (ESC + b"R", "ESC R", one, "charset"),
        (ESC + b"S", "ESC S", _NO_PARAMS, "standard_mode"),
        (ESC + b"T", "ESC T", one, "ignore"),
        (ESC + b"V", "ESC V", one, "rotate"),
        (ESC + b"W", "ESC W", _fixed(8), "ignore"),
        (ESC + b"\\", "ESC \\", two, "relative_position"),
        (ESC + b"a", "ESC a", one, "justify"),
        (ESC + b"c", "ESC c", two, "ignore"),  # paper sensors, panel buttons, roll/slip
        (ESC + b"d", "ESC d", one, "feed_lines"),
        (ESC + b"e", "ESC e", one, "not_simulated"),
        (ESC + b"i", "ESC i", _NO_PARAMS, "cut"),
        (ESC + b"m", "ESC m", _NO_PARAMS, "cut"),
        (ESC + b"p", "ESC p", _fixed(3), "drawer_kick"),
        (ESC + b"r", "ESC r", one, "ignore"),  # second colour: thermal paper has one
        (ESC + b"t", "ESC t", one, "code_page"),
        (ESC + b"u", "ESC u", one, "status"),
        (ESC + b"v", "ESC v", _NO_PARAMS, "status"),
        (ESC + b"{", "ESC {", one, "upside_down"),
        (ESC + b"(A", "ESC ( A", gs_paren, "beep"),
        (ESC + b"(Y", "ESC ( Y", gs_paren, "ignore"),
        (ESC + b"(", "ESC (", _length_prefixed(2, selector=True), "unknown"),
        (FS + b"!", "FS !", one, "ignore"),  # Kanji modes: no Kanji font here
        (FS + b"&", "FS &", _NO_PARAMS, "ignore"),
        (FS + b"-", "FS -", one, "ignore"),
        (FS + b".", "FS .", _NO_PARAMS, "ignore"),
        (FS + b"?", "FS ?", two, "ignore"),
        (FS + b"C", "FS C", one, "ignore"),
        (FS + b"S", "FS S", two, "ignore"),
        (FS + b"W", "FS W", one, "ignore"),
        (FS + b"p", "FS p", two, "not_simulated"),
        (FS + b"(", "FS (", _length_prefixed(2, selector=True), "ignore"),
        (GS + b"!", "GS !", one, "char_size"),
        (GS + b"$", "GS $", two, "ignore"),
        (GS + b"*", "GS *", _header_then_data(2, lambda a: a[0] * a[1] * 8), "not_simulated"),
        (GS + b"/", "GS /", one, "not_simulated"),
        (GS + b":", "GS :", _NO_PARAMS, "ignore"),
        (GS + b"B", "GS B", one, "reverse"),
        (GS + b"H", "GS H", one, "hri_position"),
        (GS + b"I", "GS I", one, "status"),
        (GS + b"L", "GS L", two, "left_margin"),
        (GS + b"P", "GS P", two, "ignore"),
        (GS + b"V", "GS V", _optional_param(frozenset({65, 66, 97, 98, 103, 104})), "cut"),
        (GS + b"W", "GS W", two, "print_width"),
        (GS + b"\\", "GS \\", two, "ignore"),
        (GS + b"^", "GS ^", _fixed(3), "ignore"),
        (GS + b"a", "GS a", one, "auto_status"),
        (GS + b"b", "GS b", one, "ignore"),  # smoothing
        (GS + b"f", "GS f", one, "hri_font"),
        (GS + b"h", "GS h", one, "barcode_height"),
        (GS + b"k", "GS k", _read_barcode, "barcode"),
        (GS + b"r", "GS r", one, "status"),
        (GS + b"w", "GS w", one, "barcode_width"),
        (GS + b"|", "GS |", one, "ignore"),  # python-escpos print density
        (GS + b"v0", "GS v 0", _header_then_data(5, _raster_size), "raster"),
        (GS + b"8L", "GS 8 L", _length_prefixed(4), "graphics"),
        (GS + b"(L", "GS ( L", gs_paren, "graphics"),
        (GS + b"(k", "GS ( k", gs_paren, "symbol"),
        *((GS + b"(" + fn, f"GS ( {fn.decode()}", gs_paren, "ignore") for fn in _QUIET_GS_PAREN),
        (GS + b"(", "GS (", _length_prefixed(2, selector=True), "unknown"),
    ]
    return {key: _Command(name, grammar, action) for key, name, grammar, action in table}


def _raster_size(args: tuple[int, ...]) -> int:
    return (args[1] + 256 * args[2]) * (args[3] + 256 * args[4])


# GS ( X settings with no effect on paper (density, error recovery, response, user setup...).
_QUIET_GS_PAREN: Final = (b"A", b"C", b"D", b"E", b"H", b"K", b"M", b"N", b"P", b"Q", b"z")
_COMMANDS: Final = _rows()
_PREFIXES: Final = frozenset(key[:i] for key in _COMMANDS for i in range(1, len(key)))
_TEXT_RUN: Final = re.compile(rb"[\x20-\xff]+")
STATUS_COMMANDS: Final = frozenset({"DLE EOT", "GS r", "GS I", "ESC u", "ESC v"})


def next_token(data: Buffer, pos: int) -> Token | None:
    """The token starting at `pos`, or None when the bytes end inside a command."""
    if data[pos] >= 0x20:
        end = _TEXT_RUN.match(data, pos).end()  # type: ignore[union-attr]
        text = bytes(data[pos:end])
        return Token(pos, text, "TEXT", payload=text)
    for size in (3, 2, 1):
        key = bytes(data[pos : pos + size])
        command = _COMMANDS.get(key) if len(key) == size else None
        if command is None:
            continue
        parsed = command.grammar(data, pos + size)
        if parsed is None:
            return None
        raw = bytes(data[pos : parsed.end])
        return Token(pos, raw, command.name, parsed.args, parsed.payload, parsed.problem)
    if pos + 3 > len(data) and bytes(data[pos:]) in _PREFIXES:
        return None
    # An unknown ESC/GS/FS/DLE command is its prefix and one byte; a printer would then take
    # any parameters that follow as text, and so do we.
    size = 2 if data[pos : pos + 1] in (ESC, GS, FS, DLE) and pos + 1 < len(data) else 1
    return Token(pos, bytes(data[pos : pos + size]), "UNKNOWN")


def lex(data: Buffer) -> Iterator[Token]:
    """Every token of a complete job; a command cut off by the end becomes TRUNCATED."""
    pos = 0
    while pos < len(data):
        token = next_token(data, pos)
        if token is None:
            yield Token(pos, bytes(data[pos:]), "TRUNCATED")
            return
        yield token
        pos += len(token.raw)


def describe(raw: bytes) -> str:
    """A command's name, or its first bytes the way the manuals write them: "ESC 0x7a ('z')"."""
    for size in (3, 2, 1):
        command = _COMMANDS.get(raw[:size]) if len(raw) >= size else None
        if command:
            return command.name
    names = {NUL: "NUL", DLE: "DLE", ESC: "ESC", FS: "FS", GS: "GS"}
    parts = [names.get(raw[:1], f"0x{raw[0]:02x}")] if raw else []
    parts += [f"0x{b:02x} ({chr(b)!r})" if 0x20 < b < 0x7F else f"0x{b:02x}" for b in raw[1:2]]
    return " ".join(parts)


# -- the printed model ------------------------------------------------------------------------


@dataclass(frozen=True)
class Style:
    font: int = 0
    bold: bool = False
    underline: int = 0  # dots thick: 0, 1 or 2
    width: int = 1  # character size multipliers, 1..8
    height: int = 1
    reverse: bool = False

    @property
    def cell(self) -> tuple[int, int]:
        width, height = FONT_CELLS[self.font]
        return width * self.width, height * self.height


@dataclass(frozen=True)
class Bitmap:
    """Row-major 1-bit pixels, MSB first, 1 = black dot: the ESC/POS raster format."""

    width: int
    height: int
    data: bytes


@dataclass(frozen=True)
class Graphic:
    """A bitmap placed on the paper at x dots, printed scale_x by scale_y dots per pixel."""

    x: int
    bitmap: Bitmap
    scale_x: int = 1
    scale_y: int = 1

    @property
    def width(self) -> int:
        return self.bitmap.width * self.scale_x

    @property
    def height(self) -> int:
        return self.bitmap.height * self.scale_y


@dataclass(frozen=True)
class Run:
    """Characters of one style printed side by side from x, `pitch` dots apart."""

    x: int
    text: str
    style: Style
    pitch: int

    @property
    def width(self) -> int:
        return self.pitch * len(self.text)


@dataclass(frozen=True)
class TextLine:
    """One printed line: text runs and ESC * bit images, then `advance` dots of paper."""

    runs: tuple[Run, ...]
    graphics: tuple[Graphic, ...]
    align: int  # 0 left, 1 centre, 2 right
    left: int  # the print area the line was justified in
    right: int
    height: int
    advance: int

    @property
    def text(self) -> str:
        return "".join(run.text for run in self.runs)


@dataclass(frozen=True)
class Feed:
    """Blank paper: `dots` of feed, worth `lines` empty lines of text."""

    dots: int
    lines: int


@dataclass(frozen=True)
class Picture:
    """A raster image block (GS v 0, GS ( L)."""

    graphic: Graphic
    command: str


@dataclass(frozen=True)
class QrSymbol:
    """A native QR code, with its quiet zone, `module` dots per module."""

    x: int
    payload: bytes
    module: int
    error_correction: str
    matrix: tuple[tuple[bool, ...], ...]

    @property
    def size(self) -> int:
        return len(self.matrix) * self.module


@dataclass(frozen=True)
class Barcode:
    """A 1D barcode: `bars` is one character per module, "1" for a bar."""

    x: int
    symbology: str
    data: bytes
    bars: str
    module: int
    bar_height: int
    hri_text: str
    hri_position: int  # 0 none, 1 above, 2 below, 3 both
    hri_font: int

    @property
    def width(self) -> int:
        return len(self.bars) * self.module

    @property
    def hri_height(self) -> int:
        return FONT_CELLS[self.hri_font][1]

    @property
    def height(self) -> int:
        hri_lines = {0: 0, 1: 1, 2: 1, 3: 2}[self.hri_position]
        return self.bar_height + hri_lines * self.hri_height


Block = TextLine | Feed | Picture | QrSymbol | Barcode


@dataclass(frozen=True)
class Receipt:
    """Paper between two cuts; `cut` is "full", "partial" or None when the job left it on."""

    blocks: tuple[Block, ...]
    cut: str | None


@dataclass(frozen=True)
class Event:
    """Something the job asked for that leaves no ink: a drawer kick, a status request."""

    offset: int
    kind: str
    detail: str


@dataclass(frozen=True)
class ParseWarning:
    offset: int
    message: str
    raw: bytes

    def __str__(self) -> str:
        shown = self.raw[:24].hex(" ") + (" …" if len(self.raw) > 24 else "")
        return f"offset {self.offset}: {self.message} [{shown}]"


@dataclass(frozen=True)
class Job:
    paper: Paper
    receipts: tuple[Receipt, ...]
    events: tuple[Event, ...]
    warnings: tuple[ParseWarning, ...]

    @property
    def blocks(self) -> tuple[Block, ...]:
        return tuple(block for receipt in self.receipts for block in receipt.blocks)


# -- code pages and international character sets ----------------------------------------------

# ESC t n → (Epson's name, Python codec); None where Python has no codec for the table.
CODE_PAGES: Final[dict[int, tuple[str, str | None]]] = {
    0: ("PC437", "cp437"),
    1: ("Katakana", None),
    2: ("PC850", "cp850"),
    3: ("PC860", "cp860"),
    4: ("PC863", "cp863"),
    5: ("PC865", "cp865"),
    6: ("Hiragana", None),
    7: ("One-pass Kanji", None),
    8: ("One-pass Kanji", None),
    11: ("PC851", None),
    12: ("PC853", None),
    13: ("PC857", "cp857"),
    14: ("PC737", "cp737"),
    15: ("ISO8859-7", "iso8859_7"),
    16: ("WPC1252", "cp1252"),
    17: ("PC866", "cp866"),
    18: ("PC852", "cp852"),
    19: ("PC858", "cp858"),
    **{n: (f"Thai {n}", None) for n in range(20, 27)},
    30: ("TCVN-3", None),
    31: ("TCVN-3 capitals", None),
    32: ("PC720", "cp720"),
    33: ("WPC775", "cp775"),
    34: ("PC855", "cp855"),
    35: ("PC861", "cp861"),
    36: ("PC862", "cp862"),
    37: ("PC864", "cp864"),
    38: ("PC869", "cp869"),
    39: ("ISO8859-2", "iso8859_2"),
    40: ("ISO8859-15", "iso8859_15"),
    41: ("PC1098", None),
    42: ("PC1118", None),
    43: ("PC1119", None),
    44: ("PC1125", "cp1125"),
    45: ("WPC1250", "cp1250"),
    46: ("WPC1251", "cp1251"),
    47: ("WPC1253", "cp1253"),
    48: ("WPC1254", "cp1254"),
    49: ("WPC1255", "cp1255"),
    50: ("WPC1256", "cp1256"),
    51: ("WPC1257", "cp1257"),
    52: ("WPC1258", "cp1258"),
    53: ("KZ-1048", "kz1048"),
    255: ("user-defined", None),
}

# ESC R n: what the 12 national positions print as (ISO 646 variants, as in Epson's table).
_NATIONAL_POSITIONS: Final = "#$@[\\]^`{|}~"
_CHARSETS: Final = {
    0: "#$@[\\]^`{|}~",  # USA
    1: "#$à°ç§^`éùè¨",  # France
    2: "#$§ÄÖÜ^`äöüß",  # Germany
    3: "£$@[\\]^`{|}~",  # UK
    4: "#$@ÆØÅ^`æøå~",  # Denmark I
    5: "#¤ÉÄÖÅÜéäöåü",  # Sweden
    6: "#$@°\\é^ùàòèì",  # Italy
    7: "₧$@¡Ñ¿^`¨ñ}~",  # Spain I
    8: "#$@[¥]^`{|}~",  # Japan
    9: "#¤ÉÆØÅÜéæøåü",  # Norway
    10: "#$ÉÆØÅÜéæøåü",  # Denmark II
    11: "#$á¡Ñ¿é`íñóú",  # Spain II
    12: "#$á¡Ñ¿éüíñóú",  # Latin America
    13: "#$@[₩]^`{|}~",  # Korea
}
_CHARSET_TABLES: Final = {
    n: str.maketrans(_NATIONAL_POSITIONS, chars) for n, chars in _CHARSETS.items()
}

_QR_ERROR_CORRECTION: Final = {
    48: ("L", qrcode.constants.ERROR_CORRECT_L),
    49: ("M", qrcode.constants.ERROR_CORRECT_M),
    50: ("Q", qrcode.constants.ERROR_CORRECT_Q),
    51: ("H", qrcode.constants.ERROR_CORRECT_H),
}
_QR_MODELS: Final = {49: "model 1", 50: "model 2", 51: "Micro QR"}

# GS k m → (Epson's name, python-barcode's name or None when it cannot draw that symbology)
_SYMBOLOGIES: Final[dict[int, tuple[str, str | None]]] = {
    0: ("UPC-A", "upca"),
    1: ("UPC-E", None),
    2: ("EAN13", "ean13"),
    3: ("EAN8", "ean8"),
    4: ("CODE39", "code39"),
    5: ("ITF", "itf"),
    6: ("CODABAR", "codabar"),
    72: ("CODE93", None),
    73: ("CODE128", "code128"),
    74: ("GS1-128", "gs1_128"),
    75: ("GS1 DataBar Omnidirectional", None),
    76: ("GS1 DataBar Truncated", None),
    77: ("GS1 DataBar Limited", None),
    78: ("GS1 DataBar Expanded", None),
}


def _symbology(kind: int) -> tuple[str, str | None]:
    return _SYMBOLOGIES.get(kind - 65 if 65 <= kind <= 71 else kind, (f"m={kind}", None))


def _code128_text(data: bytes) -> str:
    """ESC/POS Code 128 data ("{B" code-set selectors, "{C" digit pairs) → the plain text."""
    out: list[str] = []
    code_set, i = "B", 0
    while i < len(data):
        if data[i] == 0x7B and i + 1 < len(data):
            selector = chr(data[i + 1])
            code_set = selector if selector in "ABC" else code_set
            out.append("{" if selector == "{" else "")  # FNC and SHIFT codes have no text
            i += 2
            continue
        if code_set == "C" and data[i] > 99:
            raise ValueError(f"{data[i]} is not a Code C digit pair")
        out.append(f"{data[i]:02d}" if code_set == "C" else chr(data[i]))
        i += 1
    return "".join(out)


def _barcode_bars(library_name: str, data: bytes) -> tuple[str, str]:
    """(bars, human-readable text) as python-barcode draws the symbol; raises on bad data."""
    import barcode  # python-barcode, installed with python-escpos

    text = _code128_text(data) if library_name in ("code128", "gs1_128") else data.decode("ascii")
    options = {"add_checksum": False} if library_name == "code39" else {}
    symbol = barcode.get_barcode_class(library_name)(text, **options)
    return "".join(symbol.build()), symbol.get_fullcode()


# -- the printer model ------------------------------------------------------------------------


@dataclass
class _State:
    """Everything ESC @ resets."""

    code_page: int
    area_width: int
    style: Style = field(default_factory=Style)
    align: int = 0
    line_spacing: int = DEFAULT_LINE_SPACING
    charset: int = 0
    char_spacing: int = 0
    left_margin: int = 0
    tab_stops: tuple[int, ...] = ()
    barcode_height: int = 162
    barcode_module: int = 3
    hri_position: int = 0
    hri_font: int = 0
    qr_model: int = 50
    qr_module: int = 3
    qr_error_correction: int = 48
    qr_data: bytes = b""

    def __post_init__(self) -> None:
        if not self.tab_stops:  # every 8 Font A characters
            self.tab_stops = tuple(range(96, self.area_width, 96))


@dataclass
class _Glyph:
    x: int
    char: str
    style: Style
    pitch: int


@dataclass
class _LineBuffer:
    """What has been received for the current line but not printed yet."""

    glyphs: list[_Glyph] = field(default_factory=list)
    graphics: list[Graphic] = field(default_factory=list)
    x: int = 0  # next print position, dots from the left margin

    @property
    def empty(self) -> bool:
        return not self.glyphs and not self.graphics and self.x == 0

    @property
    def extent(self) -> int:
        ends = [g.x + g.pitch for g in self.glyphs] + [g.x + g.width for g in self.graphics]
        return max([self.x, *ends])

    @property
    def height(self) -> int:
        heights = [g.style.cell[1] for g in self.glyphs] + [g.height for g in self.graphics]
        return max(heights, default=0)


def _runs(glyphs: list[_Glyph], shift: int) -> tuple[Run, ...]:
    """Group adjacent same-style glyphs into runs placed `shift` dots further right."""
    runs: list[Run] = []
    for glyph in glyphs:
        last = runs[-1] if runs else None
        if (
            last
            and last.style == glyph.style
            and last.pitch == glyph.pitch
            and last.x + last.width == glyph.x + shift
        ):
            runs[-1] = replace(last, text=last.text + glyph.char)
        else:
            runs.append(Run(glyph.x + shift, glyph.char, glyph.style, glyph.pitch))
    return tuple(runs)


def _mode(value: int, allowed: range | tuple[int, ...]) -> int | None:
    """ESC/POS accepts most modes both as n and as ASCII digit "n" (48 + n)."""
    for candidate in (value, value - 48):
        if candidate in allowed:
            return candidate
    return None


def _bitmap_from_columns(data: bytes, columns: int, dots: int) -> Bitmap:
    """ESC * column data (each column `dots` tall, MSB at the top) → a row-major Bitmap."""
    column_bytes = dots // 8
    row_bytes = (columns + 7) // 8
    rows = bytearray(row_bytes * dots)
    for column in range(columns):
        for byte_index in range(column_bytes):
            value = data[column * column_bytes + byte_index]
            for bit in range(8):
                if value & (0x80 >> bit):
                    y = byte_index * 8 + bit
                    rows[y * row_bytes + column // 8] |= 0x80 >> (column % 8)
    return Bitmap(columns, dots, bytes(rows))


class _Printer:
    """Runs tokens through the printer's state; `_cmd_<action>` handles each command."""

    def __init__(
        self,
        paper: Paper,
        default_code_page: int,
        code_pages: Mapping[int, tuple[str, str | None]] | None = None,
    ) -> None:
        self.paper = paper
        self.default_code_page = default_code_page
        self.code_pages = code_pages or CODE_PAGES
        self.state = _State(default_code_page, paper.dots)
        self.line = _LineBuffer()
        self.blocks: list[Block] = []
        self.receipts: list[Receipt] = []
        self.events: list[Event] = []
        self.warnings: list[ParseWarning] = []
        self.enabled = True  # ESC = : off while the data is for a daisy-chained display
        self.page_mode = False
        self.graphics_buffer: Graphic | None = None
        self.token = Token(0, b"", "")

    def run(self, tokens: Iterator[Token]) -> Job:
        for token in tokens:
            self.token = token
            self._dispatch(token)
        if not self.line.empty:
            self.warn("data left in the print buffer was never printed (no LF at the end)")
        if self.blocks or not self.receipts:
            self.receipts.append(Receipt(tuple(self.blocks), None))
        return Job(self.paper, tuple(self.receipts), tuple(self.events), tuple(self.warnings))

    def _dispatch(self, token: Token) -> None:
        if token.name == "TEXT":
            if self.enabled:
                self._print_text(token.payload)
        elif token.name == "TRUNCATED":
            self.warn(f"truncated {describe(token.raw)} command: the job ends inside it")
        elif token.name == "UNKNOWN":
            self.warn(f"unknown command {describe(token.raw)}")
        elif token.problem:
            self.warn(f"{token.name}: {token.problem}; not executed")
        elif self.enabled or token.name in ("ESC =", *STATUS_COMMANDS):
            _DISPATCH[token.name](self, token)

    # -- helpers ------------------------------------------------------------------------------

    def warn(self, message: str) -> None:
        self.warnings.append(ParseWarning(self.token.offset, message, self.token.raw))

    def event(self, kind: str, detail: str) -> None:
        self.events.append(Event(self.token.offset, kind, detail))

    def invalid(self, what: str = "parameter") -> None:
        self.warn(f"{self.token.name}: invalid {what} {self.token.args}; ignored")

    @property
    def area_left(self) -> int:
        return self.state.left_margin

    @property
    def area_right(self) -> int:
        return min(self.paper.dots, self.state.left_margin + self.state.area_width)

    def block_x(self, width: int) -> int:
        """Where a block `width` dots wide starts under the current justification."""
        room = self.area_right - self.area_left - width
        return self.area_left + max(0, (room * self.state.align) // 2)

    def update_style(self, **changes: object) -> None:
        self.state.style = replace(self.state.style, **changes)  # type: ignore[arg-type]

    def print_line(self, advance: int | None = None) -> bool:
        """Print the line buffer; `advance` overrides the line spacing. False when empty."""
        line = self.line
        if line.empty:
            return False
        room = self.area_right - self.area_left
        shift = self.area_left + max(0, ((room - line.extent) * self.state.align) // 2)
        graphics = tuple(replace(g, x=g.x + shift) for g in line.graphics)
        height = line.height
        feed = max(height, self.state.line_spacing if advance is None else advance)
        runs = _runs(line.glyphs, shift)
        self.blocks.append(
            TextLine(
                runs, graphics, self.state.align, self.area_left, self.area_right, height, feed
            )
        )
        self.line = _LineBuffer()
        return True

    def start_block(self) -> None:
        """Block commands (images, symbols, cuts) begin at the start of a line."""
        if self.print_line():
            self.warn(f"{self.token.name} with data in the print buffer: printed that line first")

    def feed(self, dots: int) -> None:
        self.blocks.append(Feed(dots, dots // max(1, self.state.line_spacing)))

    def add_block(self, block: Block, width: int) -> None:
        if self.area_left + width > self.area_right:
            self.warn(f"{self.token.name}: {width} dots do not fit the print area; not printed")
            return
        self.blocks.append(block)

    # -- text ---------------------------------------------------------------------------------

    def _decode(self, data: bytes) -> str:
        codec = self.code_pages.get(self.state.code_page, ("", None))[1] or "cp437"
        return data.decode(codec, errors="replace").translate(_CHARSET_TABLES[self.state.charset])

    def _print_text(self, data: bytes) -> None:
        style = self.state.style
        pitch = (FONT_CELLS[style.font][0] + self.state.char_spacing) * style.width
        room = self.area_right - self.area_left
        for char in self._decode(data):
            if self.line.x + pitch > room and not self.line.empty:
                self.print_line()  # the printer wraps a full line by itself
            self.line.glyphs.append(_Glyph(self.line.x, char, style, pitch))
            self.line.x += pitch

    # -- commands: each `_cmd_<action>` is named in _COMMANDS ----------------------------------

    def _cmd_ignore(self, token: Token) -> None:
        """Understood; nothing on paper."""

    def _cmd_not_simulated(self, token: Token) -> None:
        self.warn(f"{token.name} is understood but not simulated")

    def _cmd_unknown(self, token: Token) -> None:
        self.warn(f"unknown command {token.name} {chr(token.args[0])!r}; skipped its data")

    def _cmd_beep(self, token: Token) -> None:
        self.event("beep", token.name)

    def _cmd_status(self, token: Token) -> None:
        self.event("status", " ".join([token.name, *map(str, token.args)]))

    def _cmd_realtime(self, token: Token) -> None:
        if token.args[0] == 1:
            pin = 5 if token.args[1] else 2
            self.event("drawer", f"pin {pin}, pulse {token.args[2] * 100} ms (DLE DC4)")

    def _cmd_drawer_kick(self, token: Token) -> None:
        pin = _mode(token.args[0], (0, 1))
        if pin is None:
            return self.invalid()
        on_ms, off_ms = token.args[1] * 2, token.args[2] * 2
        self.event("drawer", f"pin {5 if pin else 2}, on {on_ms} ms, off {off_ms} ms")

    def _cmd_initialize(self, token: Token) -> None:
        if not self.line.empty:
            self.warn("ESC @ discarded data in the print buffer that was never printed")
        self.line = _LineBuffer()
        self.state = _State(self.default_code_page, self.paper.dots)

    def _cmd_select_peripheral(self, token: Token) -> None:
        self.enabled = bool(token.args[0] & 1)

    def _cmd_page_mode(self, token: Token) -> None:
        self.page_mode = True
        self.warn("page mode is not simulated: data is printed as in standard mode")

    def _cmd_standard_mode(self, token: Token) -> None:
        self.page_mode = False

    def _cmd_form_feed(self, token: Token) -> None:
        if self.page_mode:  # in standard mode FF is ignored
            self.print_line()
            self.page_mode = False

    def _cmd_line_feed(self, token: Token) -> None:
        if not self.print_line():
            self.feed(self.state.line_spacing)

    def _cmd_feed_lines(self, token: Token) -> None:
        lines = token.args[0]
        printed = self.print_line(None if lines else 0)
        extra = lines - 1 if printed else lines
        if extra > 0:
            self.feed(extra * self.state.line_spacing)

    def _cmd_feed_dots(self, token: Token) -> None:
        if not self.print_line(token.args[0]):
            self.feed(token.args[0])

    def _cmd_default_spacing(self, token: Token) -> None:
        self.state.line_spacing = DEFAULT_LINE_SPACING

    def _cmd_line_spacing(self, token: Token) -> None:
        per_inch = {"ESC 3": DPI, "ESC +": 360, "ESC A": 60}[token.name]
        self.state.line_spacing = round(token.args[0] * DPI / per_inch)

    def _cmd_print_mode(self, token: Token) -> None:
        n = token.args[0]
        self.update_style(
            font=n & 1,
            bold=bool(n & 8),
            height=2 if n & 16 else 1,
            width=2 if n & 32 else 1,
            underline=1 if n & 128 else 0,
        )

    def _cmd_char_size(self, token: Token) -> None:
        n = token.args[0]
        if n & 0x88:
            return self.invalid()
        self.update_style(width=(n >> 4) + 1, height=(n & 7) + 1)

    def _cmd_bold(self, token: Token) -> None:
        self.update_style(bold=bool(token.args[0] & 1))

    def _cmd_underline(self, token: Token) -> None:
        thickness = _mode(token.args[0], range(3))
        if thickness is None:
            return self.invalid()
        self.update_style(underline=thickness)

    def _cmd_reverse(self, token: Token) -> None:
        self.update_style(reverse=bool(token.args[0] & 1))

    def _cmd_font(self, token: Token) -> None:
        font = _mode(token.args[0], (0, 1))
        if font is None:
            return self.warn(f"ESC M: font {token.args[0]} is not simulated; font unchanged")
        self.update_style(font=font)

    def _cmd_upside_down(self, token: Token) -> None:
        if token.args[0] & 1:
            self.warn("upside-down printing is not simulated")

    def _cmd_rotate(self, token: Token) -> None:
        if _mode(token.args[0], (1, 2)) is not None:
            self.warn("90° rotated printing is not simulated")

    def _cmd_char_spacing(self, token: Token) -> None:
        self.state.char_spacing = token.args[0]

    def _cmd_code_page(self, token: Token) -> None:
        n = token.args[0]
        if n not in self.code_pages:
            return self.invalid("code page")
        name, codec = self.code_pages[n]
        if codec is None:
            self.warn(f"code page {n} ({name}) is not simulated: its letters print as PC437")
        self.state.code_page = n

    def _cmd_charset(self, token: Token) -> None:
        n = token.args[0]
        if n not in _CHARSETS:
            return self.warn(f"international character set {n} is not simulated; unchanged")
        self.state.charset = n

    def _cmd_justify(self, token: Token) -> None:
        align = _mode(token.args[0], range(3))
        if align is None:
            return self.invalid()
        if not self.line.empty:  # Epson: only at the beginning of a line
            return self.warn("ESC a in the middle of a line is ignored by the printer")
        self.state.align = align

    def _cmd_left_margin(self, token: Token) -> None:
        if not self.line.empty:
            return self.warn("GS L in the middle of a line is ignored by the printer")
        self.state.left_margin = min(token.args[0] + 256 * token.args[1], self.paper.dots - 1)

    def _cmd_print_width(self, token: Token) -> None:
        if not self.line.empty:
            return self.warn("GS W in the middle of a line is ignored by the printer")
        self.state.area_width = max(1, token.args[0] + 256 * token.args[1])

    def _cmd_tab_stops(self, token: Token) -> None:
        style = self.state.style
        pitch = (FONT_CELLS[style.font][0] + self.state.char_spacing) * style.width
        self.state.tab_stops = tuple(column * pitch for column in token.payload)

    def _cmd_tab(self, token: Token) -> None:
        room = self.area_right - self.area_left
        stop = next((s for s in self.state.tab_stops if self.line.x < s < room), None)
        if stop is not None:  # past the last stop, HT is ignored
            self.line.x = stop

    def _cmd_absolute_position(self, token: Token) -> None:
        self._move_to(token.args[0] + 256 * token.args[1])

    def _cmd_relative_position(self, token: Token) -> None:
        step = int.from_bytes(bytes(token.args), "little", signed=True)
        self._move_to(self.line.x + step)

    def _move_to(self, x: int) -> None:
        if 0 <= x < self.area_right - self.area_left:  # outside the print area: ignored
            self.line.x = x

    def _cmd_cut(self, token: Token) -> None:
        args = token.args
        if not args:  # ESC i, ESC m: the older full and partial cut
            mode: int | None = int(token.name == "ESC m")
        elif args[0] in (65, 66, 97, 98, 103, 104):
            mode = (args[0] - 1) % 2  # 65/97/103 full, 66/98/104 partial, after a feed
        else:
            mode = _mode(args[0], range(2))
        if mode is None:
            return self.invalid()
        self.start_block()
        if len(args) > 1 and args[1]:
            self.feed(args[1])
        self.receipts.append(Receipt(tuple(self.blocks), "partial" if mode else "full"))
        self.blocks = []

    def _cmd_auto_status(self, token: Token) -> None:
        if token.args[0]:
            self.warn("automatic status back (ASB) is not simulated: no status is sent")

    # -- images -------------------------------------------------------------------------------

    def _cmd_bit_image(self, token: Token) -> None:
        mode, low, high = token.args
        column_bytes, scale_x, scale_y = _BIT_IMAGE_MODES[mode]
        columns = low + 256 * high
        if not columns:
            return
        bitmap = _bitmap_from_columns(token.payload, columns, column_bytes * 8)
        self.line.graphics.append(Graphic(self.line.x, bitmap, scale_x, scale_y))
        self.line.x += columns * scale_x

    def _cmd_raster(self, token: Token) -> None:
        mode = _mode(token.args[0], range(4))
        width_bytes, height = (
            token.args[1] + 256 * token.args[2],
            token.args[3] + 256 * token.args[4],
        )
        if mode is None or not width_bytes or not height:
            return self.invalid()
        bitmap = Bitmap(width_bytes * 8, height, token.payload)
        self._print_picture(bitmap, 1 + (mode & 1), 1 + (mode >> 1))

    def _print_picture(self, bitmap: Bitmap, scale_x: int, scale_y: int) -> None:
        self.start_block()
        graphic = Graphic(0, bitmap, scale_x, scale_y)
        placed = replace(graphic, x=self.block_x(graphic.width))
        self.add_block(Picture(placed, self.token.name), graphic.width)

    def _cmd_graphics(self, token: Token) -> None:
        if len(token.payload) < 2 or token.payload[0] != 48:
            return self.warn(f"{token.name}: malformed function header; ignored")
        function, params = token.payload[1], token.payload[2:]
        if function == 112:
            self._store_graphics(params)
        elif function in (2, 50):
            self._print_graphics_buffer()
        elif function not in (1, 49):  # 49 sets the dot density: 180 dpi or less, all the same
            self.warn(f"{token.name} function {function} is not simulated")

    def _store_graphics(self, params: bytes) -> None:
        if len(params) < 8:
            return self.warn("GS ( L store: header too short; ignored")
        tone, scale_x, scale_y, _colour = params[:4]
        width, height = params[4] + 256 * params[5], params[6] + 256 * params[7]
        data = params[8:]
        if tone != 48 or scale_x not in (1, 2) or scale_y not in (1, 2):
            return self.warn("GS ( L store: only monochrome, 1x or 2x graphics are simulated")
        if not width or not height or len(data) != (width + 7) // 8 * height:
            return self.warn("GS ( L store: data size does not match width and height; ignored")
        self.graphics_buffer = Graphic(0, Bitmap(width, height, data), scale_x, scale_y)

    def _print_graphics_buffer(self) -> None:
        if self.graphics_buffer is None:
            return self.warn("GS ( L print with no graphics stored; nothing printed")
        graphic = self.graphics_buffer
        self._print_picture(graphic.bitmap, graphic.scale_x, graphic.scale_y)

    # -- symbols ------------------------------------------------------------------------------

    def _cmd_symbol(self, token: Token) -> None:
        if len(token.payload) < 2:
            return self.warn("GS ( k: too short for a symbol type and function; ignored")
        symbol_type, function, params = token.payload[0], token.payload[1], token.payload[2:]
        if symbol_type != 49:
            return self.warn(f"GS ( k: 2D symbol type cn={symbol_type} is not simulated (QR only)")
        handler = _QR_FUNCTIONS.get(function)
        if handler is None:
            return self.warn(f"GS ( k: QR function {function} is not simulated")
        handler(self, params)

    def _qr_model(self, params: bytes) -> None:
        if not params or params[0] not in _QR_MODELS:
            return self.warn("GS ( k: invalid QR model; unchanged")
        if params[0] != 50:
            self.warn(f"GS ( k: {_QR_MODELS[params[0]]} is simulated as QR model 2")
        self.state.qr_model = params[0]

    def _qr_module(self, params: bytes) -> None:
        if not params or not 1 <= params[0] <= 16:
            return self.warn("GS ( k: QR module size must be 1-16 dots; unchanged")
        self.state.qr_module = params[0]

    def _qr_error_correction(self, params: bytes) -> None:
        if not params or params[0] not in _QR_ERROR_CORRECTION:
            return self.warn("GS ( k: invalid QR error correction level; unchanged")
        self.state.qr_error_correction = params[0]

    def _qr_store(self, params: bytes) -> None:
        if not params or params[0] != 48:
            return self.warn("GS ( k: QR store needs m=48; ignored")
        self.state.qr_data = params[1:]

    def _qr_print(self, params: bytes) -> None:
        if not self.state.qr_data:
            return self.warn("GS ( k: QR print with no data stored; nothing printed")
        level, constant = _QR_ERROR_CORRECTION[self.state.qr_error_correction]
        code = qrcode.QRCode(error_correction=constant, border=QUIET_ZONE_MODULES)
        try:
            code.add_data(self.state.qr_data)
            code.make(fit=True)
        except (DataOverflowError, ValueError) as error:
            return self.warn(f"GS ( k: QR data does not fit a symbol ({error}); nothing printed")
        matrix = tuple(tuple(row) for row in code.get_matrix())
        self.start_block()
        module = self.state.qr_module
        symbol = QrSymbol(0, self.state.qr_data, module, level, matrix)
        self.add_block(replace(symbol, x=self.block_x(symbol.size)), symbol.size)

    def _cmd_hri_position(self, token: Token) -> None:
        position = _mode(token.args[0], range(4))
        if position is None:
            return self.invalid()
        self.state.hri_position = position

    def _cmd_hri_font(self, token: Token) -> None:
        font = _mode(token.args[0], (0, 1))
        if font is None:
            return self.invalid()
        self.state.hri_font = font

    def _cmd_barcode_height(self, token: Token) -> None:
        if not token.args[0]:
            return self.invalid()
        self.state.barcode_height = token.args[0]

    def _cmd_barcode_width(self, token: Token) -> None:
        if not 1 <= token.args[0] <= 6:
            return self.invalid()
        self.state.barcode_module = token.args[0]

    def _cmd_barcode(self, token: Token) -> None:
        name, library_name = _symbology(token.args[0])
        if library_name is None:
            return self.warn(f"GS k: {name} barcodes are not simulated; nothing printed")
        try:
            bars, hri_text = _barcode_bars(library_name, token.payload)
        except Exception as error:  # python-barcode raises many kinds on data it rejects
            return self.warn(f"GS k: {name} data {token.payload!r} rejected ({error})")
        self.start_block()
        state = self.state
        symbol = Barcode(
            0,
            name,
            token.payload,
            bars,
            state.barcode_module,
            state.barcode_height,
            hri_text,
            state.hri_position,
            state.hri_font,
        )
        self.add_block(replace(symbol, x=self.block_x(symbol.width)), symbol.width)


_QR_FUNCTIONS: Final[dict[int, Callable[[_Printer, bytes], None]]] = {
    65: _Printer._qr_model,
    67: _Printer._qr_module,
    69: _Printer._qr_error_correction,
    80: _Printer._qr_store,
    81: _Printer._qr_print,
}
_DISPATCH: Final[dict[str, Callable[[_Printer, Token], None]]] = {
    command.name: getattr(_Printer, f"_cmd_{command.action}") for command in _COMMANDS.values()
}


def profile_code_pages(profile: str) -> dict[int, tuple[str, str | None]]:
    """A printer model's own ESC t numbering (clones differ from Epson's), from python-escpos's
    profile database."""
    import codecs

    from escpos import capabilities

    pages = capabilities.get_profile(profile).profile_data.get("codePages", {})
    table: dict[int, tuple[str, str | None]] = {}
    for number, name in pages.items():
        try:
            codec: str | None = codecs.lookup(name.lower().replace("_", "-")).name
        except LookupError:
            codec = None
        table[int(number)] = (name, codec)
    return table


def parse_job(
    data: Buffer,
    paper: Paper = PAPERS[80],
    *,
    default_code_page: int = 0,
    code_pages: Mapping[int, tuple[str, str | None]] | None = None,
) -> Job:
    """Interpret the bytes of one job as the printer would print them. Never raises."""
    return _Printer(paper, default_code_page, code_pages).run(lex(data))
