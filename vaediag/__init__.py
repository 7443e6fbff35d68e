"""vaediag: measured, per-epoch diagnostics for variational autoencoders on MNIST and Fashion-MNIST.

Python API (every name is imported on first use, so ``import vaediag`` loads no torch):

- ``vaediag.train_run(TrainConfig(...), run_dir)`` -> history DataFrame;
- ``vaediag.evaluate_run(run_dir, settings=EvalSettings(...))`` -> :class:`Evaluation` (``metrics``,
  ``per_class``, ``pairs`` DataFrames) written to RUN_DIR;
- ``vaediag.check_model(model)``: the pre-flight check of your own VAE (anything with ``encode`` / ``decode``:
  :class:`vaediag.VAEModel`); ``vaediag.evaluate_model(model, run_dir, epoch, history=...)``: diagnose it from
  your training loop, into an external RUN_DIR, leaving the training exactly as it was (a notebook displays the
  result); ``vaediag.integrations``: the PyTorch Lightning callback and TensorBoard (optional extras);
- ``vaediag.load_dataset("fashion-mnist", train_size=..., test_size=...)`` -> uint8 tensors (provisioned offline
  and verified by SHA-256 on first use); ``vaediag.DATASETS`` names the registered datasets;
- ``vaediag.Run(run_dir)``: a run directory (config, history, checkpoints, evaluation, artifacts);
- ``vaediag.load_checkpoint(path)`` -> model, config, epoch;
- ``vaediag.run_sweep(Grid(TrainConfig(...), {"seed": (0, 1, 2), "latent_dim": (2, 16)}), sweep_dir)`` ->
  :class:`SweepResult`: every grid point trained, evaluated and reported on Ray; ``vaediag.Sweep(sweep_dir)``
  reads its sweep.json;
- ``vaediag.check_claims("claims.toml", run_or_sweep_dir)`` -> DataFrame: each written claim about the VAE
  answered supported / refuted / inconclusive with the measurements (:mod:`vaediag.claims`).
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings

__version__ = "0.4.0"

_LAZY = {  # public name -> (module, attribute)
    "Run": ("vaediag.store.rundir", "Run"),
    "Evaluation": ("vaediag.store.rundir", "Evaluation"),
    "TrainConfig": ("vaediag.models.train_config", "TrainConfig"),
    "VAEConfig": ("vaediag.models.config", "VAEConfig"),
    "EvalSettings": ("vaediag.evaluate.settings", "EvalSettings"),
    "VaediagError": ("vaediag.errors", "VaediagError"),
    "train_run": ("vaediag.train", "train"),
    "evaluate_run": ("vaediag.evaluate.pipeline", "evaluate_run"),
    "evaluate_model": ("vaediag.evaluate.external", "evaluate_model"),
    "VAEModel": ("vaediag.models.protocol", "VAEModel"),
    "check_model": ("vaediag.models.protocol", "check_model"),
    "load_dataset": ("vaediag.datasets.data", "load_dataset"),
    "prepare_dataset": ("vaediag.datasets.data", "prepare_dataset"),
    "DATASETS": ("vaediag.datasets.registry", "DATASETS"),
    "class_names": ("vaediag.datasets.registry", "class_names"),
    "load_checkpoint": ("vaediag.models.checkpoint", "load_checkpoint"),
    "LoadedCheckpoint": ("vaediag.models.checkpoint", "LoadedCheckpoint"),
    "run_sweep": ("vaediag.sweep.runner", "run_sweep"),
    "Grid": ("vaediag.sweep.grid", "Grid"),
    "Sweep": ("vaediag.store.sweepdir", "Sweep"),
    "SweepResult": ("vaediag.sweep.runner", "SweepResult"),
    "RayOptions": ("vaediag.sweep.ray_session", "RayOptions"),
    "check_claims": ("vaediag.claims", "check_claims"),
    "load_claims": ("vaediag.claims", "load_claims"),
}

__all__ = ["__version__", *_LAZY]


def _import_leaving_random_state(module: str):
    """Import ``module``, then put back the random generators the user's code may already use (Python's, and
    numpy's and torch's when they are loaded): a library imported on first use (sklearn pulls in one that draws
    at import) must not shift a training loop's random numbers."""
    import random

    states = [(random.setstate, random.getstate())]
    if "numpy" in sys.modules:
        states.append((sys.modules["numpy"].random.set_state, sys.modules["numpy"].random.get_state()))
    if "torch" in sys.modules and hasattr(sys.modules["torch"], "get_rng_state"):
        states.append((sys.modules["torch"].set_rng_state, sys.modules["torch"].get_rng_state()))
    try:
        return importlib.import_module(module)
    finally:
        for restore, state in states:
            restore(state)


def __getattr__(name: str):  # PEP 562: import the defining module on first use
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(_import_leaving_random_state(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vaediag' has no attribute {name!r}")


# Module paths of the flat layout (vaediag 0.3), kept as aliases of their new homes for this version: importing
# one warns (DeprecationWarning) and gives the new module itself.
MOVED_MODULES = {
    "vaediag.atomic": "vaediag.files.atomic",
    "vaediag.fileio": "vaediag.files.fileio",
    "vaediag.publish": "vaediag.files.publish",
    "vaediag.lock": "vaediag.files.lock",
    "vaediag.rundir": "vaediag.store.rundir",
    "vaediag.evaluation": "vaediag.store.evaluation",
    "vaediag.ranges": "vaediag.store.ranges",
    "vaediag.sweep.sweepdir": "vaediag.store.sweepdir",
    "vaediag.data": "vaediag.datasets.data",
    "vaediag.deb": "vaediag.datasets.deb",
    "vaediag.classes": "vaediag.datasets.classes",
    "vaediag.classifier": "vaediag.datasets.classifier",
    "vaediag.modelconfig": "vaediag.models.config",
    "vaediag.config": "vaediag.models.train_config",
    "vaediag.protocol": "vaediag.models.protocol",
    "vaediag.factory": "vaediag.models.factory",
    "vaediag.checkpoint": "vaediag.models.checkpoint",
    "vaediag.likelihood": "vaediag.models.likelihood",
    "vaediag.replicates": "vaediag.judgement.replicates",
    "vaediag.report.rules": "vaediag.judgement.rules",
    "vaediag.report.intervals": "vaediag.judgement.intervals",
    "vaediag.report.formats": "vaediag.judgement.formats",
}


class _MovedModuleFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Resolves an old module path of :data:`MOVED_MODULES` to the module at its new path."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname in MOVED_MODULES:
            return importlib.util.spec_from_loader(fullname, self)
        return None

    def create_module(self, spec):
        new = MOVED_MODULES[spec.name]
        warnings.warn(f"{spec.name} moved to {new}; the old path goes away in the next version",
                      DeprecationWarning, stacklevel=3)
        return importlib.import_module(new)

    def exec_module(self, module):  # the new module is already executed
        pass


if not any(isinstance(f, _MovedModuleFinder) for f in sys.meta_path):
    sys.meta_path.append(_MovedModuleFinder())


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
