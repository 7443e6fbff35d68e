"""Tests of ``vaediag.evaluate``: tables, reference row, history join, caching, errors, atomic writes.

A tiny synthetic run (MLP, 2 epochs, checkpoints 1 and 2) is trained once per module and copied per
test; the digit classifier is a randomly initialised ``DigitClassifier`` (its numbers are meaningless,
the plumbing is what is tested). One test marked ``mnist`` evaluates a short real run end to end.
"""

from __future__ import annotations

import importlib
import io
import math
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from vaediag import columns as C
from vaediag.checkpoint import load_checkpoint, read_state, save_state
from vaediag.errors import CheckpointError, ConfigError, RunDirError
from vaediag.train import TrainConfig, evaluate_elbo, read_history, train

from helpers import synthetic_digits

E = importlib.import_module("vaediag.evaluate")  # the module, even if the package re-exports evaluate()

QUIET = dict(log=lambda *_: None)
FAST = dict(samples=120, grid=4, device="cpu")  # small settings: a checkpoint takes well under a second
RESULT_FILES = (E.METRICS_FILE, E.PER_CLASS_FILE, E.PAIRS_FILE, E.EVALUATION_FILE)


def random_classifier():
    """The shipped classifier architecture in a fixed random init (no trained weights needed)."""
    from vaediag.classifier import DigitClassifier

    torch.manual_seed(0)
    return DigitClassifier().eval()


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: one thread avoids thread-pool overhead (and spinning on a shared CPU)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data():
    return synthetic_digits()


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, data):
    run = tmp_path_factory.mktemp("base") / "run"
    cfg = TrainConfig(model="mlp", epochs=2, checkpoints=(1, 2), batch_size=64, seed=0, device="cpu")
    train(cfg, run, data=data, progress=False, **QUIET)
    return run


@pytest.fixture()
def run(tmp_path, base_run):
    """A fresh copy of the trained run (evaluate writes into it)."""
    dst = tmp_path / "run"
    shutil.copytree(base_run, dst)
    return dst


@pytest.fixture(scope="module")
def clf():
    return random_classifier()


EVALUATED = dict(iwae=20, **FAST)


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, base_run, data, clf):
    """One evaluation (settings ``EVALUATED``) of a copy of the base run, shared by the read-only tests."""
    dst = tmp_path_factory.mktemp("evaluated") / "run"
    shutil.copytree(base_run, dst)
    return dst, E.evaluate(dst, data=data, classifier=clf, **EVALUATED, **QUIET)


@pytest.fixture()
def evaluated_run(tmp_path, evaluated):
    """A fresh copy of the evaluated run: result files and cache entries for ``EVALUATED`` settings."""
    dst = tmp_path / "evaluated"
    shutil.copytree(evaluated[0], dst)
    return dst


def result_bytes(run):
    return {name: (run / name).read_bytes() for name in RESULT_FILES}


# ---------------------------------------------------------------------------------------------- tables


def test_metrics_table_shape_and_reference_row(evaluated):
    run, ev = evaluated
    m = ev.metrics
    assert list(m.index) == [1, 2, C.DATA_ROW] and m.index.name == C.EPOCH
    assert list(m.columns) == C.HISTORY_COLUMNS[1:] + E.metrics_columns(2)
    assert {"kl_dim_0", "kl_dim_1"} <= set(m.columns)
    for e in (1, 2):  # every checkpoint row is complete
        row = m.loc[e]
        assert row.drop([C.MOST_MIXED_PAIR]).notna().all(), row[row.isna()].index.tolist()
        assert -1 <= row[C.SILHOUETTE] <= 1 and 0 <= row[C.KNN_ACCURACY] <= 1
        assert 0 <= row[C.PRIOR + C.MODES_COVERED] <= 10 and 0 <= row[C.GRID_INSIDE] <= 1
        assert row[C.GRID_SPAN] == 1.0 and row[C.QGRID_SPAN] == pytest.approx(1.6449, abs=1e-4)
        assert 0 <= row[C.RECON_ACCURACY] <= 1 and row[C.FRECHET] >= 0
        assert isinstance(row[C.MOST_MIXED_PAIR], str) and "-" in row[C.MOST_MIXED_PAIR]
    ref = m.loc[C.DATA_ROW]
    assert ref[[C.SILHOUETTE, C.KNN_ACCURACY, C.EVAL_LOSS, C.TRAIN_LOSS, C.GRID + C.ENTROPY]].isna().all()
    assert ref[[C.PRIOR + C.ENTROPY, C.FRECHET, C.PRECISION, C.COVERAGE, C.RECON_ACCURACY]].notna().all()
    assert ev.settings["grid_span"] == 1.0 and ev.settings["n_test"] == 64 and ev.settings["samples"] == 120


def test_history_is_joined(evaluated):
    run, ev = evaluated
    hist = read_history(run)
    for e in (1, 2):
        for col in C.HISTORY_COLUMNS[1:]:
            assert ev.metrics.loc[e, col] == pytest.approx(hist.loc[e, col])


def test_per_class_and_pairs_tables(evaluated, data):
    _, ev = evaluated
    pc = ev.per_class
    assert list(pc.columns) == E.PER_CLASS_COLUMNS and len(pc) == 30
    assert list(pc[C.EPOCH].unique()) == [1, 2, C.DATA_ROW]
    for epoch, group in pc.groupby(C.EPOCH, sort=False):
        assert list(group[C.DIGIT]) == list(range(10))
        assert group[C.CLASS_PRIOR_SHARE].sum() == pytest.approx(1.0)
        labels = data.test_labels.numpy()
        np.testing.assert_allclose(group[C.CLASS_DATA_SHARE], np.bincount(labels, minlength=10) / len(labels))
    real = pc[pc[C.EPOCH] == C.DATA_ROW]
    assert real[C.CLASS_SILHOUETTE].isna().all() and real[C.CLASS_GRID_SHARE].isna().all()
    pairs = ev.pairs
    assert list(pairs.columns) == E.PAIRS_COLUMNS and len(pairs) == 90
    assert (pairs[C.DIGIT_A] < pairs[C.DIGIT_B]).all() and pairs[C.CONFUSION_RATE].between(0, 1).all()
    top = pairs[pairs[C.EPOCH] == 1].iloc[0]  # the most mixed pair is listed first and named in metrics
    assert ev.metrics.loc[1, C.MOST_MIXED_PAIR] == f"{int(top[C.DIGIT_A])}-{int(top[C.DIGIT_B])}"
    assert ev.metrics.loc[1, C.MOST_MIXED_PAIR_RATE] == pytest.approx(top[C.CONFUSION_RATE])


def test_read_results_and_artifacts_round_trip(evaluated):
    run, ev = evaluated
    back = E.read_results(run)
    pd.testing.assert_frame_equal(back.metrics, ev.metrics, check_dtype=False)
    pd.testing.assert_frame_equal(back.per_class, ev.per_class, check_dtype=False)
    pd.testing.assert_frame_equal(back.pairs, ev.pairs, check_dtype=False)
    assert back.settings == ev.settings
    art = E.load_artifacts(run, 2)
    assert art["test_mu"].shape == (64, 2) and art["test_mu"].dtype == np.float32
    assert art["test_labels"].dtype == np.int64 and art["prior_labels"].shape == (120,)
    assert art["grid_linear"].shape == (16, 28, 28) and art["grid_linear"].dtype == np.uint8
    assert art["grid_quantile"].shape == (16, 28, 28)
    assert float(art["grid_span"]) == 1.0 and float(art["qgrid_span"]) == pytest.approx(ev.settings["qgrid_span"])
    with pytest.raises(RunDirError):
        E.load_artifacts(run, 7)
    with pytest.raises(RunDirError, match="vaediag evaluate"):
        E.read_results(run / "checkpoints")


def test_timings_cover_every_metric_family(evaluated):
    _, ev = evaluated
    for e in (1, 2):
        t = ev.timings["epochs"][e]
        assert set(E.TIMING_FAMILIES) <= set(t) and t["total"] > 0 and t["cached"] is False
    assert list(ev.timing_table().index) == [1, 2, C.DATA_ROW]


def test_format_table(evaluated):
    _, ev = evaluated
    table = E.format_table(ev, "table")
    assert "silh" in table and table.splitlines()[-1].startswith("data") and "iwae" in table
    csv = E.format_table(ev, "csv")
    assert csv.splitlines()[0].split(",")[0] == C.EPOCH and len(csv.splitlines()) == 4
    records = pd.read_json(io.StringIO(E.format_table(ev, "json")))
    assert len(records) == 3 and C.FRECHET in records.columns
    with pytest.raises(ConfigError, match="unknown format"):
        E.format_table(ev, "yaml")


# ---------------------------------------------------------------------------------------------- IWAE


def test_iwae_is_tighter_than_the_elbo(evaluated, base_run):
    _, ev = evaluated
    row = ev.metrics.loc[2]
    assert row[C.IWAE_NLL] <= row[C.EVAL_LOSS] + 1.0  # beta = 1: IWAE (K=20) bounds -log p(x) more tightly
    model = load_checkpoint(base_run / "checkpoints" / "epoch_002.pt").model
    x = synthetic_digits().test_images.float().div(255).unsqueeze(1)
    elbo = evaluate_elbo(model, x, seed=3)["loss"]
    k1 = E.iwae_nll(model, x, 1, seed=3)
    k50 = E.iwae_nll(model, x, 50, seed=3)
    assert k1 == pytest.approx(elbo, rel=0.05)  # K = 1 is a Monte-Carlo ELBO
    assert k50 < k1
    assert math.isnan(E.read_results(evaluated[0]).metrics.loc[C.DATA_ROW, C.IWAE_NLL])


def test_iwae_off_gives_nan_column(run, data, clf):
    ev = E.evaluate(run, epochs=[2], data=data, classifier=clf, **FAST, **QUIET)
    assert list(ev.metrics.index) == [2, C.DATA_ROW]
    assert ev.metrics[C.IWAE_NLL].isna().all() and len(ev.pairs) == 45 and len(ev.per_class) == 20


# ---------------------------------------------------------------------------------------------- caching


class CountingEvaluate:
    def __init__(self, monkeypatch):
        self.calls = []
        real = E._evaluate_checkpoint

        def spy(path, epoch, ref):
            self.calls.append(epoch)
            return real(path, epoch, ref)

        monkeypatch.setattr(E, "_evaluate_checkpoint", spy)


def test_cache_only_computes_new_or_changed_checkpoints(run, data, clf, monkeypatch):
    spy = CountingEvaluate(monkeypatch)
    E.evaluate(run, epochs=[1], data=data, classifier=clf, **FAST, **QUIET)
    assert spy.calls == [1]
    first = E.evaluate(run, data=data, classifier=clf, **FAST, **QUIET)  # "one more checkpoint"
    assert spy.calls == [1, 2]
    again = E.evaluate(run, data=data, classifier=clf, **FAST, **QUIET)
    assert spy.calls == [1, 2]  # nothing recomputed ...
    pd.testing.assert_frame_equal(again.metrics, first.metrics)  # ... and the same numbers
    pd.testing.assert_frame_equal(again.per_class, first.per_class)
    pd.testing.assert_frame_equal(again.pairs, first.pairs)
    assert again.timings["epochs"][1]["cached"] is True

    E.evaluate(run, data=data, classifier=clf, grid_span=2.0, **{**FAST, **QUIET})  # new settings
    assert spy.calls == [1, 2, 1, 2]
    assert float(E.load_artifacts(run, 1)["grid_span"]) == 2.0

    path = run / "checkpoints" / "epoch_002.pt"  # a changed checkpoint file
    state = read_state(path)
    state["model_state"]["mu_head.bias"] += 0.5
    save_state(path, state)
    changed = E.evaluate(run, data=data, classifier=clf, **FAST, **QUIET)
    assert spy.calls == [1, 2, 1, 2, 2]
    assert float(E.load_artifacts(run, 1)["grid_span"]) == 1.0  # the cached artifact is published again
    assert changed.metrics.loc[1, C.SILHOUETTE] == first.metrics.loc[1, C.SILHOUETTE]
    assert changed.metrics.loc[2, C.AGGPOST_MEAN_NORM] != first.metrics.loc[2, C.AGGPOST_MEAN_NORM]

    E.evaluate(run, data=synthetic_digits(seed=1), classifier=clf, **FAST, **QUIET)  # other data
    assert spy.calls == [1, 2, 1, 2, 2, 1, 2]


# ---------------------------------------------------------------------------------------------- errors


def test_missing_epoch_names_the_available_ones(run, data, clf):
    with pytest.raises(RunDirError, match=r"epoch 7 .*available: 1,2"):
        E.evaluate(run, epochs=[1, 7], data=data, classifier=clf, **FAST, **QUIET)
    assert not (run / E.METRICS_FILE).exists()


def test_no_checkpoints(tmp_path, run, data, clf):
    shutil.rmtree(run / "checkpoints")
    with pytest.raises(RunDirError, match="no checkpoints"):
        E.evaluate(run, data=data, classifier=clf, **FAST, **QUIET)
    with pytest.raises(RunDirError, match="not found"):
        E.evaluate(tmp_path / "nowhere", data=data, classifier=clf, **FAST, **QUIET)


@pytest.mark.parametrize("bad", [dict(grid=1), dict(samples=3), dict(grid_span=0.0), dict(iwae=-1),
                                 dict(knn_k=0)])
def test_bad_settings(run, data, clf, bad):
    with pytest.raises(ConfigError):
        E.evaluate(run, data=data, classifier=clf, **{**FAST, **QUIET, **bad})


def test_corrupt_checkpoint_keeps_previous_results(evaluated_run, data, clf):
    run = evaluated_run
    before = result_bytes(run)
    art_before = E.artifact_path(run, 2).read_bytes()
    (run / "checkpoints" / "epoch_002.pt").write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="epoch_002"):
        E.evaluate(run, data=data, classifier=clf, **EVALUATED, **QUIET)
    assert result_bytes(run) == before and E.artifact_path(run, 2).read_bytes() == art_before


# ---------------------------------------------------------------------------------------------- atomicity


def test_failure_while_computing_leaves_results_intact(evaluated_run, data, clf, monkeypatch):
    run = evaluated_run
    before = result_bytes(run)
    real = E._evaluate_checkpoint

    def fail_on_2(path, epoch, ref):
        if epoch == 2:
            raise RuntimeError("boom")
        return real(path, epoch, ref)

    monkeypatch.setattr(E, "_evaluate_checkpoint", fail_on_2)
    with pytest.raises(RuntimeError, match="boom"):
        E.evaluate(run, data=data, classifier=clf, grid_span=3.0, **{**FAST, **QUIET})
    assert result_bytes(run) == before
    assert float(E.load_artifacts(run, 1)["grid_span"]) == 1.0  # artifacts are published with the tables


def test_failure_while_writing_leaves_results_intact(evaluated_run, data, clf, monkeypatch):
    run = evaluated_run
    before = result_bytes(run)
    real_to_csv = pd.DataFrame.to_csv

    def to_csv(self, path=None, *args, **kwargs):
        if path is not None and E.PAIRS_FILE in str(path):
            raise OSError("disk full")
        return real_to_csv(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv)
    with pytest.raises(OSError, match="disk full"):  # everything cached: only the writing runs
        E.evaluate(run, data=data, classifier=clf, **EVALUATED, **QUIET)
    assert result_bytes(run) == before  # metrics.csv was written to a temp file but never renamed
    assert not [p for p in run.rglob("*.tmp")]


# ---------------------------------------------------------------------------------------------- real MNIST


@pytest.mark.mnist
def test_short_real_run_end_to_end(tmp_path, mnist_root):
    run = tmp_path / "run"
    cfg = TrainConfig(model="mlp", epochs=2, checkpoints=(1, 2), batch_size=32, seed=0, device="cpu", train_size=2000,
                      test_size=500, data_root=str(mnist_root))
    train(cfg, run, progress=False, **QUIET)
    ev = E.evaluate(run, samples=2000, iwae=10, **QUIET)  # the shipped classifier, the run's data subsets
    m = ev.metrics
    assert list(m.index) == [1, 2, C.DATA_ROW] and ev.settings["n_test"] == 500 and ev.settings["n_train"] == 2000
    for e in (1, 2):
        row = m.loc[e]
        assert -1 <= row[C.SILHOUETTE] <= 1 and 0 <= row[C.KNN_ACCURACY] <= 1
        assert row[C.KNN_ACCURACY] > 0.15  # chance is 0.1; 2 short epochs already separate some digits
        for prefix in (C.PRIOR, C.GRID, C.QGRID):
            assert 0 <= row[prefix + C.MODES_COVERED] <= 10
            assert 0 <= row[prefix + C.ENTROPY_NORM] <= 1 + 1e-9
            assert 1 - 1e-9 <= row[prefix + C.CLASSIFIER_SCORE] <= 10 + 1e-9
        assert 0 <= row[C.GRID_INSIDE] <= 1 and 0 <= row[C.QGRID_INSIDE] <= 1
        assert row[C.FRECHET] >= 0 and all(0 <= row[c] <= 1 for c in (C.PRECISION, C.RECALL, C.COVERAGE))
        assert 0 <= row[C.ACTIVE_UNITS] <= 2 and row[C.EVAL_LOSS] > 0
        assert row[C.IWAE_NLL] <= row[C.EVAL_LOSS] + 1.0
        assert 0 <= row[C.RECON_ACCURACY] <= 1
    ref = m.loc[C.DATA_ROW]
    assert ref[C.PRIOR + C.MODES_COVERED] == 10 and ref[C.RECON_ACCURACY] > 0.95  # the shipped classifier
    assert ref[C.FRECHET] < m.loc[2, C.FRECHET]  # real vs real beats generated vs real
    assert ref[C.PRECISION] > 0.5 and ref[C.COVERAGE] > 0.5
    assert E.load_artifacts(run, 2)["grid_linear"].shape == (225, 28, 28)
    print("\n" + E.format_table(ev))


def test_package_level_api(run, data, clf):
    """``vaediag.evaluate(run_dir, ...)`` is the documented entry point and returns the DataFrames."""
    import vaediag

    ev = vaediag.evaluate(run, data=data, classifier=clf, **FAST, **QUIET)
    assert isinstance(ev, vaediag.Evaluation)
    assert list(ev.metrics.index) == [1, 2, C.DATA_ROW]
    again = vaediag.read_results(run)
    pd.testing.assert_frame_equal(again.metrics, ev.metrics, check_dtype=False)
