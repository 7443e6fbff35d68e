"""Diagnose a VAE vaediag did not train: :func:`evaluate_model`, the in-loop API.

Call it from your own training loop at the epochs you choose::

    vaediag.check_model(model, decoder="probs")          # the pre-flight check, before the first epoch
    for epoch in range(1, 11):
        train_loss, test_loss = train_one_epoch(model)
        losses["train_loss"].append(train_loss); losses["test_loss"].append(test_loss)
        if epoch in (5, 10):
            vaediag.evaluate_model(model, "runs/mine", epoch, history=losses)

Each call evaluates ``model`` (anything satisfying :class:`vaediag.models.protocol.VAEModel`) with the same stages,
cache and tables as ``vaediag evaluate`` and publishes metrics.csv / per_class.csv / pairs.csv holding every epoch
evaluated so far in RUN_DIR (an **external run**), so ``vaediag report``, ``vaediag check`` and ``vaediag compare``
work on it unchanged. It leaves the training exactly as it was (:mod:`vaediag.models.isolation`: random
generators, modes, parameters). The per-epoch losses the user hands over (``history=``) become the run's
history.csv, which the report's overfitting question and ``overfitting`` claims read; without them the report
reads the IWAE / ELBO columns of the evaluated epochs instead. An external run has no vaediag checkpoints.

config.json of an external run (written on the first call): ``kind: "external"``, ``dataset``, ``model``
(``class``: the model's qualified class name, ``latent_dim``, ``decoder``, ``deterministic``, ``input``:
``"image"`` or ``"flat"``, what ``encode`` is given), ``user`` (the ``config`` you pass; JSON-able; kept from the
first call), ``evaluation`` (``train_size``, ``test_size``, ``seed`` of the data subsets and the
:class:`EvalSettings`) and ``versions``. Every later call must agree on the dataset, latent_dim, class, decoder,
encoder kind, input, subsets and settings, else a one-line :class:`ConfigError` and nothing is written. The
epoch -> cache-key record (eval/external.json) lets later calls rebuild the earlier rows from the cache (or, when
the cache was cleared, from the published tables); re-evaluating an epoch replaces its row.
"""

from __future__ import annotations

import json
import numbers
import os
from pathlib import Path
from typing import Any, Callable

import numpy as np
import torch

from .. import columns as C
from vaediag.datasets.registry import check_dataset, class_names
from ..errors import ConfigError, RunDirError
from vaediag.models.train_config import SEED_MAX
from vaediag.models.protocol import IMAGE_INPUT, ModelAdapter, check_model, checked_decoder, class_name, model_device
from vaediag.store import external_record
from vaediag.store.rundir import (EXTERNAL_CHECKPOINT_FORMAT, EXTERNAL_KIND, PAIRS_COLUMNS, PER_CLASS_COLUMNS,
                                  Evaluation, Run, history_frame)
from ..versions import versions
from vaediag.datasets.classifier import load_classifier
from vaediag.datasets.data import load_dataset

from . import cache, driver, events, stages
from .cache import RowResult
from vaediag.models.isolation import untouched
from .reference import Reference, sha256_tensors
from .settings import EvalSettings

Log = Callable[[str], None]

EXTERNAL_TRAIN_SIZE = 10_000  # default training subset (kNN fit, training IWAE bound): 10k of the 60k, stratified
EXTERNAL_TEST_SIZE = None  # default test set: all 10k test images
FINGERPRINT_PROBE = 16  # images / codes whose outputs fingerprint a model without a state_dict


def _model_fingerprint(adapter: ModelAdapter) -> str:
    """SHA-256 of the model's state_dict (names, dtypes, shapes, bytes); for a model without one, of its outputs
    on a fixed seeded probe (encode of FINGERPRINT_PROBE images, decode of as many codes)."""
    state = adapter.state_dict()
    if state:
        return sha256_tensors(sorted((k, v) for k, v in state.items() if isinstance(v, torch.Tensor)))
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((FINGERPRINT_PROBE, 1, 28, 28), generator=gen)
    z = torch.randn((FINGERPRINT_PROBE, adapter.latent_dim), generator=gen)
    mu, logvar = adapter.encode(x)
    outputs = [("mu", mu), ("decoded", adapter.decode(z))] + ([] if logvar is None else [("logvar", logvar)])
    return "outputs:" + sha256_tensors(outputs)


def _json_config(config: Any) -> Any:
    try:
        json.dumps(config, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"config must be JSON-able (dicts, lists, strings, finite numbers): {exc}") from None
    return config


def _check_same(run: Run, expected: dict) -> None:
    """:class:`ConfigError` naming the first recorded value this call disagrees with."""
    cfg = run.config
    if cfg.get("kind") != EXTERNAL_KIND:
        raise ConfigError(f"{run.path} holds a run vaediag trained (no kind \"external\" in {run.config_path}); "
                          f"evaluate_model writes external runs only: choose another RUN_DIR")
    model = {"input": IMAGE_INPUT, **(cfg.get("model") or {})}  # a run recorded before inputs were adapted: image
    recorded = {"dataset": run.dataset, **{f"model.{k}": model.get(k) for k in expected["model"]},
                **{f"evaluation.{k}": (cfg.get("evaluation") or {}).get(k) for k in expected["evaluation"]}}
    wanted = {"dataset": expected["dataset"], **{f"model.{k}": v for k, v in expected["model"].items()},
              **{f"evaluation.{k}": v for k, v in expected["evaluation"].items()}}
    for key, value in wanted.items():
        if recorded[key] != value:
            raise ConfigError(f"{run.path} was evaluated with {key} = {recorded[key]!r}, this call has {value!r}; "
                              f"an external run keeps one model, dataset and evaluation setting (use another RUN_DIR)")


def _published(run: Run) -> Evaluation | None:
    """The published tables when they are one complete set (checked once per call), else None."""
    if not run.has_evaluation() or run.evaluation_problem():
        return None
    return run.evaluation


def _from_published(ev: Evaluation | None, run: Run, epoch: int, latent_dim: int) -> RowResult | None:
    """An earlier epoch's row taken from the published tables ``ev`` (when its cache entry is gone), or None."""
    if ev is None or epoch not in ev.epochs:
        return None
    row = ev.metrics.loc[epoch].reindex(stages.metrics_columns(latent_dim))
    row = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
    pc = ev.per_class
    per_class = pc[(pc[C.SOURCE] == C.SOURCE_MODEL) & (pc[C.EPOCH] == epoch)].reset_index(drop=True)
    pairs = ev.pairs[ev.pairs[C.EPOCH] == epoch].reset_index(drop=True)
    artifact = dict(run.artifacts(epoch))
    return RowResult(row, per_class[PER_CLASS_COLUMNS], pairs[PAIRS_COLUMNS], {"cached": True}, artifact)


def evaluate_model(
    model: Any,
    run_dir: str | Path,
    epoch: int,
    *,
    dataset: str = "mnist",
    device: str = "auto",
    decoder: str = "probs",
    config: Any = None,
    save_checkpoint: bool = False,
    settings: EvalSettings = EvalSettings(),
    train_size: int | None = EXTERNAL_TRAIN_SIZE,
    test_size: int | None = EXTERNAL_TEST_SIZE,
    seed: int = 0,
    data_root: str | Path | None = None,
    history: Any = None,
    log_dir: str | Path | None = None,
    data=None,
    classifier=None,
    log: Log = print,
) -> Evaluation:
    """Evaluate ``model`` as epoch ``epoch`` of the external run ``run_dir`` and publish the run's tables.

    ``model``: anything satisfying :class:`vaediag.models.protocol.VAEModel` (checked first with a two-image probe:
    :class:`~vaediag.errors.ProtocolError`); ``decoder``: ``"probs"`` (``decode`` returns probabilities) or
    ``"logits"``. ``dataset``: ``"mnist"`` or ``"fashion-mnist"``. ``device``: ``"auto"`` evaluates on the model's
    own device (its first parameter's; CPU without parameters), or ``"cpu"`` / ``"cuda"``; the model is never
    moved (inputs go to it, outputs come back), and its train/eval mode is restored afterwards.
    Data subsets: ``train_size`` (default 10000, class-stratified, seeded by ``seed``; None = all 60k) and
    ``test_size`` (default None = all 10k test images); ``data`` / ``classifier`` replace loading the dataset /
    the shipped classifier (tests). ``config``: JSON-able, recorded in config.json ``user``.
    ``save_checkpoint``: also store ``{"format", "state_dict", "class", "epoch"}`` as checkpoints/epoch_XXX.pt.
    ``history``: your per-epoch losses so far, ``{"train_loss": [...], "test_loss": [...]}`` (lists for epochs
    1, 2, ..., or mappings epoch -> value; also train_recon, train_kl, train_eval_loss, test_recon, test_kl,
    epoch_seconds; nats per image) or a DataFrame: written to history.csv (the epochs given replace those
    recorded), read by the report's overfitting question and ``overfitting`` claims. ``log_dir``: also write
    the epoch's columns and prior sheet as TensorBoard events there (needs ``vaediag[tensorboard]``).

    Nothing the training loop can observe changes: the random generators (torch CPU and CUDA, numpy,
    ``random``), the train / eval mode of the model and of each sub-module, its parameters and buffers, grad
    mode and thread count are as before the call (:func:`vaediag.models.isolation.untouched`).

    Returns the :class:`Evaluation` of every epoch evaluated so far (how to read it: :mod:`vaediag.evaluate`),
    with ``epoch`` set to this call's: in a notebook it displays this epoch's key numbers and prior samples.
    The row is cached under the SHA-256 of the model's state_dict plus the data, classifier, settings and
    columns: evaluating the same weights again costs nothing. Raises a one-line :class:`ConfigError` (bad
    argument, unknown dataset, a call that disagrees with the run's recorded model / dataset / settings),
    :class:`RunDirError` (RUN_DIR unusable); nothing is written then. Holds the RUN_DIR lock.
    """
    run_dir, settings = _checked_arguments(run_dir, settings, seed=seed, train_size=train_size, test_size=test_size)
    dataset = check_dataset(dataset)
    checked_decoder(decoder)
    if not isinstance(epoch, (int, np.integer)) or isinstance(epoch, bool) or epoch < 1:
        raise ConfigError(f"epoch must be an integer >= 1 (epoch {C.DATA_EPOCH} is the real-data row), got {epoch!r}")
    epoch = int(epoch)
    user = _json_config(config)
    given = None if history is None else external_record.history_from_user(history)
    if log_dir is not None:
        events.require_tensorboard()
    if device == "auto":
        dev = model_device(model) if hasattr(model, "encode") else torch.device("cpu")
    else:
        from ..devices import resolve_device

        dev = resolve_device(device)
    with untouched(model, dev):
        adapter = check_model(model, decoder, dev)
        expected = {
            "dataset": dataset,
            "model": {"class": class_name(model), "latent_dim": adapter.latent_dim, "decoder": decoder,
                      "deterministic": adapter.deterministic, "input": adapter.input},
            "evaluation": {"train_size": train_size, "test_size": test_size, "seed": int(seed),
                           "settings": settings.to_dict()},
        }
        run = Run(run_dir)
        run.check_directory()
        with run.writing("evaluate", create=True):
            new = not run.has_config()
            if new and not run.is_empty():
                raise RunDirError(f"{run.path} is not empty and has no config.json; evaluate_model creates a new "
                                  f"external run in an empty or missing folder")
            if not new:
                _check_same(run, expected)
            run.check_writable()
            entries = {} if new else external_record.read_entries(run)
            recorded = history_frame([]) if new else run.history
            merged = external_record.merged_history(recorded, given)
            evaluation = _evaluate(run, adapter, epoch, expected, user=user, new=new, entries=entries, history=merged,
                                   save_checkpoint=save_checkpoint, dev=dev, settings=settings, data_root=data_root,
                                   data=data, classifier=classifier, log=log)
        if log_dir is not None:
            since = max([e for e in evaluation.epochs if e < epoch], default=0)
            events.write_epoch(log_dir, evaluation, epoch, history=merged, since=since)
    return evaluation


def _checked_arguments(run_dir, settings, *, seed, train_size, test_size) -> tuple[Path, EvalSettings]:
    """(RUN_DIR as a path, the settings) or a one-line :class:`ConfigError` naming the bad argument."""
    if not isinstance(run_dir, (str, os.PathLike)):
        raise ConfigError(f"run_dir must be a folder path (str or pathlib.Path), got {type(run_dir).__name__}")
    settings = EvalSettings.coerce(settings)
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral) or not 0 <= seed <= SEED_MAX:
        raise ConfigError(f"seed must be an integer from 0 to {SEED_MAX}, got {seed!r}")
    for name, size in (("train_size", train_size), ("test_size", test_size)):
        if size is not None and (isinstance(size, bool) or not isinstance(size, numbers.Integral) or size < 10):
            raise ConfigError(f"{name} must be None (all images) or an integer >= 10, got {size!r}")
    return Path(run_dir), settings


def _evaluate(run: Run, adapter: ModelAdapter, epoch: int, expected: dict, *, user: Any, new: bool,
              entries: dict[int, str], history, save_checkpoint: bool, dev: torch.device, settings: EvalSettings,
              data_root, data, classifier, log: Log) -> Evaluation:
    clock = driver.Clock()
    subsets = expected["evaluation"]
    if data is None:
        data = load_dataset(expected["dataset"], data_root, train_size=subsets["train_size"],
                            test_size=subsets["test_size"], seed=subsets["seed"], device="cpu", log=log)
    classifier = (load_classifier(dev, dataset=expected["dataset"]) if classifier is None
                  else classifier.to(dev).eval())
    ref = Reference(data, classifier, dev, settings, train_seed=subsets["seed"],
                    classes=class_names(expected["dataset"]))
    driver.check_test_size(ref)
    latent_dim = adapter.latent_dim
    prints = driver.fingerprints(ref, latent_dim, decoder=adapter.decoder)
    published = _published(run)
    # rows published but missing from an edited or lost external.json are kept too
    entries = {**entries, **{int(e): cache.cache_key(prints, f"published:{e}")
                             for e in (published.epochs if published is not None else []) if int(e) not in entries}}
    sources = [driver.RowSource(e, k, fallback=lambda e=e: _from_published(published, run, e, latent_dim))
               for e, k in sorted(entries.items()) if e != epoch]  # re-evaluating an epoch replaces its row
    with adapter.evaluating(), torch.inference_mode():
        key = cache.cache_key(prints, "model:" + _model_fingerprint(adapter))
        sources.append(driver.RowSource(epoch, key, cached_note="cached (same weights)",
                                        compute=lambda: stages.evaluate_model_row(adapter, latent_dim, epoch, ref)))
        rows = driver.collect(run, ref, sources, log, store_now=False)  # nothing is written before config.json
    data_result = driver.data_row(run, ref, prints, rows)
    evaluation = driver.finish(
        Run(run.path, config=run.config if not new else _config(expected, user), history=history), ref, rows,
        data_result,
        shared_seconds={"total": clock.total()["total"]},
        described={"latent_dim": latent_dim, "model": expected["model"]["class"], "kind": EXTERNAL_KIND,
                   "decoder": adapter.decoder, "deterministic": adapter.deterministic,
                   "dataset": expected["dataset"], "device": str(dev)})
    # everything is computed: now write (config first, so a kill leaves a recognisable external run)
    if new:
        run.write_config(_config(expected, user))
    rows.store(run)
    if len(history) and not history.equals(run.history):
        run.write_history(history)
    if save_checkpoint:
        state = {k: v.detach().cpu() for k, v in adapter.state_dict().items() if isinstance(v, torch.Tensor)}
        external_record.write_checkpoint(run, epoch, {"format": EXTERNAL_CHECKPOINT_FORMAT, "state_dict": state,
                                              "class": expected["model"]["class"], "epoch": epoch})
    external_record.write_entries(run, {**{e: entries[e] for e in rows.results if e in entries}, epoch: key})
    run.write_evaluation(evaluation, versions())
    evaluation.epoch = epoch
    return evaluation


def _config(expected: dict, user: Any) -> dict:
    return {"kind": EXTERNAL_KIND, **expected, "user": user, "versions": versions()}

