"""The collapse verdict of one checkpoint: posterior collapse, a mode collapse of the model, an imbalance, or a
grid that misses digits the model draws.

:class:`VerdictEvidence` holds every number the verdict reads (with its interval); :func:`collapse_verdict` runs
:data:`VERDICT_RULES`, an ordered list of small rules, and the first rule that applies decides. :func:`run_verdict`
builds the evidence from a run's tables (:mod:`vaediag.judgement.intervals` supplies intervals that older runs
lack) and :func:`verdict_table` lists the verdict of every checkpoint. How to read a verdict: ``kind`` is one of the
``VERDICT_*`` names, ``headline`` says it in words, ``checks`` are the threshold checks it rests on (each with its
interval, margin and three-way answer).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from vaediag import columns as C
from vaediag.judgement.formats import percent
from vaediag.judgement.intervals import (class_column, data_shares, grid_inside_shares, inside_fraction_ci,
                                         prior_entropy_ci, prior_share_ci)
from vaediag.judgement.rules import (COLLAPSE_ENTROPY, GRID_ENTROPY_GAP, IMBALANCE_FACTOR, INSIDE_MIN, MISSING_SHARE,
                                     POSTERIOR_KL_DIM_MIN, CI_TEXT, Check)
from vaediag.stats import BELOW, INCONCLUSIVE, REFUTED, SUPPORTED, decide, share_interval
from vaediag.store.rundir import Run

VERDICT_POSTERIOR_COLLAPSE, VERDICT_MODE_COLLAPSE = "posterior-collapse", "mode-collapse"
VERDICT_IMBALANCE, VERDICT_INCONCLUSIVE = "imbalance", "inconclusive"
VERDICT_WINDOW, VERDICT_RESOLUTION, VERDICT_HEALTHY = "window", "resolution", "healthy"
VERDICT_UNKNOWN, VERDICT_UNRELIABLE = "unknown", "unreliable"
VERDICT_HEADLINES = {
    VERDICT_POSTERIOR_COLLAPSE: "posterior collapse: the latent code carries no information; the decoder draws "
                                "(nearly) one image",
    VERDICT_MODE_COLLAPSE: "mode collapse of the model: prior samples miss digits (the upper end of their share's "
                           "interval is below the threshold), so the grid's gaps are the model's",
    VERDICT_IMBALANCE: "imbalance, not collapse: prior samples draw every digit, but some far more often than "
                       "others",
    VERDICT_INCONCLUSIVE: "no verdict from this run: an interval straddles its threshold (see the threshold "
                          "checks); replicate over seeds",
    VERDICT_WINDOW: "no collapse of the model: the grid window does not cover the region of the missing digits",
    VERDICT_RESOLUTION: "no collapse of the model: the grid window covers the missing digits' codes, but the grid "
                        "points miss their narrow regions",
    VERDICT_HEALTHY: "no collapse: the latent code is used, and prior samples and the grid both show every digit",
    VERDICT_UNKNOWN: "no verdict: the entropy or inside-fraction columns are missing",
    VERDICT_UNRELIABLE: "no verdict: the classifier does not find every digit in the real test images either, "
                        "so its class histograms cannot judge the model",
}
CHECK_ENTROPY = "prior entropy below threshold"
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
    dimension (nats) and the number of active units. NaN / None = not measured.
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


@dataclass(frozen=True)
class Verdict:
    """Outcome of :func:`collapse_verdict`: ``kind`` (one of the ``VERDICT_*`` values); the classes missing
    from prior samples (upper CI bound of the share below MISSING_SHARE) and those whose interval straddles
    it (``prior_uncertain``); the classes absent from the grid; over- and under-drawn classes of an imbalance;
    the missing classes whose own test codes lie outside the grid window (``window_digits``) or inside it
    (``covered_digits``); the inactive latent dimensions out of ``latent_dims``; every threshold ``checks``
    made; ``headline`` says it plainly."""

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


@dataclass(frozen=True)
class _Reading:
    """What every rule needs, derived once from the evidence: the base of every verdict (inactive dimensions,
    grid-missing and prior-missing / uncertain classes), the prior shares' intervals and the entropy check."""

    evidence: VerdictEvidence
    base: dict
    share_low: np.ndarray | None
    share_high: np.ndarray | None
    entropy: Check
    checks: tuple[Check, ...] = field(default=())


def _read(ev: VerdictEvidence) -> _Reading:
    kl = [] if ev.kl_per_dim is None else [float(v) for v in ev.kl_per_dim]
    base = {"inactive_dims": _below(kl, POSTERIOR_KL_DIM_MIN), "latent_dims": len(kl),
            "grid_missing": _below(ev.grid_shares, MISSING_SHARE)}
    low = high = None
    missing, uncertain = (), ()
    if ev.prior_shares is not None:
        shares = np.asarray(ev.prior_shares, dtype=float)
        low, high = (np.asarray(v, dtype=float) for v in ev.prior_share_ci) if ev.prior_share_ci is not None \
            else share_interval(shares, ev.prior_samples)
        missing, uncertain = missing_digits(shares, low, high)
    base.update(prior_missing=missing, prior_uncertain=uncertain)
    hp = float(ev.prior_entropy_norm)
    entropy = Check(CHECK_ENTROPY, hp, *map(float, ev.prior_entropy_ci), COLLAPSE_ENTROPY, BELOW,
                    "bootstrap over the prior samples")
    return _Reading(ev, base, low, high, entropy, (entropy,) if math.isfinite(hp) else ())


# ============================================================================================ the rules
Rule = Callable[[_Reading], "Verdict | None"]


def posterior_collapse(r: _Reading) -> Verdict | None:
    """No active unit, or every latent dimension's KL below POSTERIOR_KL_DIM_MIN: the code carries no information."""
    kl = r.evidence.kl_per_dim
    all_kl_low = bool(kl) and all(math.isfinite(float(v)) for v in kl) and len(r.base["inactive_dims"]) == len(kl)
    if float(r.evidence.active_units) == 0 or all_kl_low:
        return Verdict(VERDICT_POSTERIOR_COLLAPSE, **r.base)
    return None


def unreliable_judge(r: _Reading) -> Verdict | None:
    """The judge's class entropy on real test images is below COLLAPSE_ENTROPY: it does not see every class."""
    reference = float(r.evidence.reference_entropy_norm)
    return Verdict(VERDICT_UNRELIABLE, **r.base) if math.isfinite(reference) and reference < COLLAPSE_ENTROPY else None


def nothing_measured(r: _Reading) -> Verdict | None:
    """Neither the prior entropy nor the prior shares are there."""
    ev = r.evidence
    return Verdict(VERDICT_UNKNOWN, **r.base) if not math.isfinite(ev.prior_entropy_norm) and ev.prior_shares is None \
        else None


def mode_collapse(r: _Reading) -> Verdict | None:
    """A class whose prior-share interval lies wholly below MISSING_SHARE: the model does not draw it."""
    return Verdict(VERDICT_MODE_COLLAPSE, **r.base, checks=r.checks) if r.base["prior_missing"] else None


def undecided_prior(r: _Reading) -> Verdict | None:
    """A share interval straddling MISSING_SHARE, or the entropy interval straddling COLLAPSE_ENTROPY."""
    if r.base["prior_uncertain"] or (r.checks and r.entropy.answer == INCONCLUSIVE):
        return Verdict(VERDICT_INCONCLUSIVE, **r.base, checks=r.checks)
    return None


def imbalance(r: _Reading) -> Verdict | None:
    """Every class drawn, the entropy interval wholly below COLLAPSE_ENTROPY: over- / under-drawn classes named."""
    if not (r.checks and r.entropy.answer == SUPPORTED):
        return None
    over, under = imbalance_digits(r.share_low, r.share_high, r.evidence.data_shares) \
        if r.evidence.prior_shares is not None else ((), ())
    return Verdict(VERDICT_IMBALANCE, **r.base, over_drawn=over, under_drawn=under, checks=r.checks)


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


VERDICT_RULES: tuple[Rule, ...] = (posterior_collapse, unreliable_judge, nothing_measured, mode_collapse,
                                   undecided_prior, imbalance, grid_misses, grid_unmeasured, healthy)


def collapse_verdict(evidence: VerdictEvidence) -> Verdict:
    """Tell posterior collapse, a mode collapse of the model, an imbalance and a grid that misses the codes apart.

    The rules of :data:`VERDICT_RULES`, in order, the first that applies deciding (constants of
    :mod:`vaediag.judgement.rules`): posterior collapse (no active unit, or every dimension's KL below
    POSTERIOR_KL_DIM_MIN) → the judge is unreliable on real images (entropy below COLLAPSE_ENTROPY) → nothing
    measured → mode collapse (a class's prior-share interval wholly below MISSING_SHARE) → inconclusive (a share
    interval straddling MISSING_SHARE, or the entropy interval straddling COLLAPSE_ENTROPY) → imbalance (entropy
    interval wholly below, every class drawn) → the grid misses a class: window / resolution / inconclusive from
    the missing classes' own inside shares (or the overall inside fraction) against INSIDE_MIN → healthy.

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


# ============================================================================================ a run's verdict
def kl_columns(run: Run) -> list[str]:
    """The ``kl_dim_<i>`` columns of metrics.csv, by dimension."""
    found = [c for c in run.metrics.columns if c.startswith(C.KL_PER_DIM_PREFIX)
             and c[len(C.KL_PER_DIM_PREFIX):].isdigit()]
    return sorted(found, key=lambda c: int(c[len(C.KL_PER_DIM_PREFIX):]))


def run_evidence(run: Run, epoch: int) -> VerdictEvidence:
    """The :class:`VerdictEvidence` of one checkpoint of ``run``, with the intervals of :mod:`.intervals`."""
    inside = grid_inside_shares(run, epoch)
    kl = [run.value(c, epoch) for c in kl_columns(run)]
    return VerdictEvidence(
        prior_entropy_norm=run.value(C.PRIOR + C.ENTROPY_NORM, epoch),
        grid_entropy_norm=run.value(C.GRID + C.ENTROPY_NORM, epoch),
        grid_inside_fraction=run.value(C.GRID_INSIDE, epoch),
        prior_shares=class_column(run, C.CLASS_PRIOR_SHARE, epoch),
        grid_shares=class_column(run, C.CLASS_GRID_SHARE, epoch),
        reference_entropy_norm=run.reference(C.PRIOR + C.ENTROPY_NORM),
        kl_per_dim=tuple(kl) or None, active_units=run.value(C.ACTIVE_UNITS, epoch),
        prior_entropy_ci=prior_entropy_ci(run, epoch), prior_share_ci=prior_share_ci(run, epoch),
        data_shares=data_shares(run),
        grid_inside_shares=None if inside is None else inside[0],
        grid_inside_ci=None if inside is None else inside[1:3],
        grid_inside_fraction_ci=inside_fraction_ci(run, epoch))


def run_verdict(run: Run, epoch: int) -> Verdict:
    """:func:`collapse_verdict` on the numbers of one checkpoint of ``run``."""
    return collapse_verdict(run_evidence(run, epoch))


ENTROPY_CI_HEADER = f"entropy {CI_TEXT}"
ENTROPY_MARGIN_HEADER = f"margin vs {COLLAPSE_ENTROPY:g}"
ENTROPY_ANSWER_HEADER = f"entropy < {COLLAPSE_ENTROPY:g}?"
INSIDE_HEADER = "missing digits' codes inside window"


def check_cells(check: Check | None, write=lambda v: f"{v:.3f}") -> tuple[str, str, str]:
    """(interval, margin, answer) of a check as table cells ("" when there is no check)."""
    if check is None:
        return "", "", ""
    interval = f"[{write(check.low)}, {write(check.high)}]" if check.has_interval else "none"
    return interval, f"{check.margin:+.3f}", check.answer


def _named(classes, labels) -> str:
    """The classes' names ("2, 3" for MNIST's digits, "Pullover, Dress" for Fashion-MNIST), "–" for none."""
    return ", ".join(classes.name(i) for i in labels) or "–"


def _inside_key(classes, check: Check) -> str:
    """The class an inside-window check is about ("inside ...: digit 0" -> "0" / "T-shirt/top"), else "all"."""
    return _named(classes, [int(check.name.rpartition(" ")[2])]) if ":" in check.name else "all"


def verdict_table(run: Run) -> pd.DataFrame:
    """One row per checkpoint: the verdict's inputs, the entropy check with its interval, margin and answer,
    and the outcome."""
    rows, names = [], run.classes
    for epoch in run.epochs:
        verdict = run_verdict(run, epoch)
        interval, margin, answer = check_cells(verdict.check(CHECK_ENTROPY))
        inside = [c for c in verdict.checks if c.name.startswith(CHECK_INSIDE)]
        rows.append({C.EPOCH: epoch, "active units": run.value(C.ACTIVE_UNITS, epoch),
                     "inactive dims": (", ".join(map(str, verdict.inactive_dims)) or "–") if verdict.latent_dims
                     else "",
                     "prior entropy (norm.)": run.value(C.PRIOR + C.ENTROPY_NORM, epoch),
                     ENTROPY_CI_HEADER: interval, ENTROPY_MARGIN_HEADER: margin, ENTROPY_ANSWER_HEADER: answer,
                     "missing from prior": _named(names, verdict.prior_missing),
                     "uncertain digits": _named(names, verdict.prior_uncertain),
                     "over-drawn": _named(names, verdict.over_drawn),
                     "under-drawn": _named(names, verdict.under_drawn),
                     "grid entropy (norm.)": run.value(C.GRID + C.ENTROPY_NORM, epoch),
                     "missing from grid": _named(names, verdict.grid_missing),
                     "inside grid window": run.value(C.GRID_INSIDE, epoch),
                     INSIDE_HEADER: "; ".join(f"{_inside_key(names, c)}: {percent(c.estimate)} "
                                              f"{check_cells(c, percent)[0]} {c.answer}" for c in inside) or "–",
                     "verdict": verdict.kind})
    return pd.DataFrame(rows).set_index(C.EPOCH)

