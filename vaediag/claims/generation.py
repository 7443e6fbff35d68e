"""Claims about generated digits: ``missing`` / ``rare`` / ``overrepresented`` (class shares), ``quality`` and
``diversity`` between two epochs (``mode_collapse``: :mod:`.collapse`).

Class shares: prior samples are a random sample (Wilson intervals of per_class.csv), read by two judges (the
classifier and the code judge, :mod:`.judged`): the prior part of a share claim is supported or refuted only when
both agree and the classifier can read the digit in the model's reconstructions. The linear and quantile grids are
fixed points, so a grid's share is exact for the grid shown (no sampling interval). A claim made from a grid
picture is a claim about the model's generated digits: it holds only when the grid (exact) and the prior samples
(both judges) bear it out, and a grid claim that does not hold is explained with the digit's prior shares and the
share of its own test codes inside the grid window. A deterministic encoder gets "not applicable" (inconclusive).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vaediag import columns as C
from vaediag.judgement import replicates as R
from vaediag.judgement.intervals import data_shares, grid_inside_shares, prior_entropy_ci
from vaediag.judgement.rules import INSIDE_MIN
from vaediag.store.rundir import METRICS_FILE, PER_CLASS_FILE, Run
from vaediag.stats import ABOVE, BELOW, INCONCLUSIVE, REFUTED, SUPPORTED, decide

from .judged import NOT_APPLICABLE, judged_counts, judged_share, not_applicable, share_of
from .measure import (DERIVED, Outcome, Subject, cell, class_cell, combine, decide_exact, num, with_ci)
from .schema import (DIVERSITY, MISSING, OVERREPRESENTED, QUALITY, RARE, SOURCES, Claim)

PICTURES = {"prior": "prior samples", "grid": "the linear grid", "qgrid": "the quantile grid"}
INSIDE_COLUMNS = {"grid": (C.CLASS_GRID_INSIDE, C.GRID_SPAN), "qgrid": (C.CLASS_QGRID_INSIDE, C.QGRID_SPAN)}
WHAT = {MISSING: "missing", RARE: "rare", OVERREPRESENTED: "over-represented"}
IN = {MISSING: "from", RARE: "in", OVERREPRESENTED: "in"}


# ============================================================================================ shares
def _threshold(kind: str, data_share: float, settings: dict) -> tuple[float, str]:
    """(threshold, side) of a share claim: missing below missing_share, rare below data / factor,
    over-represented above factor × data."""
    factor = settings["imbalance_factor"]
    if kind == MISSING:
        return settings["missing_share"], BELOW
    if kind == RARE:
        return data_share / factor, BELOW
    return data_share * factor, ABOVE


def _data_share(subject: Subject, epoch: int, digit: int) -> tuple[float, list]:
    run = subject.run
    value = class_cell(run, C.CLASS_DATA_SHARE, epoch, digit)
    if math.isfinite(value):
        return value, [cell(PER_CLASS_FILE, subject.run_name(run), C.CLASS_DATA_SHARE, epoch, digit, value)]
    shares = data_shares(run)
    value = float(shares[digit]) if shares is not None else math.nan
    return value, [cell(PER_CLASS_FILE, subject.run_name(run), C.CLASS_DATA_SHARE, C.DATA_EPOCH, digit, value)]


def inside_share(run: Run, source: str, epoch: int, digit: int) -> tuple[float, float, float]:
    """Share of ``digit``'s own test codes inside the window of grid ``source`` ("grid" / "qgrid") with its
    Wilson interval over the digit's test codes (:func:`vaediag.judgement.intervals.grid_inside_shares`)."""
    found = grid_inside_shares(run, epoch, source)
    if found is None:
        return math.nan, math.nan, math.nan
    return float(found[0][digit]), float(found[1][digit]), float(found[2][digit])


def window_text(run: Run, source: str, epoch: int) -> str:
    span = run.value(INSIDE_COLUMNS[source][1], epoch)
    return f"[-{num(C.GRID_SPAN, span)}, {num(C.GRID_SPAN, span)}] window" if math.isfinite(span) else "window"


def check_shares(claim: Claim, subject: Subject, settings: dict) -> Outcome:
    epoch, digits, source, kind = claim.get("epoch"), claim.get("digits"), claim.get("source"), claim.kind
    grid = source != "prior"
    how_prior = ("Wilson over the prior samples" if subject.single else f"t-interval over {subject.n} seeds, widened to "
                 "the mean of the seeds' Wilson bounds")
    parts, answers, evidence, notes = [], [], [], []
    if not_applicable(subject):
        return Outcome(INCONCLUSIVE, "the run's encoder is deterministic (evaluation settings: deterministic)",
                       f"{kind}: share claims need a model with a prior", NOT_APPLICABLE, [])
    for d in digits:
        data, data_evidence = _data_share(subject, epoch, d)
        threshold, side = _threshold(kind, data, settings)
        if not math.isfinite(threshold):
            answers.append(INCONCLUSIVE)
            parts.append(f"digit {d}: no data share to compare with")
            continue
        if kind != MISSING:
            evidence += data_evidence
        judged = judged_share(subject, epoch, d, threshold, side)
        prior, (p_low, p_high), p_ev = judged.image[0], judged.image[1:], judged.evidence
        prior_answer = judged.answer
        text = f"digit {d}: "
        if grid:
            column = SOURCES[source]
            value, low, high, g_ev = share_of(subject, column, epoch, d, exact=subject.single)
            grid_answer = decide(low, high, threshold, side)
            evidence += g_ev
            text += (f"{num(column, value)} of {PICTURES[source]}"
                     + (" (exact: fixed grid points)" if subject.single else f" [{num(column, low)}, "
                        f"{num(column, high)}]") + "; ")  # "; ": the grid's share is the card's first clause
            answer = combine([grid_answer, prior_answer])
        else:
            answer = prior_answer
        evidence += p_ev
        text += judged.text()
        if kind != MISSING:
            text += f" (test set {num(C.CLASS_DATA_SHARE, data)})"
        inside = (math.nan,) * 3
        if grid and subject.single:
            inside = inside_share(subject.run, source, epoch, d)
            if math.isfinite(inside[0]):
                column = INSIDE_COLUMNS[source][0]
                text += f", {with_ci(column, *inside)} of its test codes inside the {window_text(subject.run, source, epoch)}"
                evidence.append(cell(PER_CLASS_FILE, "", column, epoch, d, inside[0], ci_low=inside[1], ci_high=inside[2]))
        parts.append(text)
        answers.append(answer)
        if answer != SUPPORTED:
            judges_note = judged.note(WHAT[kind], threshold) if judged.answer != SUPPORTED else ""
            notes.append(judges_note or _share_note(subject, kind, source, epoch, _DigitPart(
                d, answer, prior, (p_low, p_high), inside, threshold, grid_answer if grid else None,
                value if grid else math.nan)))
    verdict = combine(answers)
    measured = "; ".join(parts) + f" (95 % CI: {how_prior}{judged_counts(subject, epoch)})"
    limit = {MISSING: f"{num(C.CLASS_PRIOR_SHARE, settings['missing_share'])}",
             RARE: f"its test-set share / {settings['imbalance_factor']:g}",
             OVERREPRESENTED: f"{settings['imbalance_factor']:g} × its test-set share"}[kind]
    rule = (f"{kind}: each digit's share of generated digits must lie wholly {'below' if kind != OVERREPRESENTED else 'above'} "
            f"{limit} with its 95 % CI ({how_prior}) for both judges, the classifier (readable prior samples) and "
            f"the code judge (the digits of each prior sample's nearest test codes), and the classifier must read "
            f"the digit in the model's reconstructions; otherwise inconclusive")
    if grid:
        rule += (f"; made from {PICTURES[source]}: its share there is "
                 + ("exact (fixed grid points, no sampling interval)" if subject.single else "over seeds")
                 + " and must meet the rule too; the claim is about the model, so it holds only when the grid "
                   "and the prior samples both bear it out")
    rule += "; several digits: supported when every digit's answer is, refuted when one is refuted"
    explanation = "" if verdict == SUPPORTED else "; ".join(n for n in notes if n)
    return Outcome(verdict, measured, rule, explanation, evidence)


@dataclass(frozen=True)
class _DigitPart:
    """One digit's part of a share claim: its answer, prior share with interval, inside-window share (value, low,
    high), the threshold, and the grid's answer and share (None / NaN for a prior claim)."""

    digit: int
    answer: str
    prior: float
    prior_ci: tuple[float, float]
    inside: tuple[float, float, float]
    threshold: float
    grid_answer: str | None
    grid_value: float


def _share_note(subject, kind: str, source: str, epoch: int, part: _DigitPart) -> str:
    """Why a digit's part of a share claim is refuted or inconclusive."""
    d, answer, prior, prior_ci, inside = part.digit, part.answer, part.prior, part.prior_ci, part.inside
    threshold, grid_answer, grid_value = part.threshold, part.grid_answer, part.grid_value
    what = WHAT[kind]
    prior_text = f"digit {d} is drawn in {num(C.CLASS_PRIOR_SHARE, prior)} of prior samples"
    if source == "prior":
        if answer == REFUTED:
            return f"{prior_text} (95 % CI [{num(C.CLASS_PRIOR_SHARE, prior_ci[0])}, " \
                   f"{num(C.CLASS_PRIOR_SHARE, prior_ci[1])}]), not {what}: the interval lies on the other side of " \
                   f"{num(C.CLASS_PRIOR_SHARE, threshold)}"
        if not math.isfinite(prior_ci[0]):
            return f"digit {d}: no interval for its prior share"
        return f"the interval of digit {d}'s prior share straddles {num(C.CLASS_PRIOR_SHARE, threshold)}" + (
            "; replicate over seeds" if subject.single else "")
    picture = f"{IN[kind]} {PICTURES[source]}"
    inside_text = ""
    if math.isfinite(inside[0]):
        window = window_text(subject.run, source, epoch)
        inside_text = f"{num(C.CLASS_GRID_INSIDE, inside[0])} of its codes lie inside the {window}"
    if grid_answer == SUPPORTED and answer == REFUTED:  # the grid shows it, the model does not
        if kind == MISSING and inside_text:
            window = decide(inside[1], inside[2], INSIDE_MIN, BELOW) if math.isfinite(inside[1]) else \
                decide_exact(inside[0], INSIDE_MIN, BELOW)
            if window == SUPPORTED:
                return f"{prior_text}; it is {what} {picture} because only {inside_text}"
            if window == REFUTED:
                return f"{prior_text}; it is {what} {picture} although {inside_text}: the grid points miss " \
                       f"its narrow region"
            return f"{prior_text}; it is {what} {picture}; {inside_text}"
        return f"{prior_text}; it is {what} {picture} only" + (f" ({inside_text})" if inside_text else "")
    if grid_answer == REFUTED:
        return (f"digit {d} makes up {num(C.CLASS_GRID_SHARE, grid_value)} of {PICTURES[source]}, not {what} there; "
                f"{prior_text}" + (f"; {inside_text}" if inside_text else ""))
    return (f"{prior_text}; the evidence does not decide whether it is {what}" +
            (f" ({inside_text})" if inside_text else ""))


# ============================================================================================ changes
def _change_over_seeds(subject: Subject, column: str, a: int, b: int) -> tuple:
    before = [r.value(column, a) for r in subject.runs]
    after = [r.value(column, b) for r in subject.runs]
    iv = R.paired_change(before, after)
    evidence = [cell(METRICS_FILE, r.name, column, e, None, v)
                for r, x, y in zip(subject.runs, before, after) for e, v in ((a, x), (b, y))]
    evidence.append(cell(DERIVED, "", f"paired change over {subject.n} seeds of metrics.csv {column}, epoch {a} → {b}",
                         b, None, iv.mean, ci_low=iv.low, ci_high=iv.high))
    return iv, evidence, float(np.nanmean(before)), float(np.nanmean(after))


def check_quality(claim: Claim, subject: Subject, settings: dict) -> Outcome:
    """``quality``: the Fréchet distance (lower = closer to real digits) falls (improves) / rises (worsens)."""
    a, b = claim.get("epochs")
    improves = claim.get("direction") == "improves"
    side = BELOW if improves else ABOVE
    tol = settings["quality_tolerance"]
    evidence = []
    conf = [(e, subject.run.value(C.PRIOR + C.CONFIDENCE, e)) for e in (a, b)] if subject.single else []
    if subject.single:
        run = subject.run
        fa, fb = run.value(C.FRECHET, a), run.value(C.FRECHET, b)
        rel = (fb - fa) / fa if math.isfinite(fa) and fa > 0 and math.isfinite(fb) else math.nan
        low, high = rel - tol, rel + tol
        verdict = decide(low, high, 0.0, side)
        evidence += [cell(METRICS_FILE, "", C.FRECHET, e, None, v) for e, v in ((a, fa), (b, fb))]
        evidence.append(cell(DERIVED, "", f"relative change of metrics.csv {C.FRECHET}, epoch {a} → {b}", b, None,
                             rel))
        evidence += [cell(METRICS_FILE, "", C.PRIOR + C.CONFIDENCE, e, None, v) for e, v in conf]
        rel_text = f"{rel:+.1%}".replace("%", " %")
        measured = (f"Fréchet distance {num(C.FRECHET, fa)} at epoch {a} → {num(C.FRECHET, fb)} at epoch {b} "
                    f"({rel_text} relative); classifier confidence {num(C.PRIOR + C.CONFIDENCE, conf[0][1])} → "
                    f"{num(C.PRIOR + C.CONFIDENCE, conf[1][1])}")
        rule = (f"quality within one run: no sampling interval exists for the Fréchet distance, so its relative "
                f"change must exceed the named tolerance ±{tol:.0%}".replace("%", " %")
                + f" ({'a fall' if improves else 'a rise'} beyond it: supported; the opposite change beyond it: "
                  f"refuted; within it: inconclusive); the classifier confidence of prior samples is quoted")
        change_text = rel_text
    else:
        iv, ev, fa, fb = _change_over_seeds(subject, C.FRECHET, a, b)
        evidence += ev
        low, high = iv.low, iv.high
        verdict = decide(low, high, 0.0, side)
        measured = (f"Fréchet distance change epoch {a} → {b}: {with_ci(C.FRECHET, iv.mean, low, high)} "
                    f"(paired t-interval over {subject.n} seeds; means {num(C.FRECHET, fa)} → {num(C.FRECHET, fb)})")
        rule = (f"quality over seeds: the paired 95 % t-interval of the per-seed change of the Fréchet distance must "
                f"lie wholly {'below' if improves else 'above'} 0")
        change_text = num(C.FRECHET, iv.mean)
    explanation = ""
    if verdict == REFUTED:
        explanation = (f"the Fréchet distance {'rose' if improves else 'fell'} from epoch {a} to {b} "
                       f"({change_text}): the generated digits moved {'away from' if improves else 'closer to'} "
                       f"real ones in the classifier's feature space")
    elif verdict == INCONCLUSIVE:
        explanation = (f"the change ({change_text}) is within the ±{tol:.0%} tolerance; replicate over seeds"
                       .replace("%", " %") if subject.single else
                       "the interval of the change straddles 0 (or fewer than 2 seeds)")
    return Outcome(verdict, measured, rule, explanation, evidence)


def check_diversity(claim: Claim, subject: Subject, settings: dict) -> Outcome:
    """``diversity``: the normalised class entropy of prior samples rises (improves) / falls (worsens)."""
    a, b = claim.get("epochs")
    improves = claim.get("direction") == "improves"
    side = ABOVE if improves else BELOW
    column = C.PRIOR + C.ENTROPY_NORM
    evidence = []
    if subject.single:
        run = subject.run
        ea, eb = run.value(column, a), run.value(column, b)
        (la, ha), (lb, hb) = prior_entropy_ci(run, a), prior_entropy_ci(run, b)
        diff = eb - ea
        half = math.hypot((ha - la) / 2, (hb - lb) / 2)
        low, high = diff - half, diff + half
        evidence += [cell(METRICS_FILE, "", column, a, None, ea, ci_low=la, ci_high=ha), cell(METRICS_FILE, "", column, b, None, eb, ci_low=lb, ci_high=hb)]
        evidence.append(cell(DERIVED, "", f"change of metrics.csv {column}, epoch {a} → {b} (half-widths combined "
                                          f"in quadrature)", b, None, diff, ci_low=low, ci_high=high))
        cov = [run.value(C.COVERAGE, e) for e in (a, b)]
        evidence += [cell(METRICS_FILE, "", C.COVERAGE, e, None, v) for e, v in zip((a, b), cov)]
        measured = (f"prior entropy (norm.) {with_ci(column, ea, la, ha)} at epoch {a} → {with_ci(column, eb, lb, hb)}"
                    f" at epoch {b}; change {with_ci(column, diff, low, high)}; coverage {num(C.COVERAGE, cov[0])} → "
                    f"{num(C.COVERAGE, cov[1])}")
        how = "the two bootstrap intervals' half-widths combined in quadrature (independent samples)"
    else:
        iv, ev, ea, eb = _change_over_seeds(subject, column, a, b)
        evidence += ev
        diff, low, high = iv.mean, iv.low, iv.high
        measured = (f"prior entropy (norm.) change epoch {a} → {b}: {with_ci(column, diff, low, high)} (paired "
                    f"t-interval over {subject.n} seeds; means {num(column, ea)} → {num(column, eb)})")
        how = f"paired t-interval over {subject.n} seeds"
    verdict = decide(low, high, 0.0, side)
    rule = (f"diversity: the change of the prior samples' normalised class entropy must lie wholly "
            f"{'above' if improves else 'below'} 0 with its 95 % CI ({how}); coverage is quoted")
    explanation = ""
    if verdict == REFUTED:
        explanation = (f"the prior entropy {'fell' if improves else 'rose'} by {num(column, abs(diff))} beyond its "
                       f"interval: the digits are drawn {'less' if improves else 'more'} evenly at epoch {b}")
    elif verdict == INCONCLUSIVE:
        explanation = "the interval of the entropy change straddles 0: no change beyond the sampling noise"
    return Outcome(verdict, measured, rule, explanation, evidence)


HANDLERS = {MISSING: check_shares, RARE: check_shares, OVERREPRESENTED: check_shares,
            QUALITY: check_quality, DIVERSITY: check_diversity}
