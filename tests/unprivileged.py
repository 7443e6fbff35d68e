"""Read-only folders for tests, also when the tests run as root (who may write anywhere).

``with read_only(path) as ro:`` gives a read-only copy of ``path`` (or ``path`` itself made read-only)
and runs the body so that the permissions apply: as root, with the effective user ``nobody`` (the copy
lives in a world-readable temporary folder, and the modules the body needs are imported beforehand,
since root's Python installation may not be readable by ``nobody``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path

NOBODY = 65534


def _set_modes(path: Path, dir_mode: int, file_mode: int) -> None:
    for root, dirs, files in os.walk(path):
        os.chmod(root, dir_mode)
        for name in files:
            os.chmod(os.path.join(root, name), file_mode)


@contextlib.contextmanager
def read_only(path: Path, *, run_dir: bool = False):
    """Yield a read-only version of folder ``path`` (with ``run_dir``: also a writable, empty RUN_DIR path)."""
    as_root = os.geteuid() == 0
    base = Path(tempfile.mkdtemp(prefix="vaediag-ro-")) if as_root else path.parent
    if as_root:
        os.chmod(base, 0o755)
        shutil.copytree(path, base / path.name)
        import encodings.hex_codec  # noqa: F401  (imported lazily by torchvision's MNIST reader)
        import modulefinder  # noqa: F401
        import torchvision.datasets  # noqa: F401
    ro = base / path.name
    run = base / (path.name + "-run")
    if run_dir:
        run.mkdir(mode=0o777)
        os.chmod(run, 0o777)
    _set_modes(ro, 0o555, 0o444)
    try:
        if as_root:
            os.setegid(NOBODY)
            os.seteuid(NOBODY)
        try:
            yield (ro, run) if run_dir else ro
        finally:
            if as_root:
                os.seteuid(0)
                os.setegid(0)
    finally:
        _set_modes(ro, 0o755, 0o644)
        if as_root:
            shutil.rmtree(base, ignore_errors=True)
