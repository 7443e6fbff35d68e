"""Fréchet distance against the closed form for Gaussians."""

from __future__ import annotations

import numpy as np
import pytest

from vaediag.metrics.frechet import feature_statistics, frechet_distance, frechet_distance_from_stats


def closed_form(m1, s1, m2, s2) -> float:
    """d² = |m1 − m2|² + tr(S1 + S2 − 2 (S1^½ S2 S1^½)^½), via symmetric eigendecompositions."""
    def psd_sqrt(a):
        w, v = np.linalg.eigh(a)
        return (v * np.sqrt(np.clip(w, 0, None))) @ v.T

    r = psd_sqrt(s1)
    return float(np.sum((m1 - m2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(psd_sqrt(r @ s2 @ r)))


def random_spd(rng, d):
    a = rng.standard_normal((d, d))
    return a @ a.T + 0.1 * np.eye(d)


def test_identical_features_have_zero_distance():
    features = np.random.default_rng(0).standard_normal((500, 16)).astype(np.float32)
    assert frechet_distance(features, features) == pytest.approx(0.0, abs=1e-6)


def test_one_dimensional_closed_form():
    # (m1 - m2)² + (σ1 - σ2)²
    assert frechet_distance_from_stats(1.0, 4.0, -2.0, 9.0) == pytest.approx(9.0 + 1.0)


def test_diagonal_gaussians_closed_form():
    m1, m2 = np.array([0.0, 1.0, 2.0]), np.array([1.0, 1.0, 0.0])
    v1, v2 = np.array([1.0, 4.0, 0.25]), np.array([4.0, 1.0, 0.25])
    expected = np.sum((m1 - m2) ** 2) + np.sum((np.sqrt(v1) - np.sqrt(v2)) ** 2)
    assert frechet_distance_from_stats(m1, np.diag(v1), m2, np.diag(v2)) == pytest.approx(expected)


def test_general_gaussians_match_symmetric_closed_form():
    rng = np.random.default_rng(1)
    m1, m2 = rng.standard_normal(6), rng.standard_normal(6)
    s1, s2 = random_spd(rng, 6), random_spd(rng, 6)
    assert frechet_distance_from_stats(m1, s1, m2, s2) == pytest.approx(closed_form(m1, s1, m2, s2), rel=1e-8)


def test_samples_from_known_gaussians_approach_the_population_distance():
    rng = np.random.default_rng(2)
    s1, s2 = random_spd(rng, 3), random_spd(rng, 3)
    m1, m2 = np.zeros(3), np.array([1.0, -1.0, 0.5])
    a = rng.multivariate_normal(m1, s1, size=40000)
    b = rng.multivariate_normal(m2, s2, size=40000)
    assert frechet_distance(a, b) == pytest.approx(closed_form(m1, s1, m2, s2), rel=0.05)
    # Exact for the fitted statistics.
    assert frechet_distance(a, b) == pytest.approx(
        closed_form(*feature_statistics(a), *feature_statistics(b)), rel=1e-8
    )


def test_feature_statistics():
    x = np.random.default_rng(3).standard_normal((100, 4)).astype(np.float32)
    mean, cov = feature_statistics(x)
    assert mean.dtype == np.float64 and cov.shape == (4, 4)
    np.testing.assert_allclose(mean, x.astype(np.float64).mean(0))
    np.testing.assert_allclose(cov, np.cov(x.astype(np.float64), rowvar=False))
    _, cov1 = feature_statistics(x[:, :1])
    assert cov1.shape == (1, 1)
    with pytest.raises(ValueError):
        feature_statistics(x[:1])


def test_singular_covariances_still_give_a_finite_distance():
    rng = np.random.default_rng(4)
    # Rank-deficient covariances: fewer samples than features, and a feature that never varies
    # (e.g. a dead ReLU unit of the classifier, or a collapsed generator).
    a = rng.standard_normal((10, 32))
    b = rng.standard_normal((10, 32)) + 1.0
    a[:, 0] = b[:, 0] = 0.0
    value = frechet_distance(a, b)
    assert np.isfinite(value) and value > 0
    m1, s1 = feature_statistics(a)
    m2, s2 = feature_statistics(b)
    assert value == pytest.approx(closed_form(m1, s1, m2, s2), rel=1e-3)


def test_mismatched_dimensions_raise():
    with pytest.raises(ValueError):
        frechet_distance_from_stats(np.zeros(2), np.eye(2), np.zeros(3), np.eye(3))

