"""Checkpoint files: model, optimizer, RNG states, configs, epoch and history in one ``.pt`` dictionary,
loadable with ``torch.load(weights_only=True)``. Where they live is :class:`vaediag.rundir.Run`'s business.

Every file is written atomically (temp file + rename), so a killed run never leaves half a checkpoint.
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from . import atomic
from .errors import CheckpointError, first_line
from .models import VAE, VAEConfig, build_model

FORMAT = "vaediag-checkpoint-v1"


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
        raise CheckpointError(f"cannot read checkpoint {path} (truncated or corrupt?): {first_line(exc)}") from None
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
        raise CheckpointError(f"checkpoint {path} does not match its model config: {first_line(exc)}") from None
    model.to(device).eval()
    return LoadedCheckpoint(model, config, int(state["epoch"]), dict(state.get("train_config", {})), Path(path))
