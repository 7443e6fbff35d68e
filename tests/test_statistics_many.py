"""Statistics that survive many comparisons: the sweep report's decisions corrected together (Benjamini–Hochberg,
checked against scipy and against a simulation where nothing changes), comparisons paired by seed where the
configurations share their seeds, intervals over seeds clipped to the metric's range, honest zero-variance cells,
and enough bootstrap resamples for the printed precision."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from vaediag import columns as C
from vaediag.compare import BETA, GROUP, LATENT_DIM, MODEL, SEED, format_summary, summarise_seeds
from vaediag.judgement import replicates as R
from vaediag.judgement.family import Family
from vaediag.metrics.generation import labels_entropy_norm_interval
from vaediag.metrics.latent import knn_accuracy_interval
from vaediag.report.sweep_content import _mean_ci, comparisons, decision_family
from vaediag.stats import BOOTSTRAP_RESAMPLES, FDR, TTest, benjamini_hochberg, fcr_confidence, t_interval


# ------------------------------------------------------------------------------------------- Benjamini–Hochberg
def test_benjamini_hochberg_agrees_with_scipy():
    rng = np.random.default_rng(0)
    for trial in range(50):
        p = np.concatenate([rng.uniform(size=30), rng.uniform(0, 0.01, size=trial % 7)])
        expected = int((st.false_discovery_control(p, method="bh") <= FDR).sum())
        assert benjamini_hochberg(p) == expected
    assert benjamini_hochberg([]) == 0 and benjamini_hochberg([math.nan, 0.001]) == 1


def test_the_family_level_makes_exactly_the_bh_decisions():
    """An interval at 1 − q·R/m excludes 0 exactly for the tests scipy's BH-adjusted p-value rejects."""
    rng = np.random.default_rng(1)
    family = Family()
    for i in range(60):
        shift = 1.5 if i < 8 else 0.0
        d = rng.normal(shift, 1.0, size=4)
        family.add(("t", i), R.paired_test(np.zeros(4), d), "all")
    adjusted = st.false_discovery_control([family.tests[("t", i)].p for i in range(60)], method="bh")
    made = [family.made(("t", i)) for i in range(60)]
    assert made == list(adjusted <= FDR)
    assert family.level == pytest.approx(fcr_confidence(sum(made), 60))
    assert 0.95 < family.level < 1


def test_under_the_null_the_family_rarely_calls_a_change():
    """40 trajectory decisions of 3 seeds where nothing changes, 300 times: one at a time at 95 % they call about
    2 changes per configuration (what the uncorrected report did); corrected together, a false change appears in
    about 5 % of the configurations at most (all nulls: the false discovery rate is the chance of any)."""
    rng = np.random.default_rng(2)
    uncorrected, any_false = [], []
    for _ in range(300):
        family = Family()
        for i in range(40):
            before, after = rng.normal(size=3), rng.normal(size=3)
            family.add(i, R.paired_test(before, after), "Q")
        uncorrected.append(sum(family.tests[i].p < 0.05 for i in range(40)))
        any_false.append(family.rejected > 0)
    print(f"nothing changes: {np.mean(uncorrected):.1f} changes per configuration uncorrected; "
          f"{np.mean(any_false):.1%} of the configurations with any change after the correction")
    assert 1.5 < np.mean(uncorrected) < 2.5
    assert np.mean(any_false) <= 0.08


def test_a_family_without_testable_decisions_says_so():
    family = Family()
    family.add("x", TTest(1, 0.3, math.nan, math.nan, "paired"), "Q1")
    family.add("y", R.paired_test([1.0, 2.0, 3.0], [2.0, 3.0, 4.0]), "Q1")  # every seed +1: no noise estimate
    assert family.m == 0 and family.level == 0.95 and not family.made("y")
    assert "no decision that has a noise estimate" in family.describe()


# ------------------------------------------------------------------------------------------- paired by seed
def _table(values: dict[int, list[float]], metric: str = C.KNN_ACCURACY) -> pd.DataFrame:
    rows = []
    for z, per_seed in values.items():
        for seed, v in enumerate(per_seed):
            rows.append({C.RUN: f"z{z}_s{seed}", C.EPOCH: 30, GROUP: f"mlp, d={z}, β=1", MODEL: "mlp",
                         LATENT_DIM: z, BETA: 1.0, "batch_size": 128, "lr": 0.001, "train_size": 1000,
                         "test_size": 500, "dataset": "mnist", SEED: seed, "run_dir": f"/r/z{z}_s{seed}", metric: v})
    return pd.DataFrame(rows).set_index([C.RUN, C.EPOCH])


def test_configurations_sharing_seeds_are_compared_paired_by_seed():
    """Seeds differ a lot (a shared data subset per seed), z = 4 beats z = 2 by 6-8 points in every seed: Welch
    cannot tell, the paired test can (scipy's ttest_rel agrees)."""
    z2 = [0.30, 0.42, 0.55]
    z4 = [v + d for v, d in zip(z2, (0.06, 0.07, 0.08))]
    df = _table({2: z2, 4: z4})
    summary = R.seed_statistics(df, [C.KNN_ACCURACY])
    family = decision_family(df, summary)
    (found,) = comparisons(df, summary, family)
    assert found.answer == "supported"
    text = "".join(p if isinstance(p, str) else getattr(p, "text", "") for p in found.parts)
    assert "paired by seed: both ran the same seeds" in text
    paired = st.ttest_rel(z4, z2)
    assert family.tests[("compare", "mlp, d=4, β=1", "mlp, d=2, β=1", C.KNN_ACCURACY, 30)].p == pytest.approx(
        paired.pvalue)
    assert st.ttest_ind(z4, z2, equal_var=False).pvalue > 0.05  # Welch: inconclusive on the same numbers


def test_configurations_of_different_seeds_use_welch():
    df = _table({2: [0.30, 0.42, 0.55], 4: [0.40, 0.50]})
    df = df.rename(index={"z4_s1": "z4_s9"})
    df.loc[("z4_s9", 30), SEED] = 9
    summary = R.seed_statistics(df, [C.KNN_ACCURACY])
    family = decision_family(df, summary)
    test = next(iter(family.tests.values()))
    assert test.method == "welch"
    assert test.p == pytest.approx(st.ttest_ind([0.40, 0.50], [0.30, 0.42, 0.55], equal_var=False).pvalue)


# ------------------------------------------------------------------------------------------- ranges, zero variance
def test_intervals_over_seeds_are_clipped_to_the_metric_range():
    entropy = C.PRIOR + C.ENTROPY_NORM
    df = _table({2: [0.0, 0.0, 0.108]}, entropy)
    summary = R.seed_statistics(df, [entropy])
    row = R.lookup(summary, "mlp, d=2, β=1", 30, entropy)
    raw = t_interval([0.0, 0.0, 0.108])
    assert raw.low < 0 and row[R.CI_LOW] == 0.0 and row[R.CI_HIGH] == pytest.approx(raw.high)
    parts = _mean_ci(summary, "mlp, d=2, β=1", 30, entropy)
    assert [p.stat for p in parts if hasattr(p, "stat")] == ["mean", "low", "high"]
    assert "95 % CI" in "".join(p for p in parts if isinstance(p, str))
    text = format_summary(summarise_seeds(df))[entropy].iloc[0]
    assert text == "0.04 [0.00, 0.19] (n=3)"  # the half-width 0.15 to 2 significant digits sets the decimals


def test_seeds_that_agree_exactly_are_no_certainty():
    df = _table({2: [0.5, 0.5, 0.5]})
    summary = R.seed_statistics(df, [C.KNN_ACCURACY])
    row = R.lookup(summary, "mlp, d=2, β=1", 30, C.KNN_ACCURACY)
    assert row[R.STD] == 0 and row[R.CI_LOW] == row[R.CI_HIGH] == 0.5
    parts = _mean_ci(summary, "mlp, d=2, β=1", 30, C.KNN_ACCURACY)
    assert "".join(p for p in parts if isinstance(p, str)) == " (all 3 seeds equal: no noise estimate)"
    assert format_summary(summarise_seeds(df))[C.KNN_ACCURACY].iloc[0] == "0.5 (n=3, all equal)"


# ------------------------------------------------------------------------------------------- bootstrap resamples
@pytest.mark.parametrize("resamples, enough", [(200, False), (BOOTSTRAP_RESAMPLES, True)])
def test_bootstrap_bounds_move_less_than_the_printed_precision(resamples, enough):
    """A bound's spread over bootstrap seeds, against the printed unit (kNN accuracy: 0.1 %; the normalised
    entropy: 0.001): enough resamples keep its standard deviation under a quarter of the unit (rounding then moves
    the printed bound rarely); 200 did not."""
    rng = np.random.default_rng(3)
    correct = (rng.random(10_000) < 0.9).astype(float)
    shares = np.array([0.0767, 0.1211, 0.0884, 0.0165, 0.1079, 0.0180, 0.0777, 0.0725, 0.3282, 0.0930])
    labels = rng.choice(10, 10_000, p=shares)
    knn = np.array([knn_accuracy_interval(correct, seed=s, resamples=resamples) for s in range(12)])
    entropy = np.array([labels_entropy_norm_interval(labels, s, resamples) for s in range(8)])
    knn_sd, entropy_sd = knn.std(axis=0, ddof=1) / 0.001, entropy.std(axis=0, ddof=1) / 0.001
    print(f"{resamples} resamples: SD of the bounds in printed units: kNN accuracy {knn_sd[0]:.2f}, {knn_sd[1]:.2f}; "
          f"entropy {entropy_sd[0]:.2f}, {entropy_sd[1]:.2f}")
    spread = max(knn_sd.max(), entropy_sd.max())
    assert (spread < 0.25) == enough, spread
