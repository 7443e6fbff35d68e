"""Choosing the compute device: ``auto`` is CUDA when available, else CPU.

Torch is imported when a device is resolved, not when this module loads (the CLI reads :data:`DEVICE_CHOICES`
at start-up).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from vaediag.errors import ConfigError

if TYPE_CHECKING:
    import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda")


def resolve_device(name: str = "auto") -> "torch.device":
    """Return the torch device for ``auto|cpu|cuda`` (``cuda:N`` also accepted).

    Raises :class:`ConfigError` when CUDA is requested but not available.
    """
    import torch

    if isinstance(name, torch.device):
        name = str(name)
    if name is not None and not isinstance(name, str):
        raise ConfigError(f"device must be one of {', '.join(DEVICE_CHOICES)} (or cuda:N), got {name!r}")
    name = (name or "auto").lower()
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cpu":
        return torch.device("cpu")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise ConfigError(f"--device {name} requested but no CUDA GPU is available (use --device cpu or auto)")
        try:
            return torch.device(name)
        except RuntimeError:
            raise ConfigError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)} or cuda:N") from None
    raise ConfigError(f"unknown device {name!r}; choose one of {', '.join(DEVICE_CHOICES)}")
