"""Latent-usage metrics against closed forms."""

from __future__ import annotations

import numpy as np
import pytest

from vaediag.columns import AGGPOST_KL_PRIOR, AGGPOST_MEAN_NORM, AGGPOST_VAR_MEAN
from vaediag.metrics.usage import (
    active_units,
    aggregate_posterior_moments,
    gaussian_total_correlation,
    kl_dim_columns,
    kl_per_dim,
)


def test_active_units_counts_dims_whose_mean_varies():
    rng = np.random.default_rng(0)
    mu = np.column_stack(
        [
            rng.standard_normal(5000),  # active
            3.0 + 0.5 * rng.standard_normal(5000),  # active, var 0.25
            np.full(5000, 2.0),  # constant: collapsed to the prior
            0.05 * rng.standard_normal(5000),  # var 0.0025 < 0.01: inactive
        ]
    ).astype(np.float32)
    assert active_units(mu) == 2
    assert active_units(mu, threshold=0.001) == 3
    assert active_units(mu[:, 0]) == 1  # a 1-D latent given as a vector


def test_kl_per_dim_closed_form():
    mu = np.array([[0.0, 1.0, 0.0], [0.0, -1.0, 0.0]])
    logvar = np.array([[0.0, 0.0, np.log(2.0)], [0.0, 0.0, np.log(0.5)]])
    expected = [
        0.0,
        0.5,
        0.5 * np.mean([2.0 - 1.0 - np.log(2.0), 0.5 - 1.0 - np.log(0.5)]),
    ]
    np.testing.assert_allclose(kl_per_dim(mu, logvar), expected, rtol=1e-12)
    assert kl_dim_columns(np.array([0.25, 1.5])) == {"kl_dim_0": 0.25, "kl_dim_1": 1.5}


def test_total_correlation_independent_vs_correlated():
    rng = np.random.default_rng(1)
    n = 20000
    independent = rng.standard_normal((n, 3))
    assert gaussian_total_correlation(independent) == pytest.approx(0.0, abs=1e-3)

    rho = 0.8
    x = rng.standard_normal(n)
    y = rho * x + np.sqrt(1 - rho**2) * rng.standard_normal(n)
    pair = np.column_stack([x, y])
    rho_hat = np.corrcoef(x, y)[0, 1]
    tc = gaussian_total_correlation(pair)
    assert tc == pytest.approx(-0.5 * np.log(1 - rho_hat**2), rel=1e-10)  # exact for the sample
    assert tc == pytest.approx(-0.5 * np.log(1 - rho**2), rel=0.02)  # the population value, 0.51 nats

    # An independent third dim and a constant dim add nothing; TC is scale-free.
    with_extras = np.column_stack([10 * x, y, rng.standard_normal(n), np.full(n, 0.1)])
    assert gaussian_total_correlation(with_extras) == pytest.approx(tc, abs=2e-3)


def test_total_correlation_of_general_covariance_matches_definition():
    rng = np.random.default_rng(2)
    a = rng.standard_normal((4, 4))
    mu = rng.standard_normal((3000, 4)) @ a
    cov = np.cov(mu, rowvar=False)
    expected = 0.5 * (np.sum(np.log(np.diag(cov))) - np.linalg.slogdet(cov)[1])
    assert gaussian_total_correlation(mu.astype(np.float32)) == pytest.approx(expected, rel=1e-4)


def test_total_correlation_edge_cases():
    rng = np.random.default_rng(3)
    x = rng.standard_normal(100)
    assert gaussian_total_correlation(x[:, None]) == 0.0  # 1-D latent
    assert gaussian_total_correlation(np.column_stack([x, np.zeros(100)])) == 0.0  # one varying dim
    assert gaussian_total_correlation(np.column_stack([x, 2 * x + 1])) == np.inf  # exact dependence


def test_aggregate_posterior_of_a_prior_matched_encoder_is_the_prior():
    # mu ~ N(0, (1 - s²) I) and posterior variance s²: q(z) = N(0, I) exactly in distribution.
    rng = np.random.default_rng(4)
    s2 = 0.3
    mu = np.sqrt(1 - s2) * rng.standard_normal((50000, 4))
    logvar = np.full_like(mu, np.log(s2))
    moments = aggregate_posterior_moments(mu, logvar)
    assert set(moments) == {AGGPOST_MEAN_NORM, AGGPOST_VAR_MEAN, AGGPOST_KL_PRIOR}
    assert moments[AGGPOST_MEAN_NORM] < 0.02
    assert moments[AGGPOST_VAR_MEAN] == pytest.approx(1.0, abs=0.01)
    assert 0.0 <= moments[AGGPOST_KL_PRIOR] < 1e-3


def test_aggregate_posterior_by_hand():
    # m = 0, Cov(mu) = diag(1, 0), E[exp(logvar)] = 1: S = diag(2, 1).
    moments = aggregate_posterior_moments(np.array([[1.0, 0.0], [-1.0, 0.0]]), np.zeros((2, 2)))
    assert moments[AGGPOST_MEAN_NORM] == 0.0
    assert moments[AGGPOST_VAR_MEAN] == pytest.approx(1.5)
    assert moments[AGGPOST_KL_PRIOR] == pytest.approx(0.5 * (3.0 - 2.0 - np.log(2.0)))
    # A constant code away from the origin: S = I, m = (4, 3) -> KL = |m|² / 2.
    shifted = aggregate_posterior_moments(np.tile([4.0, 3.0], (5, 1)), np.zeros((5, 2)))
    assert shifted[AGGPOST_MEAN_NORM] == pytest.approx(5.0)
    assert shifted[AGGPOST_VAR_MEAN] == pytest.approx(1.0)
    assert shifted[AGGPOST_KL_PRIOR] == pytest.approx(12.5)


def test_a_deterministic_encoder_has_no_kl_and_no_posterior_variance():
    """logvar None (encode gives mu alone): KL per dimension and the variance-based moments are NaN; the mean
    norm is still ||mean of mu||."""
    mu = np.array([[1.0, 2.0], [3.0, -2.0], [2.0, 3.0]])
    assert np.isnan(kl_per_dim(mu, None)).all() and kl_per_dim(mu, None).shape == (2,)
    moments = aggregate_posterior_moments(mu, None)
    assert moments[AGGPOST_MEAN_NORM] == pytest.approx(np.hypot(2.0, 1.0))
    assert np.isnan(moments[AGGPOST_VAR_MEAN]) and np.isnan(moments[AGGPOST_KL_PRIOR])
