"""The per-checkpoint evaluation cache: one json (row, per-class and pair tables, timings) and one npz
(the artifact arrays) per entry, named by :meth:`Run.cache_paths`.

An entry is keyed by the SHA-256 of everything its numbers depend on (:func:`cache_key`): the cache
format, the settings, the data, the classifier weights, the registered metric columns and the checkpoint
file. An entry is used only
when its json names that key and its npz has the SHA-256 the json recorded; anything else (a missing,
truncated or unreadable file) is a miss, and the row is computed again.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np
import pandas as pd

from vaediag.files import atomic
from ..errors import RunDirError
from vaediag.store.rundir import PAIRS_COLUMNS, PER_CLASS_COLUMNS, Run, json_text, load_npz, save_npz

CACHE_FORMAT = "vaediag-eval-v4"  # bump when a computation or a cached table changes: old entries are then ignored


@dataclass
class RowResult:
    """One evaluated row (a checkpoint, or the real data): what a cache entry holds.

    ``row``: metric column -> value; ``per_class`` / ``pairs``: that row's part of the per-class and pair
    tables; ``timings``: seconds per stage; ``artifact``: the arrays behind the figures (checkpoints only).
    """

    row: dict
    per_class: pd.DataFrame
    pairs: pd.DataFrame
    timings: dict
    artifact: dict[str, np.ndarray] | None = None


def cache_key(fingerprints: dict, checkpoint: str) -> str:
    """The entry key: SHA-256 of the cache format, ``fingerprints`` (settings, data, classifier, columns)
    and the checkpoint's SHA-256 (``"data"`` for the real-data row)."""
    obj = {"format": CACHE_FORMAT, **fingerprints, "checkpoint": checkpoint}
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def load(run: Run, epoch: int | None, key: str) -> RowResult | None:
    """The cached row of checkpoint ``epoch`` (None: the real-data row), or None on any miss."""
    json_path, npz_path = run.cache_paths(Run.cache_entry(epoch), key)
    if not json_path.is_file():
        return None
    try:
        entry = json.loads(json_path.read_text(encoding="utf-8"))
        if entry.get("key") != key or not all(isinstance(entry.get(k), dict) for k in ("row", "timings")):
            return None
        artifact = None
        if epoch is not None:
            if not npz_path.is_file() or atomic.file_sha256(npz_path) != entry["artifact_sha256"]:
                return None
            artifact = load_npz(npz_path)
        per_class = pd.DataFrame(entry["per_class"], columns=PER_CLASS_COLUMNS)
        pairs = pd.DataFrame(entry["pairs"], columns=PAIRS_COLUMNS)
        return RowResult(entry["row"], per_class, pairs, dict(entry["timings"], cached=True), artifact)
    except (ValueError, KeyError, TypeError, OSError, RunDirError):
        return None  # an unreadable entry is simply recomputed


def store(run: Run, epoch: int | None, key: str, result: RowResult) -> None:
    """Write the entry of checkpoint ``epoch`` (None: the real-data row): the npz first, then the json
    that records the npz's SHA-256."""
    json_path, npz_path = run.cache_paths(Run.cache_entry(epoch), key)
    entry = {"key": key, "row": result.row, "per_class": result.per_class.to_dict("list"),
             "pairs": result.pairs.to_dict("list"), "timings": result.timings}
    if result.artifact is not None:
        atomic.write_with(npz_path, lambda tmp: save_npz(tmp, result.artifact))
        entry["artifact_sha256"] = atomic.file_sha256(npz_path)
    atomic.write_text(json_path, json_text(entry))
