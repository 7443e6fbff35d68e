"""The rules that turn numbers into words: every threshold, the verdict functions, and the one table of rules.

Everything here is pure (numbers in, words or a :class:`Verdict` out). :func:`rules` lists each rule with
the values of its constants; that one table is printed in the report's "How the findings are written"
section and in the README (``vaediag.report.rules_markdown``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vaediag import columns as C
from vaediag.metrics.usage import ACTIVE_THRESHOLD
from vaediag.rundir import HISTORY_FILE, PAIRS_FILE, PER_CLASS_FILE

from .formats import COLUMN_NUMBER_FORMATS, NUMBER_FORMAT_DESCRIPTIONS, percent

# --- Q1: separation -------------------------------------------------------------------------------------
SILHOUETTE_CHANGE = 0.02  # absolute change of silhouette that counts as rising / falling
SILHOUETTE_LEVELS = (  # (lower bound, words); first match wins
    (0.5, "clearly separated clusters"),
    (0.25, "clusters that partly overlap"),
    (0.0, "strongly overlapping clusters"),
    (-math.inf, "no clusters by digit"),
)
KNN_CHANGE = 0.01  # absolute change of kNN accuracy (1 percentage point)
TOP_PAIRS = 3  # most-mixed pairs listed per checkpoint
PAIR_CHANGE = 0.01  # absolute change of a pair's confusion rate
# --- Q2: generated digits -------------------------------------------------------------------------------
CONFIDENCE_CHANGE = 0.01  # absolute change of mean classifier confidence
FRECHET_CHANGE_REL = 0.05  # relative change of the Fréchet distance
RECON_GOOD = 0.90  # reconstruction accuracy at which digit identity counts as preserved
# --- Q3: training length --------------------------------------------------------------------------------
TRAIN_LENGTH_EPOCH = 30  # Q3 asks whether training past this epoch helps (the loss figure marks it)
LOSS_CHANGE_REL = 0.002  # a test-loss change smaller than 0.2 % of the loss is "flat"
GAP_REL = 0.02  # test loss more than 2 % above train loss = a train-test gap (overfitting)
DIVERSITY_DROPS = {  # column -> drop (middle -> last checkpoint) that counts as "diversity falls"
    C.PRIOR + C.ENTROPY_NORM: 0.02,
    C.PRIOR + C.MODES_COVERED: 1,
    C.RECALL: 0.02,
    C.COVERAGE: 0.02,
}
# --- verdict --------------------------------------------------------------------------------------------
POSTERIOR_KL_DIM_MIN = 0.01  # nats: a latent dimension with less KL carries no information (inactive)
MISSING_SHARE = 0.01  # a digit with a smaller share of the samples is missing (same as modes_covered)
COLLAPSE_ENTROPY = 0.90  # prior normalised entropy below this = mode collapse even with no digit missing
GRID_ENTROPY_GAP = 0.05  # grid entropy this far below the prior's = the grid under-represents digits
INSIDE_MIN = 0.90  # a grid window holding fewer test codes than this does not cover the latent space
LIST_VALUES_UP_TO = 3  # missing digits / inactive dimensions are listed with their values up to this many

VERDICT_POSTERIOR_COLLAPSE, VERDICT_MODE_COLLAPSE = "posterior-collapse", "mode-collapse"
VERDICT_WINDOW, VERDICT_RESOLUTION, VERDICT_HEALTHY = "window", "resolution", "healthy"
VERDICT_UNKNOWN, VERDICT_UNRELIABLE = "unknown", "unreliable"
VERDICT_HEADLINES = {
    VERDICT_POSTERIOR_COLLAPSE: "posterior collapse: the latent code carries no information; the decoder draws "
                                "(nearly) one image",
    VERDICT_MODE_COLLAPSE: "mode collapse of the model: prior samples miss digits too, so the grid's gaps are "
                           "the model's",
    VERDICT_WINDOW: "no collapse of the model: the grid window does not cover the region of the missing digits",
    VERDICT_RESOLUTION: "no collapse of the model: the grid window covers the codes, but the grid points miss "
                        "the narrow regions of some digits",
    VERDICT_HEALTHY: "no collapse: the latent code is used, and prior samples and the grid both show every digit",
    VERDICT_UNKNOWN: "no verdict: the entropy or inside-fraction columns are missing",
    VERDICT_UNRELIABLE: "no verdict: the classifier does not find every digit in the real test images either, "
                        "so its class histograms cannot judge the model",
}


# ============================================================================================ words
def trend(first: float, last: float, threshold: float, up: str, down: str, same: str) -> str:
    """``up`` when ``last`` exceeds ``first`` by more than ``threshold``, ``down`` when it is lower by more,
    else ``same``."""
    if last - first > threshold:
        return up
    if first - last > threshold:
        return down
    return same


def silhouette_level(silhouette: float) -> str:
    """The words for a silhouette value (``SILHOUETTE_LEVELS``)."""
    return next(words for bound, words in SILHOUETTE_LEVELS if silhouette >= bound)


# ============================================================================================ verdict
@dataclass(frozen=True)
class Verdict:
    """Outcome of :func:`collapse_verdict`: ``kind`` (one of the ``VERDICT_*`` values), the digits missing
    from prior samples and from the grid, the inactive latent dimensions (KL below
    ``POSTERIOR_KL_DIM_MIN``) out of ``latent_dims`` whose KL is known; ``headline`` says it plainly."""

    kind: str
    prior_missing: tuple[int, ...] = ()
    grid_missing: tuple[int, ...] = ()
    inactive_dims: tuple[int, ...] = ()
    latent_dims: int = 0

    @property
    def headline(self) -> str:
        return VERDICT_HEADLINES[self.kind]

    @property
    def partial_posterior_collapse(self) -> bool:
        """Some latent dimensions, but not all, are inactive."""
        return 0 < len(self.inactive_dims) < self.latent_dims


def _below(values, threshold: float) -> tuple[int, ...]:
    """Positions of the finite ``values`` below ``threshold`` (() for None)."""
    if values is None:
        return ()
    v = np.asarray(values, dtype=float)
    return tuple(int(i) for i in np.flatnonzero(np.isfinite(v) & (v < threshold)))


def collapse_verdict(prior_entropy_norm: float, grid_entropy_norm: float, grid_inside_fraction: float, *,
                     prior_shares=None, grid_shares=None, reference_entropy_norm: float = float("nan"),
                     kl_per_dim=None, active_units: float = float("nan")) -> Verdict:
    """Tell posterior collapse, a mode collapse of the model and a grid that misses the codes apart.

    Inputs: normalised class entropies of prior samples and of the linear grid ([0, 1]), the fraction of
    test codes inside the grid window ([0, 1]); optionally the per-digit shares ([10] each), the same
    entropy for real test images (the "data" row), the KL of each latent dimension (nats) and the number
    of active units. Rules, in order (constants of this module):

    1. active units == 0, or every latent dimension's KL < POSTERIOR_KL_DIM_MIN -> ``"posterior-collapse"``:
       the code carries no information about the input, the decoder draws (nearly) one image;
    2. the reference entropy is below COLLAPSE_ENTROPY -> ``"unreliable"``: the classifier does not see
       every digit in real images, so its histograms cannot judge the model;
    3. prior samples miss a digit (share < MISSING_SHARE) or their entropy < COLLAPSE_ENTROPY
       -> ``"mode-collapse"``: the model itself does not generate those digits;
    4. else the grid misses a digit, or its entropy is more than GRID_ENTROPY_GAP below the prior's:
       inside fraction < INSIDE_MIN -> ``"window"`` (the window does not cover those digits' region),
       otherwise ``"resolution"`` (the window covers the codes, the grid points miss narrow regions);
    5. else ``"healthy"``. Missing entropy (NaN) -> ``"unknown"``.

    Some but not all dimensions inactive (partial posterior collapse) is no verdict of its own: it is
    reported beside the verdict (``inactive_dims``).
    """
    hp, hg, inside = float(prior_entropy_norm), float(grid_entropy_norm), float(grid_inside_fraction)
    kl = [] if kl_per_dim is None else [float(v) for v in kl_per_dim]
    dims = {"inactive_dims": _below(kl, POSTERIOR_KL_DIM_MIN), "latent_dims": len(kl)}
    missing = {"prior_missing": _below(prior_shares, MISSING_SHARE), "grid_missing": _below(grid_shares, MISSING_SHARE)}
    no_units = float(active_units) == 0
    all_kl_low = bool(kl) and all(math.isfinite(v) for v in kl) and len(dims["inactive_dims"]) == len(kl)
    if no_units or all_kl_low:
        return Verdict(VERDICT_POSTERIOR_COLLAPSE, **missing, **dims)
    reference = float(reference_entropy_norm)
    if math.isfinite(reference) and reference < COLLAPSE_ENTROPY:
        return Verdict(VERDICT_UNRELIABLE, **missing, **dims)
    if not math.isfinite(hp) and prior_shares is None:
        return Verdict(VERDICT_UNKNOWN, **dims)
    if missing["prior_missing"] or (math.isfinite(hp) and hp < COLLAPSE_ENTROPY):
        return Verdict(VERDICT_MODE_COLLAPSE, **missing, **dims)
    grid_low = math.isfinite(hg) and math.isfinite(hp) and hg < hp - GRID_ENTROPY_GAP
    if missing["grid_missing"] or grid_low:
        if not math.isfinite(inside):
            return Verdict(VERDICT_UNKNOWN, **missing, **dims)
        return Verdict(VERDICT_WINDOW if inside < INSIDE_MIN else VERDICT_RESOLUTION, **missing, **dims)
    if not math.isfinite(hg) and grid_shares is None:
        return Verdict(VERDICT_UNKNOWN, **missing, **dims)
    return Verdict(VERDICT_HEALTHY, **missing, **dims)


# ============================================================================================ the rules table
@dataclass(frozen=True)
class Rule:
    """One rule of the findings: the topic it covers and how it is applied, with its constants' values."""

    topic: str
    text: str


def rules() -> list[Rule]:
    """Every rule of the report, with the values of the constants it uses (the report's "How the findings
    are written" section and the README's rules table)."""
    levels = "; ".join(f"≥ {bound:g}: {words}" for bound, words in SILHOUETTE_LEVELS if math.isfinite(bound))
    drops = ", ".join(f"{column} by more than {drop:g}" for column, drop in DIVERSITY_DROPS.items())
    percent_columns = ", ".join(c for c, kind in COLUMN_NUMBER_FORMATS.items() if kind == "percent")
    formats = "; ".join(f"{kind}: {words}" for kind, words in NUMBER_FORMAT_DESCRIPTIONS.items())
    return [
        Rule("Q1 silhouette", f"first → last checkpoint: “rises”/“falls” when it changes by more than "
                              f"{SILHOUETTE_CHANGE:g}, else “stays about the same”; level words: {levels}; "
                              f"below 0: no clusters by digit."),
        Rule("Q1 kNN accuracy", f"“rises”/“falls” when it changes by more than {percent(KNN_CHANGE)}."),
        Rule("Q1 pairs", f"the {TOP_PAIRS} highest confusion rates of {PAIRS_FILE} at the first and the last "
                         f"checkpoint; the top pair at the last checkpoint is the most mixed pair; “more/less "
                         f"mixed” when its rate moved by more than {percent(PAIR_CHANGE)}."),
        Rule("Q2 confidence", f"mean max class probability of prior samples; “crisper”/“less crisp” when it moved "
                              f"by more than {percent(CONFIDENCE_CHANGE)}; the data row gives the value on real "
                              f"digits."),
        Rule("Q2 classifier score", "exp(E KL(p(y|x) ‖ p(y))) of prior samples, 1 (one digit or blurry) to 10 "
                                    "(all digits, crisp), beside the data row."),
        Rule("Q2 Fréchet distance", f"“closer to”/“further from” real digits when it changed by more than "
                                    f"{percent(FRECHET_CHANGE_REL)} of its first value; reference: two halves of "
                                    f"the real test set."),
        Rule("Q2 class shares", f"most and least frequent digit of prior samples at the last checkpoint "
                                f"({PER_CLASS_FILE}), beside the same digits' test-set shares; modes covered = "
                                f"digits with at least {percent(MISSING_SHARE)} of the samples."),
        Rule("Q2 reconstructions", f"identity “preserved” when the classifier's accuracy on reconstructions is "
                                   f"at least {percent(RECON_GOOD)}, else “partly lost”."),
        Rule("Q3 test loss", f"{HISTORY_FILE} test loss at epoch {TRAIN_LENGTH_EPOCH} vs later epochs, with a "
                             f"tolerance of {percent(LOSS_CHANGE_REL)} of the loss: “keeps falling” (last lower, "
                             f"and within the tolerance of the best), “falls then rises” (best clearly below both), "
                             f"“rises”, or “is flat”."),
        Rule("Q3 train–test gap", f"at the last epoch, test loss more than {percent(GAP_REL)} above train loss = "
                                  f"overfitting; “the gap has grown” when it grew by more than "
                                  f"{percent(LOSS_CHANGE_REL)} of the loss since epoch {TRAIN_LENGTH_EPOCH}."),
        Rule("Q3 diversity", f"middle → last checkpoint; “diversity falls” when any of: {drops}."),
        Rule("Verdict: posterior collapse",
             f"checked first: active units = 0 (no latent dimension whose posterior mean varies with the input "
             f"by a variance above {ACTIVE_THRESHOLD:g}), or the KL of every latent dimension "
             f"({C.KL_PER_DIM_PREFIX}i) is below {POSTERIOR_KL_DIM_MIN:g} nats: the code carries no information "
             f"about the input (the information is at most the KL), so the decoder draws (nearly) one image. "
             f"Not a mode collapse: the prior-sample histograms of such a model say nothing about its modes."),
        Rule("Inactive latent dimensions",
             f"a dimension with KL below {POSTERIOR_KL_DIM_MIN:g} nats is inactive; when some but not all are "
             f"(partial posterior collapse), the verdict section names them with their KL and the other rules "
             f"still decide the verdict."),
        Rule("Verdict: missing digit", f"a digit with less than {percent(MISSING_SHARE)} of the samples."),
        Rule("Verdict: unreliable", f"the real test digits' normalised class entropy (data row) is below "
                                    f"{COLLAPSE_ENTROPY:g}, i.e. the classifier itself does not see every digit."),
        Rule("Verdict: mode collapse", f"prior samples miss a digit, or their normalised class entropy is below "
                                       f"{COLLAPSE_ENTROPY:g}: the model does not generate those digits."),
        Rule("Verdict: window", f"prior samples are fine but the grid misses a digit (or its entropy is more than "
                                f"{GRID_ENTROPY_GAP:g} below the prior's) and fewer than {percent(INSIDE_MIN)} of "
                                f"the test codes lie inside the grid window: the window does not cover that "
                                f"digit's region."),
        Rule("Verdict: resolution", f"as “window”, but at least {percent(INSIDE_MIN)} of the codes lie inside the "
                                    f"window: the grid points miss the digits' narrow regions."),
        Rule("Verdict: healthy", "no posterior collapse, and neither prior samples nor the grid miss a digit."),
        Rule("Number formats", f"{formats}. Percent: {percent_columns}."),
    ]
