"""Sweeps: seeds and configurations on Ray.

``grid`` (the options given as comma lists and their cartesian product) · ``sweepdir`` (SWEEP_DIR's layout
and sweep.json: :class:`Sweep`) · ``runner`` (:func:`run_sweep`: one Ray task per run, retries, resume).
Importing this package imports neither torch nor Ray; :func:`run_sweep` imports Ray when it starts it.
"""

from __future__ import annotations

from .grid import AXES, Grid, SweepPoint, parse_axis, point_name
from .runner import SweepResult, default_resources, run_sweep
from vaediag.store.sweepdir import DONE, FAILED, PENDING, RUNNING, Sweep

__all__ = ["AXES", "Grid", "SweepPoint", "parse_axis", "point_name", "SweepResult", "default_resources",
           "run_sweep", "Sweep", "PENDING", "RUNNING", "DONE", "FAILED"]
