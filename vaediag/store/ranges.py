"""The documented range of every numeric column of the result tables, in one table, and its check.

A value outside its range cannot come from vaediag's computation (a hand-edited or damaged file, or a
bug): :func:`check_ranges` refuses it with a one-line :class:`RunDirError` when a run's tables are read
from disk, so the report never quotes it. The ranges are ``COLUMN_RANGES`` in :mod:`vaediag.columns`, next
to the column names and their docs; NaN (a value that is absent) is always allowed.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vaediag import columns as C
from vaediag.errors import RunDirError

INF = C.INF
SLACK = 1e-6  # float rounding: a computed bound (confidence 0.1, entropy ln 10, KL 0) may be missed by ~1e-7
RANGES = C.COLUMN_RANGES
KL_PER_DIM_RANGE = C.KL_PER_DIM_RANGE


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
