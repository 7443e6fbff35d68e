"""The one-line answers that open each question of a sweep configuration: the same questions as the run report,
answered over seeds.

- Q1 "Separate clusters?": the 95 % Student-t interval of the mean kNN accuracy over seeds at the last checkpoint
  against ``SEPARATED_KNN`` (supported: wholly above).
- Q2 "Diverse?": the interval of the mean normalised class entropy of prior samples against ``COLLAPSE_ENTROPY``
  (supported: wholly above), beside the seeds in which a digit is missing (any such seed: refuted).
- Q3 "Does more training hurt unseen digits?": the paired change of the test loss over seeds from the last
  checkpoint at or before ``TRAIN_LENGTH_EPOCH`` to the last one (supported: wholly above 0, it hurts); "Does the
  train–test gap grow?": the same for the gap, which describes the fit; the first line answers the question. Both
  changes are decisions of the report's family (Benjamini–Hochberg with the trajectories and the comparisons), so
  their intervals are printed at the family's level and the answer agrees with the Q3 section below. Q1 and Q2
  compare a level with a fixed threshold, not a change: single 95 % intervals.

One seed has no interval: every answer is then inconclusive and says so. Numbers are :class:`Quote` s: summary.csv
cells (mean, half-width) or paired changes recomputed from the runs (``stat`` "step", "step_low", "step_high",
their ``source`` naming both epochs).
"""

from __future__ import annotations

import math

import pandas as pd

from vaediag import columns as C
from vaediag.judgement import replicates as R
from vaediag.judgement.family import Family
from vaediag.judgement.rules import COLLAPSE_ENTROPY, SEPARATED_KNN, TRAIN_LENGTH_EPOCH
from vaediag.stats import ABOVE, INCONCLUSIVE, REFUTED, SUPPORTED, decide

from .answers import Answer
from .findings import Sentence, const_tag, count_tag, epoch_tag
from .sweep_content import PAIRED_SOURCE, Part, Quote, mean_ci
from .sweep_decisions import answer_key, training_length_epochs

STEP_STATS = ("step", "step_low", "step_high")


def _level(summary: pd.DataFrame, group: str, epoch: int, metric: str, *, threshold: float, what: str, words: dict,
           question: str) -> Answer:
    """An answer from the interval of a mean over seeds against ``threshold`` (ABOVE)."""
    row = R.lookup(summary, group, epoch, metric)
    if row is None or not math.isfinite(row[R.MEAN]):
        return Answer(question, INCONCLUSIVE, Sentence([f"{what} was not measured."]))
    answer = decide(float(row[R.CI_LOW]), float(row[R.CI_HIGH]), threshold, ABOVE)
    parts: list[Part] = [f"{what} ", *(mean_ci(summary, group, epoch, metric) or []), " at ", epoch_tag(epoch)]
    n = int(row[R.N])
    if not math.isfinite(row[R.CI_HIGH]):
        return Answer(question, INCONCLUSIVE, Sentence(parts + [" (one seed: no interval, replicate to decide)."]))
    return Answer(question, answer, Sentence(parts + [f" (mean ± 95 % CI over {n} seeds)", *words[answer], "."]))


def separation_answer(summary: pd.DataFrame, group: str, epoch: int) -> Answer:
    threshold = const_tag(f"{100 * SEPARATED_KNN:.1f} %")
    words = {SUPPORTED: [": the interval lies wholly above ", threshold, ", the digits form separate clusters"],
             REFUTED: [": the interval lies wholly at or below ", threshold, ", the digits' codes mix"],
             INCONCLUSIVE: [": the interval straddles ", threshold]}
    return _level(summary, group, epoch, C.KNN_ACCURACY, threshold=SEPARATED_KNN, what="kNN accuracy", words=words,
                  question="Separate clusters?")


def diversity_answer(summary: pd.DataFrame, group: str, epoch: int, missing: dict[int, int], n: int) -> Answer:
    threshold = const_tag(f"{COLLAPSE_ENTROPY:.2f}")
    words = {SUPPORTED: [": the interval lies wholly above ", threshold],
             REFUTED: [": the interval lies wholly at or below ", threshold, ", some digits are drawn far more often"],
             INCONCLUSIVE: [": the interval straddles ", threshold]}
    answer = _level(summary, group, epoch, C.PRIOR + C.ENTROPY_NORM, threshold=COLLAPSE_ENTROPY,
                    what="normalised class entropy of prior samples", words=words, question="Diverse?")
    seeds = max(missing.values(), default=0)
    if not seeds:
        return answer
    parts = answer.sentence.parts[:-1] + ["; in ", count_tag(seeds), f" of {n} seeds prior samples miss a digit "
                                          "(see the table below)."]
    return Answer(answer.question, REFUTED, Sentence(parts))


def _step(family: Family, group: str, metric: str, before: int, after: int) -> tuple[list[Part], str] | None:
    """Parts "change +0.31 (99.2 % CI −0.1 to +0.7, paired over 3 seeds)" of ``metric`` from ``before`` to
    ``after`` -- a decision of the report's ``family``, so its interval is at the family's level -- and the
    answer to "does it rise?"; None without values."""
    key = answer_key(family, group, metric, before, after)
    test = family.tests.get(key)
    if test is None or not test.n:
        return None
    iv = family.interval(key)
    source = f"{PAIRED_SOURCE}, epoch {before} → {after}"
    q = lambda stat, v: Quote(group, after, metric, stat, float(v), source)  # noqa: E731
    parts: list[Part] = ["change from ", epoch_tag(before), " to ", epoch_tag(after), " ", q("step", test.estimate)]
    if test.n < 2:
        return parts + [" (no interval: it needs two seeds)"], INCONCLUSIVE
    if not test.testable:
        return parts + [f" (all {test.n} seeds change by the same amount: no noise estimate)"], INCONCLUSIVE
    parts += [f" ({family.level_text} CI ", q("step_low", iv.low), " to ", q("step_high", iv.high), ", paired over ",
              count_tag(iv.n), " seeds)"]
    return parts, decide(iv.low, iv.high, 0.0, ABOVE)


def training_answers(df: pd.DataFrame, group: str, epochs: list[int], family: Family) -> list[Answer]:
    hurt_q, gap_q = "Does more training hurt unseen digits?", "Does the train–test gap grow?"
    ends = training_length_epochs(epochs)
    if ends is None:
        why = Sentence(["no checkpoint after ", epoch_tag(TRAIN_LENGTH_EPOCH), " to compare with."]) \
            if epochs and epochs[0] <= TRAIN_LENGTH_EPOCH else \
            Sentence(["no checkpoint at or before ", epoch_tag(TRAIN_LENGTH_EPOCH), " to start from."])
        return [Answer(hurt_q, INCONCLUSIVE, why)]
    start, last = ends
    out = []
    for question, metric, words, decides in (
            (hurt_q, C.TEST_LOSS, {SUPPORTED: ": the test loss rises, training longer hurts",
                                   REFUTED: ": the test loss falls or stays, training longer does not hurt",
                                   INCONCLUSIVE: ": no change beyond the seed-to-seed noise"}, True),
            (gap_q, R.LOSS_GAP, {SUPPORTED: ": the gap grows, the training digits are fit increasingly better",
                                 REFUTED: ": the gap does not grow",
                                 INCONCLUSIVE: ": no change beyond the seed-to-seed noise"}, False)):
        found = _step(family, group, metric, start, last) if metric in df.columns else None
        if found is None:
            out.append(Answer(question, INCONCLUSIVE, Sentence(["not measured."]), decides))
            continue
        parts, answer = found
        tail = [] if decides else ["; the test loss in the first line answers Q3"]
        out.append(Answer(question, answer, Sentence(parts + [words[answer], *tail, "."]), decides))
    return out


def config_answers(df: pd.DataFrame, summary: pd.DataFrame, group: str, epochs: list[int], missing: dict[int, int],
                   n_runs: int, *, family: Family) -> dict[str, list[Answer]]:
    """Question id -> the answer lines of one configuration (at its last checkpoint); Q3's changes are decisions
    of the report's ``family`` (:func:`~.sweep_decisions.decision_family`)."""
    last = epochs[-1]
    return {"q1": [separation_answer(summary, group, last)],
            "q2": [diversity_answer(summary, group, last, missing, n_runs)],
            "q3": training_answers(df, group, epochs, family)}
