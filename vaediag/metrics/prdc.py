"""Precision, recall, density and coverage of generated vs real features (Naeem et al., ICML 2020).

Matches the reference implementation (clovaai/generative-evaluation-prdc, ``compute_prdc``): the
radius of a point is the euclidean distance to its k-th nearest neighbour within its own set (itself
excluded), and "inside" means strictly closer than that radius.

Speed and memory: the full N×M distance matrix is never built. Rows are processed in chunks of about
``CHUNK_BYTES``; each chunk of float32 squared distances ``|a|² + |b|² − 2 a·b`` is one matrix product of
augmented vectors ``[a, |a|², 1]·[−2b, 1, |b|²]`` (data centred on the real mean first, to limit
cancellation). Radii and cross distances go through the same kernel, so a pair of identical points
gets bit-identical distances in both passes and ties on a ball's boundary resolve as in the reference
(real features against themselves give precision, recall, coverage and density exactly 1). Real radii
depend only on the real set: compute them once with :func:`nearest_neighbour_radii` and pass them to
:func:`compute_prdc` for every checkpoint.
"""

from __future__ import annotations

import numpy as np

from vaediag.columns import COVERAGE, DENSITY, PRECISION, RECALL

PRDC_K = 5
CHUNK_BYTES = 64 * 2**20


class _Points:
    """float32 points centred on ``centre``, augmented so that one matrix product gives squared distances."""

    def __init__(self, features: np.ndarray, centre: np.ndarray):
        x = features - centre
        sq = np.einsum("ij,ij->i", x, x)[:, None]
        ones = np.ones_like(sq)
        self.rows = np.hstack([x, sq, ones])  # [x, |x|², 1]
        self.cols = np.hstack([-2.0 * x, ones, sq])  # [−2x, 1, |x|²]; ×(−2) is exact in floating point

    def __len__(self) -> int:
        return len(self.rows)


def _as_features(features: np.ndarray) -> np.ndarray:
    features = np.asarray(features, dtype=np.float32)
    if features.ndim != 2:
        raise ValueError(f"need a [N, F] feature array, got shape {features.shape}")
    return features


def _centre(features: np.ndarray) -> np.ndarray:
    return features.mean(axis=0, dtype=np.float64).astype(np.float32)


def _chunks(n_rows: int, n_cols: int):
    step = max(1, CHUNK_BYTES // (4 * max(n_cols, 1)))
    for start in range(0, n_rows, step):
        yield start, min(start + step, n_rows)


def _kth_squared_radii(points: _Points, k: int) -> np.ndarray:
    if len(points) <= k:
        raise ValueError(f"need more than k={k} points for k-nearest-neighbour radii, got {len(points)}")
    out = np.empty(len(points), dtype=np.float32)
    for start, stop in _chunks(len(points), len(points)):
        d2 = points.rows[start:stop] @ points.cols.T
        # Each point is its own (≈ 0) neighbour, so the (k+1)-th smallest is the k-th other one.
        out[start:stop] = np.partition(d2, k, axis=1)[:, k]
    return np.maximum(out, 0.0)


def nearest_neighbour_radii(features: np.ndarray, k: int = PRDC_K) -> np.ndarray:
    """Distance from each row of ``features`` [N, F] to its k-th nearest other row, float64 [N].

    Larger radius = sparser neighbourhood. Needs N > k. Pass the result as ``real_radii`` to
    :func:`compute_prdc` (with the same features and k) to skip recomputing it.
    """
    features = _as_features(features)
    return np.sqrt(_kth_squared_radii(_Points(features, _centre(features)), k).astype(np.float64))


def compute_prdc(
    real_features: np.ndarray,
    fake_features: np.ndarray,
    k: int = PRDC_K,
    real_radii: np.ndarray | None = None,
) -> dict[str, float]:
    """Precision / recall / density / coverage of ``fake_features`` [M, F] against ``real_features`` [N, F].

    With B(x, r) the open ball around x with radius r (distance to x's k-th neighbour in its own set):

    - ``PRECISION``: fraction of fake points inside some real ball, [0, 1], higher is better;
      low = the model draws things that do not look like any real digit (fidelity).
    - ``RECALL``: fraction of real points inside some fake ball, [0, 1], higher is better;
      low = parts of the real data are never generated (diversity).
    - ``DENSITY``: mean over fake points of (number of real balls containing it) / k, [0, N/k];
      about 1 when fake matches real, > 1 = fakes crowd the dense real regions, < 1 = fakes in sparse ones.
    - ``COVERAGE``: fraction of real balls that contain at least one fake point, [0, 1], higher is
      better; the outlier-robust counterpart of recall (1 = every real neighbourhood is generated).

    ``real_radii`` (from :func:`nearest_neighbour_radii` with the same k) skips recomputing them.
    """
    real_features, fake_features = _as_features(real_features), _as_features(fake_features)
    if real_features.shape[1] != fake_features.shape[1]:
        raise ValueError(f"feature dimensions differ: {real_features.shape} vs {fake_features.shape}")
    centre = _centre(real_features)
    real, fake = _Points(real_features, centre), _Points(fake_features, centre)
    if real_radii is None:
        real_r2 = _kth_squared_radii(real, k)
    else:
        if len(real_radii) != len(real):
            raise ValueError(f"real_radii has {len(real_radii)} entries for {len(real)} real points")
        # float32 -> float64 sqrt -> square -> float32 round-trips exactly to the kernel's value.
        real_r2 = np.square(np.asarray(real_radii, dtype=np.float64)).astype(np.float32)
    fake_r2 = _kth_squared_radii(fake, k)

    balls_per_fake = np.zeros(len(fake), dtype=np.int64)  # how many real balls contain each fake point
    real_in_fake_ball = np.zeros(len(real), dtype=bool)
    real_ball_has_fake = np.zeros(len(real), dtype=bool)
    for start, stop in _chunks(len(real), len(fake)):
        d2 = real.rows[start:stop] @ fake.cols.T
        inside_real_ball = d2 < real_r2[start:stop, None]
        balls_per_fake += np.add.reduce(inside_real_ball.view(np.uint8), axis=0, dtype=np.int64)
        real_ball_has_fake[start:stop] = inside_real_ball.any(axis=1)
        real_in_fake_ball[start:stop] = (d2 < fake_r2[None, :]).any(axis=1)

    return {
        PRECISION: float(np.mean(balls_per_fake > 0)),
        RECALL: float(np.mean(real_in_fake_ball)),
        DENSITY: float(np.mean(balls_per_fake) / k),
        COVERAGE: float(np.mean(real_ball_has_fake)),
    }
