"""The names of a run's figures: :func:`figure_names` is the one list of them, in the order
:func:`vaediag.plots.make_figures` draws them.

A name is the key in the dict that ``make_figures`` returns; :meth:`vaediag.store.rundir.Run.figure_path` turns it
into the PNG's path. Per checkpoint epoch (``EPOCH_KINDS``): ``prior_epoch_XXX``, ``grid_linear_epoch_XXX``,
``grid_quantile_epoch_XXX``, ``recon_epoch_XXX``; then one figure each for the whole run
(``SUMMARY_FIGURES``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

GRID_KINDS = ("linear", "quantile")  # the two decoded grids of a checkpoint (artifacts grid_linear / grid_quantile)
PRIOR_KIND = "prior"  # the sheet of decoded prior samples (artifact prior_sheet)
RECON_KIND = "recon"  # test digits beside their reconstructions (artifact recon_pairs)
EPOCH_KINDS = (PRIOR_KIND, *(f"grid_{kind}" for kind in GRID_KINDS), RECON_KIND)

FIG_LATENT = "latent_all"
FIG_SEPARATION = "separation"
FIG_ENTROPY = "entropy"
FIG_FRECHET = "frechet"
FIG_LOSS = "loss"
FIG_CLASS_SHARE = "class_share"
FIG_PAIRS = "pair_confusion"
FIG_OVERVIEW = "overview"
# after the per-epoch figures; the overview is composed of figures drawn before it, so it comes last
SUMMARY_FIGURES = (FIG_LATENT, FIG_SEPARATION, FIG_ENTROPY, FIG_FRECHET, FIG_LOSS, FIG_CLASS_SHARE, FIG_PAIRS,
                   FIG_OVERVIEW)
NARROW_SUFFIX = "_narrow"  # the phone's rendering of a figure too wide to stay legible scaled down
NARROW_FIGURES = (FIG_LATENT, FIG_CLASS_SHARE, FIG_PAIRS)
_EPOCH_NAME = re.compile(r"^(?P<kind>[a-z_]+)_epoch_(?P<epoch>\d+)$")


def epoch_name(kind: str, epoch: int) -> str:
    """The name of a per-checkpoint figure: ``kind`` from ``EPOCH_KINDS``."""
    if kind not in EPOCH_KINDS:
        raise ValueError(f"figure kind must be one of {EPOCH_KINDS}, got {kind!r}")
    return f"{kind}_epoch_{int(epoch):03d}"


def grid_name(epoch: int, kind: str) -> str:
    return epoch_name(f"grid_{kind}", epoch)


def prior_name(epoch: int) -> str:
    return epoch_name(PRIOR_KIND, epoch)


def recon_name(epoch: int) -> str:
    return epoch_name(RECON_KIND, epoch)


def split_name(name: str) -> tuple[str, int | None]:
    """(kind, epoch) of a per-checkpoint figure name, (name, None) for a summary figure."""
    match = _EPOCH_NAME.match(name)
    if match and match["kind"] in EPOCH_KINDS:
        return match["kind"], int(match["epoch"])
    return name, None


def narrow_name(name: str) -> str:
    """The name of the narrow rendering of figure ``name``."""
    return name + NARROW_SUFFIX


def wide_name(name: str) -> str | None:
    """The figure a narrow rendering belongs to; None for a name that is no narrow rendering."""
    return name[: -len(NARROW_SUFFIX)] if name.endswith(NARROW_SUFFIX) else None


def figure_names(epochs: Iterable[int]) -> list[str]:
    """Every name :func:`vaediag.plots.make_figures` can return for these checkpoint epochs, in order (it
    leaves out the figures whose arrays an older evaluation did not store): per checkpoint its pages, the
    whole-run figures, their narrow renderings, the overview."""
    per_epoch = [epoch_name(kind, epoch) for epoch in epochs for kind in EPOCH_KINDS]
    return per_epoch + list(SUMMARY_FIGURES[:-1]) + [narrow_name(n) for n in NARROW_FIGURES] + [FIG_OVERVIEW]
