"""Generation: which digits a VAE draws, judged by the shipped classifier (the image judge), and the latent grids
people plot.

Histogram metrics take classifier probabilities ``probs`` [N, n_classes] of generated images (from prior
samples or from a latent grid) and compare the predicted-class histogram with the real test labels. A sample
whose top class probability is below ``unreadable_below`` is *unreadable* (:func:`judged_labels` gives it the
label :data:`UNREADABLE`): it is counted in no class, so a blurry model shows up as a larger unreadable share
(:func:`readability_metrics`), never as more of whichever class a confused judge picks; class shares, entropy,
modes and KL count the readable samples only. Grid builders return latent codes; decoding them is the caller's
job. Within-run sampling intervals (95 %): :func:`class_share_intervals` (Wilson, per digit, over the readable
samples) and :func:`entropy_norm_interval` (bootstrap over the readable samples).
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy import special, stats

from vaediag.stats import BOOTSTRAP_RESAMPLES, bootstrap_interval, wilson_interval
from vaediag.columns import (
    N_CLASSES,
    CLASSIFIER_SCORE,
    CONFIDENCE,
    ENTROPY,
    ENTROPY_NORM,
    KL_FROM_DATA,
    MODES_COVERED,
    READABILITY_METRICS,
)

MODE_THRESHOLD = 0.01  # a class counts as a covered mode with >= 1 % of the samples
QUANTILE_LOW, QUANTILE_HIGH = 0.05, 0.95
# A sample whose top class probability is below this is unreadable. The image judge defines the calibrated value
# (its own UNREADABLE_BELOW, fitted with its temperature); this default holds until that value is wired in here.
UNREADABLE_BELOW = 0.5
UNREADABLE = -1  # the label of an unreadable sample (judged_labels)


def judged_labels(probs: np.ndarray, unreadable_below: float = UNREADABLE_BELOW) -> np.ndarray:
    """int64 [N]: each sample's most probable class, or :data:`UNREADABLE` (-1) where its top probability is below
    ``unreadable_below`` (0 = every sample readable)."""
    probs = np.asarray(probs)
    labels = np.argmax(probs, axis=1).astype(np.int64)
    labels[np.max(probs, axis=1) < unreadable_below] = UNREADABLE
    return labels


def label_counts(labels: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """Number of samples with each class label, int64 [n_classes]; labels outside 0..n_classes-1 (unreadable,
    off the codes) count in no class."""
    labels = np.asarray(labels)
    labels = labels[(labels >= 0) & (labels < n_classes)]
    return np.bincount(labels, minlength=n_classes)[:n_classes]


def class_counts(probs: np.ndarray, n_classes: int = N_CLASSES, unreadable_below: float = UNREADABLE_BELOW) -> np.ndarray:
    """Number of readable samples whose most probable class is c, int64 [n_classes]."""
    return label_counts(judged_labels(probs, unreadable_below), n_classes)


def label_shares(labels: np.ndarray, n_classes: int = N_CLASSES) -> np.ndarray:
    """Share of each class among the samples that have one (label >= 0), float64 [n_classes]; NaN when none has."""
    counts = label_counts(labels, n_classes)
    total = int(counts.sum())
    return counts / total if total else np.full(n_classes, np.nan)


def label_share_intervals(labels: np.ndarray, n_classes: int = N_CLASSES) -> tuple[np.ndarray, np.ndarray]:
    """95 % Wilson intervals (low, high) of :func:`label_shares` (NaN when no sample has a class)."""
    counts = label_counts(labels, n_classes)
    return wilson_interval(counts, np.full(n_classes, counts.sum()))


def class_shares(probs: np.ndarray, n_classes: int = N_CLASSES, unreadable_below: float = UNREADABLE_BELOW) -> np.ndarray:
    """Fraction of the readable samples predicted as each class (argmax), float64 [n_classes], sums to 1 (NaN
    when no sample is readable).

    Each share in [0, 1]; for a healthy MNIST generator every digit is near 0.1 (its test-set share).
    """
    return label_shares(judged_labels(probs, unreadable_below), n_classes)


def class_share_intervals(probs: np.ndarray, n_classes: int = N_CLASSES,
                          unreadable_below: float = UNREADABLE_BELOW) -> tuple[np.ndarray, np.ndarray]:
    """95 % Wilson intervals (low, high), float64 [n_classes] each, of :func:`class_shares`: argmax count of each
    class over the number of readable samples (``vaediag.stats.wilson_interval``; NaN for none).

    How to read it: the share a digit would have with unlimited samples from the same model lies between the
    two ends (95 %); a digit whose high end is below a threshold is rare beyond sampling noise, one whose
    interval straddles it cannot be called missing from this many samples.
    """
    return label_share_intervals(judged_labels(probs, unreadable_below), n_classes)


def readability_metrics(probs: np.ndarray, unreadable_below: float = UNREADABLE_BELOW) -> dict[str, float]:
    """The unreadable bucket of ``probs``, keyed by the un-prefixed ``READABILITY_METRICS`` names: the share of
    samples the judge cannot read ([0, 1], lower is better: crisper, more digit-like samples) with its 95 % Wilson
    interval over all samples, and the number of readable samples (the class shares' denominator)."""
    labels = judged_labels(probs, unreadable_below)
    unreadable = int(np.sum(labels == UNREADABLE))
    low, high = wilson_interval(unreadable, len(labels))
    values = [unreadable / len(labels) if len(labels) else np.nan, low, high, len(labels) - unreadable]
    return dict(zip(READABILITY_METRICS, (float(v) for v in values)))


def normalised_entropy(labels: np.ndarray, n_classes: int = N_CLASSES) -> float:
    """Entropy of the class histogram of integer ``labels`` / ln ``n_classes``, [0, 1]; 1 = all equally often."""
    counts = np.bincount(np.asarray(labels), minlength=n_classes)[:n_classes]
    return float(stats.entropy(counts) / np.log(n_classes))


def entropy_norm_interval(probs: np.ndarray, seed: int, resamples: int = BOOTSTRAP_RESAMPLES,
                          n_classes: int = N_CLASSES, unreadable_below: float = UNREADABLE_BELOW) -> tuple[float, float]:
    """95 % percentile-bootstrap interval of the normalised class entropy (``ENTROPY_NORM``): the readable samples'
    predicted classes (argmax of ``probs``) are resampled with replacement ``resamples`` times (seeded).

    It measures the sampling noise of a finite number of samples from one model (narrow for 10k samples),
    not the spread between training seeds; an entropy threshold inside it cannot be decided.
    """
    return labels_entropy_norm_interval(judged_labels(probs, unreadable_below), seed, resamples, n_classes)


def labels_entropy_norm_interval(labels: np.ndarray, seed: int, resamples: int = BOOTSTRAP_RESAMPLES,
                                 n_classes: int = N_CLASSES) -> tuple[float, float]:
    """:func:`entropy_norm_interval` of samples given by their integer class ``labels`` (negative labels, i.e.
    unreadable or unnamed samples, are left out first; NaN for none left)."""
    labels = np.asarray(labels)
    labels = labels[labels >= 0]
    if not len(labels):
        return np.nan, np.nan
    return bootstrap_interval(lambda y: normalised_entropy(y, n_classes), labels, resamples=resamples, seed=seed)


def histogram_metrics(
    probs: np.ndarray, reference_labels: np.ndarray, n_classes: int = N_CLASSES, *,
    unreadable_below: float = UNREADABLE_BELOW,
) -> dict[str, float]:
    """Class-histogram metrics of generated samples, keyed by the un-prefixed ``HISTOGRAM_METRICS`` names.

    The histogram counts argmax predictions of the readable rows of ``probs`` [N, n_classes] (top probability at
    least ``unreadable_below``; entropy, modes and KL are NaN when none is readable); confidence and classifier
    score use every row. The reference distribution is the label frequency of ``reference_labels`` (the real test
    labels). Use :func:`with_prefix` to turn the keys into ``prior_*`` / ``grid_*`` / ``qgrid_*`` columns.

    - ``ENTROPY``: entropy of the histogram, nats, [0, ln n_classes]; higher = more diverse;
      0 = one digit only (mode collapse), ln 10 = 2.303 = all digits equally often.
    - ``ENTROPY_NORM``: entropy / ln n_classes, [0, 1]; 1 = uniform over the digits.
    - ``MODES_COVERED``: classes with >= 1 % of the samples, 0..n_classes; higher is better.
    - ``KL_FROM_DATA``: KL(histogram || reference), nats, [0, inf]; lower is better, 0 = the same digit
      proportions as the test set; inf when samples fall in a class the reference never contains.
    - ``CONFIDENCE``: mean max class probability, [1/n_classes, 1]; higher = crisper, more
      digit-like samples; near 1/n_classes = the classifier cannot tell what was drawn.
    - ``CLASSIFIER_SCORE``: exp(E_x KL(p(y|x) || p(y))), p(y) = mean of ``probs`` (the Inception-score
      analogue), [1, n_classes]; higher is better: n_classes = every sample is a confident digit and all
      digits are equally frequent, 1 = all samples look alike (or all are ambiguous).
    """
    probs = np.asarray(probs, dtype=np.float64)
    shares = class_shares(probs, n_classes, unreadable_below)
    reference = np.bincount(np.asarray(reference_labels), minlength=n_classes)[:n_classes].astype(np.float64)
    reference /= reference.sum()

    readable = bool(np.isfinite(shares).all())
    entropy = float(stats.entropy(shares)) if readable else np.nan
    with np.errstate(divide="ignore"):
        kl_from_data = float(np.sum(special.rel_entr(shares, reference))) if readable else np.nan

    marginal = probs.mean(axis=0)
    kl_rows = np.sum(special.rel_entr(probs, marginal[None, :]), axis=1)
    return {
        ENTROPY: entropy,
        ENTROPY_NORM: float(entropy / np.log(n_classes)),
        MODES_COVERED: int(np.sum(shares >= MODE_THRESHOLD)) if readable else np.nan,
        KL_FROM_DATA: kl_from_data,
        CONFIDENCE: float(np.mean(np.max(probs, axis=1))),
        CLASSIFIER_SCORE: float(np.exp(np.mean(kl_rows))),
    }


def with_prefix(metrics: dict, prefix: str) -> dict:
    """Copy of ``metrics`` with every key prefixed, e.g. ``with_prefix(d, PRIOR)`` -> ``prior_entropy_nats``."""
    return {f"{prefix}{key}": value for key, value in metrics.items()}


def sample_prior(n: int, latent_dim: int, seed: int) -> np.ndarray:
    """``n`` seeded draws from the N(0, I) prior, float32 [n, latent_dim] (``np.random.default_rng(seed)``)."""
    return np.random.default_rng(seed).standard_normal((n, latent_dim), dtype=np.float32)


def _grid(axis_values: Callable[[int], np.ndarray], n: int, latent_dim: int) -> np.ndarray:
    """Row-major image-grid order: row i = y from high (top) to low, column j = x from low to high."""
    if latent_dim < 1:
        raise ValueError(f"latent_dim must be >= 1, got {latent_dim}")
    z = np.zeros((n * n, latent_dim), dtype=np.float32)
    if latent_dim == 1:
        z[:, 0] = axis_values(n * n)  # one sweep from low to high, read left to right, top to bottom
        return z
    xs = axis_values(n)
    ys = xs[::-1]
    z[:, 0] = np.tile(xs, n)
    z[:, 1] = np.repeat(ys, n)
    return z


def linear_grid(n: int, span: float, latent_dim: int) -> np.ndarray:
    """The n×n latent grid of the Keras VAE example, float32 [n*n, latent_dim].

    Dims 0 and 1 take ``np.linspace(-span, span, n)``; all other dims stay at the prior mean 0. Row-major
    in the order of the plotted image grid: row i (top to bottom) has z_1 = +span ... -span, column j
    (left to right) has z_0 = -span ... +span, so code ``i * n + j`` is the tile at row i, column j.
    For ``latent_dim == 1`` the n*n codes sweep z_0 from -span to +span in that reading order.
    """
    return _grid(lambda m: np.linspace(-span, span, m), n, latent_dim)


def quantile_grid(
    n: int, latent_dim: int, low: float = QUANTILE_LOW, high: float = QUANTILE_HIGH
) -> tuple[np.ndarray, float]:
    """The Gaussian-quantile grid of Kingma & Welling (and the classic Keras example), with its span.

    Dims 0 and 1 take ``scipy.stats.norm.ppf(np.linspace(low, high, n))`` (equal prior mass between
    neighbouring tiles), other dims 0; same order as :func:`linear_grid`. Returns (z float32
    [n*n, latent_dim], span) where span = max ``|coordinate|`` = ``norm.ppf(0.95)`` = 1.645 by default: the
    grid covers [-span, span] on both axes.
    """
    if not 0.0 < low < high < 1.0:
        raise ValueError(f"quantiles must satisfy 0 < low < high < 1, got low={low}, high={high}")
    def axis(m: int) -> np.ndarray:
        return stats.norm.ppf(np.linspace(low, high, m))

    z = _grid(axis, n, latent_dim)
    span = float(max(abs(stats.norm.ppf(low)), abs(stats.norm.ppf(high))))
    return z, span


def inside_fraction(mu: np.ndarray, span: float) -> float:
    """Fraction of codes with ``|mu_0| <= span`` and ``|mu_1| <= span`` (dim 0 only when latent_dim is 1).

    Range [0, 1], higher = the plotted grid window covers where the data actually lives. A grid showing
    only a few digits while this is low means the grid misses the codes, not that the model collapsed.
    """
    mu = np.asarray(mu)
    mu = mu.reshape(len(mu), -1)
    dims = min(2, mu.shape[1])
    return float(np.mean(np.all(np.abs(mu[:, :dims]) <= span, axis=1)))


def inside_share_per_class(mu: np.ndarray, labels: np.ndarray, span: float,
                           n_classes: int = N_CLASSES) -> np.ndarray:
    """Per digit: the share of that digit's own codes inside the grid window (the rule of
    :func:`inside_fraction`), float64 [n_classes], NaN for a digit without codes.

    Range [0, 1], higher = the grid window shows where this digit lives. A digit absent from a grid whose
    window holds few of its codes is not evidence of a collapse. Weighted by the digits' shares of
    ``labels`` the values add up to :func:`inside_fraction` of all codes.
    """
    mu = np.asarray(mu)
    mu = mu.reshape(len(mu), -1)
    dims = min(2, mu.shape[1])
    inside = np.all(np.abs(mu[:, :dims]) <= span, axis=1)
    labels = np.asarray(labels)
    counts = np.bincount(labels, minlength=n_classes)[:n_classes]
    hits = np.bincount(labels, weights=inside.astype(np.float64), minlength=n_classes)[:n_classes]
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(counts > 0, hits / np.maximum(counts, 1), np.nan)
