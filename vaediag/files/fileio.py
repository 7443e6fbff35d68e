"""Reading and writing the file formats of a run (CSV, JSON, npz) with one-line errors
(:class:`~vaediag.errors.RunDirError`)."""

from __future__ import annotations

import errno
import json
import os
import stat
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vaediag import columns as C
from vaediag.errors import RunDirError, first_line


def json_text(obj: Any) -> str:
    return json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n"


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


def save_npz(path: Path, arrays: Mapping[str, np.ndarray]) -> None:
    with open(path, "wb") as fh:  # a file object: np.savez would otherwise append ".npz" to a temp name
        np.savez(fh, **arrays)


def load_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except (OSError, ValueError, EOFError) as exc:
        raise RunDirError(f"cannot read {path}: {first_line(exc)}") from None
    except Exception as exc:  # zipfile.BadZipFile and friends from a truncated file
        raise RunDirError(f"cannot read {path} (truncated or corrupt?): {first_line(exc)}") from None


def read_csv(path: Path, **kw) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kw)
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise RunDirError(f"cannot read {path}: {first_line(exc)}") from None


def read_json(path: Path):
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunDirError(f"cannot read {path}: {first_line(exc)}") from None


def int_epochs(values: pd.Series, path: Path) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce")
    if numbers.isna().any() or (numbers != numbers.round()).any():
        raise RunDirError(f"{path}: the {C.EPOCH!r} column must hold whole numbers")
    return numbers.astype(int)


def unique_epochs(epochs: pd.Series, path: Path) -> None:
    """:class:`RunDirError` when an epoch appears twice in ``epochs`` (rows of one kind of ``path``)."""
    repeated = epochs[epochs.duplicated()]
    if len(repeated):
        raise RunDirError(f"{path}: epoch {repeated.iloc[0]} appears more than once")


def append_text(path: Path, text: str) -> None:
    """Append ``text`` to the file ``path`` (created when missing) without following a symbolic link: a link, a
    hard link to another file, or anything but a plain file there is refused (``OSError``, ``ELOOP``) and
    nothing is written through it. For log files that several processes append to (one ``write`` per call)."""
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
    fd = os.open(path, flags, 0o644)
    try:
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            raise OSError(errno.ELOOP, "not a plain file (a link?)", str(path))
        os.write(fd, text.encode("utf-8"))
    finally:
        os.close(fd)


def is_plain_or_missing(path: Path) -> bool:
    """Whether ``path`` is absent or a plain file that is no symbolic link (what vaediag may append to)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return True
    return stat.S_ISREG(st.st_mode) and st.st_nlink == 1
