"""Evaluate checkpoints: one row of diagnostics per checkpoint epoch, plus a reference row from real data.

``evaluate(run_dir)`` loads every checkpoint of a run (or the ``epochs`` asked for), encodes the run's
train and test digits (same subsets as training: ``train_size`` / ``test_size`` / ``seed`` of
``config.json``) and computes, per checkpoint:

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
  decode(mu(x)) and, with ``iwae=K``, the importance-weighted NLL bound on the first ``IWAE_SUBSET``
  test digits.

How to read the results: every metric column is documented in :mod:`vaediag.columns` and in the
docstrings of :mod:`vaediag.metrics` (range, better direction). Compare a checkpoint with the reference
row ``epoch == "data"``: there the same generation metrics are computed on *real* test digits (the
classifier's predictions on the test set as ``prior_*``, the Fréchet distance and PRDC between two random
halves of the test set, the classifier's accuracy as ``recon_accuracy``): that is the best a perfect
generator could score, so a gap to it is what the model still lacks. Latent and loss columns are NaN there.
The training history (train/test loss per epoch) is joined into the same table, so overfitting shows
next to the diagnostics.

Files written (atomically, only once everything was computed, so a failure leaves old results intact):
``RUN_DIR/metrics.csv``, ``per_class.csv``, ``pairs.csv``, ``evaluation.json`` (settings, versions,
timings) and ``RUN_DIR/eval/epoch_XXX.npz`` (arrays for the figures, see :func:`load_artifacts`).
Results are cached per checkpoint under ``RUN_DIR/eval/cache/``, keyed by the checkpoint's SHA-256, the
evaluation settings, the data and the classifier weights: a re-run only computes new or changed
checkpoints. The tables written hold the epochs of the latest call.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

import numpy as np
import pandas as pd
import torch

from . import atomic, columns as C
from .checkpoint import file_sha256, list_checkpoints, load_checkpoint
from .data import MNISTData, load_mnist
from .devices import resolve_device
from .errors import ConfigError, RunDirError
from .metrics import frechet, generation, latent, usage
from .metrics.prdc import compute_prdc, nearest_neighbour_radii
from .models import VAE, reconstruction_nll
from .train import evaluate_elbo, read_config, read_history, versions

# One table of defaults shared by the Python API and the CLI.
DEFAULT_EVAL: dict[str, Any] = dict(samples=10000, grid=15, grid_span=1.0, knn_k=5, prdc_k=5, iwae=0, seed=0)
FORMATS = ("table", "csv", "json")

EVAL_FORMAT = "vaediag-eval-v1"  # bump when the computation changes: old cache entries are then ignored
IWAE_SUBSET = 1000  # the IWAE bound uses the first IWAE_SUBSET test digits
BATCH = 4096  # images per encoder / decoder / classifier batch
IWAE_DECODES = 8192  # latent codes decoded per IWAE batch (test digits per batch = IWAE_DECODES // K)

METRICS_FILE = "metrics.csv"
PER_CLASS_FILE = "per_class.csv"
PAIRS_FILE = "pairs.csv"
EVALUATION_FILE = "evaluation.json"
EVAL_DIR = "eval"
CACHE_DIR = "cache"

PER_CLASS_COLUMNS = [C.EPOCH, C.DIGIT, C.CLASS_SILHOUETTE, C.CLASS_KNN_RECALL, C.CLASS_PRIOR_SHARE,
                     C.CLASS_GRID_SHARE, C.CLASS_QGRID_SHARE, C.CLASS_DATA_SHARE]
PAIRS_COLUMNS = [C.EPOCH, C.DIGIT_A, C.DIGIT_B, C.CONFUSION_RATE]
TIMING_FAMILIES = ("encode", "separation", "usage", "generation", "frechet_prdc", "reconstruction", "iwae")
N_CLASSES = 10

Log = Callable[[str], None]


def metrics_columns(latent_dim: int) -> list[str]:
    """The metric columns of ``metrics.csv`` (after the joined history columns), in table order."""
    hist = C.HISTOGRAM_METRICS
    return [
        C.SILHOUETTE, C.KNN_ACCURACY, C.DAVIES_BOULDIN, C.CALINSKI_HARABASZ, C.MOST_MIXED_PAIR,
        C.MOST_MIXED_PAIR_RATE,
        C.ACTIVE_UNITS, C.TOTAL_CORRELATION, *(f"{C.KL_PER_DIM_PREFIX}{i}" for i in range(latent_dim)),
        C.AGGPOST_MEAN_NORM, C.AGGPOST_VAR_MEAN, C.AGGPOST_KL_PRIOR,
        *(C.PRIOR + m for m in hist),
        *(C.GRID + m for m in hist), C.GRID_SPAN, C.GRID_INSIDE,
        *(C.QGRID + m for m in hist), C.QGRID_SPAN, C.QGRID_INSIDE,
        C.FRECHET, C.PRECISION, C.RECALL, C.DENSITY, C.COVERAGE,
        C.EVAL_LOSS, C.EVAL_RECON, C.EVAL_KL, C.RECON_ACCURACY, C.IWAE_NLL,
    ]


@dataclass
class Evaluation:
    """The result of :func:`evaluate` (or :func:`read_results`).

    - ``metrics``: one row per checkpoint epoch (int) then the reference row ``"data"``; index name
      ``EPOCH``; the history columns (train/test loss, ...) then :func:`metrics_columns`.
    - ``per_class``: columns ``PER_CLASS_COLUMNS``, 10 rows (digits) per epoch, the ``"data"`` rows too.
    - ``pairs``: columns ``PAIRS_COLUMNS``, 45 rows (digit pairs a < b) per checkpoint epoch, most mixed
      pair first.
    - ``settings``: the evaluation settings (``DEFAULT_EVAL`` keys, ``qgrid_span``, ``n_test``, ...).
    - ``timings``: seconds per metric family, ``{"shared": {...}, "epochs": {epoch: {...}}}``; an epoch
      served from the cache has ``cached: True`` and the timings of the run that computed it.
    """

    metrics: pd.DataFrame
    per_class: pd.DataFrame
    pairs: pd.DataFrame
    settings: dict
    timings: dict = field(default_factory=dict)

    def timing_table(self) -> pd.DataFrame:
        """Per-checkpoint seconds per metric family (rows: epochs), from ``timings``."""
        table = pd.DataFrame.from_dict(self.timings.get("epochs", {}), orient="index").rename_axis(C.EPOCH)
        order = [c for c in (*TIMING_FAMILIES, "total", "cached") if c in table.columns]
        return table[order + [c for c in table.columns if c not in order]]


# ---------------------------------------------------------------------------------------------- settings


def _check_settings(s: dict) -> None:
    checks = [
        (s["samples"] > s["prdc_k"], f"--samples must exceed the PRDC k={s['prdc_k']}, got {s['samples']}"),
        (s["grid"] >= 2, f"--grid must be >= 2, got {s['grid']}"),
        (s["grid_span"] > 0 and math.isfinite(s["grid_span"]), f"--grid-span must be > 0, got {s['grid_span']}"),
        (s["knn_k"] >= 1, f"kNN k must be >= 1, got {s['knn_k']}"),
        (s["prdc_k"] >= 1, f"PRDC k must be >= 1, got {s['prdc_k']}"),
        (s["iwae"] >= 0, f"--iwae K must be >= 0 (0 = off), got {s['iwae']}"),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(message)


def _select_checkpoints(run_dir: Path, epochs: Iterable[int] | None) -> dict[int, Path]:
    found = list_checkpoints(run_dir)
    if not found:
        raise RunDirError(f"{run_dir} has no checkpoints (expected {run_dir}/checkpoints/epoch_XXX.pt)")
    if epochs is None:
        return found
    wanted = sorted(set(int(e) for e in epochs))
    missing = [e for e in wanted if e not in found]
    if missing:
        raise RunDirError(f"no checkpoint for epoch {','.join(map(str, missing))} in {run_dir}; "
                          f"available: {','.join(map(str, found))}")
    return {e: found[e] for e in wanted}


# ---------------------------------------------------------------------------------------------- fingerprints


def _sha256_tensors(tensors: Iterable[tuple[str, torch.Tensor]]) -> str:
    h = hashlib.sha256()
    for name, t in tensors:
        t = t.detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.numpy().tobytes() if t.dtype != torch.bfloat16 else t.float().numpy().tobytes())
    return h.hexdigest()


def _key(obj: dict) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


# ---------------------------------------------------------------------------------------------- torch helpers


def _encode(model: VAE, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    mus, logvars = [], []
    for start in range(0, len(x), BATCH):
        mu, logvar = model.encode(x[start : start + BATCH])
        mus.append(mu.float().cpu())
        logvars.append(logvar.float().cpu())
    return torch.cat(mus).numpy(), torch.cat(logvars).numpy()


def _decode(model: VAE, z: np.ndarray | torch.Tensor, device: torch.device) -> torch.Tensor:
    z = torch.as_tensor(z, dtype=torch.float32).to(device)
    return torch.cat([model.decode(z[s : s + BATCH]) for s in range(0, len(z), BATCH)]).float()


def _to_uint8(probs: torch.Tensor) -> np.ndarray:
    return probs.mul(255).round_().clamp_(0, 255).to(torch.uint8).squeeze(1).cpu().numpy()


def _classify(classifier, x: torch.Tensor):
    from .classifier import classify

    return classify(classifier, x, batch_size=BATCH)


def iwae_nll(model: VAE, x: torch.Tensor, k: int, seed: int) -> float:
    """Importance-weighted bound (Burda et al. 2016) on -log p(x), nats per sample, mean over ``x``.

    -log (1/K) sum_k p(x|z_k) p(z_k) / q(z_k|x), z_k ~ q(z|x). Lower is better; it is an upper bound on
    the true NLL that tightens as K grows, and is never above the ELBO-based bound in expectation (the
    K = 1 case), so ``iwae_nll_nats <= eval_test_loss`` up to sampling noise when beta = 1.
    """
    gen = torch.Generator(device=x.device).manual_seed(seed)
    per_batch = max(1, IWAE_DECODES // k)
    log2pi = math.log(2 * math.pi)
    total = 0.0
    with torch.inference_mode():
        for start in range(0, len(x), per_batch):
            xb = x[start : start + per_batch]
            n = len(xb)
            mu, logvar = model.encode(xb)
            eps = torch.randn((k, *mu.shape), generator=gen, device=x.device, dtype=mu.dtype)
            z = mu + eps * torch.exp(0.5 * logvar)
            logits = model.decode_logits(z.reshape(k * n, -1))
            log_px = -reconstruction_nll(logits, xb.repeat(k, 1, 1, 1)).view(k, n)
            log_pz = -0.5 * (z.pow(2) + log2pi).sum(-1)
            log_qz = -0.5 * (eps.pow(2) + log2pi + logvar).sum(-1)
            log_w = (log_px + log_pz - log_qz).double()
            total += float((torch.logsumexp(log_w, 0) - math.log(k)).sum())
    return -total / len(x)


# ---------------------------------------------------------------------------------------------- the reference


class _Reference:
    """What every checkpoint is compared with: the run's data, the classifier and real-data features.

    The classifier pass over the real test digits, their feature statistics and PRDC radii are computed
    once (lazily, only when something is not cached) and reused for every checkpoint.
    """

    def __init__(self, data, classifier, device: torch.device, s: dict):
        self.device = device
        self.s = s
        self.classifier = classifier
        self.train_labels = data.train_labels.cpu().numpy().astype(np.int64)
        self.test_labels = data.test_labels.cpu().numpy().astype(np.int64)
        self.data_fingerprint = _sha256_tensors(
            [("train_images", data.train_images), ("train_labels", data.train_labels),
             ("test_images", data.test_images), ("test_labels", data.test_labels)])
        self.classifier_fingerprint = _sha256_tensors(sorted(classifier.state_dict().items()))
        self.train_x = MNISTData.to_float(data.train_images.to(device))
        self.test_x = MNISTData.to_float(data.test_images.to(device))
        self.label_shares = np.bincount(self.test_labels, minlength=N_CLASSES)[:N_CLASSES] / len(self.test_labels)
        self._real = None

    @property
    def n_train(self) -> int:
        return len(self.train_labels)

    @property
    def n_test(self) -> int:
        return len(self.test_labels)

    def real(self):
        """(probs [N, 10], features [N, F], (mean, cov), radii [N]) of the real test digits, computed once."""
        if self._real is None:
            out = _classify(self.classifier, self.test_x)
            probs, feats = np.asarray(out.probs, np.float64), np.asarray(out.features)
            self._real = (probs, feats, frechet.feature_statistics(feats),
                          nearest_neighbour_radii(feats, self.s["prdc_k"]))
        return self._real


# ---------------------------------------------------------------------------------------------- one checkpoint


@dataclass
class _Result:
    row: dict
    per_class: pd.DataFrame
    pairs: pd.DataFrame
    timings: dict
    artifact: dict | None = None


class _Clock:
    def __init__(self):
        self.t = {}
        self._last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.t[name] = self.t.get(name, 0.0) + (now - self._last)
        self._last = now


def _evaluate_checkpoint(path: Path, epoch: int, ref: _Reference) -> _Result:
    s = ref.s
    ck = load_checkpoint(path, device=ref.device)
    model, d = ck.model, ck.config.latent_dim
    clock = _Clock()
    row: dict[str, Any] = {}
    with torch.inference_mode():
        # encode
        test_mu, test_logvar = _encode(model, ref.test_x)
        train_mu, _ = _encode(model, ref.train_x)
        clock.lap("encode")

        # latent separation
        sil = latent.silhouette_values(test_mu, ref.test_labels)
        row.update(latent.separation_scores(test_mu, ref.test_labels, silhouette=sil))
        knn = latent.knn_scores(train_mu, ref.train_labels, test_mu, ref.test_labels, k=min(s["knn_k"], ref.n_train))
        pairs = latent.pair_confusion(knn.confusion)
        row[C.KNN_ACCURACY] = knn.accuracy
        row[C.MOST_MIXED_PAIR], row[C.MOST_MIXED_PAIR_RATE] = latent.most_mixed_pair(pairs)
        class_sil = latent.per_class_silhouette(None, ref.test_labels, N_CLASSES, silhouette=sil)
        clock.lap("separation")

        # latent usage
        row[C.ACTIVE_UNITS] = usage.active_units(test_mu)
        row[C.TOTAL_CORRELATION] = usage.gaussian_total_correlation(test_mu)
        row.update(usage.kl_dim_columns(usage.kl_per_dim(test_mu, test_logvar)))
        row.update(usage.aggregate_posterior_moments(test_mu, test_logvar))
        clock.lap("usage")

        # generation: prior samples and the two latent grids
        z_prior = generation.sample_prior(s["samples"], d, s["seed"])
        prior_out = _classify(ref.classifier, _decode(model, z_prior, ref.device))
        prior_probs = np.asarray(prior_out.probs, np.float64)
        row.update(generation.with_prefix(generation.histogram_metrics(prior_probs, ref.test_labels), C.PRIOR))
        grid_images, grid_shares = {}, {}
        n = s["grid"]
        z_lin = generation.linear_grid(n, s["grid_span"], d)
        z_q, qspan = generation.quantile_grid(n, d)
        for prefix, z, span, span_col, inside_col in ((C.GRID, z_lin, s["grid_span"], C.GRID_SPAN, C.GRID_INSIDE),
                                                      (C.QGRID, z_q, qspan, C.QGRID_SPAN, C.QGRID_INSIDE)):
            images = _decode(model, z, ref.device)
            probs = np.asarray(_classify(ref.classifier, images).probs, np.float64)
            row.update(generation.with_prefix(generation.histogram_metrics(probs, ref.test_labels), prefix))
            row[span_col] = float(span)
            row[inside_col] = generation.inside_fraction(test_mu, span)
            grid_images[prefix] = _to_uint8(images)
            grid_shares[prefix] = generation.class_shares(probs)
        clock.lap("generation")

        # sample quality in classifier-feature space
        _, _, real_stats, real_radii = ref.real()
        prior_feats = np.asarray(prior_out.features)
        row[C.FRECHET] = frechet.frechet_distance_from_stats(*frechet.feature_statistics(prior_feats), *real_stats)
        row.update(compute_prdc(ref.real()[1], prior_feats, k=s["prdc_k"], real_radii=real_radii))
        clock.lap("frechet_prdc")

        # reconstruction
        elbo = evaluate_elbo(model, ref.test_x, seed=s["seed"])
        row[C.EVAL_LOSS], row[C.EVAL_RECON], row[C.EVAL_KL] = elbo["loss"], elbo["recon"], elbo["kl"]
        recon = _decode(model, test_mu, ref.device)
        recon_pred = np.argmax(np.asarray(_classify(ref.classifier, recon).probs), axis=1)
        row[C.RECON_ACCURACY] = float(np.mean(recon_pred == ref.test_labels))
        del recon
        clock.lap("reconstruction")

        row[C.IWAE_NLL] = (iwae_nll(model, ref.test_x[:IWAE_SUBSET], s["iwae"], s["seed"] + 1)
                           if s["iwae"] else float("nan"))
        clock.lap("iwae")

    timings = {name: round(clock.t.get(name, 0.0), 4) for name in TIMING_FAMILIES}
    timings["total"] = round(sum(clock.t.values()), 4)
    per_class = pd.DataFrame({
        C.EPOCH: epoch, C.DIGIT: np.arange(N_CLASSES),
        C.CLASS_SILHOUETTE: class_sil, C.CLASS_KNN_RECALL: knn.per_class_recall,
        C.CLASS_PRIOR_SHARE: generation.class_shares(prior_probs),
        C.CLASS_GRID_SHARE: grid_shares[C.GRID], C.CLASS_QGRID_SHARE: grid_shares[C.QGRID],
        C.CLASS_DATA_SHARE: ref.label_shares,
    }, columns=PER_CLASS_COLUMNS)
    pairs.insert(0, C.EPOCH, epoch)
    artifact = {
        "test_mu": test_mu.astype(np.float32), "test_labels": ref.test_labels,
        "grid_linear": grid_images[C.GRID], "grid_quantile": grid_images[C.QGRID],
        "grid_span": np.float64(s["grid_span"]), "qgrid_span": np.float64(qspan),
        "prior_labels": np.argmax(prior_probs, axis=1).astype(np.int64),
    }
    return _Result(row, per_class, pairs, timings, artifact)


def _evaluate_data(ref: _Reference) -> _Result:
    """The reference row: generation metrics of the real test digits (see the module docstring)."""
    s = ref.s
    clock = _Clock()
    probs, feats, _, _ = ref.real()
    row: dict[str, Any] = {}
    row.update(generation.with_prefix(generation.histogram_metrics(probs, ref.test_labels), C.PRIOR))
    row[C.RECON_ACCURACY] = float(np.mean(np.argmax(probs, axis=1) == ref.test_labels))
    perm = np.random.default_rng(s["seed"]).permutation(ref.n_test)
    half_a, half_b = feats[perm[: ref.n_test // 2]], feats[perm[ref.n_test // 2 :]]
    row[C.FRECHET] = frechet.frechet_distance(half_b, half_a)
    if min(len(half_a), len(half_b)) > s["prdc_k"]:
        row.update(compute_prdc(half_a, half_b, k=s["prdc_k"]))
    clock.lap("frechet_prdc")
    nan = np.full(N_CLASSES, np.nan)
    per_class = pd.DataFrame({
        C.EPOCH: C.DATA_ROW, C.DIGIT: np.arange(N_CLASSES), C.CLASS_SILHOUETTE: nan, C.CLASS_KNN_RECALL: nan,
        C.CLASS_PRIOR_SHARE: generation.class_shares(probs), C.CLASS_GRID_SHARE: nan, C.CLASS_QGRID_SHARE: nan,
        C.CLASS_DATA_SHARE: ref.label_shares,
    }, columns=PER_CLASS_COLUMNS)
    return _Result(row, per_class, pd.DataFrame(columns=PAIRS_COLUMNS), {"total": round(clock.t["frechet_prdc"], 4)})


# ---------------------------------------------------------------------------------------------- cache


def _cache_paths(run_dir: Path, name: str, key: str) -> tuple[Path, Path]:
    base = run_dir / EVAL_DIR / CACHE_DIR / f"{name}-{key[:24]}"
    return base.with_suffix(".json"), base.with_suffix(".npz")


def _cache_load(run_dir: Path, name: str, key: str, with_artifact: bool) -> _Result | None:
    jpath, npath = _cache_paths(run_dir, name, key)
    if not jpath.is_file() or (with_artifact and not npath.is_file()):
        return None
    try:
        entry = json.loads(jpath.read_text())
        if entry.get("key") != key:
            return None
        per_class = pd.DataFrame(entry["per_class"], columns=PER_CLASS_COLUMNS)
        pairs = pd.DataFrame(entry["pairs"], columns=PAIRS_COLUMNS)
        return _Result(entry["row"], per_class, pairs, dict(entry["timings"], cached=True))
    except (ValueError, KeyError, TypeError, OSError):
        return None  # an unreadable cache entry is simply recomputed


def _cache_store(run_dir: Path, name: str, key: str, result: _Result) -> None:
    jpath, npath = _cache_paths(run_dir, name, key)
    if result.artifact is not None:
        atomic.write_with(npath, lambda tmp: _savez(tmp, result.artifact))
    entry = {"key": key, "row": result.row, "per_class": result.per_class.to_dict("list"),
             "pairs": result.pairs.to_dict("list"), "timings": result.timings}
    atomic.write_text(jpath, json.dumps(entry, default=_json_default) + "\n")


def _savez(path: Path, arrays: dict) -> None:
    with open(path, "wb") as fh:  # a file object: np.savez would otherwise append ".npz" to the temp name
        np.savez(fh, **arrays)


def _json_default(value):
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot serialise {type(value).__name__}")


# ---------------------------------------------------------------------------------------------- evaluate


def evaluate(
    run_dir: str | Path,
    *,
    epochs: Iterable[int] | None = None,
    samples: int = DEFAULT_EVAL["samples"],
    grid: int = DEFAULT_EVAL["grid"],
    grid_span: float = DEFAULT_EVAL["grid_span"],
    knn_k: int = DEFAULT_EVAL["knn_k"],
    prdc_k: int = DEFAULT_EVAL["prdc_k"],
    iwae: int = DEFAULT_EVAL["iwae"],
    seed: int = DEFAULT_EVAL["seed"],
    device: str = "auto",
    data_root: str | Path | None = None,
    train_size: int | None = None,
    test_size: int | None = None,
    data=None,
    classifier=None,
    log: Log = print,
) -> Evaluation:
    """Evaluate the checkpoints of ``run_dir`` (all, or the given ``epochs``) and write the result tables.

    Settings (defaults in ``DEFAULT_EVAL``): ``samples`` prior draws, ``grid`` x ``grid`` latent grids,
    the linear grid's half-width ``grid_span``, ``knn_k`` for the latent kNN, ``prdc_k`` for PRDC,
    ``iwae`` importance samples (0 = off; else the IWAE bound on the first ``IWAE_SUBSET`` test digits),
    ``seed`` for the prior draws, ELBO noise and the data-row split.
    Data: the run's subsets (``train_size`` / ``test_size`` / ``seed`` from ``config.json``) unless
    ``train_size`` / ``test_size`` are given; ``data`` (an ``MNISTData``) replaces loading MNIST.
    ``classifier`` replaces the shipped digit classifier (``vaediag.classifier.load_classifier``).

    Returns an :class:`Evaluation`; see the module docstring for how to read it. Raises
    :class:`RunDirError` (no checkpoints, a missing epoch), :class:`CheckpointError` (corrupt checkpoint),
    :class:`ConfigError` (bad setting); existing result files are then left untouched.
    """
    run_dir = Path(run_dir)
    s = dict(samples=int(samples), grid=int(grid), grid_span=float(grid_span), knn_k=int(knn_k),
             prdc_k=int(prdc_k), iwae=int(iwae), seed=int(seed))
    _check_settings(s)
    selected = _select_checkpoints(run_dir, epochs)
    config = read_config(run_dir)
    train_cfg = config.get("train", {})
    dev = resolve_device(device)
    t_start = time.perf_counter()
    shared = _Clock()

    if data is None:
        data = load_mnist(data_root if data_root is not None else train_cfg.get("data_root"),
                          train_size=train_size if train_size is not None else train_cfg.get("train_size"),
                          test_size=test_size if test_size is not None else train_cfg.get("test_size"),
                          seed=train_cfg.get("seed", 0), device="cpu", log=log)
    shared.lap("load_data")
    if classifier is None:
        from .classifier import load_classifier

        classifier = load_classifier(dev)
    else:
        classifier = classifier.to(dev).eval()
    shared.lap("load_classifier")
    ref = _Reference(data, classifier, dev, s)
    if ref.n_test < 2 * (s["prdc_k"] + 1):
        raise ConfigError(f"the test set has {ref.n_test} digits; need at least {2 * (s['prdc_k'] + 1)}")
    shared.lap("prepare_data")
    _, qspan = generation.quantile_grid(s["grid"], 1)
    base_key = {"format": EVAL_FORMAT, "settings": s, "data": ref.data_fingerprint,
                "classifier": ref.classifier_fingerprint}

    keys = {epoch: _key({**base_key, "checkpoint": file_sha256(path)}) for epoch, path in selected.items()}
    results: dict[Any, _Result] = {}
    for epoch, key in keys.items():
        cached = _cache_load(run_dir, f"epoch_{epoch:03d}", key, with_artifact=True)
        if cached is not None:
            results[epoch] = cached
    data_key = _key({**base_key, "checkpoint": C.DATA_ROW})
    data_result = _cache_load(run_dir, C.DATA_ROW, data_key, with_artifact=False)
    shared.lap("cache_lookup")
    if len(results) < len(selected) or data_result is None:
        ref.real()  # classifier features, statistics and PRDC radii of the real test digits, once
    shared.lap("real_features")

    for epoch, path in selected.items():
        name = f"epoch_{epoch:03d}"
        if epoch in results:
            log(f"epoch {epoch}: cached")
        else:
            result = _evaluate_checkpoint(path, epoch, ref)
            _cache_store(run_dir, name, keys[epoch], result)
            result.timings["cached"] = False
            results[epoch] = result
            log(f"epoch {epoch}: silhouette {result.row[C.SILHOUETTE]:.3f}  kNN {result.row[C.KNN_ACCURACY]:.3f}  "
                f"prior modes {result.row[C.PRIOR + C.MODES_COVERED]}  FD {result.row[C.FRECHET]:.2f}  "
                f"({result.timings['total']:.1f} s)")
        results[epoch].artifact = _cache_paths(run_dir, name, keys[epoch])[1]  # copied when publishing
    results = {epoch: results[epoch] for epoch in selected}  # epoch order, cached or not
    shared.lap("checkpoints")
    if data_result is None:
        data_result = _evaluate_data(ref)
        _cache_store(run_dir, C.DATA_ROW, data_key, data_result)
        data_result.timings["cached"] = False
    shared.lap("data_row")

    latent_dim = _latent_dim(config)
    evaluation = _assemble(run_dir, results, data_result, latent_dim)
    evaluation.settings = {
        **s, "qgrid_span": float(qspan), "iwae_subset": min(IWAE_SUBSET, ref.n_test) if s["iwae"] else 0,
        "n_train": ref.n_train, "n_test": ref.n_test, "latent_dim": latent_dim,
        "model": config.get("model", {}).get("model"), "device": str(dev),
        "epochs": [int(e) for e in selected], "data_sha256": ref.data_fingerprint,
        "classifier_sha256": ref.classifier_fingerprint,
    }
    shared.t["total"] = time.perf_counter() - t_start
    evaluation.timings = {
        "shared": {k: round(v, 4) for k, v in shared.t.items()},
        "epochs": {**{int(e): r.timings for e, r in results.items()}, C.DATA_ROW: data_result.timings},
    }
    _write_results(run_dir, evaluation, {e: r.artifact for e, r in results.items()})
    return evaluation


def _latent_dim(config: dict) -> int:
    return int(config.get("model", {}).get("latent_dim") or config.get("train", {}).get("latent_dim", 2))


def _assemble(run_dir: Path, results: dict, data_result: _Result, latent_dim: int) -> Evaluation:
    index = pd.Index([*results.keys(), C.DATA_ROW], dtype=object, name=C.EPOCH)
    metrics = pd.DataFrame([r.row for r in results.values()] + [data_result.row], index=index)
    metrics = metrics.reindex(columns=metrics_columns(latent_dim))
    history = read_history(run_dir).reindex(columns=C.HISTORY_COLUMNS[1:])
    joined = history.reindex(pd.Index(list(results.keys()), dtype=object)).reindex(index)
    metrics = pd.concat([joined, metrics], axis=1)
    metrics.index.name = C.EPOCH
    per_class = pd.concat([*(r.per_class for r in results.values()), data_result.per_class], ignore_index=True)
    per_class[C.EPOCH] = per_class[C.EPOCH].astype(object)
    pairs = pd.concat([r.pairs for r in results.values()], ignore_index=True)[PAIRS_COLUMNS]
    return Evaluation(metrics, per_class, pairs, {})


def _write_results(run_dir: Path, ev: Evaluation, artifacts: dict[int, Path]) -> None:
    """Write all result files; every file is first written to a temp file, then all are renamed."""
    summary = {"settings": ev.settings, "versions": versions(),
               "timings": {"shared": ev.timings["shared"],
                           "epochs": {str(k): v for k, v in ev.timings["epochs"].items()}}}
    writers = [
        (run_dir / METRICS_FILE, lambda p: ev.metrics.to_csv(p)),
        (run_dir / PER_CLASS_FILE, lambda p: ev.per_class.to_csv(p, index=False)),
        (run_dir / PAIRS_FILE, lambda p: ev.pairs.to_csv(p, index=False)),
        (run_dir / EVALUATION_FILE,
         lambda p: p.write_text(json.dumps(summary, indent=2, sort_keys=True, default=_json_default) + "\n")),
    ]
    for epoch, src in artifacts.items():
        writers.append((artifact_path(run_dir, epoch), lambda p, src=src: p.write_bytes(Path(src).read_bytes())))
    with contextlib.ExitStack() as stack:
        for target, write in writers:
            write(stack.enter_context(atomic.atomic_path(target)))


# ---------------------------------------------------------------------------------------------- reading back


def artifact_path(run_dir: str | Path, epoch: int) -> Path:
    return Path(run_dir) / EVAL_DIR / f"epoch_{int(epoch):03d}.npz"


def load_artifacts(run_dir: str | Path, epoch: int) -> dict[str, np.ndarray]:
    """The arrays :func:`evaluate` saved for ``epoch`` (RUN_DIR/eval/epoch_XXX.npz).

    ``test_mu`` float32 [N, d], ``test_labels`` int64 [N]; ``grid_linear`` / ``grid_quantile`` uint8
    [n*n, 28, 28]: decoded grids in row-major image order (first row = top = highest z_1, columns from
    low to high z_0); ``grid_span`` / ``qgrid_span`` 0-d float arrays (each grid covers [-span, span]);
    ``prior_labels`` int64 [samples]: the classifier's digit for each prior sample.
    """
    if isinstance(epoch, str) and not epoch.isdigit():
        raise RunDirError(f"no artifacts for epoch {epoch!r}: artifacts exist only for checkpoint epochs")
    path = artifact_path(run_dir, int(epoch))
    if not path.is_file():
        raise RunDirError(f"no evaluation artifacts for epoch {epoch} in {run_dir} (run `vaediag evaluate` first)")
    with np.load(path, allow_pickle=False) as npz:
        return {k: npz[k] for k in npz.files}


def read_results(run_dir: str | Path) -> Evaluation:
    """Read the tables of the last :func:`evaluate` from RUN_DIR (no computation).

    Raises :class:`RunDirError` when RUN_DIR was never evaluated.
    """
    run_dir = Path(run_dir)
    paths = [run_dir / f for f in (METRICS_FILE, PER_CLASS_FILE, PAIRS_FILE, EVALUATION_FILE)]
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        raise RunDirError(f"{run_dir} has no evaluation results ({', '.join(missing)} missing); "
                          f"run `vaediag evaluate {run_dir}` first")
    metrics = pd.read_csv(paths[0], index_col=C.EPOCH, dtype={C.EPOCH: str, C.MOST_MIXED_PAIR: object})
    metrics.index = pd.Index([C.parse_epoch(v) for v in metrics.index], dtype=object, name=C.EPOCH)
    per_class = pd.read_csv(paths[1], dtype={C.EPOCH: str})
    per_class[C.EPOCH] = pd.Series([C.parse_epoch(v) for v in per_class[C.EPOCH]], dtype=object)
    pairs = pd.read_csv(paths[2])
    summary = json.loads(paths[3].read_text())
    timings = summary.get("timings", {})
    if "epochs" in timings:
        timings["epochs"] = {C.parse_epoch(k): v for k, v in timings["epochs"].items()}
    return Evaluation(metrics, per_class, pairs, summary.get("settings", {}), timings)


# ---------------------------------------------------------------------------------------------- printing

# The terminal table: (column, short header); ``format_table`` documents the headers.
TABLE_COLUMNS = [
    (C.TRAIN_LOSS, "train"), (C.TEST_LOSS, "test"), (C.SILHOUETTE, "silh"), (C.KNN_ACCURACY, "knn"),
    (C.MOST_MIXED_PAIR, "mixed"), (C.ACTIVE_UNITS, "active"), (C.PRIOR + C.MODES_COVERED, "modes"),
    (C.PRIOR + C.ENTROPY_NORM, "H_norm"), (C.GRID + C.MODES_COVERED, "grid_modes"), (C.GRID_INSIDE, "grid_in"),
    (C.FRECHET, "FD"), (C.PRECISION, "prec"), (C.RECALL, "recall"), (C.RECON_ACCURACY, "rec_acc"),
    (C.IWAE_NLL, "iwae"),
]
_INT_COLUMNS = (C.ACTIVE_UNITS, C.PRIOR + C.MODES_COVERED, C.GRID + C.MODES_COVERED)


def format_table(evaluation: Evaluation, fmt: str = "table") -> str:
    """Render ``evaluation.metrics`` for the terminal.

    ``csv``: the full metrics table as CSV; ``json``: the full table as a list of records (NaN -> null);
    ``table``: key columns with short headers: train/test = history losses (nats), silh = silhouette,
    knn = kNN accuracy, mixed = most mixed digit pair (its confusion rate), active = active units,
    modes / H_norm = digits covered by / normalised entropy of the prior samples, grid_modes / grid_in =
    digits in the linear grid / fraction of test codes inside it, FD = Fréchet distance, prec / recall =
    PRDC precision / recall, rec_acc = classifier accuracy on reconstructions, iwae = IWAE NLL bound
    (only when computed). The ``data`` row holds the real-data reference values.
    An unknown format is a :class:`ConfigError`.
    """
    metrics = evaluation.metrics
    if fmt == "csv":
        return metrics.to_csv()
    if fmt == "json":
        return metrics.reset_index().to_json(orient="records", indent=2, double_precision=15)
    if fmt != "table":
        raise ConfigError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")
    view = pd.DataFrame(index=metrics.index)
    for col, header in TABLE_COLUMNS:
        if col not in metrics.columns or (col == C.IWAE_NLL and metrics[col].isna().all()):
            continue
        values = metrics[col]
        if col in _INT_COLUMNS:
            values = values.map(lambda v: "" if pd.isna(v) else str(int(v)))
        elif col == C.MOST_MIXED_PAIR:
            rates = metrics.get(C.MOST_MIXED_PAIR_RATE, pd.Series(np.nan, index=metrics.index))
            values = pd.Series([_pair_text(p, r) for p, r in zip(values, rates)], index=metrics.index)
        view[header] = values
    return view.to_string(na_rep="", float_format=lambda v: f"{v:.3f}")


def _pair_text(pair, rate) -> str:
    if not isinstance(pair, str) or not pair:
        return ""
    return f"{pair} ({rate:.0%})" if pd.notna(rate) else pair
