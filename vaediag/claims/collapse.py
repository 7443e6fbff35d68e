"""The ``mode_collapse`` claim: the run report's own collapse verdict (:mod:`vaediag.judgement.verdict`) at the
claim's epoch, per seed on a sweep, with an explanation of what the measurements show instead when it fails."""

from __future__ import annotations

import math


from vaediag import columns as C
from vaediag.judgement.intervals import code_entropy_ci, code_share_ci, prior_entropy_ci, prior_share_ci
from vaediag.judgement.rules import COLLAPSE_ENTROPY, LIST_VALUES_UP_TO, MISSING_SHARE
from vaediag.judgement.verdict import (VERDICT_HEADLINES, VERDICT_IMBALANCE, VERDICT_INCONCLUSIVE,
                                       VERDICT_MODE_COLLAPSE, VERDICT_POSTERIOR_COLLAPSE, VERDICT_RESOLUTION,
                                       VERDICT_WINDOW)
from vaediag.judgement.run_verdict import run_verdict
from vaediag.store.rundir import METRICS_FILE, PER_CLASS_FILE, Run
from vaediag.stats import INCONCLUSIVE, REFUTED, SUPPORTED

from .generation import inside_share, window_text
from .measure import (Outcome, Subject, cell, class_cell, num, with_ci)
from .schema import (MODE_COLLAPSE, Claim)

NAN2 = (math.nan, math.nan)


def _collapse_answer(verdict, digits) -> str:
    if verdict.kind == VERDICT_MODE_COLLAPSE or (verdict.kind == VERDICT_POSTERIOR_COLLAPSE and verdict.prior_missing):
        if digits:
            if any(d not in verdict.prior_missing and d not in verdict.prior_uncertain for d in digits):
                return REFUTED
            if any(d in verdict.prior_uncertain for d in digits):
                return INCONCLUSIVE
        return SUPPORTED
    if verdict.kind in (VERDICT_IMBALANCE, VERDICT_WINDOW, VERDICT_RESOLUTION, "healthy", VERDICT_POSTERIOR_COLLAPSE):
        return REFUTED
    return INCONCLUSIVE


def check_mode_collapse(claim: Claim, subject: Subject, settings: dict) -> Outcome:
    epoch, digits = claim.get("epoch"), claim.get("digits") or ()
    rule = (f"mode_collapse: the run report's own collapse verdict (vaediag.judgement.run_verdict.run_verdict) at the epoch: "
            f"supported for mode-collapse (a digit whose prior-share 95 % CI lies wholly below "
            f"{num(C.CLASS_PRIOR_SHARE, MISSING_SHARE)} for both judges, the classifier and the code judge, and that "
            f"the classifier can read) or posterior collapse with missing digits; refuted for healthy, imbalance "
            f"(both judges' entropy CIs wholly below {COLLAPSE_ENTROPY:g}, every digit drawn), window, resolution; "
            f"inconclusive for an inconclusive / unknown / unreliable / not-applicable verdict (the judges "
            f"disagree, an interval straddles, the classifier cannot read a digit, a deterministic encoder); with "
            f"digits named, each must be among the missing ones")
    if not subject.single:
        return _collapse_over_seeds(claim, subject, epoch, digits, rule)
    run = subject.run
    verdict = run_verdict(run, epoch)
    answer = _collapse_answer(verdict, digits)
    evidence = []
    entropy = run.value(C.PRIOR + C.ENTROPY_NORM, epoch)
    low, high = prior_entropy_ci(run, epoch)
    evidence.append(cell(METRICS_FILE, "", C.PRIOR + C.ENTROPY_NORM, epoch, None, entropy, ci_low=low, ci_high=high))
    code_entropy, (c_low, c_high) = run.value(C.PRIOR_CODE_ENTROPY_NORM, epoch), code_entropy_ci(run, epoch)
    evidence.append(cell(METRICS_FILE, "", C.PRIOR_CODE_ENTROPY_NORM, epoch, None, code_entropy, ci_low=c_low,
                         ci_high=c_high))
    parts = [f"run verdict: {verdict.kind}",
             f"prior entropy (norm.) {with_ci(C.PRIOR + C.ENTROPY_NORM, entropy, low, high)} (classifier), "
             f"{with_ci(C.PRIOR_CODE_ENTROPY_NORM, code_entropy, c_low, c_high)} (code judge)"]
    bounds, code_bounds = prior_share_ci(run, epoch), code_share_ci(run, epoch)
    for words, group in (("missing from prior samples (both judges)", verdict.prior_missing),
                         ("the judges disagree", verdict.judges_disagree),
                         ("the classifier cannot read their reconstructions", verdict.judge_unreadable),
                         ("undecided (a CI straddles the threshold, the judges disagree or the classifier cannot "
                          "read it)", verdict.prior_uncertain),
                         ("over-drawn", verdict.over_drawn), ("under-drawn", verdict.under_drawn)):
        if len(group) > LIST_VALUES_UP_TO:  # many digits: names only (the per_class.csv rows hold the values)
            parts.append(f"{words}: digits {', '.join(map(str, group))}")
    for words, group in (("the judges disagree on digits", verdict.judges_disagree),
                         ("the classifier cannot read the reconstructions of digits", verdict.judge_unreadable)):
        if 0 < len(group) <= LIST_VALUES_UP_TO:
            parts.append(f"{words} {', '.join(map(str, group))}")
    listed = [d for d in dict.fromkeys([*digits, *verdict.prior_missing, *verdict.prior_uncertain,
                                        *verdict.over_drawn, *verdict.under_drawn, *verdict.window_digits,
                                        *verdict.covered_digits])
              if d in digits or any(d in g and len(g) <= LIST_VALUES_UP_TO for g in (
                  verdict.prior_missing, verdict.prior_uncertain, verdict.over_drawn, verdict.under_drawn,
                  verdict.window_digits, verdict.covered_digits))]
    for d in listed:
        share = class_cell(run, C.CLASS_PRIOR_SHARE, epoch, d)
        lo, hi = (float(bounds[0][d]), float(bounds[1][d])) if bounds is not None else (math.nan, math.nan)
        evidence.append(cell(PER_CLASS_FILE, "", C.CLASS_PRIOR_SHARE, epoch, d, share, ci_low=lo, ci_high=hi))
        code = class_cell(run, C.CLASS_PRIOR_CODE_SHARE, epoch, d)
        c_lo, c_hi = (float(code_bounds[0][d]), float(code_bounds[1][d])) if code_bounds is not None else NAN2
        evidence.append(cell(PER_CLASS_FILE, "", C.CLASS_PRIOR_CODE_SHARE, epoch, d, code, ci_low=c_lo, ci_high=c_hi))
        parts.append(f"digit {d} prior share {with_ci(C.CLASS_PRIOR_SHARE, share, lo, hi)} (classifier), "
                     f"{with_ci(C.CLASS_PRIOR_CODE_SHARE, code, c_lo, c_hi)} (code judge)")
    if verdict.grid_missing:
        parts.append(f"missing from the linear grid (exact): digits {', '.join(map(str, verdict.grid_missing))}")
    if verdict.kind in (VERDICT_WINDOW, VERDICT_RESOLUTION, VERDICT_INCONCLUSIVE):
        for d in [d for d in verdict.grid_missing if d in listed]:
            inside = inside_share(run, "grid", epoch, d)
            if math.isfinite(inside[0]):
                evidence.append(cell(PER_CLASS_FILE, "", C.CLASS_GRID_INSIDE, epoch, d, inside[0], ci_low=inside[1],
                                     ci_high=inside[2]))
                parts.append(f"digit {d}'s test codes inside the {window_text(run, 'grid', epoch)} "
                             f"{with_ci(C.CLASS_GRID_INSIDE, *inside)}")
    measured = "; ".join(parts)
    explanation = "" if answer == SUPPORTED else _collapse_explanation(run, epoch, verdict, digits, answer)
    return Outcome(answer, measured, rule, explanation, evidence)


def _collapse_explanation(run: Run, epoch: int, verdict, digits, answer) -> str:
    if verdict.kind in (VERDICT_MODE_COLLAPSE, VERDICT_POSTERIOR_COLLAPSE) and verdict.prior_missing:
        drawn = [d for d in digits if d not in verdict.prior_missing]
        return (f"the model does miss digit(s) {', '.join(map(str, verdict.prior_missing))}, but not "
                f"{', '.join(map(str, drawn))}: " + "; ".join(
                    f"digit {d} is drawn in {num(C.CLASS_PRIOR_SHARE, class_cell(run, C.CLASS_PRIOR_SHARE, epoch, d))}"
                    f" of prior samples" for d in drawn))
    if verdict.kind in (VERDICT_WINDOW, VERDICT_RESOLUTION):
        notes = []
        for d in verdict.grid_missing:
            share = class_cell(run, C.CLASS_PRIOR_SHARE, epoch, d)
            inside = inside_share(run, "grid", epoch, d)
            window = window_text(run, "grid", epoch)
            if d in verdict.window_digits or (verdict.kind == VERDICT_WINDOW and not math.isfinite(inside[0])):
                tail = (f"because only {num(C.CLASS_GRID_INSIDE, inside[0])} of its codes lie inside the {window}"
                        if math.isfinite(inside[0]) else "because the window misses its codes")
            else:
                tail = (f"although {num(C.CLASS_GRID_INSIDE, inside[0])} of its codes lie inside the {window}: the "
                        f"grid points miss its narrow region" if math.isfinite(inside[0]) else "")
            notes.append(f"digit {d} is drawn in {num(C.CLASS_PRIOR_SHARE, share)} of prior samples; it is missing "
                         f"from the linear grid {tail}".rstrip())
        return "no collapse of the model: " + "; ".join(notes)
    if verdict.kind == VERDICT_IMBALANCE:
        over = ", ".join(f"{d} ({num(C.CLASS_PRIOR_SHARE, class_cell(run, C.CLASS_PRIOR_SHARE, epoch, d))})"
                         for d in verdict.over_drawn)
        under = ", ".join(f"{d} ({num(C.CLASS_PRIOR_SHARE, class_cell(run, C.CLASS_PRIOR_SHARE, epoch, d))})"
                          for d in verdict.under_drawn)
        text = "imbalance, not collapse: every digit is drawn"
        text += f"; over-drawn: {over}" if over else ""
        text += f"; under-drawn: {under}" if under else ""
        return text
    if verdict.kind == VERDICT_INCONCLUSIVE:
        reasons = [] if verdict.code_judge else [
            "the run was evaluated without the code judge (nearest test codes), so no share finding of the "
            "classifier can be confirmed; evaluate it again"]
        reasons += [f"the classifier cannot read this model's drawings of digit {d}: it reads "
                    f"{num(C.CLASS_RECON_RECALL, class_cell(run, C.CLASS_RECON_RECALL, epoch, d))} of its "
                    f"reconstructions (latent kNN recall {num(C.CLASS_KNN_RECALL, class_cell(run, C.CLASS_KNN_RECALL, epoch, d))})"
                    for d in verdict.judge_unreadable]
        reasons += [f"the judges disagree on digit {d}: "
                    f"{num(C.CLASS_PRIOR_SHARE, class_cell(run, C.CLASS_PRIOR_SHARE, epoch, d))} (classifier) vs "
                    f"{num(C.CLASS_PRIOR_CODE_SHARE, class_cell(run, C.CLASS_PRIOR_CODE_SHARE, epoch, d))} "
                    f"(code judge)" for d in verdict.judges_disagree]
        reasons += [f"digit {d}'s prior share {num(C.CLASS_PRIOR_SHARE, class_cell(run, C.CLASS_PRIOR_SHARE, epoch, d))}"
                   f" has a 95 % CI straddling {num(C.CLASS_PRIOR_SHARE, MISSING_SHARE)} (missing or not)"
                   for d in verdict.prior_uncertain if verdict.code_judge
                   and d not in verdict.judge_unreadable + verdict.judges_disagree]
        reasons += [f"{c.name}: {c.estimate:.3f}, CI straddles {c.threshold:g}" for c in verdict.checks
                    if c.answer == INCONCLUSIVE]
        return "this run cannot decide: " + "; ".join(reasons) + "; replicate over seeds" if reasons else \
            VERDICT_HEADLINES[verdict.kind]
    return VERDICT_HEADLINES.get(verdict.kind, verdict.kind)


def _collapse_over_seeds(claim, subject: Subject, epoch: int, digits, rule: str) -> Outcome:
    kinds, answers, evidence = [], [], []
    for r in subject.runs:
        v = run_verdict(r, epoch)
        kinds.append(v.kind)
        answers.append(_collapse_answer(v, digits))
        entropy = r.value(C.PRIOR + C.ENTROPY_NORM, epoch)
        low, high = prior_entropy_ci(r, epoch)
        evidence.append(cell(METRICS_FILE, r.name, C.PRIOR + C.ENTROPY_NORM, epoch, None, entropy, ci_low=low,
                             ci_high=high))
    verdict = (SUPPORTED if all(a == SUPPORTED for a in answers) else
               REFUTED if all(a == REFUTED for a in answers) else INCONCLUSIVE)
    counts = {k: kinds.count(k) for k in dict.fromkeys(kinds)}
    measured = "run verdicts: " + ", ".join(f"{k} in {n} of {subject.n} seeds" for k, n in counts.items())
    rule += "; over seeds: supported when it holds in every seed, refuted when it fails in every seed"
    explanation = "" if verdict == SUPPORTED else (
        "the seeds disagree: " + measured if verdict == INCONCLUSIVE else
        "no seed's verdict is a collapse: " + ", ".join(f"{k} ({VERDICT_HEADLINES.get(k, k)})" for k in counts))
    return Outcome(verdict, measured, rule, explanation, evidence)


HANDLERS = {MODE_COLLAPSE: check_mode_collapse}
