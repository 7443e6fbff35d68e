"""Precision / recall / density / coverage against the formulas of Naeem et al. (2020)."""

from __future__ import annotations

import numpy as np
import pytest

from vaediag.columns import COVERAGE, DENSITY, PRECISION, RECALL
from vaediag.metrics import prdc as prdc_module
from vaediag.metrics.prdc import compute_prdc, nearest_neighbour_radii


def reference_prdc(real, fake, k):
    """The reference implementation's formulas (clovaai/generative-evaluation-prdc), full matrices in float64."""
    real, fake = real.astype(np.float64), fake.astype(np.float64)

    def dist(a, b):
        return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))

    real_radii = np.sort(dist(real, real), axis=1)[:, k]
    fake_radii = np.sort(dist(fake, fake), axis=1)[:, k]
    d = dist(real, fake)
    return {
        PRECISION: (d < real_radii[:, None]).any(axis=0).mean(),
        RECALL: (d < fake_radii[None, :]).any(axis=1).mean(),
        DENSITY: (1.0 / k) * (d < real_radii[:, None]).sum(axis=0).mean(),
        COVERAGE: (d.min(axis=1) < real_radii).mean(),
    }


# Real points 0, 1, 3, 7, 30, 55 and fake points 0.5, 2.6, 10, 12 on a line, k = 1.
REAL_1D = np.array([[0.0], [1.0], [3.0], [7.0], [30.0], [55.0]])
FAKE_1D = np.array([[0.5], [2.6], [10.0], [12.0]])


def test_radii_by_hand():
    # Distance to the nearest other real point; to the 2nd nearest for k = 2.
    np.testing.assert_allclose(nearest_neighbour_radii(REAL_1D, k=1), [1, 1, 2, 4, 23, 25])
    np.testing.assert_allclose(nearest_neighbour_radii(REAL_1D, k=2), [3, 2, 3, 6, 25, 48])
    np.testing.assert_allclose(nearest_neighbour_radii(FAKE_1D, k=1), [2.1, 2.1, 2, 2], rtol=1e-6)


def test_hand_checked_one_dimensional_example():
    # Real balls (radius): 0 (1), 1 (1), 3 (2), 7 (4), 30 (23), 55 (25); fake balls: 0.5 (2.1), 2.6 (2.1),
    # 10 (2), 12 (2).
    # precision: every fake lies in some real ball (12 only in the outlier 30's wide ball) -> 4/4
    # recall:    0, 1 in ball(0.5), 3 in ball(2.6); 7, 30, 55 in no fake ball           -> 3/6
    # density:   real balls per fake: 0.5 -> {0, 1}, 2.6 -> {3}, 10 -> {7, 30}, 12 -> {30}: 6 / (1 * 4)
    # coverage:  every real ball but 55's contains a fake                                    -> 5/6
    result = compute_prdc(REAL_1D, FAKE_1D, k=1)
    assert result == pytest.approx({PRECISION: 1.0, RECALL: 0.5, DENSITY: 1.5, COVERAGE: 5 / 6})
    assert result == pytest.approx(reference_prdc(REAL_1D, FAKE_1D, k=1))


@pytest.mark.parametrize("chunk_bytes", [None, 4 * 300 * 7])
def test_identical_sets_are_perfect(chunk_bytes, monkeypatch):
    # Each point's ball holds itself and its k − 1 nearest neighbours strictly inside, and its k-th
    # neighbour exactly on the boundary: density is exactly 1 only if that tie resolves as "outside".
    if chunk_bytes:
        monkeypatch.setattr(prdc_module, "CHUNK_BYTES", chunk_bytes)
    features = np.random.default_rng(0).standard_normal((300, 8)).astype(np.float32) + 3.0
    expected = {PRECISION: 1.0, RECALL: 1.0, DENSITY: 1.0, COVERAGE: 1.0}
    assert reference_prdc(features, features, 5) == expected
    assert compute_prdc(features, features, k=5) == expected
    assert compute_prdc(features, features.copy(), k=5, real_radii=nearest_neighbour_radii(features)) == expected


@pytest.mark.parametrize("k", [1, 3, 5])
def test_matches_reference_formulas_on_random_features(k, monkeypatch):
    rng = np.random.default_rng(k)
    real = rng.standard_normal((400, 10)).astype(np.float32) + 5.0  # offset: tests the centring
    fake = (1.3 * rng.standard_normal((300, 10)) + 5.4).astype(np.float32)
    expected = reference_prdc(real, fake, k)
    assert compute_prdc(real, fake, k=k) == pytest.approx(expected, abs=1e-12)
    # The chunked loop gives the same answer with tiny chunks (several per call, a ragged last one).
    monkeypatch.setattr(prdc_module, "CHUNK_BYTES", 4 * 300 * 7)
    assert compute_prdc(real, fake, k=k) == pytest.approx(expected, abs=1e-12)


def test_precomputed_real_radii_are_reused():
    rng = np.random.default_rng(9)
    real = rng.standard_normal((200, 4)).astype(np.float32)
    fake = rng.standard_normal((150, 4)).astype(np.float32) + 0.5
    radii = nearest_neighbour_radii(real, k=5)
    assert compute_prdc(real, fake, k=5, real_radii=radii) == compute_prdc(real, fake, k=5)
    with pytest.raises(ValueError):
        compute_prdc(real, fake, k=5, real_radii=radii[:-1])


def test_disjoint_sets_score_zero():
    rng = np.random.default_rng(10)
    real = rng.standard_normal((100, 3))
    result = compute_prdc(real, real + 100.0, k=3)
    assert result == {PRECISION: 0.0, RECALL: 0.0, DENSITY: 0.0, COVERAGE: 0.0}


def test_bad_inputs_raise():
    with pytest.raises(ValueError):
        nearest_neighbour_radii(np.zeros((5, 2)), k=5)
    with pytest.raises(ValueError):
        compute_prdc(np.zeros((10, 2)), np.zeros((10, 3)))
