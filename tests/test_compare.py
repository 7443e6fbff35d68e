"""Comparing runs: one row per (run, epoch), seed groups as mean ± 95 % CI over seeds, a figure, one-line errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from vaediag import columns as C
from vaediag import compare
from vaediag.errors import ConfigError, RunDirError

from fake_run import make_fake_run

EPOCHS = (2, 5)


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("compare")
    kw = dict(epochs=EPOCHS, write_artifacts=False)
    return [
        make_fake_run(base / "b1_s0", beta=1.0, seed=0, **kw),
        make_fake_run(base / "b1_s1", beta=1.0, seed=1, **kw),
        make_fake_run(base / "b1_s2", beta=1.0, seed=2, **kw),
        make_fake_run(base / "b4_s0", beta=4.0, seed=0, **kw),
        make_fake_run(base / "d16_s0", latent_dim=16, seed=0, **kw),
    ]


def test_one_row_per_run_and_epoch_with_config(runs):
    df = compare.compare_runs(runs)
    assert df.index.names == [C.RUN, C.EPOCH]
    assert len(df) == len(runs) * len(EPOCHS)
    assert list(df.index.get_level_values(C.RUN).unique()) == [r.name for r in runs]
    row = df.loc[("d16_s0", 5)]
    assert (row[compare.MODEL], row[compare.LATENT_DIM], row[compare.BETA], row[compare.SEED]) == ("mlp", 16, 1.0, 0)
    metrics = pd.read_csv(runs[3] / "metrics.csv").set_index(C.EPOCH)
    for m in (C.SILHOUETTE, C.FRECHET, C.TEST_LOSS):
        assert df.loc[("b4_s0", 2), m] == pytest.approx(float(metrics.at[2, m]))
    assert C.DATA_EPOCH not in df.index.get_level_values(C.EPOCH)
    assert set(compare.KEY_METRICS) <= set(df.columns)


def test_seeds_are_grouped_as_mean_std_and_t_interval(runs):
    df = compare.compare_runs(runs)
    summary = compare.summarise_seeds(df)
    assert summary.index.names == [compare.GROUP, C.EPOCH]
    groups = list(summary.index.get_level_values(compare.GROUP).unique())
    assert len(groups) == 3 and "mlp, d=2, β=1" in groups and "mlp, d=2, β=4" in groups
    g = summary.loc[("mlp, d=2, β=1", 5)]
    assert g[compare.N_SEEDS] == 3 and g[compare.SEEDS] == "0,1,2"
    values = [df.loc[(f"b1_s{s}", 5), C.SILHOUETTE] for s in range(3)]
    assert g[C.SILHOUETTE + compare.MEAN_SUFFIX] == pytest.approx(np.mean(values))
    assert g[C.SILHOUETTE + compare.STD_SUFFIX] == pytest.approx(np.std(values, ddof=1))
    # the 95 % interval of the mean over 3 seeds: mean ± t_{0.975, 2} s / √3, t_{0.975, 2} = 4.302653 (tables)
    half = 4.302652729911275 * np.std(values, ddof=1) / np.sqrt(3)
    assert g[C.SILHOUETTE + compare.CI_LOW_SUFFIX] == pytest.approx(np.mean(values) - half)
    assert g[C.SILHOUETTE + compare.CI_HIGH_SUFFIX] == pytest.approx(np.mean(values) + half)
    single = summary.loc[("mlp, d=2, β=4", 5)]
    assert single[compare.N_SEEDS] == 1 and np.isnan(single[C.SILHOUETTE + compare.STD_SUFFIX])
    assert np.isnan(single[C.SILHOUETTE + compare.CI_LOW_SUFFIX]) and np.isnan(single[C.SILHOUETTE + compare.CI_HIGH_SUFFIX])
    text = compare.format_summary(summary)
    decimals = 1 - int(np.floor(np.log10(half)))  # the half-width to 2 significant digits, the mean alike
    assert text.loc[("mlp, d=2, β=1", 5), C.SILHOUETTE] == f"{np.mean(values):.{decimals}f} ± {half:.{decimals}f} (n=3)"
    assert "±" not in text.loc[("mlp, d=2, β=4", 5), C.SILHOUETTE]


def test_summary_is_the_long_form_statistics_in_wide_form(runs, tmp_path):
    from vaediag.judgement import replicates as R

    df = compare.compare_runs(runs)
    summary, long = compare.summarise_seeds(df), R.seed_statistics(df)
    for row in long.itertuples(index=False):
        wide = summary.loc[(row.group, row.epoch)]
        for suffix, value in zip(compare.STAT_SUFFIXES, (row.mean, row.std, row.ci_low, row.ci_high)):
            assert wide[row.metric + suffix] == pytest.approx(value, nan_ok=True)
    written = compare.write_comparison(df, summary, tmp_path)
    assert [p.name for p in written] == [compare.COMPARISON_FILE, compare.SEEDS_FILE, compare.LONG_FILE]
    back = pd.read_csv(tmp_path / compare.LONG_FILE)
    assert list(back.columns) == list(R.SUMMARY_COLUMNS) and len(back) == len(long)


def test_other_differences_are_not_grouped_as_seeds(tmp_path):
    a = make_fake_run(tmp_path / "a", seed=0, lr=1e-3, epochs=EPOCHS, write_artifacts=False)
    b = make_fake_run(tmp_path / "b", seed=1, lr=1e-4, epochs=EPOCHS, write_artifacts=False)
    summary = compare.summarise_seeds(compare.compare_runs([a, b]))
    assert set(summary[compare.N_SEEDS]) == {1}
    assert len(summary.index.get_level_values(compare.GROUP).unique()) == 2
    assert any("lr=0.0001" in g for g in summary.index.get_level_values(compare.GROUP))


def test_compare_figure_is_a_png(runs, tmp_path):
    from vaediag.plots.sweep import compare_figure

    path = compare_figure(compare.compare_runs(runs), tmp_path / "cmp" / "compare.png", compare.FIGURE_METRICS)
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 5000


def test_clashing_folder_names_get_distinct_labels(tmp_path):
    a = make_fake_run(tmp_path / "x" / "run", epochs=EPOCHS, write_artifacts=False)
    b = make_fake_run(tmp_path / "y" / "run", epochs=EPOCHS, seed=1, write_artifacts=False)
    df = compare.compare_runs([a, b])
    assert list(df.index.get_level_values(C.RUN).unique()) == ["x/run", "y/run"]


def test_bad_input_is_a_one_line_run_dir_error(tmp_path, runs):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file.txt").write_text("x")
    trained_only = tmp_path / "trained"
    trained_only.mkdir()
    (trained_only / "config.json").write_text("{}")
    for bad in ([], [tmp_path / "missing"], [tmp_path / "empty"], [tmp_path / "file.txt"], [trained_only],
                [runs[0], runs[0]]):
        with pytest.raises(RunDirError) as exc:
            compare.compare_runs(bad)
        assert str(exc.value) and "\n" not in str(exc.value)


# --- what the terminal shows: chosen metrics, within its width; the CSV holds everything -----------------
def test_chosen_metrics_join_the_key_metrics_in_the_table(runs):
    df = compare.compare_runs(runs, metrics="silhouette, kl_dim_1,silhouette")
    assert compare.metric_columns(df) == [*compare.KEY_METRICS, "kl_dim_1"]
    assert df.loc[("d16_s0", 5), "kl_dim_1"] == pytest.approx(3.0 / 16)
    summary = compare.summarise_seeds(df)
    assert "kl_dim_1" + compare.MEAN_SUFFIX in summary.columns
    assert list(compare.format_summary(summary, metrics=["kl_dim_1"]).columns) == [compare.N_SEEDS, compare.SEEDS,
                                                                                    "kl_dim_1"]


@pytest.mark.parametrize("bad", ["nope", "silhouette,most_mixed_pair", " , "])
def test_an_unknown_metric_is_a_one_line_config_error(runs, bad):
    with pytest.raises(ConfigError) as exc:
        compare.compare_runs(runs, metrics=bad)
    assert "\n" not in str(exc.value) and "metrics" in str(exc.value)


@pytest.mark.parametrize("width", [60, 80, 120])
def test_the_terminal_table_fits_the_width(runs, width):
    df = compare.compare_runs(runs)
    text = compare.format_for_terminal(df, compare.summarise_seeds(df), width=width)
    assert max(len(line) for line in text.splitlines()) <= width
    for m in compare.KEY_METRICS:  # every key metric and every value is still there, in long form
        assert m in text
    assert f"{df.loc[('b4_s0', 5), C.FRECHET]:.3f}" in text and "b4_s0: mlp, d=2, β=4" in text


def test_chosen_metrics_print_as_one_wide_table(runs):
    df = compare.compare_runs(runs, metrics="silhouette,kl_dim_1")
    text = compare.format_for_terminal(df, width=80, metrics="silhouette,kl_dim_1")
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "kl_dim_1" in text and C.FRECHET not in text
    assert text.count("d16_s0") == 2  # the legend line and the first row of its block in the wide table


def test_runs_on_different_datasets_never_form_one_seed_group(tmp_path):
    """Same configuration, seeds 0 and 1, one on MNIST and one on Fashion-MNIST: two groups of one seed each
    (their numbers are about different images), the dataset named in the table and the group labels."""
    from vaediag.compare import DATASET, GROUP, compare_runs, summarise_seeds

    a = make_fake_run(tmp_path / "a", epochs=(5, 30), seed=0)
    b = make_fake_run(tmp_path / "b", epochs=(5, 30), seed=1, dataset="fashion-mnist")
    df = compare_runs([a, b])
    assert set(df[DATASET]) == {"mnist", "fashion-mnist"}
    assert df[GROUP].nunique() == 2 and all("dataset=" in g for g in df[GROUP])
    assert set(summarise_seeds(df)["n_seeds"]) == {1}
