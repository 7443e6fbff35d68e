"""The latent scatter: test-set posterior means (dims 0, 1) coloured by digit, with both grid windows.

Every epoch of a run shares the same axis limits (:func:`latent_limits`), so the figures can be compared
side by side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from .. import columns as C
from .names import GRID_KINDS

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from ..rundir import Run

PALETTE = "tab10"  # categorical: one fixed colour per digit
LIMIT_QUANTILES = (0.005, 0.995)  # robust axis limits of the latent scatter, over all epochs' codes
LIMIT_MARGIN = 0.08  # fraction of the range added on each side
POINT_SIZE = 2  # scatter marker area (points²); the digit legend shows larger markers
LEGEND_MARKER_SIZE = 6
WINDOW_STYLES = {"linear": {"lw": 1.4, "ec": "black"}, "quantile": {"lw": 1.2, "ec": "dimgray", "ls": "--"}}

Limits = tuple[tuple[float, float], tuple[float, float]]


def codes_2d(mu: np.ndarray) -> np.ndarray:
    """Two plotting coordinates of the codes: dims 0, 1 (the grid's axes); 1-D codes get a zero y."""
    mu = np.asarray(mu, dtype=np.float64).reshape(len(mu), -1)
    if mu.shape[1] >= 2:
        return mu[:, :2]
    return np.column_stack([mu[:, 0], np.zeros(len(mu))])


def grid_spans(run: Run, epoch: int) -> tuple[float, float]:
    """Grid half-widths at ``epoch`` in ``GRID_KINDS`` order (linear, quantile): the artifact's values, else
    the metrics row's."""
    arrays = run.artifacts(epoch)
    span = float(arrays["grid_span"]) if "grid_span" in arrays else run.value(C.GRID_SPAN, epoch)
    qspan = float(arrays["qgrid_span"]) if "qgrid_span" in arrays else run.value(C.QGRID_SPAN, epoch)
    return span, qspan


def latent_limits(run: Run) -> Limits:
    """Axis limits shared by every latent scatter of a run: robust quantiles (``LIMIT_QUANTILES``) of all
    epochs' codes pooled, widened to show both grid windows, plus ``LIMIT_MARGIN`` on each side.

    Reads every epoch's artifacts, so a missing one fails here, before any figure is written."""
    points = np.concatenate([codes_2d(run.artifacts(e)["test_mu"]) for e in run.epochs])
    points = points[np.all(np.isfinite(points), axis=1)]
    if len(points) == 0:
        points = np.zeros((1, 2))
    lo = np.quantile(points, LIMIT_QUANTILES[0], axis=0)
    hi = np.quantile(points, LIMIT_QUANTILES[1], axis=0)
    windows = [s for e in run.epochs for s in grid_spans(run, e) if np.isfinite(s)]
    if windows:
        widest = max(windows)
        lo, hi = np.minimum(lo, -widest), np.maximum(hi, widest)
    pad = (hi - lo) * LIMIT_MARGIN + 1e-6
    lo, hi = lo - pad, hi + pad
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


def draw_latent(ax: Axes, run: Run, epoch: int, limits: Limits) -> None:
    """Scatter of the test codes at ``epoch`` coloured by digit, with both grid windows as rectangles;
    legends (digits, windows) right of the axes."""
    arrays = run.artifacts(epoch)
    points = codes_2d(arrays["test_mu"])
    digits = pd.Categorical(np.asarray(arrays["test_labels"]).astype(int) % C.N_CLASSES,
                            categories=range(C.N_CLASSES))
    order = np.random.default_rng(0).permutation(len(points))  # random drawing order: no digit always on top
    sns.scatterplot(x=points[order, 0], y=points[order, 1], hue=digits[order], palette=PALETTE, s=POINT_SIZE,
                    linewidth=0, alpha=0.7, legend="full", ax=ax)
    drawn = ax.get_legend()  # seaborn's: one marker per digit, restyled right of the axes
    handles, labels = drawn.legend_handles, [text.get_text() for text in drawn.get_texts()]
    drawn.remove()
    for handle in handles:
        handle.set_markersize(LEGEND_MARKER_SIZE)
        handle.set_alpha(1.0)
    ax.add_artist(ax.legend(handles, labels, title="digit", fontsize=7, title_fontsize=8, loc="upper left",
                            bbox_to_anchor=(1.02, 1.0), borderaxespad=0))  # kept when the window legend follows

    windows = []
    for kind, half in zip(GRID_KINDS, grid_spans(run, epoch)):
        if np.isfinite(half):
            windows.append(ax.add_patch(Rectangle((-half, -half), 2 * half, 2 * half, fill=False,
                                                  label=f"{kind} grid [-{half:.3g}, {half:.3g}]²",
                                                  **WINDOW_STYLES[kind])))
    if windows:
        ax.legend(handles=windows, loc="lower left", bbox_to_anchor=(1.02, 0.0), fontsize=7, borderaxespad=0,
                  frameon=False)

    xlim, ylim = limits
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    dims = arrays["test_mu"].shape[1] if np.ndim(arrays["test_mu"]) == 2 else 1
    ax.set_xlabel("μ₀")
    ax.set_ylabel("μ₁" if dims >= 2 else "(1-D codes)")
    inside = run.value(C.GRID_INSIDE, epoch)
    title = f"test codes, epoch {epoch}" + (f" (dims 0, 1 of {dims})" if dims > 2 else "")
    if np.isfinite(inside):
        title += f"; {100 * inside:.1f} % inside linear grid"
    ax.set_title(title, fontsize=9)


def latent_figure(run: Run, epoch: int, limits: Limits | None = None) -> Figure:
    """The latent scatter of ``epoch`` as a figure (``limits``: :func:`latent_limits` when not given).

    Fixed margins instead of a layout engine, which would cost an extra draw per figure."""
    fig = Figure(figsize=(7.6, 5.2))
    draw_latent(fig.add_axes((0.09, 0.1, 0.6, 0.82)), run, epoch, limits or latent_limits(run))
    return fig
