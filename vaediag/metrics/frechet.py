"""Fréchet distance between two feature sets (FID-style, in the shipped classifier's feature space).

Split into stages like torch-fidelity: features -> :func:`feature_statistics` (cacheable, e.g. once for
the real test set) -> :func:`frechet_distance_from_stats`. Follows the pytorch-fid reference
(``calculate_frechet_distance``): scipy.linalg.sqrtm, an eps offset for singular products, and
tolerance for tiny imaginary parts from numerical error.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg

EPS = 1e-6
IMAG_ATOL = 1e-3


def feature_statistics(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean [F] and covariance [F, F] (``np.cov``, ddof=1) of ``features`` [N, F], both float64."""
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) < 2:
        raise ValueError(f"need a [N >= 2, F] feature array, got shape {features.shape}")
    return features.mean(axis=0), np.cov(features, rowvar=False).reshape(features.shape[1], -1)


def _sqrtm_product(sigma1: np.ndarray, sigma2: np.ndarray) -> np.ndarray:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # "matrix is singular": handled below
        covmean = linalg.sqrtm(sigma1 @ sigma2)
    return np.asarray(covmean)


def _imaginary_is_large(covmean: np.ndarray) -> bool:
    return np.iscomplexobj(covmean) and not np.allclose(np.diagonal(covmean).imag, 0, atol=IMAG_ATOL)


def frechet_distance_from_stats(
    mu1: np.ndarray, sigma1: np.ndarray, mu2: np.ndarray, sigma2: np.ndarray, eps: float = EPS
) -> float:
    """Fréchet distance ||mu1 − mu2||² + tr(S1 + S2 − 2 (S1 S2)^½) between N(mu1, S1) and N(mu2, S2).

    Range [0, inf), lower is better: 0 = same mean and covariance (generated features indistinguishable
    from real ones to second order). Units are squared feature units, so compare values only within one
    feature extractor; the "data" reference row (two halves of the test set) gives the floor.
    When (S1 S2)^½ is not finite or has a sizeable imaginary part, ``eps`` is added to both diagonals and
    it is recomputed; tiny imaginary parts are dropped; a sizeable one that remains raises ValueError.
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape:
        raise ValueError(f"feature dimensions differ: {mu1.shape} vs {mu2.shape}, {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2

    covmean = _sqrtm_product(sigma1, sigma2)
    if not np.isfinite(covmean).all() or _imaginary_is_large(covmean):
        offset = np.eye(len(sigma1)) * eps
        covmean = _sqrtm_product(sigma1 + offset, sigma2 + offset)
    if not np.isfinite(covmean).all():
        raise ValueError("Fréchet distance: sqrtm of the covariance product is not finite")
    if np.iscomplexobj(covmean):
        if _imaginary_is_large(covmean):
            raise ValueError(f"Fréchet distance: imaginary component {np.max(np.abs(covmean.imag)):.3g} in sqrtm")
        covmean = covmean.real

    value = diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean)
    return float(max(value, 0.0))


def frechet_distance(features_a: np.ndarray, features_b: np.ndarray) -> float:
    """Fréchet distance between Gaussians fitted to two feature sets [N_a, F] and [N_b, F].

    Range [0, inf), lower is better; 0 = identical mean and covariance. See
    :func:`frechet_distance_from_stats`.
    """
    return frechet_distance_from_stats(*feature_statistics(features_a), *feature_statistics(features_b))
