"""Latent usage: which latent dimensions carry information, how much, and how the codes fill the prior.

Inputs are the encoder outputs on a data set: posterior means ``mu`` [N, d] and log-variances
``logvar`` [N, d] of q(z|x) = N(mu, diag(exp(logvar))). Everything is computed in float64, in nats.
"""

from __future__ import annotations

import numpy as np

from vaediag.columns import AGGPOST_KL_PRIOR, AGGPOST_MEAN_NORM, AGGPOST_VAR_MEAN, KL_PER_DIM_PREFIX

ACTIVE_THRESHOLD = 0.01  # Burda et al. (2016)


def _as_2d(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float64)
    return x.reshape(len(x), -1) if x.ndim != 2 else x


def active_units(mu: np.ndarray, threshold: float = ACTIVE_THRESHOLD) -> int:
    """Number of latent dimensions u with Var_x(E[z_u | x]) > ``threshold`` (Burda et al. 2016).

    Range 0..d, higher means more of the latent space is used: an inactive unit has a posterior mean
    that ignores the input (it collapsed to the prior). Variances over the N rows of ``mu`` (ddof=0).
    """
    return int(np.sum(np.var(_as_2d(mu), axis=0) > threshold))


def kl_per_dim(mu: np.ndarray, logvar: np.ndarray | None) -> np.ndarray:
    """Mean over samples of KL(q(z_u|x) || N(0, 1)) for each latent dimension u, float64 [d], nats.

    Each value >= 0; 0 = the dimension carries no information (posterior = prior), larger = more
    information about x routed through that dimension. The sum over dimensions is the usual KL term.
    ``logvar`` None (a deterministic encoder: no posterior variance): NaN for every dimension.
    """
    mu = _as_2d(mu)
    if logvar is None:
        return np.full(mu.shape[1], np.nan)
    logvar = _as_2d(logvar)
    return 0.5 * np.mean(mu * mu + np.exp(logvar) - 1.0 - logvar, axis=0)


def kl_dim_columns(kl: np.ndarray) -> dict[str, float]:
    """``{"kl_dim_0": kl[0], ...}``: per-dimension KL values keyed by their metrics.csv column names."""
    return {f"{KL_PER_DIM_PREFIX}{i}": float(v) for i, v in enumerate(np.asarray(kl).ravel())}


def gaussian_total_correlation(mu: np.ndarray) -> float:
    """Total correlation of a Gaussian fitted to ``mu``: 0.5 (Σ_u log Σ_uu − log det Σ), nats.

    Equals −0.5 log det R with R the correlation matrix. Range [0, inf], lower = more independent
    (disentangled) dimensions: 0 = uncorrelated dims; two dims with correlation ρ give −0.5 log(1 − ρ²)
    (ρ = 0.9 → 0.83 nats). Dimensions with exactly zero variance (constant codes) are independent of
    everything and are left out; 0 for fewer than two varying dimensions; inf when one dimension is an
    exact linear function of the others.
    """
    mu = _as_2d(mu)
    if mu.shape[1] < 2 or mu.shape[0] < 2:
        return 0.0
    mu = mu[:, np.ptp(mu, axis=0) > 0]  # drop constant dims (a variance test would see rounding noise)
    if mu.shape[1] < 2:
        return 0.0
    corr = np.corrcoef(mu, rowvar=False)
    sign, logdet = np.linalg.slogdet(corr)
    if sign <= 0 or not np.isfinite(logdet):
        return float("inf")
    return float(max(0.0, -0.5 * logdet))


def aggregate_posterior_moments(mu: np.ndarray, logvar: np.ndarray | None) -> dict[str, float]:
    """Moments of the aggregate posterior q(z) = mean_x q(z|x) compared with the N(0, I) prior.

    With m = E[mu] and S = Cov(mu) + diag(E[exp(logvar)]) (law of total variance, ddof=0):

    - ``AGGPOST_MEAN_NORM``: ||m||, >= 0; prior 0, larger = codes drift away from the origin.
    - ``AGGPOST_VAR_MEAN``: mean of diag(S), > 0; prior 1; < 1 = codes huddle inside the prior
      (prior samples land in empty regions), > 1 = codes spread beyond it.
    - ``AGGPOST_KL_PRIOR``: KL(N(m, S) || N(0, I)) = 0.5 (tr S + m·m − d − log det S), nats, >= 0;
      0 = q(z) matches the prior in its first two moments, larger = the "prior hole" problem
      (samples from the prior do not look like encoded data).

    ``logvar`` None (a deterministic encoder): ``AGGPOST_MEAN_NORM`` only, the other two NaN.
    """
    mu = _as_2d(mu)
    if logvar is None:
        return {AGGPOST_MEAN_NORM: float(np.linalg.norm(mu.mean(axis=0))), AGGPOST_VAR_MEAN: float("nan"),
                AGGPOST_KL_PRIOR: float("nan")}
    logvar = _as_2d(logvar)
    d = mu.shape[1]
    m = mu.mean(axis=0)
    centred = mu - m
    cov = centred.T @ centred / len(mu) + np.diag(np.exp(logvar).mean(axis=0))
    sign, logdet = np.linalg.slogdet(cov)
    kl = 0.5 * (np.trace(cov) + m @ m - d - logdet) if sign > 0 else float("inf")
    return {
        AGGPOST_MEAN_NORM: float(np.linalg.norm(m)),
        AGGPOST_VAR_MEAN: float(np.mean(np.diag(cov))),
        AGGPOST_KL_PRIOR: float(kl),
    }
