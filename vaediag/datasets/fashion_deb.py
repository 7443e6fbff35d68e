"""Fashion-MNIST offline from Debian's package ``dataset-fashion-mnist`` (the official gzipped IDX files):
``$VAEDIAG_FASHION_DEB`` (a local ``.deb``), else a cached ``root/.downloads/dataset-fashion-mnist_*.deb``, else
``apt-get download`` (no root needed). The package is read in memory (:mod:`.deb`); nothing is extracted."""

from __future__ import annotations

import gzip
import os
import subprocess
import tempfile
import zlib
from pathlib import Path

from vaediag.errors import DataError

from .install import APT_TIMEOUT_S, Log, brief as _brief, install_verified, staging_prefix as _staging_prefix
from .registry import FASHION_MNIST_SHA256, SPECS, raw_dir

DEB_PACKAGE = "dataset-fashion-mnist"  # Debian's package of the official gzipped Fashion-MNIST IDX files
DEB_ENV = "VAEDIAG_FASHION_DEB"  # path to a local copy of the .deb: skips ``apt-get download``
DEB_DATA_DIR = "./usr/share/datasets/fashion-mnist/"  # where the package installs the files (``<name>.gz``)



def fetch(root: Path, names: list[str], log: Log) -> str:
    """Install the named Fashion-MNIST IDX files under ``root`` from the package (verified)."""
    deb = _find_deb(root, log)
    blobs = idx_files_from_deb(deb)
    install_verified({name: blobs[name] for name in names}, raw_dir(root, "fashion-mnist"), SPECS["fashion-mnist"])
    return f"the Debian package {deb.name}"


def idx_files_from_deb(deb: str | os.PathLike) -> dict[str, bytes]:
    """The 4 Fashion-MNIST IDX files (name -> decompressed bytes, not yet verified) from a
    ``dataset-fashion-mnist`` ``.deb``, read in memory (:func:`vaediag.datasets.deb.read_deb_files`)."""
    from vaediag.datasets.deb import read_deb_files

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


