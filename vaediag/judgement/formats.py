"""How the report writes a number: one format per column (``COLUMN_NUMBER_FORMATS``), sig3 for the rest.

Formats (``NUMBER_FORMATS``): ``"percent"`` = 100·v with 1 decimal and " %" (0.1234 -> "12.3 %");
``"decimal3"`` = 3 decimals; ``"sig3"`` = 3 significant digits, positional, trailing zeros dropped
(142.63 -> "143", 0.012345 -> "0.0123"); ``"nats1"`` = 1 decimal; ``"int"`` = rounded integer.
Table cells (the per-epoch and per-checkpoint tables) use ``table_cell``: 4 significant digits.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from vaediag import columns as C


def sig3(value: float) -> str:
    """3 significant digits, positional, trailing zeros trimmed: 142.63 -> "143", 0.012345 -> "0.0123"."""
    if not math.isfinite(value):
        return f"{value}"
    return np.format_float_positional(value, precision=3, unique=False, fractional=False, trim="-")


def percent(value: float) -> str:
    """100·value with 1 decimal and " %": 0.1234 -> "12.3 %"."""
    return f"{100 * value:.1f} %"


NUMBER_FORMATS: dict[str, Callable[[float], str]] = {
    "percent": percent,
    "decimal3": lambda value: f"{value:.3f}",
    "sig3": sig3,
    "nats1": lambda value: f"{value:.1f}",
    "int": lambda value: f"{int(round(value))}",
}
NUMBER_FORMAT_DESCRIPTIONS = {
    "percent": "100 × value, 1 decimal, followed by ' %'",
    "decimal3": "3 decimals",
    "sig3": "3 significant digits, no exponent, trailing zeros dropped",
    "nats1": "1 decimal (nats per sample)",
    "int": "rounded to an integer",
}
DEFAULT_NUMBER_FORMAT = "sig3"
COLUMN_NUMBER_FORMATS = {
    C.SILHOUETTE: "decimal3",
    C.KNN_ACCURACY: "percent",
    C.CONFUSION_RATE: "percent",
    C.MOST_MIXED_PAIR_RATE: "percent",
    C.PRIOR + C.CONFIDENCE: "percent",
    C.PRIOR + C.CLASSIFIER_SCORE: "sig3",
    C.FRECHET: "sig3",
    C.CLASS_PRIOR_SHARE: "percent",
    C.CLASS_GRID_SHARE: "percent",
    C.CLASS_QGRID_SHARE: "percent",
    C.CLASS_DATA_SHARE: "percent",
    C.RECON_ACCURACY: "percent",
    C.TRAIN_LOSS: "nats1",
    C.TEST_LOSS: "nats1",
    C.PRIOR + C.ENTROPY_NORM: "decimal3",
    C.GRID + C.ENTROPY_NORM: "decimal3",
    C.QGRID + C.ENTROPY_NORM: "decimal3",
    C.PRIOR + C.MODES_COVERED: "int",
    C.ACTIVE_UNITS: "int",
    C.GRID_INSIDE: "percent",
    C.QGRID_INSIDE: "percent",
    C.CLASS_GRID_INSIDE: "percent",
    C.CLASS_QGRID_INSIDE: "percent",
    C.TRAIN_EVAL_LOSS: "nats1",
    C.IWAE_NLL: "nats1",
    C.IWAE_TRAIN_NLL: "nats1",
    C.GRID_SPAN: "sig3",
    C.PRECISION: "percent",
    C.RECALL: "percent",
    C.COVERAGE: "percent",
    **{p + C.UNREADABLE_SHARE: "percent" for p in (C.PRIOR, C.GRID, C.QGRID)},
    **{p + C.N_READABLE: "int" for p in (C.PRIOR, C.GRID, C.QGRID)},
    C.PRIOR_OFF_CODES: "percent",
    C.PRIOR_CODE_ENTROPY_NORM: "decimal3",
    C.JUDGE_AGREEMENT: "percent",
    C.CLASS_PRIOR_CODE_SHARE: "percent",
    C.CLASS_RECON_RECALL: "percent",
    C.CLASS_KNN_RECALL: "percent",
}


def format_number(column: str, value: float) -> str:
    """The text a finding quotes for ``value`` of ``column`` (``COLUMN_NUMBER_FORMATS``, else sig3)."""
    return NUMBER_FORMATS[COLUMN_NUMBER_FORMATS.get(column, DEFAULT_NUMBER_FORMAT)](float(value))


def table_cell(value) -> str:
    """A cell of a rendered table: floats with 4 significant digits, NaN and None empty, the rest as text."""
    if isinstance(value, (float, np.floating)):
        return f"{value:.4g}" if np.isfinite(value) else ""
    return "" if value is None else str(value)
