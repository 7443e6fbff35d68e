"""Tests of ``vaediag.evaluate``: settings, tables, reference row, history join, stage registry, IWAE, errors.

Setup in :mod:`eval_fixtures`; caching and failed runs are in ``test_evaluate_cache.py``. One test marked
``mnist`` evaluates a short real run end to end.
"""

from __future__ import annotations

import dataclasses
import io
import math
import shutil
import subprocess
import sys

import numpy as np

from vaediag.stats import BOOTSTRAP_RESAMPLES
import pandas as pd
import pytest
import torch

from vaediag import columns as C
from vaediag.models.checkpoint import load_checkpoint
from vaediag.models.train_config import TrainConfig
from vaediag.datasets.data import MNISTData
from vaediag.errors import ConfigError, RunDirError
from vaediag.evaluate import stages
from vaediag.evaluate.pipeline import evaluate_run
from vaediag.evaluate.settings import EvalSettings
from vaediag.evaluate.table import OUTPUT_FORMATS, format_table
from vaediag.store.rundir import METRICS_FILE, PAIRS_COLUMNS, PER_CLASS_COLUMNS, Run
from vaediag.train import train

from eval_fixtures import (EVALUATED, FAST, QUIET, base_run, clf, data, evaluated, evaluated_run,  # noqa: F401
                           one_thread, run)
from helpers import same_noise_terms, synthetic_digits

DATA = C.DATA_EPOCH


# ---------------------------------------------------------------------------------------------- settings


def test_settings_defaults_validation_and_dict():
    s = EvalSettings()
    assert s.to_dict() == dict(samples=10000, grid=15, grid_span=1.0, knn_k=5, prdc_k=5, iwae=EvalSettings.iwae, seed=0,
                               unreadable_below=0.5)
    assert EvalSettings(grid_span=2).to_dict()["grid_span"] == 2.0 and s.validate() is s
    with pytest.raises(dataclasses.FrozenInstanceError):
        s.grid = 3
    with pytest.raises(ConfigError, match="--samples must exceed the PRDC k=5, got 5"):
        EvalSettings(samples=5).validate()


def test_settings_and_package_import_no_torch():
    code = "import sys, vaediag.evaluate, vaediag.evaluate.settings; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


# ---------------------------------------------------------------------------------------------- tables


def test_metrics_table_shape_and_reference_row(evaluated):
    run, ev = evaluated
    m = ev.metrics
    assert list(m.index) == [1, 2, DATA] and m.index.name == C.EPOCH
    assert list(m[C.SOURCE]) == [C.SOURCE_MODEL, C.SOURCE_MODEL, C.SOURCE_DATA]
    assert list(m.columns) == [C.SOURCE, *C.HISTORY_COLUMNS[1:], *stages.metrics_columns(2)]
    assert {"kl_dim_0", "kl_dim_1"} <= set(m.columns)
    code_judge = [C.JUDGE_AGREEMENT, C.JUDGE_AGREEMENT_CI_LOW, C.JUDGE_AGREEMENT_CI_HIGH, C.PRIOR_CODE_ENTROPY_NORM,
                  C.PRIOR_CODE_ENTROPY_NORM_CI_LOW, C.PRIOR_CODE_ENTROPY_NORM_CI_HIGH]
    for e in (1, 2):  # every checkpoint row is complete, but for a code judge that names no sample
        row = m.loc[e]
        empty = row.drop([C.MOST_MIXED_PAIR])[row.drop([C.MOST_MIXED_PAIR]).isna()].index.tolist()
        # the barely trained model's codes sit in a small ball: every prior sample lies off them
        assert not empty or (set(empty) <= set(code_judge) and row[C.PRIOR_OFF_CODES] == 1.0), empty
        assert -1 <= row[C.SILHOUETTE] <= 1 and 0 <= row[C.KNN_ACCURACY] <= 1
        assert 0 <= row[C.PRIOR + C.MODES_COVERED] <= 10 and 0 <= row[C.GRID_INSIDE] <= 1
        assert row[C.GRID_SPAN] == 1.0 and row[C.QGRID_SPAN] == pytest.approx(1.6449, abs=1e-4)
        assert 0 <= row[C.RECON_ACCURACY] <= 1 and row[C.FRECHET] >= 0
        assert isinstance(row[C.MOST_MIXED_PAIR], str) and "-" in row[C.MOST_MIXED_PAIR]
    ref = ev.reference
    assert ref[C.SOURCE] == C.SOURCE_DATA
    assert ref[[C.SILHOUETTE, C.KNN_ACCURACY, C.EVAL_LOSS, C.TRAIN_LOSS, C.GRID + C.ENTROPY]].isna().all()
    assert ref[[C.PRIOR + C.ENTROPY, C.FRECHET, C.PRECISION, C.COVERAGE, C.RECON_ACCURACY]].notna().all()
    assert ev.settings["grid_span"] == 1.0 and ev.settings["n_test"] == 64 and ev.settings["samples"] == 120
    assert ev.epochs == [1, 2]


def test_history_is_joined(evaluated):
    run, ev = evaluated
    hist = Run(run).history
    for e in (1, 2):
        for col in C.HISTORY_COLUMNS[1:]:
            assert ev.metrics.loc[e, col] == pytest.approx(hist.loc[e, col])


def test_per_class_and_pairs_tables(evaluated, data):
    _, ev = evaluated
    pc = ev.per_class
    assert list(pc.columns) == PER_CLASS_COLUMNS and len(pc) == 30
    assert list(pc[C.EPOCH].unique()) == [1, 2, DATA]
    assert list(pc[C.SOURCE]) == [C.SOURCE_MODEL] * 20 + [C.SOURCE_DATA] * 10
    labels = data.test_labels.numpy()
    for _, group in pc.groupby([C.SOURCE, C.EPOCH], sort=False):
        assert list(group[C.CLASS]) == list(range(10))
        assert group[C.CLASS_PRIOR_SHARE].sum() == pytest.approx(1.0)
        np.testing.assert_allclose(group[C.CLASS_DATA_SHARE], np.bincount(labels, minlength=10) / len(labels))
    real = pc[pc[C.SOURCE] == C.SOURCE_DATA]
    assert real[C.CLASS_SILHOUETTE].isna().all() and real[C.CLASS_GRID_SHARE].isna().all()
    pairs = ev.pairs
    assert list(pairs.columns) == PAIRS_COLUMNS and len(pairs) == 90
    assert (pairs[C.CLASS_A] < pairs[C.CLASS_B]).all() and pairs[C.CONFUSION_RATE].between(0, 1).all()
    top = pairs[pairs[C.EPOCH] == 1].iloc[0]  # the most mixed pair is listed first and named in metrics
    assert ev.metrics.loc[1, C.MOST_MIXED_PAIR] == f"{int(top[C.CLASS_A])}-{int(top[C.CLASS_B])}"
    assert ev.metrics.loc[1, C.MOST_MIXED_PAIR_RATE] == pytest.approx(top[C.CONFUSION_RATE])


def test_evaluation_and_artifacts_round_trip(evaluated):
    run, ev = evaluated
    back = Run(run).evaluation
    pd.testing.assert_frame_equal(back.metrics, ev.metrics, check_dtype=False)
    pd.testing.assert_frame_equal(back.per_class, ev.per_class, check_dtype=False)
    pd.testing.assert_frame_equal(back.pairs, ev.pairs, check_dtype=False)
    assert back.settings == ev.settings
    for epoch in (1, 2):  # the arrays handed on in memory are the ones written
        on_disk, in_memory = Run(run).artifacts(epoch), ev.artifacts[epoch]
        assert set(on_disk) == set(in_memory)
        for name in in_memory:
            np.testing.assert_array_equal(on_disk[name], in_memory[name])
    art = ev.artifacts[2]
    assert art["test_mu"].shape == (64, 2) and art["test_mu"].dtype == np.float32
    assert art["test_labels"].dtype == np.int64 and art["prior_labels"].shape == (120,)
    assert art["grid_linear"].shape == (16, 28, 28) and art["grid_linear"].dtype == np.uint8
    assert art["grid_quantile"].shape == (16, 28, 28)
    assert float(art["grid_span"]) == 1.0 and float(art["qgrid_span"]) == pytest.approx(ev.settings["qgrid_span"])
    with pytest.raises(RunDirError):
        Run(run).artifacts(7)
    with pytest.raises(RunDirError, match="vaediag evaluate"):
        Run(Run(run).checkpoint_dir).evaluation


def test_artifacts_hold_the_prior_sheet_and_reconstruction_pairs(evaluated, data):
    """The first 100 decoded prior samples and two test digits of each class beside decode(mu(x)), uint8 like
    the grids, taken from the tensors the stages decode anyway."""
    from vaediag.metrics.generation import sample_prior

    run, ev = evaluated
    art = ev.artifacts[2]
    model = load_checkpoint(Run(run).checkpoint_path(2), device="cpu").model
    with torch.inference_mode():
        z = torch.from_numpy(sample_prior(EVALUATED.samples, 2, EVALUATED.seed)[: stages.PRIOR_SHEET])
        prior = (model.decode(z).float() * 255).round().squeeze(1).numpy()
        shown = stages.recon_pair_indices(art["test_labels"])
        x = data.test_images[torch.from_numpy(shown)].float().div(255).reshape(-1, 1, 28, 28)
        recon = (model.decode(model.encode(x)[0]).float() * 255).round().squeeze(1).numpy()
    assert art["prior_sheet"].dtype == np.uint8 and art["prior_sheet"].shape == (100, 28, 28)
    assert np.abs(art["prior_sheet"].astype(int) - prior).max() <= 1
    assert list(art["test_labels"][shown]) == list(range(10)) * 2  # two of each digit, 0-9 then 0-9
    assert art["recon_pairs"].dtype == np.uint8 and art["recon_pairs"].shape == (2, 20, 28, 28)
    np.testing.assert_array_equal(art["recon_pairs"][0], data.test_images[torch.from_numpy(shown)].reshape(-1, 28, 28))
    assert np.abs(art["recon_pairs"][1].astype(int) - recon).max() <= 1


def test_explorer_arrays_are_the_plane_the_digits_and_their_decodes(evaluated, data):
    """The latent explorer's arrays, recomputed independently: the same 60-per-class digits at every checkpoint
    (the evaluation seed), their images, their reconstructions decode(μ), the plane (dims 0 and 1 for z = 2)
    and the decoded grid over the extent of the codes on it, top row first."""
    run_dir, ev = evaluated
    run = Run(run_dir)
    first = run.artifacts(1)["explorer_index"]
    labels = data.test_labels.numpy()
    for epoch in (1, 2):
        art = run.artifacts(epoch)
        index = art["explorer_index"]
        assert np.array_equal(index, first) and np.all(np.diff(index) > 0)
        counts = np.bincount(labels[index], minlength=10)
        assert np.array_equal(counts, np.minimum(np.bincount(labels, minlength=10), stages.EXPLORER_PER_CLASS))
        np.testing.assert_array_equal(art["explorer_images"], data.test_images[torch.from_numpy(index)].numpy())
        origin, basis = art["explorer_plane"][0], art["explorer_plane"][1:]
        assert np.array_equal(origin, [0, 0]) and np.array_equal(basis, np.eye(2))  # z = 2: dims 0 and 1 themselves
        mu = art["test_mu"]
        x0, x1, y0, y1 = art["explorer_extent"]
        inside = (mu[:, 0] >= x0) & (mu[:, 0] <= x1) & (mu[:, 1] >= y0) & (mu[:, 1] <= y1)
        assert inside.mean() > 0.98  # the extent covers the codes
        model = load_checkpoint(run.checkpoint_path(epoch)).model.eval()
        n = stages.EXPLORER_GRID
        xs = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
        ys = y1 - (np.arange(n) + 0.5) * (y1 - y0) / n
        z = torch.tensor([[x, y] for y in ys for x in xs], dtype=torch.float32)  # row-major, top row first
        with torch.no_grad():
            grid = (model.decode(z).float() * 255).round().squeeze(1).numpy()
            recon = (model.decode(torch.from_numpy(mu[index])).float() * 255).round().squeeze(1).numpy()
        assert art["explorer_grid"].shape == (n * n, 28, 28) and art["explorer_grid"].dtype == np.uint8
        assert np.abs(art["explorer_grid"].astype(int) - grid).max() <= 1
        assert np.abs(art["explorer_recon"].astype(int) - recon).max() <= 1


def test_the_explorer_plane_of_more_than_two_dimensions_is_the_pca_plane():
    from sklearn.decomposition import PCA

    from vaediag.metrics import plane

    rng = np.random.default_rng(0)
    mu = rng.normal(size=(300, 6)) * np.array([3.0, 0.2, 2.0, 0.1, 0.1, 0.1]) + 1.5
    origin, basis = plane.latent_plane(mu)
    expected = PCA(n_components=2).fit(mu)
    np.testing.assert_allclose(origin, mu.mean(axis=0))
    np.testing.assert_allclose(np.abs(basis @ expected.components_.T), np.eye(2), atol=1e-9)  # the same axes
    coords = plane.project(mu, origin, basis)
    np.testing.assert_allclose(np.var(coords, axis=0, ddof=1), expected.explained_variance_, rtol=1e-9)
    z = plane.plane_grid(origin, basis, plane.plane_extent(coords), 5)
    back = plane.project(z, origin, basis)  # grid points lie on the plane, at the cell centres, top row first
    np.testing.assert_allclose(plane.project(origin + back.astype(np.float64) @ basis, origin, basis), back,
                               atol=1e-5)
    assert back[0, 1] > back[-1, 1] and back[0, 0] < back[4, 0]
    chosen = plane.stratified_indices(np.arange(100) % 10, 3, seed=1)
    assert len(chosen) == 30 and np.array_equal(chosen, plane.stratified_indices(np.arange(100) % 10, 3, seed=1))


def test_timings_cover_every_metric_family(evaluated):
    _, ev = evaluated
    families = [stage.name for stage in stages.STAGES]
    assert families == ["encode", "separation", "usage", "generation", "code_judge", "frechet_prdc", "reconstruction",
                        "iwae", "explorer"]
    for e in (1, 2):
        t = ev.timings["epochs"][e]
        assert set(families) <= set(t) and t["total"] > 0 and t["cached"] is False
    assert ev.timings["data"]["cached"] is False and "total" in ev.timings["shared"]
    table = ev.timing_table()
    assert list(table.index) == [1, 2] and list(table.columns[: len(families)]) == families


def test_format_table(evaluated):
    _, ev = evaluated
    assert OUTPUT_FORMATS == ("table", "csv", "json")
    table = format_table(ev, "table")
    lines = table.splitlines()
    assert "silh" in table and "iwae" in table
    assert lines[-1].startswith(C.SOURCE_DATA) and lines[-3].startswith("1")
    csv = format_table(ev, "csv")
    assert csv.splitlines()[0].split(",")[:2] == [C.EPOCH, C.SOURCE] and len(csv.splitlines()) == 4
    records = pd.read_json(io.StringIO(format_table(ev, "json")))
    assert len(records) == 3 and C.FRECHET in records.columns and list(records[C.EPOCH]) == [1, 2, DATA]
    with pytest.raises(ConfigError, match="unknown format"):
        format_table(ev, "yaml")


# ---------------------------------------------------------------------------------------------- the stage registry


def test_metrics_columns_follow_the_stage_registry():
    columns = stages.metrics_columns(3)
    assert len(columns) == len(set(columns))
    assert columns == [c for stage in stages.STAGES for c in stage.columns(3)]
    assert [c for c in columns if c.startswith(C.KL_PER_DIM_PREFIX)] == ["kl_dim_0", "kl_dim_1", "kl_dim_2"]
    assert columns[-2:] == [C.IWAE_NLL, C.IWAE_TRAIN_NLL]


def test_a_registered_stage_adds_its_column(evaluated_run, data, clf, monkeypatch):
    """Registering a stage is all the pipeline needs: its column is computed (not served from the cache),
    placed after the others, and NaN on the real-data row."""
    extra = stages.Stage("mu_norm", lambda ctx: {"mean_mu_norm": float(np.linalg.norm(ctx.test_mu, axis=1).mean())},
                         lambda d: ["mean_mu_norm"])
    monkeypatch.setattr(stages, "STAGES", [*stages.STAGES, extra])
    ev = evaluate_run(evaluated_run, settings=EVALUATED, data=data, classifier=clf, **QUIET)
    assert ev.metrics.columns[-1] == "mean_mu_norm" and ev.timings["epochs"][1]["cached"] is False
    expected = np.linalg.norm(ev.artifacts[2]["test_mu"].astype(np.float64), axis=1).mean()
    assert ev.metrics.loc[2, "mean_mu_norm"] == pytest.approx(expected, rel=1e-6)
    assert math.isnan(ev.metrics.loc[DATA, "mean_mu_norm"])


def test_a_stage_must_return_its_registered_columns(run, data, clf, monkeypatch):
    wrong = stages.Stage("wrong", lambda ctx: {"undeclared": 1.0}, lambda d: ["declared"])
    monkeypatch.setattr(stages, "STAGES", [*stages.STAGES, wrong])
    with pytest.raises(RuntimeError, match="'wrong' returned"):
        evaluate_run(run, settings=FAST, data=data, classifier=clf, **QUIET)


# ---------------------------------------------------------------------------------------------- IWAE


def test_iwae_is_below_the_elbo(evaluated, base_run, data):
    """beta = 1. Jensen: -log mean_k w_k <= mean_k -log w_k for the same draws, exactly; and mean_k -log w_k
    estimates the negative ELBO that ``eval_test_loss`` estimates too, so the two agree within a few standard
    errors of the sampling noise, estimated from the draws themselves."""
    _, ev = evaluated
    row = ev.metrics.loc[2]
    model = load_checkpoint(Run(base_run).checkpoint_path(2)).model
    x = MNISTData.to_float(data.test_images)[: stages.IWAE_SUBSET]
    recon, kl_sampled = same_noise_terms(model, x, EVALUATED.iwae, seed=EVALUATED.seed + 1)
    neg_log_w = recon + kl_sampled  # [K, n]
    independent = -float((torch.logsumexp(-neg_log_w, 0) - math.log(EVALUATED.iwae)).mean())
    assert row[C.IWAE_NLL] == pytest.approx(independent, abs=1e-4)
    mc_elbo = float(neg_log_w.mean())
    assert independent <= mc_elbo
    # noise of the difference: K draws of -log w per digit here, one reconstruction draw per digit there
    noise_var = (neg_log_w.var(0) / EVALUATED.iwae + recon.var(0)).sum() / len(x) ** 2
    tolerance = 4 * math.sqrt(float(noise_var))
    assert abs(mc_elbo - row[C.EVAL_LOSS]) <= tolerance
    assert row[C.IWAE_NLL] <= row[C.EVAL_LOSS] + tolerance
    assert math.isnan(Run(evaluated[0]).evaluation.reference_value(C.IWAE_NLL))


def test_iwae_off_gives_nan_column(run, data, clf):
    ev = evaluate_run(run, settings=FAST, epochs=[2], data=data, classifier=clf, **QUIET)
    assert list(ev.metrics.index) == [2, DATA]
    assert ev.metrics[C.IWAE_NLL].isna().all() and len(ev.pairs) == 45 and len(ev.per_class) == 20


# ---------------------------------------------------------------------------------------------- errors


def test_missing_epoch_names_the_available_ones(run, data, clf):
    with pytest.raises(RunDirError, match=r"epoch 7 .*available: 1,2"):
        evaluate_run(run, settings=FAST, epochs=[1, 7], data=data, classifier=clf, **QUIET)
    assert not (run / METRICS_FILE).exists()


def test_no_checkpoints(tmp_path, run, data, clf):
    shutil.rmtree(Run(run).checkpoint_dir)
    with pytest.raises(RunDirError, match="no checkpoints"):
        evaluate_run(run, settings=FAST, data=data, classifier=clf, **QUIET)
    with pytest.raises(RunDirError, match="not found"):
        evaluate_run(tmp_path / "nowhere", settings=FAST, data=data, classifier=clf, **QUIET)


@pytest.mark.parametrize("bad", [dict(grid=1), dict(samples=3), dict(grid_span=0.0), dict(iwae=-1),
                                 dict(knn_k=0), dict(prdc_k=0), dict(grid_span=math.inf)])
def test_bad_settings(run, data, clf, bad):
    with pytest.raises(ConfigError):
        evaluate_run(run, settings=dataclasses.replace(FAST, **bad), data=data, classifier=clf, **QUIET)


def test_too_small_test_set(run, clf):
    with pytest.raises(ConfigError, match="need at least 12"):
        evaluate_run(run, settings=FAST, data=synthetic_digits(n_test=10), classifier=clf, **QUIET)


# ---------------------------------------------------------------------------------------------- real MNIST


@pytest.mark.mnist
def test_short_real_run_end_to_end(tmp_path, mnist_root):
    from vaediag.datasets.data import load_mnist

    run = tmp_path / "run"
    cfg = TrainConfig(model="mlp", epochs=2, checkpoints=(1, 2), batch_size=32, seed=0, device="cpu", train_size=2000,
                      test_size=500, data_root=str(mnist_root))
    train(cfg, run, progress=False, log=lambda *_: None)
    settings = EvalSettings(samples=2000, iwae=10)
    ev = evaluate_run(run, settings=settings, **QUIET)  # the shipped classifier, the run's data subsets
    m = ev.metrics
    assert list(m.index) == [1, 2, DATA] and ev.settings["n_test"] == 500 and ev.settings["n_train"] == 2000
    test_x = MNISTData.to_float(load_mnist(mnist_root, train_size=2000, test_size=500, seed=0,
                                           log=lambda *_: None).test_images)
    for e in (1, 2):
        row = m.loc[e]
        assert -1 <= row[C.SILHOUETTE] <= 1 and 0 <= row[C.KNN_ACCURACY] <= 1
        assert row[C.KNN_ACCURACY] > 0.15  # chance is 0.1; 2 short epochs already separate some digits
        for prefix in (C.PRIOR, C.GRID, C.QGRID):
            if row[prefix + C.N_READABLE] == 0:  # no image the judge can read: no class histogram, not "all 0s"
                assert np.isnan(row[prefix + C.ENTROPY_NORM]) and row[prefix + C.UNREADABLE_SHARE] == 1
                continue
            assert 0 <= row[prefix + C.MODES_COVERED] <= 10
            assert 0 <= row[prefix + C.ENTROPY_NORM] <= 1 + 1e-9
            assert 1 - 1e-9 <= row[prefix + C.CLASSIFIER_SCORE] <= 10 + 1e-9
        assert 0 <= row[C.GRID_INSIDE] <= 1 and 0 <= row[C.QGRID_INSIDE] <= 1
        assert row[C.FRECHET] >= 0 and all(0 <= row[c] <= 1 for c in (C.PRECISION, C.RECALL, C.COVERAGE))
        assert 0 <= row[C.ACTIVE_UNITS] <= 2 and row[C.EVAL_LOSS] > 0
        model = load_checkpoint(Run(run).checkpoint_path(e)).model
        recon, kl_sampled = same_noise_terms(model, test_x, settings.iwae, settings.seed + 1)
        assert row[C.IWAE_NLL] <= float((recon + kl_sampled).mean()) + 1e-3  # Jensen on the same draws, float error
        assert 0 <= row[C.RECON_ACCURACY] <= 1
    ref = ev.reference
    assert ref[C.PRIOR + C.MODES_COVERED] == 10 and ref[C.RECON_ACCURACY] > 0.95  # the shipped classifier
    assert ref[C.FRECHET] < m.loc[2, C.FRECHET]  # real vs real beats generated vs real
    assert ref[C.PRECISION] > 0.5 and ref[C.COVERAGE] > 0.5
    assert Run(run).artifacts(2)["grid_linear"].shape == (225, 28, 28)
    print("\n" + format_table(ev))


def test_package_level_api(run, data, clf):
    """``vaediag.evaluate_run(run_dir, settings=...)`` is the documented entry point; ``vaediag.Run`` reads back."""
    import vaediag

    ev = vaediag.evaluate_run(run, settings=vaediag.EvalSettings(samples=120, grid=4), data=data, classifier=clf,
                              **QUIET)
    assert isinstance(ev, vaediag.Evaluation)
    assert list(ev.metrics.index) == [1, 2, DATA]
    again = vaediag.Run(run).evaluation
    pd.testing.assert_frame_equal(again.metrics, ev.metrics, check_dtype=False)


# ---------------------------------------------------------------------------------------------- issue 8: intervals


def _entropy_norm(labels):
    counts = np.bincount(labels, minlength=10)
    p = counts[counts > 0] / counts.sum()
    return float(-(p * np.log(p)).sum() / math.log(10))


def test_within_run_intervals_bracket_their_estimates(evaluated, data):
    from scipy.stats import binomtest

    run, ev = evaluated
    m, pc = ev.metrics, ev.per_class
    for epoch in (1, 2):
        row = m.loc[epoch]
        for value, low, high in ((C.KNN_ACCURACY, C.KNN_ACCURACY_CI_LOW, C.KNN_ACCURACY_CI_HIGH),
                                 (C.PRIOR + C.ENTROPY_NORM, C.PRIOR_ENTROPY_NORM_CI_LOW, C.PRIOR_ENTROPY_NORM_CI_HIGH)):
            assert 0 <= row[low] <= row[value] <= row[high] <= 1, (epoch, value)
            assert row[high] > row[low] or row[value] in (0.0, 1.0)  # zero width only for a degenerate sample
        # the Wilson intervals of the prior shares, from the argmax labels the artifact holds, against scipy
        labels = Run(run).artifacts(epoch)["prior_labels"]
        counts = np.bincount(labels, minlength=10)
        shares = pc[(pc[C.SOURCE] == C.SOURCE_MODEL) & (pc[C.EPOCH] == epoch)]
        for digit, k in enumerate(counts):
            ci = binomtest(int(k), len(labels)).proportion_ci(confidence_level=0.95, method="wilson")
            got = shares.iloc[digit]
            assert got[C.CLASS_PRIOR_SHARE] == pytest.approx(k / len(labels))
            assert got[C.CLASS_PRIOR_SHARE_CI_LOW] == pytest.approx(ci.low, abs=1e-12)
            assert got[C.CLASS_PRIOR_SHARE_CI_HIGH] == pytest.approx(ci.high, abs=1e-12)
        for share in (C.CLASS_PRIOR_SHARE, C.CLASS_GRID_SHARE, C.CLASS_QGRID_SHARE):
            low, high = C.ci_columns(share)
            assert (shares[low] <= shares[share] + 1e-12).all() and (shares[share] <= shares[high] + 1e-12).all()
        # the bootstrap interval of the entropy: the same resampling, written out by hand
        rng = np.random.default_rng(EVALUATED.seed)
        readable = labels[labels >= 0]  # unreadable samples (-1) are in no class
        boot = [_entropy_norm(readable[rng.integers(0, len(readable), len(readable))])
                for _ in range(BOOTSTRAP_RESAMPLES)]
        assert (row[C.PRIOR_ENTROPY_NORM_CI_LOW], row[C.PRIOR_ENTROPY_NORM_CI_HIGH]) == pytest.approx(
            tuple(np.quantile(boot, [0.025, 0.975])), abs=1e-12)
    ref = ev.reference  # real digits: an entropy interval, no kNN (no model)
    # the stub reads the 64 real digits exactly, so the interval is the bootstrap of the test labels; on 64 labels
    # resampling lowers the plug-in entropy, and the percentile interval can lie below the estimate
    rng = np.random.default_rng(EVALUATED.seed)
    labels = data.test_labels.numpy()
    boot = [_entropy_norm(labels[rng.integers(0, len(labels), len(labels))]) for _ in range(BOOTSTRAP_RESAMPLES)]
    assert (ref[C.PRIOR_ENTROPY_NORM_CI_LOW], ref[C.PRIOR_ENTROPY_NORM_CI_HIGH]) == pytest.approx(
        tuple(np.quantile(boot, [0.025, 0.975])), abs=1e-12)
    assert ref[C.PRIOR + C.ENTROPY_NORM] == pytest.approx(_entropy_norm(labels))
    assert math.isnan(ref[C.KNN_ACCURACY_CI_LOW]) and math.isnan(ref[C.IWAE_TRAIN_NLL])
    real = pc[pc[C.SOURCE] == C.SOURCE_DATA]
    assert (real[C.CLASS_PRIOR_SHARE_CI_LOW] <= real[C.CLASS_PRIOR_SHARE]).all()
    assert real[[C.CLASS_GRID_SHARE_CI_LOW, C.CLASS_GRID_INSIDE, C.CLASS_QGRID_INSIDE]].isna().all().all()


def test_inside_shares_per_digit_add_up_to_the_inside_fraction(evaluated, run, data, clf):
    # a linear window that holds about half of the codes, so the shares are not all 0 or 1
    mu = Run(evaluated[0]).artifacts(2)["test_mu"]
    span = float(np.median(np.max(np.abs(mu[:, :2]), axis=1)))
    ev = evaluate_run(run, settings=dataclasses.replace(FAST, grid_span=span), data=data, classifier=clf, **QUIET)
    pc = ev.per_class
    for epoch in (1, 2):
        art = Run(run).artifacts(epoch)
        mu, labels = art["test_mu"], art["test_labels"]
        rows = pc[(pc[C.SOURCE] == C.SOURCE_MODEL) & (pc[C.EPOCH] == epoch)].set_index(C.CLASS)
        for inside_share, fraction, window in ((C.CLASS_GRID_INSIDE, C.GRID_INSIDE, span),
                                               (C.CLASS_QGRID_INSIDE, C.QGRID_INSIDE, ev.settings["qgrid_span"])):
            assert rows[inside_share].between(0, 1).all()
            weighted = float((rows[inside_share] * rows[C.CLASS_DATA_SHARE]).sum())
            assert weighted == pytest.approx(ev.metrics.loc[epoch, fraction], abs=1e-12)
            for digit in range(10):  # independently: the digit's codes with both |mu_0|, |mu_1| <= the half-width
                own = mu[labels == digit]
                inside = sum(1 for z in own if abs(z[0]) <= window and abs(z[1]) <= window)
                assert rows.loc[digit, inside_share] == pytest.approx(inside / len(own))
    assert pc[C.CLASS_GRID_INSIDE].dropna().between(0.01, 0.99).any()  # the window cuts through some digits


def test_iwae_train_bound_is_on_the_fixed_training_subset(evaluated, base_run, data):
    from vaediag.models.likelihood import train_eval_indices

    _, ev = evaluated
    model = load_checkpoint(Run(base_run).checkpoint_path(2)).model
    idx = train_eval_indices(len(data.train_labels), len(data.test_labels), seed=0)  # the run's seed
    x = MNISTData.to_float(data.train_images[torch.as_tensor(idx)])[: stages.IWAE_SUBSET]
    recon, kl_sampled = same_noise_terms(model, x, EVALUATED.iwae, seed=EVALUATED.seed + 1)
    independent = -float((torch.logsumexp(-(recon + kl_sampled), 0) - math.log(EVALUATED.iwae)).mean())
    assert ev.metrics.loc[2, C.IWAE_TRAIN_NLL] == pytest.approx(independent, abs=1e-4)
    assert ev.metrics.loc[[1, 2], C.TRAIN_EVAL_LOSS].notna().all()  # the joined history holds train_eval too


def test_iwae_is_on_by_default():
    assert EvalSettings().iwae > 0
