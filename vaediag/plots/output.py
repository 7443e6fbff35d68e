"""How a drawing becomes a PNG file, and the sizes that keep every text legible on screen.

Every PNG is drawn at twice the resolution it is shown at: the report displays it at ``DISPLAY_SCALE`` = 2
device-independent (CSS) pixels per 2 image pixels, so it stays sharp on high-density screens. A matplotlib
figure is ``DPI`` = 200 dots per inch, shown at 100 CSS pixels per inch; a text of ``f`` points is then
``f * DPI / 72 / DISPLAY_SCALE`` CSS pixels tall, so ``MIN_FONT_PT`` = 8 points gives 11 px, above the
10 px floor (``MIN_TEXT_PX``). No figure is wider than ``MAX_WIDTH_IN`` inches (``MAX_WIDTH_IN * 100`` CSS
pixels), which the report's page holds on a 1400 px screen, so the browser never shrinks one there. PIL pages
(grids, digit sheets) follow the same rule: their caption font is ``CAPTION_FONT_PX`` image pixels.

On a phone (``NARROW_VIEWPORT_PX`` = 420 CSS pixels) a figure has ``NARROW_ROOM_PX`` of width and is scaled
down to it, so a figure wider than ``NARROW_ROOM_PX * css_px(MIN_FONT_PT) / NARROW_MIN_TEXT_PX`` CSS pixels
would show text below ``NARROW_MIN_TEXT_PX`` = 9 px there: such figures also have a narrow rendering
(``NARROW_WIDTH_IN`` wide, panels stacked) that the report shows on narrow screens instead.

Every PNG records the height of its smallest text in image pixels as the text chunk ``MIN_TEXT_KEY``
(:func:`min_text_px` of a matplotlib figure, after it is drawn; the caption font of a PIL page): the report
passes it to the page, and the browser test multiplies it by the scale the browser actually shows the image at.

PNGs are written atomically at a fast zlib level (figures are redrawn on every report).
"""

from __future__ import annotations

import io
import math
import struct
import zlib
from pathlib import Path
from typing import TYPE_CHECKING

from vaediag.files import atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from PIL import Image, ImageFont

DPI = 200  # dots per inch of every matplotlib figure
DISPLAY_SCALE = 2  # image pixels per CSS pixel in the report (2x resolution)
CSS_PX_PER_IN = DPI // DISPLAY_SCALE  # 100
MIN_TEXT_PX = 10  # the smallest text the report shows, in CSS pixels at 100 % zoom
MIN_FONT_PT = 8  # the smallest matplotlib font: 8 pt * 200 / 72 / 2 = 11.1 CSS px
TITLE_PT = 10
MAX_WIDTH_IN = 11.4  # widest figure: 1140 CSS px, shown unscaled on a 1400 px screen
CAPTION_FONT_PX = 26  # PIL caption font in image pixels: 13 CSS px
PNG_COMPRESS_LEVEL = 1
NARROW_VIEWPORT_PX = 420  # a phone, in CSS pixels
NARROW_ROOM_PX = 396  # the width a figure has there (the page's side padding taken off)
NARROW_MIN_TEXT_PX = 9  # the smallest text a figure may show on a phone, in CSS pixels
NARROW_WIDTH_IN = 3.9  # narrow renderings: 390 CSS pixels wide, shown (nearly) unscaled on a phone
MIN_TEXT_KEY = "vaediag min text px"  # PNG text chunk: the figure's smallest text height in image pixels
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def css_px(font_pt: float) -> float:
    """CSS pixels of a ``font_pt`` matplotlib text as the report shows the figure."""
    return font_pt * DPI / 72 / DISPLAY_SCALE


def min_text_px(fig: Figure) -> float:
    """The font size of the smallest visible, non-empty text of a drawn matplotlib figure, in image pixels at
    ``DPI`` (inf without text)."""
    from matplotlib.text import Text

    sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    return min(sizes) * DPI / 72 if sizes else math.inf


def shown_text_px(min_text: float, png_width: int, shown_width: float) -> float:
    """CSS pixels of a text of ``min_text`` image pixels when a PNG ``png_width`` pixels wide is shown
    ``shown_width`` CSS pixels wide."""
    return min_text * shown_width / png_width


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)


def with_text(data: bytes, key: str, value: str) -> bytes:
    """The PNG ``data`` with a tEXt chunk ``key`` = ``value`` after its header chunk."""
    if data[:8] != PNG_MAGIC:
        raise ValueError("not a PNG")
    end = 8 + 12 + struct.unpack(">I", data[8:12])[0]  # magic, then IHDR: length, type, body, CRC
    return data[:end] + _chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1")) + data[end:]


def png_texts(data: bytes) -> dict[str, str]:
    """The tEXt chunks of PNG ``data`` ({} for anything else)."""
    out, pos = {}, 8
    if data[:8] != PNG_MAGIC:
        return out
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I", data[pos:pos + 4])[0], data[pos + 4:pos + 8]
        if kind == b"tEXt":
            key, _, value = data[pos + 8:pos + 8 + length].partition(b"\0")
            out[key.decode("latin-1")] = value.decode("latin-1")
        if kind in (b"IDAT", b"IEND"):
            break
        pos += 12 + length
    return out


def png_min_text(data: bytes) -> float:
    """The smallest text height recorded in a PNG (``MIN_TEXT_KEY``), in image pixels; NaN when not recorded."""
    try:
        return float(png_texts(data)[MIN_TEXT_KEY])
    except (KeyError, ValueError):
        return math.nan


def save_png(drawing: Figure | Image.Image, path: Path, min_text: float | None = None) -> Path:
    """Write a matplotlib figure (at ``DPI``) or a PIL page as PNG at ``path``, atomically, with its smallest text
    height recorded (``MIN_TEXT_KEY``: :func:`min_text_px` of a figure; ``min_text``, else the page's
    ``info[MIN_TEXT_KEY]``, for a PIL page); return ``path``."""
    buffer = io.BytesIO()
    if hasattr(drawing, "savefig"):  # a matplotlib Figure
        drawing.savefig(buffer, format="png", dpi=DPI, pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
        min_text = min_text_px(drawing) if min_text is None else min_text
    else:
        drawing.save(buffer, format="PNG", compress_level=PNG_COMPRESS_LEVEL)
        min_text = drawing.info.get(MIN_TEXT_KEY) if min_text is None else min_text
    data = buffer.getvalue()
    if min_text is not None and math.isfinite(float(min_text)):
        data = with_text(data, MIN_TEXT_KEY, f"{float(min_text):.2f}")
    atomic.write_bytes(path, data)
    return path


def caption_font(size: int = CAPTION_FONT_PX) -> ImageFont.ImageFont:
    """PIL's default font at ``size`` pixels (Pillow < 10.1 has only its fixed-size bitmap font)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()
