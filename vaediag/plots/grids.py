"""Pages of decoded digits, pixel-exact: the latent grids, the sheet of prior samples and the test digits beside
their reconstructions of a checkpoint.

Tiles are laid out by torchvision ``make_grid``, upsampled ``GRID_SCALE`` x (nearest) and put under a caption
band; drawn with PIL, not matplotlib, so they cost almost nothing. At ``GRID_SCALE`` = 2 and the report's
display scale 2 a digit is shown at its own 28 x 28 CSS pixels.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .. import columns as C
from .latent import grid_spans
from .names import GRID_KINDS
from .output import CAPTION_FONT_PX, MIN_TEXT_KEY, NARROW_MIN_TEXT_PX, NARROW_ROOM_PX, caption_font

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from vaediag.store.rundir import Run

TILE_PADDING = 2  # grey pixels between (and around) the tiles
GRID_SCALE = 2
CAPTION_MARGIN = 8  # pixels around the caption lines
NARROW_MARGIN = 0.5  # CSS pixels of headroom above NARROW_MIN_TEXT_PX
LINE_GAP = 8  # pixels between caption lines
ENTROPY_PREFIX = {"linear": C.GRID, "quantile": C.QGRID}  # metrics prefix of each grid kind's samples
PRIOR_SHEET = "prior_sheet"  # artifact: uint8 [100, 28, 28], the first decoded prior samples
RECON_PAIRS = "recon_pairs"  # artifact: uint8 [2, n, 28, 28], test digits and their reconstructions
PAIRS_PER_ROW = 10


def grid_images(run: Run, epoch: int, kind: str) -> np.ndarray:
    """uint8 [n*n, 28, 28] decoded images of the ``kind`` grid at ``epoch`` (artifact ``grid_<kind>``)."""
    if kind not in GRID_KINDS:
        raise ValueError(f"grid kind must be one of {GRID_KINDS}, got {kind!r}")
    return np.asarray(run.artifacts(epoch)[f"grid_{kind}"])


def grid_tensor(images: np.ndarray, padding: int = TILE_PADDING, nrow: int | None = None) -> torch.Tensor:
    """uint8 [k, h, w] images (row-major, first row = top) tiled ``nrow`` per row (default: a square) by
    torchvision ``make_grid``: a float tensor [3, H, W] in [0, 1] with grey padding."""
    import torch
    from torchvision.utils import make_grid

    images = np.asarray(images)
    side = nrow or max(int(round(math.sqrt(len(images)))), 1)
    tiles = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return make_grid(tiles, nrow=side, padding=padding, pad_value=0.5)


def wrap(text: str, width: int, font) -> list[str]:
    """``text`` broken at spaces into lines no wider than ``width`` pixels (a longer word stays whole)."""
    from PIL import Image, ImageDraw

    measure = ImageDraw.Draw(Image.new("L", (1, 1))).textlength
    lines: list[str] = []
    for word in text.split(" "):
        if lines and measure(f"{lines[-1]} {word}", font=font) <= width:
            lines[-1] += f" {word}"
        else:
            lines.append(word)
    return lines


def caption_px(width: int) -> int:
    """The caption font (image pixels) of a page ``width`` pixels wide: ``CAPTION_FONT_PX``, larger for a page so
    wide that a phone scales it down below ``NARROW_MIN_TEXT_PX`` CSS pixels of text."""
    needed = (NARROW_MIN_TEXT_PX + NARROW_MARGIN) * max(width, 1) / NARROW_ROOM_PX
    return max(CAPTION_FONT_PX, int(math.ceil(needed)))


def caption_line(width: int) -> int:
    """Pixels per caption line of a page ``width`` pixels wide."""
    return caption_px(width) + LINE_GAP


def tile_page(images: np.ndarray, title: str, nrow: int | None = None) -> Image.Image:
    """Tiled images as a greyscale page: the caption band (``title``, wrapped to the tiles' width, in a font
    that stays legible on a phone: :func:`caption_px`), then the tiles upsampled ``GRID_SCALE`` x, centred."""
    from PIL import Image, ImageDraw

    tiles = grid_tensor(images, nrow=nrow)[0].numpy()
    image = Image.fromarray(np.round(tiles * 255).astype(np.uint8))  # 2-D uint8: mode "L"
    image = image.resize((image.width * GRID_SCALE, image.height * GRID_SCALE), Image.Resampling.NEAREST)
    size = caption_px(image.width)
    font, line_height = caption_font(size), caption_line(image.width)
    lines = wrap(title, image.width - 2 * CAPTION_MARGIN, font)
    draw = ImageDraw.Draw(image)
    width = max(image.width, *(int(draw.textlength(line, font=font)) + 2 * CAPTION_MARGIN for line in lines))
    band = len(lines) * line_height + CAPTION_MARGIN
    page = Image.new("L", (width, image.height + band), 255)
    page.paste(image, ((width - image.width) // 2, band))
    draw = ImageDraw.Draw(page)
    for i, line in enumerate(lines):
        draw.text((CAPTION_MARGIN, CAPTION_MARGIN + i * line_height), line, fill=0, font=font)
    page.info[MIN_TEXT_KEY] = size
    return page


def _entropy_text(run: Run, column: str, epoch: int) -> str:
    entropy = run.value(column, epoch)
    return f", class entropy {entropy:.3f}" if np.isfinite(entropy) else ""


def grid_title(run: Run, epoch: int, kind: str) -> str:
    side = int(round(math.sqrt(len(grid_images(run, epoch, kind)))))
    half = dict(zip(GRID_KINDS, grid_spans(run, epoch)))[kind]
    where = f"z in [-{half:.3g}, {half:.3g}]^2" if run.latent_dim <= 2 else \
        f"z0, z1 in [-{half:.3g}, {half:.3g}]^2, the other {run.latent_dim - 2} dims at 0"
    return (f"{kind} grid {side}x{side}, {where}, epoch {epoch}"
            + _entropy_text(run, ENTROPY_PREFIX[kind] + C.ENTROPY_NORM, epoch))


def grid_page(run: Run, epoch: int, kind: str) -> Image.Image:
    """The ``kind`` grid at ``epoch`` as a page."""
    return tile_page(grid_images(run, epoch, kind), grid_title(run, epoch, kind))


def has_array(run: Run, epoch: int, name: str) -> bool:
    """Whether ``epoch``'s artifacts hold a non-empty ``name`` (older evaluations stored no digit sheets)."""
    arrays = run.artifacts(epoch)
    return name in arrays and np.size(arrays[name]) > 0


def prior_sheet_page(run: Run, epoch: int) -> Image.Image:
    """The first decoded prior samples at ``epoch`` (artifact ``prior_sheet``), 10 per row."""
    images = np.asarray(run.artifacts(epoch)[PRIOR_SHEET])
    title = (f"{len(images)} random prior samples z ~ N(0, I), epoch {epoch}"
             + _entropy_text(run, C.PRIOR + C.ENTROPY_NORM, epoch))
    return tile_page(images, title, nrow=max(int(math.ceil(math.sqrt(len(images)))), 1))


def recon_pairs_page(run: Run, epoch: int) -> Image.Image:
    """Test digits beside their reconstructions decode(mu(x)) at ``epoch`` (artifact ``recon_pairs``):
    ``PAIRS_PER_ROW`` pairs per row, each pair = the digit (left) and its reconstruction (right)."""
    originals, recons = np.asarray(run.artifacts(epoch)[RECON_PAIRS])
    pairs = np.concatenate([originals, recons], axis=2)  # [n, 28, 56]
    accuracy = run.value(C.RECON_ACCURACY, epoch)
    title = (f"test {run.classes.item} | its reconstruction, epoch {epoch}"
             + (f", classifier accuracy on reconstructions {100 * accuracy:.1f} %" if np.isfinite(accuracy) else ""))
    return tile_page(pairs, title, nrow=min(PAIRS_PER_ROW, len(pairs)))
