"""Which checkpoint files an evaluation measured: their SHA-256, recorded in evaluation.json and checked on reading.

``vaediag evaluate`` records ``settings.checkpoint_sha256`` (epoch -> SHA-256 of the checkpoint file it evaluated).
A checkpoint replaced afterwards (a copied, retrained or edited file) makes the published numbers describe another
model: :func:`changed_checkpoints` names such files, and every reader (``report``, ``check``, ``compare``, the sweep)
then refuses the results in one line, or evaluates again where it evaluates anyway (``check``, ``study``, a sweep).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from vaediag.errors import RunDirError
from vaediag.files.atomic import file_sha256
from vaediag.store.evaluation import EvaluationFiles, read_summary
from vaediag.store.layout import EVALUATION_FILE

CHECKPOINT_SHA256 = "checkpoint_sha256"  # evaluation.json settings: epoch -> SHA-256 of the checkpoint evaluated


def changed_checkpoints(settings: dict, checkpoint_path: Callable[[int], Path], run_path: Path) -> str | None:
    """Which evaluated checkpoint files differ now from the SHA-256 ``settings`` records, as one sentence; None
    when none does, or nothing is recorded (an external run, an older evaluation). A missing file is no change:
    the results still describe the model it held."""
    recorded = settings.get(CHECKPOINT_SHA256)
    if not isinstance(recorded, dict) or not recorded:
        return None
    changed = []
    for epoch, sha in sorted(recorded.items(), key=lambda item: str(item[0])):
        try:
            path = checkpoint_path(int(epoch))
        except (TypeError, ValueError):
            continue
        if path.is_file() and file_sha256(path) != sha:
            changed.append(path.name)
    if not changed:
        return None
    return (f"checkpoint {', '.join(changed)} of {run_path} changed since it was evaluated (its SHA-256 differs from "
            f"the one in {EVALUATION_FILE}): the results describe another model")


def evaluation_problem(files: EvaluationFiles, checkpoint_path: Callable[[int], Path], run_path: Path) -> str | None:
    """Why the published results ``files`` are not one complete set (:meth:`EvaluationFiles.problem`) or no
    longer describe the checkpoints (:func:`changed_checkpoints`); None when they are whole and current, or absent."""
    problem = files.problem()
    if problem is None and files.summary.is_file():  # a whole set (checked against its manifest): its settings
        try:
            settings = read_summary(files.summary)[0]
        except RunDirError as exc:
            return str(exc)
        return changed_checkpoints(settings, checkpoint_path, run_path)
    return problem
