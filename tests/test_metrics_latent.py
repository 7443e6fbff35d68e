"""Latent separation metrics against independent computations on synthetic data with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import silhouette_score

from vaediag.columns import CALINSKI_HARABASZ, CONFUSION_RATE, DAVIES_BOULDIN, CLASS_A, CLASS_B, SILHOUETTE
from vaediag.metrics.latent import (
    KnnResult,
    knn_accuracy_interval,
    knn_scores,
    most_mixed_pair,
    pair_confusion,
    per_class_silhouette,
    separation_scores,
    silhouette_values,
)


def blobs(n_per_class: int, dim: int = 2, spread: float = 0.5, seed: int = 0):
    """Ten tight Gaussian blobs on a circle of radius 100 (dims >= 2 beyond the first two stay noise)."""
    rng = np.random.default_rng(seed)
    angles = 2 * np.pi * np.arange(10) / 10
    centres = np.zeros((10, dim))
    centres[:, 0], centres[:, 1] = 100 * np.cos(angles), 100 * np.sin(angles)
    labels = np.repeat(np.arange(10), n_per_class)
    mu = (centres[labels] + spread * rng.standard_normal((len(labels), dim))).astype(np.float32)
    return mu, labels


def brute_force_silhouette(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Rousseeuw's definition written out with a full distance matrix."""
    x = x.astype(np.float64)
    d = np.sqrt(((x[:, None, :] - x[None, :, :]) ** 2).sum(-1))
    s = np.zeros(len(x))
    for i in range(len(x)):
        own = labels == labels[i]
        if own.sum() == 1:
            continue
        a = d[i, own].sum() / (own.sum() - 1)
        b = min(d[i, labels == c].mean() for c in np.unique(labels) if c != labels[i])
        s[i] = (b - a) / max(a, b)
    return s


def test_well_separated_blobs_score_near_perfect():
    mu, labels = blobs(50)
    scores = separation_scores(mu, labels)
    assert set(scores) == {SILHOUETTE, DAVIES_BOULDIN, CALINSKI_HARABASZ}
    assert scores[SILHOUETTE] > 0.95
    assert scores[DAVIES_BOULDIN] < 0.05
    assert scores[CALINSKI_HARABASZ] > 1e4
    np.testing.assert_allclose(per_class_silhouette(mu, labels), scores[SILHOUETTE], atol=0.05)


def test_silhouette_matches_brute_force_definition_on_overlapping_data():
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 4, 120)
    mu = rng.standard_normal((120, 3)) + labels[:, None] * 0.7
    expected = brute_force_silhouette(mu, labels)
    values = silhouette_values(mu, labels)
    np.testing.assert_allclose(values, expected, rtol=1e-10, atol=1e-12)
    scores = separation_scores(mu, labels, silhouette=values)
    assert scores[SILHOUETTE] == pytest.approx(expected.mean(), rel=1e-10)
    assert scores[SILHOUETTE] == pytest.approx(silhouette_score(mu, labels), rel=1e-10)
    per_class = per_class_silhouette(None, labels, n_classes=4, silhouette=values)
    np.testing.assert_allclose(per_class, [expected[labels == c].mean() for c in range(4)], rtol=1e-10)
    np.testing.assert_allclose(per_class_silhouette(mu, labels, n_classes=4), per_class, rtol=1e-12)


def test_per_class_silhouette_is_nan_for_absent_digit():
    mu, labels = blobs(10)
    keep = labels != 7
    per_class = per_class_silhouette(mu[keep], labels[keep])
    assert per_class.shape == (10,)
    assert np.isnan(per_class[7]) and np.isfinite(np.delete(per_class, 7)).all()


def test_per_class_silhouette_needs_mu_or_values():
    with pytest.raises(ValueError):
        per_class_silhouette(None, np.array([0, 1]))


def test_knn_on_separated_blobs_is_perfect():
    train_mu, train_labels = blobs(40, dim=3, seed=2)
    test_mu, test_labels = blobs(20, dim=3, seed=3)
    result = knn_scores(train_mu, train_labels, test_mu, test_labels, k=5)
    assert isinstance(result, KnnResult)
    assert result.accuracy == 1.0
    np.testing.assert_array_equal(result.per_class_recall, np.ones(10))
    np.testing.assert_array_equal(result.confusion, np.diag(np.full(10, 20)))


def test_knn_confusion_counts_a_relabelled_cluster():
    train_mu, train_labels = blobs(30, seed=4)
    test_mu, test_labels = blobs(10, seed=5)
    # Five test 4s sit in the middle of the 9 cluster: they must be predicted as 9.
    fours = np.flatnonzero(test_labels == 4)[:5]
    test_mu[fours] = test_mu[test_labels == 9][:5]
    result = knn_scores(train_mu, train_labels, test_mu, test_labels)
    assert result.confusion[4, 9] == 5 and result.confusion[4, 4] == 5
    assert result.per_class_recall[4] == pytest.approx(0.5)
    assert result.accuracy == pytest.approx(95 / 100)
    assert result.confusion.sum() == 100


def test_knn_recall_nan_for_digit_missing_from_test_set():
    train_mu, train_labels = blobs(10, seed=6)
    test_mu, test_labels = blobs(5, seed=7)
    keep = test_labels != 2
    result = knn_scores(train_mu, train_labels, test_mu[keep], test_labels[keep])
    assert np.isnan(result.per_class_recall[2]) and result.accuracy == 1.0


def test_pair_confusion_on_hand_made_matrix():
    confusion = np.diag(np.full(10, 100))
    confusion[4, 9], confusion[9, 4] = 20, 10  # n_4 = 120, n_9 = 110
    confusion[3, 5] = 5  # n_3 = 105, n_5 = 100
    confusion[8, 3] = 1  # n_8 = 101
    pairs = pair_confusion(confusion)
    assert list(pairs.columns) == [CLASS_A, CLASS_B, CONFUSION_RATE]
    assert len(pairs) == 45
    assert (pairs[CLASS_A] < pairs[CLASS_B]).all()
    assert pairs.iloc[0].tolist() == pytest.approx([4, 9, 30 / 230])
    assert pairs.iloc[1].tolist() == pytest.approx([3, 5, 5 / 205])
    assert pairs.iloc[2].tolist() == pytest.approx([3, 8, 1 / 206])
    # Untouched pairs have rate 0 and keep (a, b) order.
    assert pairs.iloc[3][[CLASS_A, CLASS_B]].tolist() == [0, 1]
    assert (pairs[CONFUSION_RATE].iloc[3:] == 0).all()
    assert most_mixed_pair(pairs) == ("4-9", pytest.approx(30 / 230))


def test_pair_confusion_small_matrix_by_hand():
    confusion = np.array([[8, 1, 1], [2, 6, 2], [0, 4, 16]])  # n = 10, 10, 20
    pairs = pair_confusion(confusion).set_index([CLASS_A, CLASS_B])[CONFUSION_RATE]
    assert pairs[(0, 1)] == pytest.approx(3 / 20)
    assert pairs[(0, 2)] == pytest.approx(1 / 30)
    assert pairs[(1, 2)] == pytest.approx(6 / 30)
    assert most_mixed_pair(pair_confusion(confusion)) == ("1-2", pytest.approx(0.2))


def test_most_mixed_pair_without_any_data():
    pairs = pair_confusion(np.zeros((10, 10)))
    assert pairs[CONFUSION_RATE].isna().all()
    name, rate = most_mixed_pair(pairs)
    assert name == "" and np.isnan(rate)


def test_knn_accuracy_interval_resamples_the_correct_indicators():

    mu, labels = blobs(40, spread=60.0, seed=3)  # overlapping blobs: an accuracy well inside (0, 1)
    result = knn_scores(mu[::2], labels[::2], mu[1::2], labels[1::2])
    assert result.correct.mean() == pytest.approx(result.accuracy) and 0.2 < result.accuracy < 0.95
    low, high = knn_accuracy_interval(result.correct, seed=11, resamples=200)
    draw = np.random.default_rng(11)
    values = [result.correct[draw.integers(0, len(result.correct), len(result.correct))].mean() for _ in range(200)]
    assert (low, high) == pytest.approx(tuple(np.quantile(values, [0.025, 0.975])), abs=1e-12)
    assert low < result.accuracy < high
    se = np.sqrt(result.accuracy * (1 - result.accuracy) / len(result.correct))
    assert high - low == pytest.approx(2 * 1.96 * se, rel=0.3)  # about the binomial width

