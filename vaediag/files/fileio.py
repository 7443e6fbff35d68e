"""Reading and writing the file formats of a run (CSV, JSON, npz) with one-line errors
(:class:`~vaediag.errors.RunDirError`)."""

from __future__ import annotations

import json
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
