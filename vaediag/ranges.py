"""The documented range of every numeric column of the result tables, in one table, and its check.

A value outside its range cannot come from vaediag's computation (a hand-edited or damaged file, or a
bug): :func:`check_ranges` refuses it with a one-line :class:`RunDirError` when a run's tables are read
from disk, so the report never quotes it. The ranges are those documented next to the column names in
:mod:`vaediag.columns`; NaN (a value that is absent) is always allowed.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from . import columns as C
from .errors import RunDirError

INF = math.inf
UNIT = (0.0, 1.0)  # accuracies, shares, fractions, rates, precision / recall / coverage, p-values
NON_NEGATIVE = (0.0, INF)  # nats, distances, counts, seconds
SLACK = 1e-6  # float rounding: a computed bound (confidence 0.1, entropy ln 10, KL 0) may be missed by ~1e-7

_HISTOGRAM = {
    C.ENTROPY: (0.0, math.log(C.N_CLASSES)),
    C.ENTROPY_NORM: UNIT,
    C.MODES_COVERED: (0.0, float(C.N_CLASSES)),
    C.KL_FROM_DATA: NON_NEGATIVE,
    C.CHI2_PVALUE: UNIT,
    C.CONFIDENCE: (1.0 / C.N_CLASSES, 1.0),
    C.CLASSIFIER_SCORE: (1.0, float(C.N_CLASSES)),
}

# column -> (lowest, highest) allowed value. Column names shared by several tables (``silhouette`` in
# metrics.csv and per_class.csv) have the same range in each.
RANGES: dict[str, tuple[float, float]] = {
    # history.csv (and the history columns joined into metrics.csv): losses in nats/sample
    **{c: NON_NEGATIVE for c in (C.TRAIN_LOSS, C.TRAIN_RECON, C.TRAIN_KL, C.TEST_LOSS, C.TEST_RECON, C.TEST_KL,
                                 C.EPOCH_SECONDS)},
    # latent separation
    C.SILHOUETTE: (-1.0, 1.0),
    C.KNN_ACCURACY: UNIT,
    C.DAVIES_BOULDIN: NON_NEGATIVE,
    C.CALINSKI_HARABASZ: NON_NEGATIVE,
    C.MOST_MIXED_PAIR_RATE: UNIT,
    # latent usage (kl_dim_<i>: see KL_PER_DIM_RANGE)
    C.ACTIVE_UNITS: NON_NEGATIVE,
    C.TOTAL_CORRELATION: NON_NEGATIVE,
    C.AGGPOST_MEAN_NORM: NON_NEGATIVE,
    C.AGGPOST_VAR_MEAN: NON_NEGATIVE,
    C.AGGPOST_KL_PRIOR: NON_NEGATIVE,
    # generation: the histogram metrics of prior samples and of both grids; the grid windows
    **{prefix + name: r for prefix in (C.PRIOR, C.GRID, C.QGRID) for name, r in _HISTOGRAM.items()},
    C.GRID_SPAN: NON_NEGATIVE,
    C.GRID_INSIDE: UNIT,
    C.QGRID_SPAN: NON_NEGATIVE,
    C.QGRID_INSIDE: UNIT,
    # sample quality
    C.FRECHET: NON_NEGATIVE,
    C.PRECISION: UNIT,
    C.RECALL: UNIT,
    C.DENSITY: NON_NEGATIVE,
    C.COVERAGE: UNIT,
    # reconstruction / likelihood
    C.EVAL_LOSS: NON_NEGATIVE,
    C.EVAL_RECON: NON_NEGATIVE,
    C.EVAL_KL: NON_NEGATIVE,
    C.RECON_ACCURACY: UNIT,
    C.IWAE_NLL: NON_NEGATIVE,
    # per_class.csv (its silhouette column is C.SILHOUETTE's name and range)
    C.CLASS_KNN_RECALL: UNIT,
    C.CLASS_PRIOR_SHARE: UNIT,
    C.CLASS_GRID_SHARE: UNIT,
    C.CLASS_QGRID_SHARE: UNIT,
    C.CLASS_DATA_SHARE: UNIT,
    # pairs.csv
    C.CONFUSION_RATE: UNIT,
}
KL_PER_DIM_RANGE = NON_NEGATIVE  # every kl_dim_<i> column


def column_range(column: str) -> tuple[float, float] | None:
    """The documented (lowest, highest) value of ``column``; None for a column without a numeric range."""
    if column in RANGES:
        return RANGES[column]
    if column.startswith(C.KL_PER_DIM_PREFIX) and column[len(C.KL_PER_DIM_PREFIX):].isdigit():
        return KL_PER_DIM_RANGE
    return None


def _text(v: float) -> str:
    return "inf" if v == INF else f"{v:g}"


def check_ranges(df: pd.DataFrame, path: Path, hint: str, epochs: pd.Series | pd.Index | None = None) -> None:
    """:class:`RunDirError` (one line: file, column, epoch, value, range, then ``hint``) for the first cell of
    ``df`` outside its column's documented range, or not a number at all. ``epochs``: each row's epoch
    (default: the ``epoch`` column, else the index)."""
    if epochs is None:
        epochs = df[C.EPOCH] if C.EPOCH in df.columns else df.index
    epochs = list(epochs)
    for column in df.columns:
        bounds = column_range(str(column))
        if bounds is None:
            continue
        raw = df[column]
        values = pd.to_numeric(raw, errors="coerce")
        lo, hi = bounds
        outside = (values < lo - SLACK * max(1.0, abs(lo))) | (values > hi + SLACK * max(1.0, abs(hi)))
        not_number = values.isna() & raw.notna()  # "abc" in a numeric column
        for bad, what in ((not_number, "is not a number"),
                          (outside, f"is outside its documented range [{_text(lo)}, {_text(hi)}]")):
            if bad.any():
                i = int(bad.to_numpy().nonzero()[0][0])
                raise RunDirError(f"{path}: {column} = {raw.iloc[i]} at epoch {epochs[i]} {what}; {hint}")
