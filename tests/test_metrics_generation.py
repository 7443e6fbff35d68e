"""Class-histogram metrics and latent grids on histograms and grids with known answers."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from vaediag.columns import (
    CLASSIFIER_SCORE,
    CONFIDENCE,
    ENTROPY,
    ENTROPY_NORM,
    HISTOGRAM_METRICS,
    KL_FROM_DATA,
    MODES_COVERED,
    PRIOR,
)
from vaediag.metrics.generation import (
    class_counts,
    class_share_intervals,
    class_shares,
    entropy_norm_interval,
    histogram_metrics,
    inside_fraction,
    inside_share_per_class,
    linear_grid,
    quantile_grid,
    sample_prior,
    with_prefix,
)

UNIFORM_LABELS = np.repeat(np.arange(10), 100)


def one_hot(classes, n_classes: int = 10) -> np.ndarray:
    return np.eye(n_classes)[np.asarray(classes)]


def test_one_class_histogram():
    metrics = histogram_metrics(one_hot(np.full(500, 3)), UNIFORM_LABELS)
    assert list(metrics) == HISTOGRAM_METRICS
    assert metrics[ENTROPY] == 0.0 and metrics[ENTROPY_NORM] == 0.0
    assert metrics[MODES_COVERED] == 1
    assert metrics[KL_FROM_DATA] == pytest.approx(np.log(10))  # 1 * log(1 / 0.1)
    assert metrics[CONFIDENCE] == 1.0
    assert metrics[CLASSIFIER_SCORE] == pytest.approx(1.0)


def test_uniform_histogram():
    metrics = histogram_metrics(one_hot(UNIFORM_LABELS), UNIFORM_LABELS)
    assert metrics[ENTROPY] == pytest.approx(np.log(10))
    assert metrics[ENTROPY_NORM] == pytest.approx(1.0)
    assert metrics[MODES_COVERED] == 10
    assert metrics[KL_FROM_DATA] == pytest.approx(0.0, abs=1e-12)
    assert metrics[CLASSIFIER_SCORE] == pytest.approx(10.0)


def test_ambiguous_samples_have_low_confidence_and_score_one():
    metrics = histogram_metrics(np.full((200, 10), 0.1), UNIFORM_LABELS)
    assert metrics[CONFIDENCE] == pytest.approx(0.1)
    assert metrics[CLASSIFIER_SCORE] == pytest.approx(1.0)
    # none of them is readable (top probability 0.1 < UNREADABLE_BELOW): no class histogram, rather than "all 0s"
    assert np.isnan(metrics[ENTROPY]) and np.isnan(metrics[MODES_COVERED]) and np.isnan(metrics[KL_FROM_DATA])


def test_histogram_metrics_match_independent_formulas():
    rng = np.random.default_rng(0)
    probs = rng.dirichlet(np.full(10, 0.3), size=2000)
    probs[:, 7] *= 1e-3  # almost never predicted: exercises small counts
    probs /= probs.sum(axis=1, keepdims=True)
    reference_labels = rng.choice(10, size=3000, p=np.linspace(1, 2, 10) / np.linspace(1, 2, 10).sum())
    metrics = histogram_metrics(probs, reference_labels)

    readable = probs.max(1) >= 0.5  # the histogram counts the samples the judge can read (UNREADABLE_BELOW)
    assert 0.2 < readable.mean() < 0.95  # both kinds present, so the test tells the two counts apart
    counts = np.array([(probs[readable].argmax(1) == c).sum() for c in range(10)])
    q = counts / counts.sum()
    p = np.array([(reference_labels == c).mean() for c in range(10)])
    nz = q > 0
    assert metrics[ENTROPY] == pytest.approx(-np.sum(q[nz] * np.log(q[nz])))
    assert metrics[ENTROPY_NORM] == pytest.approx(metrics[ENTROPY] / np.log(10))
    assert metrics[MODES_COVERED] == int(np.sum(q >= 0.01))
    assert metrics[KL_FROM_DATA] == pytest.approx(np.sum(q[nz] * np.log(q[nz] / p[nz])))
    assert metrics[CONFIDENCE] == pytest.approx(probs.max(1).mean())
    marginal = probs.mean(0)
    kl = [np.sum(row * np.log(row / marginal)) for row in probs]
    assert metrics[CLASSIFIER_SCORE] == pytest.approx(np.exp(np.mean(kl)))
    assert 1.0 <= metrics[CLASSIFIER_SCORE] <= 10.0


def test_modes_threshold_is_one_percent_inclusive():
    classes = np.concatenate([np.full(990, 0), np.full(10, 1)])  # class 1 has exactly 1 %
    assert histogram_metrics(one_hot(classes), UNIFORM_LABELS)[MODES_COVERED] == 2
    classes = np.concatenate([np.full(991, 0), np.full(9, 1)])  # 0.9 %
    assert histogram_metrics(one_hot(classes), UNIFORM_LABELS)[MODES_COVERED] == 1


def test_samples_in_a_class_the_reference_lacks():
    reference = np.repeat(np.arange(9), 10)  # no 9s in the reference
    metrics = histogram_metrics(one_hot(np.arange(10).repeat(5)), reference)
    assert metrics[KL_FROM_DATA] == np.inf
    metrics = histogram_metrics(one_hot(np.arange(9).repeat(5)), reference)
    assert metrics[KL_FROM_DATA] == pytest.approx(0.0, abs=1e-12)


def test_class_counts_and_shares():
    probs = one_hot([2, 2, 5, 9])
    np.testing.assert_array_equal(class_counts(probs), [0, 0, 2, 0, 0, 1, 0, 0, 0, 1])
    shares = class_shares(probs)
    assert shares.sum() == pytest.approx(1.0) and shares[2] == 0.5


def test_with_prefix():
    assert with_prefix({ENTROPY: 1.0}, PRIOR) == {"prior_entropy_nats": 1.0}


def test_sample_prior_is_seeded_standard_normal():
    z = sample_prior(20000, 3, seed=7)
    assert z.shape == (20000, 3) and z.dtype == np.float32
    np.testing.assert_array_equal(z, sample_prior(20000, 3, seed=7))
    assert not np.array_equal(z, sample_prior(20000, 3, seed=8))
    np.testing.assert_allclose(z.mean(0), 0, atol=0.03)
    np.testing.assert_allclose(z.std(0), 1, atol=0.03)


def test_linear_grid_order_matches_the_plotted_image_grid():
    n, span = 5, 2.0
    z = linear_grid(n, span, latent_dim=4)
    assert z.shape == (n * n, 4) and z.dtype == np.float32
    tiles = z.reshape(n, n, 4)  # [row, column, dim]
    xs = np.linspace(-span, span, n)
    for i in range(n):
        for j in range(n):
            np.testing.assert_allclose(tiles[i, j], [xs[j], xs[n - 1 - i], 0, 0], atol=1e-6)
    np.testing.assert_allclose(z[0], [-span, span, 0, 0])  # top-left
    np.testing.assert_allclose(z[n - 1], [span, span, 0, 0])  # top-right
    np.testing.assert_allclose(z[-1], [span, -span, 0, 0])  # bottom-right


def test_linear_grid_for_one_dimensional_latent_sweeps_in_reading_order():
    z = linear_grid(4, 3.0, latent_dim=1)
    assert z.shape == (16, 1)
    np.testing.assert_allclose(z[:, 0], np.linspace(-3, 3, 16), rtol=1e-6)
    with pytest.raises(ValueError):
        linear_grid(4, 3.0, latent_dim=0)


def test_quantile_grid_is_the_kingma_welling_grid():
    z, span = quantile_grid(15, latent_dim=2)
    assert span == pytest.approx(1.6448536269514722)  # Phi^-1(0.95)
    values = stats.norm.ppf(np.linspace(0.05, 0.95, 15))
    tiles = z.reshape(15, 15, 2)
    np.testing.assert_allclose(tiles[0, :, 0], values, rtol=1e-6)  # x grows left to right
    np.testing.assert_allclose(tiles[:, 0, 1], values[::-1], rtol=1e-6)  # y falls top to bottom
    np.testing.assert_allclose(tiles[7, 7], [0, 0], atol=1e-6)
    assert np.abs(z).max() == pytest.approx(span, rel=1e-6)
    with pytest.raises(ValueError):
        quantile_grid(15, 2, low=0.0)


def test_inside_fraction():
    mu = np.array([[0.0, 0.0, 9.0], [1.5, -1.5, 9.0], [1.6, 0.0, 0.0], [0.0, -3.0, 0.0]])
    assert inside_fraction(mu, span=1.5) == 0.5  # dims >= 2 are ignored, the boundary counts as inside
    assert inside_fraction(mu, span=3.0) == 1.0
    assert inside_fraction(np.array([[0.5], [2.0]]), span=1.0) == 0.5  # 1-D latent


# ---------------------------------------------------------------------------------------------- intervals (issue 8)


def test_the_chi2_pvalue_is_gone():
    assert not any("chi2" in name for name in HISTOGRAM_METRICS)
    assert not any("chi2" in key for key in histogram_metrics(one_hot(UNIFORM_LABELS), UNIFORM_LABELS))


def test_class_share_intervals_are_scipys_wilson_intervals():
    classes = np.concatenate([np.full(600, 1), np.full(390, 4), np.full(10, 7)])  # shares .6, .39, .01, zeros
    low, high = class_share_intervals(one_hot(classes))
    for c in range(10):
        k = int((classes == c).sum())
        ci = stats.binomtest(k, len(classes)).proportion_ci(confidence_level=0.95, method="wilson")
        assert (low[c], high[c]) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert low[0] == 0.0 and high[0] > 0  # k = 0: [0, something], never a point


def _entropy_norm(labels):
    counts = np.bincount(labels, minlength=10)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum() / np.log(10))


def test_entropy_interval_is_a_hand_written_bootstrap_with_the_same_seed():
    rng = np.random.default_rng(1)
    labels = rng.choice(10, size=2000, p=np.linspace(1, 3, 10) / np.linspace(1, 3, 10).sum())
    low, high = entropy_norm_interval(one_hot(labels), seed=5, resamples=200)
    draw = np.random.default_rng(5)
    values = [_entropy_norm(labels[draw.integers(0, len(labels), len(labels))]) for _ in range(200)]
    assert (low, high) == pytest.approx(tuple(np.quantile(values, [0.025, 0.975])), abs=1e-12)
    assert low < _entropy_norm(labels) < high and high - low < 0.02  # 2000 samples: a narrow interval


def test_inside_share_per_class_weighted_by_data_shares_is_the_inside_fraction():
    rng = np.random.default_rng(2)
    labels = rng.integers(0, 10, 3000)
    labels[labels == 6] = 5  # digit 6 has no codes: NaN
    mu = rng.normal(scale=0.3 + labels[:, None] / 5, size=(3000, 3))  # higher digits spread wider
    shares = inside_share_per_class(mu, labels, 1.0)
    assert np.isnan(shares[6])
    for d in set(range(10)) - {6}:
        own = mu[labels == d]
        assert shares[d] == pytest.approx(np.mean((np.abs(own[:, 0]) <= 1) & (np.abs(own[:, 1]) <= 1)))
    data_share = np.bincount(labels, minlength=10) / len(labels)
    assert np.nansum(shares * data_share) == pytest.approx(inside_fraction(mu, 1.0))
    assert shares[0] > shares[9]  # the tight digit lies inside, the wide one mostly outside
