"""What the sweep report says, as plain data: per configuration the Q1–Q3 trajectories as mean ± 95 % CI over
seeds, in how many seeds each digit is missing and each collapse verdict holds; across configurations, the
three-way answer to "the larger z (β, the other model) does better" from the interval of the difference, paired by
seed when both configurations ran the same seeds (same data subsets and random draws), Welch's otherwise.

Every change and difference the report decides is one decision of one :class:`~vaediag.judgement.family.Family`
(:func:`decision_family`): Benjamini–Hochberg at a 5 % false discovery rate over all of them, their intervals
printed at the matching level. Every number a sentence quotes is a :class:`Quote`: a cell of the sweep's
summary.csv (``stat`` "mean", "half" = ci_high − mean, or "low" / "high" = ci_low / ci_high where the interval was
clipped to the metric's range) or a derived interval whose ``source`` says how it was computed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import numpy as np
import pandas as pd

from vaediag import columns as C
from vaediag.judgement import replicates as R
from vaediag.compare import BETA, GROUP, GROUP_KEYS, LATENT_DIM, RUN_DIR, SEED
from vaediag.datasets.classes import MNIST_CLASSES, ClassNames
from vaediag.judgement.run_verdict import run_verdict
from vaediag.store.rundir import Run
from vaediag.stats import INCONCLUSIVE, decide

from .findings import Sentence, Tag, const_tag, count_tag, digit_tag, epoch_tag
from vaediag.judgement.family import Family
from .sweep_decisions import (COMPARISON_CLAIMS, QUESTIONS, SECTION_TITLES, SWEEP_METRICS,  # noqa: F401
                              add_trajectory, decision_family, difference_test, pairs, trajectory_epochs)
from vaediag.judgement.formats import format_number
from .wording import reword_sentence
from vaediag.judgement.rules import MISSING_SHARE

SUMMARY_SOURCE = "summary.csv"
PAIRED_SOURCE = "paired t-interval of the per-seed change (per-run metrics.csv), at the report's decision level"
PAIRED_DIFF_SOURCE = ("paired t-interval of the per-seed difference between configurations (per-run metrics.csv), "
                      "at the report's decision level")
WELCH_SOURCE = ("Welch t-interval of the difference of means over seeds (per-run metrics.csv), at the report's "
                "decision level")
METRIC_NAMES = {m: words for items in QUESTIONS.values() for m, words, _ in items}
DIFF_STATS = ("diff", "change", "step")  # signed: "+" before a positive value


# ============================================================================================ plain data
@dataclass(frozen=True)
class Quote:
    """A quoted number: ``metric`` of configuration ``group`` at ``epoch``; ``stat`` "mean" or "half" (a cell
    of summary.csv, half = ci_high − mean), or "change"/"change_low"/"change_high", "diff"/"diff_low"/
    "diff_high" (derived, ``source`` says how)."""

    group: str
    epoch: int
    metric: str
    stat: str
    value: float
    source: str = SUMMARY_SOURCE

    @property
    def text(self) -> str:
        text = format_number(self.metric, self.value)
        return ("+" + text) if self.stat in DIFF_STATS and self.value > 0 else text

    @property
    def title(self) -> str:
        return f"{self.source}: {self.group}, epoch {self.epoch}, {self.metric}, {self.stat} = {self.value:.6g}"


Part = Union[str, Quote, Tag]


@dataclass
class ConfigSection:
    """One configuration of the sweep: its settings, seeds, runs (name, link to its report.html or None) and
    the sentences of each question (``SECTION_TITLES``); the per-epoch table of missing digits / verdicts."""

    group: str
    settings: dict
    seeds: str
    n_seeds: int
    runs: list[tuple[str, str | None]]
    sections: dict[str, list[list[Part]]] = field(default_factory=dict)
    missing_header: list[str] = field(default_factory=list)
    missing_rows: list[list[str]] = field(default_factory=list)


@dataclass(frozen=True)
class Comparison:
    """A claim "``better`` does better than ``worse`` on ``metric``" and its three-way ``answer``."""

    better: str
    worse: str
    metric: str
    answer: str
    parts: list[Part]


# ============================================================================================ trajectories
UP, DOWN, LEVEL = "rises", "falls", "level"
STEP_WORDS = {UP: "rises", DOWN: "falls", LEVEL: "stays level (within the seed-to-seed noise)"}


def trajectory_words(epochs: list[int], steps: list[str]) -> str:
    """The whole trajectory in words from the direction of each step between consecutive checkpoints
    (``steps[i]``: ``epochs[i]`` -> ``epochs[i + 1]``, one of UP / DOWN / LEVEL): "rises at each checkpoint",
    "falls at each checkpoint", "stays level (…) at each checkpoint", else each run of equal steps named with
    the epoch it ends at, e.g. "rises to epoch 30, then falls to epoch 100"; "" without steps."""
    if not steps:
        return ""
    if len(set(steps)) == 1:
        return f"{STEP_WORDS[steps[0]]} at each checkpoint"
    runs: list[tuple[str, int]] = []
    for step, epoch in zip(steps, epochs[1:]):
        if runs and runs[-1][0] == step:
            runs[-1] = (step, epoch)
        else:
            runs.append((step, epoch))
    return ", then ".join(f"{STEP_WORDS[step]} to epoch {epoch}" for step, epoch in runs)


def step_direction(before: pd.Series, after: pd.Series) -> str | None:
    """UP / DOWN / LEVEL from the 95 % paired t-interval of the per-seed change (index: seed), one decision on its
    own; None without an interval (fewer than 2 seeds, or every seed changing by the same amount)."""
    seeds = before.index.intersection(after.index)
    iv = R.paired_change(before.loc[seeds].to_numpy(float), after.loc[seeds].to_numpy(float))
    if not iv.has_interval:
        return None
    return _direction(iv)


def _direction(iv) -> str:
    """UP when the interval lies wholly above 0, DOWN wholly below, else LEVEL."""
    return UP if iv.low > 0 else DOWN if iv.high < 0 else LEVEL


def _mean_ci(summary: pd.DataFrame, group: str, epoch: int, metric: str) -> list[Part] | None:
    """"m ± h" (the 95 % interval), "m (95 % CI lo to hi)" when the interval was clipped to the metric's range,
    "m (all n seeds equal: no noise estimate)" when the seeds agree exactly; "m" for one seed."""
    row = R.lookup(summary, group, epoch, metric)
    if row is None or not math.isfinite(row[R.MEAN]):
        return None
    q = lambda stat, v: Quote(group, epoch, metric, stat, float(v))  # noqa: E731
    mean, low, high = float(row[R.MEAN]), float(row[R.CI_LOW]), float(row[R.CI_HIGH])
    parts: list[Part] = [q("mean", mean)]
    if not (math.isfinite(low) and math.isfinite(high)):
        return parts
    if high == low:
        return parts + [f" (all {int(row[R.N])} seeds equal: no noise estimate)"]
    if not math.isclose(high - mean, mean - low, rel_tol=1e-9, abs_tol=1e-12):  # clipped at the metric's range
        return parts + [" (95 % CI ", q("low", low), " to ", q("high", high), ")"]
    return parts + [" ± ", q("half", high - mean)]


def trajectory_sentence(summary: pd.DataFrame, df: pd.DataFrame, group: str, metric: str, words: str,
                        side: str, *, family: Family | None = None) -> list[Part] | None:
    """"<words>: a ± h at epoch 5, b ± h at epoch 30, … (mean ± 95 % CI over n seeds); it <shape>; from epoch
    5 to 30 it <rises / falls / does not change beyond the seed-to-seed noise> (change c, CI lo to hi, paired over
    seeds)." Each step and the first-to-last change is a decision of ``family`` (default: a family of this
    sentence's decisions alone). None when no epoch has a value."""
    rows = trajectory_epochs(summary, group, metric)
    if rows.empty:
        return None
    if family is None:
        family = Family()
        add_trajectory(family, df, summary, group, metric, "trajectory")
    epochs = [int(e) for e in rows[C.EPOCH]]
    parts: list[Part] = [words + ": "]
    for i, epoch in enumerate(epochs):
        parts += ([", "] if i else []) + _mean_ci(summary, group, epoch, metric) + [" at ", epoch_tag(epoch)]
    n = int(rows[R.N].max())
    parts += [" (mean ± 95 % CI over ", count_tag(n), " seeds)" if n > 1 else " seed, no interval)"]
    keys = [("step", group, metric, e0, e1) for e0, e1 in zip(epochs, epochs[1:])]
    testable = [family.tests[k].testable for k in keys]
    if keys and all(testable):
        steps = [_direction(family.interval(k)) for k in keys]
        parts += ["; it ", trajectory_words(epochs, steps)]
    elif keys and n > 1:  # seeds that agree exactly at some step: no noise estimate there
        parts += ["; at ", count_tag(testable.count(False)), " of its steps every seed changes by the same amount "
                  "(no noise estimate: no step is called a rise or a fall)"]
    elif keys:  # one seed: the direction of the values only
        means = np.asarray(rows[R.MEAN], dtype=float)
        signs = [UP if d > 0 else DOWN if d < 0 else LEVEL for d in np.diff(means)]
        parts += ["; its values ", trajectory_words(epochs, signs).replace(STEP_WORDS[LEVEL], "stay equal"),
                  " (one seed: no noise estimate)"]
    if len(epochs) > 1:
        parts += _change_parts(family, group, metric, epochs[0], epochs[-1])
    return parts + ["."]


def _change_parts(family: Family, group: str, metric: str, first: int, last: int) -> list[Part]:
    key = next(k for k in (("change", group, metric, first, last), ("step", group, metric, first, last))
               if k in family.tests)
    test = family.tests[key]
    if test.n < 2:
        return [f"; the change from epoch {first} to {last} needs two seeds to be told from noise"]
    if not test.testable:
        return [f"; from epoch {first} to {last} every seed changes by the same amount (no noise estimate: not "
                f"called a change)"]
    iv = family.interval(key)
    words = {UP: "rises", DOWN: "falls"}.get(_direction(iv), "does not change beyond the seed-to-seed noise")
    q = lambda stat, v: Quote(group, last, metric, stat, float(v), PAIRED_SOURCE)  # noqa: E731
    return [f"; from epoch {first} to {last} it ", const_tag(words), " (change ", q("change", iv.mean),
            f", {family.level_text} CI ", q("change_low", iv.low), " to ", q("change_high", iv.high),
            ", paired over seeds)"]


# ============================================================================================ digits, verdicts
def missing_digits(run: Run, epoch: int) -> tuple[int, ...]:
    """Digits missing from a run's prior samples at ``epoch``: the upper bound of the Wilson interval of the
    share (per_class ``prior_share_ci_high``) below ``MISSING_SHARE``; the share itself when the run has no
    interval column."""
    pc = run.per_class
    rows = pc[(pc[C.SOURCE] == C.SOURCE_MODEL) & (pc[C.EPOCH] == epoch)]
    column = C.CLASS_PRIOR_SHARE + C.CI_HIGH
    column = column if column in rows.columns and rows[column].notna().any() else C.CLASS_PRIOR_SHARE
    values = pd.to_numeric(rows.set_index(C.CLASS)[column], errors="coerce")
    return tuple(int(d) for d, v in values.items() if math.isfinite(v) and v < MISSING_SHARE)


def run_verdict_kind(run: Run, epoch: int) -> str:
    """The run report's own collapse verdict at ``epoch`` (:func:`vaediag.judgement.run_verdict.run_verdict`)."""
    return run_verdict(run, epoch).kind


def digit_and_verdict_counts(runs: list[Run], epochs: list[int]) -> tuple[dict, dict]:
    """Per epoch: {digit: seeds in which it is missing}, and {verdict kind: seeds}."""
    missing, verdicts = {}, {}
    for epoch in epochs:
        present = [r for r in runs if epoch in r.epochs]
        missing[epoch] = {d: sum(d in missing_digits(r, epoch) for r in present) for d in range(C.N_CLASSES)}
        kinds = [run_verdict_kind(r, epoch) for r in present]
        verdicts[epoch] = {k: kinds.count(k) for k in dict.fromkeys(kinds)}
    return missing, verdicts


def _digit_sentence(epoch: int, n: int, missing: dict[int, int], verdicts: dict[str, int]) -> list[Part]:
    found = [(d, k) for d, k in missing.items() if k]
    if found:
        parts: list[Part] = ["At ", epoch_tag(epoch), " missing from prior samples (upper 95 % bound of the share "
                             f"below {format_number(C.CLASS_PRIOR_SHARE, MISSING_SHARE)}): "]
        for i, (d, k) in enumerate(found):
            parts += ([", "] if i else []) + ["digit ", digit_tag(d), " in ", count_tag(k), f" of {n} seeds"]
    else:
        parts = ["At ", epoch_tag(epoch), f" no digit is missing from prior samples in any of the {n} seeds"]
    parts += ["; the run reports' collapse verdict: "]
    for i, (kind, k) in enumerate(verdicts.items()):
        parts += ([", "] if i else []) + [const_tag(kind), " in ", count_tag(k)]
    return parts + [f" of {n} seeds."]


# ============================================================================================ per configuration
def config_sections(df: pd.DataFrame, summary: pd.DataFrame, link, classes: ClassNames = MNIST_CLASSES, *,
                    family: Family | None = None) -> list[ConfigSection]:
    """One :class:`ConfigSection` per group of ``df`` (a compare_runs table with the derived columns);
    ``link(run_dir) -> str | None`` gives the relative link to a run's report; sentences and the table header
    name the classes of ``classes`` (the sweep's dataset). ``family``: the report's decisions
    (:func:`decision_family`; default: those of ``df`` and ``summary``)."""
    family = family if family is not None else decision_family(df, summary)
    flat = df.reset_index()
    out = []
    for group in dict.fromkeys(flat[GROUP]):
        g = flat[flat[GROUP] == group]
        dirs = list(dict.fromkeys(g[RUN_DIR]))
        runs = [Run(d) for d in dirs]
        epochs = sorted(int(e) for e in g[C.EPOCH].unique())
        sections = {}
        for sid, items in QUESTIONS.items():
            sections[sid] = [s for m, words, side in items if m in g.columns
                             for s in [trajectory_sentence(summary, df, group, m, words, side, family=family)] if s]
        missing, verdicts = digit_and_verdict_counts(runs, epochs)
        sections["q2"].append(_digit_sentence(epochs[-1], len(runs), missing[epochs[-1]], verdicts[epochs[-1]]))
        sections = {sid: [reword_sentence(Sentence(parts), classes).parts for parts in items]
                    for sid, items in sections.items()}
        header = [C.EPOCH] + [classes.label(d) for d in range(C.N_CLASSES)] + ["collapse verdicts"]
        rows = [[str(e)] + [f"{missing[e][d]}/{len(runs)}" for d in range(C.N_CLASSES)]
                + [", ".join(f"{k} {n}" for k, n in verdicts[e].items())] for e in epochs]
        seeds = R._seed_text(g[SEED])
        out.append(ConfigSection(group, {k: g[k].iloc[0] for k in GROUP_KEYS}, seeds, len(dirs),
                                 [(Path(d).name, link(d)) for d in dirs], sections, header, rows))
    return out


# ============================================================================================ across configurations
def _value_text(key: str, value) -> str:
    if key == LATENT_DIM:
        return f"z={value}"
    if key == BETA:
        return f"β={float(value):g}"
    return str(value)


def comparisons(df: pd.DataFrame, summary: pd.DataFrame, family: Family | None = None) -> list[Comparison]:
    """Every pair of configurations that differ in exactly one of ``COMPARED_KEYS`` (all other group keys
    equal): for each metric of ``COMPARISON_CLAIMS`` at their last common checkpoint, the claim "the larger z
    (β; the later model of ``MODEL_ORDER``) does better" answered from the interval of the difference
    (:func:`difference_test`, at the level of ``family``, the report's decisions): supported when it lies wholly
    on the better side of 0, refuted when wholly on the other side, inconclusive when it straddles 0 or there is
    no interval (a side with fewer than 2 seeds, or no spread)."""
    family = family if family is not None else decision_family(df, summary)
    out = []
    for key, (ga, a), (gb, b), epoch in pairs(df):
        for metric, side, claim in COMPARISON_CLAIMS:
            if ("compare", gb, ga, metric, epoch) not in family.tests:
                continue
            test = family.tests[("compare", gb, ga, metric, epoch)]
            iv = family.interval(("compare", gb, ga, metric, epoch))
            answer = decide(iv.low, iv.high, 0.0, side)
            out.append(Comparison(gb, ga, metric, answer,
                                  _comparison_parts(summary, key, (ga, a), (gb, b), epoch=epoch, metric=metric,
                                                    claim=claim, iv=iv, answer=answer, test=test,
                                                    level=family.level_text)))
    return out


def _comparison_parts(summary, key, worse, better, *, epoch, metric, claim, iv, answer, test, level) -> list[Part]:
    (ga, a), (gb, b) = worse, better
    name = METRIC_NAMES.get(metric, metric)
    parts: list[Part] = [f"{_value_text(key, b[key].iloc[0])} {claim} than {_value_text(key, a[key].iloc[0])} "
                         f"({name}, ", epoch_tag(epoch), "): ", Tag(f"answer answer-{answer}", answer), " — "]
    parts += (_mean_ci(summary, gb, epoch, metric) or ["–"]) + [" vs "] + (_mean_ci(summary, ga, epoch, metric) or ["–"])
    source = PAIRED_DIFF_SOURCE if test.method == "paired" else WELCH_SOURCE
    q = lambda stat, v: Quote(gb, epoch, metric, stat, float(v), source)  # noqa: E731
    parts += ["; difference ", q("diff", iv.mean)]
    how = ("paired by seed: both ran the same seeds" if test.method == "paired"
           else "Welch: the configurations ran different seeds")
    if iv.has_interval:
        parts += [f", {level} CI ", q("diff_low", iv.low), " to ", q("diff_high", iv.high), f" ({how})"]
    elif test.n >= 2 and test.se == 0:
        parts += [" (no interval: every seed gives the same difference, no noise estimate)"]
    else:
        parts += [" (no interval: each side needs at least 2 seeds with a spread)"]
    return parts + ["."]


mean_ci = _mean_ci  # for the one-line answers (.sweep_answers)

__all__ = ["Comparison", "ConfigSection", "Quote", "QUESTIONS", "SECTION_TITLES", "SWEEP_METRICS", "comparisons",
           "config_sections", "decision_family", "difference_test", "missing_digits", "trajectory_words",
           "INCONCLUSIVE"]
