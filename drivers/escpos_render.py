"""A slip rendered to ESC/POS bytes for one printer profile.

Designed around python-escpos 3.1's traps: the code page is pinned (``ESC t``) right after
every ``ESC @`` and text is encoded with it here (no auto-switching mid-line); only the style
changes a line needs are sent; QR is native (``GS ( k``) where the profile has it, otherwise a
raster image positioned by alignment, never a full-width padded picture.
"""

from __future__ import annotations

import textwrap
import unicodedata
from dataclasses import replace
from typing import Any

from pos_loyalty.slips import Block, Row, Rule, Slip, Text

from .profiles import Profile, code_page_for

ESC, GS = b"\x1b", b"\x1d"
INIT = ESC + b"@"
RASTER_MODULE_DOTS = 3
ALIGN = {"left": 0, "center": 1, "right": 2}
FEED_AND_CUT = GS + b"V" + bytes([66, 3])  # feed to the cutter plus 3 lines, partial cut
# Stand-ins for characters a code page may lack that have no Unicode decomposition to fall
# back on (ı, ł, ø, ß … are letters of their own, not a plain letter plus an accent), spelled so a
# customer still reads them. Letters that do decompose (İ, ő, ź …) need no entry here.
_FALLBACK = {
    "ı": "i",
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ð": "d",
    "Ð": "D",
    "ø": "o",
    "Ø": "O",
    "ß": "ss",
    "æ": "ae",
    "Æ": "AE",
    "œ": "oe",
    "Œ": "OE",
    "þ": "th",
    "Þ": "Th",
    "€": "EUR",
    "×": "x",
    "•": "*",
    "⁄": "/",  # the fraction slash of a decomposed ⅓
    "‐": "-",
    "‒": "-",
    "–": "-",
    "—": "-",
    "―": "-",
    "−": "-",
    "‘": "'",
    "’": "'",
    "‚": "'",
    "‛": "'",
    "“": '"',
    "”": '"',
    "„": '"',
    "‟": '"',
    "‹": "<",
    "›": ">",
    "«": "<<",
    "»": ">>",
    "→": "->",
}


class Style:
    """What the printer is set to now, so only changes are sent."""

    def __init__(self) -> None:
        self.align, self.bold, self.underline, self.big = "left", False, False, False

    def change(self, align: str, bold: bool, underline: bool, big: bool) -> bytes:
        out = b""
        if align != self.align:
            out += ESC + b"a" + bytes([ALIGN[align]])
        if bold != self.bold:
            out += ESC + b"E" + bytes([bold])
        if underline != self.underline:
            out += ESC + b"-" + bytes([underline])
        if big != self.big:
            out += GS + b"!" + bytes([0x11 if big else 0])
        self.align, self.bold, self.underline, self.big = align, bold, underline, big
        return out


class Renderer:
    def __init__(self, profile: Profile, locale: str) -> None:
        self.profile = profile
        self.code_page, self.code_page_number = code_page_for(locale, profile)
        self.codec = self.code_page.lower().replace("_", "-")

    def start(self) -> bytes:
        """Reset, then pin the code page: a reset forgets it."""
        return INIT + ESC + b"t" + bytes([self.code_page_number])

    def render(self, slip: Slip) -> bytes:
        style = Style()
        out = [self.start()]
        for block in slip.blocks:
            out.append(self._block(block, style))
        out.append(style.change("left", False, False, False))
        out.append(FEED_AND_CUT)
        return b"".join(out)

    def _block(self, block: Block, style: Style) -> bytes:
        cols = self.profile.columns
        block = self.printable(block)
        if isinstance(block, Text):
            width = cols // 2 if block.big else cols
            lines = textwrap.wrap(block.text, width) or [""]
            head = style.change(block.align, block.bold, block.underline, block.big)
            return head + b"".join(self.encode(line) + b"\n" for line in lines)
        if isinstance(block, Row):
            return self._row(block, style)
        if isinstance(block, Rule):  # a third of the width, centred: fewer bytes on slow lines
            rule = self.encode(block.char * (cols // 3))
            return style.change("center", False, False, False) + rule + b"\n"
        return style.change("center", False, False, False) + self.qr(block.data)

    def _row(self, row: Row, style: Style) -> bytes:
        """Left text, then the right text flush to the margin. Left text too long to share a
        line with the right wraps above it, so nothing is cut off on narrow paper."""
        cols = self.profile.columns
        right = row.right[:cols]
        lines = textwrap.wrap(row.left, cols) or [""]
        last = lines.pop() if len(lines[-1]) < cols - len(right) else ""
        above = b"".join(self.encode(line) + b"\n" for line in lines)
        jump = self.column(cols - len(right))
        head = style.change("left", row.bold, False, False)
        return head + above + self.encode(last) + jump + self.encode(right) + b"\n"

    def column(self, n: int) -> bytes:
        """Jump to character column ``n`` (``ESC $``): 4 bytes instead of a run of spaces."""
        dots = n * self.profile.dots // self.profile.columns
        return ESC + b"$" + bytes([dots % 256, dots // 256])

    def printable(self, block: Block) -> Block:
        """The block with text the code page cannot carry spelled out, before widths are
        measured ("…" becomes "..." and takes three columns)."""
        fields = {"text", "left", "right"} & set(block.__dataclass_fields__)
        changed: dict[str, Any] = {f: self.spell(getattr(block, f)) for f in fields}
        return replace(block, **changed) if changed else block

    def spell(self, text: str) -> str:
        """The text as the pinned code page can print it (see ``_char``)."""
        if self._fits(text):
            return text
        return "".join(self._char(ch) for ch in unicodedata.normalize("NFC", text))

    def _fits(self, text: str) -> bool:
        try:
            text.encode(self.codec)
        except UnicodeEncodeError:
            return False
        return True

    def encode(self, text: str) -> bytes:
        """Text in the pinned code page; what it cannot carry is spelled out, never garbage."""
        return self.spell(text).encode(self.codec, errors="replace")

    def _char(self, ch: str) -> str:
        """One character as the pinned code page can print it: itself where the page has it;
        else its compatibility decomposition without the accents (ő → o, ź → z, ﬁ → fi), each
        part as itself or its plain-Latin stand-in (ǿ → ø, or o where ø is missing too); else
        the stand-in for the letter itself (ı → i, ß → ss, € → EUR); else ``?``."""
        if self._fits(ch):
            return ch
        parts = [p for p in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(p)]
        try:
            return "".join(p if self._fits(p) else _FALLBACK[p] for p in parts)
        except KeyError:  # a part with no stand-in: one mark for the whole character
            return "?"

    def qr(self, data: str) -> bytes:
        from escpos.constants import QR_ECLEVEL_M
        from escpos.printer import Dummy

        dummy = Dummy(profile=self.profile.name)
        if self.profile.native_qr:
            dummy.qr(data, ec=QR_ECLEVEL_M, size=self.profile.module_dots, native=True)
            return dummy.output + b"\n"
        # A raster QR costs its bitmap on the wire: the smallest module that scans well.
        dummy.image(qr_image(data, RASTER_MODULE_DOTS), impl="bitImageRaster", center=False)
        return dummy.output


def qr_image(data: str, module_dots: int) -> Any:
    """A QR as a 1-bit image: ``module_dots`` per module, the standard 4-module quiet zone."""
    import qrcode

    code = qrcode.QRCode(
        error_correction=qrcode.constants.ERROR_CORRECT_M, box_size=module_dots, border=4
    )
    code.add_data(data)
    code.make(fit=True)
    return code.make_image(fill_color="black", back_color="white").get_image().convert("1")
