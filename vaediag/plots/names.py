"""The names of a run's figures: :func:`figure_names` is the one list of them, in the order
:func:`vaediag.plots.make_figures` draws them.

A name is the key in the dict that ``make_figures`` returns; :meth:`vaediag.rundir.Run.figure_path` turns it
into the PNG's path. Per checkpoint epoch: ``latent_epoch_XXX``, ``grid_linear_epoch_XXX``,
``grid_quantile_epoch_XXX``; then one figure each for the whole run (``SUMMARY_FIGURES``).
"""

from __future__ import annotations

from collections.abc import Iterable

GRID_KINDS = ("linear", "quantile")  # the two decoded grids of a checkpoint (artifacts grid_linear / grid_quantile)

FIG_SEPARATION = "separation"
FIG_ENTROPY = "entropy"
FIG_FRECHET = "frechet"
FIG_LOSS = "loss"
FIG_CLASS_SHARE = "class_share"
FIG_PAIRS = "pair_confusion"
FIG_OVERVIEW = "overview"
# after the per-epoch figures; the overview is composed of figures drawn before it, so it comes last
SUMMARY_FIGURES = (FIG_SEPARATION, FIG_ENTROPY, FIG_FRECHET, FIG_LOSS, FIG_CLASS_SHARE, FIG_PAIRS, FIG_OVERVIEW)


def latent_name(epoch: int) -> str:
    return f"latent_epoch_{int(epoch):03d}"


def grid_name(epoch: int, kind: str) -> str:
    return f"grid_{kind}_epoch_{int(epoch):03d}"


def figure_names(epochs: Iterable[int]) -> list[str]:
    """The names :func:`vaediag.plots.make_figures` returns for these checkpoint epochs, in order."""
    per_epoch = [[latent_name(epoch)] + [grid_name(epoch, kind) for kind in GRID_KINDS] for epoch in epochs]
    return [name for names in per_epoch for name in names] + list(SUMMARY_FIGURES)
