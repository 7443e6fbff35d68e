"""The judges' training recipe: augmentations, auxiliary VAEs, junk images, calibration, and the report.

``vaediag classifier train --dataset D`` runs :func:`train_classifier` with ``TRAIN_RECIPES[D]``:

1. **Split.** ``calibration_size`` training images (seeded; at most a fifth) are held out for calibration; the
   rest are fitted.
2. **Auxiliary VAEs.** Small MLP VAEs (:class:`AuxVAE`, one per ``aux_vaes`` entry: hidden widths and latent
   size) train on ``aux_train_size`` fitted images each (Adam, learning rates ``aux_lrs`` in turn, batch 128);
   a copy is kept after each of ``aux_steps`` optimizer steps, so the copies span very blurry (early) to
   fairly sharp (late) reconstructions, and many different renderings of the same digit.
3. **Classifier.** AdamW + one-cycle schedule, ``epochs`` passes over the fitted images. In every batch,
   ``recon_share`` of the images are replaced by a reconstruction by one auxiliary VAE copy (drawn per batch;
   z = mu, or a posterior sample for ``recon_sample_share`` of them), ``degrade_share`` are degraded by
   :func:`~vaediag.datasets.classifier_augment.random_photometric` (blur up to ``max_sigma`` px, gamma, dimmer peak,
   grey background up to ``max_grey``), the rest stay clean; all move by
   :func:`~vaediag.datasets.classifier_augment.random_warp` (with ``warp_share`` < 1: all by whole pixels, that share
   warped on top) and mirror with ``hflip``. Labels come from the source image. ``junk_share`` x batch junk
   images (:func:`~vaediag.datasets.classifier_augment.junk_images`) are added with a uniform target over the classes,
   so that images showing nothing get flat probabilities.
4. **Calibration.** The held-out images, prepared the same way (without junk, from a generator of their own),
   fix the temperature T that minimises the negative log-likelihood of softmax(logits / T); the test set is never used.
5. **Report** (:mod:`vaediag.datasets.judge_checks`): clean test accuracy, the robustness grid, the constructed images'
   top probabilities, and an independent VAE's reconstructions vs its latent 5-NN accuracy.

Seeded: with the same settings, data and torch build on one CPU thread, the weights are byte-identical.
"""

from __future__ import annotations

import copy
import math
import time
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from .classifier import (BATCH_SIZE, DROPOUT, UNREADABLE_BELOW, DigitClassifier,
                         evaluate_classifier, n_parameters, time_inference)
from .classifier_augment import junk_images, random_hflip, random_photometric, random_shift, random_warp
from .data import MNISTData
from .degrade import degrade
from vaediag.devices import resolve_device
from torch import nn

__all__ = ["TRAIN_DEFAULTS", "TRAIN_RECIPES", "train_classifier", "fit_temperature", "random_shift",
           "random_hflip"]

Log = Callable[[str], Any]

# Training settings shared by :func:`train_classifier` and ``vaediag classifier train`` (MNIST's recipe).
TRAIN_DEFAULTS: dict[str, Any] = {
    "epochs": 20,
    "batch_size": 128,
    "lr": 4e-3,  # peak of the one-cycle schedule
    "weight_decay": 1e-4,
    "dropout": DROPOUT,
    "hflip": False,  # augmentation: mirror half the images left-right (not for digits)
    "channels": (32, 64, 128),  # wider than the random-init default (CHANNELS): VAE reconstructions need it
    "feature_dim": 256,
    "seed": 0,
    # random_warp: rotation (degrees), scale, shear, translation (px), elastic displacement (px). With a warp_share
    # below 1, every image first moves by whole pixels (random_shift, up to max_shift), then warp_share are warped
    "warp": {"rotate": 10.0, "scale": 0.1, "shear": 0.15, "shift": 2.0, "elastic": 1.0},
    "warp_share": 1.0,
    "max_shift": 2,
    "degrade_share": 0.25,  # of each batch: random_photometric
    "max_sigma": 2.5,
    "max_grey": 0.15,
    "recon_share": 0.5,  # of each batch: reconstructions by an auxiliary VAE
    "recon_sample_share": 0.25,  # of those: decoded from a posterior sample instead of mu
    "junk_share": 0.08,  # junk images added per batch, relative to the batch size (uniform target)
    # auxiliary VAEs: (hidden widths..., latent size) of each MLP VAE; copies kept after each of aux_steps steps
    "aux_vaes": ((400, 4), (400, 8), (400, 12), (400, 16), (400, 24), (400, 32), (400, 48), (400, 64),
                 (256, 6), (256, 10), (256, 20), (256, 40), (512, 8), (512, 16), (512, 32),
                 (512, 256, 6), (512, 256, 16), (512, 256, 32), (300, 10), (300, 28)),
    "aux_lrs": (1e-3, 5e-4, 2e-3),  # Adam learning rate of the i-th auxiliary VAE: aux_lrs[i % len(aux_lrs)]
    "aux_steps": (100, 150, 200, 250, 300, 400, 600),  # early copies: the blurry transitional renderings
    "aux_train_size": 20_000,
    "calibration_size": 5_000,
    # CPU threads while training (restored afterwards). One: with batches of 128 on a small net, every
    # operator is too short to split, and a second thread that the OS deschedules on a shared machine
    # stalls each step (measured here: 2 threads 3-8x slower than 1 under load).
    "threads": 1,
}

# The recipe of each dataset's judge (``vaediag classifier train --dataset``). Clothes are harder than digits and
# lose more to augmentation: fewer reconstructions and degraded images, gentler moves (whole-pixel shifts for all,
# a warp for 30 %), left-right mirrored images (a mirrored shirt is still a shirt), more dropout, and more junk
# images (with 8 %, one smooth noise blob of the 200 constructed ones still reached 0.506: bags are blobs).
TRAIN_RECIPES: dict[str, dict[str, Any]] = {
    "mnist": TRAIN_DEFAULTS,
    "fashion-mnist": {**TRAIN_DEFAULTS, "epochs": 20, "dropout": 0.3, "hflip": True, "recon_share": 0.25,
                      "degrade_share": 0.2, "max_shift": 1, "warp_share": 0.3, "junk_share": 0.12,
                      "warp": {"rotate": 5.0, "scale": 0.05, "shear": 0.05, "shift": 1.0, "elastic": 0.5}},
}


def train_classifier(data, *, device: str | torch.device = "cpu", log: Log = print, report: bool = True,
                     **settings: Any) -> tuple[DigitClassifier, dict[str, Any]]:
    """Train a judge on ``data`` (a :class:`vaediag.datasets.data.MNISTData`) by the recipe of the module docstring;
    ``settings`` override :data:`TRAIN_DEFAULTS` (unknown names are a TypeError).

    The test set is only scored (logged after each epoch, reported at the end), never used to pick a model
    or to calibrate: the last epoch is the result. ``threads`` (None: leave torch's setting) applies while
    training only. ``report=False`` skips the slower parts of the report (robustness grid, VAE checks).

    Returns the trained (unfused, eval-mode) model, its ``temperature`` set, and an info dict for
    :func:`vaediag.datasets.classifier.save_classifier`.
    """
    unknown = set(settings) - set(TRAIN_DEFAULTS)
    if unknown:
        raise TypeError(f"unknown training settings: {', '.join(sorted(unknown))}")
    cfg = {**TRAIN_DEFAULTS, **settings}
    if cfg["epochs"] < 1:
        raise ValueError(f"epochs must be >= 1, got {cfg['epochs']}")
    dev = resolve_device(device) if isinstance(device, str) else torch.device(device)
    recorded = {k: (list(v) if isinstance(v, tuple) else v) for k, v in cfg.items()}
    recorded.update(optimizer="AdamW + OneCycleLR", device=str(dev), hflip=bool(cfg["hflip"]))
    default_threads = torch.get_num_threads()
    if cfg["threads"] is not None:
        torch.set_num_threads(cfg["threads"])
    try:
        start = time.perf_counter()
        fit_idx, cal_idx = _split(data.n_train, min(cfg["calibration_size"], data.n_train // 5), cfg["seed"])
        aux = _train_aux_vaes(data.train_images[fit_idx], cfg, log)
        aux_seconds = time.perf_counter() - start
        model, history = _fit(data, fit_idx, aux, dev, cfg, log)
        calibration = _calibrate(model, data, cal_idx, aux, cfg)
        train_seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(default_threads)
    model.temperature = calibration["temperature"]
    log(f"temperature {model.temperature:.4f} (held-out degraded NLL {calibration['nll_before']:.4f} -> "
        f"{calibration['nll_after']:.4f})")
    info = {"n_train": len(fit_idx), "n_calibration": len(cal_idx), "n_test": data.n_test,
            "parameters": n_parameters(model), "train": recorded, "history": history, "calibration": calibration,
            "train_seconds": round(train_seconds, 1), "aux_vae_seconds": round(aux_seconds, 1),
            "torch_version": torch.__version__}
    info.update(_report(model, data, dev, report, log))
    return model, info


def _split(n: int, calibration_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Sorted (fitted, held-out) training indices; ``calibration_size`` of them held out, seeded."""
    if not 0 < calibration_size < n:
        raise ValueError(f"calibration_size must be between 1 and {n - 1}, got {calibration_size}")
    order = torch.randperm(n, generator=torch.Generator().manual_seed(seed + 7919))
    return order[calibration_size:].sort().values, order[:calibration_size].sort().values


# ------------------------------------------------------------------------------------------ auxiliary VAEs


class AuxVAE(nn.Module):
    """A small MLP VAE with a Bernoulli decoder: 784 -> ``hidden`` (ReLU) -> (mu, logvar) of ``latent`` and back
    (mirrored hidden widths, sigmoid output). ``loss``: summed BCE + KL per image, averaged over the batch."""

    def __init__(self, hidden: tuple[int, ...], latent: int):
        super().__init__()
        widths = (784, *hidden)
        enc = [m for a, b in zip(widths, widths[1:]) for m in (nn.Linear(a, b), nn.ReLU())]
        dec = [m for a, b in zip((latent, *hidden[::-1]), hidden[::-1]) for m in (nn.Linear(a, b), nn.ReLU())]
        self.encoder = nn.Sequential(nn.Flatten(), *enc, nn.Linear(widths[-1], 2 * latent))
        self.decoder = nn.Sequential(*dec, nn.Linear(hidden[0], 784))

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        mu, logvar = self.encoder(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.decoder(z)).view(-1, 1, 28, 28)

    def loss(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        mu, logvar = self.encode(x)
        z = mu + torch.randn(mu.shape, generator=generator) * torch.exp(0.5 * logvar)
        recon = F.binary_cross_entropy_with_logits(self.decoder(z), x.flatten(1), reduction="sum")
        return (recon - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())) / len(x)


def _train_aux_vaes(images: torch.Tensor, cfg: dict[str, Any], log: Log) -> list[AuxVAE]:
    """Copies of the ``aux_vaes`` after each of ``aux_steps`` steps, on CPU, eval mode, in training order."""
    steps = sorted(cfg["aux_steps"])
    snapshots: list[AuxVAE] = []
    if cfg["recon_share"] <= 0 or not steps or not cfg["aux_vaes"]:
        return snapshots
    images = images.cpu()
    for i, spec in enumerate(cfg["aux_vaes"]):
        seed = cfg["seed"] * 1000 + 17 * (i + 1)
        generator = torch.Generator().manual_seed(seed)
        pick = torch.randperm(len(images), generator=generator)[: cfg["aux_train_size"]]
        x = MNISTData.to_float(images[pick])
        torch.manual_seed(seed)
        vae = AuxVAE(tuple(int(w) for w in spec[:-1]), int(spec[-1]))
        optimizer = torch.optim.Adam(vae.parameters(), lr=cfg["aux_lrs"][i % len(cfg["aux_lrs"])])
        step, order = 0, torch.zeros(0, dtype=torch.int64)
        while step < steps[-1]:
            if len(order) < 128:
                order = torch.randperm(len(x), generator=generator)
            batch, order = order[:128], order[128:]
            loss = vae.loss(x[batch], generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            step += 1
            if step in steps:
                snapshots.append(copy.deepcopy(vae).eval().requires_grad_(False))
                log(f"auxiliary VAE {i + 1}/{len(cfg['aux_vaes'])} {list(spec)}: step {step}, loss {loss.item():.1f}")
    return snapshots


@torch.no_grad()
def _reconstruct(vae: AuxVAE, x: torch.Tensor, sample_share: float, generator: torch.Generator) -> torch.Tensor:
    """Bernoulli means decoded from z = mu, or from a posterior sample for the last ``sample_share`` of ``x``."""
    mu, logvar = vae.encode(x.cpu())
    sample = (torch.arange(len(x)) >= len(x) - round(sample_share * len(x))).float()[:, None]
    z = mu + sample * torch.randn(mu.shape, generator=generator) * torch.exp(0.5 * logvar)
    return vae.decode(z).to(x.device)


# ------------------------------------------------------------------------------------------ batches


def _prepare(images: torch.Tensor, aux: list[AuxVAE], cfg: dict[str, Any],
             generator: torch.Generator) -> torch.Tensor:
    """The float training inputs [B,1,28,28] made from uint8 ``images`` [B,28,28] (roles by position:
    reconstructions first, then degraded, then clean; the batch order is already random)."""
    b = len(images)
    n_recon = round(cfg["recon_share"] * b) if aux else 0
    n_degrade = round(cfg["degrade_share"] * b)
    if cfg["warp_share"] < 1:  # whole-pixel moves for all, a warp on top for warp_share of them
        images = random_shift(images, cfg["max_shift"], generator)
    x = MNISTData.to_float(images)
    if cfg["hflip"]:
        x = random_hflip(x, generator)
    if n_recon:
        vae = aux[int(torch.randint(len(aux), (1,), generator=generator))]
        x[:n_recon] = _reconstruct(vae, x[:n_recon], cfg["recon_sample_share"], generator)
    if cfg["warp_share"] >= 1:
        x = random_warp(x, generator, **cfg["warp"])
    elif cfg["warp_share"] > 0:
        warped = (torch.rand(b, generator=generator) < cfg["warp_share"]).view(b, 1, 1, 1).to(x.device)
        x = torch.where(warped, random_warp(x, generator, **cfg["warp"]), x)
    part = slice(n_recon, n_recon + n_degrade)
    x[part] = random_photometric(x[part], generator, max_sigma=cfg["max_sigma"], max_grey=cfg["max_grey"])
    return x.clamp_(0, 1)


def _loss(model: DigitClassifier, x: torch.Tensor, y: torch.Tensor, junk: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """Cross-entropy of the labelled images plus, for the junk images, cross-entropy to the uniform distribution;
    averaged over all images. Also returns the labelled images' logits."""
    logits = model(torch.cat([x, junk]).contiguous(memory_format=torch.channels_last))
    labelled, rest = logits[: len(x)], logits[len(x) :]
    total = F.cross_entropy(labelled, y, reduction="sum") - F.log_softmax(rest, 1).mean(1).sum()
    return total / len(logits), labelled


def _fit(data, fit_idx: torch.Tensor, aux: list[AuxVAE], dev: torch.device, cfg: dict[str, Any],
         log: Log) -> tuple[DigitClassifier, list[dict]]:
    torch.manual_seed(cfg["seed"])
    generator = torch.Generator().manual_seed(cfg["seed"])
    model = DigitClassifier(tuple(cfg["channels"]), cfg["feature_dim"], dropout=cfg["dropout"])
    model = model.to(dev).to(memory_format=torch.channels_last)
    x_train, y_train = data.train_images[fit_idx].to(dev), data.train_labels[fit_idx].to(dev)
    n, batch_size, epochs = len(y_train), cfg["batch_size"], cfg["epochs"]
    n_junk = round(cfg["junk_share"] * batch_size)
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg["lr"], epochs=epochs,
                                                   steps_per_epoch=math.ceil(n / batch_size))
    hard_test = degrade(data.test_images, 1.5, 0.05)
    history = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=generator).to(dev)
        loss_sum, correct = torch.zeros((), device=dev), torch.zeros((), device=dev, dtype=torch.int64)
        for s in range(0, n, batch_size):
            idx = order[s : s + batch_size]
            x = _prepare(x_train[idx], aux, cfg, generator)
            loss, logits = _loss(model, x, y_train[idx], junk_images(n_junk, generator).to(dev))
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.detach() * len(idx)
            correct += (logits.detach().argmax(1) == y_train[idx]).sum()
        seconds = time.perf_counter() - start
        model.eval()
        test_acc = evaluate_classifier(model, data.test_images, data.test_labels)
        hard_acc = evaluate_classifier(model, hard_test, data.test_labels)
        row = {"epoch": epoch, "train_loss": round(float(loss_sum) / n, 6),
               "train_accuracy": round(int(correct) / n, 6), "test_accuracy": round(test_acc, 6),
               "test_accuracy_blur1.5_grey0.05": round(hard_acc, 6), "epoch_seconds": round(seconds, 2)}
        history.append(row)
        log(f"epoch {epoch}/{epochs}: train loss {row['train_loss']:.4f}, train acc "
                   f"{row['train_accuracy']:.2%}, test acc {test_acc:.2%}, blur 1.5 + 5% grey {hard_acc:.2%} "
                   f"({seconds:.1f} s)")
    return model, history


# ------------------------------------------------------------------------------------------ calibration


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The temperature T > 0 that minimises the mean negative log-likelihood of softmax(``logits`` / T) for
    ``labels`` (a 1-D convex problem in log T: a coarse grid over [1/20, 20], then golden-section search)."""
    logits, labels = logits.double(), labels.long()

    def nll(log_t: float) -> float:
        return float(F.cross_entropy(logits / math.exp(log_t), labels))

    grid = np.linspace(math.log(0.05), math.log(20), 61)
    best = int(np.argmin([nll(v) for v in grid]))
    lo, hi = grid[max(best - 1, 0)], grid[min(best + 1, len(grid) - 1)]
    ratio = (math.sqrt(5) - 1) / 2
    for _ in range(60):
        a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
        if nll(a) <= nll(b):
            hi = b
        else:
            lo = a
    return round(math.exp((lo + hi) / 2), 4)


def _calibrate(model: DigitClassifier, data, cal_idx: torch.Tensor, aux: list[AuxVAE],
               cfg: dict[str, Any]) -> dict[str, Any]:
    """Prepare the held-out images like training batches (own generator, no junk), fit the temperature."""
    generator = torch.Generator().manual_seed(cfg["seed"] + 104_729)
    images, labels = data.train_images[cal_idx], data.train_labels[cal_idx]
    model.eval()
    parts = []
    with torch.no_grad():
        for s in range(0, len(cal_idx), cfg["batch_size"]):
            x = _prepare(images[s : s + cfg["batch_size"]], aux, cfg, generator)
            parts.append(model(x.contiguous(memory_format=torch.channels_last)).cpu())
    logits, labels = torch.cat(parts), labels.cpu()
    t = fit_temperature(logits, labels)
    nll = [float(F.cross_entropy(logits.double() / v, labels)) for v in (1.0, t)]
    return {"temperature": t, "method": "temperature scaling, minimum NLL on the held-out training images "
                                          "prepared like training batches (no junk)",
            "n": len(labels), "nll_before": round(nll[0], 6), "nll_after": round(nll[1], 6),
            "accuracy": round(float((logits.argmax(1) == labels).double().mean()), 6)}


# ------------------------------------------------------------------------------------------ report


def _report(model: DigitClassifier, data, dev: torch.device, full: bool, log: Log) -> dict[str, Any]:
    from .judge_checks import (format_grid, grid_cell, robustness_grid, threshold_scan, unreadable_rates,
                               vae_reconstruction_check)

    fused = DigitClassifier(model.channels, model.feature_dim).to(dev)
    fused.load_state_dict(model.state_dict())
    fused.temperature = model.temperature
    fused = fused.fuse_().to(memory_format=torch.channels_last)
    test_acc = evaluate_classifier(fused, data.test_images, data.test_labels)
    test_images = data.test_images[:10_000]
    info: dict[str, Any] = {"test_accuracy": round(test_acc, 6), "inference_seconds_10k": round(
        time_inference(fused, test_images), 3), "inference_images": len(test_images),
        "inference_batch_size": BATCH_SIZE, "inference_threads": torch.get_num_threads(),
        "unreadable": unreadable_rates(fused)}
    log(f"test accuracy {test_acc:.2%}; classifying {len(test_images)} images takes "
        f"{info['inference_seconds_10k']:.2f} s; constructed images all unreadable (< {UNREADABLE_BELOW}): "
        f"{info['unreadable']['all_unreadable']}")
    if full:
        grid = robustness_grid(fused, data.test_images, data.test_labels)
        info["robustness_grid"] = grid
        info["test_accuracy_blur1.5_grey0.05"] = grid_cell(grid, 1.5, 0.05)["accuracy"]
        log("robustness grid (accuracy):\n" + format_grid(grid))
        info["unreadable"]["threshold_scan"] = threshold_scan(fused, data.test_images)
        checks = [vae_reconstruction_check(fused, data, latent_dim=z) for z in (20, 2)]
        info["vae_reconstructions"] = checks
        for c in checks:
            log(f"independent z={c['latent_dim']} VAE: judge on reconstructions {c['judge_accuracy']:.2%}, "
                f"latent 5-NN {c['latent_knn_accuracy']:.2%}")
    return info
