"""The sentences that answer the report's three questions, each written from a run's numbers by the rules
of :mod:`vaediag.report.rules`:

- Q1 ``separation_sentences``: do the digits form separate clusters in the latent space?
- Q2 ``generation_sentences``: are the generated digits good and diverse?
- Q3 ``training_length_sentences``: does training longer help?
"""

from __future__ import annotations

import pandas as pd

from vaediag import columns as C
from vaediag.rundir import Run

from .findings import Finding, Part, Quotes, Sentence, const_tag, digit_tag, epoch_tag, pair_tag
from .formats import percent
from .rules import (
    CONFIDENCE_CHANGE,
    DIVERSITY_DROPS,
    FRECHET_CHANGE_REL,
    GAP_REL,
    KNN_CHANGE,
    LOSS_CHANGE_REL,
    MISSING_SHARE,
    PAIR_CHANGE,
    RECON_GOOD,
    SILHOUETTE_CHANGE,
    TOP_PAIRS,
    TRAIN_LENGTH_EPOCH,
    silhouette_level,
    trend,
)

DIVERSITY_NAMES = {C.PRIOR + C.ENTROPY_NORM: "normalised class entropy of prior samples",
                   C.PRIOR + C.MODES_COVERED: "digits covered", C.RECALL: "PRDC recall", C.COVERAGE: "PRDC coverage"}


# ============================================================================================ Q1
def top_pairs(run: Run, epoch: int, n: int = TOP_PAIRS) -> list[tuple[int, int]]:
    """The ``n`` digit pairs with the highest confusion rate at ``epoch`` (ties: smallest (a, b) first)."""
    pairs = run.pairs[run.pairs[C.EPOCH] == epoch].copy()
    pairs[C.CONFUSION_RATE] = pd.to_numeric(pairs[C.CONFUSION_RATE], errors="coerce")
    pairs = pairs.dropna(subset=[C.CONFUSION_RATE])
    pairs = pairs.sort_values([C.CONFUSION_RATE, C.DIGIT_A, C.DIGIT_B], ascending=[False, True, True])
    return [(int(a), int(b)) for a, b in zip(pairs[C.DIGIT_A].head(n), pairs[C.DIGIT_B].head(n))]


def separation_sentences(run: Run) -> list[Sentence]:
    quotes, out = Quotes(run), []
    parts, first, last = quotes.first_to_last(C.SILHOUETTE, "The silhouette of the test codes grouped by digit")
    if last is not None:
        words = "" if first is None else trend(first.value, last.value, SILHOUETTE_CHANGE, "it rises",
                                               "it falls", "it stays about the same")
        out.append(Sentence(parts + [": " + (words + "; " if words else "") + "at ", epoch_tag(run.last),
                                     f" the digits form {silhouette_level(last.value)}."]))
    parts, first, last = quotes.first_to_last(C.KNN_ACCURACY,
                                              "The kNN accuracy (digit predicted from its latent neighbours)")
    if last is not None:
        words = "." if first is None else ": it " + trend(first.value, last.value, KNN_CHANGE, "rises.",
                                                          "falls.", "stays about the same.")
        out.append(Sentence(parts + [words]))
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
        last = quotes.pair_rate(run.last, a, b)
        parts = [pair_tag(a, b), " is the most mixed pair at ", epoch_tag(run.last), " (", last,
                 " of its digits are predicted as the other one)"]
        first = quotes.pair_rate(run.first, a, b) if run.first != run.last else None
        if first is not None:
            change = trend(first.value, last.value, PAIR_CHANGE, "more mixed than", "less mixed than",
                           "about as mixed as")
            parts += [f"; it is {change} at ", epoch_tag(run.first), " (", first, ")"]
        out.append(Sentence(parts + ["."]))
    return out


# ============================================================================================ Q2
def _with_reference(quotes: Quotes, column: str, parts: list[Part], label: str = "real test digits") -> list[Part]:
    reference = quotes.reference(column)
    return parts + ([f" ({label}: ", reference, ")"] if reference is not None else [])


def generation_sentences(run: Run) -> list[Sentence]:
    quotes, out, last_epoch = Quotes(run), [], run.last
    parts, first, last = quotes.first_to_last(C.PRIOR + C.CONFIDENCE,
                                              "The classifier's mean confidence on prior samples")
    if last is not None:
        parts = _with_reference(quotes, C.PRIOR + C.CONFIDENCE, parts)
        if first is not None:
            parts += [": generated digits got " + trend(first.value, last.value, CONFIDENCE_CHANGE, "crisper",
                                                        "less crisp", "neither crisper nor blurrier")]
        out.append(Sentence(parts + ["."]))
    parts, first, last = quotes.first_to_last(C.PRIOR + C.CLASSIFIER_SCORE,
                                              "The classifier score of prior samples (higher = crisp and diverse)")
    if last is not None:
        out.append(Sentence(_with_reference(quotes, C.PRIOR + C.CLASSIFIER_SCORE, parts) + ["."]))
    parts, first, last = quotes.first_to_last(C.FRECHET, "The Fréchet distance of prior samples to the real "
                                                         "test digits")
    if last is not None:
        parts = _with_reference(quotes, C.FRECHET, parts, "two halves of the real test set")
        if first is not None:
            tolerance = FRECHET_CHANGE_REL * max(abs(first.value), 1e-12)
            parts += [": generated digits got " + trend(first.value, last.value, tolerance, "further from",
                                                        "closer to", "about as close to") + " real ones"]
        out.append(Sentence(parts + ["."]))
    shares = [(d, quotes.class_value(C.CLASS_PRIOR_SHARE, last_epoch, d)) for d in range(C.N_CLASSES)]
    shares = [(d, share) for d, share in shares if share is not None]
    if shares:
        most = max(shares, key=lambda item: (item[1].value, -item[0]))
        least = min(shares, key=lambda item: (item[1].value, item[0]))
        parts = ["At ", epoch_tag(last_epoch), " prior samples show digit ", digit_tag(most[0]), " most often (",
                 most[1], ") and digit ", digit_tag(least[0]), " least often (", least[1], ")"]
        data_most = quotes.class_value(C.CLASS_DATA_SHARE, last_epoch, most[0])
        data_least = quotes.class_value(C.CLASS_DATA_SHARE, last_epoch, least[0])
        if data_most is not None and data_least is not None:
            parts += ["; in the test set these digits are ", data_most, " and ", data_least]
        out.append(Sentence(parts + ["."]))
    modes = quotes.metric(C.PRIOR + C.MODES_COVERED, last_epoch)
    if modes is not None:
        out.append(Sentence(["At ", epoch_tag(last_epoch), " prior samples cover ", modes, " of the ten digits "
                             "(a digit counts when it makes up at least ", const_tag(percent(MISSING_SHARE)),
                             " of the samples)."]))
    parts, first, last = quotes.first_to_last(C.RECON_ACCURACY, "The classifier's accuracy on reconstructed "
                                                                "test digits")
    if last is not None:
        word = "preserves" if last.value >= RECON_GOOD else "partly loses"
        parts = _with_reference(quotes, C.RECON_ACCURACY, parts, "the classifier on the real test digits")
        out.append(Sentence(parts + [f": the encoder–decoder round trip {word} the digit identity."]))
    return out


# ============================================================================================ Q3
def _test_loss_sentence(quotes: Quotes, test: pd.Series) -> Sentence:
    last = int(test.index.max())
    if last <= TRAIN_LENGTH_EPOCH:
        return Sentence(["Training stopped at ", epoch_tag(last), ", not after ", epoch_tag(TRAIN_LENGTH_EPOCH),
                         ": this run cannot tell whether training longer helps (test loss ",
                         quotes.history_value(C.TEST_LOSS, last), " at its last epoch)."])
    before = [int(i) for i in test.index if i <= TRAIN_LENGTH_EPOCH]
    ref = max(before) if before else int(test.index.min())  # epoch 30, or the last one before it
    lowest = int(test[test.index > ref].idxmin())
    at_ref, at_lowest, at_last = (quotes.history_value(C.TEST_LOSS, e) for e in (ref, lowest, last))
    tolerance = LOSS_CHANGE_REL * abs(at_ref.value)
    if at_ref.value - at_last.value > tolerance and at_last.value - at_lowest.value <= tolerance:
        parts = ["The test loss keeps falling after ", epoch_tag(ref), ": ", at_ref, " there, ", at_last, " at ",
                 epoch_tag(last)]
        if lowest != last:
            parts += [" (lowest ", at_lowest, " at ", epoch_tag(lowest), ")"]
        return Sentence(parts + [": training longer helps."])
    if at_ref.value - at_lowest.value > tolerance and at_last.value - at_lowest.value > tolerance:
        return Sentence(["The test loss falls from ", at_ref, " at ", epoch_tag(ref), " to ", at_lowest, " at ",
                         epoch_tag(lowest), ", then rises to ", at_last, " at ", epoch_tag(last),
                         ": training past its minimum overfits."])
    if at_last.value - at_ref.value > tolerance:
        return Sentence(["The test loss rises after ", epoch_tag(ref), ": from ", at_ref, " to ", at_last, " at ",
                         epoch_tag(last), ": training longer hurts."])
    return Sentence(["The test loss is flat after ", epoch_tag(ref), ": ", at_ref, " there and ", at_last, " at ",
                     epoch_tag(last), " (changes within ", const_tag(percent(LOSS_CHANGE_REL)),
                     "): training longer does not help."])


def _gap_sentence(quotes: Quotes, last: int, train: Finding, test: Finding) -> Sentence:
    gap, limit = test.value - train.value, GAP_REL * abs(test.value)
    if gap > limit:
        parts = ["At ", epoch_tag(last), " the test loss ", test, " is above the train loss ", train,
                 " by more than ", const_tag(percent(GAP_REL)),
                 ": the model fits its training digits better than unseen ones (overfitting)"]
        train_then = quotes.history_value(C.TRAIN_LOSS, TRAIN_LENGTH_EPOCH)
        test_then = quotes.history_value(C.TEST_LOSS, TRAIN_LENGTH_EPOCH)
        if last > TRAIN_LENGTH_EPOCH and train_then is not None and test_then is not None:
            grew = gap - (test_then.value - train_then.value) > LOSS_CHANGE_REL * abs(test.value)
            parts += ["; " + ("the gap has grown" if grew else "the gap has not grown") + " since ",
                      epoch_tag(TRAIN_LENGTH_EPOCH), " (train ", train_then, ", test ", test_then, ")"]
    elif gap < -limit:
        parts = ["At ", epoch_tag(last), " the test loss ", test, " is below the train loss ", train,
                 ": no overfitting (the train loss is averaged over an epoch in which the model still improves)"]
    else:
        parts = ["At ", epoch_tag(last), " train and test loss are within ", const_tag(percent(GAP_REL)),
                 " of each other (", train, " and ", test, "): no sign of overfitting"]
    return Sentence(parts + ["."])


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
        if before.value - after.value > drop:
            fell.append(name)
    if not shown:
        return None
    words = f"diversity falls ({', '.join(fell)} dropped)" if fell else "diversity does not fall"
    return Sentence(parts + [f"; {words}."])


def training_length_sentences(run: Run) -> list[Sentence]:
    quotes, out, history = Quotes(run), [], run.history
    if C.TEST_LOSS in history.columns and len(history):
        test = pd.to_numeric(history[C.TEST_LOSS], errors="coerce").dropna()
        if len(test):
            out.append(_test_loss_sentence(quotes, test))
            last = int(test.index.max())
            train, test_last = quotes.history_value(C.TRAIN_LOSS, last), quotes.history_value(C.TEST_LOSS, last)
            if train is not None and test_last is not None:
                out.append(_gap_sentence(quotes, last, train, test_last))
    if run.middle != run.last:
        diversity = _diversity_sentence(quotes, run.middle, run.last)
        if diversity is not None:
            out.append(diversity)
    return out
