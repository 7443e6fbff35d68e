"""What a run actually holds, as the report's captions, headers and sentences need it.

Every caption and every sentence that names a figure's content, the training history or a window of epochs takes
its words from a :class:`RunFacts` rather than assuming the default study: the latent dimension and whether the
latent scatter is a PCA projection, whether the decoded grids exist and which latent dimensions they vary, whether
a training history (and its eval-mode train loss) exists and over which epochs, whether the model is external or
has a deterministic encoder, which grid panels the class shares have. :func:`run_facts` reads them from a
:class:`~vaediag.store.rundir.Run`; nothing here renders.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import pandas as pd

from vaediag import columns as C
from vaediag.judgement.rules import TRAIN_LENGTH_EPOCH, TREND_EPOCHS
from vaediag.store.rundir import Run


@dataclass(frozen=True)
class RunFacts:
    """The facts of one run that decide the report's words.

    ``latent_dim``; ``projected``: the latent scatter shows PC1/PC2 of μ (more than 2 latent dimensions), else
    the dimensions 0 and 1 with the grid windows; ``grids``: the decoded linear / quantile grids exist (their
    figures are drawn), ``grid_side`` their n (n x n points) and ``grid_span`` the linear grid's half-width;
    ``history_epochs``: the epochs of history.csv with a test loss (empty for an external run), ``train_eval``:
    history.csv holds the eval-mode train loss; ``external``: a model vaediag did not train, ``deterministic``:
    its encoder gives no variance (no ELBO, no KL); ``has_eval_bounds``: the evaluated epochs carry an ELBO or
    IWAE bound; ``share_panels``: the per_class share columns with values (prior / linear grid / quantile grid);
    ``epochs``: the evaluated checkpoints; ``beta``: the KL weight (None when vaediag did not train the model).
    """

    latent_dim: int
    projected: bool
    grids: bool
    grid_side: int | None
    grid_span: float
    history_epochs: tuple[int, ...]
    train_eval: bool
    external: bool
    deterministic: bool
    has_eval_bounds: bool
    share_panels: tuple[str, ...]
    epochs: tuple[int, ...]
    beta: float | None

    @property
    def has_history(self) -> bool:
        return len(self.history_epochs) > 0

    @property
    def last_trained(self) -> int | None:
        return max(self.history_epochs) if self.history_epochs else None

    @property
    def trend_epochs(self) -> tuple[int, ...]:
        """The epochs the Q3 trends are fitted over: the last ``TREND_EPOCHS`` of the history (all when fewer)."""
        return tuple(sorted(self.history_epochs)[-TREND_EPOCHS:])

    @property
    def trained_past_question(self) -> bool:
        """Training ran past ``TRAIN_LENGTH_EPOCH``, the epoch Q3 asks about (and the loss figure marks)."""
        return self.last_trained is not None and self.last_trained > TRAIN_LENGTH_EPOCH

    @property
    def grid_dims(self) -> str:
        """The latent dimensions the grids vary: "latent dimensions 0 and 1" (or "latent dimension 0")."""
        return "latent dimension 0" if self.latent_dim == 1 else "latent dimensions 0 and 1"

    @property
    def grid_slice(self) -> bool:
        """The grids vary 2 of more latent dimensions (the others held at 0): a slice, not the whole space."""
        return self.latent_dim > 2

    @property
    def beta_text(self) -> str:
        """β as the header writes it: "1", "4", or "not set by vaediag (external model)"."""
        if self.beta is None:
            return "not recorded" if not self.external else "not set by vaediag (external model)"
        return f"{self.beta:g}"


def _numbers(frame: pd.DataFrame, column: str) -> pd.Series:
    if column not in frame.columns:
        return pd.Series(dtype=float)
    return pd.to_numeric(frame[column], errors="coerce").dropna()


def _beta(run: Run) -> float | None:
    value = run.model_config.get("beta")
    try:
        beta = float(value)
    except (TypeError, ValueError):
        return None
    return beta if math.isfinite(beta) and not run.is_external else None


def run_facts(run: Run) -> RunFacts:
    """The :class:`RunFacts` of an evaluated run."""
    history = run.history
    tested = _numbers(history, C.TEST_LOSS)
    metrics = run.checkpoint_metrics
    per_class = run.per_class
    model = per_class[per_class[C.SOURCE] == C.SOURCE_MODEL] if C.SOURCE in per_class.columns else per_class
    panels = tuple(col for col in (C.CLASS_PRIOR_SHARE, C.CLASS_GRID_SHARE, C.CLASS_QGRID_SHARE)
                   if len(_numbers(model, col)))
    bounds = any(len(_numbers(metrics, col)) for col in (C.EVAL_LOSS, C.IWAE_NLL, C.IWAE_TRAIN_NLL))
    settings = run.evaluation.settings
    grid = settings.get("grid")
    span = run.value(C.GRID_SPAN, run.last) if run.epochs else math.nan
    has_grids = any(len(_numbers(metrics, col)) for col in (  # decoded grids, readable or not (entropy: readable)
        C.GRID + C.ENTROPY_NORM, C.QGRID + C.ENTROPY_NORM, C.GRID + C.UNREADABLE_SHARE, C.QGRID + C.UNREADABLE_SHARE))
    deterministic = bool((run.model_config.get("deterministic") is True) or
                         (not bounds and run.is_external))
    return RunFacts(
        latent_dim=run.latent_dim, projected=run.latent_dim > 2, grids=has_grids,
        grid_side=int(grid) if isinstance(grid, (int, float)) and not isinstance(grid, bool) else None,
        grid_span=float(span) if span == span else float(settings.get("grid_span", math.nan)),
        history_epochs=tuple(int(e) for e in tested.index),
        train_eval=len(_numbers(history, C.TRAIN_EVAL_LOSS)) > 0, external=run.is_external,
        deterministic=deterministic, has_eval_bounds=bounds, share_panels=panels,
        epochs=tuple(run.epochs), beta=_beta(run))
