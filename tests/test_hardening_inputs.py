"""Bad input a user (or an attacker) gives, and results that would otherwise be silently wrong: each ends in one
line naming what to fix, with nothing published, or in a result that says what it left out.

Seeds, latent sizes and arguments of the library call; ``--resume`` on a folder that holds no run; a kNN k larger
than the training set; a checkpoint whose content is another epoch than its name; NaN weights and models that
output NaN for some inputs only; a run whose history.csv was deleted; a checkpoint replaced after evaluation.
Setup in :mod:`eval_fixtures` (a tiny synthetic run, a random classifier)."""

from __future__ import annotations

import dataclasses
import json
import sys
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from vaediag.cli import cli
from vaediag.errors import CheckpointError, ConfigError, NonFiniteError, RunDirError
from vaediag.evaluate.external import evaluate_model
from vaediag.evaluate.pipeline import evaluate_run
from vaediag.evaluate.settings import EvalSettings
from vaediag.files.atomic import file_sha256
from vaediag.models.checkpoint import read_state, save_state
from vaediag.models.config import MAX_LATENT_DIM, VAEConfig
from vaediag.store.rundir import CHECKPOINT_SHA256, Run

from eval_fixtures import (EVALUATED, FAST, QUIET, RESULT_FILES, base_run, clf, data, evaluated,  # noqa: F401
                           evaluated_run, one_thread, run)
from helpers import assert_one_line_error

sys.path.insert(0, str(Path(__file__).parent))
from external_models import FlatLogitsVAE  # noqa: E402


def _published(run_dir: Path) -> list[str]:
    return [name for name in RESULT_FILES if (run_dir / name).exists()]


# ------------------------------------------------------------------------------------------- tracebacks before
def test_evaluate_with_a_negative_seed_is_one_line(tmp_path):
    res = CliRunner().invoke(cli, ["evaluate", str(tmp_path / "run"), "--seed", "-5"])
    assert_one_line_error(res, "--seed must be an integer from 0 to")


def test_a_huge_latent_dim_is_one_line_and_writes_nothing(tmp_path):
    res = CliRunner().invoke(cli, ["train", "--out", str(tmp_path / "run"), "--latent-dim", "1000000000000"])
    assert_one_line_error(res, f"latent dim 1000000000000 is larger than {MAX_LATENT_DIM}")
    assert not (tmp_path / "run").exists()
    assert VAEConfig(latent_dim=MAX_LATENT_DIM).latent_dim == MAX_LATENT_DIM  # the bound itself is allowed


def test_an_allocation_failure_while_building_a_model_is_one_line(monkeypatch):
    from vaediag.models import nets

    def no_memory(self, config):
        raise RuntimeError("[enforce fail at alloc_cpu.cpp:117] data. DefaultCPUAllocator: can't allocate memory")

    monkeypatch.setattr(nets.MLPVAE, "__init__", no_memory)
    with pytest.raises(ConfigError, match="cannot build the mlp model with latent dim 2: .*can't allocate memory"):
        nets.build_model(VAEConfig())


@pytest.mark.parametrize("bad, fragment", [
    (dict(run_dir=123), "run_dir must be a folder path"),
    (dict(settings={"samples": 100, "bogus": 1}), "settings: unknown name bogus"),
    (dict(settings={"samples": "many"}), "settings: samples must be an integer, got 'many'"),
    (dict(settings=5), "settings must be vaediag.EvalSettings(...) or a dict"),
    (dict(seed=-5), "seed must be an integer from 0 to"),
    (dict(train_size="all"), "train_size must be None (all images) or an integer >= 10"),
    (dict(device=123), "device must be one of auto, cpu, cuda"),
    (dict(device="tpu"), "unknown device 'tpu'"),
])
def test_evaluate_model_refuses_bad_arguments_in_one_line(tmp_path, bad, fragment):
    kwargs = dict(run_dir=tmp_path / "ext", decoder="logits", log=lambda *_: None)
    kwargs.update(bad)
    with pytest.raises(ConfigError) as info:
        evaluate_model(FlatLogitsVAE(), kwargs.pop("run_dir"), 1, **kwargs)
    assert fragment in str(info.value) and "\n" not in str(info.value)
    assert not (tmp_path / "ext").exists()


def test_evaluate_model_takes_settings_as_a_dict(tmp_path, data, clf):
    settings = {"samples": FAST.samples, "grid": FAST.grid, "iwae": 0}
    ev = evaluate_model(FlatLogitsVAE(), tmp_path / "ext", 1, decoder="logits", settings=settings, train_size=None,
                        data=data, classifier=clf, **QUIET)
    assert ev.settings["samples"] == FAST.samples and ev.settings["grid"] == FAST.grid and ev.settings["iwae"] == 0


# ------------------------------------------------------------------------------------------- silent wrong results
@pytest.mark.parametrize("command", ["train", "study"])
def test_resume_of_a_folder_with_no_run_is_refused(tmp_path, command):
    typo = tmp_path / "typo" / "dir"
    res = CliRunner().invoke(cli, [command, "--out", str(typo), "--resume", "--epochs", "1"])
    assert_one_line_error(res, f"--resume: {typo} holds no run to continue")
    assert not typo.exists()
    typo.mkdir(parents=True)  # an empty folder is no run either
    res = CliRunner().invoke(cli, [command, "--out", str(typo), "--resume", "--epochs", "1"])
    assert_one_line_error(res, "holds no run to continue")
    assert list(typo.iterdir()) == []


def test_a_knn_k_beyond_the_training_set_is_refused_not_clamped(run, data, clf):
    settings = dataclasses.replace(FAST, knn_k=100_000)
    with pytest.raises(ConfigError, match=rf"--knn-k 100000 is more than the {data.n_train} training images"):
        evaluate_run(run, settings=settings, data=data, classifier=clf, **QUIET)
    assert _published(run) == []
    ev = evaluate_run(run, settings=dataclasses.replace(FAST, knn_k=data.n_train), data=data, classifier=clf,
                      **QUIET)  # k = all training images is the largest k that is not clamped
    assert ev.settings["knn_k"] == data.n_train


def test_a_checkpoint_holding_another_epoch_than_its_name_is_refused(run, data, clf):
    r = Run(run)
    r.checkpoint_path(1).write_bytes(r.checkpoint_path(2).read_bytes())  # epoch_001.pt now holds epoch 2
    with pytest.raises(CheckpointError, match=r"epoch_001.pt holds the model of epoch 2, not epoch 1 as its name "
                                              r"says; rename it to .*epoch_002.pt or remove it"):
        evaluate_run(run, settings=FAST, data=data, classifier=clf, **QUIET)
    assert _published(run) == []


def _poison(path: Path) -> str:
    """Set one weight of the checkpoint at ``path`` to NaN; return the tensor's name."""
    state = read_state(path)
    name = next(k for k, v in state["model_state"].items() if v.is_floating_point())
    state["model_state"][name].view(-1)[0] = float("nan")
    torch.save(state, path)
    return name


def test_a_checkpoint_with_nan_weights_is_one_line_and_publishes_nothing(run, data, clf):
    name = _poison(Run(run).checkpoint_path(2))
    with pytest.raises(NonFiniteError, match=rf"epoch_002.pt holds NaN or infinite weights \({name}: 1 of \d+ "):
        evaluate_run(run, settings=FAST, data=data, classifier=clf, **QUIET)
    assert _published(run) == []
    res = CliRunner().invoke(cli, ["evaluate", str(run), "--device", "cpu"])
    assert_one_line_error(res, "holds NaN or infinite weights")


class NaNForSomeImages(FlatLogitsVAE):
    """Finite on the two-image probe (uniform noise), NaN mu for images whose top-left square is bright (digit 0
    of the synthetic set)."""

    def encode(self, x):
        mu, logvar = super().encode(x)
        bright = x[:, 0, 2:8, 2:8].mean(dim=(1, 2)) > 0.8
        return torch.where(bright[:, None], torch.full_like(mu, float("nan")), mu), logvar


class NaNForFarCodes(FlatLogitsVAE):
    """A decoder that returns NaN for codes far from the origin (some prior samples; never the probe's)."""

    def decode(self, z):
        out = super().decode(z)
        return torch.where((z.abs().amax(dim=1) > 2.5)[:, None], torch.full_like(out, float("nan")), out)


@pytest.mark.parametrize("model, fragment", [
    (NaNForSomeImages(), r"epoch 3: the encoder's mu is NaN or infinite for \d+ of \d+ test images"),
    (NaNForFarCodes(), r"epoch 3: the decoder's output is NaN or infinite for \d+ of \d+ prior samples"),
])
def test_a_model_that_outputs_nan_for_some_inputs_is_one_line(tmp_path, data, clf, model, fragment):
    torch.manual_seed(0)
    with pytest.raises(NonFiniteError, match=fragment) as info:
        evaluate_model(model, tmp_path / "ext", 3, decoder="logits", settings=FAST, train_size=None, data=data,
                       classifier=clf, **QUIET)
    assert "nothing was published" in str(info.value) and "\n" not in str(info.value)
    assert _published(tmp_path / "ext") == [] and not (tmp_path / "ext" / "config.json").exists()


def test_report_without_history_says_why_q3_lacks_the_losses(evaluated_run):
    (Path(evaluated_run) / "history.csv").unlink()
    res = CliRunner().invoke(cli, ["report", str(evaluated_run)])
    assert res.exit_code == 0, res.output
    assert "history.csv is missing: the report's Q3 leaves out the training losses" in res.stderr
    md = (Path(evaluated_run) / "report.md").read_text()
    assert "No training history: history.csv is missing from this run" in md


def test_evaluation_records_checkpoint_hashes_and_refuses_a_replaced_checkpoint(evaluated_run, data, clf):
    run = Run(evaluated_run)
    recorded = run.read_evaluation().settings[CHECKPOINT_SHA256]
    assert recorded == {str(e): file_sha256(p) for e, p in run.checkpoints().items()}
    state = read_state(run.checkpoint_path(2))  # the same epoch, other weights: a retrained or edited file
    state["model_state"] = {k: v + 0.01 if v.is_floating_point() else v for k, v in state["model_state"].items()}
    save_state(run.checkpoint_path(2), state)
    fresh = Run(evaluated_run)
    with pytest.raises(RunDirError, match=r"checkpoint epoch_002.pt of .* changed since it was evaluated"):
        fresh.read_evaluation()
    assert "epoch_002.pt" in fresh.evaluation_problem()
    for command in (["report", str(evaluated_run)], ["compare", str(evaluated_run)]):
        assert_one_line_error(CliRunner().invoke(cli, command), "changed since it was evaluated")
    # check evaluates again what changed (claims need it); then everything reads again
    from vaediag.claims import check_claims

    table = check_claims([{"text": "separated", "kind": "metric", "column": "silhouette", "operator": ">",
                           "value": -1, "epoch": 2}], evaluated_run, log=lambda *_: None,
                         eval_settings=EVALUATED)
    assert len(table) == 1
    again = Run(evaluated_run).read_evaluation()
    assert again.settings[CHECKPOINT_SHA256]["2"] == file_sha256(run.checkpoint_path(2))
    assert Run(evaluated_run).evaluation_problem() is None


def test_a_missing_checkpoint_is_no_change(evaluated_run):
    Run(evaluated_run).checkpoint_path(1).unlink()  # the results still describe the model the file held
    assert Run(evaluated_run).read_evaluation().epochs == [1, 2]


def test_evaluation_json_holds_the_hashes_as_text_keys(evaluated_run):
    summary = json.loads((Path(evaluated_run) / "evaluation.json").read_text())
    assert sorted(summary["settings"][CHECKPOINT_SHA256]) == ["1", "2"]


def test_eval_settings_validate_types():
    with pytest.raises(ConfigError, match="settings: grid must be an integer, got 2.5"):
        EvalSettings(grid=2.5).validate()
    assert EvalSettings.coerce({"grid_span": 2}).grid_span == 2
