"""The CUDA path: training, resume, likelihood and the classifier on a GPU agree with the CPU.

These tests need a CUDA GPU and skip without one (CI has none); they ran on the device machine lent to
this project (see README "GPU"). Everything else about training and evaluation is tested on the CPU.
"""

from __future__ import annotations

import pytest
import torch

from vaediag.models.checkpoint import load_checkpoint, read_state
from vaediag.models.train_config import TrainConfig, VAEConfig
from vaediag.datasets.data import MNISTData
from vaediag.models.likelihood import evaluate_elbo, iwae_nll
from vaediag.store.rundir import Run
from vaediag.train import train

from helpers import synthetic_digits

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
QUIET = dict(log=lambda *_: None, progress=False)


@pytest.mark.parametrize("model", ["mlp", "conv"])
def test_training_on_cuda_learns_and_checkpoints_load_on_cpu(tmp_path, model):
    data = synthetic_digits(512, 128)
    cfg = TrainConfig(model=VAEConfig(model), epochs=3, checkpoints=(1, 3), batch_size=64, device="cuda")
    history = train(cfg, tmp_path / "run", data=data, **QUIET)
    assert Run(tmp_path / "run").read_config()["device"].startswith("cuda")
    assert history["test_loss"].iloc[-1] < history["test_loss"].iloc[0]
    ck = load_checkpoint(tmp_path / "run" / "checkpoints" / "epoch_003.pt", device="cpu")
    x = MNISTData.to_float(data.test_images)
    cpu = evaluate_elbo(ck.model, x, seed=0)["loss"]
    gpu = evaluate_elbo(ck.model.to("cuda"), x.cuda(), seed=0)["loss"]
    assert gpu == pytest.approx(cpu, rel=0.02)  # different noise streams per device, same model


def test_resume_on_cuda_matches_uninterrupted_run(tmp_path):
    data = synthetic_digits(512, 128)
    cfg = TrainConfig(model=VAEConfig("mlp"), epochs=4, checkpoints=(2, 4), batch_size=64, device="cuda")
    train(cfg, tmp_path / "full", data=data, **QUIET)
    short = TrainConfig(model=VAEConfig("mlp"), epochs=2, checkpoints=(2,), batch_size=64, device="cuda")
    train(short, tmp_path / "cut", data=data, **QUIET)
    train(cfg, tmp_path / "cut", data=data, resume=True, **QUIET)
    a = read_state(tmp_path / "full" / "checkpoints" / "last.pt")["model_state"]
    b = read_state(tmp_path / "cut" / "checkpoints" / "last.pt")["model_state"]
    assert all(torch.allclose(a[k], b[k], atol=1e-5) for k in a)


def test_iwae_on_cuda_is_a_tighter_bound(tmp_path):
    data = synthetic_digits(512, 128)
    cfg = TrainConfig(model=VAEConfig("mlp"), epochs=2, checkpoints=(2,), batch_size=64, device="cuda")
    train(cfg, tmp_path / "run", data=data, **QUIET)
    model = load_checkpoint(tmp_path / "run" / "checkpoints" / "epoch_002.pt", device="cuda").model
    x = MNISTData.to_float(data.test_images).cuda()
    elbo = evaluate_elbo(model, x, seed=0)["loss"]
    assert iwae_nll(model, x, k=64, seed=1) < elbo


def test_classifier_on_cuda_matches_cpu():
    from vaediag.datasets.classifier import classify, load_classifier

    images = synthetic_digits(64, 64).test_images
    cpu = classify(load_classifier("cpu"), images).probs
    gpu = classify(load_classifier("cuda"), images.cuda()).probs
    assert abs(torch.as_tensor(cpu) - torch.as_tensor(gpu).cpu()).max() < 1e-3
