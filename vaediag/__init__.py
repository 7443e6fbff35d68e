"""vaediag: measured, per-epoch diagnostics for variational autoencoders on handwritten digits."""

__version__ = "0.1.0"

from .checkpoint import LoadedCheckpoint, load_checkpoint  # noqa: E402
from .errors import VaediagError  # noqa: E402

__all__ = ["__version__", "load_checkpoint", "LoadedCheckpoint", "VaediagError"]
