"""``vaediag.stats``: every interval against an independent computation on known data (scipy's own routines,
hand formulas with table quantiles, a hand-written resampling loop), and ``decide`` on constructed cases for all
three answers on both sides."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats as st

from vaediag.stats import (ABOVE, BELOW, INCONCLUSIVE, REFUTED, SUPPORTED, bootstrap_interval, decide, share_interval,
                           slope_interval, t_interval, wilson_interval)

T_975_DF4 = 2.7764451051977987  # Student-t 97.5 % quantile, 4 degrees of freedom (printed tables: 2.776)
Z_975 = 1.959963984540054  # normal 97.5 % quantile (tables: 1.960)


# ---------------------------------------------------------------------------------------------- t interval
def test_t_interval_on_a_small_known_sample_by_hand():
    iv = t_interval([1.0, 2.0, 3.0, 4.0, 5.0])
    s = math.sqrt(2.5)  # sum of squared deviations 10, over n - 1 = 4
    assert (iv.n, iv.mean, iv.std) == (5, 3.0, pytest.approx(s))
    assert (iv.low, iv.high) == pytest.approx((3 - T_975_DF4 * s / math.sqrt(5), 3 + T_975_DF4 * s / math.sqrt(5)))
    assert iv.half_width == pytest.approx(1.963, abs=1e-3)


def test_t_interval_matches_scipy():
    values = np.array([0.068, 0.034, 0.120, 0.051, 0.089, 0.075])
    iv = t_interval(values)
    low, high = st.t.interval(0.95, len(values) - 1, loc=values.mean(), scale=st.sem(values))
    assert (iv.low, iv.high) == pytest.approx((low, high), rel=1e-12)


def test_t_interval_edge_cases():
    one = t_interval([0.9])
    assert one.n == 1 and one.mean == 0.9 and math.isnan(one.low) and math.isnan(one.high) and not one.has_interval
    assert t_interval([]).n == 0 and math.isnan(t_interval([]).mean)
    same = t_interval([2.0, 2.0, 2.0])
    assert same.low == same.high == 2.0
    assert t_interval([1.0, np.nan, 3.0, np.inf]).n == 2  # only finite values count


# ---------------------------------------------------------------------------------------------- Wilson
@pytest.mark.parametrize("k, n", [(0, 10), (10, 10), (3, 10), (0, 10000), (10000, 10000), (17, 10000), (1, 225)])
def test_wilson_matches_scipy_binomtest(k, n):
    low, high = wilson_interval(k, n)
    ci = st.binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
    assert (low, high) == pytest.approx((ci.low, ci.high), abs=1e-12)
    assert 0.0 <= low <= k / n <= high <= 1.0


def test_wilson_by_the_hand_formula_and_its_ends():
    k, n, z = 5, 20, Z_975
    p = k / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    assert wilson_interval(k, n) == pytest.approx((centre - half, centre + half))
    assert wilson_interval(0, 20)[0] == 0.0 and wilson_interval(20, 20)[1] == 1.0  # exactly the estimate's end
    lows, highs = wilson_interval(np.array([0, 5, 20]), np.array([20, 20, 20]))
    assert lows.shape == (3,) and highs[1] == pytest.approx(centre + half)
    assert all(math.isnan(v) for v in wilson_interval(0, 0))


# ---------------------------------------------------------------------------------------------- bootstrap
def test_bootstrap_is_a_seeded_resampling_loop():
    x = np.random.default_rng(0).exponential(size=300)
    low, high = bootstrap_interval(np.median, x, resamples=200, seed=7)
    rng = np.random.default_rng(7)  # the same draws written out
    values = [np.median(x[rng.integers(0, len(x), len(x))]) for _ in range(200)]
    assert (low, high) == pytest.approx(tuple(np.quantile(values, [0.025, 0.975])), abs=0)
    assert bootstrap_interval(np.median, x, resamples=200, seed=7) == (low, high)  # reproducible


def test_bootstrap_resamples_paired_samples_together():
    rng = np.random.default_rng(1)
    a = rng.normal(size=200)
    b = a + rng.normal(scale=0.1, size=200)
    low, high = bootstrap_interval(lambda u, v: float(np.mean(u - v)), a, b, resamples=200, seed=3)
    draw = np.random.default_rng(3)
    values = []
    for _ in range(200):
        idx = draw.integers(0, 200, 200)
        values.append(np.mean(a[idx] - b[idx]))
    assert (low, high) == pytest.approx(tuple(np.quantile(values, [0.025, 0.975])))
    assert all(math.isnan(v) for v in bootstrap_interval(np.mean, a, b[:10]))  # unequal lengths
    assert all(math.isnan(v) for v in bootstrap_interval(np.mean, np.array([])))


def test_bootstrap_coverage_of_a_known_mean_is_near_95_percent():
    """Intervals of the mean of 100 N(0, 1) draws, over 300 independent data sets, hold the true mean 0 about
    95 % of the time (percentile bootstrap, 200 resamples: a little under, never far)."""
    rng = np.random.default_rng(42)
    hits = 0
    for i in range(300):
        low, high = bootstrap_interval(np.mean, rng.normal(size=100), resamples=200, seed=i)
        hits += low <= 0.0 <= high
    assert 0.88 <= hits / 300 <= 0.99


# ---------------------------------------------------------------------------------------------- slope
def test_slope_interval_matches_linregress_and_the_t_quantile():
    rng = np.random.default_rng(5)
    x = np.arange(81, 101, dtype=float)  # the last 20 epochs
    y = 137.0 + 0.01 * (x - 90) + rng.normal(scale=0.25, size=x.size)
    iv = slope_interval(x, y)
    fit = st.linregress(x, y)
    half = st.t.ppf(0.975, x.size - 2) * fit.stderr
    assert (iv.n, iv.mean, iv.std) == (20, pytest.approx(fit.slope), pytest.approx(fit.stderr))
    assert (iv.low, iv.high) == pytest.approx((fit.slope - half, fit.slope + half))


def test_slope_interval_by_hand_and_edge_cases():
    # y = 2x + (+1, -1, +1, -1) around the line: slope and residuals by the textbook formulas
    x, y = np.array([0.0, 1, 2, 3]), np.array([1.0, 1, 5, 5])
    sxx = np.sum((x - x.mean()) ** 2)
    slope = np.sum((x - x.mean()) * (y - y.mean())) / sxx
    resid = y - (y.mean() + slope * (x - x.mean()))
    se = math.sqrt(np.sum(resid ** 2) / (len(x) - 2) / sxx)
    iv = slope_interval(x, y)
    assert iv.mean == pytest.approx(slope) and iv.std == pytest.approx(se)
    assert iv.high - iv.mean == pytest.approx(4.302652729911275 * se)  # t 97.5 %, 2 degrees of freedom
    two = slope_interval([0, 1], [0, 2])
    assert two.mean == pytest.approx(2.0) and not two.has_interval
    assert math.isnan(slope_interval([1, 1, 1], [1, 2, 3]).mean)  # no spread in x
    assert slope_interval([0, 1, 2, np.nan], [0, 1, 2, 5]).n == 3  # non-finite pairs dropped


# ---------------------------------------------------------------------------------------------- decide
@pytest.mark.parametrize("low, high, threshold, side, answer", [
    (0.91, 0.95, 0.90, ABOVE, SUPPORTED),  # wholly above
    (0.83, 0.88, 0.90, ABOVE, REFUTED),  # wholly below
    (0.86, 0.92, 0.90, ABOVE, INCONCLUSIVE),  # straddles
    (0.85, 0.90, 0.90, ABOVE, REFUTED),  # touching from below: not above
    (0.001, 0.004, 0.01, BELOW, SUPPORTED),  # a share wholly below 1 %: missing
    (0.02, 0.05, 0.01, BELOW, REFUTED),
    (0.005, 0.02, 0.01, BELOW, INCONCLUSIVE),
    (0.01, 0.03, 0.01, BELOW, REFUTED),  # touching from above: not below
    (math.nan, math.nan, 0.9, ABOVE, INCONCLUSIVE),  # n = 1: no interval
    (0.5, math.nan, 0.9, BELOW, INCONCLUSIVE),
])
def test_decide_all_three_answers_on_both_sides(low, high, threshold, side, answer):
    assert decide(low, high, threshold, side) == answer


def test_decide_on_intervals_computed_from_data():
    seeds_epoch30 = [0.878, 0.831, 0.899, 0.892]  # the four seeds of the prior entropy at epoch 30
    iv = t_interval(seeds_epoch30)
    assert decide(iv.low, iv.high, 0.90, BELOW) == INCONCLUSIVE  # mean 0.875, but the interval reaches 0.90
    missing = wilson_interval(3, 10000)  # 3 of 10k prior samples read as this digit
    assert decide(*missing, 0.01, BELOW) == SUPPORTED
    with pytest.raises(ValueError):
        decide(0.1, 0.2, 0.5, "sideways")


def test_share_interval_is_wilson_of_the_rounded_count():
    """A stored share of n samples: the Wilson interval of round(share · n) successes (scipy's binomtest)."""
    for share, n in ((0.0, 1000), (0.0324, 10000), (0.5, 7), (1.0, 225)):
        expected = st.binomtest(round(share * n), n).proportion_ci(method="wilson")
        assert share_interval(share, n) == pytest.approx((expected.low, expected.high))
    low, high = share_interval(np.array([0.1, 0.2]), np.array([100.0, 50.0]))
    for i, (k, n) in enumerate(((10, 100), (10, 50))):
        expected = st.binomtest(k, n).proportion_ci(method="wilson")
        assert (low[i], high[i]) == pytest.approx((expected.low, expected.high))
    assert all(np.isnan(share_interval(0.1, math.nan))) and all(np.isnan(share_interval(0.1, 0)))
