"""The general claim ``metric``: a metrics.csv column (or a per_class.csv column with ``digit``) compared with a
value at one or several checkpoint epochs: decided on the cell's 95 % interval where the table has
``<column>_ci_low/_ci_high`` (or over seeds: the t-interval), else on the value itself ("no interval")."""

from __future__ import annotations

import math

from vaediag import columns as C
from vaediag.store.rundir import METRICS_FILE, PER_CLASS_FILE, Run
from vaediag.stats import ABOVE, BELOW, INCONCLUSIVE, REFUTED, SUPPORTED, decide

from .measure import DERIVED, Outcome, Subject, cell, class_cell, combine, num, over_seeds, with_ci
from .schema import METRIC, Claim

OPERATOR_SIDES = {"<": BELOW, "<=": BELOW, ">": ABOVE, ">=": ABOVE}
OPERATOR_TEST = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b,
                 ">=": lambda a, b: a >= b}


def metric_columns(run: Run, digit: int | None) -> list[str]:
    """The columns a ``metric`` claim may name: numeric checkpoint columns of metrics.csv (with digit:
    per_class.csv's)."""
    if digit is None:
        m = run.checkpoint_metrics
    else:
        m = run.per_class
    skip = {C.SOURCE, C.EPOCH, C.CLASS}
    return [c for c in m.columns if c not in skip and not c.endswith((C.CI_LOW, C.CI_HIGH))
            and str(m[c].dtype) != "object"]


def _value(run: Run, column: str, epoch: int, digit: int | None) -> tuple[float, float, float]:
    """(value, low, high): the cell and its ``_ci_low/_ci_high`` cells; for a run evaluated before those columns
    existed, the report's recomputed intervals of the prior entropy, kNN accuracy and prior shares
    (:mod:`vaediag.judgement.intervals`)."""
    from vaediag.judgement.intervals import knn_accuracy_ci, prior_entropy_ci, prior_share_ci

    low_col, high_col = column + C.CI_LOW, column + C.CI_HIGH
    if digit is None:
        value, low, high = run.value(column, epoch), run.value(low_col, epoch), run.value(high_col, epoch)
        fallback = {C.PRIOR + C.ENTROPY_NORM: prior_entropy_ci, C.KNN_ACCURACY: knn_accuracy_ci}.get(column)
        if fallback is not None and not (math.isfinite(low) and math.isfinite(high)):
            low, high = fallback(run, epoch)
        return value, low, high
    value, low, high = (class_cell(run, column, epoch, digit), class_cell(run, low_col, epoch, digit),
                        class_cell(run, high_col, epoch, digit))
    if column == C.CLASS_PRIOR_SHARE and not (math.isfinite(low) and math.isfinite(high)):
        bounds = prior_share_ci(run, epoch)
        if bounds is not None:
            low, high = float(bounds[0][digit]), float(bounds[1][digit])
    return value, low, high


def check_metric(claim: Claim, subject: Subject, settings: dict) -> Outcome:
    column, op, threshold = claim.get("column"), claim.get("operator"), claim.get("value")
    digit = claim.get("digit")
    side = OPERATOR_SIDES[op]
    table = METRICS_FILE if digit is None else PER_CLASS_FILE
    answers, parts, evidence, notes = [], [], [], []
    any_interval = False
    for epoch in claim.epochs():
        if subject.single:
            value, low, high = _value(subject.run, column, epoch, digit)
            has = math.isfinite(low) and math.isfinite(high)
            evidence.append(cell(table, subject.run_name(subject.run), column, epoch, digit, value, ci_low=low, ci_high=high))
        else:
            iv, values = over_seeds(subject, lambda r, e=epoch: _value(r, column, e, digit)[0])
            value, low, high = iv.mean, iv.low, iv.high
            has = iv.has_interval
            evidence += [cell(table, r.name, column, epoch, digit, v) for r, v in zip(subject.runs, values)]
            evidence.append(cell(DERIVED, "", f"mean over {subject.n} seeds of {table} {column}", epoch, digit,
                                 value, ci_low=low, ci_high=high))
        if has:
            any_interval = True
            answer = decide(low, high, threshold, side)
        elif math.isfinite(value):
            answer = SUPPORTED if OPERATOR_TEST[op](value, threshold) else REFUTED
        else:
            answer = INCONCLUSIVE
            notes.append(f"{column} has no value at epoch {epoch}")
        answers.append(answer)
        where = f"epoch {epoch}" + (f", digit {digit}" if digit is not None else "")
        parts.append(f"{column} {with_ci(column, value, low, high)} at {where}")
        if answer == REFUTED:
            notes.append(f"{column} is {num(column, value)} at {where}, " + (
                f"its interval [{num(column, low)}, {num(column, high)}] lies wholly on the other side of "
                f"{num(column, threshold)}" if has else f"not {op} {num(column, threshold)}"))
        elif answer == INCONCLUSIVE and has:
            notes.append(f"the interval of {column} at {where} straddles {num(column, threshold)}")
    verdict = combine(answers)
    how = ("its 95 % CI (" + ("the table's _ci_low/_ci_high, or for older runs the report's recomputed "
                              "interval" if subject.single else
                              f"t-interval over {subject.n} seeds") + ") must lie wholly on the claimed side"
           if any_interval else "no interval: the value itself is compared")
    rule = (f"metric: {column} {op} {threshold:g} at each epoch named; {how}; straddling = inconclusive; several "
            f"epochs: supported when every one is, refuted when one is refuted")
    explanation = "" if verdict == SUPPORTED else "; ".join(notes)
    return Outcome(verdict, "; ".join(parts), rule, explanation, evidence)


HANDLERS = {METRIC: check_metric}
