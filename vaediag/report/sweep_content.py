"""What the sweep report says, as plain data: per configuration the Q1–Q3 trajectories as mean ± 95 % CI over
seeds, in how many seeds each digit is missing and each collapse verdict holds; across configurations, the
three-way answer to "the larger z (β, the other model) does better" from Welch's interval of the difference.

Every number a sentence quotes is a :class:`Quote`: a cell of the sweep's summary.csv (``stat`` "mean", or
"half" = ci_high − mean, the half-width of the 95 % interval) or a derived interval whose ``source`` says how
it was computed (a paired t-interval of the per-seed change, Welch's interval of a difference).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path
from typing import Union

import numpy as np
import pandas as pd

from vaediag import columns as C
from vaediag.judgement import replicates as R
from vaediag.compare import BETA, GROUP, GROUP_KEYS, LATENT_DIM, MODEL, RUN_DIR, SEED
from vaediag.datasets.classes import MNIST_CLASSES, ClassNames
from vaediag.judgement.verdict import run_verdict
from vaediag.store.rundir import Run
from vaediag.stats import ABOVE, BELOW, INCONCLUSIVE, decide

from .findings import Sentence, Tag, const_tag, count_tag, digit_tag, epoch_tag
from vaediag.judgement.formats import format_number
from .wording import reword_sentence
from vaediag.judgement.rules import MISSING_SHARE

SUMMARY_SOURCE = "summary.csv"
PAIRED_SOURCE = "paired t-interval of the per-seed change (per-run metrics.csv)"
WELCH_SOURCE = "Welch t-interval of the difference of means over seeds (per-run metrics.csv)"
QUESTIONS = {  # section -> (metric, its name in words, direction: ABOVE = higher is better, BELOW = lower)
    "q1": [(C.SILHOUETTE, "Silhouette of the test codes by digit", ABOVE),
           (C.KNN_ACCURACY, "kNN accuracy in latent space", ABOVE)],
    "q2": [(C.PRIOR + C.ENTROPY_NORM, "Normalised class entropy of prior samples", ABOVE),
           (C.FRECHET, "Fréchet distance to real digits", BELOW),
           (C.RECON_ACCURACY, "Classifier accuracy on reconstructions", ABOVE)],
    "q3": [(C.TEST_LOSS, "Test loss (nats)", BELOW),
           (R.LOSS_GAP, "Gap test loss − train loss in eval mode (nats)", BELOW),
           (C.IWAE_NLL, "IWAE NLL bound on test digits (nats)", BELOW),
           (C.IWAE_TRAIN_NLL, "IWAE NLL bound on the train subset (nats)", BELOW)],
}
SECTION_TITLES = {"q1": "Q1 — Do the digits form separate clusters?", "q2": "Q2 — Are the generated digits good "
                  "and diverse?", "q3": "Q3 — Does training longer help?"}
SWEEP_METRICS = tuple(m for items in QUESTIONS.values() for m, _, _ in items)
COMPARISON_CLAIMS = (  # metric, direction, the claim's words ("<B> ... than <A>")
    (C.KNN_ACCURACY, ABOVE, "separates digits better"),
    (C.SILHOUETTE, ABOVE, "forms better separated clusters"),
    (C.PRIOR + C.ENTROPY_NORM, ABOVE, "draws the digits more evenly"),
    (C.FRECHET, BELOW, "generates digits closer to real ones"),
    (C.RECON_ACCURACY, ABOVE, "keeps digit identity better in reconstructions"),
    (C.TEST_LOSS, BELOW, "fits unseen digits better"),
)
COMPARED_KEYS = (LATENT_DIM, MODEL, BETA)  # configurations differing in exactly one of these are compared
MODEL_ORDER = ("mlp", "conv")  # the claim: the later model does better
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
    """UP / DOWN / LEVEL from the paired t-interval of the per-seed change (index: seed); None without an
    interval (fewer than 2 seeds)."""
    seeds = before.index.intersection(after.index)
    iv = R.paired_change(before.loc[seeds].to_numpy(float), after.loc[seeds].to_numpy(float))
    if not iv.has_interval:
        return None
    return _direction(iv)


def _direction(iv) -> str:
    """UP when the interval lies wholly above 0, DOWN wholly below, else LEVEL."""
    return UP if iv.low > 0 else DOWN if iv.high < 0 else LEVEL


def _mean_ci(summary: pd.DataFrame, group: str, epoch: int, metric: str) -> list[Part] | None:
    row = R.lookup(summary, group, epoch, metric)
    if row is None or not math.isfinite(row[R.MEAN]):
        return None
    parts: list[Part] = [Quote(group, epoch, metric, "mean", float(row[R.MEAN]))]
    if math.isfinite(row[R.CI_HIGH]):
        parts += [" ± ", Quote(group, epoch, metric, "half", float(row[R.CI_HIGH] - row[R.MEAN]))]
    return parts


def trajectory_sentence(summary: pd.DataFrame, df: pd.DataFrame, group: str, metric: str, words: str,
                        side: str) -> list[Part] | None:
    """"<words>: a ± h at epoch 5, b ± h at epoch 30, … (mean ± 95 % CI over n seeds); it <shape>; from epoch
    5 to 30 it <rises / falls / does not change beyond the seed-to-seed noise> (change c [lo, hi], paired over
    seeds)." None when no epoch has a value."""
    rows = summary[(summary[GROUP] == group) & (summary[R.METRIC] == metric)].sort_values(C.EPOCH)
    rows = rows[np.isfinite(rows[R.MEAN].astype(float))]
    if rows.empty:
        return None
    epochs = [int(e) for e in rows[C.EPOCH]]
    parts: list[Part] = [words + ": "]
    for i, epoch in enumerate(epochs):
        parts += ([", "] if i else []) + _mean_ci(summary, group, epoch, metric) + [" at ", epoch_tag(epoch)]
    n = int(rows[R.N].max())
    parts += [" (mean ± 95 % CI over ", count_tag(n), " seeds)" if n > 1 else " seed, no interval)"]
    steps = [step_direction(_seed_values(df, group, e0, metric), _seed_values(df, group, e1, metric))
             for e0, e1 in zip(epochs, epochs[1:])]
    if steps and None not in steps:
        parts += ["; it ", trajectory_words(epochs, steps)]
    elif steps:  # one seed: the direction of the values only
        means = np.asarray(rows[R.MEAN], dtype=float)
        signs = [UP if d > 0 else DOWN if d < 0 else LEVEL for d in np.diff(means)]
        parts += ["; its values ", trajectory_words(epochs, signs).replace(STEP_WORDS[LEVEL], "stay equal"),
                  " (one seed: no noise estimate)"]
    if len(epochs) > 1:
        parts += _change_parts(df, group, metric, epochs[0], epochs[-1])
    return parts + ["."]


def _seed_values(df: pd.DataFrame, group: str, epoch: int, metric: str) -> pd.Series:
    """The metric per seed of ``group`` at ``epoch`` (index: seed)."""
    flat = df.reset_index()
    at = flat[(flat[GROUP] == group) & (flat[C.EPOCH] == epoch)]
    return pd.to_numeric(at.set_index(SEED)[metric], errors="coerce") if metric in at.columns else pd.Series(
        dtype=float)


def _change_parts(df: pd.DataFrame, group: str, metric: str, first: int, last: int) -> list[Part]:
    before, after = _seed_values(df, group, first, metric), _seed_values(df, group, last, metric)
    seeds = before.index.intersection(after.index)
    iv = R.paired_change(before.loc[seeds].to_numpy(float), after.loc[seeds].to_numpy(float))
    if not iv.has_interval:
        return [f"; the change from epoch {first} to {last} needs two seeds to be told from noise"]
    words = {UP: "rises", DOWN: "falls"}.get(_direction(iv), "does not change beyond the seed-to-seed noise")
    q = lambda stat, v: Quote(group, last, metric, stat, float(v), PAIRED_SOURCE)  # noqa: E731
    return [f"; from epoch {first} to {last} it ", const_tag(words), " (change ", q("change", iv.mean), ", 95 % CI ",
            q("change_low", iv.low), " to ", q("change_high", iv.high), ", paired over seeds)"]


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
    """The run report's own collapse verdict at ``epoch`` (:func:`vaediag.judgement.verdict.run_verdict`)."""
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
def config_sections(df: pd.DataFrame, summary: pd.DataFrame, link,
                    classes: ClassNames = MNIST_CLASSES) -> list[ConfigSection]:
    """One :class:`ConfigSection` per group of ``df`` (a compare_runs table with the derived columns);
    ``link(run_dir) -> str | None`` gives the relative link to a run's report; sentences and the table header
    name the classes of ``classes`` (the sweep's dataset)."""
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
                             for s in [trajectory_sentence(summary, df, group, m, words, side)] if s]
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


def _order(key: str, a, b) -> bool:
    """Whether ``b`` is the side the claim favours (larger z, larger β, the later of MODEL_ORDER)."""
    if key == MODEL:
        rank = {m: i for i, m in enumerate(MODEL_ORDER)}
        return (rank.get(b, len(rank)), str(b)) > (rank.get(a, len(rank)), str(a))
    return float(b) > float(a)


def comparisons(df: pd.DataFrame, summary: pd.DataFrame) -> list[Comparison]:
    """Every pair of configurations that differ in exactly one of ``COMPARED_KEYS`` (all other group keys
    equal): for each metric of ``COMPARISON_CLAIMS`` at their last common checkpoint, the claim "the larger z
    (β; the later model of ``MODEL_ORDER``) does better" answered from Welch's 95 % interval of the difference
    of means over seeds: supported when it lies wholly on the better side of 0, refuted when wholly on the
    other side, inconclusive when it straddles 0 or a side has fewer than 2 seeds."""
    flat = df.reset_index()
    configs = {g: flat[flat[GROUP] == g] for g in dict.fromkeys(flat[GROUP])}
    out = []
    for ga, gb in combinations(configs, 2):
        a, b = configs[ga], configs[gb]
        differ = [k for k in GROUP_KEYS if str(a[k].iloc[0]) != str(b[k].iloc[0])]
        if len(differ) != 1 or differ[0] not in COMPARED_KEYS:
            continue
        key = differ[0]
        if not _order(key, a[key].iloc[0], b[key].iloc[0]):
            (ga, a), (gb, b) = (gb, b), (ga, a)
        common = sorted(set(a[C.EPOCH]) & set(b[C.EPOCH]))
        if not common:
            continue
        epoch = int(common[-1])
        for metric, side, claim in COMPARISON_CLAIMS:
            if metric not in flat.columns:
                continue
            va, vb = _seed_values(df, ga, epoch, metric), _seed_values(df, gb, epoch, metric)
            if not (np.isfinite(va).any() and np.isfinite(vb).any()):
                continue
            iv = R.difference_interval(va.to_numpy(float), vb.to_numpy(float))
            answer = decide(iv.low, iv.high, 0.0, side)
            out.append(Comparison(gb, ga, metric, answer,
                                  _comparison_parts(summary, key, (ga, a), (gb, b), epoch=epoch, metric=metric,
                                                    claim=claim, iv=iv, answer=answer)))
    return out


def _comparison_parts(summary, key, worse, better, *, epoch, metric, claim, iv, answer) -> list[Part]:
    (ga, a), (gb, b) = worse, better
    name = METRIC_NAMES.get(metric, metric)
    parts: list[Part] = [f"{_value_text(key, b[key].iloc[0])} {claim} than {_value_text(key, a[key].iloc[0])} "
                         f"({name}, ", epoch_tag(epoch), "): ", Tag(f"answer answer-{answer}", answer), " — "]
    parts += (_mean_ci(summary, gb, epoch, metric) or ["–"]) + [" vs "] + (_mean_ci(summary, ga, epoch, metric) or ["–"])
    q = lambda stat, v: Quote(gb, epoch, metric, stat, float(v), WELCH_SOURCE)  # noqa: E731
    parts += ["; difference ", q("diff", iv.mean)]
    if iv.has_interval:
        parts += [", 95 % Welch CI ", q("diff_low", iv.low), " to ", q("diff_high", iv.high)]
    else:
        parts += [" (no interval: each side needs at least 2 seeds with a spread)"]
    return parts + ["."]


mean_ci, seed_values = _mean_ci, _seed_values  # for the one-line answers (.sweep_answers)

__all__ = ["Comparison", "ConfigSection", "Quote", "QUESTIONS", "SECTION_TITLES", "SWEEP_METRICS", "comparisons",
           "config_sections", "missing_digits", "trajectory_words", "INCONCLUSIVE"]
