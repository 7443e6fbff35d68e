"""One evaluation's tables in memory: :class:`Evaluation` (what ``vaediag evaluate`` computes).

How to read the tables: every column is documented in :mod:`vaediag.columns`; ``source == "data"``
marks the reference row computed on real test digits (epoch 0), the ceiling a checkpoint is read against.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import numpy as np
import pandas as pd

from vaediag import columns as C
from vaediag.datasets.classes import MNIST_CLASSES, ClassNames
from vaediag.errors import RunDirError
from vaediag.files.fileio import int_epochs, json_text, load_npz, read_csv, read_json, save_npz, unique_epochs
from vaediag.files.publish import Manifest, mismatch, publish, read_manifest
from vaediag.store import display
from vaediag.store.ranges import check_ranges

PER_CLASS_COLUMNS = [C.SOURCE, C.EPOCH, C.CLASS, C.CLASS_NAME, C.CLASS_SILHOUETTE, C.CLASS_KNN_RECALL,
                     C.CLASS_RECON_RECALL, C.CLASS_RECON_RECALL_CI_LOW, C.CLASS_RECON_RECALL_CI_HIGH,
                     C.CLASS_PRIOR_SHARE, C.CLASS_PRIOR_SHARE_CI_LOW, C.CLASS_PRIOR_SHARE_CI_HIGH,
                     C.CLASS_PRIOR_CODE_SHARE, C.CLASS_PRIOR_CODE_SHARE_CI_LOW, C.CLASS_PRIOR_CODE_SHARE_CI_HIGH,
                     C.CLASS_JUDGE_AGREEMENT, *C.ci_columns(C.CLASS_JUDGE_AGREEMENT),
                     C.CLASS_GRID_SHARE, C.CLASS_GRID_SHARE_CI_LOW, C.CLASS_GRID_SHARE_CI_HIGH,
                     C.CLASS_QGRID_SHARE, C.CLASS_QGRID_SHARE_CI_LOW, C.CLASS_QGRID_SHARE_CI_HIGH,
                     C.CLASS_GRID_INSIDE, C.CLASS_QGRID_INSIDE, C.CLASS_DATA_SHARE]
PAIRS_COLUMNS = [C.EPOCH, C.CLASS_A, C.CLASS_B, C.CLASS_A_NAME, C.CLASS_B_NAME, C.CONFUSION_RATE]
# metrics.csv columns an older metrics.csv may lack: NaN when it is read
COLUMNS_SINCE_0_3 = [C.TRAIN_EVAL_LOSS, C.TRAIN_EVAL_RECON, C.TRAIN_EVAL_KL, C.KNN_ACCURACY_CI_LOW,
                     C.KNN_ACCURACY_CI_HIGH, C.PRIOR_ENTROPY_NORM_CI_LOW, C.PRIOR_ENTROPY_NORM_CI_HIGH,
                     C.IWAE_TRAIN_NLL]

Artifacts = Mapping[int, Mapping[str, np.ndarray]]


@dataclass
class Evaluation:
    """The tables of one evaluation, in memory (what ``vaediag evaluate`` computes and ``metrics.csv`` holds).

    - ``metrics``: indexed by ``EPOCH`` (int); column ``SOURCE`` first: one ``"model"`` row per checkpoint
      epoch (ascending), then the ``"data"`` reference row (epoch 0) computed on real test digits; then the
      joined history columns and the metric columns.
    - ``per_class``: ``PER_CLASS_COLUMNS``, 10 rows (classes: label and name) per checkpoint epoch and 10
      ``"data"`` rows.
    - ``pairs``: ``PAIRS_COLUMNS``, 45 rows (class pairs a < b, with their names) per checkpoint epoch.
    - ``settings``: the evaluation settings; ``timings``: seconds per stage (``shared``, ``epochs``, ``data``);
      ``versions``: the library versions that computed it.
    - ``artifacts``: epoch -> the arrays behind the figures (test codes, decoded grids, ...), see
      :meth:`Run.artifacts`.
    - ``epoch``: the epoch one call of ``evaluate_model`` evaluated (None for a whole-run evaluation); in a
      notebook an Evaluation shows that epoch's key numbers and prior samples (:mod:`vaediag.store.display`).
    """

    metrics: pd.DataFrame
    per_class: pd.DataFrame
    pairs: pd.DataFrame
    settings: dict = field(default_factory=dict)
    timings: dict = field(default_factory=dict)
    artifacts: Artifacts = field(default_factory=dict, repr=False)
    versions: dict = field(default_factory=dict)
    epoch: int | None = None

    def __repr__(self) -> str:
        rows, columns = self.metrics.shape
        at = f", epoch={self.epoch}" if self.epoch is not None else ""
        return f"Evaluation(epochs={self.epochs}{at}; metrics: {rows} rows x {columns} columns)"

    def _repr_html_(self) -> str:
        return display.evaluation_html(self)

    def rows(self, epoch: int | None = None) -> pd.DataFrame:
        """The metrics.csv rows of ``epoch`` (default: ``self.epoch``, else the last) and the real-data row."""
        epoch = epoch if epoch is not None else self.epoch if self.epoch is not None else self.epochs[-1]
        return self.metrics[(self.metrics.index == epoch) | (self.metrics[C.SOURCE] == C.SOURCE_DATA)]

    @property
    def epochs(self) -> list[int]:
        """Evaluated checkpoint epochs, ascending."""
        return sorted(int(e) for e in self.metrics.index[self.metrics[C.SOURCE] == C.SOURCE_MODEL])

    @property
    def checkpoint_metrics(self) -> pd.DataFrame:
        """The ``"model"`` rows of ``metrics``, ascending by epoch."""
        m = self.metrics[self.metrics[C.SOURCE] == C.SOURCE_MODEL]
        return m.sort_index()

    @property
    def reference(self) -> pd.Series:
        """The ``"data"`` row of ``metrics`` (empty when absent)."""
        rows = self.metrics[self.metrics[C.SOURCE] == C.SOURCE_DATA]
        return rows.iloc[0] if len(rows) else pd.Series(dtype=object)

    def value(self, column: str, epoch: int) -> float:
        """A checkpoint's metric as float (NaN when the column, the epoch or a number is absent)."""
        m = self.checkpoint_metrics
        if column not in m.columns or epoch not in m.index:
            return float("nan")
        return _to_float(m.at[epoch, column])

    def reference_value(self, column: str) -> float:
        """The real-data reference value of ``column`` (NaN when absent)."""
        ref = self.reference
        return _to_float(ref[column]) if column in ref.index else float("nan")

    def timing_table(self) -> pd.DataFrame:
        """Per-checkpoint seconds per evaluation stage, in stage order, then ``total`` and ``cached``
        (rows: epochs), from ``timings``."""
        return pd.DataFrame.from_dict(self.timings.get("epochs", {}), orient="index").rename_axis(C.EPOCH)


def _to_float(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


# ---------------------------------------------------------------------------------------------- on disk
@dataclass(frozen=True)
class EvaluationFiles:
    """The files of one run's evaluation, read and written as one published set (:mod:`vaediag.files.publish`):
    the three tables, the summary (evaluation.json) and one npz of artifacts per epoch, under ``root``, with
    the manifest at ``manifest``. :class:`~vaediag.store.rundir.Run` gives the paths; ``classes`` (called only when
    older tables are read) names the classes those tables lack the names of."""

    root: Path
    metrics: Path
    per_class: Path
    pairs: Path
    summary: Path
    manifest: Path
    artifact_path: Callable[[int], Path]
    classes: Callable[[], ClassNames] = lambda: MNIST_CLASSES

    @property
    def _hint(self) -> str:
        return f"re-run `vaediag evaluate {self.root}`"

    def read(self) -> Evaluation:
        """The evaluation, checked against the manifest and the documented ranges; artifacts load on first
        use, checked again. One-line :class:`RunDirError` when anything is missing, mixed or out of range."""
        missing = [p.name for p in (self.metrics, self.per_class, self.pairs) if not p.is_file()]
        if missing:
            raise RunDirError(f"{self.root} has no evaluation results ({', '.join(missing)} missing); "
                              f"run `vaediag evaluate {self.root}` first")
        manifest = self.checked()
        metrics, per_class, pairs = read_tables(self.metrics, self.per_class, self.pairs, self._hint,
                                              self.classes)
        summary = read_summary(self.summary) if self.summary.is_file() else ({}, {}, {}, None)
        settings, timings, versions, set_id = summary
        if set_id != manifest.set_id:
            raise self._mixed(f"{self.summary.name} belongs to another evaluation")
        paths = {e: self.artifact_path(e) for e in metrics.index[metrics[C.SOURCE] == C.SOURCE_MODEL]}
        artifacts = LazyArtifacts({e: p for e, p in paths.items() if manifest.lists(self.root, p)},
                                  lambda path: self.checked([path], manifest))
        return Evaluation(metrics, per_class, pairs, settings, timings, artifacts, versions)

    def read_artifact(self, epoch: int) -> dict[str, np.ndarray]:
        """The arrays of ``epoch``'s npz as on disk now, checked against the manifest."""
        path = self.artifact_path(epoch)
        self.checked([path])
        return load_npz(path)

    def _mixed(self, detail: str) -> RunDirError:
        return RunDirError(f"evaluation results in {self.root} are incomplete or mixed ({detail}: interrupted "
                           f"while being written, or edited?); {self._hint}")

    def checked(self, paths: list[Path] | None = None, manifest: Manifest | None = None) -> Manifest:
        """The manifest (read unless given) after checking ``paths`` against it (default: the tables, the
        summary and every file it lists); :class:`RunDirError` on a missing manifest or a mismatch."""
        name = self.manifest.relative_to(self.root).as_posix()
        manifest = manifest or read_manifest(self.manifest)
        if manifest is None:
            raise RunDirError(f"the evaluation results in {self.root} have no {name} (written by an older "
                              f"vaediag, or interrupted); {self._hint}")
        if paths is None:
            paths = [self.metrics, self.per_class, self.pairs, self.summary]
            paths += [self.root / listed for listed in manifest.files]
        problem = mismatch(self.root, manifest, paths)
        if problem:
            raise self._mixed(f"{problem} {name}")
        return manifest

    def problem(self) -> str | None:
        """Why the results on disk are not one complete set, or None (complete, or none at all)."""
        if not any(p.exists() for p in (self.metrics, self.per_class, self.pairs, self.manifest)):
            return None
        try:
            self.checked()
        except RunDirError as exc:
            return str(exc).removesuffix(f"; {self._hint}")
        return None

    def write(self, ev: Evaluation) -> None:
        """Publish ``ev``: the tables, the summary (with a new evaluation id) and each epoch's artifacts as
        one set; an epoch absent from ``ev.artifacts`` keeps its npz of the previous set, if that holds one."""
        set_id = uuid.uuid4().hex
        epoch_timings = {str(k): v for k, v in ev.timings.get("epochs", {}).items()}
        summary = {"evaluation_id": set_id, "settings": ev.settings, "versions": ev.versions,
                   "timings": {**ev.timings, "epochs": epoch_timings}}
        writers: list[tuple[Path, Callable[[Path], Any]]] = [
            (self.metrics, lambda p: ev.metrics.to_csv(p)),
            (self.per_class, lambda p: ev.per_class.to_csv(p, index=False)),
            (self.pairs, lambda p: ev.pairs.to_csv(p, index=False)),
            (self.summary, lambda p: p.write_text(json_text(summary), encoding="utf-8")),
        ]
        for epoch in ev.epochs:
            if epoch in ev.artifacts:
                arrays = ev.artifacts[epoch]  # loaded now, before any file is replaced
                writers.append((self.artifact_path(epoch), lambda p, a=arrays: save_npz(p, a)))
        keep = [self.artifact_path(e) for e in ev.epochs if e not in ev.artifacts]
        publish(self.root, writers, self.manifest, set_id, keep)


def read_tables(metrics_path: Path, per_class_path: Path, pairs_path: Path, hint: str,
                classes: Callable[[], ClassNames] = lambda: MNIST_CLASSES,
                ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """(metrics, per_class, pairs) as :class:`Evaluation` holds them, each value checked against its
    documented range (:mod:`vaediag.store.ranges`); any problem is a one-line :class:`RunDirError` ending in ``hint``.
    Older tables (columns ``digit``, ``digit_a``, ``digit_b``, no names) read with the columns
    renamed (``C.CLASS_COLUMNS_0_3``) and the names filled from ``classes()`` (the run's dataset)."""
    metrics = read_csv(metrics_path, dtype={C.MOST_MIXED_PAIR: object, C.SOURCE: object})
    for col in (C.EPOCH, C.SOURCE):
        if col not in metrics.columns:
            raise RunDirError(f"{metrics_path} has no {col!r} column (written by an older vaediag?); {hint}")
    metrics[C.EPOCH] = int_epochs(metrics[C.EPOCH], metrics_path)
    unique_epochs(metrics.loc[metrics[C.SOURCE] == C.SOURCE_MODEL, C.EPOCH], metrics_path)
    if not (metrics[C.SOURCE] == C.SOURCE_MODEL).any():
        raise RunDirError(f"{metrics_path} has no checkpoint rows; {hint}")
    check_ranges(metrics, metrics_path, hint)
    tables = [_with_columns(metrics, COLUMNS_SINCE_0_3).set_index(C.EPOCH)]
    names = {C.CLASS_NAME: object, C.CLASS_A_NAME: object, C.CLASS_B_NAME: object}  # MNIST's "3" stays text
    for path, dtype in ((per_class_path, {C.SOURCE: object, **names}), (pairs_path, names)):
        df = _with_class_names(read_csv(path, dtype=dtype), classes, path, hint)
        if C.EPOCH not in df.columns:
            raise RunDirError(f"{path} has no {C.EPOCH!r} column; {hint}")
        df[C.EPOCH] = int_epochs(df[C.EPOCH], path)
        check_ranges(df, path, hint)
        tables.append(df)
    tables[1] = _with_columns(tables[1], PER_CLASS_COLUMNS)
    return tables[0], tables[1], tables[2]


def _with_class_names(df: pd.DataFrame, classes: Callable[[], ClassNames], path: Path, hint: str) -> pd.DataFrame:
    """``df`` with the 0.3 column names renamed and missing class-name columns filled from ``classes()``."""
    df = df.rename(columns={old: new for old, new in C.CLASS_COLUMNS_0_3.items() if new not in df.columns})
    for label, name in ((C.CLASS, C.CLASS_NAME), (C.CLASS_A, C.CLASS_A_NAME), (C.CLASS_B, C.CLASS_B_NAME)):
        if label in df.columns and name not in df.columns:
            labels = pd.to_numeric(df[label], errors="coerce")
            if labels.isna().any() or not labels.between(0, C.N_CLASSES - 1).all():
                raise RunDirError(f"{path}: {label} holds a value that is not a class 0-{C.N_CLASSES - 1}; {hint}")
            at = (df.columns.get_loc(C.CONFUSION_RATE) if label != C.CLASS and C.CONFUSION_RATE in df.columns
                  else df.columns.get_loc(label) + 1)  # per_class: after the label; pairs: before the rate
            df.insert(at, name, [classes().name(int(i)) for i in labels])
    return df


def _with_columns(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """``df`` with each of ``columns`` it lacks added as NaN (older tables); extra columns (e.g. the
    removed ``*_chi2_pvalue``) are kept as they are."""
    missing = [c for c in columns if c not in df.columns]
    return df.assign(**{c: np.nan for c in missing}) if missing else df


def read_summary(path: Path) -> tuple[dict, dict, dict, str | None]:
    """(settings, timings, versions, evaluation id) from evaluation.json at ``path``."""
    summary = read_json(path)
    parts = [summary.get(k) or {} for k in ("settings", "timings", "versions")] if isinstance(summary, dict) else []
    if not parts or not all(isinstance(p, dict) for p in parts):
        raise RunDirError(f"{path} does not hold the evaluation summary (settings, timings, versions)")
    settings, timings, versions = (dict(p) for p in parts)
    try:
        if "epochs" in timings:
            timings["epochs"] = {int(k): v for k, v in dict(timings["epochs"]).items()}
    except (TypeError, ValueError):
        raise RunDirError(f"{path}: timings.epochs must map epochs to timings") from None
    return settings, timings, versions, summary.get("evaluation_id")


class LazyArtifacts(Mapping):
    """epoch -> the arrays of its npz file, loaded on first access after ``check(path)`` (which raises when
    the file is not the one published): the artifacts of an evaluation read from disk."""

    def __init__(self, paths: dict[int, Path], check: Callable[[Path], None]):
        self._paths = dict(sorted(paths.items()))
        self._check = check
        self._loaded: dict[int, dict] = {}

    def __getitem__(self, epoch: int) -> dict:
        epoch = int(epoch)
        if epoch not in self._loaded:
            path = self._paths[epoch]  # KeyError: no artifacts for that epoch
            self._check(path)
            self._loaded[epoch] = load_npz(path)
        return self._loaded[epoch]

    def __contains__(self, epoch) -> bool:
        try:
            return int(epoch) in self._paths
        except (TypeError, ValueError):
            return False

    def __iter__(self) -> Iterator[int]:
        return iter(self._paths)

    def __len__(self) -> int:
        return len(self._paths)


def history_frame(rows: list[dict]) -> pd.DataFrame:
    """History rows as a DataFrame indexed by epoch with the documented columns."""
    return pd.DataFrame(rows, columns=C.HISTORY_COLUMNS).set_index(C.EPOCH)

