"""Latent separation: how well the posterior means μ(x) of different digits are kept apart.

All functions take ``mu`` [N, d] (posterior means, any float dtype) and integer ``labels`` [N].
Distances are euclidean. Nothing here sub-samples: silhouette uses every point.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import (
    calinski_harabasz_score,
    confusion_matrix,
    davies_bouldin_score,
    silhouette_samples,
)
from sklearn.neighbors import KNeighborsClassifier

from vaediag.stats import BOOTSTRAP_RESAMPLES, bootstrap_interval

from vaediag.columns import (
    N_CLASSES,
    CALINSKI_HARABASZ,
    CONFUSION_RATE,
    DAVIES_BOULDIN,
    CLASS_A,
    CLASS_B,
    SILHOUETTE,
)

KNN_K = 5


def silhouette_values(mu: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Per-point silhouette s_i = (b_i - a_i) / max(a_i, b_i), float64 [N] (sklearn ``silhouette_samples``).

    Range [-1, 1], higher is better: near 1 the point sits deep inside its own digit's cluster, near 0 it
    lies on the border between two digits, negative it is closer to another digit than to its own.
    This is the expensive O(N²) step (≈2 s for 10k points); compute it once and pass it to
    :func:`separation_scores` and :func:`per_class_silhouette`.
    """
    # float64 input: sklearn's float32 path upcasts chunk by chunk, which is slower (2.4 s vs 2.0 s).
    return silhouette_samples(np.asarray(mu, dtype=np.float64), np.asarray(labels), metric="euclidean")


def separation_scores(
    mu: np.ndarray, labels: np.ndarray, *, silhouette: np.ndarray | None = None
) -> dict[str, float]:
    """Cluster-separation scores of the latent codes, keyed by column name.

    - ``SILHOUETTE``: mean silhouette over all points, [-1, 1], higher is better;
      1 = digits separated, 0 = overlapping, < 0 = points closer to another digit than their own.
    - ``DAVIES_BOULDIN``: >= 0, lower is better; mean over digits of the worst ratio
      (spread_a + spread_b) / centroid distance. Below ~1 the digit clusters are compact and apart.
    - ``CALINSKI_HARABASZ``: >= 0, higher is better; between- / within-cluster dispersion ratio
      (unbounded, scale-free; compare it across epochs of one run rather than in absolute terms).

    ``silhouette`` reuses precomputed :func:`silhouette_values` (the mean of those is exactly sklearn's
    ``silhouette_score``), which halves the cost when per-class silhouettes are also wanted.
    """
    mu = np.asarray(mu, dtype=np.float64)
    labels = np.asarray(labels)
    if silhouette is None:
        silhouette = silhouette_values(mu, labels)
    return {
        SILHOUETTE: float(np.mean(silhouette)),
        DAVIES_BOULDIN: float(davies_bouldin_score(mu, labels)),
        CALINSKI_HARABASZ: float(calinski_harabasz_score(mu, labels)),
    }


def per_class_silhouette(
    mu: np.ndarray | None,
    labels: np.ndarray,
    n_classes: int = N_CLASSES,
    *,
    silhouette: np.ndarray | None = None,
) -> np.ndarray:
    """Mean silhouette of the points of each digit, float64 [n_classes] (NaN for a digit with no points).

    Range [-1, 1] per digit, higher is better: tells which digits are well separated (near 1) and
    which ones sit on top of others (near 0 or negative). Pass ``silhouette`` (from
    :func:`silhouette_values`) to avoid recomputing it; ``mu`` is then not used and may be ``None``.
    """
    labels = np.asarray(labels)
    if silhouette is None:
        if mu is None:
            raise ValueError("per_class_silhouette needs mu or precomputed silhouette values")
        silhouette = silhouette_values(mu, labels)
    sums = np.bincount(labels, weights=silhouette, minlength=n_classes)[:n_classes]
    counts = np.bincount(labels, minlength=n_classes)[:n_classes]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


@dataclass(frozen=True)
class KnnResult:
    """Outcome of a k-nearest-neighbour digit classifier in latent space (fit on train, scored on test).

    ``accuracy``: [0, 1], higher is better; the fraction of test codes whose k nearest training codes vote
    for the right digit (1 = digits perfectly separable by neighbours, 0.1 = chance).
    ``per_class_recall``: float64 [n_classes], [0, 1] each (NaN for a digit absent from the test labels).
    ``confusion``: int64 [n_classes, n_classes], ``confusion[true, predicted]`` counts.
    ``correct``: bool [N_test], whether each test code was classified correctly (its mean is ``accuracy``).
    """

    accuracy: float
    per_class_recall: np.ndarray
    confusion: np.ndarray
    correct: np.ndarray | None = None


def knn_scores(
    train_mu: np.ndarray,
    train_labels: np.ndarray,
    test_mu: np.ndarray,
    test_labels: np.ndarray,
    k: int = KNN_K,
    n_classes: int = N_CLASSES,
) -> KnnResult:
    """Fit sklearn ``KNeighborsClassifier(k)`` on training codes, predict test codes; see :class:`KnnResult`.

    Accuracy [0, 1], higher is better: 1 = every digit region of the latent space is clean, 0.1 = chance.
    """
    clf = KNeighborsClassifier(n_neighbors=k)
    clf.fit(np.asarray(train_mu), np.asarray(train_labels))
    test_labels = np.asarray(test_labels)
    predicted = clf.predict(np.asarray(test_mu))
    confusion = confusion_matrix(test_labels, predicted, labels=np.arange(n_classes)).astype(np.int64)
    support = confusion.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, np.diag(confusion) / np.maximum(support, 1), np.nan)
    correct = predicted == test_labels
    accuracy = float(np.mean(correct))
    return KnnResult(accuracy=accuracy, per_class_recall=recall, confusion=confusion, correct=correct)


def knn_accuracy_interval(correct: np.ndarray, seed: int, resamples: int = BOOTSTRAP_RESAMPLES) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the kNN accuracy: the test codes' correct / wrong indicators
    (``KnnResult.correct``) resampled with replacement ``resamples`` times (seeded); the kNN fit is kept.

    [0, 1]: the accuracy this model's codes would reach on another test set of the same size lies in it (95 %);
    it is the test-sample noise only, not the spread between training seeds.
    """
    return bootstrap_interval(lambda c: float(np.mean(c)), np.asarray(correct, dtype=np.float64),
                              resamples=resamples, seed=seed)


def pair_confusion(confusion: np.ndarray) -> pd.DataFrame:
    """Symmetric confusion rate of every digit pair a < b, most mixed pair first.

    rate(a, b) = (C[a, b] + C[b, a]) / (n_a + n_b), with C[true, predicted] and n_a the number of test
    points of digit a (row sums). Range [0, 1], lower is better: 0 = the two digits never get mistaken
    for each other, e.g. 0.12 = 12 % of the 4s and 9s are predicted as the other one.
    Columns ``CLASS_A``, ``CLASS_B`` (int), ``CONFUSION_RATE`` (float; NaN when both digits are absent);
    n(n-1)/2 rows (45 for 10 digits), sorted by rate descending, ties by (a, b) ascending.
    """
    confusion = np.asarray(confusion, dtype=np.float64)
    n = confusion.shape[0]
    a, b = np.triu_indices(n, k=1)
    support = confusion.sum(axis=1)
    mixed = confusion[a, b] + confusion[b, a]
    total = support[a] + support[b]
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = np.where(total > 0, mixed / np.maximum(total, 1), np.nan)
    pairs = pd.DataFrame({CLASS_A: a.astype(np.int64), CLASS_B: b.astype(np.int64), CONFUSION_RATE: rate})
    order = np.lexsort((pairs[CLASS_B], pairs[CLASS_A], -pairs[CONFUSION_RATE].fillna(-np.inf)))
    return pairs.iloc[order].reset_index(drop=True)


def most_mixed_pair(pairs: pd.DataFrame, name: Callable[[int, int], str] | None = None) -> tuple[str, float]:
    """The class pair with the highest confusion rate, as (``"4-9"``, rate); ``name(a, b)`` writes the pair
    (default ``f"{a}-{b}"``; the evaluation passes ``ClassNames.pair``: "T-shirt/top & Shirt").

    Rate in [0, 1], lower is better (see :func:`pair_confusion`); ties go to the smallest (a, b).
    Returns ("", NaN) when no pair has a defined rate.
    """
    valid = pairs.dropna(subset=[CONFUSION_RATE])
    if valid.empty:
        return "", float("nan")
    order = np.lexsort((valid[CLASS_B], valid[CLASS_A], -valid[CONFUSION_RATE]))
    top = valid.iloc[order[0]]
    a, b = int(top[CLASS_A]), int(top[CLASS_B])
    return (name(a, b) if name is not None else f"{a}-{b}"), float(top[CONFUSION_RATE])
