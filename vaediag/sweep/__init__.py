"""Sweeps: seeds and configurations on Ray.

``grid`` (the options given as comma lists and their cartesian product) · ``sweepdir`` (SWEEP_DIR's layout
and sweep.json: :class:`Sweep`) · ``ray_session`` (:class:`RayOptions`, :class:`RaySession`: the one owner of the
sweep's Ray instance) · ``task`` (one attempt of one run, in a Ray worker) · ``runner`` (:func:`run_sweep`: one
Ray task per run, retries, timeouts, resume).
Importing this package imports neither torch nor Ray (nor pandas: each name is imported on first use);
:func:`run_sweep` imports Ray when it starts it.
"""

from __future__ import annotations

import importlib

_LAZY = {  # public name -> module
    **dict.fromkeys(("AXES", "Grid", "SweepPoint", "parse_axis", "point_name", "MAX_RUNS"), "vaediag.sweep.grid"),
    **dict.fromkeys(("RayOptions", "default_resources"), "vaediag.sweep.ray_session"),
    **dict.fromkeys(("SweepResult", "run_sweep"), "vaediag.sweep.runner"),
    **dict.fromkeys(("Sweep", "PENDING", "RUNNING", "DONE", "FAILED"), "vaediag.store.sweepdir"),
}

__all__ = list(_LAZY)


def __getattr__(name: str):  # PEP 562
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vaediag.sweep' has no attribute {name!r}")
