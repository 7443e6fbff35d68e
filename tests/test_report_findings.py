"""Noise-aware findings (issue 8): three-way threshold checks, collapse vs imbalance, the per-digit window
rule, the Q3 trends, trajectory words, the n = 1 section, and the fallbacks for runs evaluated before the
interval columns existed. Expected answers come from the constructed numbers, never from the code's output."""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from vaediag import columns as C
from vaediag import report
from vaediag.report import VerdictEvidence, collapse_verdict
from vaediag.report.findings import Sentence
from vaediag.judgement.intervals import grid_inside_shares, prior_entropy_ci, prior_share_ci
from vaediag.report.questions import loss_trend
from vaediag.judgement.rules import (COLLAPSE_ENTROPY, IMBALANCE_FACTOR, MISSING_SHARE, trajectory_shape,
                                  trajectory_steps)
from vaediag.report.trajectory import trajectory_words
from vaediag.store.rundir import Run

from fake_run import DATA_SHARE, IMBALANCE_SHARE, PRIOR_SAMPLES, agreeing_code_judge, make_fake_run

N = 10000
UNIFORM = np.full(10, 0.1)
HIGH = (0.95, 0.99)


def words(points, tolerance=0.01, text=""):
    return Sentence(trajectory_words(points, tolerance, text)).plain()


def sentences(content, section):
    return " ".join(s.plain() for s in content.sections[section])


# --- trajectories ---------------------------------------------------------------------------------------
def test_trajectory_words_on_constructed_paths():
    assert words([(5, 0.1), (15, 0.2), (30, 0.3), (50, 0.4)]) == "rises at each checkpoint"
    assert words([(5, 0.4), (15, 0.3), (30, 0.2)]) == "falls at each checkpoint"
    assert words([(5, 0.1), (15, 0.2)]) == "rises from epoch 5 to epoch 15"
    assert words([(5, 0.1), (15, 0.3), (30, 0.5), (50, 0.2), (100, 0.1)]) == "rises to a peak at epoch 30, then falls"
    assert words([(5, 0.5), (15, 0.2), (30, 0.6)]) == "falls to its lowest at epoch 15, then rises"
    assert words([(5, 0.1), (15, 0.2), (30, 0.205), (50, 0.203)]) == \
        "rises from epoch 5 to epoch 15, then stays flat (within 0.01) to epoch 50"
    assert words([(5, 0.1), (15, 0.105), (30, 0.1)], text="1 point") == "stays flat within 1 point from epoch 5 to epoch 30"
    assert words([(5, 0.1)]) == ""


def test_changes_smaller_than_the_interval_do_not_count():
    # +0.02 per step: a rise with tight intervals, flat when the intervals are wider than the step
    tight = [(e, 0.5 + 0.02 * i, 0.5 + 0.02 * i - 0.005, 0.5 + 0.02 * i + 0.005) for i, e in enumerate((5, 15, 30))]
    wide = [(e, v, v - 0.05, v + 0.05) for e, v, _, _ in tight]
    assert words(tight, tolerance=1.0) == "rises at each checkpoint"  # the intervals, not the tolerance, decide
    assert words(wide, tolerance=0.0) == "stays flat within its 95 % CI from epoch 5 to epoch 30"


def test_slow_drift_adds_up_against_the_last_change():
    # each step (0.006) is below the tolerance 0.01, but the drift since the anchor passes it
    points = [(e, 0.5 + 0.006 * i) for i, e in enumerate((5, 15, 30, 50, 100))]
    assert trajectory_steps(points, 0.01) == [0, 1, 0, 1]
    assert trajectory_shape(points, 0.01) == "rises"
    assert words(points) == "rises overall from epoch 5 to epoch 100, not at every checkpoint"


# --- missing digit, collapse vs imbalance ---------------------------------------------------------------
def _shares_with(digit, share):
    s = UNIFORM.copy() * (1 - share) / 0.9
    s[digit] = share
    return s


@pytest.mark.parametrize("share, kind, missing, uncertain", [
    (0.0, "mode-collapse", (4,), ()),  # 0 of 10 000: the Wilson upper bound (3.8e-4) is below 1 %: supported
    (0.0085, "inconclusive", (), (4,)),  # 85 of 10 000: the interval straddles 1 %
    (0.05, "healthy", (), ()),  # wholly above: refuted (the digit is drawn)
])
def test_missing_digit_three_answers(share, kind, missing, uncertain):
    low, high = st.binomtest(round(share * N), N).proportion_ci(method="wilson")  # independent Wilson
    assert (high < MISSING_SHARE, low < MISSING_SHARE <= high, low >= MISSING_SHARE) == \
        (kind == "mode-collapse", kind == "inconclusive", kind == "healthy")
    v = collapse_verdict(VerdictEvidence(0.99, 0.99, 0.99, prior_shares=_shares_with(4, share), grid_shares=UNIFORM,
                         prior_samples=N, prior_entropy_ci=HIGH, **agreeing_code_judge(_shares_with(4, share), HIGH)))
    assert (v.kind, v.prior_missing, v.prior_uncertain) == (kind, missing, uncertain)


@pytest.mark.parametrize("ci, kind", [((0.87, 0.89), "imbalance"), ((0.872, 0.905), "inconclusive"),
                                      ((0.905, 0.93), "healthy")])
def test_low_entropy_with_every_digit_drawn_is_an_imbalance_never_a_collapse(ci, kind):
    """Issue 8, bad case (a): epoch 30 with prior entropy 0.878 and all ten digits drawn."""
    v = collapse_verdict(VerdictEvidence(0.878, 0.99, 0.99, prior_shares=IMBALANCE_SHARE, grid_shares=UNIFORM, prior_samples=N,
                         prior_entropy_ci=ci, data_shares=DATA_SHARE, **agreeing_code_judge(IMBALANCE_SHARE, ci)))
    assert v.kind == kind and v.prior_missing == ()
    check = v.check("prior entropy below threshold")
    assert check.answer == {"imbalance": "supported", "inconclusive": "inconclusive", "healthy": "refuted"}[kind]
    assert check.margin == pytest.approx(0.878 - COLLAPSE_ENTROPY)
    if kind == "imbalance":
        ratio = IMBALANCE_SHARE / DATA_SHARE  # 8 is drawn 3.4x as often, 3 and 5 about a sixth as often
        assert v.over_drawn == tuple(np.flatnonzero(ratio > IMBALANCE_FACTOR * 1.1)) == (8,)
        assert v.under_drawn == tuple(np.flatnonzero(ratio < 1 / (IMBALANCE_FACTOR * 1.1))) == (3, 5)


def test_missing_digits_make_a_collapse_even_with_high_entropy():
    v = collapse_verdict(VerdictEvidence(0.95, 0.95, 0.99, prior_shares=_shares_with(2, 0.0), grid_shares=UNIFORM, prior_samples=N,
                         prior_entropy_ci=HIGH, **agreeing_code_judge(_shares_with(2, 0.0), HIGH)))
    assert v.kind == "mode-collapse" and v.prior_missing == (2,)


def test_imbalance_scenario_run_is_not_called_a_collapse(tmp_path):
    run = Run(make_fake_run(tmp_path / "run", epochs=(5, 30), scenario="imbalance", write_artifacts=False))
    content = report.build_content(run)
    assert content.verdict.kind in ("imbalance", "inconclusive")
    text = sentences(content, "verdict")
    assert "collapse of the model" not in text
    if content.verdict.kind == "imbalance":
        assert "an imbalance, not a collapse" in text and "over-drawn: digit 8" in text
    table = report.verdict_table(run)
    assert table.loc[30, "verdict"] == content.verdict.kind and table.loc[30, "missing from prior"] == "–"


# --- window vs resolution -------------------------------------------------------------------------------
@pytest.mark.parametrize("inside, ci, kind", [
    (0.023, (0.016, 0.035), "window"),  # the missing digit's own codes lie outside the window
    (0.97, (0.95, 0.98), "resolution"),  # they lie inside it: the grid points miss a narrow region
    (0.89, (0.85, 0.93), "inconclusive"),  # the interval straddles INSIDE_MIN
])
def test_window_verdict_uses_the_missing_digits_own_codes(inside, ci, kind):
    shares, low, high = np.full(10, 0.5), np.full(10, 0.45), np.full(10, 0.55)  # overall fraction about 0.5
    shares[0], low[0], high[0] = inside, *ci
    grid = UNIFORM.copy()
    grid[0] = 0.0
    v = collapse_verdict(VerdictEvidence(0.99, 0.85, 0.49, prior_shares=UNIFORM, grid_shares=grid / grid.sum(), prior_samples=N,
                         prior_entropy_ci=HIGH, grid_inside_shares=shares, grid_inside_ci=(low, high),
                         grid_inside_fraction_ci=(0.48, 0.50), **agreeing_code_judge(UNIFORM, HIGH)))
    assert v.kind == kind and v.grid_missing == (0,) and v.inside_per_digit
    assert v.window_digits == ((0,) if kind == "window" else ())
    assert v.covered_digits == ((0,) if kind == "resolution" else ())


def test_window_sentence_names_the_digits_with_their_inside_share(tmp_path):
    run = Run(make_fake_run(tmp_path / "run", epochs=(5, 30), scenario="window", write_artifacts=False))
    content = report.build_content(run)
    assert content.verdict.kind == "window" and content.verdict.window_digits == (0, 1)
    text = sentences(content, "verdict")
    assert "digit 0: 5.0 %" in text and "digit 1: 5.0 %" in text and "not cover the region of digits 0, 1" in text


# --- Q3 -------------------------------------------------------------------------------------------------
def _history(test, train_eval=None):
    e = np.arange(1, len(test) + 1)
    data = {C.TEST_LOSS: test, **({C.TRAIN_EVAL_LOSS: train_eval} if train_eval is not None else {})}
    return pd.DataFrame(data, index=pd.Index(e, name=C.EPOCH))


@pytest.mark.parametrize("slope, answer", [(0.05, "supported"), (-0.05, "refuted"), (0.0, "inconclusive")])
def test_test_loss_trend_three_answers(slope, answer):
    rng = np.random.default_rng(1)
    test = 137 + slope * np.arange(100) + rng.normal(0, 0.25, 100)
    check = loss_trend(_history(test), C.TEST_LOSS)
    fit = st.linregress(np.arange(81, 101), test[-20:])
    half = st.t.ppf(0.975, 18) * fit.stderr  # independent slope interval
    assert check.estimate == pytest.approx(fit.slope) and check.low == pytest.approx(fit.slope - half)
    assert check.answer == answer


@pytest.mark.parametrize("growth, answer", [(0.05, "supported"), (-0.05, "refuted"), (0.0, "inconclusive")])
def test_gap_trend_three_answers(growth, answer):
    rng = np.random.default_rng(2)
    train = 132 - 0.01 * np.arange(100) + rng.normal(0, 0.1, 100)
    test = train + 5 + growth * np.arange(100) + rng.normal(0, 0.25, 100)
    check = loss_trend(_history(test, train), C.TEST_LOSS, minus=C.TRAIN_EVAL_LOSS)
    assert check.estimate == pytest.approx(st.linregress(np.arange(81, 101), (test - train)[-20:]).slope)
    assert check.answer == answer


def test_single_epoch_minimum_is_not_overfitting(tmp_path):
    """Issue 8, bad case (b): test loss scattering by ±0.25 nats around a flat trend, lowest at epoch 95."""
    run_dir = make_fake_run(tmp_path / "run", epochs=(5, 30, 100), write_artifacts=False)
    run = Run(run_dir)
    history = run.history.copy()
    rng = np.random.default_rng(3)
    test = 137.2 + rng.uniform(-0.25, 0.25, 100)
    test[94] = 136.71  # epoch 95: the lowest single epoch
    test[99] = 137.21
    history[C.TEST_LOSS] = test
    run.write_history(history)
    q3 = sentences(report.build_content(Run(run_dir)), "q3")
    assert "overfit" not in q3 and "training longer hurts" not in q3
    assert "flat within its interval" in q3 and "the lowest single epoch, 136.7 at epoch 95" in q3


def test_q3_quotes_the_iwae_bounds_and_says_when_train_eval_is_missing(tmp_path):
    new = Run(make_fake_run(tmp_path / "new", epochs=(5, 30, 50), write_artifacts=False))
    q3 = sentences(report.build_content(new), "q3")
    assert "measured the same way" in q3 and "The IWAE bound on −log p(x), test vs the same-size training" in q3
    old = Run(make_fake_run(tmp_path / "old", epochs=(5, 30, 50), write_artifacts=False, legacy=True))
    q3 = sentences(report.build_content(old), "q3")
    assert "was not measured for this run" in q3 and "IWAE" not in q3


# --- runs evaluated before the interval columns -----------------------------------------------------------
def test_legacy_run_gets_the_intervals_from_its_shares_and_codes(tmp_path):
    # the code judge's columns are written (code_judge=True) so that the verdict reaches the window rule whose
    # fallbacks are under test; a legacy run without them gets no verdict (test_a_run_without_the_code_judge...)
    run = Run(make_fake_run(tmp_path / "run", epochs=(5, 30), scenario="window", legacy=True, code_judge=True))
    column = C.CLASS_PRIOR_SHARE + C.CI_LOW  # absent from the file; read as NaN (evaluation.COLUMNS_SINCE_0_3)
    assert column not in run.per_class.columns or run.per_class[column].isna().all()
    shares = run.per_class.query("source == 'model' and epoch == 30").set_index(C.CLASS)[C.CLASS_PRIOR_SHARE]
    low, high = prior_share_ci(run, 30)
    for d in range(10):
        expected = st.binomtest(round(shares[d] * PRIOR_SAMPLES), PRIOR_SAMPLES).proportion_ci(method="wilson")
        assert (low[d], high[d]) == pytest.approx((expected.low, expected.high))
    entropy_low, entropy_high = prior_entropy_ci(run, 30)
    assert entropy_low < run.value(C.PRIOR + C.ENTROPY_NORM, 30) < entropy_high
    inside, *_ = grid_inside_shares(run, 30)
    arrays = run.artifacts(30)
    mu, labels, span = arrays["test_mu"], arrays["test_labels"], float(arrays["grid_span"])
    for d in range(10):
        codes = mu[labels == d]
        assert inside[d] == pytest.approx(np.mean((np.abs(codes[:, 0]) <= span) & (np.abs(codes[:, 1]) <= span)))
    html, _ = report.build_report(run, figures={})  # builds without the new columns
    assert report.verdict_table(run).loc[30, "verdict"] == "window"  # the fabricated codes lie far outside
    assert "computed from the stored codes" in html.read_text(encoding="utf-8")  # the hover text says so


def test_legacy_run_without_artifacts_falls_back_to_the_overall_inside_fraction(tmp_path):
    run = Run(make_fake_run(tmp_path / "run", epochs=(5, 30), scenario="window", legacy=True, write_artifacts=False,
                            code_judge=True))
    v = report.run_verdict(run, 30)
    assert v.kind == "window" and not v.inside_per_digit
    assert "of all test codes (per-digit shares unavailable)" in sentences(report.build_content(run), "verdict")


# --- n = 1 and the checks table ---------------------------------------------------------------------------
def test_single_run_report_states_n_1_and_what_to_replicate(tmp_path):
    run_dir = make_fake_run(tmp_path / "run", epochs=(5, 30, 100), scenario="imbalance", write_artifacts=False)
    content = report.build_content(Run(run_dir))
    text = sentences(content, "replication")
    assert "n = 1, one seed: 0" in text and "vaediag study --seeds 0,1,2" in text and "silhouette level" in text
    inconclusive = [c for c in content.checks if c.answer == "inconclusive"]
    for check in inconclusive:
        assert f"“{check.name}”" in text
    html, md = report.build_report(run_dir, figures={})
    page = html.read_text(encoding="utf-8")
    assert "Threshold checks of this run" in page and "n = 1 — what one seed can and cannot say" in page
    assert "### Threshold checks of this run" in md.read_text(encoding="utf-8")


def test_verdict_table_shows_interval_margin_and_answer(tmp_path):
    run = Run(make_fake_run(tmp_path / "run", epochs=(5, 30), write_artifacts=False))
    table = report.verdict_table(run)
    value = run.value(C.PRIOR + C.ENTROPY_NORM, 30)
    low, high = run.value(C.PRIOR + C.ENTROPY_NORM + C.CI_LOW, 30), run.value(C.PRIOR + C.ENTROPY_NORM + C.CI_HIGH, 30)
    assert table.loc[30, "entropy 95 % CI"] == f"[{low:.3f}, {high:.3f}]"
    assert table.loc[30, "margin vs 0.9"] == f"{value - COLLAPSE_ENTROPY:+.3f}"
    assert table.loc[30, "entropy < 0.9?"] == ("refuted" if low >= COLLAPSE_ENTROPY else "inconclusive")


def test_no_sentence_rests_on_recall_and_near_zero_recall_is_explained(tmp_path):
    run_dir = make_fake_run(tmp_path / "run", epochs=(5, 30), write_artifacts=False)
    run = Run(run_dir)
    metrics = run.metrics.copy()
    metrics.loc[metrics[C.SOURCE] == C.SOURCE_MODEL, C.RECALL] = 0.001
    run.write_evaluation(dataclasses.replace(run.evaluation, metrics=metrics, artifacts={}), versions={})
    content = report.build_content(Run(run_dir))
    assert "PRDC recall is 0.1 % at epoch 30: near 0 whatever the model" in sentences(content, "q2")
    assert "recall" not in sentences(content, "q3") and "chi" not in " ".join(sentences(content, s)
                                                                              for s in content.sections)
