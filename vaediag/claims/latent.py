"""Latent-space claims: ``overlap`` / ``separated`` (per-digit silhouette) and ``mixed_pair`` (kNN confusion).

- Within one run the per-digit silhouette (per_class.csv) gets a bootstrap interval of the mean over that
  digit's test codes: the per-code silhouettes are recomputed from the stored codes (``test_mu``,
  ``test_labels`` artifacts, :func:`vaediag.metrics.latent.silhouette_values`, exactly what the evaluation
  averaged), resampled, and the percentile interval's distances from their mean are placed around the
  table's value. Without the stored codes there is no interval (inconclusive).
- A pair's confusion rate (C[a,b] + C[b,a]) / (n_a + n_b) gets a Wilson interval with counts
  rate × (n_a + n_b), n_a + n_b the pair's test digits.
- Over the seeds of a sweep configuration: the Student-t interval of the per-seed values.
"""

from __future__ import annotations

import math
from functools import lru_cache
from itertools import combinations

import numpy as np

from vaediag import columns as C
from vaediag.errors import RunDirError
from vaediag.judgement.intervals import data_shares, setting
from vaediag.store.rundir import PAIRS_FILE, PER_CLASS_FILE, Run
from vaediag.stats import ABOVE, BELOW, INCONCLUSIVE, REFUTED, SUPPORTED, bootstrap_interval, decide, share_interval

from .measure import DERIVED, Outcome, Subject, cell, class_cell, combine, num, over_seeds, pair_rates, with_ci
from .schema import MIXED_PAIR, OVERLAP, Claim

SILHOUETTE_BOOTSTRAP = "bootstrap over the digit's test codes"


@lru_cache(maxsize=32)
def _silhouettes(path: str, epoch: int, set_id: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(per-code silhouettes, labels) of a checkpoint's stored test codes; None without them."""
    from vaediag.metrics.latent import silhouette_values

    try:
        arrays = Run(path).artifacts(epoch)
        mu, labels = np.asarray(arrays["test_mu"]), np.asarray(arrays["test_labels"])
    except (RunDirError, KeyError, OSError, ValueError):
        return None
    if len(np.unique(labels)) < 2:
        return None
    return silhouette_values(mu, labels), labels


def silhouette_interval(run: Run, epoch: int, digit: int, value: float) -> tuple[float, float]:
    """The 95 % bootstrap interval of ``digit``'s mean silhouette at ``epoch`` around the table's ``value``
    (NaN bounds without the stored codes)."""
    found = _silhouettes(str(run.path.resolve()), int(epoch), id(run.evaluation))
    if found is None or not math.isfinite(value):
        return math.nan, math.nan
    s, labels = found
    own = s[labels == digit]
    if own.size < 2:
        return math.nan, math.nan
    low, high = bootstrap_interval(np.mean, own, seed=0)
    mean = float(own.mean())
    return value - (mean - low), value + (high - mean)


def check_clusters(claim: Claim, subject: Subject, settings: dict) -> Outcome:
    """``overlap``: every given digit's mean silhouette lies wholly below ``overlap_silhouette``;
    ``separated``: wholly above ``separated_silhouette``."""
    epoch, digits = claim.get("epoch"), claim.get("digits")
    overlap = claim.kind == OVERLAP
    threshold = settings["overlap_silhouette" if overlap else "separated_silhouette"]
    side = BELOW if overlap else ABOVE
    parts, answers, evidence, estimates = [], [], [], {}
    for d in digits:
        if subject.single:
            run = subject.run
            value = class_cell(run, C.CLASS_SILHOUETTE, epoch, d)
            low, high = silhouette_interval(run, epoch, d, value)
            evidence.append(cell(PER_CLASS_FILE, subject.run_name(run), C.CLASS_SILHOUETTE, epoch, d, value, ci_low=low,
                                 ci_high=high))
        else:
            iv, values = over_seeds(subject, lambda r, d=d: class_cell(r, C.CLASS_SILHOUETTE, epoch, d))
            value, low, high = iv.mean, iv.low, iv.high
            evidence += [cell(PER_CLASS_FILE, r.name, C.CLASS_SILHOUETTE, epoch, d, v)
                         for r, v in zip(subject.runs, values)]
            evidence.append(cell(DERIVED, "", f"mean over {subject.n} seeds of per_class.csv silhouette", epoch, d,
                                 value, ci_low=low, ci_high=high))
        estimates[d] = (value, low, high)
        answers.append(decide(low, high, threshold, side))
        parts.append(f"digit {d} silhouette {with_ci(C.SILHOUETTE, value, low, high)}")
    pair_parts, pair_evidence = _pair_context(subject, epoch, digits)
    evidence += pair_evidence
    verdict = combine(answers)
    how = SILHOUETTE_BOOTSTRAP if subject.single else f"t-interval over {subject.n} seeds"
    measured = "; ".join(parts) + (f" (95 % CI: {how})" if parts else "") + (
        "; " + ", ".join(pair_parts) if pair_parts else "")
    words = "below" if overlap else "above"
    rule = (f"{claim.kind}: each digit's mean silhouette (per_class.csv) must lie wholly {words} "
            f"{threshold:g} with its 95 % CI ({how}); supported when every digit's does, refuted when one "
            f"digit's lies wholly on the other side, else inconclusive")
    explanation = ""
    if verdict == REFUTED:
        d = next(d for d, a in zip(digits, answers) if a == REFUTED)
        v, lo, hi = estimates[d]
        if overlap:
            explanation = (f"digit {d}'s codes form a cluster of their own: its silhouette {num(C.SILHOUETTE, v)} "
                           f"lies wholly above {threshold:g} ([{num(C.SILHOUETTE, lo)}, {num(C.SILHOUETTE, hi)}])")
        else:
            explanation = (f"digit {d}'s codes overlap other digits: its silhouette {num(C.SILHOUETTE, v)} lies "
                           f"wholly below {threshold:g} ([{num(C.SILHOUETTE, lo)}, {num(C.SILHOUETTE, hi)}])")
        if pair_parts:
            explanation += "; " + ", ".join(pair_parts)
    elif verdict == INCONCLUSIVE:
        open_digits = [d for d, a in zip(digits, answers) if a == INCONCLUSIVE]
        no_ci = [d for d in open_digits if not math.isfinite(estimates[d][1])]
        if no_ci:
            explanation = (f"no interval for digit {', '.join(map(str, no_ci))}: "
                           + ("the run stores no test codes to bootstrap from" if subject.single
                              else "fewer than 2 seeds with a value"))
        else:
            explanation = ("the silhouette interval of digit " + ", ".join(
                f"{d} [{num(C.SILHOUETTE, estimates[d][1])}, {num(C.SILHOUETTE, estimates[d][2])}]"
                for d in open_digits) + f" straddles {threshold:g}" + (
                "; replicate over seeds" if subject.single else ""))
    return Outcome(verdict, measured, rule, explanation, evidence)


def _pair_context(subject: Subject, epoch: int, digits) -> tuple[list[str], list[dict]]:
    """Confusion rates quoted beside the silhouettes (one run): the pairs among the digits, or for a single
    digit its most confused pair."""
    if not subject.single:
        return [], []
    run = subject.run
    rates = pair_rates(run, epoch)
    if len(digits) >= 2:
        wanted = [tuple(sorted(p)) for p in combinations(digits, 2)]
        rows = [rates[(rates[C.CLASS_A] == a) & (rates[C.CLASS_B] == b)] for a, b in wanted]
    else:
        d = digits[0]
        mine = rates[(rates[C.CLASS_A] == d) | (rates[C.CLASS_B] == d)]
        rows = [mine.head(1)]
    parts, evidence = [], []
    for row in rows:
        if row.empty:
            continue
        a, b, r = int(row[C.CLASS_A].iloc[0]), int(row[C.CLASS_B].iloc[0]), float(row[C.CONFUSION_RATE].iloc[0])
        parts.append(f"confusion {run.classes.pair(a, b)} {num(C.CONFUSION_RATE, r)}")
        evidence.append(cell(PAIRS_FILE, subject.run_name(run), C.CONFUSION_RATE, epoch, f"{a}-{b}", r))
    return parts, evidence


def pair_count(run: Run, a: int, b: int) -> float:
    """n_a + n_b: the pair's test digits (stored labels, else data shares × n_test); NaN when unknown."""
    shares, n = data_shares(run), setting(run, "n_test")
    if shares is not None and math.isfinite(n):
        return float(round(shares[a] * n) + round(shares[b] * n))
    return math.nan


def check_mixed_pair(claim: Claim, subject: Subject, settings: dict) -> Outcome:
    """``mixed_pair``: the pair's confusion rate lies wholly above ``mixed_pair_rate``; its rank among the 45
    pairs is quoted (the report lists the top 3)."""
    from vaediag.judgement.rules import TOP_PAIRS

    epoch = claim.get("epoch")
    a, b = sorted(claim.get("digits"))
    threshold = settings["mixed_pair_rate"]
    key = f"{a}-{b}"  # the evidence key (labels); the texts name the pair in the run's classes ("4-9")
    names = subject.runs[0].classes
    evidence = []
    if subject.single:
        run = subject.run
        rates = pair_rates(run, epoch)
        hit = rates[(rates[C.CLASS_A] == a) & (rates[C.CLASS_B] == b)]
        value = float(hit[C.CONFUSION_RATE].iloc[0]) if len(hit) else math.nan
        rank = int(hit.index[0]) + 1 if len(hit) else None
        n = pair_count(run, a, b)
        if math.isfinite(value) and math.isfinite(n) and n > 0:
            low, high = share_interval(value, n)
        else:
            low, high = math.nan, math.nan
        evidence.append(cell(PAIRS_FILE, "", C.CONFUSION_RATE, epoch, key, value, ci_low=low, ci_high=high))
        how = f"Wilson over the pair's {int(n) if math.isfinite(n) else '?'} test digits"
        top = rates.head(1)
        top_text = ""
        if rank != 1 and len(top):
            ta, tb, tr = int(top[C.CLASS_A].iloc[0]), int(top[C.CLASS_B].iloc[0]), float(top[C.CONFUSION_RATE].iloc[0])
            top_text = f"; the most mixed pair is {names.pair(ta, tb)} at {num(C.CONFUSION_RATE, tr)}"
            evidence.append(cell(PAIRS_FILE, "", C.CONFUSION_RATE, epoch, f"{ta}-{tb}", tr))
        rank_text = f"rank {rank} of {len(rates)} pairs" if rank else "pair not in pairs.csv"
    else:
        iv, values = over_seeds(subject, lambda r: _rate(r, epoch, a, b))
        value, low, high = iv.mean, iv.low, iv.high
        evidence += [cell(PAIRS_FILE, r.name, C.CONFUSION_RATE, epoch, key, v) for r, v in zip(subject.runs, values)]
        evidence.append(cell(DERIVED, "", f"mean over {subject.n} seeds of pairs.csv confusion_rate", epoch, key,
                             value, ci_low=low, ci_high=high))
        how = f"t-interval over {subject.n} seeds"
        ranks = [_rank(r, epoch, a, b) for r in subject.runs]
        rank_text = "rank per seed " + ", ".join("?" if k is None else str(k) for k in ranks)
        top_text = ""
    verdict = decide(low, high, threshold, ABOVE)
    measured = f"confusion rate {names.pair(a, b)} {with_ci(C.CONFUSION_RATE, value, low, high, how)}, {rank_text}{top_text}"
    rule = (f"mixed_pair: the pair's kNN confusion rate (pairs.csv, (C[a,b] + C[b,a]) / (n_a + n_b)) must lie "
            f"wholly above {num(C.CONFUSION_RATE, threshold)} with its 95 % CI ({how}); wholly below: refuted; "
            f"straddling: inconclusive; the rank among all pairs is quoted (the report lists the top {TOP_PAIRS})")
    explanation = ""
    if verdict == REFUTED:
        explanation = (f"the kNN classifier rarely confuses {names.name(a)} and {names.name(b)}: {num(C.CONFUSION_RATE, value)} of their "
                       f"test codes, wholly below {num(C.CONFUSION_RATE, threshold)}{top_text}")
    elif verdict == INCONCLUSIVE:
        explanation = (f"the interval of the confusion rate straddles {num(C.CONFUSION_RATE, threshold)}"
                       if math.isfinite(low) else "no interval (pair counts unknown, or fewer than 2 seeds)")
    return Outcome(verdict, measured, rule, explanation, evidence)


def _rate(run: Run, epoch: int, a: int, b: int) -> float:
    rates = pair_rates(run, epoch)
    hit = rates[(rates[C.CLASS_A] == a) & (rates[C.CLASS_B] == b)]
    return float(hit[C.CONFUSION_RATE].iloc[0]) if len(hit) else math.nan


def _rank(run: Run, epoch: int, a: int, b: int) -> int | None:
    rates = pair_rates(run, epoch)
    hit = rates[(rates[C.CLASS_A] == a) & (rates[C.CLASS_B] == b)]
    return int(hit.index[0]) + 1 if len(hit) else None


HANDLERS = {OVERLAP: check_clusters, "separated": check_clusters, MIXED_PAIR: check_mixed_pair}
__all__ = ["HANDLERS", "SUPPORTED", "silhouette_interval", "pair_count"]
