"""Checkpoint schema: files that pass ``torch.load(weights_only=True)`` but hold the wrong contents are a
one-line CheckpointError before anything in them is used (the CLI: exit 2, nothing touched)."""

from __future__ import annotations

import shutil
import time

import pytest
import torch
from click.testing import CliRunner

from vaediag import load_checkpoint
from vaediag.models.checkpoint import read_state
from vaediag.cli import cli
from vaediag.models.train_config import TrainConfig
from vaediag.errors import CheckpointError
from vaediag.train import train

from helpers import assert_one_line_error, synthetic_digits

CFG = dict(epochs=1, checkpoints=(1,), batch_size=64, device="cpu")


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    run = tmp_path_factory.mktemp("ckpt") / "run"
    train(TrainConfig(**CFG), run, data=synthetic_digits(), log=lambda *_: None, progress=False)
    return run


@pytest.fixture
def run(trained, tmp_path):
    shutil.copytree(trained, tmp_path / "run")
    return tmp_path / "run"


def damage(state: dict, what: str) -> dict:
    if what == "epoch":
        state["epoch"] = "abc"
    elif what == "model_config":
        state["model_config"] = "mlp"
    elif what == "optimizer_state":
        del state["optimizer_state"]
    elif what == "train_config":
        state["train_config"] = ["mlp", 2]
    elif what == "rng_type":
        state["rng"]["generator"] = "seed 0"
    elif what == "rng_state":
        state["rng"]["generator"] = torch.zeros(7, dtype=torch.uint8)
    elif what == "latent_dim":
        state["model_config"]["latent_dim"] = 10**12
    elif what == "history":
        state["history"] = state["history"] * 2
    elif what == "model_state":
        state["model_state"]["mu_head.weight"] = torch.zeros(3, 3)
    return state


CASES = [
    ("epoch", "epoch 'abc' is not an integer >= 1"),
    ("model_config", "model_config is not a dictionary"),
    ("optimizer_state", "lacks 'optimizer_state'"),
    ("train_config", "train_config is not a dictionary"),
    ("rng_type", "rng does not hold the generator and torch_cpu states"),
    ("rng_state", "cannot resume from"),
    ("latent_dim", "model_config: latent dim 1000000000000 is larger than 12544"),
    ("history", "history does not hold one row for each epoch 1 ... 1"),
    ("model_state", "model_state does not fit its model_config (mlp, latent 2): mu_head.weight"),
]


@pytest.mark.parametrize("what, fragment", CASES)
def test_resume_from_a_damaged_last_pt_is_one_line_and_touches_nothing(run, what, fragment, monkeypatch):
    from vaediag import train as train_mod

    monkeypatch.setattr(train_mod, "load_dataset", lambda *a, **k: synthetic_digits())  # never the real MNIST
    last = run / "checkpoints" / "last.pt"
    torch.save(damage(read_state(last), what), last)
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
    res = CliRunner().invoke(cli, ["train", "--out", run, "--resume", "--epochs", 2])
    assert_one_line_error(res, fragment)
    assert str(last) in res.stderr
    assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before


@pytest.mark.parametrize("what", ["epoch", "model_config", "train_config", "latent_dim", "model_state"])
def test_load_checkpoint_validates_before_building(run, what):
    path = run / "checkpoints" / "epoch_001.pt"
    torch.save(damage(read_state(path), what), path)
    start = time.perf_counter()
    with pytest.raises(CheckpointError, match="is damaged"):
        load_checkpoint(path)
    assert time.perf_counter() - start < 5  # latent_dim 10**12 fails before allocating anything


def test_evaluation_needs_no_optimizer_state(run):
    path = run / "checkpoints" / "epoch_001.pt"
    torch.save(damage(read_state(path), "optimizer_state"), path)
    assert load_checkpoint(path).epoch == 1
    with pytest.raises(CheckpointError, match="lacks 'optimizer_state'"):
        read_state(path, resumable=True)


class Payload:  # not an allowed global for weights_only
    pass


def test_corrupt_checkpoint_errors_are_short_and_give_no_weights_only_advice(run):
    path = run / "checkpoints" / "last.pt"
    torch.save({"format": "vaediag-checkpoint-v1", "x": Payload()}, path)
    with pytest.raises(CheckpointError) as info:
        read_state(path)
    msg = str(info.value)
    assert msg.endswith("it refers to test_checkpoint.Payload, which a checkpoint may not hold")
    assert "weights_only" not in msg and "\n" not in msg

    path.write_bytes(b"\x00garbage")
    with pytest.raises(CheckpointError) as info:
        read_state(path)
    assert "weights_only" not in str(info.value) and len(str(info.value)) < len(str(path)) + 120

    good = read_state(run / "checkpoints" / "epoch_001.pt")
    torch.save(good, path)
    path.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(CheckpointError) as info:
        read_state(path)
    assert str(info.value).endswith("(truncated or corrupt?): PytorchStreamReader failed reading zip archive: "
                                    "failed finding central directory")
