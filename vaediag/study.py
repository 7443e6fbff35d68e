"""The study: train (or resume) -> evaluate every checkpoint -> figures + report, in one idempotent call.

The stages hand their results on in memory: the history from training and the :class:`Evaluation`
(tables and figure arrays) from evaluation go straight into a :class:`Run` that the figures and the
report read; the files written along the way are for persistence and for later commands. Re-running a
finished study recomputes nothing (training is complete, evaluation is cached per checkpoint) and only
rebuilds the figures and the report. Stage wall times are written to ``study.json`` next to the results.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from vaediag.models.train_config import TrainConfig
from .errors import RunDirError
from .evaluate.pipeline import evaluate_run
from .evaluate.settings import EvalSettings
from .report import build_report
from .claims.commands import check as check_claims_of
from .claims.commands import load as load_claims_file
from .claims.commands import require_epochs
from vaediag.store.rundir import Evaluation, Run
from .train import train
from .versions import versions


@dataclass
class StudyResult:
    history: pd.DataFrame
    evaluation: Evaluation
    report_html: Path
    report_md: Path
    seconds: dict[str, float]


def run_study(cfg: TrainConfig, run_dir: str | Path, *, settings: EvalSettings = EvalSettings(),
              log: Callable[[str], None] = print, progress: bool | None = None, claims=None) -> StudyResult:
    """Train ``cfg`` into ``run_dir`` (resuming whatever is there), evaluate all checkpoints, write the report.

    ``claims``: a claims file (path, or loaded by :func:`vaediag.claims.load_claims`) checked against the
    evaluated run (:func:`vaediag.claims.check_claims`) into the report's "Claims" section; a malformed file
    is refused (one-line ConfigError) before anything is trained or written. A non-empty ``run_dir`` that is
    not a vaediag run is refused (nothing in it is touched). Holds the RUN_DIR lock throughout
    (:meth:`Run.writing`).
    """
    claims = load_claims_file(claims)
    run = Run(run_dir)
    cfg.validate()
    require_epochs(claims, cfg.checkpoints)  # a claim's epoch without a checkpoint: refused before training
    run.check_directory()
    if not run.is_empty() and not run.has_config():
        raise RunDirError(f"RUN_DIR {run.path} is not empty and holds no vaediag run; choose a new --out")
    with run.writing("study", create=True):  # one writer from training to the report
        seconds: dict[str, float] = {}
        t = time.perf_counter()
        history = train(cfg, run.path, resume=True, log=log, progress=progress)
        seconds["train"] = time.perf_counter() - t
        t = time.perf_counter()
        evaluation = evaluate_run(run.path, settings=settings, device=cfg.device, data_root=cfg.data_root, log=log)
        seconds["evaluate"] = time.perf_counter() - t
        t = time.perf_counter()
        evaluated = Run(run.path, history=history, evaluation=evaluation)
        html, md = build_report(evaluated, claims=check_claims_of(claims, evaluated))
        seconds["report"] = time.perf_counter() - t
        seconds["total"] = sum(seconds.values())
        run.write_study({"seconds": seconds, "epochs_trained": len(history), "versions": versions()})
        log(f"study done in {seconds['total']:.0f}s (train {seconds['train']:.0f}s, evaluate "
            f"{seconds['evaluate']:.0f}s, report {seconds['report']:.0f}s): {html}")
    return StudyResult(history, evaluation, html, md, seconds)
