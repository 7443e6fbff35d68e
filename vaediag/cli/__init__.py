"""The ``vaediag`` command line: thin click commands over the library.

:mod:`~vaediag.cli.app` holds the group (one-line errors, exit code 2), :mod:`~vaediag.cli.options` the shared
options, and the commands live by topic: :mod:`~vaediag.cli.runs` (train, evaluate, study, report, compare, check,
columns), :mod:`~vaediag.cli.sweep`, :mod:`~vaediag.cli.tools` (data, classifier, tensorboard). No module imports torch at load
time (``vaediag --help`` answers at once); each command imports what it needs."""

from __future__ import annotations

from . import runs, sweep, tools  # noqa: F401  (importing them registers their commands)
from .app import cli, main

__all__ = ["cli", "main"]
