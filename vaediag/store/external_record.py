"""The record of an external run (a user's model evaluated with :func:`vaediag.evaluate_model`): which epochs were
evaluated under which cache key (``eval/external.json``), the user's state_dicts saved as checkpoints, and the
per-epoch losses the user hands over (history.csv, :func:`history_from_user`)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vaediag import columns as C
from vaediag.errors import ConfigError, RunDirError
from vaediag.files import atomic
from vaediag.files.fileio import read_json

from .ranges import check_ranges
from .rundir import Run


def read_entries(run: Run) -> dict[int, str]:
    """Evaluated epoch -> the cache key of its row, ascending ({} when none yet); :class:`RunDirError` for an
    edited file."""
    path = run.external_path
    if not path.is_file():
        return {}
    entries = read_json(path)
    if not isinstance(entries, dict) or not isinstance(entries.get("epochs"), dict):
        raise RunDirError(f"{path} does not hold the evaluated epochs; was it edited?")
    try:
        out = dict(sorted((int(e), str(k)) for e, k in entries["epochs"].items()))
    except ValueError:
        raise RunDirError(f"{path}: epochs must be integers; was it edited?") from None
    if any(e < 1 for e in out):
        raise RunDirError(f"{path}: epochs must be integers >= 1, got {min(out)}; was it edited?")
    return out


def write_entries(run: Run, entries: Mapping[int, str]) -> None:
    atomic.write_json(run.external_path, {"epochs": {str(e): k for e, k in sorted(entries.items())}})


def write_checkpoint(run: Run, epoch: int, payload: dict) -> Path:
    """Store ``payload`` (``{"format", "state_dict", "class", "epoch"}``) as the epoch's checkpoint file,
    atomically; return its path."""
    import torch  # only when a checkpoint is saved: reading a run needs no torch

    path = run.checkpoint_path(epoch)
    atomic.write_with(path, lambda tmp: torch.save(payload, tmp))
    return path


# ============================================================================================ the user's history
HISTORY_KEYS = tuple(C.HISTORY_COLUMNS[1:])  # what a user may hand over: train_loss, test_loss, ..., epoch_seconds


def _number(value: Any) -> Any:
    """A loss appended as a one-element tensor or a numpy scalar, as a Python number; anything else as given."""
    numel = getattr(value, "numel", None)
    if callable(numel) and numel() == 1 and callable(getattr(value, "item", None)):
        return value.item()
    return value.item() if isinstance(value, np.generic) else value


def _epoch_values(name: str, values: Any) -> dict[int, Any]:
    """One column's values by epoch: a mapping epoch -> value, or a sequence for epochs 1, 2, ..."""
    if isinstance(values, Mapping):
        items = list(values.items())
    elif isinstance(values, pd.Series):
        items = list(values.items())
    elif isinstance(values, np.ndarray):
        items = list(enumerate(values.ravel().tolist(), start=1))
    elif isinstance(values, (list, tuple)):
        items = list(enumerate(values, start=1))
    else:
        raise ConfigError(f"history[{name!r}] must be a list (epochs 1, 2, ...) or a mapping epoch -> value, got "
                          f"{type(values).__name__}")
    out = {}
    for epoch, value in items:
        value = _number(value)
        if isinstance(epoch, bool) or not isinstance(epoch, (int, np.integer)) or epoch < 1:
            raise ConfigError(f"history[{name!r}]: epochs must be integers >= 1, got {epoch!r}")
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float, np.number))):
            raise ConfigError(f"history[{name!r}] at epoch {epoch}: {value!r} is not a number")
        out[int(epoch)] = math.nan if value is None else float(value)
    return out


def history_from_user(history: Any) -> pd.DataFrame:
    """The user's per-epoch losses as a history frame (index epoch, the columns of history.csv, NaN where not
    given): ``{"train_loss": [...], "test_loss": [...]}`` (lists for epochs 1, 2, ...; or mappings epoch ->
    value), or a DataFrame with an ``epoch`` column or an epoch index. Keys: :data:`HISTORY_KEYS`, numbers in
    nats per image like vaediag's own (a value outside a column's documented range is refused).
    :class:`ConfigError` (one line) for anything else."""
    if isinstance(history, pd.DataFrame):
        frame = history.set_index(C.EPOCH) if C.EPOCH in history.columns else history
        history = {str(k): frame[k] for k in frame.columns}
    if not isinstance(history, Mapping) or not history:
        raise ConfigError(f"history must be a non-empty mapping column -> per-epoch values, e.g. "
                          f"{{'train_loss': [...], 'test_loss': [...]}}, got {history!r:.80}")
    unknown = [k for k in history if k not in HISTORY_KEYS]
    if unknown:
        raise ConfigError(f"history: unknown column {unknown[0]!r}; known: {', '.join(HISTORY_KEYS)}")
    columns = {name: _epoch_values(name, values) for name, values in history.items()}
    epochs = sorted(set().union(*columns.values()))
    frame = pd.DataFrame({c: [columns.get(c, {}).get(e, math.nan) for e in epochs] for c in HISTORY_KEYS},
                         index=pd.Index(epochs, name=C.EPOCH), dtype=float)
    infinite = np.isinf(frame.to_numpy())
    if infinite.any():
        row, col = (int(i[0]) for i in infinite.nonzero())
        raise ConfigError(f"history[{HISTORY_KEYS[col]!r}] at epoch {epochs[row]} is infinite")
    try:
        check_ranges(frame, Path("history"), "history values are per-image losses in nats (Bernoulli NLL, KL) "
                                             "and seconds")
    except RunDirError as exc:
        raise ConfigError(str(exc)) from None
    return frame


def merged_history(recorded: pd.DataFrame, given: pd.DataFrame | None) -> pd.DataFrame:
    """The run's history.csv after a call: the recorded rows with ``given``'s epochs replaced (a later call
    knows the later losses, and may correct earlier ones)."""
    if given is None:
        return recorded
    kept = recorded[~recorded.index.isin(given.index)].reindex(columns=list(HISTORY_KEYS))
    out = pd.concat([kept, given]) if len(kept) else given.copy()
    out = out.sort_index()
    out.index.name = C.EPOCH
    return out
