"""Evaluate checkpoints: one row of diagnostics per checkpoint epoch, plus a reference row from real data.

``evaluate_run(run_dir)`` loads every checkpoint of a run (or the ``epochs`` asked for), encodes the
run's train and test digits (same subsets as training: ``train_size`` / ``test_size`` / ``seed`` of
``config.json``) and computes, per checkpoint (the stages of :mod:`vaediag.evaluate.stages`):

- **latent separation** of the test posterior means mu(x): silhouette (all test points), per-digit
  silhouette, kNN accuracy (k = ``knn_k``, fit on train mu, scored on test mu) and per-digit recall,
  Davies-Bouldin, Calinski-Harabasz, and the symmetric kNN confusion rate of every digit pair;
- **latent usage**: active units, KL per latent dimension, total correlation, aggregate posterior moments;
- **generation**, judged by the shipped digit classifier: ``samples`` seeded prior draws and the two
  ``grid`` x ``grid`` latent grids people plot (linear over [-grid_span, grid_span], Gaussian-quantile),
  each decoded and classified -> class-histogram metrics (``prior_*``, ``grid_*``, ``qgrid_*``), plus the
  fraction of test codes that falls inside each grid window;
- **sample quality** in classifier-feature space: Fréchet distance and precision / recall / density /
  coverage of the prior samples against the real test digits;
- **reconstruction**: the test ELBO parts (seeded), the classifier's accuracy on reconstructions
  decode(mu(x)) and, with ``iwae=K`` (on by default), the importance-weighted NLL bound on the first
  ``IWAE_SUBSET`` test digits and on as many digits of the run's fixed training subset;
- **within-run sampling intervals** (95 %): Wilson intervals of every class share (per_class.csv), bootstrap
  intervals of the prior samples' normalised entropy and of the kNN accuracy (metrics.csv ``*_ci_low/high``);
  and per digit, the share of its own test codes inside each grid window.

How to read the results: every metric column is documented in :mod:`vaediag.columns` and in the
docstrings of :mod:`vaediag.metrics` (range, better direction). Compare a checkpoint with the reference
row ``source == "data"`` (epoch 0): there the same generation metrics are computed on *real* test digits
(the classifier's predictions on the test set as ``prior_*``, the Fréchet distance and PRDC between two
random halves of the test set, the classifier's accuracy as ``recon_accuracy``): that is the best a
perfect generator could score, so a gap to it is what the model still lacks. Latent and loss columns are
NaN there. The training history (train/test loss per epoch) is joined into the checkpoint rows, so
overfitting shows next to the diagnostics.

Files written through :meth:`Run.write_evaluation` (only once everything was computed, so a failure
leaves old results intact), published as one set with a manifest written last (:mod:`vaediag.files.publish`):
``metrics.csv``, ``per_class.csv``, ``pairs.csv``, ``evaluation.json`` (settings, versions, timings) and
the artifact arrays behind the figures (:meth:`Run.artifacts`). A set left mixed by a kill is simply
written again.

Before any work: RUN_DIR must be writable, and every checkpoint must hold the model that config.json
describes (architecture, latent size, beta). MNIST is read from ``data_root`` when given; a
``data_root`` recorded in config.json is used only when it already holds verified MNIST (a stored
value never decides where data is downloaded), else the default root.

Results are cached per checkpoint (:mod:`vaediag.evaluate.cache`), keyed by the checkpoint's SHA-256,
the evaluation settings, the data and the classifier weights: a re-run only computes new or changed
checkpoints. The tables written hold the epochs of the latest call.
"""

from __future__ import annotations

from dataclasses import fields
from pathlib import Path
from typing import Callable, Iterable


from vaediag.files.atomic import file_sha256
from vaediag.models.checkpoint import read_state
from vaediag.datasets.classifier import load_classifier
from vaediag.datasets.data import MNISTData, load_dataset
from vaediag.datasets.registry import dataset_spec, default_root
from vaediag.datasets.provision import holds_verified
from ..devices import resolve_device
from ..errors import CheckpointError, ConfigError, RunDirError
from vaediag.models.config import VAEConfig
from vaediag.store.rundir import CHECKPOINT_SHA256, Evaluation, Run, epoch_tag
from ..versions import versions
from . import cache, driver, stages
from .reference import Reference
from .settings import EvalSettings

Log = Callable[[str], None]


def evaluate_run(
    run_dir: str | Path,
    *,
    settings: EvalSettings = EvalSettings(),
    epochs: Iterable[int] | None = None,
    device: str = "auto",
    data_root: str | Path | None = None,
    train_size: int | None = None,
    test_size: int | None = None,
    data: MNISTData | None = None,
    classifier=None,
    log: Log = print,
) -> Evaluation:
    """Evaluate the checkpoints of ``run_dir`` (all, or the given ``epochs``) and write the result tables.

    ``settings``: what to compute (:class:`EvalSettings`). Data: the run's subsets (``data_root`` /
    ``train_size`` / ``test_size`` / ``seed`` from ``config.json``) unless ``data_root`` / ``train_size``
    / ``test_size`` are given; ``data`` (an ``MNISTData``) replaces loading MNIST. ``classifier``
    replaces the shipped digit classifier (``vaediag.datasets.classifier.load_classifier``).

    Returns an :class:`Evaluation` whose ``artifacts`` hold the arrays in memory; see the module
    docstring for how to read it. Raises :class:`RunDirError` (no checkpoints, a missing epoch, a
    read-only RUN_DIR, a full disk), :class:`CheckpointError` (corrupt checkpoint, or one of another
    model), :class:`ConfigError` (bad setting); existing result files are then left untouched. Holds the
    RUN_DIR lock while it works (a second writer is refused with the holder's PID).
    """
    settings.validate()
    run = Run(run_dir)
    with run.writing("evaluate"):  # one writer per RUN_DIR; stale temporaries of killed writers removed
        return _evaluate(run, settings, epochs, device, data_root=data_root, train_size=train_size,
                         test_size=test_size, data=data, classifier=classifier, log=log)


def _evaluate(run: Run, settings: EvalSettings, epochs: Iterable[int] | None, device: str, *,
              data_root: str | Path | None, train_size: int | None, test_size: int | None, data: MNISTData | None,
              classifier, log: Log) -> Evaluation:
    if run.is_external:
        raise ConfigError(f"{run.path} is an external run (a model vaediag did not train); evaluate it with "
                          f"`vaediag evaluate --model-factory MODULE:FUNCTION --weights PATH --epoch N --out "
                          f"{run.path}` or vaediag.evaluate_model")
    selected = _select_checkpoints(run, epochs)
    run.check_writable()
    run.history  # noqa: B018  (read now: a damaged history.csv fails before any work, not after it)
    check_checkpoint_models(run, selected)
    problem = run.evaluation_problem()
    if problem:
        log(f"note: {problem}; this evaluation writes a complete new set")
    train_config = run.config.get("train") or {}
    dev = resolve_device(device)
    clock = driver.Clock()
    if data is None:
        data = load_dataset(run.dataset, resolve_data_root(run, data_root, log),
                            train_size=train_size if train_size is not None else train_config.get("train_size"),
                            test_size=test_size if test_size is not None else train_config.get("test_size"),
                            seed=train_config.get("seed", 0), device="cpu", log=log)
    clock.lap("load_data")
    classifier = load_classifier(dev, dataset=run.dataset) if classifier is None else classifier.to(dev).eval()
    clock.lap("load_classifier")
    ref = Reference(data, classifier, dev, settings, train_seed=train_config.get("seed", 0), classes=run.classes)
    driver.check_test_size(ref)
    clock.lap("prepare_data")

    prints = driver.fingerprints(ref, run.latent_dim)
    hashes = {epoch: file_sha256(path) for epoch, path in selected.items()}
    sources = [driver.RowSource(epoch, cache.cache_key(prints, hashes[epoch]),
                                compute=lambda path=path, epoch=epoch: stages.evaluate_checkpoint(path, epoch, ref))
               for epoch, path in selected.items()]
    rows = driver.collect(run, ref, sources, log)
    clock.lap("checkpoints")
    data_result = driver.data_row(run, ref, prints, rows)
    rows.store(run)
    clock.lap("data_row")
    evaluation = driver.finish(run, ref, rows, data_result, shared_seconds=clock.total(), described={
        "latent_dim": run.latent_dim, "model": run.model_config.get("model"), "device": str(dev),
        CHECKPOINT_SHA256: {str(epoch): hashes[epoch] for epoch in rows.results}})
    run.write_evaluation(evaluation, versions())
    return evaluation


def _select_checkpoints(run: Run, epochs: Iterable[int] | None) -> dict[int, Path]:
    found = run.checkpoints()
    if not found:
        raise RunDirError(f"{run.path} has no checkpoints (expected checkpoint files in {run.checkpoint_dir})")
    if epochs is None:
        return found
    wanted = sorted(set(int(e) for e in epochs))
    missing = [e for e in wanted if e not in found]
    if missing:
        raise RunDirError(f"no checkpoint for epoch {','.join(map(str, missing))} in {run.path}; "
                          f"available: {','.join(map(str, found))}")
    return {e: found[e] for e in wanted}


def check_checkpoint_models(run: Run, checkpoints: dict[int, Path]) -> None:
    """:class:`CheckpointError` naming the checkpoint and the fields that differ when a checkpoint holds
    another model (architecture, latent size, beta) than the run's config.json describes, or another epoch than
    its file name says (:class:`~vaediag.errors.NonFiniteError` for NaN weights)."""
    expected = run.config.get("model") or run.model_config
    names = [f.name for f in fields(VAEConfig) if f.name in expected]
    for epoch, path in checkpoints.items():
        state = read_state(path)
        if state["epoch"] != epoch:  # a renamed or copied file: its row would be published under the wrong epoch
            raise CheckpointError(f"checkpoint {path} holds the model of epoch {state['epoch']}, not epoch {epoch} "
                                  f"as its name says; rename it to {path.parent / epoch_tag(state['epoch'])}.pt "
                                  f"or remove it")
        saved = state.get("model_config")
        if not isinstance(saved, dict):
            raise CheckpointError(f"checkpoint {path} has no valid model_config")
        differs = [f"{k} {saved.get(k)!r} (config: {expected[k]!r})" for k in names if saved.get(k) != expected[k]]
        if differs:
            raise CheckpointError(f"checkpoint {path} holds another model than {run.config_path} describes: "
                                  f"{', '.join(differs)}; it does not belong to this run")


def resolve_data_root(run: Run, data_root: str | Path | None, log: Log = print) -> Path | None:
    """Where to read the run's dataset (``run.dataset``): ``data_root`` when given (prepared there when missing);
    else the ``data_root`` stored in config.json, but only when it already holds that dataset, verified (a stored
    value may say where to read verified data, never where to download it or create folders); else None, the
    default root."""
    if data_root is not None:
        return Path(data_root)
    stored = (run.config.get("train") or {}).get("data_root")
    if stored is None:
        return None
    if isinstance(stored, str) and stored and holds_verified(run.dataset, stored):
        return Path(stored)
    title = dataset_spec(run.dataset).title
    log(f"{title}: the data_root {stored!r} in {run.config_path} holds no verified {title}; "
        f"using {default_root()}")
    return None
