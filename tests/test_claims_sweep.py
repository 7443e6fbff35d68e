"""Claims on a constructed SWEEP_DIR (fabricated runs of 3 seeds × latent 2 and 8, a sweep.json written by
:class:`vaediag.sweep.Sweep`): one row per configuration, decided over seeds with t-intervals recomputed here
with scipy; ``config`` selects a configuration; ``bottleneck`` gives each of the three verdicts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from vaediag import columns as C
from vaediag.claims import check_claims
from vaediag.store.rundir import Run
from vaediag.store.sweepdir import DONE, FORMAT, Sweep

from fake_run import make_fake_run

SEEDS = (0, 1, 2)
EPOCHS = (1, 3, 5)


def make_sweep(path, dims=(2, 8), shift=None):
    """A SWEEP_DIR of fabricated runs; ``shift(z, seed) -> (test-loss shift, kNN shift)`` edits the runs'
    metrics.csv at every checkpoint (through :class:`Run`)."""
    sweep = Sweep(path)
    runs = {}
    for z in dims:
        for s in SEEDS:
            name = f"mlp_z{z}_beta1_seed{s}"
            make_fake_run(sweep.run_path(name), epochs=EPOCHS, latent_dim=z, seed=s, write_artifacts=False)
            if shift is not None:
                run = Run(sweep.run_path(name))
                ev = run.evaluation
                m = ev.metrics.copy()
                model = m[C.SOURCE] == C.SOURCE_MODEL
                loss, knn = shift(z, s)
                m.loc[model, C.TEST_LOSS] += loss
                m.loc[model, C.KNN_ACCURACY] = (m.loc[model, C.KNN_ACCURACY] + knn).clip(0, 1)
                ev.metrics = m
                run.write_evaluation(ev)
            runs[name] = {"settings": {"latent_dim": z, "seed": s}, "status": DONE, "attempts": 1}
    sweep.write({"format": FORMAT, "base": {}, "evaluation": {}, "grid": {"latent_dim": list(dims),
                                                                            "seed": list(SEEDS)}, "runs": runs})
    return path


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    return make_sweep(tmp_path_factory.mktemp("sw") / "sweep")


def cells(path, z, table, column, epoch, digit=None):
    out = []
    for s in SEEDS:
        df = pd.read_csv(path / "runs" / f"mlp_z{z}_beta1_seed{s}" / table)
        rows = df[(df.source == "model") & (df.epoch == epoch)] if "source" in df.columns else df[df.epoch == epoch]
        if digit is not None:
            rows = rows[rows["class"] == digit]
        out.append(float(rows[column].iloc[0]))
    return np.array(out)


def t_ci(values):
    values = np.asarray(values, dtype=float)
    half = st.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    return values.mean() - half, values.mean() + half


def test_one_row_per_configuration_over_seeds(sweep):
    df = check_claims([{"text": "digit 1 is drawn often", "kind": "metric", "column": "prior_share", "digit": 1,
                        "epoch": 5, "operator": ">", "value": 0.02}], sweep)
    assert len(df) == 2 and list(df.n) == [3, 3]
    assert df.measured.iloc[0].startswith("mlp, d=2, β=1 (3 seeds): ")
    assert df.measured.iloc[1].startswith("mlp, d=8, β=1 (3 seeds): ")
    for (_, row), z in zip(df.iterrows(), (2, 8)):
        values = cells(sweep, z, "per_class.csv", "prior_share", 5, 1)
        derived = [e for e in row.evidence if e["table"] == "derived"][0]
        assert derived["value"] == pytest.approx(values.mean())
        assert (derived["ci_low"], derived["ci_high"]) == pytest.approx(t_ci(values))
        assert sorted(e["run"] for e in row.evidence if e["table"] == "per_class.csv") == \
            [f"mlp_z{z}_beta1_seed{s}" for s in SEEDS]
        assert row.verdict == "supported" and "t-interval over 3 seeds" in row.rule


def test_config_selects_one_configuration_and_changes_are_paired(sweep):
    df = check_claims([{"text": "sharper", "kind": "quality", "epochs": [1, 5], "direction": "improves",
                        "config": {"latent_dim": 8}},
                       {"text": "no collapse", "kind": "mode_collapse", "epoch": 5, "config": {"latent_dim": 8}},
                       {"text": "overlap", "kind": "overlap", "epoch": 5, "digits": [0], "config": {"latent_dim": 8}}],
                      sweep)
    assert len(df) == 3 and all(m.startswith("mlp, d=8") for m in df.measured)
    quality = df.iloc[0]
    change = cells(sweep, 8, "metrics.csv", "frechet_distance", 5) - cells(sweep, 8, "metrics.csv",
                                                                            "frechet_distance", 1)
    derived = [e for e in quality.evidence if e["table"] == "derived"][0]
    assert derived["value"] == pytest.approx(change.mean())
    assert (derived["ci_low"], derived["ci_high"]) == pytest.approx(t_ci(change))
    assert quality.verdict == "supported"
    assert df.iloc[1].verdict == "refuted" and "healthy in 3 of 3 seeds" in df.iloc[1].measured
    sil = cells(sweep, 8, "per_class.csv", "silhouette", 5, 0)
    assert df.iloc[2].verdict == ("supported" if t_ci(sil)[1] < 0.25 else "refuted" if t_ci(sil)[0] >= 0.25
                                  else "inconclusive")


def test_overfitting_over_seeds(sweep):
    df = check_claims([{"text": "overfits", "kind": "overfitting", "after": 1, "config": {"latent_dim": 2}}], sweep)
    slopes = []
    for s in SEEDS:
        h = pd.read_csv(sweep / "runs" / f"mlp_z2_beta1_seed{s}" / "history.csv")
        slopes.append(np.polyfit(h.epoch, h.test_loss, 1)[0])
    derived = [e for e in df.iloc[0].evidence if e["run"] == ""][0]
    assert derived["value"] == pytest.approx(np.mean(slopes))
    assert df.iloc[0].verdict == "refuted"


@pytest.mark.parametrize("effect,verdict", [(-3.0, "supported"), (+3.0, "refuted")])
def test_bottleneck_supported_and_refuted(tmp_path, effect, verdict):
    # the larger z fits unseen digits better (effect < 0: lower test loss, higher kNN accuracy) or worse
    rng = np.random.default_rng(0)
    noise = {(z, s): rng.normal(0, 0.2) for z in (2, 8) for s in SEEDS}
    path = make_sweep(tmp_path / "sweep", shift=lambda z, s: ((effect if z == 8 else 0.0) + noise[z, s],
                                                              (-effect / 100 if z == 8 else 0.0)
                                                              + noise[z, s] / 100))
    row = check_claims([{"text": "the 2-D latent is the bottleneck", "kind": "bottleneck"}], path).iloc[0]
    assert row.verdict == verdict and row.epochs == "5" and row.n == 3
    a, b = cells(path, 2, "metrics.csv", "test_loss", 5), cells(path, 8, "metrics.csv", "test_loss", 5)
    ci = st.ttest_rel(b, a).confidence_interval(0.95)  # both configurations ran seeds 0, 1, 2: paired by seed
    derived = [e for e in row.evidence if e["table"] == "derived" and "test_loss" in e["column"]][0]
    assert derived["column"].startswith("paired-by-seed difference")
    assert derived["value"] == pytest.approx(b.mean() - a.mean())
    assert (derived["ci_low"], derived["ci_high"]) == pytest.approx((ci.low, ci.high))
    assert row.measured.startswith("mlp, d=2, β=1 vs mlp, d=8, β=1 (3 seeds): epoch 5: test loss z=8 − z=2")


def test_bottleneck_inconclusive_with_one_latent_dim(tmp_path):
    path = make_sweep(tmp_path / "sweep", dims=(2,))
    row = check_claims([{"text": "bottleneck", "kind": "bottleneck"}], path).iloc[0]
    assert row.verdict == "inconclusive" and "only latent_dim = 2" in row.explanation


def test_a_digit_missing_in_every_seed_keeps_the_seeds_sampling_noise(tmp_path):
    """Seeds that all draw a digit 0 times give a zero-width t-interval; the claim's interval is widened to the
    mean of the seeds' Wilson bounds (here each seed's: 0 of PRIOR_SAMPLES draws)."""
    from fake_run import PRIOR_SAMPLES

    sweep = Sweep(tmp_path / "sweep")
    runs = {}
    for s in SEEDS:
        name = f"mlp_z2_beta1_seed{s}"
        make_fake_run(sweep.run_path(name), epochs=EPOCHS, seed=s, scenario="collapse", write_artifacts=False)
        runs[name] = {"settings": {"latent_dim": 2, "seed": s}, "status": DONE, "attempts": 1}
    sweep.write({"format": FORMAT, "base": {}, "evaluation": {}, "grid": {"latent_dim": [2], "seed": list(SEEDS)},
                 "runs": runs})
    last = EPOCHS[-1]
    assert list(cells(tmp_path / "sweep", 2, "per_class.csv", C.CLASS_PRIOR_SHARE, last, 2)) == [0.0, 0.0, 0.0]
    row = check_claims([{"text": "2 is missing", "kind": "missing", "epoch": last, "digits": [2]}],
                       tmp_path / "sweep").iloc[0]
    assert row["verdict"] == "supported"
    derived = [e for e in row["evidence"] if e["table"] != "per_class.csv"][0]
    wilson = st.binomtest(0, PRIOR_SAMPLES).proportion_ci(method="wilson")
    assert derived["value"] == 0 and derived["ci_low"] == 0
    assert derived["ci_high"] == pytest.approx(wilson.high) and derived["ci_high"] > 0


def test_a_share_interval_over_seeds_stays_within_0_and_1(tmp_path):
    sweep = Sweep(tmp_path / "sweep")
    runs, last = {}, EPOCHS[-1]
    for s in SEEDS:
        name = f"mlp_z2_beta1_seed{s}"
        make_fake_run(sweep.run_path(name), epochs=EPOCHS, seed=s, scenario="collapse", write_artifacts=False)
        if s == 0:  # one seed draws digit 2 now and then: the t-interval of (0.006, 0, 0) reaches below 0
            run = Run(sweep.run_path(name))
            ev = run.evaluation
            pc = ev.per_class.copy()
            pc.loc[(pc[C.SOURCE] == C.SOURCE_MODEL) & (pc[C.EPOCH] == last) & (pc[C.CLASS] == 2),
                   C.CLASS_PRIOR_SHARE] = 0.006
            ev.per_class = pc
            run.write_evaluation(ev)
        runs[name] = {"settings": {"latent_dim": 2, "seed": s}, "status": DONE, "attempts": 1}
    sweep.write({"format": FORMAT, "base": {}, "evaluation": {}, "grid": {"latent_dim": [2], "seed": list(SEEDS)},
                 "runs": runs})
    assert st.t.interval(0.95, 2, loc=0.002, scale=st.sem([0.006, 0, 0]))[0] < 0
    row = check_claims([{"text": "2 is missing", "kind": "missing", "epoch": last, "digits": [2]}],
                       tmp_path / "sweep").iloc[0]
    derived = [e for e in row["evidence"] if e["table"] != "per_class.csv"][0]
    assert derived["value"] == pytest.approx(0.002) and derived["ci_low"] == 0 and derived["ci_high"] <= 1
    assert "[0.0 %" in row["measured"] and row["verdict"] == "inconclusive"  # 0.002 ± 0.0149 straddles 1 %
