"""Intervals and three-way decisions: how sure a number is, and what a threshold rule may conclude from it.

Every function is pure (numbers in, numbers out) and uses scipy's distributions:

- :func:`t_interval` — over seeds (replicated runs): mean, sample std and the Student-t 95 % interval of the mean;
  n = 1 gives no interval (NaN bounds), and the findings then say "n = 1".
- :func:`wilson_interval` — within one run, for a share k / n of samples (e.g. the share of prior samples the
  classifier reads as digit 3): the Wilson score interval, which stays inside [0, 1] and is sensible for k = 0.
- :func:`bootstrap_interval` — within one run, for a statistic of samples with no closed form (entropy of a
  class histogram, kNN accuracy): the percentile interval of the statistic over resamples of the samples.
- :func:`slope_interval` — the least-squares slope of y over x with its t interval (a trend over epochs).
- :func:`decide` — a threshold rule's answer from an interval: ``supported`` when the whole interval is on the
  claimed side of the threshold, ``refuted`` when it is wholly on the other side, ``inconclusive`` when it
  straddles the threshold (or there is no interval). The margin is the estimate minus the threshold.
- :func:`benjamini_hochberg` / :func:`fcr_confidence` — many decisions as one family: how many of m p-values
  the Benjamini–Hochberg procedure rejects at false discovery rate q, and the confidence level (1 − q·R/m) at
  which t-intervals exclude 0 exactly for the rejected ones (Benjamini & Yekutieli's false-coverage-rate
  intervals); :func:`t_test` — the estimate, standard error and degrees of freedom of a t-test, its two-sided
  p-value and its interval at any level.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy import stats as _st

CONFIDENCE = 0.95  # every interval vaediag reports is a 95 % interval
SUPPORTED, REFUTED, INCONCLUSIVE = "supported", "refuted", "inconclusive"
DECISIONS = (SUPPORTED, REFUTED, INCONCLUSIVE)
ABOVE, BELOW = "above", "below"
# resamples of the within-run bootstrap intervals: enough that a bound moves by less than half the printed unit
# (0.1 percentage point) between bootstrap seeds; tests/test_statistics_many.py measures it (200 did not suffice)
BOOTSTRAP_RESAMPLES = 2000
FDR = 0.05  # the false discovery rate of a family of decisions (the sweep report's)


@dataclass(frozen=True)
class Interval:
    """An estimate with its interval: ``n`` observations, ``mean`` (the estimate), ``std`` (sample std over the
    observations; NaN where it does not apply), and the ``low``–``high`` interval at ``confidence``
    (NaN when it cannot be computed, e.g. n = 1)."""

    n: int
    mean: float
    low: float
    high: float
    std: float = math.nan
    confidence: float = CONFIDENCE

    @property
    def has_interval(self) -> bool:
        return math.isfinite(self.low) and math.isfinite(self.high)

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2 if self.has_interval else math.nan


def t_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Mean of the finite ``values`` with the Student-t interval of the mean, mean ± t_{n-1} · s / √n.

    n = 0: everything NaN; n = 1: the value, no interval (NaN bounds), std NaN. Identical values give a
    zero-width interval.
    """
    v = np.asarray(values, dtype=float).ravel()
    v = v[np.isfinite(v)]
    n = int(v.size)
    if n == 0:
        return Interval(0, math.nan, math.nan, math.nan, math.nan, confidence)
    mean = float(v.mean())
    if n == 1:
        return Interval(1, mean, math.nan, math.nan, math.nan, confidence)
    std = float(v.std(ddof=1))
    half = float(_st.t.ppf(0.5 + confidence / 2, n - 1)) * std / math.sqrt(n)
    return Interval(n, mean, mean - half, mean + half, std, confidence)


def wilson_interval(successes, n, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray] | tuple[float, float]:
    """Wilson score interval of a share ``successes / n`` (scalars or arrays; n = 0 -> NaN bounds).

    (p + z²/2n ± z √(p(1-p)/n + z²/4n²)) / (1 + z²/n), z the normal quantile; stays within [0, 1].
    """
    k, m = np.asarray(successes, dtype=float), np.asarray(n, dtype=float)
    z = float(_st.norm.ppf(0.5 + confidence / 2))
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / m
        denom = 1 + z * z / m
        centre = (p + z * z / (2 * m)) / denom
        half = z * np.sqrt(p * (1 - p) / m + z * z / (4 * m * m)) / denom
        # the interval always holds p; min / max only undo float rounding (k = 0 gave a low end of 2e-19)
        low, high = np.clip(np.minimum(centre - half, p), 0.0, 1.0), np.clip(np.maximum(centre + half, p), 0.0, 1.0)
    low, high = np.where(m > 0, low, np.nan), np.where(m > 0, high, np.nan)
    if low.ndim == 0:
        return float(low), float(high)
    return low, high


def share_interval(shares, n, confidence: float = CONFIDENCE) -> tuple[np.ndarray, np.ndarray] | tuple[float, float]:
    """:func:`wilson_interval` of a share the tables store as a fraction of ``n`` samples: the count is
    round(share · n). Scalars or arrays (``n`` broadcast); NaN where ``n`` is unknown (NaN) or 0."""
    s, m = np.asarray(shares, dtype=float), np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore"):
        k = np.round(s * m)
    return wilson_interval(k, np.broadcast_to(m, k.shape), confidence)


def bootstrap_interval(statistic: Callable[..., float], *samples: np.ndarray, resamples: int = BOOTSTRAP_RESAMPLES,
                       seed: int = 0, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Percentile bootstrap interval of ``statistic(*samples)``: the samples (arrays of equal length, resampled
    together by row) are drawn with replacement ``resamples`` times with a seeded generator."""
    arrays = [np.asarray(s) for s in samples]
    n = len(arrays[0])
    if n == 0 or any(len(a) != n for a in arrays):
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    values = np.empty(resamples)
    for i in range(resamples):
        idx = rng.integers(0, n, n)
        values[i] = statistic(*(a[idx] for a in arrays))
    alpha = (1 - confidence) / 2
    low, high = np.quantile(values, [alpha, 1 - alpha])
    return float(low), float(high)


def slope_interval(x: Sequence[float], y: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """Least-squares slope of ``y`` over ``x`` (finite pairs) with its t interval (n - 2 degrees of freedom);
    fewer than 3 points: no interval. ``std`` holds the slope's standard error."""
    xv, yv = np.asarray(x, dtype=float), np.asarray(y, dtype=float)
    keep = np.isfinite(xv) & np.isfinite(yv)
    xv, yv = xv[keep], yv[keep]
    n = int(xv.size)
    if n < 2 or np.ptp(xv) == 0:
        return Interval(n, math.nan, math.nan, math.nan, math.nan, confidence)
    fit = _st.linregress(xv, yv)
    if n < 3:
        return Interval(n, float(fit.slope), math.nan, math.nan, math.nan, confidence)
    half = float(_st.t.ppf(0.5 + confidence / 2, n - 2)) * float(fit.stderr)
    return Interval(n, float(fit.slope), fit.slope - half, fit.slope + half, float(fit.stderr), confidence)


def decide(low: float, high: float, threshold: float, side: str = ABOVE) -> str:
    """Is the quantity ``side`` (ABOVE / BELOW) ``threshold``? ``supported`` when the interval
    [``low``, ``high``] lies wholly on that side, ``refuted`` when wholly on the other side (touching the
    threshold counts as not on that side), ``inconclusive`` when it straddles or is unknown (NaN)."""
    if side not in (ABOVE, BELOW):
        raise ValueError(f"side must be {ABOVE!r} or {BELOW!r}, got {side!r}")
    if not (math.isfinite(low) and math.isfinite(high)):
        return INCONCLUSIVE
    if side == ABOVE:
        return SUPPORTED if low > threshold else REFUTED if high <= threshold else INCONCLUSIVE
    return SUPPORTED if high < threshold else REFUTED if low >= threshold else INCONCLUSIVE


@dataclass(frozen=True)
class TTest:
    """A t-test of "the true value is 0": ``estimate`` with standard error ``se`` on ``dof`` degrees of freedom,
    from ``n`` observations (the smaller side of two samples); ``method`` says which test ("paired", "welch").
    No test (NaN p-value, no interval) when ``se`` is 0 -- the observations agree exactly, there is no noise
    estimate -- or there are too few observations."""

    n: int
    estimate: float
    se: float
    dof: float
    method: str = ""

    @property
    def testable(self) -> bool:
        return math.isfinite(self.estimate) and self.se > 0 and self.dof > 0

    @property
    def p(self) -> float:
        """The two-sided p-value, 2 · P(T_dof > abs(estimate) / se); NaN when not testable."""
        if not self.testable:
            return math.nan
        return float(2 * _st.t.sf(abs(self.estimate) / self.se, self.dof))

    def interval(self, confidence: float = CONFIDENCE) -> Interval:
        """estimate ± t_dof(0.5 + confidence / 2) · se (NaN bounds when not testable); ``std`` holds se."""
        if not self.testable:
            return Interval(self.n, self.estimate, math.nan, math.nan, self.se, confidence)
        half = float(_st.t.ppf(0.5 + confidence / 2, self.dof)) * self.se
        return Interval(self.n, self.estimate, self.estimate - half, self.estimate + half, self.se, confidence)


def benjamini_hochberg(pvalues: Sequence[float], q: float = FDR) -> int:
    """How many of the finite ``pvalues`` the Benjamini–Hochberg step-up procedure rejects at false discovery
    rate ``q``: the largest k with p_(k) ≤ k·q/m (m finite p-values; 0 when none qualifies). The rejected ones
    are those with p ≤ k·q/m."""
    p = np.sort(np.asarray([v for v in pvalues if math.isfinite(v)], dtype=float))
    m = p.size
    if m == 0:
        return 0
    ok = np.flatnonzero(p <= q * np.arange(1, m + 1) / m)
    return int(ok[-1] + 1) if ok.size else 0


def fcr_confidence(rejected: int, m: int, q: float = FDR) -> float:
    """The confidence level 1 − q·max(R, 1)/m of the intervals that go with Benjamini–Hochberg at ``q`` over ``m``
    tests with ``rejected`` = R rejections: a t-interval at this level excludes 0 exactly when its test is
    rejected, and the intervals of the rejected tests miss their true values at a rate of at most q on average
    (false coverage rate). ``CONFIDENCE`` when there is no test."""
    if m <= 0:
        return CONFIDENCE
    return 1.0 - q * max(rejected, 1) / m


def clip_interval(iv: Interval, bounds: tuple[float, float] | None) -> Interval:
    """``iv`` with its bounds clipped to the quantity's possible range ``bounds`` (low, high): a share's
    interval never below 0 or above 1. The estimate is not changed."""
    if bounds is None or not iv.has_interval:
        return iv
    low, high = max(iv.low, bounds[0]), min(iv.high, bounds[1])
    return Interval(iv.n, iv.mean, low, high, iv.std, iv.confidence)
