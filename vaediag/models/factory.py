"""``vaediag evaluate --model-factory package.module:function --weights PATH``: build a user's model and load weights.

:func:`load_factory_model` imports the user's module (their own code, by their choice; the current directory on
``sys.path`` as for ``python -m``), calls the factory with no arguments, checks the model protocol
(:func:`vaediag.models.protocol.check_model`), loads the weights with ``torch.load(..., weights_only=True)`` (a state_dict,
or a dict holding one under ``state_dict``) and ``load_state_dict(strict=True)``. Every failure is a one-line
:class:`~vaediag.errors.ConfigError` / :class:`~vaediag.errors.CheckpointError` naming what went wrong; nothing is
written.
"""

from __future__ import annotations

import importlib
import os
import pickle
import re
import sys
from pathlib import Path
from typing import Any

from vaediag.errors import CheckpointError, ConfigError, first_line, load_reason

_REFUSED_GLOBAL = re.compile(r"Unsupported global: GLOBAL (\S+)")  # torch.load(weights_only=True) met a pickled object
_SPEC = re.compile(r"^([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*):([A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)$")


def import_factory(spec: str):
    """The callable named by ``package.module:function`` (ConfigError naming the problem)."""
    m = _SPEC.match(spec or "")
    if not m:
        raise ConfigError(f"--model-factory {spec!r} is not of the form package.module:function")
    module_name, attr_path = m.groups()
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        module = importlib.import_module(module_name)
    except SystemExit as exc:  # sys.exit() at import is not an Exception, and must not end vaediag silently
        raise ConfigError(f"--model-factory: module {module_name!r} called sys.exit({exc.code!r}) at import") from None
    except Exception as exc:  # noqa: BLE001 - the user's module: any import failure is named
        raise ConfigError(f"--model-factory: module {module_name!r} does not import: "
                          f"{type(exc).__name__}: {first_line(exc)}") from None
    obj: Any = module
    for part in attr_path.split("."):
        if not hasattr(obj, part):
            raise ConfigError(f"--model-factory: module {module_name!r} has no attribute {attr_path!r}")
        obj = getattr(obj, part)
    if not callable(obj):
        raise ConfigError(f"--model-factory: {spec} is a {type(obj).__name__}, not callable")
    return obj


def read_state_dict(weights: str | Path) -> dict:
    """The state_dict in ``weights`` (``torch.load(weights_only=True)``): a dict of tensors, or a dict holding one
    under ``state_dict`` (vaediag's own checkpoints and ``evaluate_model(save_checkpoint=True)`` files)."""
    import torch

    path = Path(weights)
    if not path.is_file():
        raise CheckpointError(f"--weights {path}: no such file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - corrupt, truncated, or holding objects weights_only refuses
        refused = _REFUSED_GLOBAL.search(str(exc)) if isinstance(exc, pickle.UnpicklingError) else None
        if refused:
            raise CheckpointError(f"--weights {path} holds pickled Python objects ({refused.group(1)}: e.g. a whole "
                                  f"model saved with torch.save(model)), which torch.load(weights_only=True) refuses "
                                  f"to run; save model.state_dict() instead") from None
        raise CheckpointError(f"--weights {path} does not load with torch.load(weights_only=True): "
                              f"{load_reason(exc, 'weights file')}") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if isinstance(obj, dict) and isinstance(obj.get("_metadata"), dict):
        obj = {k: v for k, v in obj.items() if k != "_metadata"}  # a state_dict's version record, kept as a key
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise CheckpointError(f"--weights {path} holds no state_dict (a dict of tensors, or a dict with one "
                              f"under 'state_dict'), but a {type(obj).__name__}")
    return obj


def load_weights(model, state: dict, weights: str | Path) -> None:
    """``model.load_state_dict(state, strict=True)``; CheckpointError naming the first missing / unexpected key
    or mismatched shape."""
    if not callable(getattr(model, "load_state_dict", None)) or not callable(getattr(model, "state_dict", None)):
        raise ConfigError(f"--weights given, but {type(model).__name__} has no load_state_dict (not an nn.Module)")
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    if missing or unexpected:
        what = (f"missing key {missing[0]!r}" if missing else "") + (", " if missing and unexpected else "") + \
               (f"unexpected key {unexpected[0]!r}" if unexpected else "")
        raise CheckpointError(f"--weights {weights} do not fit {type(model).__name__}: {what} "
                              f"({len(missing)} missing, {len(unexpected)} unexpected)")
    for k, v in own.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise CheckpointError(f"--weights {weights} do not fit {type(model).__name__}: {k!r} has shape "
                                  f"{list(state[k].shape)} in the file, {list(v.shape)} in the model")
    try:
        model.load_state_dict(state, strict=True)
    except Exception as exc:  # noqa: BLE001
        raise CheckpointError(f"--weights {weights} do not fit {type(model).__name__}: {first_line(exc)}") from None


def load_factory_model(spec: str, weights: str | Path, decoder: str = "probs"):
    """Build the model of ``spec`` with no arguments, check the protocol, load ``weights``; return the model."""
    from vaediag.models.protocol import check_model

    factory = import_factory(spec)
    try:
        model = factory()
    except SystemExit as exc:
        raise ConfigError(f"--model-factory: {spec}() called sys.exit({exc.code!r})") from None
    except Exception as exc:  # noqa: BLE001 - the user's factory
        raise ConfigError(f"--model-factory: {spec}() raised {type(exc).__name__}: {first_line(exc)}") from None
    check_model(model, decoder)
    load_weights(model, read_state_dict(weights), weights)
    check_model(model, decoder)  # the loaded weights must still give finite outputs of the right shape
    return model
