"""Statistics over seeds: the long-form table's arithmetic against scipy and hand formulas on known data,
n = 1 and NaN handling, Welch's interval of a difference and the paired change between epochs."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from vaediag import columns as C
from vaediag import compare
from vaediag.judgement import replicates as R

T_975 = {1: 12.706204736174696, 2: 4.302652729911275, 3: 3.182446305284263}  # t_{0.975, df}, printed tables


def _table(values_by_group: dict[str, dict[int, list[float]]], metric: str = C.SILHOUETTE) -> pd.DataFrame:
    """A compare_runs-shaped table: one row per (seed, epoch) of each group."""
    rows = []
    for g, (group, by_epoch) in enumerate(values_by_group.items()):
        for epoch, values in by_epoch.items():
            for seed, v in enumerate(values):
                rows.append({C.RUN: f"{group}_s{seed}", C.EPOCH: epoch, compare.MODEL: "mlp",
                             compare.LATENT_DIM: 2 + 14 * g, compare.BETA: 1.0, "batch_size": 128, "lr": 1e-3,
                             "train_size": 3000, "test_size": 400, compare.DATASET: "mnist", compare.SEED: seed, compare.GROUP: group,
                             metric: v, compare.RUN_DIR: f"/x/{group}_s{seed}"})
    return pd.DataFrame(rows).set_index([C.RUN, C.EPOCH])


def test_mean_std_and_t_interval_match_scipy_and_the_hand_formula():
    values = [0.034, 0.056, 0.120, 0.062]
    long = R.seed_statistics(_table({"a": {5: values}}))
    row = long.iloc[0]
    assert list(long.columns) == list(R.SUMMARY_COLUMNS) and len(long) == 1
    assert (row[R.N], row[C.EPOCH], row[R.METRIC], row[R.SEEDS]) == (4, 5, C.SILHOUETTE, "0,1,2,3")
    mean = sum(values) / 4
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / 3)
    assert row[R.MEAN] == pytest.approx(mean) and row[R.STD] == pytest.approx(sd)
    half = T_975[3] * sd / math.sqrt(4)  # hand formula, t from the tables
    assert (row[R.CI_LOW], row[R.CI_HIGH]) == (pytest.approx(mean - half), pytest.approx(mean + half))
    low, high = st.t.interval(0.95, 3, loc=np.mean(values), scale=st.sem(values))
    assert (row[R.CI_LOW], row[R.CI_HIGH]) == (pytest.approx(low), pytest.approx(high))


def test_one_seed_has_no_interval_and_nan_values_are_left_out():
    long = R.seed_statistics(_table({"one": {5: [0.5]}, "gap": {5: [0.2, np.nan, 0.4]}}))
    one = R.lookup(long, "one", 5, C.SILHOUETTE)
    assert one[R.N] == 1 and one[R.MEAN] == 0.5
    assert all(np.isnan(one[k]) for k in (R.STD, R.CI_LOW, R.CI_HIGH))
    gap = R.lookup(long, "gap", 5, C.SILHOUETTE)
    assert gap[R.N] == 2 and gap[R.MEAN] == pytest.approx(0.3) and gap[R.SEEDS] == "0,1,2"
    sd = math.sqrt(((0.2 - 0.3) ** 2 + (0.4 - 0.3) ** 2) / 1)
    assert 0.3 + T_975[1] * sd / math.sqrt(2) > 1  # the t-interval leaves silhouette's range [-1, 1] ...
    assert gap[R.CI_HIGH] == 1.0  # ... and is clipped to it
    assert gap[R.CI_LOW] == pytest.approx(0.3 - T_975[1] * sd / math.sqrt(2))
    all_nan = R.seed_statistics(_table({"none": {5: [np.nan, np.nan]}})).iloc[0]
    assert all_nan[R.N] == 0 and np.isnan(all_nan[R.MEAN])


def test_identical_seeds_give_a_zero_width_interval():
    row = R.seed_statistics(_table({"same": {5: [0.7, 0.7, 0.7]}})).iloc[0]
    assert row[R.CI_LOW] == pytest.approx(0.7) and row[R.CI_HIGH] == pytest.approx(0.7)
    assert row[R.STD] == pytest.approx(0, abs=1e-12)


def test_rows_are_per_group_epoch_and_metric_in_order():
    long = R.seed_statistics(_table({"b": {30: [1, 2], 5: [3, 4]}, "a": {5: [5, 6]}}))
    assert list(zip(long[compare.GROUP], long[C.EPOCH])) == [("b", 5), ("b", 30), ("a", 5)]
    assert list(long[compare.LATENT_DIM]) == [2, 2, 16]


def test_welch_difference_interval_against_the_hand_formula():
    a, b = [0.84, 0.85, 0.83, 0.845], [0.97, 0.96, 0.975]
    iv = R.difference_interval(a, b)
    va, vb = np.var(a, ddof=1) / len(a), np.var(b, ddof=1) / len(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1))  # Welch–Satterthwaite
    half = st.t.ppf(0.975, df) * math.sqrt(va + vb)
    diff = np.mean(b) - np.mean(a)
    assert iv.mean == pytest.approx(diff) and iv.std == pytest.approx(math.sqrt(va + vb)) and iv.n == 3
    assert (iv.low, iv.high) == (pytest.approx(diff - half), pytest.approx(diff + half))


@pytest.mark.parametrize("a, b", [([0.8], [0.9, 0.91]), ([0.8, 0.81], [np.nan, 0.9]), ([0.8, 0.8], [0.9, 0.9])])
def test_welch_without_two_values_or_spread_gives_no_interval(a, b):
    iv = R.difference_interval(a, b)
    assert not iv.has_interval and math.isfinite(iv.mean)


def test_paired_change_is_the_t_interval_of_the_per_seed_differences():
    before, after = [130.0, 131.0, 129.5], [128.0, 128.6, 127.9]
    d = np.subtract(after, before)
    iv = R.paired_change(before, after)
    half = T_975[2] * np.std(d, ddof=1) / math.sqrt(3)
    assert iv.mean == pytest.approx(d.mean()) and iv.high == pytest.approx(d.mean() + half)


def test_loss_gap_is_derived_when_both_losses_are_there():
    df = _table({"a": {5: [140.0, 141.0]}}, metric=C.TEST_LOSS)
    assert R.LOSS_GAP not in R.with_derived(df).columns
    df[C.TRAIN_EVAL_LOSS] = [135.0, 135.5]
    assert list(R.with_derived(df)[R.LOSS_GAP]) == [5.0, 5.5]
