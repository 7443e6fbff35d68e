"""Several evaluated runs side by side (latent 2 vs 16, β 1 vs 4, mlp vs conv, several seeds...).

:func:`compare_runs` gives one tidy table, one row per (run, epoch), with the configuration that defines
each run and the key metrics; :func:`summarise_seeds` groups runs that differ only by their seed and
reports per epoch the mean, the standard deviation and the 95 % Student-t interval of the mean over seeds
(the statistics of :mod:`vaediag.judgement.replicates`, which the sweep report uses too).
The figure of a comparison (:func:`vaediag.plots.sweep.compare_figure`) draws :data:`FIGURE_METRICS`. :func:`format_for_terminal`
prints chosen metrics so that they fit a terminal; the CSV files (:func:`write_comparison`) hold them all.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Iterable

import numpy as np
import pandas as pd

from vaediag.files import atomic
from vaediag import columns as C
from .errors import ConfigError, RunDirError
from vaediag.judgement.grouping import (BETA, CONFIG_COLUMNS, DATASET, GROUP, GROUP_KEYS, LATENT_DIM, MODEL, N_SEEDS,
                                        RUN_DIR, SEED, SEEDS, config_values, group_labels, key_text, metric_columns)
from vaediag.store.rundir import Run

KEY_METRICS = (  # metrics compared across runs: separation, diversity, window coverage, quality, fit
    C.SILHOUETTE,
    C.KNN_ACCURACY,
    C.PRIOR + C.ENTROPY_NORM,
    C.GRID + C.ENTROPY_NORM,
    C.GRID_INSIDE,
    C.PRIOR + C.CLASSIFIER_SCORE,
    C.PRIOR + C.UNREADABLE_SHARE,
    C.JUDGE_AGREEMENT,
    C.FRECHET,
    C.COVERAGE,
    C.RECON_ACCURACY,
    C.TEST_LOSS,
    C.ACTIVE_UNITS,
)
FIGURE_METRICS = (C.SILHOUETTE, C.KNN_ACCURACY, C.PRIOR + C.ENTROPY_NORM, C.FRECHET, C.RECON_ACCURACY,
                  C.TEST_LOSS)
MEAN_SUFFIX, STD_SUFFIX, CI_LOW_SUFFIX, CI_HIGH_SUFFIX = "_mean", "_std", C.CI_LOW, C.CI_HIGH
STAT_SUFFIXES = (MEAN_SUFFIX, STD_SUFFIX, CI_LOW_SUFFIX, CI_HIGH_SUFFIX)
COMPARISON_FILE, SEEDS_FILE, FIGURE_FILE = "comparison.csv", "comparison_seeds.csv", "comparison.png"
LONG_FILE = "comparison_summary.csv"  # long form, the columns of a sweep's summary.csv
MAX_DECIMALS = 4  # decimals of "mean ± half-width" in the terminal summary




def run_labels(paths: Iterable[Path]) -> list[str]:
    """Short unique labels: the folder names, or the paths relative to their common parent if those clash."""
    paths = [Path(p).resolve() for p in paths]
    names = [p.name for p in paths]
    if len(set(names)) == len(names):
        return names
    common = Path(os.path.commonpath([str(p) for p in paths]))
    labels = [p.relative_to(common).as_posix() or p.name for p in paths]
    return labels if len(set(labels)) == len(labels) else [str(p) for p in paths]


def parse_metrics(metrics: str | Iterable[str] | None) -> list[str] | None:
    """``"a,b,c"`` (the CLI's ``--metrics``) or a list of names -> a list without repeats; None stays None."""
    if metrics is None:
        return None
    names = metrics.split(",") if isinstance(metrics, str) else list(metrics)
    names = list(dict.fromkeys(n.strip() for n in names if n.strip()))
    if not names:
        raise ConfigError("--metrics needs at least one metrics.csv column name")
    return names


def _metric_columns(runs: list[Run], chosen: list[str] | None) -> list[str]:
    """``KEY_METRICS`` then the chosen metrics not among them; :class:`ConfigError` for a name that is no
    numeric metrics.csv column of any run."""
    if not chosen:
        return list(KEY_METRICS)
    known = set(KEY_METRICS)
    for run in runs:
        m = run.checkpoint_metrics
        known.update(c for c in m.columns if pd.api.types.is_numeric_dtype(m[c]))
    unknown = [n for n in chosen if n not in known]
    if unknown:
        raise ConfigError(f"unknown metric {unknown[0]!r}; choose among the metrics.csv columns: "
                          f"{', '.join(sorted(known))}")
    return list(KEY_METRICS) + [n for n in chosen if n not in KEY_METRICS]


def compare_runs(run_dirs: Iterable[str | Path], metrics: str | Iterable[str] | None = None) -> pd.DataFrame:
    """One row per (run, checkpoint epoch): config columns, ``group``, ``run_dir``, ``KEY_METRICS`` and the
    other ``metrics`` chosen (names of metrics.csv columns, a list or ``"a,b,c"``).

    Index (``RUN``, ``EPOCH``); the "data" reference rows are left out. A missing metric column is NaN.
    ``test_loss`` of an epoch without a training history row (an external run without ``history=``) is the
    evaluation's ``eval_test_loss``: the negative ELBO of the test digits in eval mode with seeded noise, as
    training measures it. A setting a run does not record (an external run's β, lr, batch size, seed) is None
    and labelled "unknown".
    A directory that is not an evaluated run raises :class:`RunDirError` (one line), as does an empty list
    or the same run given twice; an unknown metric raises :class:`ConfigError`.
    """
    run_dirs = [Path(d) for d in run_dirs]
    if not run_dirs:
        raise RunDirError("compare needs at least one evaluated run directory")
    resolved = [d.resolve() for d in run_dirs]
    if len(set(resolved)) != len(resolved):
        raise RunDirError("the same run directory is given more than once")
    runs = [Run(d) for d in run_dirs]
    for run in runs:
        run.config, run.evaluation  # noqa: B018  (read now: a directory that is not an evaluated run fails here)
    columns = _metric_columns(runs, parse_metrics(metrics))
    frames = []
    for label, run in zip(run_labels(run_dirs), runs):
        m = run.checkpoint_metrics
        df = pd.DataFrame({k: pd.to_numeric(m[k], errors="coerce") if k in m.columns else np.nan for k in columns},
                          index=m.index)
        if C.TEST_LOSS in df.columns and C.EVAL_LOSS in m.columns:  # no training history (an external run):
            df[C.TEST_LOSS] = df[C.TEST_LOSS].fillna(pd.to_numeric(m[C.EVAL_LOSS], errors="coerce"))  # the same ELBO
        for k, v in config_values(run).items():
            df[k] = v
        df[RUN_DIR] = str(run.path)
        df[C.RUN] = label
        frames.append(df.reset_index())
    out = pd.concat(frames, ignore_index=True)
    out[GROUP] = group_labels(out)
    cols = [C.RUN, C.EPOCH, *CONFIG_COLUMNS, GROUP, *columns, RUN_DIR]
    return out[cols].set_index([C.RUN, C.EPOCH])








def summarise_seeds(df: pd.DataFrame) -> pd.DataFrame:
    """Group the rows of :func:`compare_runs` that differ only by seed: one row per (group, epoch) with
    ``n_seeds``, ``seeds`` and for every key metric ``<metric>_mean``, ``<metric>_std`` (sample std) and the
    95 % Student-t interval of the mean over seeds ``<metric>_ci_low`` / ``<metric>_ci_high`` — the numbers of
    :func:`vaediag.judgement.replicates.seed_statistics` (the sweep's summary.csv), in wide form. std and the interval
    are NaN for a single seed. Index (``group``, ``EPOCH``)."""
    from vaediag.judgement.replicates import CI_HIGH, CI_LOW, MEAN, METRIC, STD, seed_statistics

    metrics = metric_columns(df)
    long = seed_statistics(df, metrics)
    flat = df.reset_index()
    rows = []
    for (group, epoch), g in flat.groupby([GROUP, C.EPOCH], sort=True):
        row = {GROUP: group, C.EPOCH: epoch, N_SEEDS: int(g[SEED].nunique(dropna=False)),
               SEEDS: ",".join(str(s) for s in sorted(g[SEED].map(lambda v: key_text(v, SEED)).unique()))}
        for k in GROUP_KEYS:
            row[k] = g[k].iloc[0]
        stats = long[(long[GROUP] == group) & (long[C.EPOCH] == epoch)].set_index(METRIC)
        for m in metrics:
            for suffix, column in zip(STAT_SUFFIXES, (MEAN, STD, CI_LOW, CI_HIGH)):
                row[m + suffix] = stats.at[m, column]
        rows.append(row)
    cols = [GROUP, C.EPOCH, *GROUP_KEYS, N_SEEDS, SEEDS] + [m + s for m in metrics for s in STAT_SUFFIXES]
    return pd.DataFrame(rows, columns=cols).set_index([GROUP, C.EPOCH])


def format_summary(summary: pd.DataFrame, digits: int = 4, metrics: str | Iterable[str] | None = None) -> pd.DataFrame:
    """The summary as text: one "mean ± h (n=k)" column per metric, h the half-width of the 95 % interval of
    the mean over the k seeds (just the mean for a single seed, which has no interval); only the ``metrics``
    chosen (default: all)."""
    out = summary[[N_SEEDS, SEEDS]].copy()
    present = [c[: -len(MEAN_SUFFIX)] for c in summary.columns if c.endswith(MEAN_SUFFIX)]
    for m in [m for m in parse_metrics(metrics) or present if m in present]:
        mean, low, high = (summary[m + suffix].to_numpy(float) for suffix in (MEAN_SUFFIX, CI_LOW_SUFFIX,
                                                                              CI_HIGH_SUFFIX))
        out[m] = [_mean_and_interval(a, lo, hi, k, digits) for a, lo, hi, k in zip(mean, low, high, summary[N_SEEDS])]
    return out


def _mean_and_interval(mean: float, low: float, high: float, n: int, digits: int) -> str:
    """"0.425 ± 0.018 (n=3)": the half-width to 2 significant digits and the mean to the same decimal place, at
    most ``MAX_DECIMALS``; "0.036 [0, 0.13] (n=3)" when the interval was clipped to the metric's range (no longer
    symmetric); "0.5 (n=3, all equal)" when the seeds agree exactly (no noise estimate, not certainty); just the
    mean, to ``digits`` significant digits, when there is no interval."""
    if not np.isfinite(mean):
        return ""
    if not (np.isfinite(low) and np.isfinite(high)):
        return f"{mean:.{digits}g}"
    if high <= low:
        return f"{mean:.{digits}g} (n={n}, all equal)"
    half = max(high - mean, mean - low)
    decimals = min(MAX_DECIMALS, max(0, 1 - int(np.floor(np.log10(half)))))
    if not np.isclose(high - mean, mean - low, rtol=1e-9, atol=1e-12):
        return f"{mean:.{decimals}f} [{low:.{decimals}f}, {high:.{decimals}f}] (n={n})"
    return f"{mean:.{decimals}f} ± {half:.{decimals}f} (n={n})"


def format_for_terminal(df: pd.DataFrame, summary: pd.DataFrame | None = None, *, width: int | None = None,
                        metrics: str | Iterable[str] | None = None, digits: int = 3) -> str:
    """What ``vaediag compare`` prints: the chosen ``metrics`` (default ``KEY_METRICS``) per (run, epoch),
    then (when given) the seed summary, each within ``width`` characters (default: the terminal's). A
    table too wide is printed in long form: per run (or group), one line per metric, epochs as columns.
    Config columns are not printed: each run's group label says them; the CSV holds everything."""
    width = width or shutil.get_terminal_size((100, 24)).columns
    chosen = [m for m in parse_metrics(metrics) or KEY_METRICS if m in df.columns]
    cells = df[chosen].apply(lambda col: col.map(lambda v: "" if not np.isfinite(v) else f"{v:.{digits}f}"))
    groups = df[GROUP].groupby(level=C.RUN, sort=False).first()
    legend = "\n".join(f"{run}: {group}" for run, group in groups.items())
    parts = [legend, fit_width(cells, width)]
    if summary is not None:
        parts.append(fit_width(format_summary(summary, metrics=chosen).drop(columns=[SEEDS]), width))
    return "\n\n".join(parts)


def fit_width(table: pd.DataFrame, width: int) -> str:
    """``table`` (text cells, index (label, epoch)) as printed by pandas when it fits ``width``; otherwise
    one block per label: a line per column, the epochs as columns, as many epochs per line as fit."""
    table = table.astype(str)
    text = table.to_string()
    if max(map(len, text.splitlines())) <= width:
        return text
    blocks = []
    for label in dict.fromkeys(table.index.get_level_values(0)):
        long = table.xs(label, level=0).T  # rows: metrics, columns: epochs
        long.columns = [f"{C.EPOCH} {e}" for e in long.columns]
        name_width = max(map(len, long.index)) + 2
        col_width = max([len(c) for c in long.columns] + [long[c].str.len().max() for c in long.columns]) + 2
        per_line = max(1, (width - name_width) // col_width)
        chunks = [long.iloc[:, i : i + per_line] for i in range(0, long.shape[1], per_line)]
        blocks.append(f"{label}\n" + "\n".join(chunk.to_string() for chunk in chunks))
    return "\n\n".join(blocks)


def write_comparison(df: pd.DataFrame, summary: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write ``comparison.csv`` (``df``), ``comparison_seeds.csv`` (``summary``), ``comparison_summary.csv``
    (the same statistics in long form, as a sweep's summary.csv: :func:`vaediag.judgement.replicates.seed_statistics`);
    returns their paths. The figure ``comparison.png`` is drawn by :func:`vaediag.plots.sweep.compare_figure`."""
    from vaediag.judgement.replicates import seed_statistics, write_summary

    out = Path(out_dir)
    atomic.write_with(out / COMPARISON_FILE, lambda tmp: df.to_csv(tmp))
    atomic.write_with(out / SEEDS_FILE, lambda tmp: summary.to_csv(tmp))
    write_summary(seed_statistics(df), out / LONG_FILE)
    return [out / COMPARISON_FILE, out / SEEDS_FILE, out / LONG_FILE]
