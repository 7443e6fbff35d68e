"""The overview page: the already drawn PNGs of a run composed on one page with PIL (cheaper than redrawing
every panel in one matplotlib figure). Each row is scaled to a common height that fills ``OVERVIEW_WIDTH``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .names import (FIG_CLASS_SHARE, FIG_ENTROPY, FIG_FRECHET, FIG_LOSS, FIG_PAIRS, FIG_SEPARATION, grid_name,
                    latent_name)
from .output import caption_font

if TYPE_CHECKING:
    from PIL import Image

    from ..rundir import Run

OVERVIEW_WIDTH = 1800  # pixels
TITLE_BAND = 40  # pixels above the first row
GAP = 8  # pixels between rows and between the figures of a row
TITLE_FONT_SIZE = 20


def overview_rows(run: Run) -> list[list[str]]:
    """Figure names per row of the overview page."""
    return [
        [latent_name(run.first), latent_name(run.last), grid_name(run.last, "linear")],
        [FIG_SEPARATION, FIG_ENTROPY, FIG_FRECHET, FIG_LOSS],
        [FIG_CLASS_SHARE],
        [FIG_PAIRS],
    ]


def overview_title(run: Run) -> str:
    model = run.model_config
    return (f"vaediag overview: {run.name}   model {model.get('model', '?')}, latent "
            f"{model.get('latent_dim', '?')}, beta {model.get('beta', '?')}; checkpoints "
            f"{', '.join(map(str, run.epochs))}")


def scale_row(images: list[Image.Image]) -> list[Image.Image]:
    """The images of one row resized to one height at which the row fills the page (never enlarged)."""
    from PIL import Image

    ratio = sum(im.width / im.height for im in images)
    height = int(min((OVERVIEW_WIDTH - GAP * (len(images) - 1)) / ratio, max(im.height for im in images)))
    return [im.resize((max(int(im.width * height / im.height), 1), height), Image.Resampling.LANCZOS)
            for im in images]


def overview_page(run: Run, figures: Mapping[str, Path]) -> Image.Image:
    """The page composed of the PNGs in ``figures`` (name -> path) named by :func:`overview_rows`;
    names missing from ``figures`` are left out."""
    from PIL import Image, ImageDraw

    rows = []
    for names in overview_rows(run):
        images = []
        for name in names:
            if name in figures:
                with Image.open(figures[name]) as im:
                    images.append(im.convert("RGB"))
        if images:
            rows.append(scale_row(images))
    page = Image.new("RGB", (OVERVIEW_WIDTH, TITLE_BAND + sum(row[0].height + GAP for row in rows)), "white")
    y = TITLE_BAND
    for row in rows:
        x = (OVERVIEW_WIDTH - sum(im.width for im in row) - GAP * (len(row) - 1)) // 2
        for im in row:
            page.paste(im, (x, y))
            x += im.width + GAP
        y += row[0].height + GAP
    ImageDraw.Draw(page).text((12, 10), overview_title(run), fill="black", font=caption_font(TITLE_FONT_SIZE))
    return page
