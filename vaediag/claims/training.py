"""Claims about training and capacity: ``overfitting`` after an epoch (trend of the test loss and of the
train–test gap in history.csv) and ``bottleneck`` (a sweep over latent_dim: does the largest z do better
than the smallest?)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from vaediag import columns as C
from vaediag.judgement import replicates as R
from vaediag.store.rundir import HISTORY_FILE, METRICS_FILE, Run
from vaediag.stats import ABOVE, BELOW, INCONCLUSIVE, REFUTED, SUPPORTED, decide, slope_interval, t_interval

from .measure import DERIVED, Outcome, Subject, cell, history_cell, num, with_ci
from vaediag.judgement.claim_rules import SLOPE_MIN_EPOCHS

from .schema import BOTTLENECK, OVERFITTING, Claim

BOTTLENECK_METRICS = ((C.TEST_LOSS, BELOW, "test loss"), (C.KNN_ACCURACY, ABOVE, "kNN accuracy"))


# ============================================================================================ overfitting
def _series(run: Run, column: str, after: int) -> tuple[np.ndarray, np.ndarray]:
    h = run.history
    if column not in h.columns:
        return np.array([]), np.array([])
    rows = h[h.index >= after]
    y = pd.to_numeric(rows[column], errors="coerce").to_numpy(float)
    return rows.index.to_numpy(float), y


def _gap(run: Run, after: int) -> tuple[np.ndarray, np.ndarray]:
    x, test = _series(run, C.TEST_LOSS, after)
    _, train = _series(run, C.TRAIN_EVAL_LOSS, after)
    return x, (test - train) if len(train) == len(test) else np.full(len(x), np.nan)


def check_overfitting(claim: Claim, subject: Subject, settings: dict) -> Outcome:
    """``overfitting`` after epoch E: the least-squares slope of test_loss over the epochs E..last
    (history.csv) has a 95 % CI wholly above 0 (supported) / wholly below 0 (refuted, it keeps falling);
    the slope of the gap test_loss − train_eval_loss is quoted beside it."""
    after = claim.get("after")
    rule = (f"overfitting: least-squares slope of {HISTORY_FILE} test_loss over the epochs from the claim's epoch "
            f"to the last, with its 95 % CI (t, n − 2 degrees of freedom; at least {SLOPE_MIN_EPOCHS} epochs): "
            f"wholly above 0 = supported (training longer hurts), wholly below 0 = refuted (it keeps falling), "
            f"else inconclusive; the slope of the gap test_loss − train_eval_loss is quoted")
    evidence = []
    without = [r for r in subject.runs if r.is_external and not len(r.history)]
    if without:
        return Outcome(INCONCLUSIVE, "not measured", rule,
                       f"{without[0].path} is an external run (evaluated with vaediag.evaluate_model) without "
                       f"{HISTORY_FILE}, so the test loss over the training epochs is not known (hand your losses "
                       f"over with evaluate_model(..., history={{'train_loss': [...], 'test_loss': [...]}}))")
    if subject.single:
        run = subject.run
        x, y = _series(run, C.TEST_LOSS, after)
        slope = slope_interval(x, y)
        gx, gy = _gap(run, after)
        gap = slope_interval(gx, gy)
        last = int(x[-1]) if len(x) else after
        first_loss, last_loss = history_cell(run, C.TEST_LOSS, after), history_cell(run, C.TEST_LOSS, last)
        evidence += [cell(HISTORY_FILE, "", C.TEST_LOSS, after, None, first_loss),
                     cell(HISTORY_FILE, "", C.TEST_LOSS, last, None, last_loss),
                     cell(DERIVED, "", f"slope of {HISTORY_FILE} test_loss over epochs {after}-{last} (nats/epoch)",
                          last, None, slope.mean, ci_low=slope.low, ci_high=slope.high)]
        measured = (f"test loss {num(C.TEST_LOSS, first_loss)} at epoch {after} → {num(C.TEST_LOSS, last_loss)} at "
                    f"epoch {last}; slope over epochs {after}-{last} {_slope_text(slope)} nats/epoch")
        if np.isfinite(gy).sum() >= 2:
            evidence.append(cell(DERIVED, "", f"slope of {HISTORY_FILE} test_loss − train_eval_loss over epochs "
                                              f"{after}-{last} (nats/epoch)", last, None, gap.mean, ci_low=gap.low, ci_high=gap.high))
            measured += f"; gap (test − train, eval mode) slope {_slope_text(gap)} nats/epoch"
        else:
            measured += "; gap not measured (no train_eval_loss)"
        low, high, n_points = slope.low, slope.high, slope.n
    else:
        slopes = []
        for r in subject.runs:
            x, y = _series(r, C.TEST_LOSS, after)
            s = slope_interval(x, y)
            slopes.append(s.mean)
            evidence.append(cell(DERIVED, r.name, f"slope of {HISTORY_FILE} test_loss from epoch {after} "
                                                  f"(nats/epoch)", None, None, s.mean, ci_low=s.low, ci_high=s.high))
        iv = t_interval(slopes)
        evidence.append(cell(DERIVED, "", f"mean over {subject.n} seeds of the test_loss slope from epoch {after}",
                             None, None, iv.mean, ci_low=iv.low, ci_high=iv.high))
        slope, low, high, n_points = iv, iv.low, iv.high, SLOPE_MIN_EPOCHS
        measured = f"test-loss slope from epoch {after}: {_slope_text(iv)} nats/epoch (t-interval over {subject.n} seeds)"
        rule += "; over seeds: the t-interval of the per-seed slopes"
    verdict = decide(low, high, 0.0, ABOVE)
    explanation = ""
    if verdict == REFUTED:
        explanation = (f"the test loss keeps falling after epoch {after}: slope {_slope_text(slope)} nats/epoch, "
                       f"wholly below 0")
        if subject.single and math.isfinite(gap.low) and gap.low > 0:
            explanation += (f"; the train–test gap grows ({_slope_text(gap)} nats/epoch), but unseen digits are "
                            f"still fitted better with training")
    elif verdict == INCONCLUSIVE:
        if subject.single and n_points < SLOPE_MIN_EPOCHS:
            explanation = (f"only {n_points} epoch(s) from epoch {after} in {HISTORY_FILE}: a slope interval needs "
                           f"{SLOPE_MIN_EPOCHS}")
        else:
            explanation = f"the slope's interval straddles 0: the test loss is flat within the noise after epoch {after}"
    return Outcome(verdict, measured, rule, explanation, evidence)


def _slope_text(iv) -> str:
    if not math.isfinite(iv.mean):
        return "n/a"
    if iv.has_interval:
        return f"{iv.mean:+.3g} [{iv.low:+.3g}, {iv.high:+.3g}]"
    return f"{iv.mean:+.3g} (no interval)"


# ============================================================================================ bottleneck
def bottleneck_pairs(subject: Subject) -> list[tuple[str, str]]:
    """(smallest-z group, largest-z group) pairs that agree on every other configuration key."""
    settings = subject.group_settings
    dims = sorted({int(s["latent_dim"]) for s in settings.values()})
    if len(dims) < 2:
        return []
    others = lambda s: tuple(str(v) for k, v in sorted(s.items()) if k != "latent_dim")  # noqa: E731
    small = [g for g, s in settings.items() if int(s["latent_dim"]) == dims[0]]
    big = [g for g, s in settings.items() if int(s["latent_dim"]) == dims[-1]]
    return [(a, b) for a in small for b in big if others(settings[a]) == others(settings[b])]


def _seed(run) -> object:
    """The run's training seed (config.json), the key that pairs two configurations' runs; its name without one."""
    seed = (run.config.get("train") or {}).get("seed")
    return seed if seed is not None else run.name


def check_bottleneck(claim: Claim, subject: Subject, settings: dict) -> list[tuple[str, Outcome]]:
    """``bottleneck``: the 95 % interval of the difference (largest z − smallest z) of the test loss (lower is
    better) and the kNN accuracy (higher is better) over seeds -- paired by seed when both configurations ran the
    same seeds, Welch's otherwise -- at the claim's epoch or the last common checkpoint: supported when one metric
    is clearly better with the larger z and neither clearly worse; refuted when one is clearly worse (or no
    better) and none clearly better; else inconclusive."""
    rule = ("bottleneck: the 95 % t-interval of the difference (largest latent_dim − smallest, other settings "
            "equal) of the mean over seeds of test_loss (must lie wholly below 0) and knn_accuracy (wholly above 0), "
            "paired by seed when both configurations ran the same seeds, else Welch's: "
            "supported when at least one does and neither lies wholly on the other side, refuted when one lies "
            "wholly on the other side and neither supports, else inconclusive; needs a sweep with more than one "
            "latent_dim and 2 seeds per configuration")
    if not subject.sweep:
        z = subject.run.latent_dim
        return [("", Outcome(INCONCLUSIVE, f"one run (latent_dim = {z})", rule,
                             f"needs a sweep with more than one latent_dim (e.g. `vaediag sweep --latent-dim 2,16 "
                             f"--seeds 0,1,2`); this is one run with latent_dim = {z}"))]
    pairs = bottleneck_pairs(subject)
    if not pairs:
        dims = sorted({int(s["latent_dim"]) for s in subject.group_settings.values()})
        return [("", Outcome(INCONCLUSIVE, f"latent_dim in this sweep: {', '.join(map(str, dims))}", rule,
                             "needs a sweep with more than one latent_dim (configurations that differ only in "
                             "latent_dim); this sweep has " + (f"only latent_dim = {dims[0]}" if len(dims) == 1
                                                                else "no such pair")))]
    out = []
    for small, big in pairs:
        runs_a, runs_b = subject.all_groups[small], subject.all_groups[big]
        common = sorted(set.intersection(*(set(r.epochs) for r in runs_a + runs_b)))
        epoch = claim.get("epoch") or (common[-1] if common else None)
        answers, parts, evidence, notes = [], [], [], []
        za, zb = subject.group_settings[small]["latent_dim"], subject.group_settings[big]["latent_dim"]
        for column, side, words in BOTTLENECK_METRICS:
            va = [r.value(column, epoch) for r in runs_a]
            vb = [r.value(column, epoch) for r in runs_b]
            test = R.difference_test({_seed(r): v for r, v in zip(runs_a, va)},
                                     {_seed(r): v for r, v in zip(runs_b, vb)})
            iv = test.interval()
            how = "paired-by-seed" if test.method == "paired" else "Welch"
            evidence += [cell(METRICS_FILE, r.name, column, epoch, None, v) for r, v in zip(runs_a + runs_b, va + vb)]
            evidence.append(cell(DERIVED, "", f"{how} difference of means over seeds of metrics.csv {column}, "
                                              f"z={zb} − z={za}", epoch, None, iv.mean, ci_low=iv.low, ci_high=iv.high))
            answer = decide(iv.low, iv.high, 0.0, side)
            answers.append(answer)
            parts.append(f"{words} z={zb} − z={za}: {with_ci(column, iv.mean, iv.low, iv.high)} (means "
                         f"{num(column, float(np.nanmean(vb)))} vs {num(column, float(np.nanmean(va)))}, "
                         f"{len(runs_b)} and {len(runs_a)} seeds)")
            if answer == REFUTED:
                notes.append(f"the larger z is not better on {words} (difference {num(column, iv.mean)})")
            elif answer == INCONCLUSIVE:
                notes.append(f"the {words} difference's interval straddles 0" if iv.has_interval else
                             f"no interval for the {words} difference (each side needs 2 seeds with a spread)")
        verdict = (SUPPORTED if SUPPORTED in answers and REFUTED not in answers else
                   REFUTED if REFUTED in answers and SUPPORTED not in answers else INCONCLUSIVE)
        measured = f"epoch {epoch}: " + "; ".join(parts)
        explanation = "" if verdict == SUPPORTED else "; ".join(notes)
        out.append((f"{small} vs {big}", Outcome(verdict, measured, rule, explanation, evidence)))
    return out


HANDLERS = {OVERFITTING: check_overfitting, BOTTLENECK: check_bottleneck}
