"""Which decisions the sweep report makes, as one :class:`~vaediag.judgement.family.Family`.

Per configuration, for each metric of the questions (:data:`QUESTIONS`): each step of its trajectory between
consecutive checkpoints and, with more than one step, the change from the first to the last checkpoint -- each
the paired t-test of the per-seed change. Per pair of configurations that differ in one of ``COMPARED_KEYS``:
each metric of :data:`COMPARISON_CLAIMS` at their last common checkpoint -- paired by seed when both ran the same
seeds, Welch's test otherwise (:func:`difference_test`). :func:`decision_family` collects all of them, so the
report can correct for their number (Benjamini–Hochberg) before it writes any sentence.
"""

from __future__ import annotations

from itertools import combinations

import numpy as np
import pandas as pd

from vaediag import columns as C
from vaediag.compare import BETA, GROUP, GROUP_KEYS, LATENT_DIM, MODEL, SEED
from vaediag.judgement import replicates as R
from vaediag.judgement.family import Family
from vaediag.judgement.rules import TRAIN_LENGTH_EPOCH
from vaediag.stats import ABOVE, BELOW

QUESTIONS = {  # section -> (metric, its name in words, direction: ABOVE = higher is better, BELOW = lower)
    "q1": [(C.SILHOUETTE, "Silhouette of the test codes by digit", ABOVE),
           (C.KNN_ACCURACY, "kNN accuracy in latent space", ABOVE)],
    "q2": [(C.PRIOR + C.ENTROPY_NORM, "Normalised class entropy of prior samples", ABOVE),
           (C.PRIOR + C.UNREADABLE_SHARE, "Share of prior samples the classifier cannot read", BELOW),
           (C.FRECHET, "Fréchet distance to real digits", BELOW),
           (C.RECON_ACCURACY, "Classifier accuracy on reconstructions", ABOVE)],
    "q3": [(C.TEST_LOSS, "Test loss (nats)", BELOW),
           (R.LOSS_GAP, "Gap test loss − train loss in eval mode (nats)", BELOW),
           (C.IWAE_NLL, "IWAE NLL bound on test digits (nats)", BELOW),
           (C.IWAE_TRAIN_NLL, "IWAE NLL bound on the train subset (nats)", BELOW)],
}
ANSWER_CHANGES = (C.TEST_LOSS, R.LOSS_GAP)  # Q3's one-line answers decide their change (training_length_epochs)
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


def seed_values(df: pd.DataFrame, group: str, epoch: int, metric: str) -> pd.Series:
    """The metric per seed of ``group`` at ``epoch`` (index: seed)."""
    flat = df.reset_index()
    at = flat[(flat[GROUP] == group) & (flat[C.EPOCH] == epoch)]
    return pd.to_numeric(at.set_index(SEED)[metric], errors="coerce") if metric in at.columns else pd.Series(
        dtype=float)


def paired_change_test(df: pd.DataFrame, group: str, metric: str, e0: int, e1: int):
    """The paired t-test of ``group``'s change of ``metric`` from epoch ``e0`` to ``e1`` (seeds with both values)."""
    before, after = seed_values(df, group, e0, metric), seed_values(df, group, e1, metric)
    seeds = before.index.intersection(after.index)
    return R.paired_test(before.loc[seeds].to_numpy(float), after.loc[seeds].to_numpy(float))


def trajectory_epochs(summary: pd.DataFrame, group: str, metric: str) -> pd.DataFrame:
    """The summary rows of ``group``'s ``metric`` with a mean, by epoch."""
    rows = summary[(summary[GROUP] == group) & (summary[R.METRIC] == metric)].sort_values(C.EPOCH)
    return rows[np.isfinite(rows[R.MEAN].astype(float))]


def change_key(group: str, metric: str, first: int, last: int, n_epochs: int) -> tuple:
    """The first-to-last change is its own decision only with more than one step (else it is the step)."""
    return ("change" if n_epochs > 2 else "step", group, metric, first, last)


def add_trajectory(family: Family, df: pd.DataFrame, summary: pd.DataFrame, group: str, metric: str,
                   section: str) -> None:
    """Each step of ``metric``'s trajectory in ``group`` and, with more than one step, its first-to-last change."""
    epochs = [int(e) for e in trajectory_epochs(summary, group, metric)[C.EPOCH]]
    for e0, e1 in zip(epochs, epochs[1:]):
        family.add(("step", group, metric, e0, e1), paired_change_test(df, group, metric, e0, e1), section)
    if len(epochs) > 2:
        family.add(change_key(group, metric, epochs[0], epochs[-1], len(epochs)),
                   paired_change_test(df, group, metric, epochs[0], epochs[-1]), section)


def _order(key: str, a, b) -> bool:
    """Whether ``b`` is the side the claim favours (larger z, larger β, the later of MODEL_ORDER)."""
    if key == MODEL:
        rank = {m: i for i, m in enumerate(MODEL_ORDER)}
        return (rank.get(b, len(rank)), str(b)) > (rank.get(a, len(rank)), str(a))
    return float(b) > float(a)


def pairs(df: pd.DataFrame):
    """Every pair of configurations that differ in exactly one of ``COMPARED_KEYS`` (all other group keys equal),
    ordered (worse, better) as the claim has it, with the key and their last common checkpoint epoch."""
    flat = df.reset_index()
    configs = {g: flat[flat[GROUP] == g] for g in dict.fromkeys(flat[GROUP])}
    for ga, gb in combinations(configs, 2):
        a, b = configs[ga], configs[gb]
        differ = [k for k in GROUP_KEYS if str(a[k].iloc[0]) != str(b[k].iloc[0])]
        if len(differ) != 1 or differ[0] not in COMPARED_KEYS:
            continue
        key = differ[0]
        if not _order(key, a[key].iloc[0], b[key].iloc[0]):
            (ga, a), (gb, b) = (gb, b), (ga, a)
        common = sorted(set(a[C.EPOCH]) & set(b[C.EPOCH]))
        if common:
            yield key, (ga, a), (gb, b), int(common[-1])


def difference_test(va: pd.Series, vb: pd.Series):
    """The test of mean(``vb``) − mean(``va``) (index: seed): paired by seed when both sides ran the same seeds,
    Welch's otherwise (:func:`vaediag.judgement.replicates.difference_test`)."""
    return R.difference_test(va.to_dict(), vb.to_dict())


def training_length_epochs(epochs: list[int]) -> tuple[int, int] | None:
    """The two checkpoints of Q3's one-line answers: the last at or before ``TRAIN_LENGTH_EPOCH`` and the last
    one; None when there is no checkpoint on one side."""
    before = [e for e in epochs if e <= TRAIN_LENGTH_EPOCH]
    return (before[-1], epochs[-1]) if before and epochs[-1] > TRAIN_LENGTH_EPOCH else None


def answer_key(family: Family, group: str, metric: str, start: int, last: int) -> tuple:
    """The family's key of the change of ``metric`` from ``start`` to ``last`` that a one-line answer decides: the
    trajectory's step or first-to-last change where it is one of those (one decision, not two), else its own."""
    for key in (("step", group, metric, start, last), ("change", group, metric, start, last)):
        if key in family.tests:
            return key
    return ("answer", group, metric, start, last)


def decision_family(df: pd.DataFrame, summary: pd.DataFrame) -> Family:
    """Every decision of the sweep report in one :class:`Family`: per configuration each trajectory step and
    first-to-last change of the questions' metrics (sections "Q1", "Q2", "Q3") and the two changes Q3's one-line
    answers decide (:func:`training_length_epochs`; section "Q3"), per compared pair each metric of
    ``COMPARISON_CLAIMS`` ("comparisons")."""
    family = Family()
    flat = df.reset_index()
    for group in dict.fromkeys(flat[GROUP]):
        g = flat[flat[GROUP] == group]
        for sid, items in QUESTIONS.items():
            for metric, _, _ in items:
                if metric in g.columns:
                    add_trajectory(family, df, summary, group, metric, sid.upper())
        ends = training_length_epochs(sorted(int(e) for e in g[C.EPOCH].unique()))
        for metric in ANSWER_CHANGES if ends else ():
            if metric in g.columns:
                key = answer_key(family, group, metric, *ends)
                if key not in family.tests:
                    family.add(key, paired_change_test(df, group, metric, *ends), "Q3")
    for _, (ga, _a), (gb, _b), epoch in pairs(df):
        for metric, _, _ in COMPARISON_CLAIMS:
            if metric in flat.columns:
                va, vb = seed_values(df, ga, epoch, metric), seed_values(df, gb, epoch, metric)
                if np.isfinite(va).any() and np.isfinite(vb).any():
                    family.add(("compare", gb, ga, metric, epoch), difference_test(va, vb), "comparisons")
    return family
