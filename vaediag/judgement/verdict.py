"""The collapse verdict of one checkpoint: posterior collapse, a mode collapse of the model, an imbalance, or a
grid that misses digits the model draws.

:class:`VerdictEvidence` holds every number the verdict reads (with its interval): the class shares and entropy of
the prior samples from two judges (the image judge and the code judge, :mod:`vaediag.judgement.judges`) and the
image judge's recall on the model's reconstructions; :func:`collapse_verdict` runs :data:`VERDICT_RULES`, an ordered
list of small rules, and the first rule that applies decides. A share rule decides only where both judges'
intervals fall on the same side and the image judge can read the class; elsewhere the verdict is inconclusive.
:func:`vaediag.judgement.run_verdict.run_verdict` builds the evidence from a run's tables. How to read a verdict:
``kind`` is one of the ``VERDICT_*`` names, ``headline`` says it in words, ``checks`` are the threshold checks it
rests on (each with its interval, margin and three-way answer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from vaediag.judgement.judges import ClassAnswer, agreed, cannot_read, class_answers, recon_check
from vaediag.judgement.rules import (COLLAPSE_ENTROPY, GRID_ENTROPY_GAP, IMBALANCE_FACTOR, INSIDE_MIN, MISSING_SHARE,
                                     POSTERIOR_KL_DIM_MIN, Check)
from vaediag.stats import ABOVE, BELOW, INCONCLUSIVE, REFUTED, SUPPORTED, decide, share_interval

VERDICT_POSTERIOR_COLLAPSE, VERDICT_MODE_COLLAPSE = "posterior-collapse", "mode-collapse"
VERDICT_IMBALANCE, VERDICT_INCONCLUSIVE = "imbalance", "inconclusive"
VERDICT_WINDOW, VERDICT_RESOLUTION, VERDICT_HEALTHY = "window", "resolution", "healthy"
VERDICT_UNKNOWN, VERDICT_UNRELIABLE = "unknown", "unreliable"
VERDICT_NOT_APPLICABLE = "not-applicable"
VERDICT_HEADLINES = {
    VERDICT_POSTERIOR_COLLAPSE: "posterior collapse: the latent code carries no information; the decoder draws "
                                "(nearly) one image",
    VERDICT_MODE_COLLAPSE: "mode collapse of the model: both judges find digits missing from prior samples (the "
                           "upper end of each share's interval is below the threshold), so the grid's gaps are the "
                           "model's",
    VERDICT_IMBALANCE: "imbalance, not collapse: both judges find every digit drawn, but some far more often than "
                       "others",
    VERDICT_INCONCLUSIVE: "no verdict from this run: an interval straddles its threshold, the two judges disagree, "
                          "or the image judge cannot read a digit (see the checks and the judges' table)",
    VERDICT_WINDOW: "no collapse of the model: the grid window does not cover the region of the missing digits",
    VERDICT_RESOLUTION: "no collapse of the model: the grid window covers the missing digits' codes, but the grid "
                        "points miss their narrow regions",
    VERDICT_HEALTHY: "no collapse: the latent code is used, and prior samples and the grid both show every digit",
    VERDICT_UNKNOWN: "no verdict: the entropy or inside-fraction columns are missing, or the classifier could read "
                     "none of the prior samples",
    VERDICT_UNRELIABLE: "no verdict: the classifier cannot read the real test images or this model's "
                        "reconstructions of them, so its class histograms cannot judge the model",
    VERDICT_NOT_APPLICABLE: "not applicable: the encoder is deterministic, so the model has no prior whose samples "
                            "could show a collapse",
}
CHECK_ENTROPY = "prior entropy below threshold"
CHECK_CODE_ENTROPY = "code judge's prior entropy below threshold"
CHECK_INSIDE = "inside share below threshold"
NAN2 = (math.nan, math.nan)


# ============================================================================================ evidence
@dataclass(frozen=True)
class VerdictEvidence:
    """Everything :func:`collapse_verdict` reads about one checkpoint.

    Normalised class entropies ([0, 1]) of prior samples (``prior_entropy_norm`` with its interval
    ``prior_entropy_ci``) and of the linear grid, the fraction of test codes inside the grid window (with its
    interval); optionally the per-class prior shares ([10]) with their intervals (``prior_share_ci`` = (low[10],
    high[10]); else Wilson intervals from ``prior_samples``), the grid's shares, the data's shares, the share of
    each class's own test codes inside the grid window (``grid_inside_shares``, intervals ``grid_inside_ci``), the
    same entropy for real test images (``reference_entropy_norm``, the "data" row), the KL of each latent
    dimension (nats) and the number of active units. The image judge's numbers above have the code judge's beside
    them: ``code_shares`` with ``code_share_ci`` (else Wilson from ``code_samples``), ``code_entropy_norm`` with
    ``code_entropy_ci``; the image judge's validity: the upper ends of its per-class recall on the reconstructions
    (``recon_recall_high``) beside the latent kNN recall (``knn_recall``), its overall ``recon_accuracy`` (with
    ``recon_accuracy_ci``) beside ``knn_accuracy``; ``deterministic``: the encoder gives μ alone (no prior). NaN /
    None = not measured (a missing code judge leaves every share rule inconclusive).
    """

    prior_entropy_norm: float = math.nan
    grid_entropy_norm: float = math.nan
    grid_inside_fraction: float = math.nan
    prior_shares: np.ndarray | None = None
    grid_shares: np.ndarray | None = None
    reference_entropy_norm: float = math.nan
    kl_per_dim: tuple[float, ...] | None = None
    active_units: float = math.nan
    prior_entropy_ci: tuple[float, float] = NAN2
    prior_share_ci: tuple | None = None
    prior_samples: float = math.nan
    data_shares: np.ndarray | None = None
    grid_inside_shares: np.ndarray | None = None
    grid_inside_ci: tuple | None = None
    grid_inside_fraction_ci: tuple[float, float] = NAN2
    code_shares: np.ndarray | None = None
    code_share_ci: tuple | None = None
    code_samples: float = math.nan
    code_entropy_norm: float = math.nan
    code_entropy_ci: tuple[float, float] = NAN2
    recon_recall_high: np.ndarray | None = None
    knn_recall: np.ndarray | None = None
    recon_accuracy: float = math.nan
    recon_accuracy_ci: tuple[float, float] = NAN2
    knn_accuracy: float = math.nan
    deterministic: bool = False


@dataclass(frozen=True)
class Verdict:
    """Outcome of :func:`collapse_verdict`: ``kind`` (one of the ``VERDICT_*`` values); the classes both judges
    find missing from prior samples (upper CI bound of the share below MISSING_SHARE) and those neither missing nor
    drawn on the evidence (``prior_uncertain``: an interval straddles it, the judges disagree, or the image judge
    cannot read the class; ``judges_disagree`` and ``judge_unreadable`` name the last two); the classes absent from
    the grid; over- and under-drawn classes of an imbalance (both judges agree); the missing classes whose own test
    codes lie outside the grid window (``window_digits``) or inside it (``covered_digits``); the inactive latent
    dimensions out of ``latent_dims``; ``code_judge``: False when the run has no code judge; every threshold
    ``checks`` made; ``headline`` says it plainly."""

    kind: str
    prior_missing: tuple[int, ...] = ()
    grid_missing: tuple[int, ...] = ()
    inactive_dims: tuple[int, ...] = ()
    latent_dims: int = 0
    prior_uncertain: tuple[int, ...] = ()
    over_drawn: tuple[int, ...] = ()
    under_drawn: tuple[int, ...] = ()
    window_digits: tuple[int, ...] = ()
    covered_digits: tuple[int, ...] = ()
    inside_per_digit: bool = False
    checks: tuple[Check, ...] = ()
    judges_disagree: tuple[int, ...] = ()
    judge_unreadable: tuple[int, ...] = ()
    code_judge: bool = True

    @property
    def headline(self) -> str:
        return VERDICT_HEADLINES[self.kind]

    @property
    def partial_posterior_collapse(self) -> bool:
        """Some latent dimensions, but not all, are inactive."""
        return 0 < len(self.inactive_dims) < self.latent_dims

    def check(self, name: str) -> Check | None:
        return next((c for c in self.checks if c.name == name), None)


# ============================================================================================ helpers
def _below(values, threshold: float) -> tuple[int, ...]:
    """Positions of the finite ``values`` below ``threshold`` (() for None)."""
    if values is None:
        return ()
    v = np.asarray(values, dtype=float)
    return tuple(int(i) for i in np.flatnonzero(np.isfinite(v) & (v < threshold)))


def missing_digits(shares, low, high) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(missing, uncertain): classes whose share interval lies wholly below MISSING_SHARE, and classes whose
    interval straddles it (or that have no interval while the share itself is below it)."""
    answers = [decide(float(lo), float(hi), MISSING_SHARE, BELOW) for lo, hi in zip(low, high)]
    shares = np.asarray(shares, dtype=float)
    missing = tuple(d for d, a in enumerate(answers) if a == SUPPORTED)
    uncertain = tuple(d for d, a in enumerate(answers) if a == INCONCLUSIVE
                      and (math.isfinite(low[d]) or (math.isfinite(shares[d]) and shares[d] < MISSING_SHARE)))
    return missing, uncertain


def imbalance_digits(low, high, data_shares) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(over-drawn, under-drawn): classes whose share interval lies wholly above IMBALANCE_FACTOR × their data
    share, or wholly below their data share / IMBALANCE_FACTOR."""
    if data_shares is None:
        return (), ()
    data = np.asarray(data_shares, dtype=float)
    over = tuple(d for d in range(len(data)) if math.isfinite(low[d]) and low[d] > IMBALANCE_FACTOR * data[d])
    under = tuple(d for d in range(len(data)) if math.isfinite(high[d]) and high[d] < data[d] / IMBALANCE_FACTOR)
    return over, under


def _intervals(shares, ci, samples) -> tuple[np.ndarray, np.ndarray] | None:
    """A judge's share intervals: ``ci`` when given, else Wilson from ``shares`` and ``samples``; None without
    shares."""
    if ci is not None:
        return tuple(np.asarray(v, dtype=float) for v in ci)
    return None if shares is None else share_interval(np.asarray(shares, dtype=float), samples)


@dataclass(frozen=True)
class _Reading:
    """What every rule needs, derived once from the evidence: the base of every verdict (inactive dimensions,
    grid-missing and prior-missing / uncertain classes), both judges' share intervals, the per-class answers to
    "missing?", the two entropy checks and their agreed answer, the image judge's check on the reconstructions."""

    evidence: VerdictEvidence
    base: dict
    image_ci: tuple | None
    code_ci: tuple | None
    answers: list[ClassAnswer]
    entropy: Check
    entropy_answer: str
    recon: Check
    checks: tuple[Check, ...] = field(default=())


def _read(ev: VerdictEvidence) -> _Reading:
    kl = [] if ev.kl_per_dim is None else [float(v) for v in ev.kl_per_dim]
    base = {"inactive_dims": _below(kl, POSTERIOR_KL_DIM_MIN), "latent_dims": len(kl),
            "grid_missing": _below(ev.grid_shares, MISSING_SHARE)}
    image_ci = _intervals(ev.prior_shares, ev.prior_share_ci, ev.prior_samples) if ev.prior_shares is not None \
        else None
    code_ci = _intervals(ev.code_shares, ev.code_share_ci, ev.code_samples)
    unreadable = cannot_read(ev.recon_recall_high, ev.knn_recall)
    answers = class_answers(image_ci, code_ci, MISSING_SHARE, BELOW, unreadable) if image_ci is not None else []
    undecided = set(missing_digits(ev.prior_shares, *image_ci)[1]) if image_ci is not None else set()
    base.update(prior_missing=tuple(c for c, a in enumerate(answers) if a.answer == SUPPORTED),
                prior_uncertain=tuple(c for c, a in enumerate(answers) if a.answer == INCONCLUSIVE and (
                    c in undecided or a.image != INCONCLUSIVE)),
                judges_disagree=tuple(c for c, a in enumerate(answers) if not a.unreadable
                                      and {a.image, a.code} == {SUPPORTED, REFUTED}),
                judge_unreadable=unreadable, code_judge=code_ci is not None)
    hp, hc = float(ev.prior_entropy_norm), float(ev.code_entropy_norm)
    entropy = Check(CHECK_ENTROPY, hp, *map(float, ev.prior_entropy_ci), COLLAPSE_ENTROPY, BELOW,
                    "bootstrap over the readable prior samples")
    code = Check(CHECK_CODE_ENTROPY, hc, *map(float, ev.code_entropy_ci), COLLAPSE_ENTROPY, BELOW,
                 "bootstrap over the prior samples the code judge names")
    recon = recon_check(float(ev.recon_accuracy), *map(float, ev.recon_accuracy_ci), float(ev.knn_accuracy))
    checks = tuple(c for c in (entropy, code, recon) if math.isfinite(c.estimate))
    return _Reading(ev, base, image_ci, code_ci, answers, entropy, agreed(entropy.answer, code.answer), recon,
                    checks)


# ============================================================================================ the rules
Rule = Callable[[_Reading], "Verdict | None"]


def posterior_collapse(r: _Reading) -> Verdict | None:
    """No active unit, or every latent dimension's KL below POSTERIOR_KL_DIM_MIN: the code carries no information."""
    kl = r.evidence.kl_per_dim
    all_kl_low = bool(kl) and all(math.isfinite(float(v)) for v in kl) and len(r.base["inactive_dims"]) == len(kl)
    if float(r.evidence.active_units) == 0 or all_kl_low:
        return Verdict(VERDICT_POSTERIOR_COLLAPSE, **r.base)
    return None


def not_applicable(r: _Reading) -> Verdict | None:
    """A deterministic encoder (μ alone, no posterior variance): the model has no prior, so no prior-based verdict."""
    return Verdict(VERDICT_NOT_APPLICABLE, **r.base) if r.evidence.deterministic else None


def unreliable_judge(r: _Reading) -> Verdict | None:
    """The judge's class entropy on real test images is below COLLAPSE_ENTROPY (it does not see every class), or its
    accuracy on this model's reconstructions lies wholly below what it needs (:func:`judges.recon_check`)."""
    reference = float(r.evidence.reference_entropy_norm)
    if (math.isfinite(reference) and reference < COLLAPSE_ENTROPY) or r.recon.answer == SUPPORTED:
        return Verdict(VERDICT_UNRELIABLE, **r.base, checks=r.checks)
    return None


def nothing_measured(r: _Reading) -> Verdict | None:
    """Neither the prior entropy nor the prior shares are there."""
    ev = r.evidence
    return Verdict(VERDICT_UNKNOWN, **r.base) if not math.isfinite(ev.prior_entropy_norm) and ev.prior_shares is None \
        else None


def mode_collapse(r: _Reading) -> Verdict | None:
    """A class whose prior-share interval lies wholly below MISSING_SHARE for both judges (and that the image judge
    can read): the model does not draw it."""
    return Verdict(VERDICT_MODE_COLLAPSE, **r.base, checks=r.checks) if r.base["prior_missing"] else None


def undecided_prior(r: _Reading) -> Verdict | None:
    """A class neither missing nor drawn on the evidence (an interval straddling MISSING_SHARE, the judges
    disagreeing, the image judge unable to read it), or the entropy not below / not above COLLAPSE_ENTROPY for both
    judges alike."""
    if r.base["prior_uncertain"] or (math.isfinite(r.entropy.estimate) and r.entropy_answer == INCONCLUSIVE):
        return Verdict(VERDICT_INCONCLUSIVE, **r.base, checks=r.checks)
    return None


def imbalance(r: _Reading) -> Verdict | None:
    """Every class drawn, both judges' entropy intervals wholly below COLLAPSE_ENTROPY: the over- / under-drawn
    classes both judges agree on are named."""
    if r.entropy_answer != SUPPORTED:
        return None
    over, under = imbalance_agreed(r)
    return Verdict(VERDICT_IMBALANCE, **r.base, over_drawn=over, under_drawn=under, checks=r.checks)


def imbalance_agreed(r: _Reading) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """(over-drawn, under-drawn) classes on which both judges agree and that the image judge can read."""
    data = r.evidence.data_shares
    if data is None or r.image_ci is None:
        return (), ()
    data = np.asarray(data, dtype=float)
    unreadable = r.base["judge_unreadable"]
    found = []
    for limits, side in ((IMBALANCE_FACTOR * data, ABOVE), (data / IMBALANCE_FACTOR, BELOW)):
        answers = class_answers(r.image_ci, r.code_ci, limits, side, unreadable)
        found.append(tuple(c for c, a in enumerate(answers) if a.answer == SUPPORTED))
    return found[0], found[1]


def grid_misses(r: _Reading) -> Verdict | None:
    """The prior is fine but the grid misses a class (or its entropy is more than GRID_ENTROPY_GAP below the
    prior's): the missing classes' own inside shares decide window / resolution / inconclusive."""
    ev = r.evidence
    hp, hg = float(ev.prior_entropy_norm), float(ev.grid_entropy_norm)
    grid_low = math.isfinite(hg) and math.isfinite(hp) and hg < hp - GRID_ENTROPY_GAP
    if not (r.base["grid_missing"] or grid_low):
        return None
    window, covered, inside_checks, per_digit = _window_digits(r.base["grid_missing"], ev)
    checks = r.checks + inside_checks
    if not inside_checks:
        return Verdict(VERDICT_UNKNOWN, **r.base, checks=checks)
    answers = [c.answer for c in inside_checks]
    kind = (VERDICT_WINDOW if SUPPORTED in answers else VERDICT_RESOLUTION if all(a == REFUTED for a in answers)
            else VERDICT_INCONCLUSIVE)
    return Verdict(kind, **r.base, window_digits=window, covered_digits=covered, inside_per_digit=per_digit,
                   checks=checks)


def grid_unmeasured(r: _Reading) -> Verdict | None:
    """No grid entropy and no grid shares."""
    ev = r.evidence
    return Verdict(VERDICT_UNKNOWN, **r.base, checks=r.checks) \
        if not math.isfinite(ev.grid_entropy_norm) and ev.grid_shares is None else None


def healthy(r: _Reading) -> Verdict:
    """None of the above."""
    return Verdict(VERDICT_HEALTHY, **r.base, checks=r.checks)


VERDICT_RULES: tuple[Rule, ...] = (posterior_collapse, not_applicable, unreliable_judge, nothing_measured,
                                   mode_collapse, undecided_prior, imbalance, grid_misses, grid_unmeasured, healthy)


def collapse_verdict(evidence: VerdictEvidence) -> Verdict:
    """Tell posterior collapse, a mode collapse of the model, an imbalance and a grid that misses the codes apart.

    The rules of :data:`VERDICT_RULES`, in order, the first that applies deciding (constants of
    :mod:`vaediag.judgement.rules`): posterior collapse (no active unit, or every dimension's KL below
    POSTERIOR_KL_DIM_MIN) → not applicable (a deterministic encoder) → the judge is unreliable (its entropy on real
    images below COLLAPSE_ENTROPY, or its accuracy on the model's reconstructions wholly below RECON_READ_MIN or
    RECALL_GAP below the latent kNN accuracy) → nothing measured → mode collapse (a class's prior-share interval
    wholly below MISSING_SHARE for both judges) → inconclusive (a share interval straddling MISSING_SHARE, the judges
    disagreeing, a class the image judge cannot read, or the entropy intervals not both on one side of
    COLLAPSE_ENTROPY) → imbalance (both entropy intervals wholly below, every class drawn) → the grid misses a class:
    window / resolution / inconclusive from the missing classes' own inside shares (or the overall inside fraction)
    against INSIDE_MIN → healthy.

    Some but not all dimensions inactive (partial posterior collapse) is no verdict of its own: it is reported
    beside the verdict (``inactive_dims``).
    """
    reading = _read(evidence)
    for rule in VERDICT_RULES:
        verdict = rule(reading)
        if verdict is not None:
            return verdict
    raise AssertionError("the last rule always decides")  # pragma: no cover


def _window_digits(grid_missing, ev: VerdictEvidence):
    """(window classes, covered classes, inside checks, per class?) for the window-vs-resolution rule."""
    if grid_missing and ev.grid_inside_shares is not None:
        shares = np.asarray(ev.grid_inside_shares, dtype=float)
        low, high = (np.full(shares.shape, np.nan),) * 2 if ev.grid_inside_ci is None else ev.grid_inside_ci
        checks = tuple(Check(f"{CHECK_INSIDE}: digit {d}", float(shares[d]), float(low[d]), float(high[d]),
                             INSIDE_MIN, BELOW, "Wilson over the digit's test codes")
                       for d in grid_missing if math.isfinite(shares[d]))
        if checks:
            digits = [d for d in grid_missing if math.isfinite(shares[d])]
            window = tuple(d for d, c in zip(digits, checks) if c.answer == SUPPORTED)
            covered = tuple(d for d, c in zip(digits, checks) if c.answer == REFUTED)
            return window, covered, checks, True
    inside = float(ev.grid_inside_fraction)
    if not math.isfinite(inside):
        return (), (), (), False
    check = Check(CHECK_INSIDE, inside, *map(float, ev.grid_inside_fraction_ci), INSIDE_MIN, BELOW,
                  "Wilson over all test codes")
    window = tuple(grid_missing) if check.answer == SUPPORTED else ()
    return window, tuple(grid_missing) if check.answer == REFUTED else (), (check,), False
