"""The one finishing step of every evaluation: rows from a source, the cache, the real-data row, the tables.

Two sources produce checkpoint rows: the checkpoints of a run vaediag trained (:mod:`.pipeline`) and a user's model
evaluated from their own loop (:mod:`.external`). Each hands :func:`finish` a list of :class:`RowSource`; the driver
serves each row from the cache (:mod:`.cache`) when its key matches, computes the others, adds the real-data
reference row and assembles the :class:`~vaediag.store.evaluation.Evaluation` (tables, settings, timings) that the
caller publishes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import pandas as pd

from vaediag import columns as C
from vaediag.errors import ConfigError
from vaediag.metrics import generation
from vaediag.store.rundir import PAIRS_COLUMNS, PER_CLASS_COLUMNS, Evaluation, Run

from . import cache, stages
from .cache import RowResult
from .reference import Reference, evaluate_data

Log = Callable[[str], None]


@dataclass
class RowSource:
    """One checkpoint row: its ``epoch``, its cache ``key`` and how to ``compute`` it on a miss (None: a row that
    can only come from the cache or from ``fallback``, e.g. the published tables of an earlier call)."""

    epoch: int
    key: str
    compute: Callable[[], RowResult] | None = None
    fallback: Callable[[], RowResult | None] | None = None
    cached_note: str = "cached"


@dataclass
class Rows:
    """The rows of one evaluation, by epoch, and the ones computed or rebuilt now (to be stored in the cache)."""

    results: dict[int, RowResult] = field(default_factory=dict)
    fresh: list[tuple[int | None, str, RowResult]] = field(default_factory=list)

    def store(self, run: Run) -> None:
        """Write the cache entries of the rows computed now."""
        for epoch, key, result in self.fresh:
            cache.store(run, epoch, key, result)
        self.fresh = []


def check_test_size(ref: Reference) -> None:
    """One-line :class:`ConfigError` when the test set is too small for PRDC's neighbourhoods, or the kNN asks
    for more neighbours than the training images it is fit on (a clamped k would publish another metric)."""
    need = 2 * (ref.settings.prdc_k + 1)
    if ref.n_test < need:
        raise ConfigError(f"the test set has {ref.n_test} images; need at least {need}")
    if ref.settings.knn_k > ref.n_train:
        raise ConfigError(f"--knn-k {ref.settings.knn_k} is more than the {ref.n_train} training images the latent "
                          f"kNN is fit on; choose k <= {ref.n_train} (or a larger --train-size)")


def fingerprints(ref: Reference, latent_dim: int, **extra) -> dict:
    """What every cache key of this evaluation covers: data, classifier, settings and the table layout (a new
    metric column changes the registered columns, and so every key: old entries are not reused)."""
    return {**ref.fingerprints, "columns": stages.metrics_columns(latent_dim), "per_class_columns": PER_CLASS_COLUMNS,
            "pairs_columns": PAIRS_COLUMNS, **extra}


def _log_row(log: Log, epoch: int, result: RowResult) -> None:
    row = result.row
    log(f"epoch {epoch}: silhouette {row[C.SILHOUETTE]:.3f}  kNN {row[C.KNN_ACCURACY]:.3f}  "
        f"prior modes {row[C.PRIOR + C.MODES_COVERED]}  FD {row[C.FRECHET]:.2f}  ({result.timings['total']:.1f} s)")


def collect(run: Run, ref: Reference, sources: list[RowSource], log: Log, *, store_now: bool = True) -> Rows:
    """Each source's row: from the cache when its key matches, else computed (the real test images' features
    first, once) or taken from its fallback; a source without either is left out with a note. ``store_now``:
    write each new cache entry at once (else :meth:`Rows.store` later)."""
    rows = Rows()
    for source in sources:
        result = cache.load(run, source.epoch, source.key)
        if result is not None:
            if source.compute is not None:
                log(f"epoch {source.epoch}: {source.cached_note}")
        elif source.compute is not None:
            ref.real()
            result = source.compute()
            result.timings["cached"] = False
            _log_row(log, source.epoch, result)
            rows.fresh.append((source.epoch, source.key, result))
        elif source.fallback is not None and (result := source.fallback()) is not None:
            rows.fresh.append((source.epoch, source.key, result))
        else:
            log(f"note: epoch {source.epoch}: neither its cache entry nor the published tables hold it; "
                f"it is left out (evaluate it again)")
            continue
        rows.results[source.epoch] = result
        if store_now:
            rows.store(run)
    rows.results = dict(sorted(rows.results.items()))
    return rows


def data_row(run: Run, ref: Reference, prints: dict, rows: Rows) -> RowResult:
    """The real-data reference row, from the cache or computed now (then queued on ``rows`` for the cache)."""
    key = cache.cache_key(prints, C.SOURCE_DATA)
    result = cache.load(run, None, key)
    if result is None:
        ref.real()
        result = evaluate_data(ref)
        result.timings["cached"] = False
        rows.fresh.append((None, key, result))
    return result


def assemble(run: Run, results: dict[int, RowResult], data_result: RowResult) -> Evaluation:
    """The tables: checkpoint rows (with the joined history) then the real-data row; artifacts in memory."""
    epochs = list(results)
    index = pd.Index([*epochs, C.DATA_EPOCH], name=C.EPOCH)
    metrics = pd.DataFrame([*(r.row for r in results.values()), data_result.row], index=index)
    metrics = metrics.reindex(columns=stages.metrics_columns(run.latent_dim))
    history = run.history.reindex(index=epochs, columns=C.HISTORY_COLUMNS[1:]).reindex(index)
    metrics = pd.concat([history, metrics], axis=1)
    metrics.insert(0, C.SOURCE, [C.SOURCE_MODEL] * len(epochs) + [C.SOURCE_DATA])
    metrics.index.name = C.EPOCH
    per_class = pd.concat([*(r.per_class for r in results.values()), data_result.per_class], ignore_index=True)
    pairs = pd.concat([r.pairs for r in results.values()], ignore_index=True)[PAIRS_COLUMNS]
    artifacts = {epoch: r.artifact for epoch, r in results.items()}
    return Evaluation(metrics, per_class, pairs, artifacts=artifacts)


def finish(run: Run, ref: Reference, rows: Rows, data_result: RowResult, *, described: dict,
           shared_seconds: dict) -> Evaluation:
    """The :class:`Evaluation` of ``rows`` and ``data_result``: the tables, the settings record (the evaluation
    settings, the data / classifier fingerprints, the subsets, then ``described``: the model, device, ...) and the
    timings (``shared_seconds``: seconds of the shared work, by name)."""
    settings = ref.settings
    evaluation = assemble(run, rows.results, data_result)
    _, qspan = generation.quantile_grid(settings.grid, 1)
    iwae_subset = min(stages.IWAE_SUBSET, ref.n_test) if settings.iwae and not described.get("deterministic") else 0
    evaluation.settings = {
        **settings.to_dict(), "qgrid_span": float(qspan), "iwae_subset": iwae_subset,
        "n_train": ref.n_train, "n_test": ref.n_test, **described, "epochs": list(rows.results),
        "data_sha256": ref.data_fingerprint, "classifier_sha256": ref.classifier_fingerprint,
        "classifier_temperature": ref.classifier_temperature,
    }
    evaluation.timings = {
        "shared": {name: round(s, 4) for name, s in shared_seconds.items()},
        "epochs": {epoch: result.timings for epoch, result in rows.results.items()},
        "data": data_result.timings,
    }
    return evaluation


class Clock:
    """Seconds per named lap of the shared work (loading data, the classifier, cache look-ups, ...)."""

    def __init__(self):
        self.seconds: dict[str, float] = {}
        self._start = self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.seconds[name] = self.seconds.get(name, 0.0) + (now - self._last)
        self._last = now

    def total(self) -> dict[str, float]:
        """The laps plus ``total`` (seconds since the clock started)."""
        return {**self.seconds, "total": time.perf_counter() - self._start}
