"""Evaluation of a run's checkpoints: per-epoch diagnostics and a real-data reference row.

- :mod:`~vaediag.evaluate.settings`  :class:`EvalSettings`, what to compute (torch-free; the CLI defaults)
- :mod:`~vaediag.evaluate.pipeline`  :func:`evaluate_run`: checkpoints -> :class:`~vaediag.store.rundir.Evaluation`,
  written to RUN_DIR; its docstring says how to read the results
- :mod:`~vaediag.evaluate.external`  :func:`evaluate_model`: a user's model, from their loop, into an external run
- :mod:`~vaediag.evaluate.stages`    one function per metric family, registered in ``STAGES`` with its columns
- :mod:`~vaediag.evaluate.reference` the data, the classifier and the real-data reference row
- :mod:`~vaediag.evaluate.cache`     the per-checkpoint cache under RUN_DIR
- :mod:`~vaediag.evaluate.table`     :func:`format_table` for the terminal
- :mod:`~vaediag.evaluate.events`    an evaluation's columns and sample sheets as TensorBoard events

Every name is imported on first use, so ``import vaediag.evaluate`` loads no torch.
"""

from __future__ import annotations

import importlib

_LAZY = {  # public name -> module
    "EvalSettings": "vaediag.evaluate.settings",
    "evaluate_run": "vaediag.evaluate.pipeline",
    "evaluate_model": "vaediag.evaluate.external",
    "format_table": "vaediag.evaluate.table",
}

__all__ = list(_LAZY)


def __getattr__(name: str):  # PEP 562: import the defining module on first use
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vaediag.evaluate' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
