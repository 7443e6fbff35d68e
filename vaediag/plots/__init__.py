"""Figures of an evaluated run: PNG files, one per plot plus an overview, at ``Run.figure_path(name)``.

Everything is drawn from what ``vaediag evaluate`` computed (the tables and per-checkpoint artifacts a
:class:`vaediag.store.rundir.Run` holds); nothing is recomputed here. Figures are ``matplotlib.figure.Figure``
objects (no pyplot state) or PIL pages; seaborn draws the curves and the heat maps.

Figure names (:mod:`vaediag.plots.names`) are stable (``latent_all`` replaces the one ``latent_epoch_XXX``
scatter per checkpoint of earlier versions):

==============================  ==================================================================
``prior_epoch_XXX``             10 x 10 sheet of decoded random prior samples at checkpoint XXX
                                (artifact ``prior_sheet``)                            (grids.py)
``grid_linear_epoch_XXX``       the n x n decoded linear grid at checkpoint XXX (torchvision
                                make_grid)
``grid_quantile_epoch_XXX``     the n x n decoded Gaussian-quantile grid at checkpoint XXX
``recon_epoch_XXX``             test digits, two of each class, beside their reconstructions
                                decode(mu(x)) at checkpoint XXX (artifact ``recon_pairs``)
``latent_all``                  test-set posterior means (dims 0, 1; for z > 2 PC1/PC2 of μ) of every checkpoint, one
                                panel per checkpoint in one row with shared axes, one colour per
                                digit (tab10); the linear grid window [-s, s]^2 (solid) and the
                                quantile window (dashed) drawn as squares             (latent.py)
``separation``                  silhouette and kNN accuracy over checkpoint epochs, each on its
                                own axes                                              (curves.py)
``entropy``                     normalised class entropy of prior, linear-grid and quantile-grid
                                samples over epochs; real test digits as a horizontal line
``frechet``                     Fréchet distance over epochs; real-vs-real reference as a line
``loss``                        train and test loss (nats/sample) for every epoch of history.csv;
                                checkpoints dotted, ``loss_mark_epoch`` dashed
``class_share``                 heat maps epoch x digit of the class shares of prior samples,
                                linear-grid and quantile-grid samples (real test shares as last
                                row)                                                  (heatmaps.py)
``pair_confusion``              heat maps digit x digit of the kNN pair confusion rate at the first
                                and the last checkpoint
``overview``                    one page composed of the latent codes, the four curves and both
                                heat maps                                             (overview.py)
``<name>_narrow``               the narrow rendering a phone shows of ``latent_all``, ``class_share``
                                and ``pair_confusion`` (panels stacked, 390 CSS px wide)
==============================  ==================================================================

Sizes (:mod:`vaediag.plots.output`): every PNG has twice the pixels it is shown with (``DISPLAY_SCALE``),
no figure is wider than the report's page, and no text is smaller than 10 CSS pixels at that size; on a 420 px
phone no text is smaller than 9 CSS pixels (curves are 480 px wide, pages scale their captions, the wider figures
have a narrow rendering). Every PNG records its smallest text in image pixels (``output.MIN_TEXT_KEY``).
Evaluations made before the digit sheets existed have no ``prior_sheet`` / ``recon_pairs`` arrays: those
figures are left out.

Importing this package imports neither matplotlib nor torch; :func:`make_figures` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from .names import (EPOCH_KINDS, FIG_CLASS_SHARE, FIG_ENTROPY, FIG_FRECHET, FIG_LATENT, FIG_LOSS, FIG_OVERVIEW,
                    FIG_PAIRS, FIG_SEPARATION, GRID_KINDS, NARROW_FIGURES, SUMMARY_FIGURES, figure_names, grid_name,
                    narrow_name, prior_name, recon_name, split_name, wide_name)
from .output import DISPLAY_SCALE, DPI

if TYPE_CHECKING:
    from vaediag.store.rundir import Run

__all__ = [
    "DISPLAY_SCALE", "DPI", "EPOCH_KINDS", "FIG_CLASS_SHARE", "FIG_ENTROPY", "FIG_FRECHET", "FIG_LATENT", "FIG_LOSS",
    "FIG_OVERVIEW", "FIG_PAIRS", "FIG_SEPARATION", "GRID_KINDS", "NARROW_FIGURES", "SUMMARY_FIGURES", "figure_names",
    "grid_name", "make_figures", "narrow_name", "prior_name", "recon_name", "split_name", "wide_name",
]


def make_figures(run: Run, *, loss_mark_epoch: int | None = None) -> dict[str, Path]:
    """Draw every figure of an evaluated run to ``run.figure_path(name)``; return ``{name: path}`` in the order
    of :func:`figure_names` (per checkpoint its digit sheets and grids, then the charts, then the overview
    composed of them), less the digit sheets whose arrays the evaluation did not store.
    ``loss_mark_epoch``: the epoch dashed on the loss curve (None: none).

    Raises :class:`vaediag.errors.RunDirError` (one line) if the run was not evaluated or an epoch's
    artifacts are missing; that is found before any file is written.
    """
    from functools import partial

    from . import curves, grids, heatmaps, latent, overview
    from .output import save_png

    limits = latent.latent_limits(run)  # reads every epoch's artifacts
    figures: dict[str, Path] = {}
    drawings = {  # name -> function drawing it (a matplotlib Figure or a PIL page)
        FIG_LATENT: partial(latent.latent_all_figure, run, limits),
        FIG_SEPARATION: partial(curves.separation_figure, run),
        FIG_ENTROPY: partial(curves.curve_figure, curves.draw_entropy, run),
        FIG_FRECHET: partial(curves.curve_figure, curves.draw_frechet, run),
        FIG_LOSS: partial(curves.curve_figure, curves.draw_loss, run, mark_epoch=loss_mark_epoch),
        FIG_CLASS_SHARE: partial(heatmaps.class_share_figure, run),
        FIG_PAIRS: partial(heatmaps.pair_confusion_figure, run),
        narrow_name(FIG_LATENT): partial(latent.latent_all_figure, run, limits, narrow=True),
        narrow_name(FIG_CLASS_SHARE): partial(heatmaps.class_share_figure, run, narrow=True),
        narrow_name(FIG_PAIRS): partial(heatmaps.pair_confusion_figure, run, narrow=True),
        FIG_OVERVIEW: partial(overview.overview_page, run, figures),  # last: composed of those drawn before
    }
    if not curves.has_loss(run):  # an external run of a deterministic encoder: no loss is measured
        del drawings[FIG_LOSS]
    for epoch in run.epochs:
        if grids.has_array(run, epoch, grids.PRIOR_SHEET):
            drawings[prior_name(epoch)] = partial(grids.prior_sheet_page, run, epoch)
        for kind in GRID_KINDS:  # z > 2: a slice through dims 0 and 1 (the report says so)
            if grids.has_array(run, epoch, f"grid_{kind}"):
                drawings[grid_name(epoch, kind)] = partial(grids.grid_page, run, epoch, kind)
        if grids.has_array(run, epoch, grids.RECON_PAIRS):
            drawings[recon_name(epoch)] = partial(grids.recon_pairs_page, run, epoch)
    for name in figure_names(run.epochs):
        if name in drawings:
            figures[name] = save_png(drawings[name](), run.figure_path(name))
    return figures
