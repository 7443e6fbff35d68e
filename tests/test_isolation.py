"""Diagnosing from inside a training loop changes nothing the training sees: a loop that calls
``evaluate_model`` trains bit-identically to the same loop without the calls (random generators, modes, weights)."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

import vaediag
from vaediag.evaluate.settings import EvalSettings
from vaediag.models.isolation import untouched

from classic_vae import VAE, loss_function
from eval_fixtures import one_thread  # noqa: F401  (autouse)
from helpers import synthetic_digits

SMALL = EvalSettings(samples=200, grid=3, iwae=2)
TESTS = Path(__file__).parent


class DropoutVAE(VAE):
    """The classic VAE with a dropout layer and a BatchNorm the user froze in eval mode: both must come back
    exactly as they were (the BatchNorm stays in eval mode inside a model in train mode)."""

    def __init__(self):
        super().__init__()
        self.drop = nn.Dropout(0.2)
        self.norm = nn.BatchNorm1d(400)

    def encode(self, x):
        h1 = self.norm(self.drop(torch.relu(self.fc1(x))))
        return self.fc21(h1), self.fc22(h1)


def _train(run_dir: Path | None, epochs: int = 3, evaluate_at=(1, 3)) -> tuple[dict, tuple]:
    """The user's loop (its own shuffling, dropout and reparameterisation noise, numpy and `random` draws); with
    ``run_dir``, evaluate_model at ``evaluate_at`` with the shipped classifier (built inside the call).
    Returns the final weights and the next draws of every generator."""
    data = synthetic_digits(n_train=192, n_test=64)
    x = data.train_images.float().div(255).view(-1, 784)
    torch.manual_seed(123)
    np.random.seed(7)
    random.seed(11)
    model = DropoutVAE()
    model.norm.eval()  # frozen by the user
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for epoch in range(1, epochs + 1):
        model.train()
        model.norm.eval()
        order = torch.randperm(len(x))
        np.random.rand()
        random.random()
        for i in range(0, len(x), 64):
            xb = x[order[i : i + 64]]
            recon, mu, logvar = model(xb)
            loss = loss_function(recon, xb, mu, logvar)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if run_dir is not None and epoch in evaluate_at:
            vaediag.evaluate_model(model, run_dir, epoch, data=data, settings=SMALL, log=lambda *_: None)
            assert model.training and not model.norm.training and model.drop.training
    draws = (torch.rand(4), np.random.rand(3), random.random())
    return {k: v.clone() for k, v in model.state_dict().items()}, draws


def test_a_loop_with_evaluate_model_trains_bit_identically(tmp_path):
    plain, plain_draws = _train(None)
    diagnosed, diagnosed_draws = _train(tmp_path / "run")
    assert vaediag.Run(tmp_path / "run").epochs == [1, 3]
    assert plain.keys() == diagnosed.keys()
    for name in plain:
        assert torch.equal(plain[name], diagnosed[name]), name  # bit for bit
    assert torch.equal(plain_draws[0], diagnosed_draws[0])
    assert np.array_equal(plain_draws[1], diagnosed_draws[1]) and plain_draws[2] == diagnosed_draws[2]


def test_the_guard_restores_every_generator_and_each_module_mode_even_after_an_error():
    model = DropoutVAE()
    model.train()
    model.norm.eval()
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    expected = (torch.rand(2), np.random.rand(), random.random())
    torch.manual_seed(1)
    np.random.seed(1)
    random.seed(1)
    with pytest.raises(RuntimeError):
        with untouched(model):
            torch.rand(100)
            np.random.rand(100)
            random.random()
            model.eval()
            torch.set_grad_enabled(False)
            raise RuntimeError("inside the evaluation")
    assert torch.is_grad_enabled()
    assert model.training and model.drop.training and not model.norm.training
    assert torch.equal(torch.rand(2), expected[0]) and np.random.rand() == expected[1]
    assert random.random() == expected[2]


def test_building_the_judge_draws_nothing_from_the_global_generator():
    from vaediag.datasets.classifier import load_classifier

    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    load_classifier("cpu")
    assert torch.equal(torch.rand(3), expected)


def test_check_model_leaves_an_encoder_that_draws_noise_without_effect():
    class NoisyEncoder(VAE):
        def encode(self, x):
            mu, logvar = super().encode(x)
            return mu + 0.0 * torch.randn_like(mu), logvar

    model = NoisyEncoder()
    torch.manual_seed(3)
    expected = torch.rand(2)
    torch.manual_seed(3)
    vaediag.check_model(model)
    assert torch.equal(torch.rand(2), expected)


def test_the_first_use_of_vaediag_evaluate_model_draws_nothing():
    """`vaediag.evaluate_model` is imported on first use; a library it pulls in draws from `random` at import
    (measured: rich, through sklearn). The attribute access leaves every generator as it was."""
    code = textwrap.dedent("""
        import random, numpy as np, torch, vaediag
        random.seed(4); np.random.seed(4); torch.manual_seed(4)
        {access}
        print(random.random(), np.random.rand(), float(torch.rand(1)))
    """)
    outputs = []
    for access in ("vaediag.evaluate_model", "pass"):
        done = subprocess.run([sys.executable, "-c", code.format(access=access)], capture_output=True, text=True,
                              cwd=TESTS, timeout=300)
        assert done.returncode == 0, done.stderr
        outputs.append(done.stdout.strip())
    assert outputs[0] == outputs[1]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_generators_are_restored(tmp_path):
    data = synthetic_digits()
    torch.manual_seed(9)
    model = VAE().cuda()
    expected = torch.rand(3, device="cuda")
    torch.manual_seed(9)
    model = VAE().cuda()
    vaediag.evaluate_model(model, tmp_path / "run", 1, data=data, settings=SMALL, log=lambda *_: None)
    assert torch.equal(torch.rand(3, device="cuda"), expected)
    assert next(model.parameters()).is_cuda and model.training
