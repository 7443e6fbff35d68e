"""The interactive latent explorer of report.html: the test codes of every checkpoint on the latent plane, an epoch
slider, class toggles, zoom, the digit and its reconstruction on hover, and on a click the image the decoder draws
there (the nearest point of the grid decoded at evaluation). Offline and self-contained: the data and plotly.js go
into the page itself.

Data (:func:`explorer_payload`): from the ``explorer_*`` arrays the evaluation stores per checkpoint
(:func:`vaediag.evaluate.stages.explorer`): the shown digits' coordinates on the plane (dims 0, 1, or PC1 / PC2
for more than 2 latent dimensions, :mod:`vaediag.metrics.plane`), their labels, their images and reconstructions
and the decoded grid as greyscale PNG sprite sheets (28 x 28 tiles, ``SPRITE_COLUMNS`` per row; the decoded
images at ``DECODED_LEVELS`` grey levels, the test images exact). A run evaluated
before these arrays existed gets no explorer (the page says how to get one).

Drawing: plotly.js (the ``plotly`` package's bundle, gzip-compressed and base64-encoded into the page, unpacked
with the browser's ``DecompressionStream`` when the explorer scrolls into view, so the rest of the page loads
without it). The scatter, the zoom, the hover detection and the class traces are plotly's; the slider, the
toggles, the image panel and the click-to-decode are a small hand-written script (``templates/explorer.js``)
because no plotting library draws a tile of a sprite sheet for a hovered point or maps a click on empty plot
area to a precomputed grid.
"""

from __future__ import annotations

import base64
import gzip
import importlib.util
import io
import math
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from vaediag.metrics.plane import project
from vaediag.store.rundir import Run

from .facts import RunFacts

SPRITE_COLUMNS = 40  # tiles per row of a sprite sheet
TILE = 28
DECODED_LEVELS = 32  # grey levels of the decoded images in the page (reconstructions, grid): 2.5x smaller sprites
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
           "#17becf")  # tab10: the colours of the static latent figure
ARRAYS = ("explorer_plane", "explorer_extent", "explorer_index", "explorer_images", "explorer_recon",
          "explorer_grid")


@dataclass(frozen=True)
class ExplorerSection:
    """What the template needs: the payload (JSON-ready), plotly.js gzip+base64, the text above it, sizes."""

    payload: dict
    plotly_gz: str
    text: str
    plotly_version: str


def plotly_path() -> Path | None:
    """The plotly.js bundle of the installed ``plotly`` package (found without importing it); None without it."""
    spec = importlib.util.find_spec("plotly")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "package_data" / "plotly.min.js"
        if path.is_file():
            return path
    return None


@lru_cache(maxsize=2)
def _packed(path: str, mtime: float) -> tuple[str, str]:
    data = Path(path).read_bytes()
    head = data[:200].decode("utf-8", "replace")
    version = head.split("plotly.js v", 1)[1].split()[0] if "plotly.js v" in head else "?"
    return base64.b64encode(gzip.compress(data, compresslevel=9, mtime=0)).decode("ascii"), version


def plotly_bundle() -> tuple[str, str] | None:
    """(plotly.min.js gzip-compressed and base64-encoded, its version), or None when plotly is not installed."""
    path = plotly_path()
    return None if path is None else _packed(str(path), path.stat().st_mtime)


def sprite(images: np.ndarray, columns: int = SPRITE_COLUMNS) -> str:
    """uint8 [n, 28, 28] images as one greyscale PNG (``columns`` tiles per row, row-major), a data URI."""
    from PIL import Image

    images = np.asarray(images, dtype=np.uint8).reshape(-1, TILE, TILE)
    n = len(images)
    cols = max(1, min(columns, n))
    rows = max(1, -(-n // cols))
    sheet = np.zeros((rows * TILE, cols * TILE), np.uint8)
    for k, image in enumerate(images):
        r, c = divmod(k, cols)
        sheet[r * TILE:(r + 1) * TILE, c * TILE:(c + 1) * TILE] = image
    buffer = io.BytesIO()
    Image.fromarray(sheet, mode="L").save(buffer, format="PNG", optimize=True)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def quantized(images: np.ndarray, levels: int = DECODED_LEVELS) -> np.ndarray:
    """uint8 images rounded to ``levels`` evenly spaced grey levels (0 and 255 kept): how the explorer shows the
    decoded images; the figures show them at full depth."""
    step = 255 / (levels - 1)
    return (np.round(np.asarray(images, dtype=np.float64) / step) * step).round().astype(np.uint8)


def _rounded(values: np.ndarray) -> list:
    """Coordinates as JSON numbers with 4 significant digits (None for NaN)."""
    return [None if not math.isfinite(v) else float(f"{v:.4g}") for v in np.asarray(values, dtype=np.float64)]


def has_explorer(run: Run) -> bool:
    """Whether every checkpoint's artifacts hold the explorer's arrays."""
    try:
        return bool(run.epochs) and all(all(a in run.artifacts(e) for a in ARRAYS) for e in run.epochs)
    except Exception:  # noqa: BLE001  (a run without artifacts simply has no explorer)
        return False


def explorer_payload(run: Run, facts: RunFacts) -> dict:
    """The explorer's data: classes and colours, per checkpoint the shown digits' coordinates, the
    reconstructions' sprite and the decoded grid (sprite, side, extent), the originals' sprite, axis titles and
    the shared axis ranges."""
    epochs, frames = run.epochs, []
    first = run.artifacts(epochs[0])
    index = np.asarray(first["explorer_index"], dtype=np.int64)
    labels = np.asarray(first["test_labels"])[index].astype(int) % len(COLOURS)
    extents = []
    for epoch in epochs:
        arrays = run.artifacts(epoch)
        stored = np.asarray(arrays["explorer_plane"], dtype=np.float64)
        mu = np.asarray(arrays["test_mu"], dtype=np.float64).reshape(len(arrays["test_mu"]), -1)
        coords = project(mu[np.asarray(arrays["explorer_index"], dtype=np.int64)], stored[0], stored[1:])
        grid = np.asarray(arrays["explorer_grid"])
        extent = [float(v) for v in np.asarray(arrays["explorer_extent"], dtype=np.float64)]
        extents.append(extent)
        frames.append({"epoch": int(epoch), "x": _rounded(coords[:, 0]), "y": _rounded(coords[:, 1]),
                       "recon": sprite(quantized(arrays["explorer_recon"])),
                       "grid": {"sprite": sprite(quantized(grid)), "n": int(round(math.sqrt(len(grid)))), "extent": extent}})
    box = np.asarray(extents)
    axes = ["PC1 of μ", "PC2 of μ"] if facts.projected else (["μ₀", "μ₁"] if facts.latent_dim >= 2 else ["μ₀", ""])
    return {"classes": list(run.classes.names), "noun": run.classes.noun, "colours": list(COLOURS),
            "labels": labels.tolist(), "index": index.tolist(), "images": sprite(first["explorer_images"]),
            "columns": SPRITE_COLUMNS, "tile": TILE, "frames": frames, "axes": axes,
            "range": [float(box[:, 0].min()), float(box[:, 1].max()), float(box[:, 2].min()), float(box[:, 3].max())]}


def explorer_text(run: Run, facts: RunFacts, payload: dict) -> str:
    """How to read and use the explorer of this run, in words true to it."""
    n, per = len(payload["labels"]), len(payload["labels"]) // max(len(payload["classes"]), 1)
    side = payload["frames"][0]["grid"]["n"]
    plane = (f"on the PCA plane of the {facts.latent_dim}-dimensional codes μ (PC1, PC2, fitted at each checkpoint; "
             "the decoder draws a clicked point with every other direction at the codes' mean)" if facts.projected
             else "on the plane of latent dimensions 0 and 1 (μ₀, μ₁)" if facts.latent_dim >= 2
             else "along latent dimension 0")
    return (f"{n} test {run.classes.item}s ({per} of each class, the same at every checkpoint) {plane}. Slide through "
            "the checkpoints; switch classes on and off; drag a box to zoom (double-click: the whole plane); hover "
            f"over a point to see the {run.classes.item} and its reconstruction; click anywhere in the plane to see "
            f"what the decoder draws there (the nearest point of a {side} × {side} grid decoded at evaluation, over "
            "the dashed rectangle). The static figure in Q1 shows every test code.")


def explorer_section(run: Run, facts: RunFacts) -> ExplorerSection | None:
    """The explorer of ``run``, or None when the run has no explorer arrays or plotly is not installed."""
    bundle = plotly_bundle()
    if bundle is None or not has_explorer(run):
        return None
    payload = explorer_payload(run, facts)
    return ExplorerSection(payload, bundle[0], explorer_text(run, facts, payload), bundle[1])


def missing_reason(run: Run) -> str:
    """Why a run's report has no explorer ("" when it has one or could)."""
    if plotly_bundle() is None:
        return "the latent explorer needs the plotly package (pip install plotly)"
    if not has_explorer(run):
        return ("this run was evaluated before the latent explorer existed: `vaediag evaluate RUN_DIR` again "
                "adds its arrays")
    return ""
