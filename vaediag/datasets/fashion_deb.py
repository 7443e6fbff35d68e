"""Fashion-MNIST offline from Debian's package ``dataset-fashion-mnist`` (the official gzipped IDX files):
``$VAEDIAG_FASHION_DEB`` (a local ``.deb``), else a cached ``root/.downloads/dataset-fashion-mnist_*.deb``, else
``apt-get download`` (no root needed). The package is read in memory (:mod:`.deb`); nothing is extracted."""

from __future__ import annotations

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
# the sizes of the official IDX files (header + 28 x 28 bytes per image, or 8 + one byte per label): nothing
# is ever decompressed past them, however large a forged package claims its files are
IDX_BYTES = {"train-images-idx3-ubyte": 16 + 60_000 * 784, "train-labels-idx1-ubyte": 8 + 60_000,
             "t10k-images-idx3-ubyte": 16 + 10_000 * 784, "t10k-labels-idx1-ubyte": 8 + 10_000}
GZIP_SLACK = 2**20  # a .gz of incompressible bytes is a little larger than the bytes themselves


def fetch(root: Path, names: list[str], log: Log) -> str:
    """Install the named Fashion-MNIST IDX files under ``root`` from the package (verified). A cached
    ``.deb`` in ``root/.downloads`` that turns out corrupt (unreadable, or its files fail their SHA-256) is
    removed and downloaded once again; ``$VAEDIAG_FASHION_DEB`` (the user's own file) is never touched."""
    deb, cached = _find_deb(root, log)
    try:
        _install_from(deb, root, names)
    except DataError as exc:
        if not cached:
            raise
        log(f"Fashion-MNIST: the cached {deb.name} is unusable ({exc}); removing it and downloading it again")
        deb.unlink(missing_ok=True)
        deb = _download(root, log)
        _install_from(deb, root, names)
    return f"the Debian package {deb.name}"


def _install_from(deb: Path, root: Path, names: list[str]) -> None:
    blobs = idx_files_from_deb(deb)
    install_verified({name: blobs[name] for name in names}, raw_dir(root, "fashion-mnist"), SPECS["fashion-mnist"])


def idx_files_from_deb(deb: str | os.PathLike) -> dict[str, bytes]:
    """The 4 Fashion-MNIST IDX files (name -> decompressed bytes, not yet verified) from a
    ``dataset-fashion-mnist`` ``.deb``, read in memory (:func:`vaediag.datasets.deb.read_deb_files`); no file is
    read or decompressed past the size of the official one (:data:`IDX_BYTES`)."""
    from vaediag.datasets.deb import read_deb_files

    names = list(FASHION_MNIST_SHA256)
    packed = read_deb_files(deb, {f"{DEB_DATA_DIR}{name}.gz": IDX_BYTES[name] + GZIP_SLACK for name in names})
    return {name: _gunzip(packed[f"{DEB_DATA_DIR}{name}.gz"], IDX_BYTES[name], f"{deb}: {name}.gz") for name in names}


def _gunzip(blob: bytes, limit: int, source: str) -> bytes:
    """``blob`` decompressed (gzip), refused as soon as it would exceed ``limit`` bytes."""
    inflate = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
    try:
        out = inflate.decompress(blob, limit + 1)
        if len(out) > limit or inflate.unconsumed_tail:
            raise DataError(f"{source} decompresses to more than the {limit} bytes of the official file "
                            f"(a corrupt or forged package); nothing was kept")
        if not inflate.eof:
            raise DataError(f"{source} is corrupt (truncated gzip stream)")
    except zlib.error as exc:
        raise DataError(f"{source} is corrupt ({_brief(exc)})") from None
    return out


def _find_deb(root: Path, log: Log) -> tuple[Path, bool]:
    """The ``dataset-fashion-mnist`` package and whether it is vaediag's own cached copy: ``$VAEDIAG_FASHION_DEB``,
    else the newest cached ``root/.downloads/dataset-fashion-mnist_*.deb``, else ``apt-get download`` into
    ``root/.downloads``."""
    env = os.environ.get(DEB_ENV)
    if env:
        path = Path(env).expanduser()
        if not path.is_file():
            raise DataError(f"{DEB_ENV}={env} does not name a file")
        return path, False
    cached = sorted(p for p in (root / ".downloads").glob(f"{DEB_PACKAGE}_*.deb") if not p.is_symlink())
    if cached:
        return cached[-1], True
    return _download(root, log), False


def _download(root: Path, log: Log) -> Path:
    """``apt-get download`` the package into ``root/.downloads`` (a staging folder first, then renamed)."""
    downloads = root / ".downloads"
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
