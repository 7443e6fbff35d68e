"""The metric families computed for one checkpoint, in the order they run.

Each stage is a function of a :class:`CheckpointContext` that returns its metric columns (column ->
value) and hands what later stages need (codes, classifier outputs, per-class values, artifact arrays)
on through the context. :data:`STAGES` registers every stage with the columns it fills, so the table
layout (:func:`metrics_columns`) follows from the registry.

Adding a metric column: its pure function in :mod:`vaediag.metrics`, a call in one stage below plus the
column name in that stage's registration, and its documentation in :mod:`vaediag.columns`. The cache key
covers the registered columns, so cached rows without the new column are recomputed.

The stages run on a model object (:func:`evaluate_model_row`): vaediag's own :class:`~vaediag.models.nets.VAE` or a
:class:`vaediag.models.protocol.ModelAdapter` around a user's model. A deterministic encoder (``encode`` gives no
log-variance; ``model.deterministic``) leaves the ELBO, IWAE, KL-per-dimension and posterior-variance columns NaN.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np
import pandas as pd
import torch

from .. import columns as C
from vaediag.models.checkpoint import load_checkpoint
from vaediag.datasets.classifier import ClassifierOutput
from vaediag.models.likelihood import evaluate_elbo, iwae_nll
from ..metrics import frechet, generation, judges, latent, plane, usage
from ..metrics.prdc import compute_prdc
from vaediag.models.nets import VAE
from vaediag.store.rundir import PAIRS_COLUMNS, PER_CLASS_COLUMNS
from ..errors import NonFiniteError
from .cache import RowResult
from .finite import at_epoch, require_finite
from .reference import BATCH, Reference
from .settings import EvalSettings

IWAE_SUBSET = 1000  # the IWAE bound uses the first IWAE_SUBSET test digits (and training-subset digits)
PRIOR_SHEET = 100  # artifact prior_sheet: the first PRIOR_SHEET decoded prior samples (a 10 x 10 sheet)
RECON_PER_DIGIT = 2  # artifact recon_pairs: the first RECON_PER_DIGIT test digits of each class
EXPLORER_PER_CLASS = 60  # the latent explorer shows this many test digits per class (with image and reconstruction)
EXPLORER_GRID = 24  # and decodes an EXPLORER_GRID x EXPLORER_GRID grid of its plane (a click shows the nearest)


@dataclass
class CheckpointContext:
    """One checkpoint's model and reference, plus what each stage leaves for the later ones."""

    model: Any  # a VAE, or a vaediag.models.protocol.ModelAdapter (same encode / decode / decode_logits / forward)
    ref: Reference
    latent_dim: int
    test_mu: np.ndarray | None = None  # posterior means of the test digits [N, d] (encode)
    test_logvar: np.ndarray | None = None  # None for a deterministic encoder
    train_mu: np.ndarray | None = None
    prior: ClassifierOutput | None = None  # the classifier on the decoded prior samples (generation)
    prior_z: np.ndarray | None = None  # the prior samples themselves (generation)
    prior_labels: np.ndarray | None = None  # the image judge's class of each prior sample, -1 unreadable
    per_class: dict[str, np.ndarray] = field(default_factory=dict)  # per_class column -> 10 values
    pairs: pd.DataFrame | None = None  # class-pair confusion rates, most mixed first (separation)
    artifact: dict[str, np.ndarray] = field(default_factory=dict)  # see Run.artifacts

    @property
    def settings(self) -> EvalSettings:
        return self.ref.settings


# ---------------------------------------------------------------------------------------------- torch helpers


def _encode(model: VAE, x: torch.Tensor, items: str = "images") -> tuple[np.ndarray, np.ndarray | None]:
    """Posterior means and log-variances (None for a deterministic encoder) of ``x`` (``items``: what x is, for
    the :class:`~vaediag.errors.NonFiniteError` of a NaN output)."""
    mus, logvars = [], []
    for start in range(0, len(x), BATCH):
        mu, logvar = model.encode(x[start : start + BATCH])
        mus.append(mu.float().cpu())
        if logvar is not None:
            logvars.append(logvar.float().cpu())
    mu, logvar = torch.cat(mus).numpy(), (torch.cat(logvars).numpy() if logvars else None)
    require_finite(mu, "the encoder's mu", items)
    if logvar is not None:
        require_finite(logvar, "the encoder's logvar", items)
    return mu, logvar


def is_deterministic(model) -> bool:
    """True for a model whose encoder gives mu alone (no posterior variance): see :mod:`vaediag.models.protocol`."""
    return bool(getattr(model, "deterministic", False))


def _decode(model: VAE, z: np.ndarray, device: torch.device, items: str = "codes") -> torch.Tensor:
    z = torch.as_tensor(z, dtype=torch.float32).to(device)
    images = torch.cat([model.decode(z[s : s + BATCH]) for s in range(0, len(z), BATCH)]).float()
    require_finite(images, "the decoder's output", items)
    return images


def _to_uint8(probs: torch.Tensor) -> np.ndarray:
    return probs.mul(255).round_().clamp_(0, 255).to(torch.uint8).squeeze(1).cpu().numpy()


# ---------------------------------------------------------------------------------------------- stages


def encode(ctx: CheckpointContext) -> dict[str, Any]:
    """Posterior means and log-variances of the test digits, posterior means of the training digits."""
    ctx.test_mu, ctx.test_logvar = _encode(ctx.model, ctx.ref.test_x, "test images")
    ctx.train_mu, _ = _encode(ctx.model, ctx.ref.train_x, "training images")
    ctx.artifact.update(test_mu=ctx.test_mu.astype(np.float32), test_labels=ctx.ref.test_labels)
    return {}


def separation(ctx: CheckpointContext) -> dict[str, Any]:
    """Latent separation of the test codes: silhouette, kNN (fit on train codes), DB, CH, mixed pairs."""
    ref = ctx.ref
    silhouette = latent.silhouette_values(ctx.test_mu, ref.test_labels)
    columns = latent.separation_scores(ctx.test_mu, ref.test_labels, silhouette=silhouette)
    knn = latent.knn_scores(ctx.train_mu, ref.train_labels, ctx.test_mu, ref.test_labels,
                            k=min(ctx.settings.knn_k, ref.n_train))
    ctx.pairs = latent.pair_confusion(knn.confusion)
    columns[C.KNN_ACCURACY] = knn.accuracy
    columns[C.KNN_ACCURACY_CI_LOW], columns[C.KNN_ACCURACY_CI_HIGH] = latent.knn_accuracy_interval(
        knn.correct, seed=ctx.settings.seed)
    columns[C.MOST_MIXED_PAIR], columns[C.MOST_MIXED_PAIR_RATE] = latent.most_mixed_pair(ctx.pairs, ref.classes.pair)
    ctx.per_class[C.CLASS_SILHOUETTE] = latent.per_class_silhouette(None, ref.test_labels, C.N_CLASSES,
                                                                    silhouette=silhouette)
    ctx.per_class[C.CLASS_KNN_RECALL] = knn.per_class_recall
    return columns


def latent_usage(ctx: CheckpointContext) -> dict[str, Any]:
    """Active units, total correlation, KL per dimension and the aggregate posterior's moments."""
    columns = {C.ACTIVE_UNITS: usage.active_units(ctx.test_mu),
               C.TOTAL_CORRELATION: usage.gaussian_total_correlation(ctx.test_mu)}
    columns.update(usage.kl_dim_columns(usage.kl_per_dim(ctx.test_mu, ctx.test_logvar)))
    columns.update(usage.aggregate_posterior_moments(ctx.test_mu, ctx.test_logvar))
    return columns


class _Grid(NamedTuple):
    """The columns and the artifact of one latent grid."""

    prefix: str
    span: str
    inside: str
    class_share: str
    class_inside: str
    artifact: str


LINEAR_GRID = _Grid(C.GRID, C.GRID_SPAN, C.GRID_INSIDE, C.CLASS_GRID_SHARE, C.CLASS_GRID_INSIDE, "grid_linear")
QUANTILE_GRID = _Grid(C.QGRID, C.QGRID_SPAN, C.QGRID_INSIDE, C.CLASS_QGRID_SHARE, C.CLASS_QGRID_INSIDE,
                      "grid_quantile")


def shares(per_class: dict[str, np.ndarray], column: str, labels: np.ndarray) -> None:
    """Per-class ``column``: the shares of the class ``labels`` (negative: no class; left out) and its Wilson
    interval columns."""
    per_class[column] = generation.label_shares(labels)
    low, high = C.ci_columns(column)
    per_class[low], per_class[high] = generation.label_share_intervals(labels)


def judged_histograms(probs: np.ndarray, ref: Reference, prefix: str) -> tuple[dict[str, Any], np.ndarray]:
    """The histogram and unreadable-bucket columns (``prefix``) of images with class probabilities ``probs``, and
    the image judge's labels (-1: unreadable)."""
    below = ref.settings.unreadable_below
    columns = generation.histogram_metrics(probs, ref.test_labels, unreadable_below=below)
    columns.update(generation.readability_metrics(probs, below))
    return generation.with_prefix(columns, prefix), generation.judged_labels(probs, below)


def generation_histograms(ctx: CheckpointContext) -> dict[str, Any]:
    """Seeded prior samples and the linear and quantile latent grids, decoded and classified (unreadable images in
    no class); artifacts: the decoded grids, the first ``PRIOR_SHEET`` decoded prior samples (uint8) and the image
    judge's label of every prior sample (-1: unreadable)."""
    settings, ref, d = ctx.settings, ctx.ref, ctx.latent_dim
    ctx.prior_z = generation.sample_prior(settings.samples, d, settings.seed)
    prior_images = _decode(ctx.model, ctx.prior_z, ref.device, "prior samples")
    ctx.prior = ref.classify(prior_images)
    ctx.artifact["prior_sheet"] = _to_uint8(prior_images[:PRIOR_SHEET])
    columns, ctx.prior_labels = judged_histograms(np.asarray(ctx.prior.probs, np.float64), ref, C.PRIOR)
    columns[C.PRIOR_ENTROPY_NORM_CI_LOW], columns[C.PRIOR_ENTROPY_NORM_CI_HIGH] = \
        generation.labels_entropy_norm_interval(ctx.prior_labels, seed=settings.seed)
    shares(ctx.per_class, C.CLASS_PRIOR_SHARE, ctx.prior_labels)
    z_linear = generation.linear_grid(settings.grid, settings.grid_span, d)
    z_quantile, qspan = generation.quantile_grid(settings.grid, d)
    for grid, z, span in ((LINEAR_GRID, z_linear, settings.grid_span), (QUANTILE_GRID, z_quantile, qspan)):
        images = _decode(ctx.model, z, ref.device, f"{grid.prefix.rstrip('_')} points")
        grid_columns, labels = judged_histograms(np.asarray(ref.classify(images).probs, np.float64), ref,
                                                 grid.prefix)
        columns.update(grid_columns)
        columns[grid.span] = float(span)
        columns[grid.inside] = generation.inside_fraction(ctx.test_mu, span)
        shares(ctx.per_class, grid.class_share, labels)
        ctx.per_class[grid.class_inside] = generation.inside_share_per_class(ctx.test_mu, ref.test_labels, span)
        ctx.artifact[grid.artifact] = _to_uint8(images)
    ctx.artifact.update(grid_span=np.float64(settings.grid_span), qgrid_span=np.float64(qspan),
                        prior_labels=ctx.prior_labels)
    return columns


def code_judge(ctx: CheckpointContext) -> dict[str, Any]:
    """The second judge: each prior sample labelled by the classes of its ``knn_k`` nearest test codes (none when
    it lies off the codes: farther than held-out training codes lie), its class shares and entropy, and how often it
    agrees with the image judge (overall and per class); artifact ``prior_code_labels`` (-1: off the codes)."""
    ref, settings = ctx.ref, ctx.settings
    held_out = ctx.train_mu[ref.train_eval_index[:judges.CALIBRATION_CODES]]
    verdict = judges.code_judge(ctx.prior_z, ctx.test_mu, ref.test_labels, held_out, settings.knn_k)
    shares(ctx.per_class, C.CLASS_PRIOR_CODE_SHARE, verdict.labels)
    agree = judges.agreement(ctx.prior_labels, verdict.labels)
    ctx.per_class[C.CLASS_JUDGE_AGREEMENT] = agree.class_share
    ctx.per_class[C.CLASS_JUDGE_AGREEMENT + C.CI_LOW] = agree.class_low
    ctx.per_class[C.CLASS_JUDGE_AGREEMENT + C.CI_HIGH] = agree.class_high
    ctx.artifact["prior_code_labels"] = verdict.labels
    named = verdict.labels[verdict.labels >= 0]
    entropy = generation.normalised_entropy(named) if len(named) else math.nan
    values = [agree.share, agree.low, agree.high, *verdict.off_share, entropy,
              *generation.labels_entropy_norm_interval(verdict.labels, seed=settings.seed)]
    return dict(zip(C.JUDGE_COLUMNS, (float(v) for v in values)))


def frechet_prdc(ctx: CheckpointContext) -> dict[str, Any]:
    """Fréchet distance and PRDC of the prior samples against the real test digits (classifier features)."""
    real, features = ctx.ref.real(), np.asarray(ctx.prior.features)
    columns = {C.FRECHET: frechet.frechet_distance_from_stats(*frechet.feature_statistics(features),
                                                              *real.statistics)}
    columns.update(compute_prdc(real.features, features, k=ctx.settings.prdc_k, real_radii=real.radii))
    return columns


def recon_pair_indices(labels: np.ndarray, per_digit: int = RECON_PER_DIGIT) -> np.ndarray:
    """Test-set indices of the first ``per_digit`` digits of each class, ordered 0-9, 0-9, ... (digits with
    fewer examples contribute what they have)."""
    labels = np.asarray(labels)
    firsts = [np.flatnonzero(labels == digit)[:per_digit] for digit in range(C.N_CLASSES)]
    return np.array([f[k] for k in range(per_digit) for f in firsts if k < len(f)], dtype=np.int64)


def reconstruction(ctx: CheckpointContext) -> dict[str, Any]:
    """The seeded test ELBO and its parts; the image judge's accuracy on reconstructions decode(mu(x)) (unreadable:
    wrong) and its recall per class (``recon_recall``: can it read this model's drawings of each class?); artifact
    ``recon_pairs``: uint8 [2, n, 28, 28], test digits (:func:`recon_pair_indices`) and their reconstructions."""
    ref = ctx.ref
    if is_deterministic(ctx.model):
        elbo = {"loss": math.nan, "recon": math.nan, "kl": math.nan}
    else:
        elbo = evaluate_elbo(ctx.model, ref.test_x, seed=ctx.settings.seed)
    recon = _decode(ctx.model, ctx.test_mu, ref.device, "test reconstructions")
    shown = recon_pair_indices(ref.test_labels)
    index = torch.as_tensor(shown, device=recon.device)
    ctx.artifact["recon_pairs"] = np.stack([_to_uint8(ref.test_x[index].float()), _to_uint8(recon[index])])
    predicted = generation.judged_labels(ref.classify(recon).probs, ctx.settings.unreadable_below)
    recall = judges.class_recall(predicted, ref.test_labels)
    for column, values in zip((C.CLASS_RECON_RECALL, *C.ci_columns(C.CLASS_RECON_RECALL)), recall):
        ctx.per_class[column] = values
    return {C.EVAL_LOSS: elbo["loss"], C.EVAL_RECON: elbo["recon"], C.EVAL_KL: elbo["kl"],
            C.RECON_ACCURACY: float(np.mean(predicted == ref.test_labels))}


def explorer(ctx: CheckpointContext) -> dict[str, Any]:
    """The arrays of the report's latent explorer, no metric: the plane of the codes (:mod:`vaediag.metrics.plane`:
    dims 0, 1, or PC1 / PC2 for more than 2 latent dimensions) as ``explorer_plane`` [3, d] (origin, then the two
    axes) and ``explorer_extent`` [4]; ``EXPLORER_PER_CLASS`` test digits of each class (``explorer_index``, the
    same at every checkpoint: seeded by the evaluation seed) with their images and reconstructions decode(μ(x))
    (uint8 [n, 28, 28]); the decoded ``EXPLORER_GRID`` x ``EXPLORER_GRID`` grid of the plane over its extent
    (``explorer_grid``, row-major, top row first)."""
    ref = ctx.ref
    origin, basis = plane.latent_plane(ctx.test_mu)
    extent = plane.plane_extent(plane.project(ctx.test_mu, origin, basis))
    shown = plane.stratified_indices(ref.test_labels, EXPLORER_PER_CLASS, ctx.settings.seed)
    index = torch.as_tensor(shown, device=ref.device)
    ctx.artifact.update(
        explorer_plane=np.vstack([origin, basis]), explorer_extent=extent, explorer_index=shown,
        explorer_images=_to_uint8(ref.test_x[index].float()),
        explorer_recon=_to_uint8(_decode(ctx.model, ctx.test_mu[shown], ref.device)),
        explorer_grid=_to_uint8(_decode(ctx.model, plane.plane_grid(origin, basis, extent, EXPLORER_GRID),
                                        ref.device)))
    return {}


def iwae(ctx: CheckpointContext) -> dict[str, Any]:
    """With ``iwae=K`` > 0: the IWAE bound on -log p(x) of the first ``IWAE_SUBSET`` test digits and of the first
    ``IWAE_SUBSET`` digits of the fixed training subset (the one history.csv ``train_eval_*`` is measured on);
    the same noise seed for both."""
    k, seed = ctx.settings.iwae, ctx.settings.seed + 1
    if not k or is_deterministic(ctx.model):
        return {C.IWAE_NLL: math.nan, C.IWAE_TRAIN_NLL: math.nan}
    return {C.IWAE_NLL: iwae_nll(ctx.model, ctx.ref.test_x[:IWAE_SUBSET], k, seed),
            C.IWAE_TRAIN_NLL: iwae_nll(ctx.model, ctx.ref.train_eval_x[:IWAE_SUBSET], k, seed)}


# ---------------------------------------------------------------------------------------------- the registry


@dataclass(frozen=True)
class Stage:
    """One metric family: its name (also its key in the timings), its function, and the metric columns it
    fills (a function of the latent dimension), in table order."""

    name: str
    compute: Callable[[CheckpointContext], dict[str, Any]]
    columns: Callable[[int], list[str]]


def _histogram(prefix: str) -> list[str]:
    return [prefix + m for m in C.HISTOGRAM_METRICS + C.READABILITY_METRICS]


def _grid_columns(grid: _Grid) -> list[str]:
    return [*_histogram(grid.prefix), grid.span, grid.inside]


STAGES: list[Stage] = [
    Stage("encode", encode, lambda d: []),
    Stage("separation", separation, lambda d: [
        C.SILHOUETTE, C.KNN_ACCURACY, C.KNN_ACCURACY_CI_LOW, C.KNN_ACCURACY_CI_HIGH, C.DAVIES_BOULDIN, C.CALINSKI_HARABASZ, C.MOST_MIXED_PAIR,
        C.MOST_MIXED_PAIR_RATE]),
    Stage("usage", latent_usage, lambda d: [
        C.ACTIVE_UNITS, C.TOTAL_CORRELATION, *(f"{C.KL_PER_DIM_PREFIX}{i}" for i in range(d)),
        C.AGGPOST_MEAN_NORM, C.AGGPOST_VAR_MEAN, C.AGGPOST_KL_PRIOR]),
    Stage("generation", generation_histograms, lambda d: [
        *_histogram(C.PRIOR), C.PRIOR_ENTROPY_NORM_CI_LOW, C.PRIOR_ENTROPY_NORM_CI_HIGH, *_grid_columns(LINEAR_GRID),
        *_grid_columns(QUANTILE_GRID)]),
    Stage("code_judge", code_judge, lambda d: list(C.JUDGE_COLUMNS)),
    Stage("frechet_prdc", frechet_prdc, lambda d: [C.FRECHET, C.PRECISION, C.RECALL, C.DENSITY, C.COVERAGE]),
    Stage("reconstruction", reconstruction, lambda d: [C.EVAL_LOSS, C.EVAL_RECON, C.EVAL_KL, C.RECON_ACCURACY]),
    Stage("iwae", iwae, lambda d: [C.IWAE_NLL, C.IWAE_TRAIN_NLL]),
    Stage("explorer", explorer, lambda d: []),
]


def metrics_columns(latent_dim: int) -> list[str]:
    """The metric columns of ``metrics.csv`` (after the joined history columns), in table order."""
    return [column for stage in STAGES for column in stage.columns(latent_dim)]


def evaluate_checkpoint(path: Path, epoch: int, ref: Reference) -> RowResult:
    """Run every stage on the checkpoint at ``path``; :class:`CheckpointError` when it does not load."""
    checkpoint = load_checkpoint(path, device=ref.device)
    return evaluate_model_row(checkpoint.model, checkpoint.config.latent_dim, epoch, ref, checkpoint=path)


def evaluate_model_row(model, latent_dim: int, epoch: int, ref: Reference, *,
                       checkpoint: Path | None = None) -> RowResult:
    """Run every registered stage on ``model`` (a :class:`VAE` or a :class:`vaediag.models.protocol.ModelAdapter`, on
    ``ref.device``) as checkpoint ``epoch``: its metrics row, per-class and pair tables, timings and artifacts."""
    ctx = CheckpointContext(model, ref, latent_dim)
    row: dict[str, Any] = {}
    seconds: dict[str, float] = {}
    with torch.inference_mode():
        for stage in STAGES:
            start = time.perf_counter()
            try:
                columns = stage.compute(ctx)
            except NonFiniteError as exc:
                raise at_epoch(exc, epoch, checkpoint and f"{checkpoint.parent.name}/{checkpoint.name}") from None
            seconds[stage.name] = time.perf_counter() - start
            declared = stage.columns(ctx.latent_dim)
            if sorted(columns) != sorted(declared):
                raise RuntimeError(f"stage {stage.name!r} returned {sorted(columns)}, registered {sorted(declared)}")
            row.update(columns)
    timings = {name: round(s, 4) for name, s in seconds.items()}
    timings["total"] = round(sum(seconds.values()), 4)
    per_class = pd.DataFrame({
        C.SOURCE: C.SOURCE_MODEL, C.EPOCH: epoch, C.CLASS: np.arange(C.N_CLASSES),
        C.CLASS_NAME: list(ref.classes.names), **ctx.per_class,
        C.CLASS_DATA_SHARE: ref.label_shares,
    }, columns=PER_CLASS_COLUMNS)
    pairs = ctx.pairs.copy()
    pairs.insert(0, C.EPOCH, epoch)
    pairs[C.CLASS_A_NAME] = [ref.classes.name(a) for a in pairs[C.CLASS_A]]
    pairs[C.CLASS_B_NAME] = [ref.classes.name(b) for b in pairs[C.CLASS_B]]
    return RowResult(row, per_class, pairs[PAIRS_COLUMNS], timings, ctx.artifact)
