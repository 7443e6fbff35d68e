"""A digit's share of the prior samples as both judges see it (:mod:`vaediag.judgement.judges`), for the
``missing`` / ``rare`` / ``overrepresented`` claims: each judge's share with its interval (one run: the per_class.csv
Wilson interval; several seeds: the t-interval widened to the seeds' mean Wilson bounds), whether the classifier
can read the digit in the model's reconstructions, and the answer, which is supported or refuted only when both
judges agree and the classifier reads the digit. A deterministic encoder has no prior: every such claim on it is
inconclusive ("not applicable")."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np

from vaediag import columns as C
from vaediag.judgement.intervals import code_share_ci, is_deterministic, prior_share_ci, recon_recall
from vaediag.judgement.judges import ClassAnswer, cannot_read
from vaediag.judgement.rules import RECALL_GAP, RECON_READ_MIN
from vaediag.stats import INCONCLUSIVE, decide
from vaediag.store.rundir import PER_CLASS_FILE, Run

from .measure import DERIVED, Subject, cell, class_cell, num, over_seeds, with_ci

NOT_APPLICABLE = ("not applicable: the encoder is deterministic (μ alone), so the model has no prior whose samples "
                  "could show which digits it draws")
Bounds = Callable[[Run, int], "tuple[np.ndarray, np.ndarray] | None"]


def not_applicable(subject: Subject) -> bool:
    """Any run of the subject has a deterministic encoder (no prior)."""
    return any(is_deterministic(r) for r in subject.runs)


def share_of(subject: Subject, column: str, epoch: int, digit: int, exact: bool,
             bounds: Bounds = prior_share_ci) -> tuple[float, float, float, list]:
    """(value, low, high, evidence) of a digit's share: one run -> the per_class.csv cell with its Wilson interval
    (``bounds``) or exact (grids: low = high = value); several seeds -> the t-interval over seeds."""
    if subject.single:
        run = subject.run
        value = class_cell(run, column, epoch, digit)
        if exact:
            return value, value, value, [cell(PER_CLASS_FILE, subject.run_name(run), column, epoch, digit, value)]
        found = bounds(run, epoch)
        low, high = (float(found[0][digit]), float(found[1][digit])) if found is not None else (math.nan,) * 2
        return value, low, high, [cell(PER_CLASS_FILE, subject.run_name(run), column, epoch, digit, value,
                                       ci_low=low, ci_high=high)]
    iv, values = over_seeds(subject, lambda r: class_cell(r, column, epoch, digit))
    evidence = [cell(PER_CLASS_FILE, r.name, column, epoch, digit, v) for r, v in zip(subject.runs, values)]
    low, high, how = iv.low, iv.high, f"mean over {subject.n} seeds of per_class.csv {column}"
    if not exact:  # seeds that agree (e.g. all 0 %) give a zero-width t-interval: keep each seed's own sampling
        # noise by widening it to the mean of the seeds' Wilson bounds
        found = [bounds(r, epoch) for r in subject.runs]
        if all(b is not None for b in found):
            low = float(np.nanmin([low, np.mean([float(b[0][digit]) for b in found])]))
            high = float(np.nanmax([high, np.mean([float(b[1][digit]) for b in found])]))
            how += " (t-interval over seeds, widened to the mean of the seeds' Wilson bounds)"
    low, high = max(low, 0.0), min(high, 1.0)  # a share lies in [0, 1]; the t-interval does not know that
    evidence.append(cell(DERIVED, "", how, epoch, digit, iv.mean, ci_low=low, ci_high=high))
    return iv.mean, low, high, evidence


@dataclass(frozen=True)
class JudgedShare:
    """One digit's prior share from both judges: (value, low, high) of each, whether the classifier cannot read the
    digit in the reconstructions (``recall``: its recon recall and upper end, ``knn``: the latent kNN recall; one
    run), the two judges' answers and the combined one; ``evidence``: the quoted cells."""

    digit: int
    image: tuple[float, float, float]
    code: tuple[float, float, float]
    recall: tuple[float, float]
    knn: float
    answers: ClassAnswer
    evidence: list

    @property
    def answer(self) -> str:
        return self.answers.answer

    def text(self) -> str:
        """"2.4 % [2.1 %, 2.7 %] of prior samples (image judge), 9.8 % [9.2 %, 10.4 %] (code judge)"."""
        code = "not measured (code judge)" if not math.isfinite(self.code[0]) else \
            f"{with_ci(C.CLASS_PRIOR_CODE_SHARE, *self.code)} (code judge)"
        return f"{with_ci(C.CLASS_PRIOR_SHARE, *self.image)} of prior samples (image judge), {code}"

    def note(self, what: str, threshold: float) -> str:
        """Why the judges leave the digit's answer open ("" when they do not: then the image judge's own reasons
        apply)."""
        d, limit = self.digit, num(C.CLASS_PRIOR_SHARE, threshold)
        if self.answers.unreadable:
            return (f"the classifier cannot read this model's drawings of digit {d}: it reads "
                    f"{num(C.CLASS_RECON_RECALL, self.recall[0])} of its reconstructions (kNN recall "
                    f"{num(C.CLASS_KNN_RECALL, self.knn)}; needed: at least {num(C.CLASS_RECON_RECALL, RECON_READ_MIN)}"
                    f" and within {RECALL_GAP:g} of the kNN recall), so its share is no evidence")
        if not math.isfinite(self.code[0]):
            return (f"digit {d}: the run was evaluated without the code judge (nearest test codes), so the "
                    f"classifier's share cannot be confirmed; evaluate it again")
        if self.answers.image != INCONCLUSIVE and self.answers.code == INCONCLUSIVE:
            return (f"digit {d}: the code judge's interval straddles {limit} ({self.text()}); the claim that it is "
                    f"{what} needs both judges")
        if self.answers.image != INCONCLUSIVE and self.answers.code != self.answers.image:
            return (f"the judges disagree on digit {d}: {self.text()}; the claim that it is {what} "
                    f"(threshold {limit}) needs both")
        return ""


def judged_counts(subject: Subject, epoch: int) -> str:
    """"; the image judge read 9971 of 10000 prior samples, the code judge named 346" (one run; "" when the run
    lacks the columns or several seeds are checked)."""
    if not subject.single:
        return ""
    run = subject.run
    readable, off = run.value(C.PRIOR + C.N_READABLE, epoch), run.value(C.PRIOR_OFF_CODES, epoch)
    samples = float(run.evaluation.settings.get("samples", math.nan))
    if not (math.isfinite(readable) and math.isfinite(off) and math.isfinite(samples)):
        return ""
    return (f"; the image judge read {readable:.0f} of {samples:.0f} prior samples, the code judge named "
            f"{round(samples * (1 - off)):.0f} (the others lie off the test codes)")


def judged_share(subject: Subject, epoch: int, digit: int, threshold: float, side: str) -> JudgedShare:
    """Both judges' share of ``digit`` among the prior samples at ``epoch`` against ``threshold`` on ``side``."""
    image = share_of(subject, C.CLASS_PRIOR_SHARE, epoch, digit, exact=False)
    code = share_of(subject, C.CLASS_PRIOR_CODE_SHARE, epoch, digit, exact=False, bounds=code_share_ci)
    unreadable, recall, knn = False, (math.nan, math.nan), math.nan
    for r in subject.runs:  # the classifier must read the digit in every seed's model
        found = recon_recall(r, epoch)
        knn_r = np.array([class_cell(r, C.CLASS_KNN_RECALL, epoch, c) for c in range(C.N_CLASSES)])
        if found is not None and digit in cannot_read(found[2], knn_r):
            unreadable, recall, knn = True, (float(found[0][digit]), float(found[2][digit])), float(knn_r[digit])
            break
    answers = ClassAnswer(decide(image[1], image[2], threshold, side), decide(code[1], code[2], threshold, side),
                          unreadable)
    return JudgedShare(digit, image[:3], code[:3], recall, knn, answers, image[3] + code[3])
