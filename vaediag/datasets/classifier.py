"""The shipped classifiers: class probabilities and penultimate features for 28x28 images, one per dataset.

vaediag judges what a VAE generates with a small CNN trained once on the training images of its dataset
and shipped in ``vaediag/weights/``: ``digit_cnn.pt`` (MNIST) and ``fashion_cnn.pt`` (Fashion-MNIST), each
beside a ``.json`` holding its dataset, SHA-256, calibration temperature, test accuracy, robustness grid,
unreadable-threshold measurements, training settings and timings (:data:`CLASSIFIER_FILES`). Its probabilities feed the class-histogram metrics, its penultimate features the
Fréchet distance and PRDC. Both use the same architecture family; the widths are stored in the weights file,
so loading is the same for every dataset.

The judges read what VAE decoders output, not only crisp data: their recipe
(:mod:`vaediag.datasets.classifier_training`) trains on blurred, low-contrast, grey-background and slightly deformed
images, on reconstructions by small auxiliary VAEs, and on images that show nothing (with a uniform target).
Their logits are divided by a temperature fitted on a held-out degraded split of the training set and stored
with the weights, so :func:`classify` returns calibrated probabilities. An image whose calibrated top
probability is below :data:`UNREADABLE_BELOW` is *unreadable* (:func:`readable`). :mod:`vaediag.datasets.degrade`
defines the degradations the judges are measured on.

The network is built for inference cost as much as for accuracy, because every evaluated checkpoint
classifies tens of thousands of images on a CPU: the first convolution has stride 2, so no activation
is ever stored at the full 28x28 resolution; every convolution halves the resolution (28 -> 14 -> 7 -> 4);
BatchNorm is folded into the convolutions for inference (:meth:`DigitClassifier.fuse_`); inference runs
channels-last, under ``torch.inference_mode``, in large batches.

    x [N,1,28,28] in [0,1]
    conv 5x5/2 (c1) -> 14x14 -> conv 3x3/2 (c2) -> 7x7 -> conv 3x3/2 (c3) -> 4x4   (each + BN + ReLU)
    flatten 16 c3 -> linear F + BN + ReLU = features -> dropout -> linear 10 = logits

The shipped judges use c = 32/64/128 and F = 256; :data:`CHANNELS` / :data:`FEATURE_DIM` (16/32/64, 128) are
only the defaults of a freshly built :class:`DigitClassifier`.
"""

from __future__ import annotations

import io
import json
import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

from vaediag.devices import resolve_device
from vaediag.errors import CheckpointError, load_reason
from vaediag.files.atomic import file_sha256, write_json, write_with

from .degrade import as_float_images
from .registry import SPECS, check_dataset

WEIGHTS_DIR = Path(__file__).resolve().parent / "weights"  # the shipped weights (read only)
TRAINED_DIR = Path.home() / ".cache" / "vaediag" / "classifier"  # where a retrained classifier goes by default
WEIGHTS_FILE = "digit_cnn.pt"  # MNIST's
INFO_FILE = "digit_cnn.json"
# dataset -> (weights file, info file), in WEIGHTS_DIR (shipped) or any weights folder
CLASSIFIER_FILES = {name: spec.classifier for name, spec in SPECS.items()}  # dataset -> (weights, info)
FORMAT = "vaediag-digit-cnn/2"  # /2 stores the calibration temperature; /1 files (none) load with temperature 1
FORMATS = (FORMAT, "vaediag-digit-cnn/1")

NUM_CLASSES = 10
CHANNELS = (16, 32, 64)
FEATURE_DIM = 128
BATCH_SIZE = 2048  # images per inference batch (1-2k fit the CPU caches best; measured 0.20 s per 10k)

DROPOUT = 0.2  # before the output layer, while training

# A sample whose calibrated top class probability is below this is *unreadable* (:func:`readable`): the judge
# cannot name it. Chosen from the measurements in each shipped judge's info json (``unreadable``, with a scan of
# thresholds 0.3-0.8): every constructed image (blank, uniform grey, noise, smooth noise blobs) falls below it,
# and few real test images do (MNIST: 0.12 % of clean digits, at most 0.62 % in any cell of the blur x grey
# grid); 0.6 would triple the real images below it for one fewer leaking image in 6,011 fresh constructed ones.
UNREADABLE_BELOW = 0.5



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

    ``forward`` gives raw logits (what training sees); :func:`classify` divides them by ``temperature``.

    ``x`` is float32 [N, 1, 28, 28] in [0, 1]. The features are the penultimate layer (after BatchNorm and
    ReLU, before dropout and the output layer), i.e. what the logits are a linear function of.
    """

    def __init__(self, channels: tuple[int, int, int] = CHANNELS, feature_dim: int = FEATURE_DIM,
                 dropout: float = DROPOUT):
        super().__init__()
        c1, c2, c3 = channels
        self.channels = tuple(int(c) for c in channels)
        self.feature_dim = int(feature_dim)
        self.fused = False
        self.temperature = 1.0  # logits are divided by it in classify() (fitted after training, stored with weights)
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

    probs: np.ndarray  # float64 [N, 10], rows sum to 1 (calibrated: softmax of logits / temperature)
    features: np.ndarray  # float32 [N, feature_dim], penultimate layer

    @property
    def predictions(self) -> np.ndarray:
        """int64 [N]: the most probable digit of each image."""
        return np.argmax(self.probs, axis=1)

    @property
    def readable(self) -> np.ndarray:
        """bool [N]: the images whose top probability reaches :data:`UNREADABLE_BELOW` (:func:`readable`)."""
        return readable(self.probs)


def readable(probs: np.ndarray | torch.Tensor, threshold: float | None = None) -> np.ndarray:
    """bool [N]: True where the top class probability of a row of ``probs`` [N, 10] is at least ``threshold``
    (default :data:`UNREADABLE_BELOW`); False marks an *unreadable* sample, one the judge cannot name.

    Meaningful for the calibrated probabilities :func:`classify` returns.
    """
    p = probs.cpu().numpy() if isinstance(probs, torch.Tensor) else np.asarray(probs)
    return p.max(axis=1) >= (UNREADABLE_BELOW if threshold is None else threshold)


_as_float_images = as_float_images  # uint8 / float, [N,28,28] / [N,1,28,28] -> float32 [N,1,28,28] in [0, 1]


def _device_of(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


def classify(model: DigitClassifier, images: torch.Tensor | np.ndarray,
             batch_size: int = BATCH_SIZE) -> ClassifierOutput:
    """Calibrated class probabilities and penultimate features of ``images`` (uint8 [N,28,28] or float
    [N,1,28,28]): the probabilities are the softmax of the logits divided by ``model.temperature``.

    Runs on the model's device in batches of ``batch_size`` under ``torch.inference_mode``, in eval mode
    (a model in training mode is switched back afterwards).
    """
    device = _device_of(model)
    temperature = float(getattr(model, "temperature", 1.0))  # a stand-in judge without one: uncalibrated logits
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
                logits = model.out(f).double() / temperature
                probs[start : start + len(x)] = torch.softmax(logits, dim=1).cpu().numpy()
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
    """The info json next to ``dataset``'s weights (dataset, sha256, test accuracy, robustness grid, calibration,
    unreadable-threshold measurements, training settings, timings)."""
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
    The calibration temperature comes from the weights file and must equal the one in the info json.
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
        if blob.get("format") not in FORMATS:
            raise ValueError(f"format {blob.get('format')!r}, expected {FORMAT!r}")
        arch = blob["architecture"]
        with torch.random.fork_rng(devices=[]):  # the initial weights (replaced at once) draw from torch's
            model = DigitClassifier(tuple(arch["channels"]), arch["feature_dim"])  # generator: not the user's
        model.load_state_dict(blob["state_dict"])
        model.temperature = _temperature(blob.get("temperature", 1.0))
    except Exception as exc:  # noqa: BLE001 - any failure to unpickle or match the weights is one error
        raise CheckpointError(f"classifier weights {path} cannot be loaded: "
                              f"{load_reason(exc, 'weights file')}") from None
    if info.get("temperature", 1.0) != model.temperature:
        raise CheckpointError(f"classifier weights {path} hold temperature {model.temperature}, "
                              f"but {info_file} says {info.get('temperature')}")
    dev = resolve_device(device) if isinstance(device, str) else torch.device(device)
    return model.fuse_().to(dev).to(memory_format=torch.channels_last)


def save_classifier(model: DigitClassifier, info: dict[str, Any], weights_dir: str | Path | None = None, *,
                    dataset: str = "mnist") -> Path:
    """Write ``dataset``'s weights file (unfused float32 weights and ``model.temperature``) then its info json
    (``info`` + dataset + temperature + sha256), atomically (file names: :data:`CLASSIFIER_FILES`).

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
    temperature = _temperature(model.temperature)
    torch.save({"format": FORMAT, "architecture": model.architecture, "temperature": temperature,
                "state_dict": state}, buffer)
    write_with(path, lambda tmp: tmp.write_bytes(buffer.getvalue()))
    write_json(weights_dir / info_file, {**info, "dataset": dataset, "format": FORMAT,
                                         "architecture": model.architecture, "temperature": temperature,
                                         "sha256": file_sha256(path), "weights_bytes": path.stat().st_size})
    return path


def _temperature(value: Any) -> float:
    t = float(value)
    if not math.isfinite(t) or t <= 0:
        raise ValueError(f"the calibration temperature must be a positive number, got {value!r}")
    return t
