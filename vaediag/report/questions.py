"""The sentences that answer the report's three questions, each written from a run's numbers by the rules
of :mod:`vaediag.judgement.rules`:

- Q1 ``separation_sentences``: do the digits form separate clusters in the latent space?
- Q2 ``generation_sentences``: are the generated digits good and diverse?
- Q3 ``training_length_sentences``: does training longer help?
"""

from __future__ import annotations

import math

import pandas as pd

from vaediag import columns as C
from vaediag.store.rundir import Run
from vaediag.stats import ABOVE, slope_interval

from .findings import Finding, Part, Quotes, Sentence, const_tag, digit_tag, epoch_tag, interval_tag, pair_tag, stat_tag
from vaediag.judgement.formats import format_number, percent
from vaediag.judgement.intervals import knn_accuracy_ci, prior_entropy_ci, prior_share_ci
from vaediag.judgement.rules import (CI_TEXT, CONFIDENCE_CHANGE, DIVERSITY_DROPS, ENTROPY_CHANGE, FRECHET_CHANGE_REL,
                                     KNN_CHANGE, MISSING_SHARE, PAIR_CHANGE, RECALL_NEAR_ZERO, RECON_GOOD,
                                     SILHOUETTE_CHANGE, TOP_PAIRS, TRAIN_LENGTH_EPOCH, TREND_EPOCHS, Check,
                                     silhouette_level)
from .judges import judges_sentences, unreadable_sentence
from .trajectory import trajectory_words

DIVERSITY_NAMES = {C.PRIOR + C.ENTROPY_NORM: "normalised class entropy of prior samples",
                   C.PRIOR + C.MODES_COVERED: "digits covered", C.COVERAGE: "PRDC coverage"}
SLOPE_UNIT = " nats/epoch"


def _path(quotes: Quotes, column: str, what: str, tolerance: float, tolerance_text: str = "",
          interval=None) -> tuple[list[Part], list[Finding]]:
    """Parts "<what> is A at epoch 5, B at epoch 15, …: it <trajectory>" over every checkpoint, and the
    findings quoted. ``interval(run, epoch)`` gives each value's interval (shown, and used by the trajectory
    rule); without it ``tolerance`` decides what counts as a change."""
    run, parts, points, found = quotes.run, [f"{what} is "], [], []
    for epoch in run.epochs:
        value = quotes.metric(column, epoch)
        if value is None:
            continue
        low, high = interval(run, epoch) if interval is not None else (math.nan, math.nan)
        parts += ([", "] if found else []) + [value]
        tag = interval_tag(low, high, lambda v: format_number(column, v), f"{CI_TEXT}")
        parts += [" ", tag] if tag is not None and interval is not None else []
        parts += [" at ", epoch_tag(epoch)]
        points.append((epoch, value.value, low, high) if interval is not None else (epoch, value.value))
        found.append(value)
    if not found:
        return [], []
    words = trajectory_words(points, tolerance, tolerance_text)
    return parts + ([": it "] + words if words else []), found


# ============================================================================================ Q1
def top_pairs(run: Run, epoch: int, n: int = TOP_PAIRS) -> list[tuple[int, int]]:
    """The ``n`` digit pairs with the highest confusion rate at ``epoch`` (ties: smallest (a, b) first)."""
    pairs = run.pairs[run.pairs[C.EPOCH] == epoch].copy()
    pairs[C.CONFUSION_RATE] = pd.to_numeric(pairs[C.CONFUSION_RATE], errors="coerce")
    pairs = pairs.dropna(subset=[C.CONFUSION_RATE])
    pairs = pairs.sort_values([C.CONFUSION_RATE, C.CLASS_A, C.CLASS_B], ascending=[False, True, True])
    return [(int(a), int(b)) for a, b in zip(pairs[C.CLASS_A].head(n), pairs[C.CLASS_B].head(n))]


def separation_sentences(run: Run) -> list[Sentence]:
    quotes, out = Quotes(run), []
    parts, found = _path(quotes, C.SILHOUETTE, "The silhouette of the test codes grouped by digit", SILHOUETTE_CHANGE)
    if found:
        out.append(Sentence(parts + ["; at ", epoch_tag(found[-1].epoch),
                                     f" the digits form {silhouette_level(found[-1].value)}."]))
    parts, found = _path(quotes, C.KNN_ACCURACY, "The kNN accuracy (digit predicted from its latent neighbours)",
                         KNN_CHANGE, percent(KNN_CHANGE), knn_accuracy_ci)
    if found:
        out.append(Sentence(parts + ["."]))
    listing: list[Part] = []
    for epoch in dict.fromkeys([run.first, run.last]):
        rates = [(a, b, quotes.pair_rate(epoch, a, b)) for a, b in top_pairs(run, epoch)]
        if not rates:
            continue
        listing += ["; at " if listing else "The most mixed pairs at ", epoch_tag(epoch), ": "]
        for j, (a, b, rate) in enumerate(rates):
            listing += ([", "] if j else []) + [pair_tag(a, b), " (", rate, ")"]
    if listing:
        out.append(Sentence(listing + ["."]))
    top = top_pairs(run, run.last, 1)
    if top:
        a, b = top[0]
        rates = [(e, quotes.pair_rate(e, a, b)) for e in run.epochs]
        rates = [(e, r) for e, r in rates if r is not None]
        parts = [pair_tag(a, b), " is the most mixed pair at ", epoch_tag(run.last), "; its confusion rate (share "
                 "of its digits predicted as the other one) is "]
        for j, (e, r) in enumerate(rates):
            parts += ([", "] if j else []) + [r, " at ", epoch_tag(e)]
        words = trajectory_words([(e, r.value) for e, r in rates], PAIR_CHANGE, percent(PAIR_CHANGE))
        out.append(Sentence(parts + ([": it "] + words if words else []) + ["."]))
    return out


# ============================================================================================ Q2
def _with_reference(quotes: Quotes, column: str, parts: list[Part], label: str = "real test digits") -> list[Part]:
    reference = quotes.reference(column)
    return parts + ([f" ({label}: ", reference, ")"] if reference is not None else [])


def _recall_sentence(quotes: Quotes, last: int) -> Sentence | None:
    recall = quotes.metric(C.RECALL, last)
    if recall is None or recall.value >= RECALL_NEAR_ZERO:
        return None
    return Sentence(["PRDC recall is ", recall, " at ", epoch_tag(last), ": near 0 whatever the model, because "
                     "every generated sample comes from the low-dimensional latent space and so lies on a "
                     "manifold of that dimension in the classifier's feature space, whose nearest-neighbour balls "
                     "hold almost no real digit; no finding rests on it (PRDC coverage measures diversity here)."])


def generation_sentences(run: Run) -> list[Sentence]:
    quotes, out, last_epoch = Quotes(run), [], run.last
    parts, found = _path(quotes, C.PRIOR + C.CONFIDENCE, "The classifier's mean confidence on prior samples",
                         CONFIDENCE_CHANGE, percent(CONFIDENCE_CHANGE))
    if found:
        out.append(Sentence(_with_reference(quotes, C.PRIOR + C.CONFIDENCE, parts) + ["."]))
    unreadable = unreadable_sentence(run)
    if unreadable is not None:
        out.append(unreadable)
    parts, found = _path(quotes, C.PRIOR + C.ENTROPY_NORM, "The normalised class entropy of prior samples (one = "
                         "every digit equally often)", ENTROPY_CHANGE, f"{ENTROPY_CHANGE:g}", prior_entropy_ci)
    if found:
        out.append(Sentence(_with_reference(quotes, C.PRIOR + C.ENTROPY_NORM, parts) + ["."]))
    parts, found = _path(quotes, C.PRIOR + C.CLASSIFIER_SCORE, "The classifier score of prior samples (higher = "
                         "crisp and diverse)", 0.1)
    if found:
        out.append(Sentence(_with_reference(quotes, C.PRIOR + C.CLASSIFIER_SCORE, parts) + ["."]))
    first = quotes.metric(C.FRECHET, run.first)
    tolerance = FRECHET_CHANGE_REL * abs(first.value) if first is not None else 0.0
    parts, found = _path(quotes, C.FRECHET, "The Fréchet distance of prior samples to the real test digits (lower "
                         "= closer)", tolerance, f"{percent(FRECHET_CHANGE_REL)} of its first value")
    if found:
        out.append(Sentence(_with_reference(quotes, C.FRECHET, parts, "two halves of the real test set") + ["."]))
    shares = [(d, quotes.class_value(C.CLASS_PRIOR_SHARE, last_epoch, d)) for d in range(C.N_CLASSES)]
    shares = [(d, share) for d, share in shares if share is not None]
    if shares:
        bounds = prior_share_ci(run, last_epoch)
        most = max(shares, key=lambda item: (item[1].value, -item[0]))
        least = min(shares, key=lambda item: (item[1].value, item[0]))
        parts = ["At ", epoch_tag(last_epoch), " the classifier reads digit ", digit_tag(most[0]),
                 " most often among the readable prior samples ("]
        for d, share, sep in ((most[0], most[1], ") and digit "), (least[0], least[1], ")")):
            tag = None if bounds is None else interval_tag(bounds[0][d], bounds[1][d], percent,
                                                           f"Wilson {CI_TEXT} of the share of prior samples")
            parts += [share] + ([" ", tag] if tag is not None else []) + [sep]
            if sep != ")":
                parts += [digit_tag(least[0]), " least often ("]
        data_most = quotes.class_value(C.CLASS_DATA_SHARE, last_epoch, most[0])
        data_least = quotes.class_value(C.CLASS_DATA_SHARE, last_epoch, least[0])
        if data_most is not None and data_least is not None:
            parts += ["; in the test set these digits are ", data_most, " and ", data_least]
        out.append(Sentence(parts + ["."]))
    modes = quotes.metric(C.PRIOR + C.MODES_COVERED, last_epoch)
    if modes is not None:
        out.append(Sentence(["At ", epoch_tag(last_epoch), " prior samples cover ", modes, " of the ten digits "
                             "(a digit counts when it makes up at least ", const_tag(percent(MISSING_SHARE)),
                             " of the readable samples)."]))
    recall = _recall_sentence(quotes, last_epoch)
    if recall is not None:
        out.append(recall)
    parts, found = _path(quotes, C.RECON_ACCURACY, "The classifier's accuracy on reconstructed test digits",
                         KNN_CHANGE, percent(KNN_CHANGE))
    if found:
        word = "preserves" if found[-1].value >= RECON_GOOD else "partly loses"
        parts = _with_reference(quotes, C.RECON_ACCURACY, parts, "the classifier on the real test digits")
        out.append(Sentence(parts + ["; at ", epoch_tag(found[-1].epoch),
                                     f" the encoder–decoder round trip {word} the digit identity."]))
    return out + judges_sentences(run)


# ============================================================================================ Q3
def loss_trend(history: pd.DataFrame, column: str, minus: str | None = None,
               epochs: int = TREND_EPOCHS) -> Check | None:
    """The least-squares slope of ``column`` (minus ``minus``, for a gap) over the last ``epochs`` epochs of
    history.csv with its t interval, as a check "above 0" (rising); None without two finite points."""
    if column not in history.columns or (minus is not None and minus not in history.columns):
        return None
    y = pd.to_numeric(history[column], errors="coerce")
    if minus is not None:
        y = y - pd.to_numeric(history[minus], errors="coerce")
    y = y.dropna().sort_index().iloc[-epochs:]
    if len(y) < 3:
        return None
    fit = slope_interval(y.index.to_numpy(dtype=float), y.to_numpy(dtype=float))
    return Check(f"slope of {column}" + (f" − {minus}" if minus else ""), fit.mean, fit.low, fit.high, 0.0, ABOVE,
                 f"t interval of the least-squares slope over epochs {int(y.index[0])}–{int(y.index[-1])}",
                 int(y.index[-1]))


def slope_parts(check: Check) -> list[Part]:
    """"+0.012 nats/epoch (95 % CI [−0.004, +0.028])"."""
    how = f"{check.interval}, {CI_TEXT}"
    parts: list[Part] = [stat_tag(f"{check.estimate:+.3f}", f"least-squares slope: {check.interval}"), SLOPE_UNIT]
    tag = interval_tag(check.low, check.high, lambda v: f"{v:+.3f}", how)
    return parts + ([" (", const_tag(CI_TEXT), " ", tag, ")"] if tag is not None else [])


def _test_loss_sentence(quotes: Quotes, history: pd.DataFrame) -> Sentence:
    test = pd.to_numeric(history[C.TEST_LOSS], errors="coerce").dropna()
    last = int(test.index.max())
    if last <= TRAIN_LENGTH_EPOCH:
        return Sentence(["Training stopped at ", epoch_tag(last), ", not after ", epoch_tag(TRAIN_LENGTH_EPOCH),
                         ": this run cannot tell whether training longer helps (test loss ",
                         quotes.history_value(C.TEST_LOSS, last), " at its last epoch)."])
    check = loss_trend(history, C.TEST_LOSS)
    window = test.sort_index().iloc[-TREND_EPOCHS:]
    start = int(window.index[0])
    lowest = int(window.idxmin())
    before = [int(i) for i in test.index if i <= TRAIN_LENGTH_EPOCH]
    ref = max(before) if before else int(test.index.min())
    parts: list[Part] = ["The test loss is ", quotes.history_value(C.TEST_LOSS, ref), " at ", epoch_tag(ref),
                         " and ", quotes.history_value(C.TEST_LOSS, last), " at ", epoch_tag(last),
                         "; over the last ", const_tag(f"{len(window)}"), " epochs (", epoch_tag(start), " to ",
                         epoch_tag(last), ") its least-squares slope is "]
    if check is None:
        return Sentence(parts[:8] + ["."])
    parts += slope_parts(check)
    answer = check.answer
    if answer == "supported":
        parts += [": the test loss rises, training longer hurts (overfitting)"]
    elif answer == "refuted" and check.high < 0:
        parts += [": the test loss keeps falling, training longer helps"]
    else:
        parts += [": flat within its interval, no evidence that training longer helps or hurts"]
        if lowest != last:
            parts += [" (the lowest single epoch, ", quotes.history_value(C.TEST_LOSS, lowest), " at ",
                      epoch_tag(lowest), ", is within the scatter around the trend, not a minimum to stop at)"]
    return Sentence(parts + ["."])


def _gap_sentences(quotes: Quotes, history: pd.DataFrame) -> list[Sentence]:
    last = int(pd.to_numeric(history[C.TEST_LOSS], errors="coerce").dropna().index.max())
    test = quotes.history_value(C.TEST_LOSS, last)
    train_eval = quotes.history_value(C.TRAIN_EVAL_LOSS, last) if C.TRAIN_EVAL_LOSS in history.columns else None
    running = quotes.history_value(C.TRAIN_LOSS, last)
    if test is None:
        return []
    if train_eval is None:
        parts: list[Part] = ["The train loss in eval mode (train_eval_loss) was not measured for this run, so the "
                             "train–test gap is not reported"]
        if running is not None:
            parts += ["; the running train loss ", running, " at ", epoch_tag(last), " (a mean over the epoch "
                      "while the weights change) understates it and decides nothing"]
        return [Sentence(parts + ["."])]
    gap = test.value - train_eval.value
    parts = ["At ", epoch_tag(last), " the test loss ", test, " is ",
             stat_tag(f"{gap:.2f}", "test_loss − train_eval_loss"), " nats above the train loss measured the same "
             "way (", train_eval, ", eval mode, a fixed training subset the size of the test set)"]
    check = loss_trend(history, C.TEST_LOSS, minus=C.TRAIN_EVAL_LOSS)
    if check is not None:
        span = check.interval.rpartition("over epochs ")[2]
        parts += ["; over epochs ", const_tag(span), " the gap's slope is "]
        parts += slope_parts(check)
        if check.answer == "supported":
            parts += [": the gap grows, the model fits its training digits increasingly better than unseen ones "
                      "(whether unseen digits get worse is the test loss's answer)"]
        elif check.high < 0:
            parts += [": the gap shrinks"]
        else:
            parts += [": the gap does not grow measurably"]
    return [Sentence(parts + ["."])]


def _iwae_sentence(quotes: Quotes) -> Sentence | None:
    run, parts, shown = quotes.run, [], 0
    for epoch in run.epochs:
        test, train = quotes.metric(C.IWAE_NLL, epoch), quotes.metric(C.IWAE_TRAIN_NLL, epoch)
        if test is None or train is None:
            continue
        parts += ([", " if shown else "The IWAE bound on −log p(x), test vs the same-size training subset: "]
                  + [epoch_tag(epoch), " ", test, " vs ", train, " (gap ",
                     stat_tag(f"{test.value - train.value:.2f}", "iwae_nll_nats − iwae_train_nll_nats"), ")"])
        shown += 1
    if not shown:
        return None
    return Sentence(parts + [" nats."])


def _diversity_sentence(quotes: Quotes, middle: int, last: int) -> Sentence | None:
    parts: list[Part] = ["From ", epoch_tag(middle), " to ", epoch_tag(last), ":"]
    fell, shown = [], 0
    for column, drop in DIVERSITY_DROPS.items():
        before, after = quotes.metric(column, middle), quotes.metric(column, last)
        if before is None or after is None:
            continue
        name = DIVERSITY_NAMES.get(column, column)
        parts += ([","] if shown else []) + [f" {name} ", before, " → ", after]
        shown += 1
        limit = drop
        if column == C.PRIOR + C.ENTROPY_NORM:
            widths = [(h - lo) / 2 for lo, h in (prior_entropy_ci(quotes.run, e) for e in (middle, last))
                      if math.isfinite(lo) and math.isfinite(h)]
            limit = max([drop] + widths)
        if before.value - after.value > limit:
            fell.append(name)
    if not shown:
        return None
    words = f"diversity falls ({', '.join(fell)} dropped)" if fell else "diversity does not fall"
    return Sentence(parts + [f"; {words}."])


MISSING_HISTORY = ("No training history: history.csv is missing from this run (deleted or never written), so the "
                   "train and test loss over the training epochs, and the overfitting check on them, are left out "
                   "here; `vaediag train --out RUN_DIR --resume` writes it again from checkpoints/last.pt.")


def training_length_sentences(run: Run) -> list[Sentence]:
    quotes, out, history = Quotes(run), [], run.history
    if not len(history) and run.is_external:
        out.append(Sentence(["No training history: this is an external run (a model evaluated with "
                             "vaediag.evaluate_model) and no per-epoch losses were handed over (evaluate_model("
                             "..., history={'train_loss': [...], 'test_loss': [...]})), so the train and test loss "
                             "over the training epochs are not known; the IWAE bounds of the evaluated epochs "
                             "answer instead (not measured either for a deterministic encoder)."]))
    elif not len(history):
        out.append(Sentence([MISSING_HISTORY]))
    if C.TEST_LOSS in history.columns and len(history):
        test = pd.to_numeric(history[C.TEST_LOSS], errors="coerce").dropna()
        if len(test):
            out.append(_test_loss_sentence(quotes, history))
            out += _gap_sentences(quotes, history)
    iwae = _iwae_sentence(quotes)
    if iwae is not None:
        out.append(iwae)
    if run.middle != run.last:
        diversity = _diversity_sentence(quotes, run.middle, run.last)
        if diversity is not None:
            out.append(diversity)
    return out
