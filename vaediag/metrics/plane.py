"""The 2-D plane of the latent space that the latent figures and the latent explorer show.

For up to two latent dimensions the plane is spanned by dimensions 0 and 1 themselves (origin 0: a code's
coordinates are its μ₀, μ₁); for more, by the first two principal components of the codes (origin: their mean;
sklearn ``PCA`` with the deterministic ``svd_solver="full"``), so a code's coordinates are its PC1 / PC2 scores.
:func:`plane_grid` gives latent codes on an evenly spaced grid of the plane (what the explorer decodes when a
reader clicks there): on the PCA plane every other direction sits at the codes' mean.

How to read the coordinates: the same units as μ; on the PCA plane distances are true distances within the plane,
but two clusters that overlap there may be apart in the other dimensions.
"""

from __future__ import annotations

import numpy as np

EXTENT_QUANTILES = (0.005, 0.995)  # robust extent of the codes on the plane
EXTENT_MARGIN = 0.08  # fraction of the range added on each side


def latent_plane(mu: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(origin [d], basis [2, d]) of the plane of codes ``mu`` [N, d] (float64): dims 0, 1 for d <= 2 (d = 1: the
    second axis is 0), else the PCA plane of the finite codes (origin = their mean, rows = PC1, PC2)."""
    mu = np.asarray(mu, dtype=np.float64).reshape(len(mu), -1)
    d = mu.shape[1]
    if d <= 2:
        basis = np.zeros((2, d))
        basis[0, 0] = 1.0
        if d == 2:
            basis[1, 1] = 1.0
        return np.zeros(d), basis
    from sklearn.decomposition import PCA

    finite = mu[np.all(np.isfinite(mu), axis=1)]
    if len(finite) < 2:
        basis = np.zeros((2, d))
        basis[0, 0] = basis[1, 1] = 1.0
        return np.zeros(d), basis
    pca = PCA(n_components=2, svd_solver="full").fit(finite)
    return pca.mean_.astype(np.float64), pca.components_.astype(np.float64)


def project(mu: np.ndarray, origin: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Coordinates [N, 2] of codes ``mu`` on the plane (origin, basis); rows with a non-finite code are NaN."""
    mu = np.asarray(mu, dtype=np.float64).reshape(len(mu), -1)
    coords = (mu - origin) @ np.asarray(basis, dtype=np.float64).T
    coords[~np.all(np.isfinite(mu), axis=1)] = np.nan
    return coords


def plane_extent(coords: np.ndarray, quantiles=EXTENT_QUANTILES, margin: float = EXTENT_MARGIN) -> np.ndarray:
    """[x_low, x_high, y_low, y_high] covering the robust range of ``coords`` plus ``margin`` of it on each side
    (a unit square around 0 when there is no finite point; never of zero width)."""
    points = np.asarray(coords, dtype=np.float64)
    points = points[np.all(np.isfinite(points), axis=1)]
    if len(points) == 0:
        return np.array([-1.0, 1.0, -1.0, 1.0])
    low, high = np.quantile(points, quantiles[0], axis=0), np.quantile(points, quantiles[1], axis=0)
    pad = (high - low) * margin + 1e-3
    low, high = low - pad, high + pad
    return np.array([low[0], high[0], low[1], high[1]])


def plane_grid(origin: np.ndarray, basis: np.ndarray, extent: np.ndarray, n: int) -> np.ndarray:
    """Latent codes [n * n, d] (float32) at the centres of an n x n grid over ``extent`` of the plane, row-major
    with the top row at the highest second coordinate (as the image is drawn): point ``i * n + j`` lies at
    x = x_low + (j + 0.5) * (x_high - x_low) / n, y = y_high - (i + 0.5) * (y_high - y_low) / n."""
    x_low, x_high, y_low, y_high = (float(v) for v in extent)
    xs = x_low + (np.arange(n) + 0.5) * (x_high - x_low) / n
    ys = y_high - (np.arange(n) + 0.5) * (y_high - y_low) / n
    a, b = np.meshgrid(xs, ys)  # rows: y (top first), columns: x
    coords = np.column_stack([a.ravel(), b.ravel()])
    return (np.asarray(origin, np.float64) + coords @ np.asarray(basis, np.float64)).astype(np.float32)


def stratified_indices(labels: np.ndarray, per_class: int, seed: int, n_classes: int = 10) -> np.ndarray:
    """Indices of up to ``per_class`` items of each class of ``labels``, drawn without replacement by a generator
    seeded with ``seed`` (the same for every checkpoint of a run), ascending."""
    labels = np.asarray(labels)
    rng = np.random.default_rng(seed)
    chosen = []
    for c in range(n_classes):
        members = np.flatnonzero(labels == c)
        if len(members):
            chosen.append(rng.choice(members, size=min(per_class, len(members)), replace=False))
    return np.sort(np.concatenate(chosen)).astype(np.int64) if chosen else np.zeros(0, np.int64)
