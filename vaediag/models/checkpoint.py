"""Checkpoint files: model, optimizer, RNG states, configs, epoch and history in one ``.pt`` dictionary,
loadable with ``torch.load(weights_only=True)``. Where they live is :class:`vaediag.store.rundir.Run`'s business.

Every file is written atomically (temp file + rename), so a killed run never leaves half a checkpoint.
Every file read is checked against the schema below before anything in it is used (:func:`validate_state`):
a file that passes ``weights_only`` can still hold anything a pickle of dicts, lists and tensors can.

Schema (``FORMAT``): ``epoch`` int >= 1; ``model_config`` a :class:`VAEConfig` dict; ``model_state`` the
tensors of that model (names and shapes checked without allocating it); ``train_config`` a
:class:`TrainConfig` dict; for resuming also ``optimizer_state`` (Adam's ``state`` / ``param_groups``),
``rng`` (``generator`` and ``torch_cpu`` uint8 state tensors) and ``history`` (one row dict per epoch
1 ... ``epoch``, the columns of history.csv).
"""

from __future__ import annotations

import pickle
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch

from vaediag.files import atomic
from vaediag import columns as C
from vaediag.models.train_config import TrainConfig
from vaediag.errors import CheckpointError, ConfigError, NonFiniteError, first_line, load_reason
from vaediag.models.nets import VAE, VAEConfig, build_model

FORMAT = "vaediag-checkpoint-v1"
RESUME_KEYS = ("optimizer_state", "rng", "history", "train_config")


def save_state(path: str | Path, state: dict) -> None:
    """Atomically write a checkpoint dictionary; a failed write (full disk, read-only folder) is a one-line
    :class:`CheckpointError` and leaves any previous file at ``path`` as it was."""
    try:
        atomic.write_with(path, lambda tmp: torch.save(state, tmp))
    except atomic.WriteError as exc:  # already "cannot write PATH: reason"
        raise CheckpointError(str(exc)) from None
    except OSError as exc:
        raise CheckpointError(f"cannot write {path}: {exc.strerror or first_line(exc)}") from None
    except RuntimeError as exc:  # torch's zip writer on a full disk: "[enforce fail at inline_container.cc...]"
        raise CheckpointError(f"cannot write {path} (is the disk full?): {torch_reason(exc)}") from None


def read_state(path: str | Path, map_location: str | torch.device = "cpu", *, resumable: bool = False) -> dict:
    """Read and validate a checkpoint dictionary (``resumable``: also what resuming training needs);
    any problem is a one-line :class:`CheckpointError`."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint not found: {path}")
    try:
        state = torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, OSError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        raise CheckpointError(f"cannot read checkpoint {path} (truncated or corrupt?): {torch_reason(exc)}") from None
    validate_state(state, path, resumable=resumable)
    return state


def torch_reason(exc: BaseException) -> str:
    """torch's error in a few words: its first sentence, without the advice to load with ``weights_only=False``
    (:func:`vaediag.errors.load_reason`)."""
    return load_reason(exc)


def validate_state(state: object, path: str | Path, *, resumable: bool = False) -> None:
    """:class:`CheckpointError` unless ``state`` follows the checkpoint schema (module docstring).

    The model tensors are checked against the shapes of the model their config describes, built on the
    ``meta`` device (no memory), so a config such as ``latent_dim=10**12`` fails here, before allocation.
    """
    def bad(what: str) -> CheckpointError:
        return CheckpointError(f"checkpoint {path} is damaged: {what}")

    if not isinstance(state, dict) or state.get("format") != FORMAT:
        raise CheckpointError(f"{path} is not a vaediag checkpoint (format {FORMAT} expected)")
    for key in ("epoch", "model_config", "model_state", *(RESUME_KEYS if resumable else ())):
        if key not in state:
            raise CheckpointError(f"checkpoint {path} lacks {key!r}")
    epoch = state["epoch"]
    if not isinstance(epoch, int) or isinstance(epoch, bool) or epoch < 1:
        raise bad(f"epoch {epoch!r} is not an integer >= 1")
    if not isinstance(state["model_config"], dict):
        raise bad("model_config is not a dictionary")
    try:
        config = VAEConfig.from_dict(state["model_config"])
    except (ConfigError, TypeError) as exc:
        raise bad(f"model_config: {exc}") from None
    _check_model_state(state["model_state"], config, bad, path)
    if "train_config" in state:
        if not isinstance(state["train_config"], dict):
            raise bad("train_config is not a dictionary")
        try:
            TrainConfig.from_dict(state["train_config"])
        except ConfigError as exc:
            raise bad(f"train_config: {exc}") from None
    if resumable:
        _check_resume_parts(state, epoch, bad)


def _check_model_state(model_state: object, config: VAEConfig, bad, path) -> None:
    if not isinstance(model_state, dict) or not all(
            isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in model_state.items()):
        raise bad("model_state is not a dictionary of tensors")
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in build_model(config).state_dict().items()}
    got = {k: tuple(v.shape) for k, v in model_state.items()}
    if got != expected:
        diff = sorted(set(got) ^ set(expected)) or [k for k in expected if got[k] != expected[k]]
        raise bad(f"model_state does not fit its model_config ({config.model}, latent {config.latent_dim}): "
                  f"{', '.join(diff[:3])}{' ...' if len(diff) > 3 else ''}")
    for name, tensor in model_state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            n_bad = int((~torch.isfinite(tensor)).sum())
            raise NonFiniteError(f"checkpoint {path} holds NaN or infinite weights "
                                 f"({name}: {n_bad} of {tensor.numel()} values); a model with NaN weights "
                                 f"cannot be evaluated or trained further")


def _check_resume_parts(state: dict, epoch: int, bad) -> None:
    opt = state["optimizer_state"]
    if not (isinstance(opt, dict) and isinstance(opt.get("state"), dict) and isinstance(opt.get("param_groups"), list)):
        raise bad("optimizer_state is not an optimizer state (state, param_groups)")
    rng = state["rng"]
    if not (isinstance(rng, dict) and all(isinstance(rng.get(k), torch.Tensor) and rng[k].dtype == torch.uint8
                                          for k in ("generator", "torch_cpu"))):
        raise bad("rng does not hold the generator and torch_cpu states (uint8 tensors)")
    history = state["history"]
    if not (isinstance(history, list) and all(isinstance(r, dict) and set(C.HISTORY_COLUMNS_0_2) <= set(r)
                                              for r in history)):
        raise bad(f"history is not a list of rows with the columns {', '.join(C.HISTORY_COLUMNS_0_2)}")
    if [r[C.EPOCH] for r in history] != list(range(1, epoch + 1)):
        raise bad(f"history does not hold one row for each epoch 1 ... {epoch}")
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for r in history for v in r.values()):
        raise bad("history holds values that are not numbers")


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
