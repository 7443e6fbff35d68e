"""The run directory (RUN_DIR): the one place that reads and writes its files (their names: :mod:`.layout`).

:class:`Run` is the only code that knows where a run's files live. Stages hand their results to each other in
memory (a :class:`Run` can be built from an in-memory :class:`Evaluation`); the disk is for persistence and for
later commands (``vaediag report RUN_DIR``) that start from an existing run. The evaluation results are published as
one set under a manifest (:mod:`vaediag.files.publish`); sub-folders must resolve inside RUN_DIR: a symbolic link
leading elsewhere is refused before anything is read or written through it."""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from vaediag.files import atomic
from vaediag import columns as C
from vaediag.errors import ConfigError, RunDirError, first_line
from vaediag.store.evaluation import PAIRS_COLUMNS, PER_CLASS_COLUMNS, Evaluation, EvaluationFiles, history_frame  # noqa: F401,E501
from vaediag.files.fileio import int_epochs, json_text, load_npz, read_csv, read_json, save_npz, unique_epochs  # noqa: F401,E501
from vaediag.files.lock import DirectoryLock, remove_stale_temporaries
from vaediag.datasets.registry import DEFAULT_DATASET, check_dataset, class_names
from vaediag.store import display
from vaediag.store.ranges import check_ranges
from vaediag.store.provenance import CHECKPOINT_SHA256, changed_checkpoints, evaluation_problem  # noqa: F401

from .layout import (  # noqa: F401  (re-exported: the file names are part of the store's interface)
    CONFIG_FILE, HISTORY_FILE, CHECKPOINT_DIR, LAST_CHECKPOINT, METRICS_FILE, PER_CLASS_FILE, PAIRS_FILE, EVALUATION_FILE, EVAL_DIR, MANIFEST_FILE, CACHE_DIR, FIGURES_DIR, REPORT_HTML, REPORT_MD, STUDY_FILE, EXTERNAL_FILE, EXTERNAL_KIND, EXTERNAL_CHECKPOINT_FORMAT, RESULT_TABLES, LOCK_FILE, EPOCH_CHECKPOINT, epoch_tag)

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

    def _repr_html_(self) -> str:  # a notebook shows the run's summary and overview figure
        return display.run_html(self)

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

    def _inside(self, folder: Path) -> Path:
        """``folder`` (under RUN_DIR); :class:`RunDirError` when it resolves outside RUN_DIR (a symlink)."""
        try:
            inside = folder.resolve().is_relative_to(self.path.resolve())
        except (OSError, RuntimeError) as exc:  # a symlink loop
            raise RunDirError(f"cannot resolve {folder}: {first_line(exc)}") from None
        if not inside:
            raise RunDirError(f"{folder} leads outside the run directory {self.path} (a symbolic link?); "
                              f"vaediag reads and writes a run only inside its folder")
        return folder

    @property
    def checkpoint_dir(self) -> Path:
        return self._inside(self.path / CHECKPOINT_DIR)

    def checkpoint_path(self, epoch: int) -> Path:
        return self.checkpoint_dir / f"{epoch_tag(epoch)}.pt"

    @property
    def last_checkpoint_path(self) -> Path:
        return self.checkpoint_dir / LAST_CHECKPOINT

    @property
    def eval_dir(self) -> Path:
        return self._inside(self.path / EVAL_DIR)

    def artifact_path(self, epoch: int) -> Path:
        return self.eval_dir / f"{epoch_tag(epoch)}.npz"

    @property
    def manifest_path(self) -> Path:
        return self.eval_dir / MANIFEST_FILE

    @property
    def cache_dir(self) -> Path:
        return self._inside(self.eval_dir / CACHE_DIR)

    def cache_paths(self, entry: str, key: str) -> tuple[Path, Path]:
        """(json, npz) of one evaluation-cache entry; ``entry`` is ``"epoch_005"`` or ``"data"``."""
        base = self.cache_dir / f"{entry}-{key[:24]}"
        return base.with_suffix(".json"), base.with_suffix(".npz")

    def clear_cache(self) -> None:
        """Delete the evaluation cache (the next evaluation recomputes every checkpoint)."""
        shutil.rmtree(self.cache_dir, ignore_errors=True)

    @staticmethod
    def cache_entry(epoch: int | None) -> str:
        """Cache entry name of a checkpoint epoch (None: the real-data reference)."""
        return C.SOURCE_DATA if epoch is None else epoch_tag(epoch)

    @property
    def figures_dir(self) -> Path:
        return self._inside(self.path / FIGURES_DIR)

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

    def check_writable(self) -> None:
        """:class:`RunDirError` (before any work) when RUN_DIR or a result folder in it cannot be written, or
        a sub-folder leads outside RUN_DIR."""
        for folder in (self.path, self.eval_dir, self.cache_dir, self.figures_dir):
            if folder.is_dir() and not os.access(folder, os.W_OK | os.X_OK):
                raise RunDirError(f"cannot write into {folder} (read-only?); vaediag writes its results there")

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
        for section in ("model", "train"):
            if not isinstance(config.get(section) or {}, dict):
                raise RunDirError(f"{self.config_path}: {section!r} must be a JSON object")
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
    def dataset(self) -> str:
        """The registered dataset the run uses (config.json ``dataset``; runs that record none: "mnist")."""
        cfg = self.config
        value = cfg.get("dataset") or (cfg.get("train") or {}).get("dataset") or DEFAULT_DATASET
        try:
            return check_dataset(value)
        except ConfigError as exc:
            raise RunDirError(f"{self.config_path}: {exc}") from None

    @property
    def classes(self):
        """The :class:`vaediag.datasets.classes.ClassNames` of the run's dataset (names the report and claims use)."""
        return class_names(self.dataset)

    @property
    def is_external(self) -> bool:
        """True for a run made by :func:`vaediag.evaluate_model` (a user's model: no training history, no
        vaediag checkpoints to re-evaluate)."""
        return (self._config is not None or self.has_config()) and self.config.get("kind") == EXTERNAL_KIND

    @property
    def model_name(self) -> str:
        """How the report names the model: ``mlp`` / ``conv``, or an external run's class name."""
        model = self.model_config
        if self.is_external:
            return f"{model.get('class', '?')} (external, decoder {model.get('decoder', '?')})"
        return str(model.get("model", "?"))

    @property
    def external_path(self) -> Path:
        return self.eval_dir / EXTERNAL_FILE

    @property
    def latent_dim(self) -> int:
        value = self.model_config.get("latent_dim", 2)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise RunDirError(f"{self.config_path}: latent_dim must be an integer >= 1, got {value!r}")
        return value

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
        unique_epochs(df[C.EPOCH], self.history_path)
        check_ranges(df, self.history_path, f"{HISTORY_FILE} is written by `vaediag train`; was it edited?")
        for column in (C.TRAIN_EVAL_LOSS, C.TRAIN_EVAL_RECON, C.TRAIN_EVAL_KL):  # an older history lacks them
            if column not in df.columns:
                df[column] = float("nan")
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
                m = EPOCH_CHECKPOINT.match(p.name)
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
        return all((self.path / f).is_file() for f in RESULT_TABLES)

    @property
    def evaluation_files(self) -> EvaluationFiles:
        """Where the evaluation results live; they are read and written as one published set."""
        return EvaluationFiles(self.path, *(self.path / f for f in RESULT_TABLES), self.path / EVALUATION_FILE,
                               self.manifest_path, self.artifact_path, lambda: self.classes)

    def read_evaluation(self) -> Evaluation:
        """Read metrics.csv, per_class.csv, pairs.csv and evaluation.json, checked against the manifest and
        the documented ranges; artifacts load (checked) on first use. :class:`RunDirError` (one line) when
        the run was never evaluated, the results are unreadable, incomplete, mixed or out of range, or a
        checkpoint changed since it was evaluated (:mod:`vaediag.store.provenance`)."""
        if not self.path.is_dir():
            raise RunDirError(f"{self.path} is not a directory")
        evaluation = self.evaluation_files.read()
        if changed := changed_checkpoints(evaluation.settings, self.checkpoint_path, self.path):
            raise RunDirError(f"{changed}; re-run `vaediag evaluate {self.path}`")
        return evaluation

    def evaluation_problem(self) -> str | None:
        """Why the results on disk are not one complete set or no longer describe the checkpoints, or None."""
        return evaluation_problem(self.evaluation_files, self.checkpoint_path, self.path)

    def write_evaluation(self, ev: Evaluation, versions: dict | None = None) -> None:
        """Publish the tables, evaluation.json and the artifacts as one set (:meth:`EvaluationFiles.write`);
        a failure leaves the previous results intact. ``versions`` (if given) replaces ``ev.versions``."""
        if versions is not None:
            ev.versions = versions
        self.evaluation_files.write(ev)
        self._evaluation = ev

    def artifacts(self, epoch: int) -> Mapping[str, np.ndarray]:
        """The arrays behind the figures of checkpoint ``epoch``:

        ``test_mu`` float32 [N, d], ``test_labels`` int64 [N]; ``grid_linear`` / ``grid_quantile`` uint8
        [n*n, 28, 28]: decoded grids in row-major image order (first row = top = highest z_1, columns from
        low to high z_0); ``grid_span`` / ``qgrid_span`` 0-d float arrays (each grid covers [-span, span]);
        ``prior_labels`` int64 [samples]: the classifier's digit for each prior sample; ``prior_sheet``
        uint8 [100, 28, 28]: the first decoded prior samples; ``recon_pairs`` uint8 [2, 20, 28, 28]: two test
        digits of each class (row 0) and their reconstructions decode(mu(x)) (row 1). Runs evaluated before
        0.2 lack the last two.
        """
        epoch = int(epoch)
        arts = self.evaluation.artifacts
        if epoch not in arts:
            raise RunDirError(f"no evaluation artifacts for epoch {epoch} in {self.path} "
                              f"(run `vaediag evaluate {self.path}`)")
        return arts[epoch]

    def read_artifact_file(self, epoch: int) -> dict[str, np.ndarray]:
        """The arrays of ``eval/epoch_XXX.npz`` as on disk now (checked against the manifest)."""
        return self.evaluation_files.read_artifact(epoch)

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
        """The exclusive lock of a writing ``command`` on RUN_DIR; see :class:`vaediag.files.lock.DirectoryLock`."""
        return DirectoryLock(self.path, LOCK_FILE, command, create=create)

    @contextlib.contextmanager
    def writing(self, command: str, *, create: bool = False) -> Iterator["Run"]:
        """Hold RUN_DIR's lock for ``command`` and first remove the temporaries killed writers left: what every
        writer (train, evaluate, report, study) does. Re-entrant within a process (study -> train)."""
        with self.lock(command, create=create):
            self.clean_stale_temporaries()
            yield self

    def clean_stale_temporaries(self) -> list[Path]:
        """Remove the temporaries of atomic writes a killed writer left (needs the lock); return them."""
        return remove_stale_temporaries(self.path, [self.path, self.checkpoint_dir, self.path / EVAL_DIR,
                                                    self.path / EVAL_DIR / CACHE_DIR, self.figures_dir])
