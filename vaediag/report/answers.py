"""The one-line answers that open each question of the report: supported / refuted / inconclusive with the
number and interval they rest on, then the evidence (the sentences of :mod:`.questions`).

Q1 answers from the kNN accuracy's interval (:func:`vaediag.judgement.answers.separation_check`), Q2 from the
collapse verdict (:func:`vaediag.judgement.answers.diversity_answer`; quality has no threshold rule and says so),
Q3 with two answers kept apart: "does more training hurt unseen digits?" (the test-loss slope, which answers the
question) and "does the train–test gap grow?" (the gap's slope, which describes the fit). A run that cannot
answer (no history, training stopped before the epoch asked about) says why, as an inconclusive answer.
"""

from __future__ import annotations

from dataclasses import dataclass

from vaediag import columns as C
from vaediag.judgement.answers import diversity_answer, separation_check
from vaediag.judgement.formats import percent
from vaediag.judgement.rules import (CI_TEXT, COLLAPSE_ENTROPY, SEPARATED_KNN, TRAIN_LENGTH_EPOCH, Check,
                                     silhouette_level)
from vaediag.judgement.verdict import (CHECK_ENTROPY, VERDICT_IMBALANCE, VERDICT_MODE_COLLAPSE,
                                       VERDICT_NOT_APPLICABLE, VERDICT_POSTERIOR_COLLAPSE, Verdict)
from vaediag.stats import INCONCLUSIVE, REFUTED, SUPPORTED
from vaediag.store.rundir import Run

from .facts import RunFacts
from .findings import Part, Quotes, Sentence, const_tag, digit_tag, epoch_tag, interval_tag
from .questions import loss_trend, slope_parts

NO_RULE = "no rule"  # the badge of a line that quotes numbers no threshold rule decides


@dataclass(frozen=True)
class Answer:
    """One answer line: the short ``question``, its ``answer`` (supported / refuted / inconclusive, or
    ``NO_RULE``), the ``sentence`` with the numbers it rests on, and whether it ``decides`` the section's
    question (Q3's gap line does not)."""

    question: str
    answer: str
    sentence: Sentence
    decides: bool = True


def _interval(check: Check, write) -> list[Part]:
    tag = interval_tag(check.low, check.high, write, f"{CI_TEXT}: {check.interval}")
    return [" ", tag] if tag is not None else [" (no interval)"]


# ============================================================================================ Q1
def separation_answer(run: Run) -> Answer:
    quotes, last = Quotes(run), run.last
    check, knn = separation_check(run, last), quotes.metric(C.KNN_ACCURACY, last)
    if check is None or knn is None:
        return Answer("Separate clusters?", INCONCLUSIVE, Sentence(["the kNN accuracy was not measured."]))
    threshold = const_tag(percent(SEPARATED_KNN))
    words = {SUPPORTED: [": the interval lies wholly above ", threshold, ", the digits form separate clusters"],
             REFUTED: [": the interval lies wholly at or below ", threshold, ", the digits' codes mix"],
             INCONCLUSIVE: [": the interval straddles ", threshold, ", this run cannot tell"]}[check.answer]
    parts: list[Part] = ["kNN accuracy ", knn, *_interval(check, percent), " at ", epoch_tag(last), *words]
    silhouette = quotes.metric(C.SILHOUETTE, last)
    if silhouette is not None:
        parts += ["; silhouette ", silhouette, f" ({silhouette_level(silhouette.value)})"]
    return Answer("Separate clusters?", check.answer, Sentence(parts + ["."]))


# ============================================================================================ Q2
def _missing(verdict: Verdict) -> list[Part]:
    digits = verdict.prior_missing
    parts: list[Part] = ["; prior samples miss digit" + ("s " if len(digits) > 1 else " ")]
    for i, d in enumerate(digits):
        parts += [", " if i else "", digit_tag(d)]
    return parts + [" (mode collapse)"]


def diversity_lines(run: Run, verdict: Verdict) -> list[Answer]:
    quotes, last = Quotes(run), run.last
    answer = diversity_answer(verdict)
    entropy, check = quotes.metric(C.PRIOR + C.ENTROPY_NORM, last), verdict.check(CHECK_ENTROPY)
    parts: list[Part] = []
    if entropy is not None:
        parts += ["normalised class entropy of prior samples ", entropy]
        parts += _interval(check, lambda v: f"{v:.3f}") if check is not None else []
        parts += [" at ", epoch_tag(last)]
    threshold = const_tag(f"{COLLAPSE_ENTROPY:.2f}")
    if verdict.kind == VERDICT_POSTERIOR_COLLAPSE:
        parts += ["; posterior collapse: the code carries no information, the decoder draws (nearly) one image"]
    elif verdict.kind == VERDICT_MODE_COLLAPSE:
        parts += _missing(verdict)
    elif verdict.kind == VERDICT_IMBALANCE:
        parts += ["; its interval lies wholly below ", threshold, ": every digit is drawn, some far more often "
                  "than others (an imbalance)"]
    elif verdict.kind == VERDICT_NOT_APPLICABLE:  # said once, in the verdict section
        parts += ["; no prior-based answer for this model (the collapse verdict below says why)"]
    elif answer == SUPPORTED:
        parts += ["; every digit is drawn and the interval lies wholly at or above ", threshold]
    else:
        parts += [f"; the collapse verdict: {verdict.headline}"]
    lines = [Answer("Diverse?", answer, Sentence(parts + ["."]))]
    quality: list[Part] = []
    for column, what, reference in ((C.FRECHET, "Fréchet distance to real digits ", "two halves of the real test "
                                     "set"), (C.PRIOR + C.CONFIDENCE, "mean classifier confidence ", "real test "
                                     "digits")):
        value, ref = quotes.metric(column, last), quotes.reference(column)
        if value is None:
            continue
        quality += (["; "] if quality else []) + [what, value] + ([f" ({reference}: ", ref, ")"] if ref else [])
    if quality:
        lines.append(Answer("Good?", NO_RULE, Sentence(["no threshold rule decides the quality; at ",
                                                        epoch_tag(last), ": ", *quality, "."]), decides=False))
    return lines


# ============================================================================================ Q3
def _window(check: Check) -> list[Part]:
    """" over epochs 81–100" from the check's interval text (the epochs its slope was fitted on)."""
    span = check.interval.rpartition("over epochs ")[2]
    return [" over epochs ", const_tag(span)] if span else []


def _hurt_line(run: Run, facts: RunFacts, quotes: Quotes) -> Answer:
    question = "Does more training hurt unseen digits?"
    history = run.history
    if not facts.has_history:
        why = ("no training history: this model was not trained by vaediag" if facts.external
               else "no test loss in history.csv")
        return Answer(question, INCONCLUSIVE, Sentence([why + "."]))
    last = facts.last_trained
    if last <= TRAIN_LENGTH_EPOCH:
        when: list[Part] = ([", the epoch the question is about: nothing after it to compare with"]
                            if last == TRAIN_LENGTH_EPOCH else
                            [", before ", epoch_tag(TRAIN_LENGTH_EPOCH), ", the epoch the question is about"])
        return Answer(question, INCONCLUSIVE, Sentence([
            "training stopped at ", epoch_tag(last), *when, " (test loss ", quotes.history_value(C.TEST_LOSS, last),
            ")."]))
    check = loss_trend(history, C.TEST_LOSS)
    if check is None:
        return Answer(question, INCONCLUSIVE, Sentence(["fewer than three epochs have a test loss."]))
    words = {SUPPORTED: ": the test loss rises, so yes, training longer hurts (overfitting)",
             REFUTED: ": the test loss keeps falling, so no, training longer still helps",
             INCONCLUSIVE: ": flat within its interval, no measurable effect either way"}[check.answer]
    return Answer(question, check.answer, Sentence(["test-loss slope ", *slope_parts(check), *_window(check),
                                                    words, "."]))


def _gap_line(run: Run, facts: RunFacts, hurt: Answer) -> Answer | None:
    question = "Does the train–test gap grow?"
    if not facts.has_history:
        return None
    if not facts.train_eval:
        return Answer(question, INCONCLUSIVE, Sentence(["not measured: history.csv has no eval-mode train loss "
                                                        "(train_eval_loss)."]), decides=False)
    check = loss_trend(run.history, C.TEST_LOSS, minus=C.TRAIN_EVAL_LOSS)
    if check is None:
        return Answer(question, INCONCLUSIVE, Sentence(["fewer than three epochs have both losses."]), decides=False)
    words = {SUPPORTED: ": the gap grows, the training digits are fit increasingly better than unseen ones",
             REFUTED: ": the gap does not grow" + (" (it shrinks)" if check.high < 0 else ""),
             INCONCLUSIVE: ": no measurable change"}[check.answer]
    parts: list[Part] = ["gap slope ", *slope_parts(check), *_window(check), words]
    if check.answer == SUPPORTED and hurt.answer != SUPPORTED and hurt.decides:
        parts += ["; the test loss does not rise, so unseen digits do not get worse: the first line answers Q3"]
    else:
        parts += ["; the gap describes the fit, the test loss in the first line answers Q3"]
    return Answer(question, check.answer, Sentence(parts + ["."]), decides=False)


def training_lines(run: Run, facts: RunFacts) -> list[Answer]:
    hurt = _hurt_line(run, facts, Quotes(run))
    gap = _gap_line(run, facts, hurt)
    return [hurt] + ([gap] if gap is not None else [])


def answers(run: Run, facts: RunFacts, verdict: Verdict) -> dict[str, list[Answer]]:
    """Section id -> its answer lines (Q1, Q2, Q3)."""
    return {"q1": [separation_answer(run)], "q2": diversity_lines(run, verdict), "q3": training_lines(run, facts)}


def plain(answer: Answer) -> str:
    """The line as text: "Separate clusters? supported — kNN accuracy …"."""
    return f"{answer.question} {answer.answer} — {answer.sentence.plain()}"


__all__ = ["Answer", "NO_RULE", "answers", "plain"]
