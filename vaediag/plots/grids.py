"""The decoded grids of a checkpoint as pixel-exact PNG pages: torchvision ``make_grid`` tiles, upsampled
``GRID_SCALE`` x (nearest), under a caption band; drawn with PIL, not matplotlib, so they cost almost nothing.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from .. import columns as C
from .latent import grid_spans
from .names import GRID_KINDS
from .output import caption_font

if TYPE_CHECKING:
    import torch
    from PIL import Image

    from ..rundir import Run

TILE_PADDING = 2  # grey pixels between (and around) the tiles
GRID_SCALE = 2
CAPTION_BAND = 24  # pixels above the tiles
CAPTION_FONT_SIZE = 13
ENTROPY_PREFIX = {"linear": C.GRID, "quantile": C.QGRID}  # metrics prefix of each grid kind's samples


def grid_images(run: Run, epoch: int, kind: str) -> np.ndarray:
    """uint8 [n*n, 28, 28] decoded images of the ``kind`` grid at ``epoch`` (artifact ``grid_<kind>``)."""
    if kind not in GRID_KINDS:
        raise ValueError(f"grid kind must be one of {GRID_KINDS}, got {kind!r}")
    return np.asarray(run.artifacts(epoch)[f"grid_{kind}"])


def grid_tensor(images: np.ndarray, padding: int = TILE_PADDING) -> torch.Tensor:
    """uint8 [n*n, 28, 28] images (row-major, first row = top) tiled n x n by torchvision ``make_grid``:
    a float tensor [3, H, W] in [0, 1] with grey padding."""
    import torch
    from torchvision.utils import make_grid

    images = np.asarray(images)
    side = max(int(round(math.sqrt(len(images)))), 1)
    tiles = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return make_grid(tiles, nrow=side, padding=padding, pad_value=0.5)


def grid_title(run: Run, epoch: int, kind: str) -> str:
    side = int(round(math.sqrt(len(grid_images(run, epoch, kind)))))
    half = dict(zip(GRID_KINDS, grid_spans(run, epoch)))[kind]
    entropy = run.value(ENTROPY_PREFIX[kind] + C.ENTROPY_NORM, epoch)
    return (f"{kind} grid {side}x{side}, z in [-{half:.3g}, {half:.3g}]^2, epoch {epoch}"
            + (f", class entropy {entropy:.3f}" if np.isfinite(entropy) else ""))


def grid_page(run: Run, epoch: int, kind: str) -> Image.Image:
    """The ``kind`` grid at ``epoch`` as a greyscale page: caption band, then the upsampled tiles, centred."""
    from PIL import Image, ImageDraw

    tiles = grid_tensor(grid_images(run, epoch, kind))[0].numpy()
    image = Image.fromarray(np.round(tiles * 255).astype(np.uint8))  # 2-D uint8: mode "L"
    image = image.resize((image.width * GRID_SCALE, image.height * GRID_SCALE), Image.Resampling.NEAREST)
    font = caption_font(CAPTION_FONT_SIZE)
    title = grid_title(run, epoch, kind)
    width = max(image.width, int(ImageDraw.Draw(image).textlength(title, font=font)) + 12)
    page = Image.new("L", (width, image.height + CAPTION_BAND), 255)
    page.paste(image, ((width - image.width) // 2, CAPTION_BAND))
    ImageDraw.Draw(page).text((6, 5), title, fill=0, font=font)
    return page
