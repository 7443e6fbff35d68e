"""What the report says about its two judges: the image judge's unreadable bucket (a quality finding, Q2), the two
judges side by side (a sentence in Q2 and a per-class table under the verdict), which to trust for what, and the
parts the verdict sentences quote when the judges disagree or the image judge cannot read a digit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from vaediag import columns as C
from vaediag.judgement.formats import percent
from vaediag.judgement.intervals import code_share_ci, prior_share_ci, recon_recall, setting
from vaediag.judgement.judges import TRUST_TEXT, cannot_read, class_answers
from vaediag.judgement.rules import CI_TEXT, ENTROPY_CHANGE, MISSING_SHARE, RECALL_GAP, RECON_READ_MIN
from vaediag.stats import BELOW
from vaediag.store.rundir import Run

from .findings import Part, Quotes, Sentence, const_tag, digit_tag, epoch_tag, interval_tag
from .trajectory import trajectory_words

IMAGE, CODE = "image judge", "code judge"
UNREADABLE_CHANGE = ENTROPY_CHANGE  # a change of the unreadable share without intervals: one percentage point


def _ci(run: Run, column: str, epoch: int) -> tuple[float, float]:
    return tuple(run.value(c, epoch) for c in C.ci_columns(column))  # type: ignore[return-value]


def unreadable_sentence(run: Run) -> Sentence | None:
    """Q2: the share of prior samples the image judge cannot read at every checkpoint, with its interval, beside
    the real digits' share."""
    quotes, column = Quotes(run), C.PRIOR + C.UNREADABLE_SHARE
    parts: list[Part] = ["The share of prior samples the classifier cannot read (top class probability below ",
                         const_tag(f"{setting(run, 'unreadable_below'):g}"), ") is "]
    points = []
    for epoch in run.epochs:
        value = quotes.metric(column, epoch)
        if value is None:
            continue
        low, high = _ci(run, column, epoch)
        tag = interval_tag(low, high, percent, f"Wilson {CI_TEXT} over the prior samples")
        parts += ([", "] if points else []) + [value] + ([" ", tag] if tag is not None else []) + [" at ",
                                                                                                    epoch_tag(epoch)]
        points.append((epoch, value.value, low, high))
    if not points:
        return None
    words = trajectory_words(points, UNREADABLE_CHANGE, percent(UNREADABLE_CHANGE))
    parts += [": it "] + words if words else []
    reference = quotes.reference(column)
    parts += [" (real test digits: ", reference, ")"] if reference is not None else []
    return Sentence(parts + [". An unreadable sample counts in no digit: a blurrier model shows here, as a quality "
                             "problem, never as more of whichever digit a confused classifier would pick."])


def judges_sentences(run: Run) -> list[Sentence]:
    """Q2: at the last checkpoint, how many prior samples each judge names and how often they agree, and which judge
    to trust for what."""
    quotes, epoch = Quotes(run), run.last
    readable, off = quotes.metric(C.PRIOR + C.N_READABLE, epoch), quotes.metric(C.PRIOR_OFF_CODES, epoch)
    agree = quotes.metric(C.JUDGE_AGREEMENT, epoch)
    if off is None or agree is None:
        return [Sentence(["This run was evaluated without the second judge (the classes of each prior sample's "
                          "nearest test codes), so no class-share finding can be confirmed: evaluate it again."])]
    samples = setting(run, "samples")
    parts: list[Part] = ["At ", epoch_tag(epoch), " the image judge (the classifier) reads "]
    parts += [readable, " of the "] if readable is not None else ["the "]
    parts += [const_tag(f"{samples:.0f}") if math.isfinite(samples) else "", " prior samples; the code judge (the "
              "digits of each sample's ", const_tag(f"{setting(run, 'knn_k'):.0f}"), " nearest test codes) names "
              "those that lie on the test codes, leaving out ", off, " that lie off them"]
    if off.value > 0.5:
        parts += [" (prior samples fall between the codes, as they do in many latent dimensions: the code judge "
                  "decides little here)"]
    low, high = _ci(run, C.JUDGE_AGREEMENT, epoch)
    tag = interval_tag(low, high, percent, f"Wilson {CI_TEXT} over the samples both judges name")
    parts += ["; where both name a sample they agree on ", agree] + ([" ", tag] if tag is not None else [])
    parts += [" of them (their shares side by side: the table under the verdict). ", TRUST_TEXT[0].upper(),
              TRUST_TEXT[1:], "."]
    return [Sentence(parts)]


def class_parts(quotes: Quotes, epoch: int, digit: int, image_ci, code_ci) -> list[Part]:
    """"9.7 % [9.1 %, 10.3 %] (image judge) vs 10.1 % [9.5 %, 10.8 %] (code judge)" for one digit."""
    parts: list[Part] = []
    for column, bounds, who in ((C.CLASS_PRIOR_SHARE, image_ci, IMAGE), (C.CLASS_PRIOR_CODE_SHARE, code_ci, CODE)):
        value = quotes.class_value(column, epoch, digit)
        parts += [" vs "] if parts else []
        if value is None:
            parts += [f"not measured ({who})"]
            continue
        tag = None if bounds is None else interval_tag(bounds[0][digit], bounds[1][digit], percent,
                                                       f"Wilson {CI_TEXT} of the {who}'s share")
        parts += [value] + ([" ", tag] if tag is not None else []) + [f" ({who})"]
    return parts


def both_judges_listing(quotes: Quotes, epoch: int, digits) -> list[Part]:
    """"digit 3: <image> vs <code>, digit 5: ..." (both judges' prior shares with their intervals)."""
    image_ci, code_ci = prior_share_ci(quotes.run, epoch), code_share_ci(quotes.run, epoch)
    parts: list[Part] = []
    for i, d in enumerate(digits):
        parts += ([", "] if i else []) + ["digit ", digit_tag(d), ": "] + class_parts(quotes, epoch, d, image_ci,
                                                                                     code_ci)
    return parts


def unreadable_digits_listing(quotes: Quotes, epoch: int, digits) -> list[Part]:
    """"digit 3 (read in 0.0 % [0.0 %, 0.4 %] of its reconstructions; latent kNN recall 66.1 %)"."""
    recall = recon_recall(quotes.run, epoch)
    parts: list[Part] = []
    for i, d in enumerate(digits):
        parts += ([", "] if i else []) + ["digit ", digit_tag(d), " (read in "]
        value = quotes.class_value(C.CLASS_RECON_RECALL, epoch, d)
        parts += [value if value is not None else "?"]
        tag = None if recall is None else interval_tag(recall[1][d], recall[2][d], percent,
                                                       f"Wilson {CI_TEXT} over the digit's test images")
        parts += [" ", tag] if tag is not None else []
        knn = quotes.class_value(C.CLASS_KNN_RECALL, epoch, d)
        parts += [" of its reconstructions; latent kNN recall ", knn, ")"] if knn is not None else \
            [" of its reconstructions)"]
    return parts + ["; the rule: the upper end of that interval below ", const_tag(percent(RECON_READ_MIN)),
                    " or more than ", const_tag(f"{RECALL_GAP:g}"), " below the kNN recall"]


def judges_table(run: Run, epoch: int | None = None) -> pd.DataFrame:
    """Per digit at ``epoch`` (default: the last checkpoint): both judges' prior shares with their intervals, the
    test-set share, their agreement, the image judge's recall on the reconstructions beside the latent kNN recall,
    and the answer to "missing?" (supported / refuted only when both judges agree and the judge reads the digit)."""
    epoch = run.last if epoch is None else epoch
    per_class = run.per_class
    rows = per_class[(per_class[C.SOURCE] == C.SOURCE_MODEL) & (per_class[C.EPOCH] == epoch)].set_index(C.CLASS)
    rows = rows.reindex(range(C.N_CLASSES))

    def cell(column: str, d: int) -> float:
        value = rows[column].get(d, np.nan) if column in rows.columns else np.nan
        return float(pd.to_numeric(value, errors="coerce"))

    def shown(column: str, d: int) -> str:
        value, (low, high) = cell(column, d), (cell(c, d) for c in C.ci_columns(column))
        if not math.isfinite(value):
            return "not measured"
        return f"{percent(value)} [{percent(low)}, {percent(high)}]" if math.isfinite(low) else percent(value)

    image_ci, code_ci = prior_share_ci(run, epoch), code_share_ci(run, epoch)
    recall = recon_recall(run, epoch)
    knn = np.array([cell(C.CLASS_KNN_RECALL, d) for d in range(C.N_CLASSES)])
    unreadable = cannot_read(None if recall is None else recall[2], knn)
    answers = class_answers(image_ci, code_ci, MISSING_SHARE, BELOW, unreadable) if image_ci is not None else []
    out = []
    for d in range(C.N_CLASSES):
        answer = answers[d] if answers else None
        out.append({C.CLASS: run.classes.name(d), "image judge share": shown(C.CLASS_PRIOR_SHARE, d),
                    "code judge share": shown(C.CLASS_PRIOR_CODE_SHARE, d),
                    "test-set share": percent(cell(C.CLASS_DATA_SHARE, d)),
                    "judges agree": shown(C.CLASS_JUDGE_AGREEMENT, d),
                    "recon recall": shown(C.CLASS_RECON_RECALL, d),
                    "kNN recall": percent(knn[d]) if math.isfinite(knn[d]) else "",
                    f"missing (< {percent(MISSING_SHARE)})?": "" if answer is None else _answer_text(answer)})
    return pd.DataFrame(out).set_index(C.CLASS)


def _answer_text(answer) -> str:
    """"supported (missing)", "refuted (drawn)" or "inconclusive: <reason>"."""
    words = {"supported": "supported (missing)", "refuted": "refuted (drawn)"}
    return words.get(answer.answer, f"{answer.answer}: {answer.reason}")


JUDGES_TABLE_DOCS = {
    "image judge share": "share of the readable prior samples the classifier reads as this digit, with its Wilson "
                         f"{CI_TEXT} (per_class.csv prior_share)",
    "code judge share": "share of the prior samples on the codes whose nearest test codes are mostly this digit, "
                        f"with its Wilson {CI_TEXT} (per_class.csv prior_code_share)",
    "test-set share": "the digit's share of the test labels",
    "judges agree": "of the prior samples either judge puts in this digit, the share both do (judge_agreement)",
    "recon recall": "the classifier's recall on the model's reconstructions of this digit's test images "
                    f"(recon_recall); below {percent(RECON_READ_MIN)} or more than {RECALL_GAP:g} below the kNN "
                    "recall (upper end of the interval): the classifier cannot read this model's drawings of it",
    "kNN recall": "the latent kNN classifier's recall of the digit (knn_recall): does the code keep it apart?",
    f"missing (< {percent(MISSING_SHARE)})?": "supported / refuted only when both judges' intervals lie on the same "
                                              "side of the threshold and the classifier can read the digit; else "
                                              "inconclusive, with the reason",
}
