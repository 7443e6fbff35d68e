"""Likelihood bounds of a trained VAE on a set of images, shared by training and evaluation.

- :func:`evaluate_elbo`: the negative ELBO and its parts (nats per sample), with seeded posterior noise;
  lower is better. ``loss = recon + beta * kl``.
- :func:`iwae_nll`: the importance-weighted bound on -log p(x) (Burda et al. 2016); lower is better and
  tighter than the ELBO (K = 1) as K grows.
- :func:`train_eval_indices`: the fixed training subset (as many digits as the test set) that the training
  ELBO in eval mode (history.csv ``train_eval_*``) and the training IWAE bound are measured on, so that
  train and test numbers are measured the same way on sets of the same size.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from vaediag.models.nets import VAE, reconstruction_nll

ELBO_BATCH = 2000  # images per forward pass
IWAE_DECODES = 8192  # latent codes decoded per IWAE batch (images per batch = IWAE_DECODES // K)
TRAIN_SUBSET_STREAM = 0x7E5A  # the subset's own random stream: numpy, so no torch generator is touched


def train_eval_indices(n_train: int, size: int, seed: int) -> np.ndarray:
    """Indices (ascending, int64) of the fixed training subset: ``min(size, n_train)`` distinct digits drawn
    with ``np.random.default_rng([seed, TRAIN_SUBSET_STREAM])``.

    Chosen once per run from the run's seed alone and from numpy's generator, never from torch's, so that
    measuring it leaves training bit-identical; the same indices for training and for every evaluation.
    """
    rng = np.random.default_rng([int(seed), TRAIN_SUBSET_STREAM])
    return np.sort(rng.choice(int(n_train), size=min(int(size), int(n_train)), replace=False)).astype(np.int64)


@torch.inference_mode()
def evaluate_elbo(model: VAE, x: torch.Tensor, seed: int, batch_size: int = ELBO_BATCH) -> dict[str, float]:
    """Mean per-sample ``loss`` / ``recon`` / ``kl`` (nats) of ``model`` on ``x`` with seeded posterior noise."""
    was_training = model.training
    model.eval()
    gen = torch.Generator(device=x.device).manual_seed(seed)
    sums = torch.zeros(3, dtype=torch.float64, device=x.device)
    for start in range(0, len(x), batch_size):
        xb = x[start : start + batch_size]
        out = model(xb, generator=gen)
        sums += torch.stack([out.loss, out.recon, out.kl]).double() * len(xb)
    model.train(was_training)
    loss, recon, kl = (sums / len(x)).tolist()
    return {"loss": loss, "recon": recon, "kl": kl}


@torch.inference_mode()
def iwae_nll(model: VAE, x: torch.Tensor, k: int, seed: int) -> float:
    """Importance-weighted bound on -log p(x), nats per sample, mean over ``x``.

    -log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x). An upper bound on the true NLL that
    tightens as K grows; for K = 1 its expectation is the negative ELBO with beta = 1.
    """
    gen = torch.Generator(device=x.device).manual_seed(seed)
    per_batch = max(1, IWAE_DECODES // k)
    log2pi = math.log(2 * math.pi)
    total = 0.0
    for start in range(0, len(x), per_batch):
        xb = x[start : start + per_batch]
        n = len(xb)
        mu, logvar = model.encode(xb)
        eps = torch.randn((k, *mu.shape), generator=gen, device=x.device, dtype=mu.dtype)
        z = mu + eps * torch.exp(0.5 * logvar)
        logits = model.decode_logits(z.reshape(k * n, -1))
        log_px = -reconstruction_nll(logits, xb.repeat(k, 1, 1, 1)).view(k, n)
        log_pz = -0.5 * (z.pow(2) + log2pi).sum(-1)
        log_qz = -0.5 * (eps.pow(2) + log2pi + logvar).sum(-1)
        log_w = (log_px + log_pz - log_qz).double()
        total += float((torch.logsumexp(log_w, 0) - math.log(k)).sum())
    return -total / len(x)
