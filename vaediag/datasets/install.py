"""What every download route shares: installing verified files atomically, the temporary folders of the routes
(``.<route>-<pid>-...`` in the data root and ``root/.downloads``) and their clean-up after a kill, one-line
messages of failures."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from vaediag.errors import DataError
from vaediag.files import atomic

if TYPE_CHECKING:
    from .registry import DatasetSpec

Log = Callable[[str], None]

# The download routes' temporary folders, in the data root and in root/.downloads: ".<route>-<pid>-<random>",
# so that a later provisioning can tell (and remove) the ones whose process was killed.
_STAGING = re.compile(r"^\.(staging|apt|pip)-(\d+)-")
DOWNLOAD_TIMEOUT_S = 10.0  # per socket operation of torchvision's download, so an offline machine fails fast
PIP_TIMEOUT_S = 600.0
APT_TIMEOUT_S = 600.0  # apt-get download of the 31 MB package (measured: about 1 s on a Debian mirror)


def staging_prefix(route: str) -> str:
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


def install_verified(blobs: dict[str, bytes], raw: Path, spec: DatasetSpec) -> None:
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


def brief(exc: BaseException) -> str:
    """The last non-empty line of an error (or of a subprocess's stderr): keeps messages to one line."""
    text = getattr(exc, "stderr", None) or str(exc)
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[-1] if lines else type(exc).__name__
