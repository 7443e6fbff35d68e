"""One evaluation's tables in memory: :class:`Evaluation` (what ``vaediag evaluate`` computes).

How to read the tables: every column is documented in :mod:`vaediag.columns`; ``source == "data"``
marks the reference row computed on real test digits (epoch 0), the ceiling a checkpoint is read against.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from . import columns as C

PER_CLASS_COLUMNS = [C.SOURCE, C.EPOCH, C.DIGIT, C.CLASS_SILHOUETTE, C.CLASS_KNN_RECALL, C.CLASS_PRIOR_SHARE,
                     C.CLASS_GRID_SHARE, C.CLASS_QGRID_SHARE, C.CLASS_DATA_SHARE]
PAIRS_COLUMNS = [C.EPOCH, C.DIGIT_A, C.DIGIT_B, C.CONFUSION_RATE]

Artifacts = Mapping[int, Mapping[str, np.ndarray]]


@dataclass
class Evaluation:
    """The tables of one evaluation, in memory (what ``vaediag evaluate`` computes and ``metrics.csv`` holds).

    - ``metrics``: indexed by ``EPOCH`` (int); column ``SOURCE`` first: one ``"model"`` row per checkpoint
      epoch (ascending), then the ``"data"`` reference row (epoch 0) computed on real test digits; then the
      joined history columns and the metric columns.
    - ``per_class``: ``PER_CLASS_COLUMNS``, 10 rows (digits) per checkpoint epoch and 10 ``"data"`` rows.
    - ``pairs``: ``PAIRS_COLUMNS``, 45 rows (digit pairs a < b) per checkpoint epoch.
    - ``settings``: the evaluation settings; ``timings``: seconds per stage (``shared``, ``epochs``, ``data``);
      ``versions``: the library versions that computed it.
    - ``artifacts``: epoch -> the arrays behind the figures (test codes, decoded grids, ...), see
      :meth:`Run.artifacts`.
    """

    metrics: pd.DataFrame
    per_class: pd.DataFrame
    pairs: pd.DataFrame
    settings: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    artifacts: Artifacts = field(default_factory=dict, repr=False)
    versions: dict = field(default_factory=dict)

    @property
    def epochs(self) -> list[int]:
        """Evaluated checkpoint epochs, ascending."""
        return sorted(int(e) for e in self.metrics.index[self.metrics[C.SOURCE] == C.SOURCE_MODEL])

    @property
    def checkpoint_metrics(self) -> pd.DataFrame:
        """The ``"model"`` rows of ``metrics``, ascending by epoch."""
        m = self.metrics[self.metrics[C.SOURCE] == C.SOURCE_MODEL]
        return m.sort_index()

    @property
    def reference(self) -> pd.Series:
        """The ``"data"`` row of ``metrics`` (empty when absent)."""
        rows = self.metrics[self.metrics[C.SOURCE] == C.SOURCE_DATA]
        return rows.iloc[0] if len(rows) else pd.Series(dtype=object)

    def value(self, column: str, epoch: int) -> float:
        """A checkpoint's metric as float (NaN when the column, the epoch or a number is absent)."""
        m = self.checkpoint_metrics
        if column not in m.columns or epoch not in m.index:
            return float("nan")
        return _to_float(m.at[epoch, column])

    def reference_value(self, column: str) -> float:
        """The real-data reference value of ``column`` (NaN when absent)."""
        ref = self.reference
        return _to_float(ref[column]) if column in ref.index else float("nan")

    def timing_table(self) -> pd.DataFrame:
        """Per-checkpoint seconds per evaluation stage, in stage order, then ``total`` and ``cached``
        (rows: epochs), from ``timings``."""
        return pd.DataFrame.from_dict(self.timings.get("epochs", {}), orient="index").rename_axis(C.EPOCH)


def _to_float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")
