"""n = 1: what a single-run report can and cannot say, and which of its findings need replication over seeds.

:func:`threshold_checks` gathers every threshold check the report makes (the verdict's at each checkpoint,
the Q3 trends); :func:`replication_sentences` states that the report rests on one seed and lists the findings
to replicate with ``vaediag study --seeds 0,1,2`` or ``vaediag sweep``: inconclusive checks, margins smaller
than the seed-to-seed spread (``rules.SEED_SPREAD``), and the seed-sensitive silhouette level.
"""

from __future__ import annotations

import math

import pandas as pd

from vaediag import columns as C
from vaediag.store.rundir import Run
from vaediag.stats import INCONCLUSIVE

from .findings import Part, Quotes, Sentence, const_tag, digit_tag, epoch_tag, stat_tag
from .questions import loss_trend
from vaediag.judgement.run_verdict import run_verdict
from vaediag.judgement.verdict import CHECK_ENTROPY
from vaediag.judgement.rules import (CI_TEXT, SEED_SPREAD, SEED_SPREAD_NOTE, SILHOUETTE_SEED_FACTOR, Check,
                                     silhouette_level)

REPLICATE_COMMAND = "vaediag study --seeds 0,1,2"
SWEEP_COMMAND = "vaediag sweep"


def threshold_checks(run: Run) -> list[Check]:
    """Every threshold check of the report: the verdict's at each checkpoint (tagged with its epoch), then the
    Q3 trends of the test loss and of the train–test gap."""
    checks: list[Check] = []
    for epoch in run.epochs:
        for check in run_verdict(run, epoch).checks:
            checks.append(Check(check.name, check.estimate, check.low, check.high, check.threshold, check.side,
                                check.interval, epoch))
    history = run.history
    if C.TEST_LOSS in history.columns and len(history) and int(history.index.max()) > 0:
        for minus in (None, C.TRAIN_EVAL_LOSS):
            trend = loss_trend(history, C.TEST_LOSS, minus=minus)
            if trend is not None:
                checks.append(trend)
    return checks


def checks_table(checks: list[Check]) -> pd.DataFrame:
    """The checks as a table: what, epoch, estimate, interval, threshold, margin, answer."""
    rows = [{"check": c.name, C.EPOCH: "" if c.epoch is None else c.epoch, "estimate": c.estimate,
             CI_TEXT: f"[{c.low:.4g}, {c.high:.4g}]" if c.has_interval else "none", "side": c.side,
             "threshold": c.threshold, "margin": c.margin, "answer": c.answer, "interval": c.interval}
            for c in checks]
    return pd.DataFrame(rows, columns=["check", C.EPOCH, "estimate", CI_TEXT, "side", "threshold", "margin", "answer",
                                       "interval"]).set_index("check")


def check_name(check: Check) -> list[Part]:
    """The check's name as parts, a digit in it as a digit tag ("inside share below threshold: digit 0")."""
    name, sep, digit = check.name.rpartition(" digit ")
    if sep and digit.isdigit():
        return [f"“{name}{sep}", digit_tag(int(digit)), "”"]
    return [f"“{check.name}”"]


def replication_sentences(run: Run, checks: list[Check]) -> list[Sentence]:
    """The n = 1 statement and the findings that would need replication."""
    quotes = Quotes(run)
    seed = run.config.get("train", {}).get("seed", run.config.get("seed"))
    out = [Sentence(["This report rests on one training run (n = ", const_tag("1"), ", one seed",
                     *([": ", const_tag(str(seed))] if seed is not None else []),
                     "). Its intervals are sampling intervals within this run (over its prior samples, its test "
                     "codes, the epochs of its one training path); they do not contain the seed-to-seed "
                     "variation, which is larger: between ", const_tag("4"), " seeds of the default MLP the "
                     "silhouette differed by a factor of ", const_tag(f"{SILHOUETTE_SEED_FACTOR:g}"), "."])]
    items: list[list[Part]] = []
    for check in checks:
        where: list[Part] = [" at ", epoch_tag(check.epoch)] if check.epoch is not None else []
        if check.answer == INCONCLUSIVE:
            items.append([*check_name(check), *where, " is inconclusive (its ", const_tag(CI_TEXT),
                          " straddles the threshold)"])
        elif check.name == CHECK_ENTROPY and math.isfinite(check.margin) \
                and abs(check.margin) < SEED_SPREAD[C.PRIOR + C.ENTROPY_NORM]:
            items.append([*check_name(check), *where, f" is {check.answer} within this run, but its margin ",
                          stat_tag(f"{check.margin:+.3f}", "estimate − threshold"),
                          " is smaller than the seed-to-seed standard deviation of the entropy (",
                          const_tag(f"{SEED_SPREAD[C.PRIOR + C.ENTROPY_NORM]:g}"), f"; {SEED_SPREAD_NOTE})"])
    silhouette = quotes.metric(C.SILHOUETTE, run.last)
    if silhouette is not None:
        items.append(["the silhouette level (", silhouette, " at ", epoch_tag(run.last), f": "
                      f"{silhouette_level(silhouette.value)}), whose seed-to-seed standard deviation is about ",
                      const_tag(f"{SEED_SPREAD[C.SILHOUETTE]:g}")])
    if items:
        parts: list[Part] = ["Findings that would need replication (", const_tag(REPLICATE_COMMAND), " or ",
                             const_tag(SWEEP_COMMAND), "): "]
        for i, item in enumerate(items):
            parts += (["; "] if i else []) + item
        out.append(Sentence(parts + ["."]))
    return out
