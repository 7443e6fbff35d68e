"""What every claim kind shares: the :class:`Subject` a claim is checked on (one run, or one configuration's
seeds of a sweep), the quoted :class:`Cell` (evidence) and the :class:`Outcome` of a check, and the helpers
that turn numbers with intervals into the ``measured`` text.

A quoted number is either a cell of a result table (``table`` = metrics.csv, per_class.csv, pairs.csv,
history.csv: ``run``, ``column``, ``epoch``, ``key`` say which) or a derived number (``table`` = ``DERIVED``;
``column`` says how it was computed from cells, e.g. "mean over seeds of metrics.csv silhouette").
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import pandas as pd

from vaediag import columns as C
from vaediag.judgement.formats import format_number
from vaediag.store.rundir import HISTORY_FILE, METRICS_FILE, PAIRS_FILE, PER_CLASS_FILE, Run
from vaediag.stats import INCONCLUSIVE, REFUTED, SUPPORTED, Interval, t_interval

DERIVED = "derived"
TABLES = (METRICS_FILE, PER_CLASS_FILE, PAIRS_FILE, HISTORY_FILE)
EVIDENCE_KEYS = ("table", "run", "column", "epoch", "key", "value", "ci_low", "ci_high")


# ============================================================================================ subject
@dataclass
class Subject:
    """What one row of the check is about: a single run (``runs`` of length 1, ``label`` "") or a sweep
    configuration (``label`` its group, e.g. "mlp, d=2, β=1", ``runs`` its seeds, in seed order).
    ``all_groups`` (sweeps only): every configuration of the sweep, label -> runs (for ``bottleneck``)."""

    runs: list[Run]
    label: str = ""
    settings: dict = field(default_factory=dict)
    sweep: bool = False
    all_groups: dict = field(default_factory=dict)
    group_settings: dict = field(default_factory=dict)

    @property
    def n(self) -> int:
        return len(self.runs)

    @property
    def single(self) -> bool:
        return len(self.runs) == 1

    @property
    def run(self) -> Run:
        return self.runs[0]

    def run_name(self, run: Run) -> str:
        return run.name if self.sweep else ""


# ============================================================================================ outcome
@dataclass
class Outcome:
    """The answer to one claim on one subject."""

    verdict: str
    measured: str
    rule: str
    explanation: str = ""
    evidence: list[dict] = field(default_factory=list)


def cell(table: str, run: str, column: str, epoch, key, value: float, *, ci_low: float = math.nan,
         ci_high: float = math.nan) -> dict:
    """One evidence entry (a quoted number): see the module docstring."""
    return {"table": table, "run": run, "column": column, "epoch": None if epoch is None else int(epoch),
            "key": key, "value": float(value), "ci_low": float(ci_low), "ci_high": float(ci_high)}


def combine(answers: Sequence[str]) -> str:
    """Answer of a claim about several digits (or epochs) at once: supported when every part is, refuted when
    any part is refuted, else inconclusive."""
    if answers and all(a == SUPPORTED for a in answers):
        return SUPPORTED
    return REFUTED if REFUTED in answers else INCONCLUSIVE


def num(column: str, value: float) -> str:
    """``value`` written the way the report writes ``column`` (:func:`vaediag.report.format_number`)."""
    return format_number(column, value) if math.isfinite(value) else "n/a"


def with_ci(column: str, value: float, low: float, high: float, how: str = "") -> str:
    """"0.123 [0.101, 0.145]" (the 95 % interval, ``how`` after it when given) or "0.123 (no interval)"."""
    text = num(column, value)
    if math.isfinite(low) and math.isfinite(high):
        return f"{text} [{num(column, low)}, {num(column, high)}" + (f"; {how}]" if how else "]")
    return f"{text} (no interval)"


def decide_exact(value: float, threshold: float, side: str) -> str:
    """A rule on an exact number (no sampling interval): its interval is the point itself."""
    from vaediag.stats import decide

    return decide(value, value, threshold, side)


# ============================================================================================ table cells
def class_cell(run: Run, column: str, epoch: int, digit: int) -> float:
    """per_class.csv ``column`` of ``digit`` at a checkpoint (NaN when absent)."""
    pc = run.per_class
    if column not in pc.columns:
        return math.nan
    rows = pc[(pc[C.SOURCE] == C.SOURCE_MODEL) & (pc[C.EPOCH] == epoch) & (pc[C.CLASS] == digit)]
    return float(pd.to_numeric(rows[column], errors="coerce").iloc[0]) if len(rows) else math.nan


def pair_rates(run: Run, epoch: int) -> pd.DataFrame:
    """pairs.csv at ``epoch``, most confused first (columns class_a, class_b, their names, confusion_rate)."""
    p = run.pairs
    rows = p[p[C.EPOCH] == epoch].copy()
    rows[C.CONFUSION_RATE] = pd.to_numeric(rows[C.CONFUSION_RATE], errors="coerce")
    return rows.sort_values(C.CONFUSION_RATE, ascending=False, kind="stable").reset_index(drop=True)


def history_cell(run: Run, column: str, epoch: int) -> float:
    h = run.history
    if column not in h.columns or epoch not in h.index:
        return math.nan
    return float(pd.to_numeric(pd.Series([h.at[epoch, column]]), errors="coerce").iloc[0])


def over_seeds(subject: Subject, value: Callable[[Run], float]) -> tuple[Interval, list[float]]:
    """The t-interval over the subject's seeds of ``value(run)``, and the per-seed values."""
    values = [float(value(r)) for r in subject.runs]
    return t_interval(np.asarray(values, dtype=float)), values


def seeds_text(subject: Subject) -> str:
    return f"mean [95 % t-interval] over {subject.n} seeds"
