"""``vaediag evaluate`` against what a careful tester does to a run: a set mixed by a kill (written again),
a checkpoint of another model, a ``data_root`` in config.json that points elsewhere, a read-only RUN_DIR
(with and without a cache hit), a full disk, a truncated cache entry followed by ``report``.
Every failure is one line and leaves the previous results intact. Setup in :mod:`eval_fixtures`."""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from vaediag.datasets import fashion_deb, mnist_wheel, provision, registry  # noqa: F401
from vaediag import report
from vaediag.models.checkpoint import FORMAT, save_state
from vaediag.cli import cli
from vaediag.errors import CheckpointError, RunDirError
from vaediag.evaluate import pipeline
from vaediag.evaluate.pipeline import evaluate_run, resolve_data_root
from vaediag.models.nets import VAEConfig, build_model
from vaediag.store.rundir import Run

from eval_fixtures import (EVALUATED, FAST, QUIET, base_run, clf, data, evaluated, evaluated_run,  # noqa: F401
                           one_thread, result_bytes, run)
from helpers import assert_one_line_error
from test_evaluate_cache import CountingEvaluate, cache_files
from test_rundir import Killed, fail_writes_under, files, kill_after_renames


def everything(run_dir: Path) -> dict[str, bytes]:
    """Every file of the run except its checkpoints."""
    return {k: v for k, v in files(run_dir).items() if not k.startswith("checkpoints/")}


# ---------------------------------------------------------------------------------------------- mixed sets
def test_evaluate_writes_a_mixed_set_again(evaluated_run, data, clf, monkeypatch):
    other = dataclasses.replace(EVALUATED, grid_span=2.0)
    cache = Run(evaluated_run).cache_dir
    kill_after_renames(monkeypatch, 2, lambda dst: cache not in Path(dst).parents)  # publishing: 2 npz new
    with pytest.raises(Killed):
        evaluate_run(evaluated_run, settings=other, data=data, classifier=clf, **QUIET)
    monkeypatch.undo()
    with pytest.raises(RunDirError, match="incomplete or mixed"):
        Run(evaluated_run).read_evaluation()
    logged = []
    evaluate_run(evaluated_run, settings=other, data=data, classifier=clf, device="cpu", log=logged.append)
    assert any("incomplete or mixed" in line and "writes a complete new set" in line for line in logged)
    run = Run(evaluated_run)
    assert run.evaluation_problem() is None
    assert run.evaluation.settings["grid_span"] == 2.0 and float(run.artifacts(1)["grid_span"]) == 2.0


# ---------------------------------------------------------------------------------------------- foreign checkpoint
def foreign_checkpoint(path: Path, epoch: int, **model) -> None:
    config = VAEConfig(**model)
    torch.manual_seed(0)
    save_state(path, {"format": FORMAT, "epoch": epoch, "model_config": config.to_dict(), "train_config": {},
                      "model_state": build_model(config).state_dict(), "history": []})


@pytest.mark.parametrize("model,differs", [
    (dict(model="conv", latent_dim=3), "model 'conv' (config: 'mlp'), latent_dim 3 (config: 2)"),
    (dict(model="mlp", latent_dim=3), "latent_dim 3 (config: 2)"),
    (dict(model="mlp", latent_dim=2, beta=4.0), "beta 4.0 (config: 1.0)"),
])
def test_a_checkpoint_of_another_model_is_refused(evaluated_run, data, clf, monkeypatch, model, differs):
    spy = CountingEvaluate(monkeypatch)
    path = Run(evaluated_run).checkpoint_path(3)
    foreign_checkpoint(path, 3, **model)
    before = everything(evaluated_run)
    with pytest.raises(CheckpointError) as exc:
        evaluate_run(evaluated_run, settings=EVALUATED, data=data, classifier=clf, **QUIET)
    text = str(exc.value)
    assert "\n" not in text and str(path) in text and differs in text, text
    assert spy.calls == [] and everything(evaluated_run) == before


def test_evaluate_cli_refuses_a_foreign_checkpoint_in_one_line(run):
    foreign_checkpoint(Run(run).checkpoint_path(3), 3, model="conv", latent_dim=3)
    result = CliRunner().invoke(cli, ["evaluate", str(run)])
    assert_one_line_error(result, "holds another model")


# ---------------------------------------------------------------------------------------------- data root
def set_data_root(run_dir: Path, root) -> None:
    r = Run(run_dir)
    r.write_config({**r.config, "train": {**r.config["train"], "data_root": str(root)}})


def test_a_data_root_in_config_never_creates_folders(run, tmp_path, data, clf, monkeypatch):
    stored = tmp_path / "not" / "there"
    set_data_root(run, stored)
    logged = []
    assert resolve_data_root(Run(run), None, logged.append) is None  # None: the default root
    assert "holds no verified MNIST" in logged[0]
    roots = []
    monkeypatch.setattr(pipeline, "load_dataset", lambda dataset, root, **kw: roots.append(root) or data)
    evaluate_run(run, settings=FAST, classifier=clf, **QUIET)
    assert roots == [None] and not (tmp_path / "not").exists()
    explicit = tmp_path / "explicit"
    assert resolve_data_root(Run(run), explicit, logged.append) == explicit  # an option may point anywhere


def test_a_data_root_in_config_holding_verified_mnist_is_used(run, tmp_path, monkeypatch):
    root = tmp_path / "mnist"
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    hashes = {}
    for name in registry.MNIST_SHA256:
        (raw / name).write_bytes(name.encode())
        hashes[name] = hashlib.sha256(name.encode()).hexdigest()
    for name, sha in hashes.items():  # these four files count as the verified MNIST
        monkeypatch.setitem(registry.MNIST_SHA256, name, sha)
    set_data_root(run, root)
    assert resolve_data_root(Run(run), None, print) == root
    (raw / "t10k-images-idx3-ubyte").write_bytes(b"tampered")
    assert resolve_data_root(Run(run), None, lambda *_: None) is None


# ---------------------------------------------------------------------------------------------- read-only, full disk
def deny_writes(monkeypatch, run_dir: Path) -> None:
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: False if (mode & os.W_OK and str(p).startswith(
        str(run_dir))) else real(p, mode, **kw))


@pytest.mark.parametrize("cached", [True, False])
def test_a_read_only_run_dir_is_refused_before_any_work(evaluated_run, data, clf, monkeypatch, cached):
    spy = CountingEvaluate(monkeypatch)
    settings = EVALUATED if cached else dataclasses.replace(EVALUATED, grid_span=2.0)
    before = everything(evaluated_run)
    deny_writes(monkeypatch, evaluated_run)
    with pytest.raises(RunDirError) as exc:
        evaluate_run(evaluated_run, settings=settings, data=data, classifier=clf, **QUIET)
    assert str(exc.value) == f"cannot write into {evaluated_run} (read-only?); vaediag writes its results there"
    assert spy.calls == [] and everything(evaluated_run) == before


@pytest.mark.parametrize("cached", [True, False])
@pytest.mark.parametrize("err,fragment", [(errno.ENOSPC, "No space left on device"),
                                          (errno.EROFS, "Read-only file system")])
def test_a_failing_disk_during_evaluate_keeps_the_previous_results(evaluated_run, data, clf, monkeypatch, cached,
                                                                    err, fragment):
    settings = EVALUATED if cached else dataclasses.replace(EVALUATED, grid_span=2.0)
    before = everything(evaluated_run)
    fail_writes_under(monkeypatch, evaluated_run, err)
    with pytest.raises(RunDirError) as exc:
        evaluate_run(evaluated_run, settings=settings, data=data, classifier=clf, **QUIET)
    text = str(exc.value)
    assert "\n" not in text and text.startswith("cannot write ") and text.endswith(fragment), text
    monkeypatch.undo()
    assert everything(evaluated_run) == before  # nothing replaced, no temporary file left
    assert Run(evaluated_run).evaluation_problem() is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_evaluate_into_a_really_read_only_run_dir(evaluated_run, data, clf):
    before = result_bytes(evaluated_run)
    os.chmod(evaluated_run, 0o555)
    try:
        with pytest.raises(RunDirError, match="cannot write into"):
            evaluate_run(evaluated_run, settings=EVALUATED, data=data, classifier=clf, **QUIET)
    finally:
        os.chmod(evaluated_run, 0o755)
    assert result_bytes(evaluated_run) == before


# ---------------------------------------------------------------------------------------------- damaged inputs
def test_a_damaged_history_fails_before_any_work(run, data, clf, monkeypatch):
    spy = CountingEvaluate(monkeypatch)
    (run / "history.csv").write_text("epoch,train_loss\n1,abc\n")
    with pytest.raises(RunDirError, match="train_loss = abc at epoch 1 is not a number"):
        evaluate_run(run, settings=FAST, data=data, classifier=clf, **QUIET)
    assert spy.calls == []


def test_a_config_that_is_not_an_object_is_one_line_on_the_cli(run):
    (run / "config.json").write_text(json.dumps({"model": {"model": "mlp", "latent_dim": 2}, "train": [1]}))
    assert_one_line_error(CliRunner().invoke(cli, ["evaluate", str(run)]), "'train' must be a JSON object")


# ---------------------------------------------------------------------------------------------- cache + report
def test_a_truncated_cache_npz_is_recomputed_and_the_report_reads_it(evaluated_run, data, clf, monkeypatch):
    spy = CountingEvaluate(monkeypatch)
    for epoch in (1, 2):
        npz = cache_files(evaluated_run, epoch, ".npz")[0]
        npz.write_bytes(npz.read_bytes()[:300])  # the json next to it is intact
    evaluate_run(evaluated_run, settings=EVALUATED, data=data, classifier=clf, **QUIET)
    assert spy.calls == [1, 2]
    html, _ = report.build_report(evaluated_run)  # draws every figure from the published npz files
    assert html.is_file() and all(Run(evaluated_run).artifacts(e)["test_mu"].size for e in (1, 2))
