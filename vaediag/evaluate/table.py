"""The evaluation as text for the terminal: a table of key columns, or the full table as CSV / JSON."""

from __future__ import annotations

import numpy as np
import pandas as pd

from .. import columns as C
from ..errors import ConfigError
from vaediag.store.rundir import Evaluation

OUTPUT_FORMATS = ("table", "csv", "json")

# The terminal table: (column, short header); ``format_table`` documents the headers.
TABLE_COLUMNS = [
    (C.TRAIN_LOSS, "train"), (C.TEST_LOSS, "test"), (C.SILHOUETTE, "silh"), (C.KNN_ACCURACY, "knn"),
    (C.MOST_MIXED_PAIR, "mixed"), (C.ACTIVE_UNITS, "active"), (C.PRIOR + C.MODES_COVERED, "modes"),
    (C.PRIOR + C.ENTROPY_NORM, "H_norm"), (C.GRID + C.MODES_COVERED, "grid_modes"), (C.GRID_INSIDE, "grid_in"),
    (C.FRECHET, "FD"), (C.PRECISION, "prec"), (C.RECALL, "recall"), (C.RECON_ACCURACY, "rec_acc"),
    (C.IWAE_NLL, "iwae"),
]
_INT_COLUMNS = (C.ACTIVE_UNITS, C.PRIOR + C.MODES_COVERED, C.GRID + C.MODES_COVERED)


def format_table(evaluation: Evaluation, fmt: str = "table") -> str:
    """Render ``evaluation.metrics`` for the terminal; ``fmt`` is one of ``OUTPUT_FORMATS``.

    ``csv``: the full metrics table as CSV; ``json``: the full table as a list of records (NaN -> null);
    ``table``: key columns with short headers, one line per checkpoint epoch and a last line ``data`` with
    the real-data reference values: train/test = history losses (nats), silh = silhouette,
    knn = kNN accuracy, mixed = most mixed digit pair (its confusion rate), active = active units,
    modes / H_norm = digits covered by / normalised entropy of the prior samples, grid_modes / grid_in =
    digits in the linear grid / fraction of test codes inside it, FD = Fréchet distance, prec / recall =
    PRDC precision / recall, rec_acc = classifier accuracy on reconstructions, iwae = IWAE NLL bound
    (only when computed). An unknown format is a :class:`ConfigError`.
    """
    metrics = evaluation.metrics
    if fmt == "csv":
        return metrics.to_csv()
    if fmt == "json":
        return metrics.reset_index().to_json(orient="records", indent=2, double_precision=15)
    if fmt != "table":
        raise ConfigError(f"unknown format {fmt!r}; choose one of {', '.join(OUTPUT_FORMATS)}")
    labels = [C.SOURCE_DATA if source == C.SOURCE_DATA else str(epoch)
              for epoch, source in zip(metrics.index, metrics[C.SOURCE])]
    view = pd.DataFrame(index=pd.Index(labels, name=C.EPOCH))
    for col, header in TABLE_COLUMNS:
        if col not in metrics.columns or (col == C.IWAE_NLL and metrics[col].isna().all()):
            continue
        values = metrics[col]
        if col in _INT_COLUMNS:
            values = values.map(lambda v: "" if pd.isna(v) else str(int(v)))
        elif col == C.MOST_MIXED_PAIR:
            rates = metrics.get(C.MOST_MIXED_PAIR_RATE, pd.Series(np.nan, index=metrics.index))
            values = pd.Series([_pair_text(p, r) for p, r in zip(values, rates)], index=metrics.index)
        view[header] = values.to_numpy()
    return view.to_string(na_rep="", float_format=lambda v: f"{v:.3f}")


def _pair_text(pair, rate) -> str:
    if not isinstance(pair, str) or not pair:
        return ""
    return f"{pair} ({rate:.0%})" if pd.notna(rate) else pair
