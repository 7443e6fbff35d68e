"""The intervals behind the findings of one run, read from its tables, with honest fallbacks for runs
evaluated before the interval columns existed.

Every function takes a :class:`~vaediag.store.rundir.Run` and a checkpoint epoch and returns numbers (NaN where a
value cannot be had); nothing here writes words. Where a column is absent:

- Wilson intervals of a share (``<share>_ci_low/high``) are recomputed from the share and the number of
  samples in the evaluation settings (``samples`` prior samples): round(share · n) is the count the share was
  made of, so the interval is the one the evaluation would have written;
- the bootstrap interval of the prior samples' normalised entropy is recomputed by resampling a label array
  rebuilt from those counts (resampling labels with replacement is what the evaluation does);
- the kNN accuracy gets a Wilson interval over the test codes (the bootstrap of correct/incorrect indicators
  approximates the same binomial interval);
- the share of each digit's own test codes inside the grid window is computed from the stored codes
  (``test_mu``, ``test_labels``, ``grid_span`` artifacts) by :func:`vaediag.metrics.generation.inside_fraction`,
  with a Wilson interval over that digit's test codes.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd

from vaediag import columns as C
from vaediag.errors import RunDirError
from vaediag.metrics.generation import inside_fraction, labels_entropy_norm_interval
from vaediag.store.rundir import Run
from vaediag.stats import share_interval


NAN2 = (math.nan, math.nan)


def ci_columns(column: str) -> tuple[str, str]:
    """``<column>_ci_low``, ``<column>_ci_high``."""
    return column + C.CI_LOW, column + C.CI_HIGH


def setting(run: Run, name: str) -> float:
    """A number from the evaluation settings (NaN when absent)."""
    try:
        return float(run.evaluation.settings.get(name, math.nan))
    except (TypeError, ValueError):
        return math.nan


def class_column(run: Run, column: str, epoch: int) -> np.ndarray | None:
    """``column`` of per_class.csv for digits 0-9 at a checkpoint; None when the column or epoch is absent."""
    per_class = run.per_class
    if column not in per_class.columns:
        return None
    rows = per_class[(per_class[C.SOURCE] == C.SOURCE_MODEL) & (per_class[C.EPOCH] == epoch)]
    if rows.empty:
        return None
    values = pd.to_numeric(rows.set_index(C.CLASS)[column], errors="coerce").reindex(range(C.N_CLASSES))
    return values.to_numpy(dtype=float) if values.notna().any() else None


def data_shares(run: Run) -> np.ndarray | None:
    """The digits' shares among the test labels (per_class.csv data_share of the data rows)."""
    per_class = run.per_class
    if C.CLASS_DATA_SHARE not in per_class.columns:
        return None
    rows = per_class[per_class[C.SOURCE] == C.SOURCE_DATA]
    if rows.empty:
        rows = per_class[per_class[C.EPOCH] == run.last]
    values = pd.to_numeric(rows.set_index(C.CLASS)[C.CLASS_DATA_SHARE], errors="coerce")
    values = values[~values.index.duplicated()].reindex(range(C.N_CLASSES))
    return values.to_numpy(dtype=float) if values.notna().all() else None


def prior_share_ci(run: Run, epoch: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Wilson intervals of the prior samples' digit shares: the per_class.csv columns, else recomputed from
    the shares and the number of prior samples."""
    low, high = (class_column(run, c, epoch) for c in ci_columns(C.CLASS_PRIOR_SHARE))
    if low is not None and high is not None:
        return low, high
    shares = class_column(run, C.CLASS_PRIOR_SHARE, epoch)
    return None if shares is None else share_interval(shares, setting(run, "samples"))


def _metric_ci(run: Run, column: str, epoch: int) -> tuple[float, float]:
    low, high = (run.value(c, epoch) if c in run.metrics.columns else math.nan for c in ci_columns(column))
    return float(low), float(high)


def prior_entropy_ci(run: Run, epoch: int) -> tuple[float, float]:
    """Bootstrap interval of the prior samples' normalised class entropy: the metrics.csv columns, else
    resampled from the label counts the shares were made of (seeded with the evaluation's seed)."""
    low, high = _metric_ci(run, C.PRIOR + C.ENTROPY_NORM, epoch)
    if math.isfinite(low) and math.isfinite(high):
        return low, high
    shares, n = class_column(run, C.CLASS_PRIOR_SHARE, epoch), setting(run, "samples")
    if shares is None or not (math.isfinite(n) and n > 0) or not np.isfinite(shares).all():
        return NAN2
    seed = setting(run, "seed")
    return _entropy_interval(tuple(int(c) for c in np.round(shares * n)), int(seed) if math.isfinite(seed) else 0)


@lru_cache(maxsize=256)
def _entropy_interval(counts: tuple[int, ...], seed: int) -> tuple[float, float]:
    """Bootstrap interval of the normalised entropy of a label array with these per-digit counts."""
    return labels_entropy_norm_interval(np.repeat(np.arange(len(counts)), counts), seed)


def knn_accuracy_ci(run: Run, epoch: int) -> tuple[float, float]:
    """Interval of the kNN accuracy: the metrics.csv bootstrap columns, else Wilson over the test codes."""
    low, high = _metric_ci(run, C.KNN_ACCURACY, epoch)
    if math.isfinite(low) and math.isfinite(high):
        return low, high
    value, n = run.value(C.KNN_ACCURACY, epoch), setting(run, "n_test")
    if not (math.isfinite(value) and math.isfinite(n) and n > 0):
        return NAN2
    return share_interval(value, n)


def inside_fraction_ci(run: Run, epoch: int) -> tuple[float, float]:
    """Wilson interval of the overall share of test codes inside the linear grid window."""
    value, n = run.value(C.GRID_INSIDE, epoch), setting(run, "n_test")
    if not (math.isfinite(value) and math.isfinite(n) and n > 0):
        return NAN2
    return share_interval(value, n)


GRID_INSIDE_COLUMNS = {"grid": (C.CLASS_GRID_INSIDE, "grid_span"), "qgrid": (C.CLASS_QGRID_INSIDE, "qgrid_span")}


def grid_inside_shares(run: Run, epoch: int, grid: str = "grid") -> tuple[np.ndarray, np.ndarray, np.ndarray, str] | None:
    """(shares, low, high, source) of each digit's own test codes inside the window of the linear (``grid``) or
    quantile (``qgrid``) grid: per_class.csv ``grid_inside_share`` / ``qgrid_inside_share``, else computed from
    the stored codes; Wilson intervals over each digit's test codes. None when neither is available."""
    column, span_name = GRID_INSIDE_COLUMNS[grid]
    shares = class_column(run, column, epoch)
    counts = None
    source = f"per_class.csv {column}"
    if shares is None:
        try:
            arrays = run.artifacts(epoch)
            mu, labels, span = arrays["test_mu"], np.asarray(arrays["test_labels"]), float(arrays[span_name])
        except (RunDirError, KeyError, OSError, ValueError):
            return None
        shares = np.array([inside_fraction(mu[labels == d], span) if (labels == d).any() else np.nan
                           for d in range(C.N_CLASSES)])
        counts = np.bincount(labels, minlength=C.N_CLASSES).astype(float)
        source = f"computed from the stored test codes (test_mu, {span_name})"
    if counts is None:
        data, n = data_shares(run), setting(run, "n_test")
        counts = np.round(data * n) if data is not None and math.isfinite(n) else np.full(C.N_CLASSES, np.nan)
    low, high = share_interval(shares, counts)
    return shares, np.asarray(low, dtype=float), np.asarray(high, dtype=float), source


# ============================================================================================ the two judges
def code_share_ci(run: Run, epoch: int) -> tuple[np.ndarray, np.ndarray] | None:
    """Wilson intervals of the code judge's class shares of the prior samples (per_class.csv); None for a run
    evaluated without the code judge."""
    low, high = (class_column(run, c, epoch) for c in ci_columns(C.CLASS_PRIOR_CODE_SHARE))
    return None if low is None or high is None else (low, high)


def code_entropy_ci(run: Run, epoch: int) -> tuple[float, float]:
    """Bootstrap interval of the code judge's normalised class entropy (metrics.csv; NaN without the code judge)."""
    return _metric_ci(run, C.PRIOR_CODE_ENTROPY_NORM, epoch)


def recon_recall(run: Run, epoch: int) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """(recall, low, high) [10] of the image judge on the model's reconstructions per class; None when absent."""
    values = [class_column(run, c, epoch) for c in (C.CLASS_RECON_RECALL, *ci_columns(C.CLASS_RECON_RECALL))]
    return None if any(v is None for v in values) else (values[0], values[1], values[2])


def recon_accuracy_ci(run: Run, epoch: int) -> tuple[float, float]:
    """Wilson interval of the image judge's accuracy on the reconstructions, over the test images."""
    value, n = run.value(C.RECON_ACCURACY, epoch), setting(run, "n_test")
    if not (math.isfinite(value) and math.isfinite(n) and n > 0):
        return NAN2
    return share_interval(value, n)


def is_deterministic(run: Run) -> bool:
    """True for a model whose encoder gives μ alone (recorded by ``evaluate_model``): it has no prior to sample."""
    return bool(run.evaluation.settings.get("deterministic", False))

