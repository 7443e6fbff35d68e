"""The report's tables as plain data: :class:`Table`, a DataFrame as a table (:func:`frame_table`), metrics.csv in
column groups (:func:`epoch_tables`, columns without any value left out and named), the headers' meanings of the
verdict and threshold-check tables, and the README's column tables.

A wide table is read from its left: the per-checkpoint verdict table puts its ``verdict`` column right after the
epoch (:func:`verdict_first`), so the answer is on screen before the evidence scrolls sideways.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pandas as pd

from vaediag import columns as C
from vaediag.judgement.formats import percent, table_cell
from vaediag.judgement.rules import (CI_TEXT, COLLAPSE_ENTROPY, IMBALANCE_FACTOR, INSIDE_MIN, MISSING_SHARE,
                                     POSTERIOR_KL_DIM_MIN)
from vaediag.judgement.run_verdict import (CODE_ENTROPY_HEADER, ENTROPY_ANSWER_HEADER, ENTROPY_CI_HEADER,
                                           ENTROPY_MARGIN_HEADER, INSIDE_HEADER)
from vaediag.store.rundir import HISTORY_FILE, METRICS_FILE, PAIRS_COLUMNS, PAIRS_FILE, PER_CLASS_COLUMNS, PER_CLASS_FILE, Run

HISTORY_TABLE_COLUMNS = list(dict.fromkeys(C.HISTORY_COLUMNS + [C.TRAIN_EVAL_LOSS, C.TRAIN_EVAL_RECON, C.TRAIN_EVAL_KL]))
TABLE_GROUPS = (  # per-epoch table split into readable groups; columns not listed land in "Other"
    (f"Training loss ({HISTORY_FILE}, nats/sample)", [c for c in HISTORY_TABLE_COLUMNS if c != C.EPOCH]),
    ("Latent separation", [C.SILHOUETTE, C.KNN_ACCURACY, C.KNN_ACCURACY + C.CI_LOW, C.KNN_ACCURACY + C.CI_HIGH,
                           C.DAVIES_BOULDIN, C.CALINSKI_HARABASZ, C.MOST_MIXED_PAIR, C.MOST_MIXED_PAIR_RATE]),
    ("Latent usage", [C.ACTIVE_UNITS, C.TOTAL_CORRELATION, C.AGGPOST_MEAN_NORM, C.AGGPOST_VAR_MEAN,
                      C.AGGPOST_KL_PRIOR]),
    ("KL per latent dimension (nats/sample)", None),  # None: the kl_dim_<i> columns
    ("Prior samples", [C.PRIOR + m for m in C.HISTOGRAM_METRICS] + [C.PRIOR_ENTROPY_NORM_CI_LOW,
                                                                    C.PRIOR_ENTROPY_NORM_CI_HIGH]
     + [C.PRIOR + m for m in C.READABILITY_METRICS]),
    ("The second judge (nearest test codes)", list(C.JUDGE_COLUMNS)),
    ("Linear grid", [C.GRID + m for m in C.HISTOGRAM_METRICS + C.READABILITY_METRICS] + [C.GRID_SPAN, C.GRID_INSIDE]),
    ("Quantile grid", [C.QGRID + m for m in C.HISTOGRAM_METRICS + C.READABILITY_METRICS]
     + [C.QGRID_SPAN, C.QGRID_INSIDE]),
    ("Sample quality (classifier features)", [C.FRECHET, C.PRECISION, C.RECALL, C.DENSITY, C.COVERAGE]),
    ("Reconstruction / likelihood", [C.EVAL_LOSS, C.EVAL_RECON, C.EVAL_KL, C.RECON_ACCURACY, C.IWAE_NLL,
                                      C.IWAE_TRAIN_NLL]),
)
VERDICT_HEADER_DOCS = {  # the per-checkpoint verdict table's headers (verdict.verdict_table)
    "active units": C.column_doc(C.ACTIVE_UNITS),
    "inactive dims": f"latent dimensions whose KL is below {POSTERIOR_KL_DIM_MIN:g} nats (kl_dim_<i>); '–' = none",
    "prior entropy (norm.)": C.column_doc(C.PRIOR + C.ENTROPY_NORM),
    "grid entropy (norm.)": C.column_doc(C.GRID + C.ENTROPY_NORM),
    ENTROPY_CI_HEADER: f"{CI_TEXT} of the prior entropy (bootstrap over the prior samples; recomputed from the "
                       "shares for runs evaluated without it)",
    ENTROPY_MARGIN_HEADER: f"prior entropy − {COLLAPSE_ENTROPY:g}: how far the estimate is from the threshold",
    ENTROPY_ANSWER_HEADER: "supported (interval wholly below: imbalance, or collapse with missing digits), refuted "
                           "(wholly at or above), inconclusive (straddles)",
    "inside grid window": C.column_doc(C.GRID_INSIDE),
    "missing from prior": f"digits whose share of prior samples has its whole {CI_TEXT} (Wilson) below "
                          f"{percent(MISSING_SHARE)}",
    "uncertain digits": f"digits whose share interval straddles {percent(MISSING_SHARE)}: missing or not cannot be "
                        "told from this run",
    "over-drawn": f"digits whose share interval lies wholly above {IMBALANCE_FACTOR:g} × their test-set share",
    "under-drawn": f"digits whose share interval lies wholly below their test-set share / {IMBALANCE_FACTOR:g}",
    "missing from grid": f"digits with less than {percent(MISSING_SHARE)} of the linear grid's images "
                         "(per_class.csv grid_share; the grid's points are fixed, so no interval)",
    INSIDE_HEADER: f"for each digit missing from the grid: the share of its own test codes inside the grid window "
                   f"with its Wilson {CI_TEXT} and the answer to “below {percent(INSIDE_MIN)}?” (“all”: the overall "
                   "inside fraction, when per-digit shares are unavailable)",
    CODE_ENTROPY_HEADER: f"the code judge's normalised class entropy of the prior samples with its {CI_TEXT} and "
                         f"the answer to “below {COLLAPSE_ENTROPY:g}?” (an imbalance needs both judges to say so)",
    "judges disagree": f"digits on which one judge's share interval lies wholly below {percent(MISSING_SHARE)} and "
                       "the other's wholly above: no verdict on them",
    "judge cannot read": "digits whose reconstructions the classifier cannot read (recon_recall): its shares of "
                         "them are no evidence",
    "verdict": "the collapse verdict of the checkpoint (rules: 'How the findings are written')",
}
CHECK_HEADER_DOCS = {
    "check": "the threshold rule: is the estimate on the rule's side of the threshold?",
    "estimate": "the measured value (a slope in nats/epoch for the trends)",
    CI_TEXT: "the interval the answer is decided on",
    "side": "the rule's side of the threshold",
    "threshold": "the rule's threshold (0 for a trend: is the slope above 0?)",
    "margin": "estimate − threshold",
    "answer": "supported (interval wholly on the side), refuted (wholly on the other), inconclusive (straddles)",
    "interval": "how the interval was obtained",
}
README_COLUMN_TABLES = (  # the README's column tables: file -> its columns, in order
    (HISTORY_FILE, HISTORY_TABLE_COLUMNS),
    (METRICS_FILE, [C.EPOCH, C.SOURCE] + [c for _, cols in TABLE_GROUPS[1:] for c in (cols or [C.KL_PER_DIM_PREFIX])]),
    (PER_CLASS_FILE, PER_CLASS_COLUMNS),
    (PAIRS_FILE, PAIRS_COLUMNS),
)
# only documented columns are listed: a column whose doc has not been written yet (or that was removed) stays out
README_COLUMN_TABLES = tuple((name, [c for c in columns if C.column_doc(c)]) for name, columns in README_COLUMN_TABLES)


# ============================================================================================ tables
@dataclass(frozen=True)
class Table:
    """A rendered table: ``header`` (first entry: the row-label column), the meaning of each header
    (``docs``, "" where none) and rows of cell texts; rows labelled ``"data"`` (the real-data reference) stay
    last when the table is sorted."""

    title: str
    header: list[str]
    rows: list[list[str]]
    docs: list[str] = field(default_factory=list)


def frame_table(frame: pd.DataFrame, title: str = "", row_labels: list | None = None,
                docs: dict[str, str] | None = None) -> Table:
    """A DataFrame as a :class:`Table`: the index (or ``row_labels``) first, cells by ``table_cell``; header
    docs from ``docs`` (header -> text), else :func:`vaediag.columns.column_doc`. The row-label header is
    the index's name ("row" when it has none), never empty."""
    labels = list(frame.index) if row_labels is None else row_labels
    rows = [[str(label)] + [table_cell(v) for v in values]
            for label, values in zip(labels, frame.itertuples(index=False))]
    header = [str(frame.index.name or "row")] + [str(c) for c in frame.columns]
    return Table(title, header, rows, [(docs or {}).get(h) or C.column_doc(h) for h in header])


def empty_columns(frame: pd.DataFrame) -> list[str]:
    """The columns of ``frame`` without a single value (all NaN or blank): not measured for this run."""
    return [c for c in frame.columns if c != C.SOURCE
            and not frame[c].map(lambda v: not (v is None or (isinstance(v, float) and v != v) or v == "")).any()]


def epoch_tables(run: Run) -> list[Table]:
    """metrics.csv in column groups (every column with a value exactly once; :func:`empty_columns` left out),
    rows labelled by epoch; the real-data reference row is labelled ``"data"``."""
    metrics = run.metrics
    labels = [C.SOURCE_DATA if source == C.SOURCE_DATA else int(epoch)
              for epoch, source in zip(metrics.index, metrics[C.SOURCE])]
    kl = [c for c in metrics.columns if c.startswith(C.KL_PER_DIM_PREFIX)]
    used, out = {C.SOURCE, *empty_columns(metrics)}, []
    for title, columns in TABLE_GROUPS:
        columns = [c for c in (kl if columns is None else columns) if c in metrics.columns and c not in used]
        used.update(columns)
        if columns:
            out.append(frame_table(metrics[columns], title, labels))
    rest = [c for c in metrics.columns if c not in used]
    if rest:
        out.append(frame_table(metrics[rest], "Other", labels))
    return out


def flatten(mapping, prefix: str = "") -> list[tuple[str, str]]:
    """Nested dicts as ("a.b", "value") pairs; lists, booleans and None in JSON."""
    out = []
    for key, value in (mapping or {}).items():
        if isinstance(value, dict):
            out += flatten(value, f"{prefix}{key}.")
        else:
            text = json.dumps(value) if isinstance(value, (list, tuple, bool)) or value is None else str(value)
            out.append((f"{prefix}{key}", text))
    return out


GRID_VERDICT_COLUMNS = ("grid entropy (norm.)", "missing from grid", "inside grid window", INSIDE_HEADER)


def verdict_columns(frame: pd.DataFrame, grids: bool) -> pd.DataFrame:
    """The per-checkpoint verdict table as shown: the verdict first (:func:`verdict_first`), columns without any
    value left out, and the grid's columns only when the run has decoded grids (else "missing from grid: –"
    would claim that a grid that does not exist misses nothing)."""
    frame = frame.drop(columns=[c for c in empty_columns(frame) if c != "verdict"])
    if not grids:
        frame = frame.drop(columns=[c for c in GRID_VERDICT_COLUMNS if c in frame.columns])
    return verdict_first(frame)


def verdict_first(frame: pd.DataFrame, column: str = "verdict") -> pd.DataFrame:
    """``frame`` with ``column`` moved to the front (right after the row labels), when it has one."""
    if column not in frame.columns:
        return frame
    return frame[[column] + [c for c in frame.columns if c != column]]
