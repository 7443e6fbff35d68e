"""Q3's one-line answers of a sweep configuration are decisions of the report's corrected family: the change they
decide (last checkpoint at or before epoch 30 -> the last one) is counted once in the family, printed at the
family's level, and the answer agrees with that interval -- so the one-line answer and the section below it cannot
disagree on a borderline change."""

from __future__ import annotations

import re

import pytest
from fake_run import make_fake_run

from vaediag import columns as C
from vaediag.compare import compare_runs
from vaediag.judgement import replicates as R
from vaediag.report.sweep import answers_by_group
from vaediag.report.sweep_decisions import (
    answer_key,
    decision_family,
    training_length_epochs,
)
from vaediag.stats import INCONCLUSIVE, REFUTED, SUPPORTED
from vaediag.store.rundir import Run


def test_training_length_epochs_picks_the_last_checkpoint_at_or_before_30_and_the_last():
    assert training_length_epochs([5, 15, 30, 50, 100]) == (30, 100)
    assert training_length_epochs([5, 20, 40]) == (20, 40)
    assert training_length_epochs([5, 15, 30]) is None  # nothing after epoch 30
    assert training_length_epochs([40, 50]) is None  # nothing to start from


def _tables(tmp_path, epochs):
    runs = [make_fake_run(tmp_path / f"mlp_z2_s{s}", seed=s, epochs=epochs, write_artifacts=False) for s in (0, 1, 2)]
    df = R.with_derived(compare_runs(runs, metrics=[C.KNN_ACCURACY, C.TEST_LOSS, C.TRAIN_EVAL_LOSS]))
    metrics = [m for m in (C.KNN_ACCURACY, C.TEST_LOSS, R.LOSS_GAP) if m in df.columns]
    return runs, df, R.seed_statistics(df, metrics)


@pytest.mark.parametrize("epochs, own", [((5, 30, 40, 50), True), ((5, 30, 50), False)],
                         ids=["30->50 spans two steps: its own decision", "30->50 is a step: counted once"])
def test_q3_answers_are_decisions_of_the_family_at_its_level(tmp_path, epochs, own):
    runs, df, summary = _tables(tmp_path, epochs)
    group = df.reset_index()["group"].iloc[0]
    family = decision_family(df, summary)
    keys = {m: answer_key(family, group, m, 30, 50) for m in (C.TEST_LOSS, R.LOSS_GAP)}
    assert all(k in family.tests for k in keys.values())
    assert {k[0] for k in keys.values()} == ({"answer"} if own else {"step"})
    assert all(family.sections[k] == "Q3" for k in keys.values())
    steps = len(epochs) - 1
    per_metric = steps + (steps > 1)  # each step and, with more than one step, the first-to-last change
    trajectories = sum(per_metric for sid in ("q1", "q2", "q3") for m in _question_metrics(sid)
                       if m in set(summary[R.METRIC]))
    assert len(family.tests) == trajectories + (2 if own else 0)

    lines = answers_by_group(df, summary, Run(runs[0]).classes, family)[group]["q3"]
    assert len(lines) == 2
    for line, metric in zip(lines, (C.TEST_LOSS, R.LOSS_GAP)):
        text = "".join(p if isinstance(p, str) else str(getattr(p, "text", p)) for p in line.sentence.parts)
        iv = family.interval(keys[metric])
        assert f"({family.level_text} CI " in text
        quoted = {p.stat: p.value for p in line.sentence.parts if hasattr(p, "stat")}
        assert quoted["step_low"] == pytest.approx(iv.low) and quoted["step_high"] == pytest.approx(iv.high)
        expected = SUPPORTED if iv.low > 0 else REFUTED if iv.high <= 0 else INCONCLUSIVE
        assert line.answer == expected
        assert (line.answer == SUPPORTED) <= family.made(keys[metric])  # a rise is called only if the family makes it
        assert re.search(r"paired over", text)


def _question_metrics(sid):
    from vaediag.report.sweep_decisions import QUESTIONS
    return [m for m, _, _ in QUESTIONS[sid]]
