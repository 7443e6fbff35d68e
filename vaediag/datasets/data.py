"""Loading a registered dataset (:mod:`.registry`) as uint8 tensors, provisioned offline first when missing.

Typical use::

    data = load_dataset("fashion-mnist", train_size=2000, test_size=500)   # prepares the data if missing
    x = MNISTData.to_float(data.train_images)                             # float32 [N, 1, 28, 28] in [0, 1]

``load_mnist`` is the MNIST case of :func:`load_dataset`.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vaediag.devices import resolve_device
from vaediag.errors import DataError

from .install import Log, brief as _brief
from .provision import prepare_dataset
from .registry import dataset_spec, default_root


@dataclass
class MNISTData:
    """An MNIST-format dataset (MNIST, Fashion-MNIST) as tensors on one device: images uint8 [N, 28, 28],
    labels int64 [N] (0-9)."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor

    @property
    def n_train(self) -> int:
        return int(self.train_labels.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.test_labels.shape[0])

    @staticmethod
    def to_float(images: torch.Tensor) -> torch.Tensor:
        """uint8 [N, 28, 28] -> float32 [N, 1, 28, 28] in [0, 1] (what models and the classifier take)."""
        return images.float().div_(255).unsqueeze_(1)


def load_dataset(dataset: str = "mnist", root: str | os.PathLike | None = None, *, train_size: int | None = None,
                 test_size: int | None = None, seed: int = 0, device: str | torch.device = "cpu",
                 log: Log = print) -> MNISTData:
    """Load a registered dataset (:data:`DATASETS`), preparing it first when missing, as uint8 tensors on ``device``.

    ``train_size`` / ``test_size`` pick seeded, class-stratified subsets (see :func:`stratified_subset`);
    None keeps the full 60k / 10k. An unknown ``dataset`` is a one-line
    :class:`~vaediag.datasets.classes.UnknownDatasetError` (a ConfigError).
    """
    from torchvision import datasets

    spec = dataset_spec(dataset)
    root = Path(root) if root is not None else default_root()
    if not all((spec.raw_dir(root) / name).is_file() for name in spec.sha256):
        log(f"{spec.title} not found in {root}; preparing it (one time) ...")
    prepare_dataset(spec.name, root, log=log)
    device = resolve_device(device) if isinstance(device, str) else torch.device(device)
    splits = []
    for train, size in ((True, train_size), (False, test_size)):
        try:
            ds = getattr(datasets, spec.folder)(root, train=train, download=False)
        except (RuntimeError, OSError, ValueError, TypeError, AssertionError) as exc:
            raise DataError(f"cannot load {spec.title} from {spec.raw_dir(root)}: {_brief(exc)}") from exc
        images, labels = ds.data, ds.targets
        if size is not None:
            idx = torch.from_numpy(stratified_subset(labels, size, seed))
            images, labels = images[idx], labels[idx]
        splits += [images.contiguous().to(device), labels.to(torch.int64).to(device)]
    return MNISTData(*splits)


def load_mnist(root: str | os.PathLike | None = None, *, train_size: int | None = None,
               test_size: int | None = None, seed: int = 0, device: str | torch.device = "cpu",
               log: Log = print) -> MNISTData:
    """:func:`load_dataset` of MNIST."""
    return load_dataset("mnist", root, train_size=train_size, test_size=test_size, seed=seed, device=device, log=log)


def stratified_subset(labels: np.ndarray | torch.Tensor, n: int, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``n`` items drawn without replacement, each class in proportion to its frequency.

    Class quotas use largest-remainder rounding (ties go to the smaller class label); items within a class
    are drawn with ``numpy.random.default_rng(seed)``. ``n`` must lie between the number of classes and
    ``len(labels)``, else :class:`DataError`.
    """
    labels = labels.cpu().numpy() if isinstance(labels, torch.Tensor) else np.asarray(labels)
    classes, counts = np.unique(labels, return_counts=True)
    if not len(classes) <= n <= len(labels):
        raise DataError(f"subset size {n} must be between {len(classes)} (one per class) and {len(labels)}")
    exact = n * counts / counts.sum()
    quota = np.floor(exact).astype(int)
    order = np.argsort(-(exact - quota), kind="stable")
    quota[order[: n - quota.sum()]] += 1
    rng = np.random.default_rng(seed)
    picked = [rng.choice(np.flatnonzero(labels == c), size=k, replace=False) for c, k in zip(classes, quota)]
    return np.sort(np.concatenate(picked))
