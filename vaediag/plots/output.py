"""How a drawing becomes a PNG file: matplotlib figures and PIL pages, written atomically, fast zlib level
(figures are redrawn on every report)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .. import atomic

if TYPE_CHECKING:
    from matplotlib.figure import Figure
    from PIL import Image, ImageFont

DPI = 100  # dots per inch of every matplotlib figure (compare draws at the same resolution)
PNG_COMPRESS_LEVEL = 1


def save_png(drawing: Figure | Image.Image, path: Path) -> Path:
    """Write a matplotlib figure (at ``DPI``) or a PIL page as PNG at ``path``, atomically; return ``path``."""

    def write(tmp: Path) -> None:
        if hasattr(drawing, "savefig"):  # a matplotlib Figure
            drawing.savefig(tmp, format="png", dpi=DPI, pil_kwargs={"compress_level": PNG_COMPRESS_LEVEL})
        else:
            drawing.save(tmp, format="PNG", compress_level=PNG_COMPRESS_LEVEL)

    atomic.write_with(path, write)
    return path


def caption_font(size: int) -> ImageFont.ImageFont:
    """PIL's default font at ``size`` pixels (Pillow < 10.1 has only its fixed-size bitmap font)."""
    from PIL import ImageFont

    try:
        return ImageFont.load_default(size=size)
    except TypeError:
        return ImageFont.load_default()
