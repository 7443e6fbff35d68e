"""The second judge of generated samples, and how two judges are compared.

The image judge (the shipped classifier, :mod:`vaediag.metrics.generation`) reads what a decoded sample looks
like. The *code judge* reads where the sample comes from: a prior sample z gets the majority class of its k
nearest test codes μ(x) in latent space (:func:`code_judge`; ties go to the smallest label, as in sklearn's
``KNeighborsClassifier``). It needs no classifier, so it cannot be fooled by blur; but it only knows the classes
of the regions the encoder fills. A prior sample farther from the test codes than real codes ever are lies *off
the codes* and gets no class (label -1): its k-th nearest test code is farther than for ``OFF_CODES_QUANTILE`` of
held-out codes (training codes, which the encoder placed like the test codes). In two latent dimensions nearly
every prior sample lies on the codes; in twenty most do not (the prior fills a ball the codes occupy thinly), and
the code judge then names few samples, so its intervals are wide and it decides little: that is its weakness, and
it is measured (the off-codes share), not hidden.

:func:`agreement` compares two labelings of the same samples (negative labels: no class); :func:`class_recall`
is a judge's recall per class on images of known class (the image judge on a model's reconstructions: can it
read this model's drawings at all?). Every share comes with its 95 % Wilson interval.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.neighbors import NearestNeighbors

from vaediag.columns import N_CLASSES
from vaediag.stats import wilson_interval

OFF_CODES_QUANTILE = 0.99  # a prior sample is off the codes when farther than 99 % of held-out codes are
CALIBRATION_CODES = 2000  # held-out codes used to set that distance (enough for a 99th percentile, cheap to query)
NO_CLASS = -1


@dataclass(frozen=True)
class CodeJudgement:
    """What the code judge says about N prior samples: ``labels`` int64 [N] (the majority class of the k nearest
    test codes, -1 off the codes), ``off`` bool [N], ``distance`` float64 [N] (to the k-th nearest test code) and
    ``limit``: the distance beyond which a sample is off the codes (inf without held-out codes)."""

    labels: np.ndarray
    off: np.ndarray
    distance: np.ndarray
    limit: float

    @property
    def off_share(self) -> tuple[float, float, float]:
        """(share of samples off the codes, Wilson low, high)."""
        n, k = len(self.off), int(np.sum(self.off))
        low, high = wilson_interval(k, n)
        return (k / n if n else np.nan), low, high


def code_judge(z: np.ndarray, codes: np.ndarray, code_labels: np.ndarray, held_out: np.ndarray | None, k: int,
               n_classes: int = N_CLASSES) -> CodeJudgement:
    """Label each row of ``z`` [N, d] by majority vote of its ``k`` nearest rows of ``codes`` [M, d] (classes
    ``code_labels`` [M]); -1 for a row off the codes: its distance to the k-th nearest code exceeds the
    ``OFF_CODES_QUANTILE`` quantile of that distance over ``held_out`` codes [H, d] (codes of other real images; None
    or empty: no row is off)."""
    codes = np.asarray(codes, dtype=np.float32).reshape(len(codes), -1)
    code_labels = np.asarray(code_labels, dtype=np.int64)
    k = max(1, min(int(k), len(codes)))
    index = NearestNeighbors(n_neighbors=k).fit(codes)
    distance, neighbours = index.kneighbors(np.asarray(z, dtype=np.float32).reshape(len(z), -1))
    votes = np.zeros((len(z), n_classes), dtype=np.int64)
    np.add.at(votes, (np.repeat(np.arange(len(z)), k), code_labels[neighbours].ravel()), 1)
    labels = np.argmax(votes, axis=1).astype(np.int64)  # ties: the smallest label
    limit = np.inf
    if held_out is not None and len(held_out):
        held = np.asarray(held_out, dtype=np.float32).reshape(len(held_out), -1)
        limit = float(np.quantile(index.kneighbors(held)[0][:, -1], OFF_CODES_QUANTILE))
    far = distance[:, -1].astype(np.float64)
    off = far > limit
    labels[off] = NO_CLASS
    return CodeJudgement(labels, off, far, limit)


@dataclass(frozen=True)
class Agreement:
    """Two judges on the same samples: ``share`` (with Wilson ``low`` / ``high``) of the ``n`` samples both name on
    which they name the same class; per class (float64 [n_classes] each) ``class_share`` of the samples either judge
    puts in the class that both put there, with its Wilson interval (NaN for a class neither names)."""

    share: float
    low: float
    high: float
    n: int
    class_share: np.ndarray
    class_low: np.ndarray
    class_high: np.ndarray


def agreement(a: np.ndarray, b: np.ndarray, n_classes: int = N_CLASSES) -> Agreement:
    """How often two labelings ``a``, ``b`` [N] of the same samples agree, over the samples both label (>= 0).

    Overall: [0, 1], higher = the judges tell the same story; 1 = they name the same class for every sample both
    name. Per class: of the samples either judge puts in class c, the share both do (0 = they never agree on c).
    """
    a, b = np.asarray(a), np.asarray(b)
    both = (a >= 0) & (b >= 0)
    same = both & (a == b)
    n, k = int(both.sum()), int(same.sum())
    low, high = wilson_interval(k, n)
    union = np.array([int(np.sum(both & ((a == c) | (b == c)))) for c in range(n_classes)])
    hits = np.array([int(np.sum(same & (a == c))) for c in range(n_classes)])
    class_low, class_high = wilson_interval(hits, union)
    with np.errstate(invalid="ignore", divide="ignore"):
        class_share = np.where(union > 0, hits / np.maximum(union, 1), np.nan)
    return Agreement(k / n if n else np.nan, low, high, n, class_share, class_low, class_high)


def class_recall(predicted: np.ndarray, labels: np.ndarray,
                 n_classes: int = N_CLASSES) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(recall, low, high), float64 [n_classes] each: per class, the share of images of that class (``labels``)
    whose ``predicted`` label is the class (a negative prediction, e.g. unreadable, is a miss), with its Wilson
    interval; NaN for a class without images. [0, 1], higher = the judge reads that class."""
    predicted, labels = np.asarray(predicted), np.asarray(labels)
    support = np.bincount(labels, minlength=n_classes)[:n_classes]
    hits = np.bincount(labels[predicted == labels], minlength=n_classes)[:n_classes]
    low, high = wilson_interval(hits, support)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, hits / np.maximum(support, 1), np.nan)
    return recall, np.asarray(low, dtype=float), np.asarray(high, dtype=float)
