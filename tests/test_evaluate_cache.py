"""Tests of re-running ``vaediag evaluate``: the per-checkpoint cache (only new or changed checkpoints are
computed; a damaged entry is a miss), and failures that leave the previous results untouched.

Setup in :mod:`eval_fixtures`.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from vaediag import columns as C
from vaediag.store import rundir
from vaediag.models.checkpoint import read_state, save_state
from vaediag.errors import CheckpointError
from vaediag.evaluate import stages
from vaediag.evaluate.pipeline import evaluate_run
from vaediag.store.rundir import Run

from eval_fixtures import (EVALUATED, FAST, QUIET, base_run, clf, data, evaluated, evaluated_run,  # noqa: F401
                           one_thread, result_bytes, run)
from helpers import synthetic_digits


# ---------------------------------------------------------------------------------------------- caching


class CountingEvaluate:
    def __init__(self, monkeypatch):
        self.calls = []
        real = stages.evaluate_checkpoint

        def spy(path, epoch, ref):
            self.calls.append(epoch)
            return real(path, epoch, ref)

        monkeypatch.setattr(stages, "evaluate_checkpoint", spy)


def cache_files(run, epoch, suffix):
    cache_dir = Run(run).cache_paths(Run.cache_entry(epoch), "")[0].parent
    return sorted(cache_dir.glob(f"{Run.cache_entry(epoch)}-*{suffix}"))


def test_cache_only_computes_new_or_changed_checkpoints(run, data, clf, monkeypatch):
    spy = CountingEvaluate(monkeypatch)
    evaluate_run(run, settings=FAST, epochs=[1], data=data, classifier=clf, **QUIET)
    assert spy.calls == [1]
    first = evaluate_run(run, settings=FAST, data=data, classifier=clf, **QUIET)  # "one more checkpoint"
    assert spy.calls == [1, 2]
    again = evaluate_run(run, settings=FAST, data=data, classifier=clf, **QUIET)
    assert spy.calls == [1, 2]  # nothing recomputed ...
    pd.testing.assert_frame_equal(again.metrics, first.metrics)  # ... and the same numbers
    pd.testing.assert_frame_equal(again.per_class, first.per_class)
    pd.testing.assert_frame_equal(again.pairs, first.pairs)
    assert again.timings["epochs"][1]["cached"] is True and again.timings["data"]["cached"] is True
    for name, array in first.artifacts[1].items():  # cached artifacts come back in memory
        np.testing.assert_array_equal(again.artifacts[1][name], array)

    evaluate_run(run, settings=dataclasses.replace(FAST, grid_span=2.0), data=data, classifier=clf, **QUIET)
    assert spy.calls == [1, 2, 1, 2]  # new settings
    assert float(Run(run).artifacts(1)["grid_span"]) == 2.0

    path = Run(run).checkpoint_path(2)  # a changed checkpoint file
    state = read_state(path)
    state["model_state"]["mu_head.bias"] += 0.5
    save_state(path, state)
    changed = evaluate_run(run, settings=FAST, data=data, classifier=clf, **QUIET)
    assert spy.calls == [1, 2, 1, 2, 2]
    assert float(Run(run).artifacts(1)["grid_span"]) == 1.0  # the cached artifact is published again
    assert changed.metrics.loc[1, C.SILHOUETTE] == first.metrics.loc[1, C.SILHOUETTE]
    assert changed.metrics.loc[2, C.AGGPOST_MEAN_NORM] != first.metrics.loc[2, C.AGGPOST_MEAN_NORM]

    evaluate_run(run, settings=FAST, data=synthetic_digits(seed=1), classifier=clf, **QUIET)  # other data
    assert spy.calls == [1, 2, 1, 2, 2, 1, 2]


@pytest.mark.parametrize("damage", ["truncate", "delete", "json_row"])
def test_a_damaged_cache_npz_is_a_miss(evaluated_run, evaluated, data, clf, monkeypatch, damage):
    spy = CountingEvaluate(monkeypatch)
    npz = cache_files(evaluated_run, 1, ".npz")
    assert len(npz) == 1
    if damage == "truncate":
        npz[0].write_bytes(npz[0].read_bytes()[:100])
    elif damage == "delete":
        npz[0].unlink()
    else:  # a json that names the right key but holds no row
        path = cache_files(evaluated_run, 1, ".json")[0]
        path.write_text(json.dumps({**json.loads(path.read_text()), "row": [1, 2]}))
    ev = evaluate_run(evaluated_run, settings=EVALUATED, data=data, classifier=clf, **QUIET)
    assert spy.calls == [1]  # recomputed; epoch 2 still served from the cache
    pd.testing.assert_frame_equal(ev.metrics, evaluated[1].metrics, check_dtype=False)
    np.testing.assert_array_equal(Run(evaluated_run).read_artifact_file(1)["grid_linear"],
                                  evaluated[1].artifacts[1]["grid_linear"])
    evaluate_run(evaluated_run, settings=EVALUATED, data=data, classifier=clf, **QUIET)
    assert spy.calls == [1]  # the entry was repaired


def test_corrupt_checkpoint_keeps_previous_results(evaluated_run, data, clf):
    run = evaluated_run
    before = result_bytes(run)
    art_before = Run(run).artifact_path(2).read_bytes()
    Run(run).checkpoint_path(2).write_bytes(b"not a checkpoint at all")
    with pytest.raises(CheckpointError, match="epoch_002"):
        evaluate_run(run, settings=EVALUATED, data=data, classifier=clf, **QUIET)
    assert result_bytes(run) == before and Run(run).artifact_path(2).read_bytes() == art_before


# ---------------------------------------------------------------------------------------------- atomicity


def test_failure_while_computing_leaves_results_intact(evaluated_run, data, clf, monkeypatch):
    run = evaluated_run
    before = result_bytes(run)
    real = stages.evaluate_checkpoint

    def fail_on_2(path, epoch, ref):
        if epoch == 2:
            raise RuntimeError("boom")
        return real(path, epoch, ref)

    monkeypatch.setattr(stages, "evaluate_checkpoint", fail_on_2)
    with pytest.raises(RuntimeError, match="boom"):
        evaluate_run(run, settings=dataclasses.replace(FAST, grid_span=3.0), data=data, classifier=clf, **QUIET)
    assert result_bytes(run) == before
    assert float(Run(run).artifacts(1)["grid_span"]) == 1.0  # artifacts are published with the tables


def test_failure_while_writing_leaves_results_intact(evaluated_run, data, clf, monkeypatch):
    run = evaluated_run
    before = result_bytes(run)
    real_to_csv = pd.DataFrame.to_csv

    def to_csv(self, path=None, *args, **kwargs):
        if path is not None and rundir.PAIRS_FILE in str(path):
            raise OSError("disk full")
        return real_to_csv(self, path, *args, **kwargs)

    monkeypatch.setattr(pd.DataFrame, "to_csv", to_csv)
    with pytest.raises(OSError, match="disk full"):  # everything cached: only the writing runs
        evaluate_run(run, settings=EVALUATED, data=data, classifier=clf, **QUIET)
    assert result_bytes(run) == before  # metrics.csv was written to a temp file but never renamed
    assert not [p for p in run.rglob("*.tmp")]


# ---------------------------------------------------------------------------------------------- results before 0.3

NEW_METRICS = {C.KNN_ACCURACY_CI_LOW, C.KNN_ACCURACY_CI_HIGH, C.PRIOR_ENTROPY_NORM_CI_LOW,
               C.PRIOR_ENTROPY_NORM_CI_HIGH, C.IWAE_TRAIN_NLL}


def test_a_0_2_evaluation_is_recomputed_with_the_new_columns(run, data, clf, monkeypatch):
    """The cache key follows the registered columns: entries stored under 0.2's column list are not reused."""
    registered = stages.metrics_columns
    monkeypatch.setattr(stages, "metrics_columns", lambda d: [c for c in registered(d) if c not in NEW_METRICS])
    evaluate_run(run, settings=EVALUATED, data=data, classifier=clf, **QUIET)  # keyed and written the 0.2 way
    assert not NEW_METRICS & set(pd.read_csv(run / rundir.METRICS_FILE).columns)
    monkeypatch.setattr(stages, "metrics_columns", registered)
    counting = CountingEvaluate(monkeypatch)
    ev = evaluate_run(run, settings=EVALUATED, data=data, classifier=clf, **QUIET)
    assert counting.calls == [1, 2]  # nothing served from the old entries
    on_disk = pd.read_csv(run / rundir.METRICS_FILE)
    assert NEW_METRICS <= set(on_disk.columns)
    assert on_disk.loc[on_disk[C.SOURCE] == C.SOURCE_MODEL, sorted(NEW_METRICS)].notna().all().all()
    assert ev.metrics.loc[2, C.IWAE_TRAIN_NLL] > 0


def test_old_tables_with_the_removed_chi2_column_still_read(evaluated_run):
    """A metrics.csv written before 0.3 holds prior_chi2_pvalue etc. and lacks the new columns: it reads (the new
    columns as NaN); per_class.csv without the interval columns reads too."""
    ev = Run(evaluated_run).evaluation
    old_metrics = ev.metrics.drop(columns=sorted(NEW_METRICS)).assign(
        **{prefix + "chi2_pvalue": 0.0 for prefix in (C.PRIOR, C.GRID, C.QGRID)})
    old_per_class = ev.per_class.drop(columns=[C.CLASS_PRIOR_SHARE_CI_LOW, C.CLASS_PRIOR_SHARE_CI_HIGH,
                                               C.CLASS_GRID_INSIDE, C.CLASS_QGRID_INSIDE])
    Run(evaluated_run).write_evaluation(dataclasses.replace(ev, metrics=old_metrics, per_class=old_per_class),
                                        ev.versions)
    back = Run(evaluated_run).evaluation
    assert back.metrics[C.PRIOR + "chi2_pvalue"].eq(0.0).all()
    assert back.metrics[sorted(NEW_METRICS)].isna().all().all()
    assert back.per_class[C.CLASS_GRID_INSIDE].isna().all()
    assert back.metrics.loc[2, C.KNN_ACCURACY] == pytest.approx(ev.metrics.loc[2, C.KNN_ACCURACY])
