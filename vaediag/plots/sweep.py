"""The sweep report's figure (also ``vaediag compare``'s comparison.png): key metrics over the checkpoint
epochs, one line per configuration (the mean over its seeds) with the 95 % Student-t interval of the mean over
seeds as a band, read from the long-form statistics (:func:`vaediag.judgement.replicates.seed_statistics`), not
re-estimated by seaborn."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from pathlib import Path

from vaediag import columns as C
from vaediag.errors import RunDirError
from vaediag.files import atomic
from vaediag.judgement.replicates import CI_HIGH, CI_LOW, MEAN, METRIC, N, seed_statistics
from .output import MAX_WIDTH_IN, MIN_FONT_PT, NARROW_WIDTH_IN, TITLE_PT

FIG_SWEEP = "sweep_metrics"
PANEL_HEIGHT_IN = 2.6


def sweep_metrics_figure(summary: pd.DataFrame, metrics: Sequence[str], group_column: str = "group",
                         narrow: bool = False) -> Figure:
    """One panel per metric of ``metrics`` present in ``summary`` (long form), one colour per configuration;
    band: ci_low–ci_high (absent where a configuration has one seed). Three panels a row; ``narrow``: the phone's
    rendering, one panel a row, ``NARROW_WIDTH_IN`` wide, the legend one configuration a row. Epochs tick as
    integers."""
    import seaborn as sns
    from matplotlib.ticker import MaxNLocator

    metrics = [m for m in metrics if (summary[METRIC] == m).any() and summary.loc[summary[METRIC] == m, MEAN].notna().any()]
    ncol = 1 if narrow else min(3, max(len(metrics), 1))
    nrow = max(-(-len(metrics) // ncol), 1)
    groups = list(dict.fromkeys(summary[group_column]))
    legend_rows = len(groups) if narrow else -(-len(groups) // 2)
    width = NARROW_WIDTH_IN if narrow else MAX_WIDTH_IN
    fig = Figure(figsize=(width, PANEL_HEIGHT_IN * nrow + 0.9 + 0.2 * legend_rows + (0.3 if narrow else 0)))
    axes = fig.subplots(nrow, ncol, squeeze=False)
    colours = sns.color_palette("tab10", 10)
    for ax, metric in zip(axes.flat, metrics):
        rows = summary[summary[METRIC] == metric]
        for i, group in enumerate(groups):
            s = rows[rows[group_column] == group].sort_values(C.EPOCH)
            if s.empty:
                continue
            x = s[C.EPOCH].to_numpy(float)
            n = int(s[N].max())
            ax.plot(x, s[MEAN].to_numpy(float), "o-", ms=3, color=colours[i % 10], label=f"{group} (n = {n})")
            low, high = s[CI_LOW].to_numpy(float), s[CI_HIGH].to_numpy(float)
            if np.isfinite(low).any():
                ax.fill_between(x, low, high, color=colours[i % 10], alpha=0.2, lw=0)
        ax.set_title(metric, fontsize=TITLE_PT)
        ax.set_xlabel("epoch", fontsize=MIN_FONT_PT + 1)
        ax.tick_params(labelsize=MIN_FONT_PT)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(metrics):]:
        ax.set_axis_off()
    handles, labels = axes.flat[0].get_legend_handles_labels()
    title = ("line: mean over seeds;\nband: 95 % CI of the mean over seeds (Student t)" if narrow
             else "line: mean over seeds; band: 95 % CI of the mean over seeds (Student t)")
    fig.legend(handles, labels, loc="lower center", ncol=1 if narrow else (min(len(labels), 2) or 1),
               fontsize=MIN_FONT_PT + 1, frameon=False, title=title, title_fontsize=MIN_FONT_PT + 1)
    height = fig.get_figheight()
    fig.subplots_adjust(left=(0.75 if narrow else 0.8) / width, right=1 - 0.15 / width, top=1 - 0.35 / height,
                        bottom=(0.6 + 0.2 * legend_rows + (0.3 if narrow else 0)) / height + 0.02, wspace=0.28,
                        hspace=0.55 * (2.6 / 2.1 if narrow else 1))
    return fig


FIGURE_DPI = 100


def compare_figure(df: pd.DataFrame, out_path: str | Path, metrics: Sequence[str]) -> Path:
    """``vaediag compare``'s comparison.png: the ``metrics`` of a :func:`vaediag.compare.compare_runs` table over
    epochs, one line per run group (mean of its seeds) with the 95 % Student-t interval of the mean over seeds as a
    band (groups with one seed: no band) — the sweep report's figure, from the same statistics."""
    metrics = [m for m in metrics if m in df.columns]
    if not metrics:
        raise RunDirError("none of the compared metrics is present in these runs")
    fig = sweep_metrics_figure(seed_statistics(df, metrics), metrics)
    out_path = Path(out_path)
    atomic.write_with(out_path, lambda tmp: fig.savefig(tmp, format="png", dpi=FIGURE_DPI))
    return out_path
