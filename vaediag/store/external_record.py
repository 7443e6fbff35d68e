"""The record of an external run (a user's model evaluated with :func:`vaediag.evaluate_model`): which epochs were
evaluated under which cache key (``eval/external.json``), and the user's state_dicts saved as checkpoints."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from vaediag.errors import RunDirError
from vaediag.files import atomic
from vaediag.files.fileio import read_json

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
