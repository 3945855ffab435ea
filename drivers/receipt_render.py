"""A parsed ESC/POS job drawn as the paper a cashier tears off: plain text and a PNG.

The parser (``drivers.escpos_parse``) has already laid everything out in printer dots, so this
module only draws: one text line per printed line, justified within the paper's Font A columns
(32 on 58 mm, 48 on 80 mm), and a 1-bit PNG as wide as the paper in dots (384 or 576) with text
in the printer's character cells, raster images and symbols at their exact dot size.

Text uses DejaVu Sans Mono (Debian package fonts-dejavu-core) for its coverage of €, ü, ğ, ş, İ,
Cyrillic and Greek; without it Pillow's built-in font is used and such letters show as boxes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from functools import lru_cache
from itertools import groupby

from PIL import Image, ImageDraw, ImageFont

from drivers.escpos_parse import (
    FONT_CELLS,
    Barcode,
    Block,
    Feed,
    Graphic,
    Job,
    Paper,
    Picture,
    QrSymbol,
    Run,
    TextLine,
)

log = logging.getLogger(__name__)

CELL: int = FONT_CELLS[0][0]  # one text column is one Font A character
MARGIN = 12  # white paper above the first and below the last line
CUT_GAP = 24
FONT_SIZES = {0: 20, 1: 15}  # DejaVu Sans Mono at these sizes fills 12x24 and 9x17 cells
INK, PAPER_WHITE = 0, 255

# -- text -------------------------------------------------------------------------------------


def render_text(job: Job) -> str:
    """The job as printed: one line per printed line, then a marker line at each cut."""
    lines: list[str] = []
    for receipt in job.receipts:
        lines += _text_lines(receipt.blocks, job.paper)
        if receipt.cut:
            label = " cut" if receipt.cut == "full" else " partial cut"
            lines.append("✂" + "-" * (job.paper.columns - 1 - len(label)) + label)
    return "".join(f"{line}\n" for line in lines)


def _text_lines(blocks: tuple[Block, ...], paper: Paper) -> Iterator[str]:
    # ESC * images arrive as a stack of lines holding only a bit image: one placeholder each.
    for is_bit_image, group in groupby(blocks, key=_bit_image_only):
        if is_bit_image:
            lines: list[TextLine] = list(group)  # type: ignore[arg-type]
            stripes = [graphic for line in lines for graphic in line.graphics]
            left, right = min(g.x for g in stripes), max(g.x + g.width for g in stripes)
            height = sum(line.advance for line in lines)
            yield _centred_on(f"[image {right - left}x{height}]", left, right)
            continue
        for block in group:
            yield from _TEXT_OF[type(block)](block)


def _bit_image_only(block: Block) -> bool:
    return isinstance(block, TextLine) and bool(block.graphics) and not block.runs


def _centred_on(label: str, left: int, right: int) -> str:
    lead = round((left + right) / 2 / CELL - len(label) / 2)
    return " " * max(0, lead) + label


def _line_text(line: TextLine) -> Iterator[str]:
    if not line.runs:
        yield ""
        return
    text = ""
    for run in line.runs:  # gaps left by HT, ESC $ or spacing become spaces
        text = text.ljust(round((run.x - line.runs[0].x) / CELL)) + run.text
    start, end = line.runs[0].x, max(run.x + run.width for run in line.runs)
    if line.align == 1:
        yield _centred_on(text, start, end).rstrip()
    elif line.align == 2:
        yield (" " * max(0, round(end / CELL) - len(text)) + text).rstrip()
    else:
        yield (" " * round(start / CELL) + text).rstrip()


def _qr_text(symbol: QrSymbol) -> Iterator[str]:
    payload = symbol.payload.decode("utf-8", errors="replace")
    yield _centred_on(f"[QR: {payload}]", symbol.x, symbol.x + symbol.size)


def _barcode_text(symbol: Barcode) -> Iterator[str]:
    label = f"[{symbol.symbology} barcode: {symbol.hri_text}]"
    yield _centred_on(label, symbol.x, symbol.x + symbol.width)


def _picture_text(picture: Picture) -> Iterator[str]:
    graphic = picture.graphic
    label = f"[image {graphic.width}x{graphic.height}]"
    yield _centred_on(label, graphic.x, graphic.x + graphic.width)


_TEXT_OF: dict[type, Callable[..., Iterator[str]]] = {
    TextLine: _line_text,
    Feed: lambda feed: iter([""] * feed.lines),
    Picture: _picture_text,
    QrSymbol: _qr_text,
    Barcode: _barcode_text,
}

# -- image ------------------------------------------------------------------------------------


def render_image(job: Job) -> Image.Image:
    """The paper as a 1-bit image, `job.paper.dots` wide."""
    height = MARGIN * 2 + sum(
        sum(_HEIGHT_OF[type(b)](b) for b in receipt.blocks) + (CUT_GAP if receipt.cut else 0)
        for receipt in job.receipts
    )
    canvas = Image.new("L", (job.paper.dots, height), PAPER_WHITE)
    y = MARGIN
    for receipt in job.receipts:
        for block in receipt.blocks:
            _DRAW[type(block)](canvas, block, y)
            y += _HEIGHT_OF[type(block)](block)
        if receipt.cut:
            _draw_cut(canvas, y + CUT_GAP // 2)
            y += CUT_GAP
    return canvas.convert("1", dither=Image.Dither.NONE)


_HEIGHT_OF: dict[type, Callable[..., int]] = {
    TextLine: lambda line: line.advance,
    Feed: lambda feed: feed.dots,
    Picture: lambda picture: picture.graphic.height,
    QrSymbol: lambda symbol: symbol.size,
    Barcode: lambda symbol: symbol.height,
}


@lru_cache(maxsize=8)
def _font(font: int, bold: bool) -> tuple[ImageFont.FreeTypeFont | ImageFont.ImageFont, int]:
    """(font, stroke width): the bold face when there is one, else a stroked regular."""
    size = FONT_SIZES[font]
    try:  # Pillow searches the system font folders for a bare file name
        face = "DejaVuSansMono-Bold.ttf" if bold else "DejaVuSansMono.ttf"
        return ImageFont.truetype(face, size), 0
    except OSError:
        log.warning("DejaVu Sans Mono not found: letters beyond ASCII may print as boxes")
        return ImageFont.load_default(size=size), int(bold)


def _paste_ink(canvas: Image.Image, ink: Image.Image, x: int, y: int) -> None:
    """Print `ink` (black on white) onto the paper without erasing what is already there."""
    box = (x, y, x + ink.width, y + ink.height)
    region = canvas.crop(box)
    canvas.paste(Image.composite(ink, region, ink.point(lambda v: 255 - v)), box)


def _draw_line(canvas: Image.Image, line: TextLine, y: int) -> None:
    for graphic in line.graphics:
        _draw_graphic(canvas, graphic, y)
    for run in line.runs:
        strip = _run_image(run)
        canvas.paste(strip, (run.x, y + line.height - strip.height))


def _run_image(run: Run) -> Image.Image:
    """A run as the print head makes it: cells drawn at 1x, then scaled dot for dot."""
    style = run.style
    cell_width, cell_height = FONT_CELLS[style.font]
    pitch = run.pitch // style.width
    font, stroke = _font(style.font, style.bold)
    strip = Image.new("L", (pitch * len(run.text), cell_height), PAPER_WHITE)
    draw = ImageDraw.Draw(strip)
    draw.fontmode = "1"  # a print head has no grey
    descent = font.getmetrics()[1] if isinstance(font, ImageFont.FreeTypeFont) else 2
    baseline = cell_height - min(descent, cell_height // 4)
    for index, char in enumerate(run.text):
        position = (index * pitch + cell_width / 2, baseline)
        draw.text(position, char, font=font, fill=INK, anchor="ms", stroke_width=stroke)
    scaled = strip.resize((strip.width * style.width, cell_height * style.height))
    if style.underline:
        bottom = scaled.height - 1
        ImageDraw.Draw(scaled).rectangle(
            (0, bottom - style.underline + 1, scaled.width - 1, bottom), fill=INK
        )
    return scaled.point(lambda v: 255 - v) if style.reverse else scaled


def _graphic_image(graphic: Graphic) -> Image.Image:
    bitmap = graphic.bitmap
    image = Image.frombytes("1", (bitmap.width, bitmap.height), bitmap.data, "raw", "1;I")
    size = (graphic.width, graphic.height)
    return image.convert("L").resize(size, Image.Resampling.NEAREST)


def _draw_graphic(canvas: Image.Image, graphic: Graphic, y: int) -> None:
    _paste_ink(canvas, _graphic_image(graphic), graphic.x, y)


def _draw_qr(canvas: Image.Image, symbol: QrSymbol, y: int) -> None:
    count = len(symbol.matrix)
    image = Image.new("L", (count, count))
    image.putdata([INK if dark else PAPER_WHITE for row in symbol.matrix for dark in row])
    canvas.paste(image.resize((symbol.size, symbol.size), Image.Resampling.NEAREST), (symbol.x, y))


def _draw_barcode(canvas: Image.Image, symbol: Barcode, y: int) -> None:
    bars = Image.new("L", (len(symbol.bars), 1))
    bars.putdata([INK if bar == "1" else PAPER_WHITE for bar in symbol.bars])
    above = symbol.hri_position in (1, 3)
    bar_top = y + (symbol.hri_height if above else 0)
    size = (symbol.width, symbol.bar_height)
    canvas.paste(bars.resize(size, Image.Resampling.NEAREST), (symbol.x, bar_top))
    if above:
        _draw_hri(canvas, symbol, y)
    if symbol.hri_position in (2, 3):
        _draw_hri(canvas, symbol, bar_top + symbol.bar_height)


def _draw_hri(canvas: Image.Image, symbol: Barcode, y: int) -> None:
    font, _ = _font(symbol.hri_font, False)
    draw = ImageDraw.Draw(canvas)
    draw.fontmode = "1"
    centre = symbol.x + symbol.width / 2
    draw.text((centre, y + symbol.hri_height), symbol.hri_text, font=font, fill=INK, anchor="md")


def _draw_cut(canvas: Image.Image, y: int) -> None:
    draw = ImageDraw.Draw(canvas)
    for x in range(0, canvas.width, 12):
        draw.line((x, y, x + 6, y), fill=INK)


_DRAW: dict[type, Callable[..., None]] = {
    TextLine: _draw_line,
    Feed: lambda canvas, feed, y: None,
    Picture: lambda canvas, picture, y: _draw_graphic(canvas, picture.graphic, y),
    QrSymbol: _draw_qr,
    Barcode: _draw_barcode,
}
