"""vaediag: measured, per-epoch diagnostics for variational autoencoders on MNIST and Fashion-MNIST.

Python API (every name is imported on first use, so ``import vaediag`` loads no torch):

- ``vaediag.train_run(TrainConfig(...), run_dir)`` -> history DataFrame;
- ``vaediag.evaluate_run(run_dir, settings=EvalSettings(...))`` -> :class:`Evaluation` (``metrics``,
  ``per_class``, ``pairs`` DataFrames) written to RUN_DIR;
- ``vaediag.evaluate_model(model, run_dir, epoch, decoder="probs"|"logits")``: diagnose your own VAE (anything
  satisfying :class:`vaediag.VAEModel`) from your training loop, into an external RUN_DIR;
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

__version__ = "0.1.0"

_LAZY = {  # public name -> (module, attribute)
    "Run": ("vaediag.rundir", "Run"),
    "Evaluation": ("vaediag.rundir", "Evaluation"),
    "TrainConfig": ("vaediag.config", "TrainConfig"),
    "VAEConfig": ("vaediag.modelconfig", "VAEConfig"),
    "EvalSettings": ("vaediag.evaluate.settings", "EvalSettings"),
    "VaediagError": ("vaediag.errors", "VaediagError"),
    "train_run": ("vaediag.train", "train"),
    "evaluate_run": ("vaediag.evaluate.pipeline", "evaluate_run"),
    "evaluate_model": ("vaediag.evaluate.external", "evaluate_model"),
    "VAEModel": ("vaediag.protocol", "VAEModel"),
    "check_model": ("vaediag.protocol", "check_model"),
    "load_dataset": ("vaediag.data", "load_dataset"),
    "prepare_dataset": ("vaediag.data", "prepare_dataset"),
    "DATASETS": ("vaediag.classes", "DATASETS"),
    "class_names": ("vaediag.classes", "class_names"),
    "load_checkpoint": ("vaediag.checkpoint", "load_checkpoint"),
    "LoadedCheckpoint": ("vaediag.checkpoint", "LoadedCheckpoint"),
    "run_sweep": ("vaediag.sweep.runner", "run_sweep"),
    "Grid": ("vaediag.sweep.grid", "Grid"),
    "Sweep": ("vaediag.sweep.sweepdir", "Sweep"),
    "SweepResult": ("vaediag.sweep.runner", "SweepResult"),
    "check_claims": ("vaediag.claims", "check_claims"),
    "load_claims": ("vaediag.claims", "load_claims"),
}

__all__ = ["__version__", *_LAZY]


def __getattr__(name: str):  # PEP 562: import the defining module on first use
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vaediag' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
