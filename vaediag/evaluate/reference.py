"""What every checkpoint is compared with: the run's digits, the digit classifier and the real-data row.

:class:`Reference` fingerprints the data and the classifier (for the cache key) and computes the
classifier's pass over the real test digits once: their probabilities, features, feature statistics
and PRDC radii, reused by every checkpoint. :func:`evaluate_data` is the real-data reference row.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import Iterable

import numpy as np
import pandas as pd
import torch

from .. import columns as C
from vaediag.datasets.classes import MNIST_CLASSES, ClassNames
from vaediag.datasets.classifier import ClassifierOutput, classify
from vaediag.datasets.data import MNISTData
from vaediag.models.likelihood import train_eval_indices
from ..metrics import frechet, generation, judges
from ..metrics.prdc import compute_prdc, nearest_neighbour_radii
from vaediag.store.rundir import PAIRS_COLUMNS, PER_CLASS_COLUMNS
from .cache import RowResult
from .settings import EvalSettings

BATCH = 4096  # images per encoder / decoder / classifier batch


def sha256_tensors(tensors: Iterable[tuple[str, torch.Tensor]]) -> str:
    """SHA-256 of named tensors (name, dtype, shape and bytes of each), independent of their device."""
    digest = hashlib.sha256()
    for name, t in tensors:
        t = t.detach().cpu().contiguous()
        digest.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        digest.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return digest.hexdigest()


@dataclass
class RealFeatures:
    """The classifier's view of the real test digits."""

    probs: np.ndarray  # float64 [N, 10] class probabilities
    features: np.ndarray  # float32 [N, F] penultimate features
    statistics: tuple[np.ndarray, np.ndarray]  # feature mean and covariance (Fréchet distance)
    radii: np.ndarray  # distance of each feature vector to its prdc_k-th neighbour (PRDC)


class Reference:
    """The run's images on ``device`` (float images, labels), the classifier and their fingerprints;
    ``classes``: the names of the dataset's classes, written into the tables (default MNIST's digits)."""

    def __init__(self, data: MNISTData, classifier, device: torch.device, settings: EvalSettings,
                 train_seed: int = 0, classes: ClassNames = MNIST_CLASSES):
        self.device = device
        self.classes = classes
        self.settings = settings
        self.classifier = classifier
        self.train_labels = data.train_labels.cpu().numpy().astype(np.int64)
        self.test_labels = data.test_labels.cpu().numpy().astype(np.int64)
        self.data_fingerprint = sha256_tensors(
            [("train_images", data.train_images), ("train_labels", data.train_labels),
             ("test_images", data.test_images), ("test_labels", data.test_labels)])
        self.classifier_fingerprint = sha256_tensors(sorted(classifier.state_dict().items()))
        # a calibrated judge divides its logits by a temperature kept beside (not in) its state_dict
        self.classifier_temperature = float(getattr(classifier, "temperature", 1.0))
        self.train_x = MNISTData.to_float(data.train_images.to(device))
        self.test_x = MNISTData.to_float(data.test_images.to(device))
        # the run's fixed training subset (as many digits as the test set), the one training measures after each
        # epoch (history.csv train_eval_*): the training IWAE bound is computed on it
        self.train_seed = int(train_seed)
        self.train_eval_index = train_eval_indices(self.n_train, self.n_test, self.train_seed)
        self.train_eval_x = self.train_x[torch.as_tensor(self.train_eval_index, device=self.train_x.device)]
        self.label_shares = np.bincount(self.test_labels, minlength=C.N_CLASSES)[: C.N_CLASSES] / self.n_test
        self._real: RealFeatures | None = None

    @property
    def n_train(self) -> int:
        return len(self.train_labels)

    @property
    def n_test(self) -> int:
        return len(self.test_labels)

    @property
    def fingerprints(self) -> dict:
        """What every cached row depends on besides its checkpoint: settings, data and classifier."""
        return {"settings": self.settings.to_dict(), "data": self.data_fingerprint,
                "classifier": self.classifier_fingerprint, "classifier_temperature": self.classifier_temperature,
                "train_subset_seed": self.train_seed}

    def classify(self, images: torch.Tensor) -> ClassifierOutput:
        return classify(self.classifier, images, batch_size=BATCH)

    def real(self) -> RealFeatures:
        """The classifier's pass over the real test digits, computed on first use."""
        if self._real is None:
            out = self.classify(self.test_x)
            probs, features = np.asarray(out.probs, np.float64), np.asarray(out.features)
            self._real = RealFeatures(probs, features, frechet.feature_statistics(features),
                                      nearest_neighbour_radii(features, self.settings.prdc_k))
        return self._real


def evaluate_data(ref: Reference) -> RowResult:
    """The real-data reference row: what a perfect generator would score.

    ``prior_*`` are the classifier's predictions on the real test digits (with their bootstrap / Wilson intervals
    over the test digits; ``prior_unreadable_share``: the real digits the judge cannot read), ``recon_accuracy``
    and per class ``recon_recall`` the classifier's accuracy on them, the Fréchet distance and PRDC compare two
    seeded random halves of the test set. Latent, loss and code-judge columns stay NaN.
    """
    start = time.perf_counter()
    settings, real = ref.settings, ref.real()
    below = settings.unreadable_below
    labels = generation.judged_labels(real.probs, below)
    row = generation.with_prefix({**generation.histogram_metrics(real.probs, ref.test_labels, unreadable_below=below),
                                  **generation.readability_metrics(real.probs, below)}, C.PRIOR)
    row[C.PRIOR_ENTROPY_NORM_CI_LOW], row[C.PRIOR_ENTROPY_NORM_CI_HIGH] = generation.labels_entropy_norm_interval(
        labels, seed=settings.seed)
    row[C.RECON_ACCURACY] = float(np.mean(labels == ref.test_labels))
    perm = np.random.default_rng(settings.seed).permutation(ref.n_test)
    half_a, half_b = real.features[perm[: ref.n_test // 2]], real.features[perm[ref.n_test // 2 :]]
    row[C.FRECHET] = frechet.frechet_distance(half_b, half_a)
    if min(len(half_a), len(half_b)) > settings.prdc_k:
        row.update(compute_prdc(half_a, half_b, k=settings.prdc_k))
    low, high = generation.label_share_intervals(labels)
    recall = dict(zip((C.CLASS_RECON_RECALL, *C.ci_columns(C.CLASS_RECON_RECALL)),
                      judges.class_recall(labels, ref.test_labels)))
    nan = np.full(C.N_CLASSES, np.nan)
    per_class = pd.DataFrame({  # latent, grid, inside-share and code-judge columns: NaN (no model, no grid)
        **{column: nan for column in PER_CLASS_COLUMNS},
        C.SOURCE: C.SOURCE_DATA, C.EPOCH: C.DATA_EPOCH, C.CLASS: np.arange(C.N_CLASSES),
        C.CLASS_NAME: list(ref.classes.names), **recall,
        C.CLASS_PRIOR_SHARE: generation.label_shares(labels), C.CLASS_PRIOR_SHARE_CI_LOW: low,
        C.CLASS_PRIOR_SHARE_CI_HIGH: high, C.CLASS_DATA_SHARE: ref.label_shares,
    }, columns=PER_CLASS_COLUMNS)
    timings = {"total": round(time.perf_counter() - start, 4)}
    return RowResult(row, per_class, pd.DataFrame(columns=PAIRS_COLUMNS), timings)
