"""Measurements of a judge: the robustness grid, the unreadable threshold, and an independent VAE's reconstructions.

- :func:`robustness_grid`: accuracy, share called the most frequent class, mean confidence and unreadable
  share on test images degraded by every (sigma, grey) of :data:`vaediag.datasets.degrade.SIGMAS` x ``GREYS``;
- :func:`unreadable_rates`: the top probability of every :func:`vaediag.datasets.degrade.constructed_images` kind, and
  whether all of them fall below :data:`vaediag.datasets.classifier.UNREADABLE_BELOW`;
- :func:`vae_reconstruction_check`: trains a pytorch/examples VAE (784-400-z MLP, :class:`ExamplesVAE`) that no
  judge recipe ever sees, then compares the judge's accuracy on its reconstructions of the test images with
  the 5-NN accuracy of its latent codes (mu).

The training command records all three in the judge's info json; the tests and ``benchmarks/bench_judge.py``
re-measure them with the same functions.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .classifier import UNREADABLE_BELOW, DigitClassifier, classify
from .degrade import GREYS, SIGMAS, constructed_images, degrade


def _labels(labels: torch.Tensor | np.ndarray) -> np.ndarray:
    return labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)


def judge_row(probs: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """accuracy, top_class_share (share of the most frequent prediction), mean_confidence (mean top
    probability) and unreadable_share (top probability below UNREADABLE_BELOW) of ``probs`` [N, 10]."""
    pred = probs.argmax(1)
    top = probs.max(1)
    return {"accuracy": round(float(np.mean(pred == labels)), 6),
            "top_class_share": round(float(np.bincount(pred, minlength=probs.shape[1]).max() / len(pred)), 6),
            "mean_confidence": round(float(top.mean()), 6),
            "unreadable_share": round(float(np.mean(top < UNREADABLE_BELOW)), 6)}


def robustness_grid(model: DigitClassifier, images: torch.Tensor, labels: torch.Tensor | np.ndarray, *,
                    sigmas=SIGMAS, greys=GREYS) -> list[dict[str, float]]:
    """One row per (sigma, grey): :func:`judge_row` of ``model`` on ``degrade(images, sigma, grey)``."""
    y = _labels(labels)
    rows = []
    for sigma in sigmas:
        for grey in greys:
            probs = classify(model, degrade(images, sigma, grey)).probs
            rows.append({"sigma": sigma, "grey": grey, **judge_row(probs, y)})
    return rows


def grid_cell(rows: list[dict], sigma: float, grey: float) -> dict[str, float]:
    """The row of ``rows`` (:func:`robustness_grid`) at (sigma, grey)."""
    return next(r for r in rows if r["sigma"] == sigma and r["grey"] == grey)


def format_grid(rows: list[dict], key: str = "accuracy") -> str:
    """``rows`` as a text table: one line per sigma, one column per grey, ``key`` as a percentage."""
    greys = sorted({r["grey"] for r in rows})
    lines = ["sigma \\ grey " + "".join(f"{g:>8.0%}" for g in greys)]
    for sigma in sorted({r["sigma"] for r in rows}):
        lines.append(f"{sigma:>12.1f} " + "".join(f"{grid_cell(rows, sigma, g)[key]:>8.2%}" for g in greys))
    return "\n".join(lines)


THRESHOLDS = (0.3, 0.4, 0.5, 0.6, 0.7, 0.8)  # the candidates :func:`threshold_scan` measures


def threshold_scan(model: DigitClassifier, images: torch.Tensor, *, thresholds=THRESHOLDS) -> list[dict[str, Any]]:
    """For each candidate threshold: the share of ``images`` (real test images) below it, clean and at every
    cell of the robustness grid (the worst cell), and the share of fresh constructed images (another seed,
    2000 of each noise kind) *at or above* it, i.e. wrongly readable. What :data:`UNREADABLE_BELOW` was chosen from."""
    real = {(s, g): classify(model, degrade(images, s, g)).probs.max(1) for s in SIGMAS for g in GREYS}
    fresh = torch.cat(list(constructed_images(2000, seed=777).values()))
    junk = classify(model, fresh).probs.max(1)
    rows = []
    for t in thresholds:
        below = {cell: float(np.mean(top < t)) for cell, top in real.items()}
        worst = max(below, key=below.get)
        rows.append({"threshold": t, "clean_below": round(below[(0.0, 0.0)], 6),
                     "worst_cell_below": round(below[worst], 6), "worst_cell": list(worst),
                     "constructed_at_or_above": round(float(np.mean(junk >= t)), 6), "n_constructed": len(junk)})
    return rows


def unreadable_rates(model: DigitClassifier) -> dict[str, Any]:
    """Per kind of :func:`vaediag.datasets.degrade.constructed_images`: the count, the largest and mean calibrated top
    probability, the share below UNREADABLE_BELOW; ``all_unreadable``: every constructed image is below it."""
    kinds = {}
    for kind, images in constructed_images().items():
        top = classify(model, images).probs.max(1)
        kinds[kind] = {"n": len(top), "max_top_probability": round(float(top.max()), 6),
                       "mean_top_probability": round(float(top.mean()), 6),
                       "unreadable_share": round(float(np.mean(top < UNREADABLE_BELOW)), 6)}
    return {"threshold": UNREADABLE_BELOW, "constructed": kinds,
            "all_unreadable": all(k["unreadable_share"] == 1.0 for k in kinds.values())}


def evaluation_text(model: DigitClassifier, data, title: str) -> str:
    """What ``vaediag classifier evaluate`` prints: clean test accuracy, the grid's accuracy and unreadable
    shares, and whether every constructed image is unreadable."""
    grid = robustness_grid(model, data.test_images, data.test_labels)
    constructed = unreadable_rates(model)
    worst = max(k["max_top_probability"] for k in constructed["constructed"].values())
    return "\n".join([
        f"test accuracy {grid_cell(grid, 0.0, 0.0)['accuracy']:.4f} on {data.n_test} {title} test images "
        f"(temperature {model.temperature})",
        "accuracy by Gaussian blur sigma (px, rows) and grey background (columns):", format_grid(grid),
        f"unreadable (calibrated top probability < {UNREADABLE_BELOW}):", format_grid(grid, "unreadable_share"),
        f"constructed images (blank, grey, noise, blobs) all unreadable: {constructed['all_unreadable']} "
        f"(largest top probability {worst:.3f})"])


# ------------------------------------------------------------------------------------ an independent VAE


class ExamplesVAE(nn.Module):
    """The pytorch/examples VAE: flat 784 -> 400 ReLU -> (mu, logvar) of ``latent_dim``; decoder
    ``latent_dim`` -> 400 ReLU -> 784 sigmoid. Loss: BCE summed over pixels + KL, per batch."""

    def __init__(self, latent_dim: int = 20):
        super().__init__()
        self.fc1 = nn.Linear(784, 400)
        self.fc21 = nn.Linear(400, latent_dim)
        self.fc22 = nn.Linear(400, latent_dim)
        self.fc3 = nn.Linear(latent_dim, 400)
        self.fc4 = nn.Linear(400, 784)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = F.relu(self.fc1(x.reshape(-1, 784)))
        return self.fc21(h), self.fc22(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.fc4(F.relu(self.fc3(z)))).view(-1, 1, 28, 28)

    def loss(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        mu, logvar = self.encode(x)
        z = mu + torch.randn(mu.shape, generator=generator) * torch.exp(0.5 * logvar)
        bce = F.binary_cross_entropy(self.decode(z).view(-1, 784), x.reshape(-1, 784), reduction="sum")
        return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())


def _encode_all(vae: ExamplesVAE, x: torch.Tensor) -> torch.Tensor:
    with torch.inference_mode():
        return torch.cat([vae.encode(x[s : s + 4096])[0] for s in range(0, len(x), 4096)])


def vae_reconstruction_check(judge: DigitClassifier, data, *, latent_dim: int = 20, epochs: int = 3,
                             train_size: int = 10_000, seed: int = 0, k: int = 5) -> dict[str, Any]:
    """Train an :class:`ExamplesVAE` (Adam 1e-3, batch 128, ``epochs`` epochs on a seeded class-stratified subset
    of ``train_size`` of ``data``'s training images, one CPU thread), then score on ``data``'s test images:

    - ``latent_knn_accuracy``: a ``k``-NN classifier fitted on the training codes (mu), scored on the test codes;
    - ``judge_accuracy``: the judge on the reconstructions decode(mu) of the test images (labels: the sources);
    - ``judge_unreadable_share``: the share of those reconstructions the judge calls unreadable.
    """
    from sklearn.neighbors import KNeighborsClassifier

    from .data import MNISTData, stratified_subset

    start = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        idx = torch.from_numpy(stratified_subset(data.train_labels, min(train_size, data.n_train), seed))
        x_train = MNISTData.to_float(data.train_images[idx].cpu())
        y_train = data.train_labels[idx].cpu().numpy()
        x_test = MNISTData.to_float(data.test_images.cpu())
        torch.manual_seed(seed)
        vae = ExamplesVAE(latent_dim)
        optimizer = torch.optim.Adam(vae.parameters(), lr=1e-3)
        generator = torch.Generator().manual_seed(seed)
        for _ in range(epochs):
            order = torch.randperm(len(x_train), generator=generator)
            for s in range(0, len(order), 128):
                loss = vae.loss(x_train[order[s : s + 128]], generator)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                optimizer.step()
        vae.eval()
        mu_train, mu_test = _encode_all(vae, x_train), _encode_all(vae, x_test)
        with torch.inference_mode():
            recon = torch.cat([vae.decode(mu_test[s : s + 4096]) for s in range(0, len(mu_test), 4096)])
    finally:
        torch.set_num_threads(threads)
    y_test = _labels(data.test_labels)
    knn = KNeighborsClassifier(n_neighbors=k).fit(mu_train.numpy(), y_train).score(mu_test.numpy(), y_test)
    row = judge_row(classify(judge, recon).probs, y_test)
    return {"latent_dim": latent_dim, "epochs": epochs, "train_size": train_size, "seed": seed, "k": k,
            "n_test": len(y_test), "latent_knn_accuracy": round(float(knn), 6),
            "judge_accuracy": row["accuracy"], "judge_unreadable_share": row["unreadable_share"],
            "seconds": round(time.perf_counter() - start, 1)}
