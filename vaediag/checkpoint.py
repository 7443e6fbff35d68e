"""Checkpoints: one ``.pt`` file per saved epoch, loadable with ``torch.load(weights_only=True)``.

Layout of a run directory::

    RUN_DIR/config.json                 model + training configuration, versions
    RUN_DIR/history.csv                 one row per epoch (see vaediag.columns)
    RUN_DIR/checkpoints/epoch_005.pt    model, optimizer, RNG states, config, epoch, history
    RUN_DIR/checkpoints/last.pt         rolling copy of the newest epoch, used by --resume

Every file is written atomically (temp file + rename), so a killed run never leaves half a checkpoint.
"""

from __future__ import annotations

import pickle
import re
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from . import atomic
from .atomic import file_sha256  # noqa: F401  (re-exported: evaluate keys its cache on it)
from .errors import CheckpointError, RunDirError
from .models import VAE, VAEConfig, build_model

FORMAT = "vaediag-checkpoint-v1"
CHECKPOINT_DIR = "checkpoints"
LAST = "last.pt"
_EPOCH_FILE = re.compile(r"^epoch_(\d+)\.pt$")


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / CHECKPOINT_DIR


def epoch_filename(epoch: int) -> str:
    return f"epoch_{epoch:03d}.pt"


def save_state(path: str | Path, state: dict) -> None:
    """Atomically write a checkpoint dictionary."""
    atomic.write_with(path, lambda tmp: torch.save(state, tmp))


def read_state(path: str | Path, map_location: str | torch.device = "cpu") -> dict:
    """Read and validate a checkpoint dictionary; any problem is a one-line :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise CheckpointError(f"cannot read checkpoint {path} (truncated or corrupt?): {first}") from None
    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a vaediag checkpoint (format {FORMAT} expected)")
    for key in ("epoch", "model_config", "model_state"):
        if key not in state:
            raise CheckpointError(f"checkpoint {path} lacks {key!r}")
    return state


@dataclass
class LoadedCheckpoint:
    """A model restored from a checkpoint (eval mode), with its config and the epoch it was saved at."""

    model: VAE
    config: VAEConfig
    epoch: int
    train_config: dict
    path: Path


def load_checkpoint(path: str | Path, device: str | torch.device = "cpu") -> LoadedCheckpoint:
    """Load a checkpoint file into a model in eval mode. Raises :class:`CheckpointError` on a bad file."""
    state = read_state(path, map_location=device)
    config = VAEConfig.from_dict(state["model_config"])
    model = build_model(config)
    try:
        model.load_state_dict(state["model_state"])
    except RuntimeError as exc:
        raise CheckpointError(f"checkpoint {path} does not match its model config: {str(exc).splitlines()[0]}") from None
    model.to(device).eval()
    return LoadedCheckpoint(model, config, int(state["epoch"]), dict(state.get("train_config", {})), Path(path))


def list_checkpoints(run_dir: str | Path) -> dict[int, Path]:
    """Map epoch -> checkpoint file for every ``epoch_XXX.pt`` in RUN_DIR/checkpoints (sorted by epoch)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"run directory not found: {run_dir}")
    found = {}
    ckdir = checkpoint_dir(run_dir)
    if ckdir.is_dir():
        for p in ckdir.iterdir():
            m = _EPOCH_FILE.match(p.name)
            if m:
                found[int(m.group(1))] = p
    return dict(sorted(found.items()))
