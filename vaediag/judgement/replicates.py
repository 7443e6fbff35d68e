"""Statistics over seeds (replicated runs): one row per (configuration, checkpoint epoch, metric).

The input is :func:`vaediag.compare.compare_runs`'s table (one row per run x checkpoint epoch, with the
configuration columns and the ``group`` label shared by runs that differ only by their seed). The output of
:func:`seed_statistics` is long form (tidy): per (group, epoch, metric) the number of seeds with a value
``n``, their ``mean``, sample ``std`` and the 95 % Student-t interval of the mean ``ci_low``–``ci_high``
(:func:`vaediag.stats.t_interval`; n = 1 gives NaN bounds: one seed says nothing about the spread), and the
``seeds`` that went into it. It is the sweep's ``summary.csv`` and what ``vaediag compare`` prints.

How to read a row: ``ci_low``–``ci_high`` is where the configuration's average over *all* seeds would lie with
95 % confidence, clipped to the metric's possible range (``vaediag.columns.COLUMN_RANGES``: a share's interval
stops at 0 and 1); a narrow interval is a number a new seed would reproduce, a wide one is not. ``std`` = 0 with
n > 1 means the seeds agree exactly: the interval has no width, which is no certainty (there is no noise estimate).

:func:`paired_test` tests a change paired by seed (the same seeds on both sides: the change of one configuration
between two epochs, or two configurations trained from the same seeds, which share their data subsets and random
draws), :func:`welch_test` a difference between configurations of different seeds (Welch: unequal variances,
Welch–Satterthwaite degrees of freedom, scipy's ``ttest_ind(equal_var=False)``). Both give a
:class:`~vaediag.stats.TTest` (p-value and interval at any level); :func:`difference_interval` and
:func:`paired_change` are their 95 % intervals.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from vaediag.files import atomic
from vaediag import columns as C
from vaediag.judgement.grouping import GROUP, GROUP_KEYS, SEED, SEEDS, metric_columns
from vaediag.stats import CONFIDENCE, Interval, TTest, clip_interval, t_interval

METRIC, N, MEAN, STD, CI_LOW, CI_HIGH = "metric", "n", "mean", "std", "ci_low", "ci_high"
STAT_COLUMNS = (N, MEAN, STD, CI_LOW, CI_HIGH)
SUMMARY_COLUMNS = (GROUP, *GROUP_KEYS, C.EPOCH, METRIC, *STAT_COLUMNS, SEEDS)
SUMMARY_COLUMN_DOCS = {
    GROUP: "text: the configuration (runs that differ only by their seed), e.g. 'mlp, d=2, β=1'",
    C.EPOCH: "integer: the checkpoint epoch",
    METRIC: "text: the metrics.csv column (or derived quantity) the row summarises",
    N: "integer: seeds with a finite value of the metric at this epoch",
    MEAN: "the mean over those seeds",
    STD: "the sample standard deviation over the seeds (ddof = 1); empty for n = 1",
    CI_LOW: "lower bound of the 95 % Student-t interval of the mean over seeds, mean − t(n−1)·std/√n, clipped to "
            "the metric's range (never below 0 for a share); empty for n = 1",
    CI_HIGH: "upper bound of that interval (clipped likewise); equal to ci_low when the seeds agree exactly "
             "(std 0: no noise estimate, not certainty)",
    SEEDS: "text: the seeds of the configuration, comma separated",
}
LOSS_GAP = "loss_gap_nats"  # derived: test_loss − train_eval_loss, per run and checkpoint
DERIVED_DOCS = {LOSS_GAP: "nats/sample: test_loss − train_eval_loss (both measured in eval mode after the "
                          "epoch); > 0 = the model fits its training digits better than unseen ones"}


def with_derived(df: pd.DataFrame) -> pd.DataFrame:
    """``df`` (a :func:`~vaediag.compare.compare_runs` table) plus the derived per-run columns
    (``LOSS_GAP`` when both losses are there)."""
    out = df.copy()
    if C.TEST_LOSS in out.columns and C.TRAIN_EVAL_LOSS in out.columns:
        out[LOSS_GAP] = pd.to_numeric(out[C.TEST_LOSS], errors="coerce") - pd.to_numeric(out[C.TRAIN_EVAL_LOSS],
                                                                                         errors="coerce")
    return out


def _seed_text(seeds: Iterable) -> str:
    keys = sorted({s for s in seeds if s is not None and not (isinstance(s, float) and math.isnan(s))},
                  key=lambda s: (not isinstance(s, (int, np.integer)), s))
    return ",".join(str(int(s)) if isinstance(s, (int, np.integer, float)) else str(s) for s in keys)


def seed_statistics(df: pd.DataFrame, metrics: Sequence[str] | None = None) -> pd.DataFrame:
    """Long-form statistics over seeds of a :func:`~vaediag.compare.compare_runs` table: one row per
    (group, epoch, metric) in ``SUMMARY_COLUMNS`` order, groups in order of appearance, then epochs, then
    ``metrics`` (default: every metric column of ``df``) in their order. NaN values (a metric a seed did not
    measure) are left out of that row's n."""
    metrics = list(metrics) if metrics is not None else metric_columns(df)
    flat = df.reset_index()
    rows = []
    for group in dict.fromkeys(flat[GROUP]):
        g = flat[flat[GROUP] == group]
        config = {k: g[k].iloc[0] for k in GROUP_KEYS}
        seeds = _seed_text(g[SEED])
        for epoch in sorted(g[C.EPOCH].unique()):
            at = g[g[C.EPOCH] == epoch]
            for m in metrics:
                values = pd.to_numeric(at[m], errors="coerce") if m in at.columns else pd.Series(dtype=float)
                iv = clip_interval(t_interval(values.to_numpy(dtype=float)), C.COLUMN_RANGES.get(m))
                rows.append({GROUP: group, **config, C.EPOCH: int(epoch), METRIC: m, N: iv.n, MEAN: iv.mean,
                             STD: iv.std, CI_LOW: iv.low, CI_HIGH: iv.high, SEEDS: seeds})
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def lookup(summary: pd.DataFrame, group: str, epoch: int, metric: str) -> pd.Series | None:
    """The row of ``summary`` for (group, epoch, metric); None when there is none."""
    hit = summary[(summary[GROUP] == group) & (summary[C.EPOCH] == epoch) & (summary[METRIC] == metric)]
    return None if hit.empty else hit.iloc[0]


def write_summary(summary: pd.DataFrame, path) -> None:
    """``summary`` as CSV at ``path`` (atomically), no index column."""
    atomic.write_with(path, lambda tmp: summary.to_csv(tmp, index=False))


def welch_test(a: Sequence[float], b: Sequence[float]) -> TTest:
    """Welch's t-test of mean(``b``) − mean(``a``) (finite values only): unequal variances, Welch–Satterthwaite
    degrees of freedom (as scipy's ``ttest_ind(b, a, equal_var=False)``). ``n`` is the smaller sample size. Not
    testable with fewer than 2 values on a side or no spread on both."""
    av, bv = (np.asarray(x, dtype=float).ravel() for x in (a, b))
    av, bv = av[np.isfinite(av)], bv[np.isfinite(bv)]
    n = int(min(av.size, bv.size))
    diff = float(bv.mean() - av.mean()) if av.size and bv.size else math.nan
    if n < 2:
        return TTest(n, diff, math.nan, math.nan, "welch")
    va, vb = av.var(ddof=1) / av.size, bv.var(ddof=1) / bv.size
    se = math.sqrt(va + vb)
    if se == 0:  # no spread on either side: no noise estimate (and no division by 0)
        return TTest(n, diff, 0.0, math.nan, "welch")
    dof = (va + vb) ** 2 / ((va ** 2 / (av.size - 1) if va else 0.0) + (vb ** 2 / (bv.size - 1) if vb else 0.0))
    return TTest(n, diff, se, float(dof), "welch")


def paired_test(before: Sequence[float], after: Sequence[float]) -> TTest:
    """The paired t-test of ``after`` − ``before`` (the i-th values belong to the same seed; pairs with a NaN
    dropped): mean of the per-seed differences, se = their std / √n, n − 1 degrees of freedom (scipy's
    ``ttest_rel``). Not testable with fewer than 2 pairs, or when every seed changes by exactly the same amount."""
    d = np.asarray(after, dtype=float) - np.asarray(before, dtype=float)
    d = d[np.isfinite(d)]
    n = int(d.size)
    if n < 2:
        return TTest(n, float(d.mean()) if n else math.nan, math.nan, math.nan, "paired")
    return TTest(n, float(d.mean()), float(d.std(ddof=1) / math.sqrt(n)), float(n - 1), "paired")


def difference_test(a: dict, b: dict) -> TTest:
    """The test of mean(``b``) − mean(``a``), each given as seed -> value: paired by seed when both sides hold the
    same seeds (at least two, each with a finite value on both sides: two configurations trained from the same
    seeds share their data subsets and random draws, and the pairing removes that shared noise); Welch's test
    otherwise (independent samples). ``method`` says which."""
    fa = {k: float(v) for k, v in a.items() if np.isfinite(v)}
    fb = {k: float(v) for k, v in b.items() if np.isfinite(v)}
    if len(fa) >= 2 and set(fa) == set(fb):
        seeds = sorted(fa, key=str)
        return paired_test([fa[k] for k in seeds], [fb[k] for k in seeds])
    return welch_test(list(fa.values()), list(fb.values()))


def difference_interval(a: Sequence[float], b: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Welch's t-interval of mean(``b``) − mean(``a``) (:func:`welch_test`); ``std`` holds the standard error of
    the difference; NaN bounds when not testable."""
    return welch_test(a, b).interval(confidence)


def paired_change(before: Sequence[float], after: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The change ``after`` − ``before`` of one configuration between two epochs, paired by seed: the t-interval
    of the per-seed differences (:func:`paired_test`)."""
    return paired_test(before, after).interval(confidence)
