"""The answers to the report's questions, decided on intervals like every other rule.

- Q1 :func:`separation_check`: do the digits form separate clusters? The kNN accuracy's interval against
  ``SEPARATED_KNN`` (supported: wholly above).
- Q2 :func:`diversity_answer`: are the generated digits diverse? The collapse verdict's reading: every digit
  drawn and the entropy interval wholly at or above the threshold (supported), a collapse or an imbalance
  (refuted), else inconclusive.
- Q3 uses the test-loss and gap trends (:func:`vaediag.report.questions.loss_trend`): their answers are the
  answers of "does more training hurt unseen digits?" and "does the gap grow?".
"""

from __future__ import annotations

import math

from vaediag import columns as C
from vaediag.judgement.intervals import knn_accuracy_ci
from vaediag.judgement.rules import SEPARATED_KNN, Check
from vaediag.judgement.verdict import (VERDICT_HEALTHY, VERDICT_IMBALANCE, VERDICT_MODE_COLLAPSE,
                                       VERDICT_POSTERIOR_COLLAPSE, VERDICT_RESOLUTION, VERDICT_WINDOW, Verdict)
from vaediag.stats import ABOVE, INCONCLUSIVE, REFUTED, SUPPORTED
from vaediag.store.rundir import Run

CHECK_SEPARATED = "kNN accuracy above threshold"
DIVERSE_KINDS = (VERDICT_HEALTHY, VERDICT_WINDOW, VERDICT_RESOLUTION)  # every digit drawn, entropy not low
NOT_DIVERSE_KINDS = (VERDICT_POSTERIOR_COLLAPSE, VERDICT_MODE_COLLAPSE, VERDICT_IMBALANCE)


def separation_check(run: Run, epoch: int) -> Check | None:
    """Q1: is the kNN accuracy at ``epoch`` above ``SEPARATED_KNN``? None when it was not measured."""
    value = run.value(C.KNN_ACCURACY, epoch)
    if not math.isfinite(value):
        return None
    low, high = knn_accuracy_ci(run, epoch)
    return Check(CHECK_SEPARATED, value, low, high, SEPARATED_KNN, ABOVE,
                 "bootstrap over the test codes (Wilson for runs without the interval columns)", epoch)


def diversity_answer(verdict: Verdict) -> str:
    """Q2: supported / refuted / inconclusive from the collapse verdict of the last checkpoint."""
    if verdict.kind in DIVERSE_KINDS:
        return SUPPORTED
    if verdict.kind in NOT_DIVERSE_KINDS:
        return REFUTED
    return INCONCLUSIVE
