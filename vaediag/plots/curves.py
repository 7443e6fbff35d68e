"""Metric curves over the epochs of a run: separation (silhouette and kNN accuracy on separate axes), entropy,
Fréchet distance and the training loss.

Each curve is a column of a wide frame indexed by epoch, drawn by ``seaborn.lineplot`` (one colour and
marker per column); reference values of real test digits are dotted horizontal lines. Epoch axes have integer
ticks only; a legend sits below the axes, outside the data. A curve figure is ``FIGSIZE_IN[0]`` = 4.8 inches
wide: 480 CSS pixels, so a phone shows its smallest text (9 pt) at 10 px without a narrow rendering.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .. import columns as C
from vaediag.datasets.classes import reword
from .output import MIN_FONT_PT, TITLE_PT

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from vaediag.store.rundir import Run

ENTROPY_CURVES = ((C.PRIOR, "prior samples"), (C.GRID, "linear grid"), (C.QGRID, "quantile grid"))
LOSS_CURVES = ((C.TRAIN_LOSS, "train (running)"), (C.TEST_LOSS, "test"), (C.TRAIN_EVAL_LOSS, "train (eval mode)"))
SEPARATION_PANELS = ((C.SILHOUETTE, "silhouette", "tab:blue"), (C.KNN_ACCURACY, "kNN accuracy", "tab:orange"))
FIGSIZE_IN = (4.8, 3.3)  # width, height of the axes area (the legend rows below add to it)
MARGIN_IN = {"left": 0.72, "right": 0.15, "top": 0.34, "bottom": 0.55}  # bottom: tick labels and x label
LEGEND_ROW_IN = 0.22
LEGEND_COLUMNS = 2


def metric_curves(run: Run, columns: dict[str, str]) -> pd.DataFrame:
    """Checkpoint epochs x curves: ``{column: label}`` of metrics as numbers (NaN where absent)."""
    m = run.checkpoint_metrics
    return pd.DataFrame({label: pd.to_numeric(m[col], errors="coerce") if col in m.columns else np.nan
                         for col, label in columns.items()}, index=m.index)


def draw_curves(ax: Axes, curves: pd.DataFrame, *, markers: bool = True, palette=None) -> None:
    """One line per column of ``curves`` (index: epoch); all-NaN columns are left out. seaborn's legend
    entries stay on the axes; :func:`label_axes` draws one legend of them and the reference lines."""
    curves = curves.dropna(axis=1, how="all")
    if curves.shape[1]:
        sns.lineplot(data=curves, markers=markers, dashes=False, estimator=None, palette=palette, ax=ax)


def reference_line(ax: Axes, value: float, label: str) -> None:
    if np.isfinite(value):
        ax.axhline(value, color="black", ls=":", lw=1.2, label=label)


def integer_epochs(ax: Axes) -> None:
    """Epoch ticks at whole epochs only (no 1.25, 1.50)."""
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def label_axes(ax: Axes, *, xlabel: str, ylabel: str, title: str) -> None:
    """Labels, title, integer epoch ticks and a grid; the legend is drawn below the axes by
    :func:`curve_figure` (seaborn's legend inside the axes is removed)."""
    ax.set_xlabel(xlabel, fontsize=TITLE_PT)
    ax.set_ylabel(ylabel, fontsize=TITLE_PT)
    ax.set_title(title, fontsize=TITLE_PT)
    ax.tick_params(labelsize=MIN_FONT_PT + 1)
    if ax.get_legend() is not None:
        ax.get_legend().remove()
    integer_epochs(ax)
    ax.grid(alpha=0.3)


def separation_figure(run: Run) -> Figure:
    """Silhouette (top) and kNN accuracy (bottom) over checkpoint epochs, each on its own axes and scale (on
    one scale the smaller range looks flat); both: higher = better separated."""
    width, height = FIGSIZE_IN[0], FIGSIZE_IN[1] + MARGIN_IN["top"] + MARGIN_IN["bottom"]
    fig = Figure(figsize=(width, height))
    m, panel = MARGIN_IN, (FIGSIZE_IN[1] - 0.25) / 2  # 0.25 in between the panels
    box = (m["left"] / width, 1 - (m["right"] + m["left"]) / width)
    top = fig.add_axes((box[0], (m["bottom"] + panel + 0.25) / height, box[1], panel / height))
    bottom = fig.add_axes((box[0], m["bottom"] / height, box[1], panel / height), sharex=top)
    for ax, (column, label, colour) in zip((top, bottom), SEPARATION_PANELS):
        draw_curves(ax, metric_curves(run, {column: label}), palette=[colour])
        if ax.get_legend() is not None:
            ax.get_legend().remove()
        ax.tick_params(labelsize=MIN_FONT_PT + 1)
        ax.set_ylabel(label, fontsize=TITLE_PT)
        ax.grid(alpha=0.3)
        integer_epochs(ax)
    top.tick_params(labelbottom=False)
    top.set_xlabel("")
    top.set_title(reword("latent separation of the digits (higher = better separated)", run.classes), fontsize=TITLE_PT)
    bottom.set_xlabel("epoch", fontsize=TITLE_PT)
    return fig


def entropy_reference(run: Run) -> float:
    """Normalised class entropy of the real test digits: the data row's prior/grid/qgrid value."""
    for prefix, _ in ENTROPY_CURVES:
        value = run.reference(prefix + C.ENTROPY_NORM)
        if np.isfinite(value):
            return value
    return float("nan")


def draw_entropy(ax: Axes, run: Run) -> None:
    """Normalised class entropy of prior vs linear-grid vs quantile-grid samples; real digits as a line."""
    draw_curves(ax, metric_curves(run, {prefix + C.ENTROPY_NORM: label for prefix, label in ENTROPY_CURVES}))
    reference_line(ax, entropy_reference(run), reword("real test digits", run.classes))
    ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.05)
    label_axes(ax, xlabel="epoch", ylabel="class entropy / ln 10",
               title=reword("diversity of generated digits (1 = all digits equally)", run.classes))


def draw_frechet(ax: Axes, run: Run) -> None:
    """Fréchet distance of prior samples to real test digits (classifier features); reference line."""
    draw_curves(ax, metric_curves(run, {C.FRECHET: "prior samples"}), palette=["tab:purple"])
    reference_line(ax, run.reference(C.FRECHET), "real vs real (two halves)")
    ax.set_ylim(bottom=0)
    label_axes(ax, xlabel="epoch", ylabel=reword("lower = closer to real digits", run.classes),
               title="Fréchet distance (classifier features)")


EVAL_LOSS_CURVES = ((C.EVAL_LOSS, "test −ELBO (evaluation)"), (C.IWAE_NLL, "test IWAE"),
                    (C.IWAE_TRAIN_NLL, "train-subset IWAE"))  # a run without history.csv (external run)


def has_loss(run: Run) -> bool:
    """Whether the loss figure has a curve to draw: history.csv, or (an external run without one) the evaluated
    epochs' ELBO / IWAE columns (all NaN for a deterministic encoder: then no loss figure)."""
    if len(run.history):
        return True
    m = run.checkpoint_metrics
    return any(col in m.columns and pd.to_numeric(m[col], errors="coerce").notna().any()
               for col, _ in (*LOSS_CURVES, *EVAL_LOSS_CURVES))


def draw_loss(ax: Axes, run: Run, mark_epoch: int | None = None) -> None:
    """Train and test loss (negative ELBO, nats/sample) for every training epoch; checkpoints dotted;
    ``mark_epoch`` dashed when training ran past it (None: no mark). A run without history.csv whose checkpoint
    rows carry no training loss either (an external run) shows the evaluated epochs' test ELBO and IWAE bounds."""
    history = run.history
    if len(history) == 0 and run.is_external:
        m = run.checkpoint_metrics
        draw_curves(ax, pd.DataFrame({label: pd.to_numeric(m[col], errors="coerce")
                                      for col, label in EVAL_LOSS_CURVES if col in m.columns}))
        label_axes(ax, xlabel="evaluated epoch", ylabel="nats/sample",
                   title="evaluation bounds (no training history)")
        return
    if len(history) == 0:  # fall back on the checkpoint rows, which carry the joined history columns
        history = run.checkpoint_metrics
    draw_curves(ax, pd.DataFrame({label: pd.to_numeric(history[col], errors="coerce")
                                  for col, label in LOSS_CURVES if col in history.columns}), markers=False)
    for epoch in run.epochs:
        ax.axvline(epoch, color="gray", lw=0.6, ls=":")
    if mark_epoch is not None and len(history) and max(history.index) > mark_epoch:
        ax.axvline(mark_epoch, color="tab:red", lw=0.8, ls="--", label=f"epoch {mark_epoch}")
    label_axes(ax, xlabel="epoch (dotted: checkpoints)", ylabel="nats/sample",
               title="train vs test loss (negative ELBO)")


def curve_figure(draw, run: Run, **options) -> Figure:
    """A single-axes figure drawn by ``draw(ax, run, **options)`` with its legend in rows of
    ``LEGEND_COLUMNS`` below the axes, outside the data (fixed margins, no layout engine)."""
    fig = Figure(figsize=FIGSIZE_IN)
    ax = fig.add_axes((0, 0, 1, 1))
    draw(ax, run, **options)
    handles, labels = ax.get_legend_handles_labels()
    rows = -(-len(labels) // LEGEND_COLUMNS)
    m, legend = MARGIN_IN, rows * LEGEND_ROW_IN + (0.08 if rows else 0)
    width, height = FIGSIZE_IN[0], FIGSIZE_IN[1] + m["top"] + m["bottom"] + legend
    fig.set_size_inches(width, height)
    ax.set_position((m["left"] / width, (m["bottom"] + legend) / height, 1 - (m["left"] + m["right"]) / width,
                     FIGSIZE_IN[1] / height))
    if labels:
        fig.legend(handles, labels, loc="lower center", ncol=min(LEGEND_COLUMNS, len(labels)),
                   fontsize=MIN_FONT_PT + 1, frameon=False, bbox_to_anchor=(0.5, 0.02 / height),
                   handlelength=2.2, columnspacing=1.6)
    return fig
