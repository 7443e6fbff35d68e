"""How a drawing becomes a PNG file, and the sizes that keep every text legible on screen.

Every PNG is drawn at twice the resolution it is shown at: the report displays it at ``DISPLAY_SCALE`` = 2
device-independent (CSS) pixels per 2 image pixels, so it stays sharp on high-density screens. A matplotlib
figure is ``DPI`` = 200 dots per inch, shown at 100 CSS pixels per inch; a text of ``f`` points is then
``f * DPI / 72 / DISPLAY_SCALE`` CSS pixels tall, so ``MIN_FONT_PT`` = 8 points gives 11 px, above the
10 px floor (``MIN_TEXT_PX``). No figure is wider than ``MAX_WIDTH_IN`` inches (``MAX_WIDTH_IN * 100`` CSS
pixels), which the report's page holds on a 1400 px screen, so the browser never shrinks one there. PIL pages
(grids, digit sheets) follow the same rule: their caption font is ``CAPTION_FONT_PX`` image pixels.

PNGs are written atomically at a fast zlib level (figures are redrawn on every report).
"""

from __future__ import annotations

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


def css_px(font_pt: float) -> float:
    """CSS pixels of a ``font_pt`` matplotlib text as the report shows the figure."""
    return font_pt * DPI / 72 / DISPLAY_SCALE


def save_png(drawing: Figure | Image.Image, path: Path) -> Path:
    """Write a matplotlib figure (at ``DPI``) or a PIL page as PNG at ``path``, atomically; return ``path``."""

    def write(tmp: Path) -> None:
        if hasattr(drawing, "savefig"):  # a matplotlib Figure
            drawing.savefig(tmp, format="png", dpi=DPI, pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
        else:
            drawing.save(tmp, format="PNG", compress_level=PNG_COMPRESS_LEVEL)

    atomic.write_with(path, write)
    return path


def caption_font(size: int = CAPTION_FONT_PX) -> ImageFont.ImageFont:
    """PIL's default font at ``size`` pixels (Pillow < 10.1 has only its fixed-size bitmap font)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()
