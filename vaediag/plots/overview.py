"""The overview page: the already drawn PNGs of a run composed on one page with PIL (cheaper than redrawing
every panel in one matplotlib figure). The figures keep their own size (so their texts stay as legible as in
the figures themselves): every row fits ``OVERVIEW_WIDTH``, the width of the widest figure; a row that would
not is scaled down to it, never up."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from .names import FIG_CLASS_SHARE, FIG_ENTROPY, FIG_FRECHET, FIG_LATENT, FIG_LOSS, FIG_PAIRS, FIG_SEPARATION
from .output import CAPTION_FONT_PX, DPI, MAX_WIDTH_IN, MIN_TEXT_KEY, caption_font, png_min_text

if TYPE_CHECKING:
    from PIL import Image

    from vaediag.store.rundir import Run

OVERVIEW_WIDTH = int(MAX_WIDTH_IN * DPI)  # pixels: the widest figure
TITLE_FONT_SIZE = CAPTION_FONT_PX + 6
TITLE_BAND = TITLE_FONT_SIZE + 28  # pixels above the first row
GAP = 16  # pixels between rows and between the figures of a row


def overview_rows(run: Run) -> list[list[str]]:
    """Figure names per row of the overview page."""
    return [[FIG_LATENT], [FIG_SEPARATION, FIG_ENTROPY], [FIG_FRECHET, FIG_LOSS], [FIG_CLASS_SHARE], [FIG_PAIRS]]


def overview_title(run: Run) -> str:
    """The page's title line: run, dataset, model, latent dimension, β (only for a model vaediag trained, which
    records it) and checkpoints."""
    beta = run.model_config.get("beta")
    beta = f", beta {beta:g}" if isinstance(beta, (int, float)) and not isinstance(beta, bool) \
        and not run.is_external else ""
    return (f"vaediag overview: {run.name} ({run.classes.title})   model {run.model_name}, latent "
            f"{run.latent_dim}{beta}; checkpoints {', '.join(map(str, run.epochs))}")


def scale_row(images: list[Image.Image]) -> list[Image.Image]:
    """The images of one row as they are, or scaled down by one factor when the row is wider than the page."""
    from PIL import Image

    scale = (OVERVIEW_WIDTH - GAP * (len(images) - 1)) / sum(im.width for im in images)
    if scale >= 1:
        return images
    return [im.resize((max(int(im.width * scale), 1), max(int(im.height * scale), 1)), Image.Resampling.LANCZOS)
            for im in images]


def overview_page(run: Run, figures: Mapping[str, Path]) -> Image.Image:
    """The page composed of the PNGs in ``figures`` (name -> path) named by :func:`overview_rows`;
    names missing from ``figures`` are left out."""
    from PIL import Image, ImageDraw

    rows, smallest = [], [float(TITLE_FONT_SIZE)]
    for names in overview_rows(run):
        images, texts = [], []
        for name in names:
            if name in figures:
                data = Path(figures[name]).read_bytes()
                with Image.open(figures[name]) as im:
                    images.append(im.convert("RGB"))
                texts.append(png_min_text(data))
        if images:
            scaled = scale_row(images)
            rows.append(scaled)
            smallest += [t * s.width / im.width for t, s, im in zip(texts, scaled, images) if t == t]
    heights = [max(im.height for im in row) for row in rows]
    page = Image.new("RGB", (OVERVIEW_WIDTH, TITLE_BAND + sum(h + GAP for h in heights)), "white")
    y = TITLE_BAND
    for row, height in zip(rows, heights):
        x = (OVERVIEW_WIDTH - sum(im.width for im in row) - GAP * (len(row) - 1)) // 2
        for im in row:
            page.paste(im, (x, y))
            x += im.width + GAP
        y += height + GAP
    ImageDraw.Draw(page).text((GAP, 14), overview_title(run), fill="black", font=caption_font(TITLE_FONT_SIZE))
    page.info[MIN_TEXT_KEY] = min(smallest)
    return page
