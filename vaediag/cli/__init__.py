"""The ``vaediag`` command line: thin click commands over the library.

:mod:`.app` holds the group (one-line errors, exit code 2), :mod:`.options` the shared options, and the commands
live by topic: :mod:`.runs` (train, evaluate, study, report, compare, check, columns), :mod:`.sweep`, :mod:`.tools`
(data, classifier, tensorboard). No module imports torch at load time (``vaediag --help`` answers at once); each
command imports what it needs.
"""

from __future__ import annotations

from . import runs, sweep, tools  # noqa: F401  (importing them registers their commands)
from .app import cli, main

__all__ = ["cli", "main"]
