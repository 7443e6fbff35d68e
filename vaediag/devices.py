"""Choosing the compute device: ``auto`` is CUDA when available, else CPU."""

from __future__ import annotations

import torch

from .config import DEVICE_CHOICES
from .errors import ConfigError


def resolve_device(name: str = "auto") -> torch.device:
    """Return the torch device for ``auto|cpu|cuda`` (``cuda:N`` also accepted).

    Raises :class:`ConfigError` when CUDA is requested but not available.
    """
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {name} requested but no CUDA GPU is available (use --device cpu or auto)")
        return torch.device(name)
    raise ConfigError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}")
