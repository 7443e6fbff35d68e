"""The latent scatters: test-set posterior means (dims 0, 1) coloured by digit, with both grid windows, one
panel per checkpoint in one row (small multiples). A latent space of more than 2 dimensions is shown as its
2-D PCA projection instead (:func:`projected_codes`: PC1 / PC2 of the test codes μ of each checkpoint, sklearn
``PCA``), without the grid windows, which live in dims 0, 1.

Every panel shares the same axis limits (:func:`latent_limits`), so epoch 5 and epoch 100 compare at a glance.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Rectangle

from .. import columns as C
from .names import GRID_KINDS
from .output import MAX_WIDTH_IN, MIN_FONT_PT, NARROW_WIDTH_IN, TITLE_PT

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from vaediag.store.rundir import Run

PALETTE = "tab10"  # categorical: one fixed colour per digit
LIMIT_QUANTILES = (0.005, 0.995)  # robust axis limits of the latent scatter, over all epochs' codes
LIMIT_MARGIN = 0.08  # fraction of the range added on each side
POINT_SIZE = 1.5  # scatter marker area (points²); the digit legend shows larger markers
LEGEND_MARKER_SIZE = 7
PANEL_IN = (1.4, 2.6)  # smallest and largest panel side, inches
MARGINS_IN = {"left": 0.6, "right": 0.15, "gap": 0.12, "top": 0.75, "bottom": 1.05}  # bottom: x label + legend
MIN_WIDTH_IN = 9.8  # room for the legend row
WINDOW_STYLES = {"linear": {"lw": 1.4, "ec": "black"}, "quantile": {"lw": 1.2, "ec": "dimgray", "ls": "--"}}

Limits = tuple[tuple[float, float], tuple[float, float]]


def codes_2d(mu: np.ndarray) -> np.ndarray:
    """Two plotting coordinates of the codes: dims 0, 1 (the grid's axes); 1-D codes get a zero y."""
    mu = np.asarray(mu, dtype=np.float64).reshape(len(mu), -1)
    if mu.shape[1] >= 2:
        return mu[:, :2]
    return np.column_stack([mu[:, 0], np.zeros(len(mu))])


def is_projected(run: Run) -> bool:
    """Whether the run's codes are shown as a PCA projection (latent dimension above 2)."""
    return run.latent_dim > 2


def projected_codes(run: Run, epoch: int) -> np.ndarray:
    """The two plotting coordinates of ``epoch``'s test codes: dims 0, 1 (:func:`codes_2d`) for up to 2 latent
    dimensions, else their coordinates on the PCA plane of that checkpoint's codes μ: the plane the evaluation
    stored for the latent explorer (``explorer_plane``), else the same plane computed here
    (:func:`vaediag.metrics.plane.latent_plane`, sklearn ``PCA``, deterministic ``svd_solver="full"``)."""
    arrays = run.artifacts(epoch)
    mu = np.asarray(arrays["test_mu"], dtype=np.float64)
    mu = mu.reshape(len(mu), -1)
    if not is_projected(run) or mu.shape[1] <= 2 or len(mu) < 2:
        return codes_2d(mu)
    from vaediag.metrics.plane import latent_plane, project

    stored = np.asarray(arrays["explorer_plane"], dtype=np.float64) if "explorer_plane" in arrays else None
    if stored is not None and stored.shape == (3, mu.shape[1]):
        origin, basis = stored[0], stored[1:]
    else:
        origin, basis = latent_plane(mu)
    return project(mu, origin, basis)


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
    points = np.concatenate([projected_codes(run, e) for e in run.epochs])
    points = points[np.all(np.isfinite(points), axis=1)]
    if len(points) == 0:
        points = np.zeros((1, 2))
    lo = np.quantile(points, LIMIT_QUANTILES[0], axis=0)
    hi = np.quantile(points, LIMIT_QUANTILES[1], axis=0)
    windows = [] if is_projected(run) else [s for e in run.epochs for s in grid_spans(run, e) if np.isfinite(s)]
    if windows:
        widest = max(windows)
        lo, hi = np.minimum(lo, -widest), np.maximum(hi, widest)
    pad = (hi - lo) * LIMIT_MARGIN + 1e-6
    lo, hi = lo - pad, hi + pad
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


def digit_colours() -> list:
    """One fixed colour per digit (``PALETTE``)."""
    from matplotlib import colormaps

    return [colormaps[PALETTE](d) for d in range(C.N_CLASSES)]


def draw_codes(ax: Axes, run: Run, epoch: int, limits: Limits) -> None:
    """One panel: the test codes at ``epoch`` coloured by digit (random drawing order, so no digit is always
    on top), both grid windows as squares, the shared limits, a title naming the epoch and the share of codes
    inside the linear grid."""
    arrays = run.artifacts(epoch)
    points = projected_codes(run, epoch)
    digits = np.asarray(arrays["test_labels"]).astype(int) % C.N_CLASSES
    order = np.random.default_rng(0).permutation(len(points))
    colours = np.asarray(digit_colours())[digits[order]]
    ax.scatter(points[order, 0], points[order, 1], c=colours, s=POINT_SIZE, linewidths=0, alpha=0.7)
    for kind, half in zip(GRID_KINDS, grid_spans(run, epoch)):
        if np.isfinite(half) and not is_projected(run):
            ax.add_patch(Rectangle((-half, -half), 2 * half, 2 * half, fill=False, **WINDOW_STYLES[kind]))
    ax.set_xlim(*limits[0])
    ax.set_ylim(*limits[1])
    ax.set_aspect("equal", adjustable="box")
    ax.tick_params(labelsize=MIN_FONT_PT + 1)
    inside = np.nan if is_projected(run) else run.value(C.GRID_INSIDE, epoch)
    title = f"epoch {epoch}" + (f"\n{100 * inside:.1f} % in linear grid" if np.isfinite(inside) else "")
    ax.set_title(title, fontsize=TITLE_PT - 1)


def legend_handles(run: Run) -> tuple[list, list[str]]:
    """Legend entries: a marker per digit, then each grid window (its half-width at the last checkpoint)."""
    handles: list = [Line2D([], [], ls="", marker="o", markersize=LEGEND_MARKER_SIZE, color=colour)
                     for colour in digit_colours()]
    labels = list(run.classes.names)  # "0"-"9" (MNIST), "T-shirt/top", ... (Fashion-MNIST)
    for kind, half in zip(GRID_KINDS, grid_spans(run, run.last)):
        if np.isfinite(half) and not is_projected(run):
            handles.append(Rectangle((0, 0), 1, 1, fill=False, **WINDOW_STYLES[kind]))
            labels.append(f"{kind} grid [-{half:.3g}, {half:.3g}]²")
    return handles, labels


def panel_layout(n: int, width_in: float = MAX_WIDTH_IN) -> tuple[int, float]:
    """(panels per row, panel side in inches) for ``n`` checkpoints: one row while the panels can keep at least
    ``PANEL_IN[0]`` within ``width_in``, else as many rows as needed."""
    m = MARGINS_IN
    room = width_in - m["left"] - m["right"]
    per_row = max(1, min(n, int((room + m["gap"]) // (PANEL_IN[0] + m["gap"]))))
    return per_row, float(min(PANEL_IN[1], (room - (per_row - 1) * m["gap"]) / per_row))


def latent_all_figure(run: Run, limits: Limits | None = None, narrow: bool = False) -> Figure:
    """The test codes of every checkpoint as one row of panels with shared axes (``limits``:
    :func:`latent_limits` when not given) and one legend below; more checkpoints than fit one row at
    ``PANEL_IN[0]`` continue on further rows (:func:`panel_layout`). ``narrow``: the phone's rendering,
    ``NARROW_WIDTH_IN`` wide (two panels per row, the legend in rows of four).

    Fixed margins instead of a layout engine, which would cost an extra draw."""
    limits = limits or latent_limits(run)
    epochs, m = run.epochs, dict(MARGINS_IN)
    handles, labels = legend_handles(run)
    columns = (4 if narrow else len(labels) if run.classes.numeric else -(-len(labels) // 2))  # names: two rows
    if narrow:
        m["bottom"] = 0.62 + 0.2 * (-(-len(labels) // columns))
        m["top"] = 0.95  # a two-line figure title
    per_row, panel = panel_layout(len(epochs), NARROW_WIDTH_IN if narrow else MAX_WIDTH_IN)
    rows = -(-len(epochs) // per_row)
    row = per_row * panel + (per_row - 1) * m["gap"]
    (x_low, x_high), (y_low, y_high) = limits
    tall = panel * float(np.clip((y_high - y_low) / (x_high - x_low), 0.5, 1.3))  # equal axis scales
    row_height = tall + 0.9  # room for the x labels and the next row's titles
    width = NARROW_WIDTH_IN if narrow else max(m["left"] + row + m["right"], MIN_WIDTH_IN)
    height = m["top"] + tall + (rows - 1) * row_height + m["bottom"]
    fig = Figure(figsize=(width, height))
    x0 = m["left"] + (width - m["left"] - m["right"] - row) / 2
    mu = run.artifacts(run.last)["test_mu"]
    dims = mu.shape[1] if np.ndim(mu) == 2 else 1
    first = None
    for i, epoch in enumerate(epochs):
        r, c = divmod(i, per_row)
        bottom = m["bottom"] + (rows - 1 - r) * row_height
        ax = fig.add_axes(((x0 + c * (panel + m["gap"])) / width, bottom / height, panel / width, tall / height),
                          sharex=first, sharey=first)
        draw_codes(ax, run, epoch, limits)
        first = first or ax
        projected = is_projected(run)
        if c == 0:
            ax.set_ylabel("PC2 of μ" if projected else "μ₁" if dims >= 2 else "(1-D codes)", fontsize=TITLE_PT)
        else:
            ax.tick_params(labelleft=False)
        ax.set_xlabel("PC1 of μ" if projected else "μ₀", fontsize=TITLE_PT, labelpad=1)
    fig.legend(handles, labels, loc="lower center", ncol=columns, fontsize=MIN_FONT_PT + 1, frameon=False,
               title=f"{run.classes.noun} (colour)" + ("" if is_projected(run) else " and grid windows"),
               title_fontsize=MIN_FONT_PT + 1, handletextpad=0.3,
               columnspacing=0.9, bbox_to_anchor=(0.5, 0.0))
    if is_projected(run):
        shown = (f"test codes μ ({dims}-D) on their first two principal components (PCA per checkpoint)"
                 if narrow else f"test codes μ ({dims}-D) projected on their first two principal components (PCA "
                 "per checkpoint) at each checkpoint")
    else:
        shown = "test codes (posterior means) at each checkpoint"
    fig.text(0.5, 1 - 0.08 / height, f"{shown},\nsame axes" if narrow else f"{shown}, same axes", ha="center",
             va="top", fontsize=TITLE_PT)
    return fig
