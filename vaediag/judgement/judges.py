"""Two judges of the generated digits, and when a class-share rule may decide: numbers in, answers out.

The *image judge* (the shipped classifier) reads what each decoded prior sample looks like; a sample it cannot read
(top probability below the evaluation's ``unreadable_below``) is counted in no class. The *code judge* reads where
a prior sample lies: the majority class of its k nearest test codes μ(x) (none when it lies off the codes). Each has
a blind spot: the image judge misreads drawings unlike its training digits (a blurry model's digits read as one
class), the code judge extrapolates between the codes (in many latent dimensions most prior samples lie off them,
so it names few and its intervals are wide). A share rule (missing, rare, over-represented, class entropy below a
threshold) is therefore supported or refuted only when both judges' intervals fall on the same side
(:func:`agreed`), and never for a class the image judge cannot read in this model's own reconstructions
(:func:`cannot_read`): that class's answers are inconclusive, with the reason named.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vaediag.judgement.formats import percent
from vaediag.judgement.rules import RECALL_GAP, RECON_READ_MIN, Check
from vaediag.stats import BELOW, INCONCLUSIVE, REFUTED, SUPPORTED, decide

TRUST_TEXT = ("trust the image judge for what the samples look like (crisp, blurry or unreadable: the unreadable "
              "share, confidence, Fréchet distance) and the code judge for which class's region of the latent space "
              "a sample comes from; a finding about class shares stands only where the two agree")
CHECK_RECON = "judge's accuracy on reconstructions below what it needs"


def agreed(*answers: str) -> str:
    """``supported`` when every judge's answer is, ``refuted`` when every one is, else ``inconclusive``."""
    if answers and all(a == SUPPORTED for a in answers):
        return SUPPORTED
    if answers and all(a == REFUTED for a in answers):
        return REFUTED
    return INCONCLUSIVE


def cannot_read(recall_high, knn_recall) -> tuple[int, ...]:
    """The classes the image judge cannot read in this model's reconstructions: the upper end of the Wilson interval
    of its recall on them (``recall_high`` [10]) is below ``RECON_READ_MIN``, or more than ``RECALL_GAP`` below the
    class's latent kNN recall (``knn_recall`` [10]: the code still tells the class apart). NaN / None: not measured,
    not flagged."""
    if recall_high is None:
        return ()
    high = np.asarray(recall_high, dtype=float)
    knn = np.full(high.shape, np.nan) if knn_recall is None else np.asarray(knn_recall, dtype=float)
    flagged = np.isfinite(high) & ((high < RECON_READ_MIN) | (np.isfinite(knn) & (high < knn - RECALL_GAP)))
    return tuple(int(c) for c in np.flatnonzero(flagged))


def recon_threshold(knn_accuracy: float) -> float:
    """The accuracy on reconstructions below which the judge cannot read the model: ``RECON_READ_MIN``, or
    ``RECALL_GAP`` below the latent kNN accuracy when that is higher."""
    return max(RECON_READ_MIN, knn_accuracy - RECALL_GAP) if math.isfinite(knn_accuracy) else RECON_READ_MIN


def recon_check(accuracy: float, low: float, high: float, knn_accuracy: float) -> Check:
    """Is the image judge's accuracy on the model's reconstructions (with its Wilson interval) below
    :func:`recon_threshold`? Supported = the judge cannot read this model: no verdict from its class shares."""
    threshold = recon_threshold(knn_accuracy)
    how = ("Wilson over the test images; threshold " + (f"kNN accuracy {percent(knn_accuracy)} − {RECALL_GAP:g}"
                                                          if threshold > RECON_READ_MIN else percent(RECON_READ_MIN)))
    return Check(CHECK_RECON, accuracy, low, high, threshold, BELOW, how)


@dataclass(frozen=True)
class ClassAnswer:
    """One class's answer to a share rule: each judge's three-way answer, and whether the image judge cannot read
    the class (then the answer is inconclusive whatever the judges say)."""

    image: str
    code: str
    unreadable: bool = False

    @property
    def answer(self) -> str:
        return INCONCLUSIVE if self.unreadable else agreed(self.image, self.code)

    @property
    def reason(self) -> str:
        """Why an inconclusive answer is inconclusive, in words ("" when it is not)."""
        if self.answer != INCONCLUSIVE:
            return ""
        if self.unreadable:
            return "the image judge cannot read this class in the model's reconstructions"
        if INCONCLUSIVE in (self.image, self.code):
            return "a judge's interval straddles the threshold (or it has none)"
        return "the two judges disagree"


def class_answers(image: tuple, code: tuple | None, thresholds, side: str, unreadable=()) -> list[ClassAnswer]:
    """Per class: :func:`vaediag.stats.decide` of the image judge's interval ``image`` = (low[10], high[10]) and of
    the code judge's ``code`` (None: not measured, inconclusive) against ``thresholds`` (a number or [10]) on
    ``side``; ``unreadable``: the classes of :func:`cannot_read`."""
    low, high = (np.asarray(v, dtype=float) for v in image)
    limits = np.broadcast_to(np.asarray(thresholds, dtype=float), low.shape)
    code_low, code_high = (np.full(low.shape, np.nan),) * 2 if code is None else (np.asarray(v, float) for v in code)
    return [ClassAnswer(decide(float(low[c]), float(high[c]), float(limits[c]), side),
                        decide(float(code_low[c]), float(code_high[c]), float(limits[c]), side), c in unreadable)
            for c in range(len(low))]
