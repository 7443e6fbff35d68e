"""The sentences that explain a run's collapse verdict (:mod:`vaediag.judgement.verdict`) at its last checkpoint."""

from __future__ import annotations

from vaediag import columns as C
from vaediag.store.rundir import Run

from .findings import (Part, Quotes, Sentence, const_tag, count_tag, digit_tag, dim_tag, epoch_tag, interval_tag,
                       listing, stat_tag)
from vaediag.judgement.formats import percent
from vaediag.judgement.judges import CHECK_RECON
from vaediag.judgement.rules import (CI_TEXT, COLLAPSE_ENTROPY, GRID_ENTROPY_GAP, IMBALANCE_FACTOR, INSIDE_MIN,
                                     LIST_VALUES_UP_TO, MISSING_SHARE, POSTERIOR_KL_DIM_MIN, Check)
from vaediag.judgement.run_verdict import kl_columns, run_verdict
from vaediag.judgement.verdict import (CHECK_CODE_ENTROPY, CHECK_ENTROPY, CHECK_INSIDE, VERDICT_HEALTHY,
                                       VERDICT_IMBALANCE, VERDICT_INCONCLUSIVE, VERDICT_MODE_COLLAPSE,
                                       VERDICT_NOT_APPLICABLE, VERDICT_POSTERIOR_COLLAPSE, VERDICT_RESOLUTION,
                                       VERDICT_UNRELIABLE, VERDICT_WINDOW, Verdict)

from .judges import both_judges_listing, unreadable_digits_listing

KL_LIMIT_TEXT = f"{POSTERIOR_KL_DIM_MIN:g} nats"


# ============================================================================================ sentences
def check_parts(check: Check, write=lambda v: f"{v:.3f}") -> list[Part]:
    """" (95 % CI [a, b]; below 0.900? supported, margin −0.022)" for a threshold check."""
    interval = interval_tag(check.low, check.high, write, f"{CI_TEXT}: {check.interval}")
    parts: list[Part] = [" (", const_tag(CI_TEXT), " ", interval] if interval is not None else [" (no interval"]
    margin = f"{100 * check.margin:+.1f} %" if write is percent else f"{check.margin:+.3f}"
    return parts + [f"; {check.side} ", const_tag(write(check.threshold)), f"? {check.answer}, margin ",
                    stat_tag(margin, "estimate − threshold"), ")"]


def _inputs_sentence(quotes: Quotes, epoch: int, verdict: Verdict) -> Sentence | None:
    prior, grid = quotes.metric(C.PRIOR + C.ENTROPY_NORM, epoch), quotes.metric(C.GRID + C.ENTROPY_NORM, epoch)
    inside, span = quotes.metric(C.GRID_INSIDE, epoch), quotes.metric(C.GRID_SPAN, epoch)
    parts: list[Part] = []
    if prior is not None:
        parts += [" the normalised class entropy of prior samples is ", prior]
        check = verdict.check(CHECK_ENTROPY)
        parts += check_parts(check) if check is not None else []
        reference = quotes.reference(C.PRIOR + C.ENTROPY_NORM)
        parts += [" (real test digits: ", reference, ")"] if reference is not None else []
        code, code_check = quotes.metric(C.PRIOR_CODE_ENTROPY_NORM, epoch), verdict.check(CHECK_CODE_ENTROPY)
        if code is not None and code_check is not None:
            parts += [" by the classifier and ", code] + check_parts(code_check) + [" by the code judge"]
    if grid is not None:
        parts += [", of the linear grid ", grid]
    if inside is not None:
        parts += ["; ", inside, " of the test codes lie inside the grid window"]
        parts += [" of half-width ", span] if span is not None else []
    return Sentence(["At ", epoch_tag(epoch)] + parts + ["."]) if parts else None


def _kl_listing(quotes: Quotes, epoch: int, positions: tuple[int, ...]) -> list[Part]:
    """The latent dimensions at ``positions`` of :func:`kl_columns`, each with its KL."""
    columns = kl_columns(quotes.run)
    return listing(list(positions), "dimension", lambda i: dim_tag(int(columns[i][len(C.KL_PER_DIM_PREFIX):])),
                   lambda i: quotes.metric(columns[i], epoch), KL_LIMIT_TEXT, unit=" nats")


def _posterior_sentence(quotes: Quotes, epoch: int, verdict: Verdict, n_dims: int) -> Sentence:
    parts: list[Part] = ["At ", epoch_tag(epoch)]
    active = quotes.metric(C.ACTIVE_UNITS, epoch)
    if active is not None:
        parts += [", ", active, " of the ", count_tag(n_dims), " latent dimensions are active"]
    if verdict.latent_dims and len(verdict.inactive_dims) == verdict.latent_dims:
        parts += [";" if active is not None else "", " every latent dimension has a KL below ",
                  const_tag(KL_LIMIT_TEXT), ": "] + _kl_listing(quotes, epoch, verdict.inactive_dims)
    return Sentence(parts + [". The latent code carries no information about the input, so the decoder draws "
                             "(nearly) one image whatever the code: this is posterior collapse, not mode collapse, "
                             "and the class histograms of prior samples say nothing about the digits the model "
                             "could draw."])


def _partial_sentence(quotes: Quotes, epoch: int, verdict: Verdict) -> Sentence:
    parts: list[Part] = ["At ", epoch_tag(epoch), ", ", count_tag(len(verdict.inactive_dims)), " of the ",
                         count_tag(verdict.latent_dims), " latent dimensions are inactive (KL below ",
                         const_tag(KL_LIMIT_TEXT), "): "]
    parts += _kl_listing(quotes, epoch, verdict.inactive_dims)
    parts += [". They carry no information about the input (a partial posterior collapse); the other dimensions "
              "carry the code"]
    active = quotes.metric(C.ACTIVE_UNITS, epoch)
    return Sentence(parts + ([" (active units: ", active, ")"] if active is not None else []) + ["."])


def _digit_listing(quotes: Quotes, column: str, epoch: int, digits: tuple[int, ...]) -> list[Part]:
    return listing(list(digits), "digit", digit_tag, lambda d: quotes.class_value(column, epoch, d),
                   percent(MISSING_SHARE))


def _share_listing(quotes: Quotes, epoch: int, digits: tuple[int, ...], with_data: bool = False) -> list[Part]:
    """"digit 3: 1.7 % [1.4 %, 1.9 %] (image judge) vs 1.2 % [1.0 %, 1.5 %] (code judge), 10.1 % in the test
    set": both judges' prior shares with their Wilson intervals."""
    if len(digits) > LIST_VALUES_UP_TO:
        return listing(list(digits), "digit", digit_tag, lambda d: None, percent(MISSING_SHARE))
    parts: list[Part] = []
    for i, d in enumerate(digits):
        parts += ([", "] if i else []) + both_judges_listing(quotes, epoch, [d])
        data = quotes.class_value(C.CLASS_DATA_SHARE, epoch, d) if with_data else None
        parts += [", ", data, " in the test set"] if data is not None else []
    return parts


def _mode_collapse_sentence(quotes: Quotes, epoch: int, verdict: Verdict) -> Sentence:
    parts: list[Part] = ["Both judges find prior samples missing "] + _share_listing(quotes, epoch,
                                                                                     verdict.prior_missing)
    parts += [": the upper end of each share's ", const_tag(CI_TEXT), " is below ", const_tag(percent(MISSING_SHARE))]
    if verdict.grid_missing:
        parts += [", and the grid misses "] + _digit_listing(quotes, C.CLASS_GRID_SHARE, epoch, verdict.grid_missing)
    parts += [". This is a collapse of the model: it does not generate these digits from the prior, so no grid window "
              "would show them"]
    if verdict.judges_disagree:
        parts += ["; the judges disagree on "] + _share_listing(quotes, epoch, verdict.judges_disagree)
    if verdict.judge_unreadable:
        parts += ["; the classifier cannot read this model's drawings of "] + unreadable_digits_listing(
            quotes, epoch, verdict.judge_unreadable)
    return Sentence(parts + ["."])


def _imbalance_sentence(quotes: Quotes, epoch: int, verdict: Verdict) -> Sentence:
    parts: list[Part] = ["Both judges find every digit drawn (no share's ", const_tag(CI_TEXT), " lies below ",
                         const_tag(percent(MISSING_SHARE)), "), but both entropy intervals lie wholly below ",
                         const_tag(f"{COLLAPSE_ENTROPY:.2f}"), ": an imbalance, not a collapse"]
    if verdict.over_drawn:
        parts += ["; over-drawn: "] + _share_listing(quotes, epoch, verdict.over_drawn, with_data=True)
    if verdict.under_drawn:
        parts += ["; under-drawn: "] + _share_listing(quotes, epoch, verdict.under_drawn, with_data=True)
    if verdict.over_drawn or verdict.under_drawn:
        parts += [" (a digit counts when its interval lies beyond ", const_tag(f"{IMBALANCE_FACTOR:g}"),
                  " times, or below its test-set share divided by ", const_tag(f"{IMBALANCE_FACTOR:g}"), ")"]
    if verdict.grid_missing:
        parts += ["; the grid misses "] + _digit_listing(quotes, C.CLASS_GRID_SHARE, epoch, verdict.grid_missing)
    return Sentence(parts + ["."])


def _inconclusive_sentence(quotes: Quotes, epoch: int, verdict: Verdict) -> Sentence:
    parts: list[Part] = ["This run cannot decide"]
    entropy, code = verdict.check(CHECK_ENTROPY), verdict.check(CHECK_CODE_ENTROPY)
    reasons: list[list[Part]] = []
    if not verdict.code_judge:
        reasons.append(["the run was evaluated without the second judge (the classes of the nearest test codes), "
                        "so no share finding of the classifier can be confirmed; evaluate it again"])
    answers = {c.answer for c in (entropy, code) if c is not None}
    if verdict.code_judge and entropy is not None and "inconclusive" in answers:
        reasons.append(["a judge's prior entropy interval straddles ", const_tag(f"{COLLAPSE_ENTROPY:.2f}"),
                        " (imbalance or not)"])
    elif verdict.code_judge and answers == {"supported", "refuted"}:
        reasons.append(["the judges disagree on whether the prior entropy lies below ",
                        const_tag(f"{COLLAPSE_ENTROPY:.2f}")])
    if verdict.judge_unreadable:
        reasons.append(["the classifier cannot read this model's drawings of "]
                       + unreadable_digits_listing(quotes, epoch, verdict.judge_unreadable)
                       + [", so its shares of them are not evidence"])
    if verdict.judges_disagree:
        reasons.append(["the judges disagree on "] + _share_listing(quotes, epoch, verdict.judges_disagree)
                       + [" (missing below ", const_tag(percent(MISSING_SHARE)), " or not)"])
    other = tuple(d for d in verdict.prior_uncertain if d not in verdict.judge_unreadable + verdict.judges_disagree)
    if other and verdict.code_judge:
        reasons.append(["a share interval of "] + _share_listing(quotes, epoch, other)
                       + [" straddles ", const_tag(percent(MISSING_SHARE)), " (missing or not)"])
    inside = [c for c in verdict.checks if c.name.startswith(CHECK_INSIDE) and c.answer == "inconclusive"]
    if inside:
        reasons.append(["the inside-window share of the grid's missing digits straddles ",
                        const_tag(percent(INSIDE_MIN)), " (window or grid resolution)"])
    for i, reason in enumerate(reasons):
        parts += [": " if i == 0 else "; "] + reason
    return Sentence(parts + [". It is no collapse on this evidence; more samples, seeds or a judge that reads the "
                             "model would decide."])


def _inside_listing(quotes: Quotes, epoch: int, verdict: Verdict) -> list[Part]:
    """The missing digits with the share of their own test codes inside the window and its interval."""
    parts: list[Part] = []
    checks = [c for c in verdict.checks if c.name.startswith(CHECK_INSIDE)]
    for i, check in enumerate(checks):
        digit = int(check.name.rpartition(" ")[2]) if ":" in check.name else None
        parts += [", " if i else ""]
        if digit is None:
            inside = quotes.metric(C.GRID_INSIDE, epoch)
            parts += ["all test codes: ", inside if inside is not None else stat_tag(percent(check.estimate), "")]
        else:
            found = quotes.class_value(C.CLASS_GRID_INSIDE, epoch, digit)
            value = found if found is not None else stat_tag(
                percent(check.estimate), "share of the digit's test codes inside the window, computed from the "
                "stored codes (test_mu, test_labels, grid_span)")
            parts += ["digit ", digit_tag(digit), ": ", value]
        parts += check_parts(check, percent)
    return parts


def _grid_sentence(quotes: Quotes, epoch: int, verdict: Verdict) -> Sentence:
    if verdict.grid_missing:
        parts = ["The grid misses "] + _digit_listing(quotes, C.CLASS_GRID_SHARE, epoch, verdict.grid_missing)
        parts += [", but prior samples draw " + ("them: " if len(verdict.grid_missing) > 1 else "it: ")]
        parts += _share_listing(quotes, epoch, verdict.grid_missing)
    else:
        parts = ["The grid's class entropy is more than ", const_tag(f"{GRID_ENTROPY_GAP:.2f}"),
                 " below that of prior samples, which draw every digit"]
    own = "that digit's" if len(verdict.grid_missing) == 1 else "those digits'"
    which = f"of {own} own test codes" if verdict.inside_per_digit else "of all test codes (per-digit shares " \
            "unavailable)"
    parts += [f". Share {which} inside the window, against ", const_tag(percent(INSIDE_MIN)), ": "]
    parts += _inside_listing(quotes, epoch, verdict)
    if verdict.kind == VERDICT_WINDOW:
        parts += [". The window does not cover the region of digit" + ("s " if len(verdict.window_digits) > 1
                                                                         else " ")]
        for i, d in enumerate(verdict.window_digits):
            parts += [", " if i else "", digit_tag(d)]
        parts += ["; the model has not collapsed. Widen the grid span or read the quantile grid."]
    elif verdict.kind == VERDICT_RESOLUTION:
        parts += [". The window covers those digits' codes, but they occupy narrow regions between grid points; "
                  "the model has not collapsed. A finer grid would show them."]
    return Sentence(parts + ([] if verdict.kind in (VERDICT_WINDOW, VERDICT_RESOLUTION) else ["."]))


def _unreliable_sentence(quotes: Quotes, epoch: int, verdict: Verdict) -> Sentence:
    recon = verdict.check(CHECK_RECON)
    if recon is not None and recon.answer == "supported":
        accuracy, knn = quotes.metric(C.RECON_ACCURACY, epoch), quotes.metric(C.KNN_ACCURACY, epoch)
        parts: list[Part] = ["The classifier reads only ", accuracy, " of this model's reconstructions of the test "
                             "digits correctly"] + check_parts(recon, percent)
        parts += [" while the latent kNN classifier tells ", knn, " of the codes apart"] if knn is not None else []
        return Sentence(parts + [": it cannot read this model's drawings, so its entropy, modes and shares say "
                                 "nothing about the model (a calibrated, blur-robust classifier would)."])
    return Sentence(["The classifier's class histogram of the real test digits has normalised entropy below ",
                     const_tag(f"{COLLAPSE_ENTROPY:g}"), ": it does not recognise every digit, so entropy, modes and "
                     "shares say nothing about the model (is the classifier the shipped one?)."])


def verdict_sentences(run: Run) -> tuple[Verdict, list[Sentence]]:
    """The verdict at the last checkpoint and the sentences that explain it."""
    quotes, epoch = Quotes(run), run.last
    verdict = run_verdict(run, epoch)
    inputs = None if verdict.kind == VERDICT_NOT_APPLICABLE else _inputs_sentence(quotes, epoch, verdict)
    out = [s for s in [inputs] if s is not None]
    if verdict.kind == VERDICT_POSTERIOR_COLLAPSE:
        out.append(_posterior_sentence(quotes, epoch, verdict, verdict.latent_dims or run.latent_dim))
    elif verdict.kind == VERDICT_MODE_COLLAPSE:
        out.append(_mode_collapse_sentence(quotes, epoch, verdict))
    elif verdict.kind == VERDICT_IMBALANCE:
        out.append(_imbalance_sentence(quotes, epoch, verdict))
    elif verdict.kind in (VERDICT_WINDOW, VERDICT_RESOLUTION) or (
            verdict.kind == VERDICT_INCONCLUSIVE and any(c.name.startswith(CHECK_INSIDE) for c in verdict.checks)):
        out.append(_grid_sentence(quotes, epoch, verdict))
        if verdict.kind == VERDICT_INCONCLUSIVE:
            out.append(_inconclusive_sentence(quotes, epoch, verdict))
    elif verdict.kind == VERDICT_INCONCLUSIVE:
        out.append(_inconclusive_sentence(quotes, epoch, verdict))
    elif verdict.kind == VERDICT_UNRELIABLE:
        out.append(_unreliable_sentence(quotes, epoch, verdict))
    elif verdict.kind == VERDICT_NOT_APPLICABLE:
        out.append(Sentence(["The model's encoder gives μ alone (", const_tag("deterministic"), "): the prior-sample "
                             "numbers of Q2 describe decoded N(0, I) draws of a model never trained to match that "
                             "prior, so no prior-based verdict or claim is made."]))
    elif verdict.kind == VERDICT_HEALTHY:
        out.append(Sentence(["Both judges find every digit's share of the prior samples at or above ",
                             const_tag(percent(MISSING_SHARE)), " with its whole ", const_tag(CI_TEXT),
                             ", every digit has at least that share of the grid, and neither judge's entropy is "
                             "below ", const_tag(f"{COLLAPSE_ENTROPY:.2f}"), ": no mode collapse."]))
    if verdict.partial_posterior_collapse and verdict.kind != VERDICT_POSTERIOR_COLLAPSE:
        out.append(_partial_sentence(quotes, epoch, verdict))
    return verdict, out
