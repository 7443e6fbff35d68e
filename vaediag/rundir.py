"""The run directory (RUN_DIR): its layout, and the one place that reads and writes its files.

Layout (every file written atomically: temporary file + rename)::

    RUN_DIR/config.json                  model + training configuration, versions      (train)
    RUN_DIR/history.csv                  one row per training epoch                     (train)
    RUN_DIR/checkpoints/epoch_005.pt     one per checkpoint epoch; last.pt for --resume (train)
    RUN_DIR/metrics.csv                  one row per evaluated checkpoint + the real-data row (evaluate)
    RUN_DIR/per_class.csv, pairs.csv     per (epoch, digit) / (epoch, digit pair)       (evaluate)
    RUN_DIR/evaluation.json              evaluation settings, versions, timings         (evaluate)
    RUN_DIR/eval/epoch_005.npz           arrays behind the figures                      (evaluate)
    RUN_DIR/eval/cache/                  per-checkpoint evaluation cache                (evaluate)
    RUN_DIR/figures/<name>.png           figures                                        (report)
    RUN_DIR/report.html, report.md       the report                                     (report)
    RUN_DIR/study.json                   stage timings of `vaediag study`               (study)

:class:`Run` is the only code that knows these names. Stages hand their results to each other in memory
(a :class:`Run` can be built from an in-memory :class:`Evaluation`); the disk is for persistence and for
later commands (``vaediag report RUN_DIR``) that start from an existing run.
"""

from __future__ import annotations

import contextlib
import re
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from . import atomic, columns as C
from .errors import RunDirError
from .evaluation import PAIRS_COLUMNS, PER_CLASS_COLUMNS, Evaluation  # noqa: F401  (re-exported)
from .fileio import int_epochs, json_text, load_npz, read_csv, read_json, save_npz
from .lock import DirectoryLock, remove_stale_temporaries

CONFIG_FILE = "config.json"
HISTORY_FILE = "history.csv"
CHECKPOINT_DIR = "checkpoints"
LAST_CHECKPOINT = "last.pt"
METRICS_FILE = "metrics.csv"
PER_CLASS_FILE = "per_class.csv"
PAIRS_FILE = "pairs.csv"
EVALUATION_FILE = "evaluation.json"
EVAL_DIR = "eval"
CACHE_DIR = "cache"
FIGURES_DIR = "figures"
REPORT_HTML = "report.html"
REPORT_MD = "report.md"
STUDY_FILE = "study.json"
LOCK_FILE = ".vaediag.lock"  # held by the one command that writes into RUN_DIR (vaediag.lock)

_EPOCH_CHECKPOINT = re.compile(r"^epoch_(\d+)\.pt$")


def _epoch_tag(epoch: int) -> str:
    return f"epoch_{int(epoch):03d}"


# ============================================================================================ Run
class Run:
    """One run directory: where each file lives, and how it is read and written.

    ``Run(path)`` reads lazily from disk; ``Run(path, config=..., history=..., evaluation=...)`` wraps
    results already in memory (``vaediag study`` hands its evaluation to figures and report this way).
    """

    def __init__(self, path: str | Path, *, config: dict | None = None, history: pd.DataFrame | None = None,
                 evaluation: Evaluation | None = None):
        self.path = Path(path)
        self._config = config
        self._history = history
        self._evaluation = evaluation

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    @property
    def name(self) -> str:
        return self.path.resolve().name if self.path.name in ("", ".", "..") else self.path.name

    # ---------------------------------------------------------------------------------------- layout
    @property
    def config_path(self) -> Path:
        return self.path / CONFIG_FILE

    @property
    def history_path(self) -> Path:
        return self.path / HISTORY_FILE

    @property
    def checkpoint_dir(self) -> Path:
        return self.path / CHECKPOINT_DIR

    def checkpoint_path(self, epoch: int) -> Path:
        return self.checkpoint_dir / f"{_epoch_tag(epoch)}.pt"

    @property
    def last_checkpoint_path(self) -> Path:
        return self.checkpoint_dir / LAST_CHECKPOINT

    def artifact_path(self, epoch: int) -> Path:
        return self.path / EVAL_DIR / f"{_epoch_tag(epoch)}.npz"

    def cache_paths(self, entry: str, key: str) -> tuple[Path, Path]:
        """(json, npz) of one evaluation-cache entry; ``entry`` is ``"epoch_005"`` or ``"data"``."""
        base = self.path / EVAL_DIR / CACHE_DIR / f"{entry}-{key[:24]}"
        return base.with_suffix(".json"), base.with_suffix(".npz")

    def clear_cache(self) -> None:
        """Delete the evaluation cache (the next evaluation recomputes every checkpoint)."""
        shutil.rmtree(self.path / EVAL_DIR / CACHE_DIR, ignore_errors=True)

    @staticmethod
    def cache_entry(epoch: int | None) -> str:
        """Cache entry name of a checkpoint epoch (None: the real-data reference)."""
        return C.SOURCE_DATA if epoch is None else _epoch_tag(epoch)

    @property
    def figures_dir(self) -> Path:
        return self.path / FIGURES_DIR

    def figure_path(self, name: str) -> Path:
        return self.figures_dir / f"{name}.png"

    @property
    def report_html_path(self) -> Path:
        return self.path / REPORT_HTML

    @property
    def report_md_path(self) -> Path:
        return self.path / REPORT_MD

    @property
    def study_path(self) -> Path:
        return self.path / STUDY_FILE

    # ---------------------------------------------------------------------------------------- state
    def exists(self) -> bool:
        return self.path.is_dir()

    def is_empty(self) -> bool:
        """True when RUN_DIR is missing or holds nothing (a lock file does not count)."""
        return not self.path.exists() or (self.path.is_dir() and
                                          not any(p.name != LOCK_FILE for p in self.path.iterdir()))

    def has_config(self) -> bool:
        return self.config_path.is_file()

    def check_directory(self) -> None:
        """:class:`RunDirError` when RUN_DIR exists but is not a directory."""
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"RUN_DIR {self.path} exists and is not a directory")

    # ---------------------------------------------------------------------------------------- config
    @property
    def config(self) -> dict:
        """config.json as a dict (read once). :class:`RunDirError` when missing or unreadable."""
        if self._config is None:
            self._config = self.read_config()
        return self._config

    def read_config(self) -> dict:
        if not self.config_path.is_file():
            raise RunDirError(f"{self.path} has no {CONFIG_FILE}; is it a vaediag run directory?")
        config = read_json(self.config_path)
        if not isinstance(config, dict):
            raise RunDirError(f"{self.config_path} does not hold a JSON object")
        return config

    def write_config(self, config: dict) -> None:
        atomic.write_json(self.config_path, config)
        self._config = config

    @property
    def model_config(self) -> dict:
        """The ``model`` part of config.json (model, latent_dim, beta, ...)."""
        cfg = self.config
        model = dict(cfg.get("train") or {})
        model.update(cfg.get("model") or {})
        return model

    @property
    def latent_dim(self) -> int:
        return int(self.model_config.get("latent_dim", 2))

    # ---------------------------------------------------------------------------------------- history
    @property
    def history(self) -> pd.DataFrame:
        """history.csv indexed by epoch (an empty frame with the documented columns when absent)."""
        if self._history is None:
            self._history = self.read_history()
        return self._history

    def read_history(self) -> pd.DataFrame:
        if not self.history_path.is_file():
            return history_frame([])
        df = read_csv(self.history_path)
        if C.EPOCH not in df.columns:
            raise RunDirError(f"{self.history_path} has no {C.EPOCH!r} column")
        df[C.EPOCH] = int_epochs(df[C.EPOCH], self.history_path)
        return df.set_index(C.EPOCH)

    def write_history(self, history: pd.DataFrame) -> None:
        atomic.write_with(self.history_path, lambda tmp: history.to_csv(tmp))
        self._history = history

    # ---------------------------------------------------------------------------------------- checkpoints
    def checkpoints(self) -> dict[int, Path]:
        """epoch -> ``checkpoints/epoch_XXX.pt``, ascending. :class:`RunDirError` when RUN_DIR is missing."""
        if not self.path.is_dir():
            raise RunDirError(f"run directory not found: {self.path}")
        found = {}
        if self.checkpoint_dir.is_dir():
            for p in self.checkpoint_dir.iterdir():
                m = _EPOCH_CHECKPOINT.match(p.name)
                if m:
                    found[int(m.group(1))] = p
        return dict(sorted(found.items()))

    # ---------------------------------------------------------------------------------------- evaluation
    @property
    def evaluation(self) -> Evaluation:
        """The last evaluation (read once from disk unless given in memory)."""
        if self._evaluation is None:
            self._evaluation = self.read_evaluation()
        return self._evaluation

    def has_evaluation(self) -> bool:
        return all((self.path / f).is_file() for f in (METRICS_FILE, PER_CLASS_FILE, PAIRS_FILE))

    def read_evaluation(self) -> Evaluation:
        """Read metrics.csv, per_class.csv, pairs.csv and evaluation.json; artifacts load on first use.

        :class:`RunDirError` (one line) when the run was never evaluated or a file is unreadable.
        """
        if not self.path.is_dir():
            raise RunDirError(f"{self.path} is not a directory")
        missing = [f for f in (METRICS_FILE, PER_CLASS_FILE, PAIRS_FILE) if not (self.path / f).is_file()]
        if missing:
            raise RunDirError(f"{self.path} has no evaluation results ({', '.join(missing)} missing); "
                              f"run `vaediag evaluate {self.path}` first")
        mpath = self.path / METRICS_FILE
        metrics = read_csv(mpath, dtype={C.MOST_MIXED_PAIR: object, C.SOURCE: object})
        for col in (C.EPOCH, C.SOURCE):
            if col not in metrics.columns:
                raise RunDirError(f"{mpath} has no {col!r} column (written by an older vaediag?); "
                                  f"re-run `vaediag evaluate {self.path}`")
        metrics[C.EPOCH] = int_epochs(metrics[C.EPOCH], mpath)
        metrics = metrics.set_index(C.EPOCH)
        if not (metrics[C.SOURCE] == C.SOURCE_MODEL).any():
            raise RunDirError(f"{mpath} has no checkpoint rows; run `vaediag evaluate {self.path}`")
        ppath = self.path / PER_CLASS_FILE
        per_class = read_csv(ppath, dtype={C.SOURCE: object})
        pairs = read_csv(self.path / PAIRS_FILE)
        for df, path in ((per_class, ppath), (pairs, self.path / PAIRS_FILE)):
            if C.EPOCH not in df.columns:
                raise RunDirError(f"{path} has no {C.EPOCH!r} column; re-run `vaediag evaluate {self.path}`")
            df[C.EPOCH] = int_epochs(df[C.EPOCH], path)
        summary = read_json(self.path / EVALUATION_FILE) if (self.path / EVALUATION_FILE).is_file() else {}
        timings = dict(summary.get("timings") or {})
        if "epochs" in timings:
            timings["epochs"] = {int(k): v for k, v in timings["epochs"].items()}
        return Evaluation(metrics, per_class, pairs, dict(summary.get("settings") or {}), timings,
                          _ArtifactFiles(self), dict(summary.get("versions") or {}))

    def write_evaluation(self, ev: Evaluation, versions: dict | None = None) -> None:
        """Write the tables, evaluation.json and the artifacts; all go to temporary files first, then each
        is renamed into place, so a failure while computing or writing leaves the previous results intact.
        ``versions`` (if given) replaces ``ev.versions``."""
        if versions is not None:
            ev.versions = versions
        summary = {"settings": ev.settings, "versions": ev.versions,
                   "timings": {**ev.timings, "epochs": {str(k): v for k, v in ev.timings.get("epochs", {}).items()}}}
        writers: list[tuple[Path, Callable[[Path], Any]]] = [
            (self.path / METRICS_FILE, lambda p: ev.metrics.to_csv(p)),
            (self.path / PER_CLASS_FILE, lambda p: ev.per_class.to_csv(p, index=False)),
            (self.path / PAIRS_FILE, lambda p: ev.pairs.to_csv(p, index=False)),
            (self.path / EVALUATION_FILE, lambda p: p.write_text(json_text(summary))),
        ]
        for epoch in ev.epochs:
            if epoch in ev.artifacts:
                arrays = ev.artifacts[epoch]
                writers.append((self.artifact_path(epoch), lambda p, a=arrays: save_npz(p, a)))
        with contextlib.ExitStack() as stack:
            for target, write in writers:
                write(stack.enter_context(atomic.atomic_path(target)))
        self._evaluation = ev

    def artifacts(self, epoch: int) -> Mapping[str, np.ndarray]:
        """The arrays behind the figures of checkpoint ``epoch``:

        ``test_mu`` float32 [N, d], ``test_labels`` int64 [N]; ``grid_linear`` / ``grid_quantile`` uint8
        [n*n, 28, 28]: decoded grids in row-major image order (first row = top = highest z_1, columns from
        low to high z_0); ``grid_span`` / ``qgrid_span`` 0-d float arrays (each grid covers [-span, span]);
        ``prior_labels`` int64 [samples]: the classifier's digit for each prior sample.
        """
        epoch = int(epoch)
        arts = self.evaluation.artifacts
        if epoch not in arts:
            raise RunDirError(f"no evaluation artifacts for epoch {epoch} in {self.path} "
                              f"(run `vaediag evaluate {self.path}`)")
        return arts[epoch]

    def read_artifact_file(self, epoch: int) -> dict[str, np.ndarray]:
        return load_npz(self.artifact_path(epoch))

    # ---------------------------------------------------------------------------------------- results
    @property
    def metrics(self) -> pd.DataFrame:
        return self.evaluation.metrics

    @property
    def per_class(self) -> pd.DataFrame:
        return self.evaluation.per_class

    @property
    def pairs(self) -> pd.DataFrame:
        return self.evaluation.pairs

    @property
    def epochs(self) -> list[int]:
        """Evaluated checkpoint epochs, ascending."""
        return self.evaluation.epochs

    @property
    def first(self) -> int:
        return self.epochs[0]

    @property
    def last(self) -> int:
        return self.epochs[-1]

    @property
    def middle(self) -> int:
        """The middle checkpoint: ``epochs[(len - 1) // 2]`` (30 for 5, 15, 30, 50, 100)."""
        return self.epochs[(len(self.epochs) - 1) // 2]

    @property
    def checkpoint_metrics(self) -> pd.DataFrame:
        return self.evaluation.checkpoint_metrics

    def value(self, column: str, epoch: int) -> float:
        return self.evaluation.value(column, epoch)

    def reference(self, column: str) -> float:
        return self.evaluation.reference_value(column)

    # ---------------------------------------------------------------------------------------- other files
    def write_study(self, summary: dict) -> None:
        atomic.write_json(self.study_path, summary)

    def write_report(self, html: str, markdown: str) -> tuple[Path, Path]:
        atomic.write_text(self.report_html_path, html)
        atomic.write_text(self.report_md_path, markdown)
        return self.report_html_path, self.report_md_path

    def lock(self, command: str, *, create: bool = False) -> DirectoryLock:
        """The exclusive lock of a writing ``command`` on RUN_DIR; see :class:`vaediag.lock.DirectoryLock`."""
        return DirectoryLock(self.path, LOCK_FILE, command, create=create)

    def clean_stale_temporaries(self) -> list[Path]:
        """Remove the temporaries of atomic writes a killed writer left (needs the lock); return them."""
        return remove_stale_temporaries(self.path, [self.path, self.checkpoint_dir, self.path / EVAL_DIR,
                                                    self.path / EVAL_DIR / CACHE_DIR, self.figures_dir])


class _ArtifactFiles(Mapping):
    """epoch -> arrays of ``eval/epoch_XXX.npz``, read on first access (for runs read from disk)."""

    def __init__(self, run: Run):
        self._run = run
        self._loaded: dict[int, dict] = {}

    def __getitem__(self, epoch: int) -> dict:
        epoch = int(epoch)
        if epoch not in self._loaded:
            path = self._run.artifact_path(epoch)
            if not path.is_file():
                raise KeyError(epoch)
            self._loaded[epoch] = load_npz(path)
        return self._loaded[epoch]

    def __contains__(self, epoch) -> bool:
        try:
            return int(epoch) in self._loaded or self._run.artifact_path(int(epoch)).is_file()
        except (TypeError, ValueError):
            return False

    def __iter__(self) -> Iterator[int]:
        return iter(e for e in self._run.evaluation.epochs if e in self)

    def __len__(self) -> int:
        return sum(1 for _ in self)


# ============================================================================================ helpers
def history_frame(rows: list[dict]) -> pd.DataFrame:
    """History rows as a DataFrame indexed by epoch with the documented columns."""
    return pd.DataFrame(rows, columns=C.HISTORY_COLUMNS).set_index(C.EPOCH)


