"""The shipped classifiers: class probabilities and penultimate features for 28x28 images, one per dataset.

vaediag judges what a VAE generates with a small CNN trained once on the 60k training images of its dataset
and shipped in ``vaediag/weights/``: ``digit_cnn.pt`` (MNIST) and ``fashion_cnn.pt`` (Fashion-MNIST), each
beside a ``.json`` holding its dataset, SHA-256, test accuracy, training settings and timings
(:data:`CLASSIFIER_FILES`). Its probabilities feed the class-histogram metrics, its penultimate features the
Fréchet distance and PRDC. Both use the same architecture family; the widths are stored in the weights file,
so loading is the same for every dataset.

The network is built for inference cost as much as for accuracy, because every evaluated checkpoint
classifies tens of thousands of images on a CPU: the first convolution has stride 2, so no activation
is ever stored at the full 28x28 resolution; every convolution halves the resolution (28 -> 14 -> 7 -> 4);
BatchNorm is folded into the convolutions for inference (:meth:`DigitClassifier.fuse_`); inference runs
channels-last, under ``torch.inference_mode``, in large batches.

    x [N,1,28,28] in [0,1]
    conv 5x5/2 (16) -> 14x14 -> conv 3x3/2 (32) -> 7x7 -> conv 3x3/2 (64) -> 4x4   (each + BN + ReLU)
    flatten 1024 -> linear 128 + BN + ReLU = features -> dropout -> linear 10 = logits
"""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from vaediag.files.atomic import file_sha256, write_json, write_with
from vaediag.datasets.data import MNISTData
from vaediag.devices import resolve_device
from vaediag.errors import CheckpointError, load_reason

from .registry import SPECS, check_dataset

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"  # the shipped weights (read only)
TRAINED_DIR = Path.home() / ".cache" / "vaediag" / "classifier"  # where a retrained classifier goes by default
WEIGHTS_FILE = "digit_cnn.pt"  # MNIST's
INFO_FILE = "digit_cnn.json"
# dataset -> (weights file, info file), in WEIGHTS_DIR (shipped) or any weights folder
CLASSIFIER_FILES = {name: spec.classifier for name, spec in SPECS.items()}  # dataset -> (weights, info)
FORMAT = "vaediag-digit-cnn/1"

NUM_CLASSES = 10
CHANNELS = (16, 32, 64)
FEATURE_DIM = 128
BATCH_SIZE = 2048  # images per inference batch (1-2k fit the CPU caches best; measured 0.20 s per 10k)

# Training settings shared by :func:`train_classifier` and ``vaediag classifier train``.
TRAIN_DEFAULTS: dict[str, Any] = {
    "epochs": 14,
    "batch_size": 128,
    "lr": 4e-3,  # peak of the one-cycle schedule
    "weight_decay": 1e-4,
    "dropout": 0.2,
    "max_shift": 2,  # augmentation: random translation by up to this many pixels in x and y
    "hflip": False,  # augmentation: mirror half the images left-right (not for digits)
    "channels": CHANNELS,
    "feature_dim": FEATURE_DIM,
    "seed": 0,
    # CPU threads while training (restored afterwards). One: with batches of 128 on a small net, every
    # operator is too short to split, and a second thread that the OS deschedules on a shared machine
    # stalls each step (measured here: 2 threads 3-8x slower than 1 under load).
    "threads": 1,
}

# The recipe of each dataset's classifier (``vaediag classifier train --dataset``): MNIST's is TRAIN_DEFAULTS.
# Clothes are harder than digits: a wider net (4x the multiply-adds), and left-right mirrored images (a mirrored shirt
# is still a shirt).
TRAIN_RECIPES: dict[str, dict[str, Any]] = {
    "mnist": TRAIN_DEFAULTS,
    "fashion-mnist": {**TRAIN_DEFAULTS, "channels": (32, 64, 128), "feature_dim": 256, "epochs": 15, "max_shift": 1,
                      "dropout": 0.3, "hflip": True},
}

Log = Callable[[str], Any]


# ------------------------------------------------------------------------------------------------ model


class _ConvBN(nn.Sequential):
    def __init__(self, c_in: int, c_out: int, kernel: int):
        super().__init__(
            nn.Conv2d(c_in, c_out, kernel, stride=2, padding=kernel // 2, bias=False),
            nn.BatchNorm2d(c_out),
            nn.ReLU(inplace=True),
        )


class DigitClassifier(nn.Module):
    """Small strided CNN: ``forward(x) -> logits [N, 10]``, ``features(x) -> [N, feature_dim]``.

    ``x`` is float32 [N, 1, 28, 28] in [0, 1]. The features are the penultimate layer (after BatchNorm and
    ReLU, before dropout and the output layer), i.e. what the logits are a linear function of.
    """

    def __init__(self, channels: tuple[int, int, int] = CHANNELS, feature_dim: int = FEATURE_DIM,
                 dropout: float = TRAIN_DEFAULTS["dropout"]):
        super().__init__()
        c1, c2, c3 = channels
        self.channels = tuple(int(c) for c in channels)
        self.feature_dim = int(feature_dim)
        self.fused = False
        self.body = nn.Sequential(_ConvBN(1, c1, 5), _ConvBN(c1, c2, 3), _ConvBN(c2, c3, 3))  # 28 -> 14 -> 7 -> 4
        self.head = nn.Sequential(
            nn.Flatten(),
            nn.Linear(c3 * 4 * 4, feature_dim, bias=False),
            nn.BatchNorm1d(feature_dim),
            nn.ReLU(inplace=True),
        )
        self.dropout = nn.Dropout(dropout)
        self.out = nn.Linear(feature_dim, NUM_CLASSES)

    @property
    def architecture(self) -> dict[str, Any]:
        return {"channels": list(self.channels), "feature_dim": self.feature_dim}

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(x))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.dropout(self.features(x)))

    def train(self, mode: bool = True) -> "DigitClassifier":
        if mode and self.fused:
            raise RuntimeError("a fused DigitClassifier is for inference only; build a fresh one to train")
        return super().train(mode)

    @torch.no_grad()
    def fuse_(self) -> "DigitClassifier":
        """Fold every BatchNorm into the layer before it (in place; inference only, same outputs).

        Removes the separate normalisation passes over the activations, which on a CPU cost about as
        much as the convolutions themselves. Puts the model in eval mode; it cannot be trained afterwards.
        """
        if self.fused:
            return self
        self.eval()
        for block in self.body:
            block[0] = fuse_conv_bn_eval(block[0], block[1])
            block[1] = nn.Identity()
        self.head[1] = fuse_linear_bn_eval(self.head[1], self.head[2])
        self.head[2] = nn.Identity()
        self.fused = True
        return self


def n_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


# ------------------------------------------------------------------------------------------------ inference


@dataclass
class ClassifierOutput:
    """What the classifier says about N images."""

    probs: np.ndarray  # float64 [N, 10], rows sum to 1
    features: np.ndarray  # float32 [N, feature_dim], penultimate layer

    @property
    def predictions(self) -> np.ndarray:
        """int64 [N]: the most probable digit of each image."""
        return np.argmax(self.probs, axis=1)


def _as_float_images(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 [N,28,28] / [N,1,28,28] or float [N,1,28,28] / [N,28,28] in [0, 1] -> float32 [N,1,28,28]."""
    x = torch.as_tensor(images)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        raise ValueError(f"expected images of shape [N, 28, 28] or [N, 1, 28, 28], got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return MNISTData.to_float(x.squeeze(1))
    if not x.is_floating_point():
        raise ValueError(f"expected uint8 or floating-point images, got {x.dtype}")
    return x.float()


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def classify(model: DigitClassifier, images: torch.Tensor | np.ndarray,
             batch_size: int = BATCH_SIZE) -> ClassifierOutput:
    """Class probabilities and penultimate features of ``images`` (uint8 [N,28,28] or float [N,1,28,28]).

    Runs on the model's device in batches of ``batch_size`` under ``torch.inference_mode``, in eval mode
    (a model in training mode is switched back afterwards).
    """
    device = _device_of(model)
    n = int(torch.as_tensor(images).shape[0])
    probs = np.empty((n, NUM_CLASSES), np.float64)
    feats = np.empty((n, model.feature_dim), np.float32)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            for start in range(0, n, batch_size):
                x = _as_float_images(images[start : start + batch_size]).to(device)
                f = model.features(x.contiguous(memory_format=torch.channels_last))
                logits = model.out(f)
                probs[start : start + len(x)] = torch.softmax(logits.double(), dim=1).cpu().numpy()
                feats[start : start + len(x)] = f.float().cpu().numpy()
    finally:
        model.train(was_training)
    return ClassifierOutput(probs=probs, features=feats)


def evaluate_classifier(model: DigitClassifier, images: torch.Tensor | np.ndarray,
                        labels: torch.Tensor | np.ndarray, batch_size: int = BATCH_SIZE) -> float:
    """Accuracy in [0, 1] of ``model`` on ``images`` (uint8 [N,28,28] or float [N,1,28,28]) with ``labels``."""
    pred = classify(model, images, batch_size=batch_size).predictions
    labels = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    return float(np.mean(pred == labels))


def time_inference(model: DigitClassifier, images: torch.Tensor, batch_size: int = BATCH_SIZE,
                   repeats: int = 5) -> float:
    """Best-of-``repeats`` wall-clock seconds of :func:`classify` on ``images`` (after one warm-up batch)."""
    classify(model, images[:batch_size], batch_size=batch_size)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        classify(model, images, batch_size=batch_size)
        best = min(best, time.perf_counter() - start)
    return best


# ------------------------------------------------------------------------------------------------ weights


def classifier_files(dataset: str = "mnist") -> tuple[str, str]:
    """The (weights, info) file names of ``dataset``'s classifier; one-line ConfigError for an unknown dataset."""
    return CLASSIFIER_FILES[check_dataset(dataset)]


def _train_hint(dataset: str) -> str:
    option = "" if dataset == "mnist" else f" --dataset {dataset}"
    return f"train it with `vaediag classifier train{option}`"


def read_info(weights_dir: str | Path | None = None, *, dataset: str = "mnist") -> dict[str, Any]:
    """The info json next to ``dataset``'s weights (dataset, sha256, test accuracy, training settings, timings)."""
    path = Path(weights_dir if weights_dir is not None else WEIGHTS_DIR) / classifier_files(dataset)[1]
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise CheckpointError(f"the {dataset} classifier info {path} is missing ({_train_hint(dataset)})") from None
    except (OSError, ValueError) as exc:
        raise CheckpointError(f"classifier info {path} is unreadable: {exc}") from None
    if not isinstance(info, dict) or not isinstance(info.get("sha256"), str):
        raise CheckpointError(f"classifier info {path} has no sha256 entry")
    return info


def load_classifier(device: str | torch.device = "cpu", *, dataset: str = "mnist",
                    weights_dir: str | Path | None = None) -> DigitClassifier:
    """The classifier of ``dataset`` (shipped, or from ``weights_dir``) on ``device``, in eval mode, BatchNorm
    folded, channels-last.

    The weights file (:data:`CLASSIFIER_FILES`) is checked against the SHA-256 in its info json before it is
    loaded (with ``torch.load(weights_only=True)``); a missing, altered or unreadable file, or one trained on
    another dataset, raises :class:`CheckpointError` (one line; a missing one names the command that trains it).
    """
    weights_file, info_file = classifier_files(dataset)
    weights_dir = Path(weights_dir if weights_dir is not None else WEIGHTS_DIR)
    info = read_info(weights_dir, dataset=dataset)
    trained_on = info.get("dataset", "mnist")  # the digit classifier's json predates the field
    if trained_on != dataset:
        raise CheckpointError(f"classifier {weights_dir / info_file} was trained on {trained_on}, not {dataset}")
    path = weights_dir / weights_file
    if not path.is_file():
        raise CheckpointError(f"the {dataset} classifier weights {path} are missing ({_train_hint(dataset)})")
    actual = file_sha256(path)
    if actual != info["sha256"]:
        raise CheckpointError(f"classifier weights {path} do not match their sha256 in {info_file} "
                              f"(expected {info['sha256'][:12]}..., got {actual[:12]}...)")
    try:
        blob = torch.load(path, map_location="cpu", weights_only=True)
        if blob.get("format") != FORMAT:
            raise ValueError(f"format {blob.get('format')!r}, expected {FORMAT!r}")
        arch = blob["architecture"]
        with torch.random.fork_rng(devices=[]):  # the initial weights (replaced at once) draw from torch's
            model = DigitClassifier(tuple(arch["channels"]), arch["feature_dim"])  # generator: not the user's
        model.load_state_dict(blob["state_dict"])
    except Exception as exc:  # noqa: BLE001 - any failure to unpickle or match the weights is one error
        raise CheckpointError(f"classifier weights {path} cannot be loaded: "
                              f"{load_reason(exc, 'weights file')}") from None
    dev = resolve_device(device) if isinstance(device, str) else torch.device(device)
    return model.fuse_().to(dev).to(memory_format=torch.channels_last)


def save_classifier(model: DigitClassifier, info: dict[str, Any], weights_dir: str | Path | None = None, *,
                    dataset: str = "mnist") -> Path:
    """Write ``dataset``'s weights file (unfused float32 weights) then its info json (``info`` + dataset +
    sha256), atomically (file names: :data:`CLASSIFIER_FILES`).

    The same weights always give the same bytes (and sha256). Returns the weights path. ``weights_dir``
    defaults to ``TRAINED_DIR/<dataset>`` (a user folder), never the installed package's shipped weights.
    """
    if model.fused:
        raise ValueError("save the trained (unfused) classifier, not the fused inference copy")
    weights_file, info_file = classifier_files(dataset)
    weights_dir = Path(weights_dir if weights_dir is not None else TRAINED_DIR / dataset)
    path = weights_dir / weights_file
    state = {k: v.detach().cpu().float() if v.is_floating_point() else v.detach().cpu()
             for k, v in model.state_dict().items()}
    buffer = io.BytesIO()  # not the temporary file: torch.save would embed its random name, changing the sha256
    torch.save({"format": FORMAT, "architecture": model.architecture, "state_dict": state}, buffer)
    write_with(path, lambda tmp: tmp.write_bytes(buffer.getvalue()))
    write_json(weights_dir / info_file, {**info, "dataset": dataset, "format": FORMAT,
                                         "architecture": model.architecture, "sha256": file_sha256(path),
                                         "weights_bytes": path.stat().st_size})
    return path


# ------------------------------------------------------------------------------------------------ training


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image of ``images`` (uint8 [B,28,28]) by its own random offset in [-max_shift, max_shift]
    along both axes, filling with zeros (black)."""
    if max_shift <= 0:
        return images
    b, h, w = images.shape
    padded = F.pad(images, (max_shift,) * 4)
    offset = torch.randint(0, 2 * max_shift + 1, (b, 2), generator=generator).to(images.device)
    rows = offset[:, :1] + torch.arange(h, device=images.device)  # [B, H]
    cols = offset[:, 1:] + torch.arange(w, device=images.device)  # [B, W]
    batch = torch.arange(b, device=images.device)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]]


def random_hflip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image of ``images`` (uint8 [B,28,28]) left-right with probability 1/2, independently."""
    flip = (torch.rand(images.shape[0], generator=generator) < 0.5).to(images.device)
    return torch.where(flip[:, None, None], images.flip(-1), images)


def train_classifier(data, *, epochs: int = TRAIN_DEFAULTS["epochs"], seed: int = TRAIN_DEFAULTS["seed"],
                     device: str | torch.device = "cpu", batch_size: int = TRAIN_DEFAULTS["batch_size"],
                     lr: float = TRAIN_DEFAULTS["lr"], weight_decay: float = TRAIN_DEFAULTS["weight_decay"],
                     dropout: float = TRAIN_DEFAULTS["dropout"], max_shift: int = TRAIN_DEFAULTS["max_shift"],
                     threads: int | None = TRAIN_DEFAULTS["threads"], hflip: bool = TRAIN_DEFAULTS["hflip"],
                     channels: tuple[int, int, int] = TRAIN_DEFAULTS["channels"],
                     feature_dim: int = TRAIN_DEFAULTS["feature_dim"],
                     log: Log = print) -> tuple[DigitClassifier, dict[str, Any]]:
    """Train a :class:`DigitClassifier` on ``data`` (a :class:`vaediag.datasets.data.MNISTData`); score it on its test set.

    AdamW with a one-cycle learning-rate schedule, cross-entropy, random shifts of up to ``max_shift``
    pixels and, with ``hflip``, random left-right mirroring (:data:`TRAIN_RECIPES` holds each dataset's
    settings). Seeded: the initialisation, the batch order, the shifts and flips all derive from ``seed``. The test set
    is only scored after each epoch (logged), never used to pick a model: the last epoch is the result.
    ``threads`` (None: leave torch's setting) applies while training only.

    Returns the trained (unfused, eval-mode) model and an info dict for :func:`save_classifier`:
    training settings, per-epoch history, ``train_seconds``, ``test_accuracy``, ``inference_seconds_10k``
    (the fused model on 10k test images with torch's default threads).
    """
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1, got {epochs}")
    dev = resolve_device(device) if isinstance(device, str) else torch.device(device)
    settings = {"epochs": epochs, "seed": seed, "batch_size": batch_size, "lr": lr, "weight_decay": weight_decay,
                "dropout": dropout, "max_shift": max_shift, "hflip": bool(hflip), "threads": threads,
                "channels": [int(c) for c in channels], "feature_dim": int(feature_dim),
                "optimizer": "AdamW + OneCycleLR", "device": str(dev)}
    default_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        start = time.perf_counter()
        model, history = _fit(data, dev, settings, log)
        train_seconds = time.perf_counter() - start
    finally:
        torch.set_num_threads(default_threads)

    test_acc = history[-1]["test_accuracy"]
    fused = DigitClassifier(model.channels, model.feature_dim).to(dev)
    fused.load_state_dict(model.state_dict())
    fused = fused.fuse_().to(memory_format=torch.channels_last)
    test_images = data.test_images[:10_000]
    inference_seconds = time_inference(fused, test_images)
    log(f"test accuracy {test_acc:.2%}; training took {train_seconds:.0f} s; "
        f"classifying {len(test_images)} images takes {inference_seconds:.2f} s")
    info = {
        "test_accuracy": test_acc,
        "n_train": data.n_train,
        "n_test": data.n_test,
        "parameters": n_parameters(model),
        "train": settings,
        "history": history,
        "train_seconds": round(train_seconds, 1),
        "inference_seconds_10k": round(inference_seconds, 3),
        "inference_images": len(test_images),
        "inference_batch_size": BATCH_SIZE,
        "inference_threads": torch.get_num_threads(),
        "torch_version": torch.__version__,
    }
    return model, info


def _fit(data, dev: torch.device, cfg: dict[str, Any], log: Log) -> tuple[DigitClassifier, list[dict]]:
    torch.manual_seed(cfg["seed"])
    generator = torch.Generator().manual_seed(cfg["seed"])
    model = DigitClassifier(tuple(cfg["channels"]), cfg["feature_dim"], dropout=cfg["dropout"])
    model = model.to(dev).to(memory_format=torch.channels_last)
    x_train, y_train = data.train_images.to(dev), data.train_labels.to(dev)
    n, batch_size, epochs = len(y_train), cfg["batch_size"], cfg["epochs"]
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg["lr"], weight_decay=cfg["weight_decay"])
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=cfg["lr"], epochs=epochs,
                                                   steps_per_epoch=math.ceil(n / batch_size))
    history = []
    for epoch in range(1, epochs + 1):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(n, generator=generator).to(dev)
        loss_sum, correct = torch.zeros((), device=dev), torch.zeros((), device=dev, dtype=torch.int64)
        for s in range(0, n, batch_size):
            idx = order[s : s + batch_size]
            batch = random_shift(x_train[idx], cfg["max_shift"], generator)
            if cfg["hflip"]:
                batch = random_hflip(batch, generator)
            x = MNISTData.to_float(batch)
            logits = model(x.contiguous(memory_format=torch.channels_last))
            loss = F.cross_entropy(logits, y_train[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            schedule.step()
            loss_sum += loss.detach() * len(idx)
            correct += (logits.detach().argmax(1) == y_train[idx]).sum()
        seconds = time.perf_counter() - start
        model.eval()
        test_acc = evaluate_classifier(model, data.test_images, data.test_labels)
        row = {"epoch": epoch, "train_loss": round(float(loss_sum) / n, 6),
               "train_accuracy": round(int(correct) / n, 6), "test_accuracy": round(test_acc, 6),
               "epoch_seconds": round(seconds, 2)}
        history.append(row)
        log(f"epoch {epoch}/{epochs}: train loss {row['train_loss']:.4f}, train acc {row['train_accuracy']:.2%}, "
            f"test acc {test_acc:.2%} ({seconds:.1f} s)")
    return model, history
