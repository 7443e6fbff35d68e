"""vaediag: measured, per-epoch diagnostics for variational autoencoders on handwritten digits.

Python API: ``vaediag.load_checkpoint(path)`` -> model, config, epoch; ``vaediag.evaluate(run_dir, ...)``
-> :class:`Evaluation` (``metrics``, ``per_class``, ``pairs`` DataFrames); ``vaediag.read_results(run_dir)``.
"""

__version__ = "0.1.0"

from .checkpoint import LoadedCheckpoint, load_checkpoint  # noqa: E402
from .errors import VaediagError  # noqa: E402
from .evaluate import Evaluation, evaluate, read_results  # noqa: E402  (binds the function over the module name)

__all__ = ["__version__", "load_checkpoint", "LoadedCheckpoint", "VaediagError", "evaluate", "Evaluation",
           "read_results"]
