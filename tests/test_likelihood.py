"""Tests of ``vaediag.models.likelihood``: the IWAE bound against an independent computation with the same noise.

The model is a tiny MLP VAE trained for two epochs on synthetic digits (the bounds hold for any model;
a trained one gives realistic magnitudes).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vaediag.datasets.data import MNISTData
from vaediag.models.likelihood import evaluate_elbo, iwae_nll
from vaediag.models.config import VAEConfig
from vaediag.models.nets import build_model
from vaediag.train import make_optimizer, train_one_epoch

from helpers import same_noise_terms, synthetic_digits


@pytest.fixture(scope="module")
def model_and_x():
    data = synthetic_digits()
    torch.manual_seed(0)
    model = build_model(VAEConfig(model="mlp"))
    optimizer = make_optimizer(model, 1e-3)
    gen = torch.Generator().manual_seed(0)
    for _ in range(2):
        train_one_epoch(model, optimizer, MNISTData.to_float(data.train_images), 64, gen)
    return model.eval(), MNISTData.to_float(data.test_images)


def test_iwae_k1_is_the_elbo_with_the_same_noise(model_and_x):
    """K = 1: -log w of one draw, i.e. the Monte-Carlo ELBO; with evaluate_elbo's noise (same seed, same
    draw order) it equals evaluate_elbo's reconstruction term plus the sampled KL, up to float error."""
    model, x = model_and_x
    recon, kl_sampled = same_noise_terms(model, x, 1, seed=3)
    elbo = evaluate_elbo(model, x, seed=3)
    assert elbo["recon"] == pytest.approx(float(recon.mean()), abs=1e-3)
    assert iwae_nll(model, x, 1, seed=3) == pytest.approx(elbo["recon"] + float(kl_sampled.mean()), abs=1e-3)


@pytest.mark.parametrize("k", [1, 20])
def test_iwae_is_minus_log_mean_weight(model_and_x, k):
    """For any K: -log (1/K) sum_k w_k with the log weights recomputed independently, up to float error;
    and never above the mean of -log w_k over the same draws (Jensen), exactly."""
    model, x = model_and_x
    recon, kl_sampled = same_noise_terms(model, x, k, seed=3)
    log_w = -(recon + kl_sampled)
    expected = -float((torch.logsumexp(log_w, 0) - math.log(k)).mean())
    assert iwae_nll(model, x, k, seed=3) == pytest.approx(expected, abs=1e-4)
    assert expected <= -float(log_w.mean())


def test_iwae_decreases_with_k(model_and_x):
    """E[IWAE_K] is non-increasing in K; averaged over seeds, K = 1, 4, 16, 64 come out strictly decreasing."""
    model, x = model_and_x
    means = [np.mean([iwae_nll(model, x, k, seed) for seed in range(4)]) for k in (1, 4, 16, 64)]
    assert all(later < earlier for earlier, later in zip(means, means[1:])), means
