"""The study: train (or resume) -> evaluate every checkpoint -> figures + report, in one idempotent call.

Re-running a finished study recomputes nothing (training is complete, evaluation is cached per
checkpoint) and only rebuilds the figures and the report. Stage wall times are written to
``RUN_DIR/study.json`` next to the results.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import pandas as pd

from . import atomic
from .errors import RunDirError
from .evaluate import Evaluation, evaluate
from .report import build_report
from .train import CONFIG_FILE, TrainConfig, train, versions

STUDY_FILE = "study.json"


@dataclass
class StudyResult:
    history: pd.DataFrame
    evaluation: Evaluation
    report_html: Path
    report_md: Path
    seconds: dict[str, float]


def run_study(cfg: TrainConfig, run_dir: str | Path, *, eval_settings: dict | None = None,
              log: Callable[[str], None] = print, progress: bool | None = None) -> StudyResult:
    """Train ``cfg`` into ``run_dir`` (resuming whatever is there), evaluate all checkpoints, write the report.

    ``eval_settings`` are keyword arguments of :func:`vaediag.evaluate.evaluate` (samples, grid, ...).
    A non-empty ``run_dir`` that is not a vaediag run is refused (nothing in it is touched).
    """
    run_dir = Path(run_dir)
    cfg.validate()
    if run_dir.is_dir() and any(run_dir.iterdir()) and not (run_dir / CONFIG_FILE).is_file():
        raise RunDirError(f"RUN_DIR {run_dir} is not empty and holds no vaediag run; choose a new --out")
    seconds: dict[str, float] = {}
    t = time.perf_counter()
    history = train(cfg, run_dir, resume=True, log=log, progress=progress)
    seconds["train"] = time.perf_counter() - t
    t = time.perf_counter()
    evaluation = evaluate(run_dir, device=cfg.device, data_root=cfg.data_root, log=log, **(eval_settings or {}))
    seconds["evaluate"] = time.perf_counter() - t
    t = time.perf_counter()
    html, md = build_report(run_dir)
    seconds["report"] = time.perf_counter() - t
    seconds["total"] = sum(seconds.values())
    atomic.write_json(run_dir / STUDY_FILE, {"seconds": seconds, "epochs_trained": len(history),
                                             "versions": versions()})
    log(f"study done in {seconds['total']:.0f}s (train {seconds['train']:.0f}s, evaluate "
        f"{seconds['evaluate']:.0f}s, report {seconds['report']:.0f}s): {html}")
    return StudyResult(history, evaluation, html, md, seconds)
