"""Annotated heat maps (``seaborn.heatmap``, cells in percent): class shares epoch x digit and the kNN pair
confusion digit x digit. Each figure uses one colour scale for all its panels. ``narrow=True`` draws the narrow
rendering a phone shows: the same panels stacked, ``NARROW_WIDTH_IN`` wide, each with its colour bar."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import seaborn as sns
from matplotlib.figure import Figure

from .. import columns as C
from .output import MAX_WIDTH_IN, MIN_FONT_PT, NARROW_WIDTH_IN, TITLE_PT

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from vaediag.store.rundir import Run

SHARE_PANELS = ((C.CLASS_PRIOR_SHARE, "prior samples"), (C.CLASS_GRID_SHARE, "linear grid"),
                (C.CLASS_QGRID_SHARE, "quantile grid"))
SHARE_MIN_VMAX = 0.2  # the class-share colour scale reaches at least 20 %
DATA_ROW_LABEL = "data"  # the real test shares, below the checkpoint rows
DIGITS = range(C.N_CLASSES)


def name_ticks(ax: Axes, run: Run, y: bool = False) -> None:
    """Tick labels of a heat map's class axes: the short class names of a named dataset (Fashion-MNIST: "Boot"
    for "Ankle boot"), turned to fit, in place of the axis label; MNIST keeps its digits 0-9."""
    classes = run.classes
    if classes.numeric:
        return
    ax.set_xticks(np.arange(classes.n) + 0.5, list(classes.tick_labels), rotation=90)
    ax.set_xlabel("")  # the names say what the axis is; the label would not fit below them
    if y:
        ax.set_yticks(np.arange(classes.n) + 0.5, list(classes.tick_labels), rotation=0)
        ax.set_ylabel("")


def draw_heatmap(ax: Axes, table: pd.DataFrame, *, vmax: float, cmap: str, cbar: bool, title: str, xlabel: str,
                 ylabel: str, square: bool = False) -> None:
    """Heat map of a table of fractions, each cell annotated in percent; NaN cells are left blank."""
    percent = table.astype(float) * 100
    vmax = vmax if np.isfinite(vmax) and vmax > 0 else 1.0
    sns.heatmap(percent, ax=ax, mask=percent.isna(), vmin=0, vmax=100 * vmax, cmap=cmap, annot=True, fmt=".0f",
                annot_kws={"fontsize": MIN_FONT_PT}, cbar=cbar, square=square,
                cbar_kws={"label": "%", "fraction": 0.046, "pad": 0.03})
    ax.tick_params(length=0, labelsize=MIN_FONT_PT + 1, labelrotation=0)
    if cbar:
        colorbar = ax.collections[0].colorbar
        colorbar.ax.tick_params(labelsize=MIN_FONT_PT + 1)
        colorbar.ax.yaxis.label.set_fontsize(TITLE_PT)
    ax.set_xlabel(xlabel, fontsize=TITLE_PT)
    ax.set_ylabel(ylabel, fontsize=TITLE_PT)
    ax.set_title(title, fontsize=TITLE_PT)


# ---------------------------------------------------------------------------------------------- class shares
def class_share_table(run: Run, column: str) -> pd.DataFrame:
    """epoch x digit table of a per_class share column (checkpoint rows), with the real test shares of the
    ``"data"`` rows as the last row."""
    per_class = run.per_class
    model = per_class[per_class[C.SOURCE] == C.SOURCE_MODEL]
    if column in model.columns:
        table = model.pivot_table(index=C.EPOCH, columns=C.CLASS, values=column, aggfunc="first")
    else:
        table = pd.DataFrame(dtype=float)
    table = table.reindex(index=run.epochs, columns=DIGITS).astype(float)
    table.index = [str(epoch) for epoch in table.index]
    data = per_class[per_class[C.SOURCE] == C.SOURCE_DATA]
    if C.CLASS_DATA_SHARE in data.columns and len(data):
        shares = pd.to_numeric(data[C.CLASS_DATA_SHARE], errors="coerce").groupby(data[C.CLASS]).first()
        table.loc[DATA_ROW_LABEL] = shares.reindex(DIGITS).to_numpy(dtype=float)
    return table


def share_vmax(run: Run) -> float:
    """Top of the class-share colour scale: the largest share in any panel, at least ``SHARE_MIN_VMAX``."""
    columns = [col for col, _ in SHARE_PANELS if col in run.per_class.columns]
    values = run.per_class[columns].apply(pd.to_numeric, errors="coerce").to_numpy(dtype=float)
    return max(float(np.nanmax(values)) if np.isfinite(values).any() else 0.0, SHARE_MIN_VMAX)


def share_panels(run: Run) -> list[tuple[str, str]]:
    """(per_class column, title) of the panels drawn: the share columns that hold a value (prior samples first;
    the grids' when measured)."""
    model = run.per_class[run.per_class[C.SOURCE] == C.SOURCE_MODEL]
    panels = [(col, title) for col, title in SHARE_PANELS
              if col in model.columns and pd.to_numeric(model[col], errors="coerce").notna().any()]
    return panels or [SHARE_PANELS[0]]


def class_share_figure(run: Run, narrow: bool = False) -> Figure:
    """Class share heat maps side by side (stacked when ``narrow``): prior samples | linear grid | quantile grid
    (one colour scale)."""
    panels = share_panels(run)
    vmax = share_vmax(run)
    labels = 0.0 if run.classes.numeric else 0.9  # rotated class names below the cells
    panel_h = 0.3 * (len(run.epochs) + 1) + 0.9 + labels
    if narrow:
        width, height = NARROW_WIDTH_IN, panel_h * len(panels) + 0.25 * (len(panels) - 1) + 0.4
        fig = Figure(figsize=(width, height))
        axes = fig.subplots(len(panels), 1, squeeze=False)[:, 0]
        fig.subplots_adjust(left=0.6 / width, right=1 - 0.8 / width, bottom=(0.55 + labels) / height,
                            top=1 - 0.35 / height, hspace=(0.85 + labels) / (panel_h - 0.9 - labels))
    else:
        width, height = min(MAX_WIDTH_IN, 3.7 * len(panels) + 0.8), panel_h + 0.4
        fig = Figure(figsize=(width, height))
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        fig.subplots_adjust(left=0.75 / width, right=1 - 0.8 / width, bottom=(0.65 + labels) / height,
                            top=1 - 0.4 / height, wspace=0.3)
    for i, (ax, (col, title)) in enumerate(zip(axes, panels)):
        draw_heatmap(ax, class_share_table(run, col), vmax=vmax, cmap="viridis",
                     cbar=narrow or i == len(panels) - 1, title=f"class share (%): {title}", xlabel=run.classes.noun,
                     ylabel="epoch")
        name_ticks(ax, run)
    return fig


# ---------------------------------------------------------------------------------------------- pair confusion
def pair_matrix(run: Run, epoch: int) -> pd.DataFrame:
    """Symmetric digit x digit matrix of kNN pair confusion rates at ``epoch`` (NaN diagonal)."""
    matrix = np.full((C.N_CLASSES, C.N_CLASSES), np.nan)
    pairs = run.pairs[run.pairs[C.EPOCH] == epoch]
    rates = pd.to_numeric(pairs[C.CONFUSION_RATE], errors="coerce")
    for a, b, rate in zip(pairs[C.CLASS_A].astype(int), pairs[C.CLASS_B].astype(int), rates):
        matrix[a, b] = matrix[b, a] = rate
    return pd.DataFrame(matrix, index=DIGITS, columns=DIGITS)


def pair_vmax(run: Run) -> float:
    rates = pd.to_numeric(run.pairs[C.CONFUSION_RATE], errors="coerce")
    top = float(rates.max()) if rates.notna().any() else 1.0
    return top if top > 0 else 1.0


def pair_confusion_figure(run: Run, narrow: bool = False) -> Figure:
    """Pair confusion heat maps at the first and the last checkpoint (one colour scale), side by side (stacked,
    each with its colour bar, when ``narrow``)."""
    vmax = pair_vmax(run)
    names = 0.0 if run.classes.numeric else 0.9  # class names as tick labels need room
    if narrow:
        width, height = NARROW_WIDTH_IN, 2 * (3.3 + names) + 0.9
        fig = Figure(figsize=(width, height))
        axes = fig.subplots(2, 1)
        fig.subplots_adjust(left=(0.45 + names) / width, right=1 - 0.75 / width, bottom=(0.45 + names) / height,
                            top=1 - 0.3 / height, hspace=(0.75 + names) / 3.0)
        bars = (True, True)
    else:
        width, height = 9.6 + 2 * names, 4.6 + names
        fig = Figure(figsize=(width, height))
        axes = fig.subplots(1, 2)
        fig.subplots_adjust(left=(0.55 + names) / width, right=0.95, bottom=(0.55 + names) / height, top=0.92,
                            wspace=0.15 + names / 4)
        bars = (False, True)
    for ax, epoch, cbar in ((axes[0], run.first, bars[0]), (axes[1], run.last, bars[1])):
        draw_heatmap(ax, pair_matrix(run, epoch), vmax=vmax, cmap="magma_r", cbar=cbar, square=True,
                     title=f"pair confusion (kNN, %), epoch {epoch}", xlabel=run.classes.noun,
                     ylabel=run.classes.noun)
        name_ticks(ax, run, y=True)
    return fig
