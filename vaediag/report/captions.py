"""The words under and above the figures, written from what the run and its figures hold (:class:`RunFacts`).

A caption never names what its figure does not show: a PCA projection is not called "latent dimensions 0 and
1" and has no grid windows; the loss figure of an external run shows evaluation bounds, not train/test curves;
the class-share caption lists the panels that were drawn; the grids of a latent space of more than two dimensions
are called a slice. :func:`figure_caption` is the caption of one figure, :func:`group_text` the text above a group.
"""

from __future__ import annotations

from vaediag import columns as C
from vaediag.judgement.rules import TRAIN_LENGTH_EPOCH

from .facts import RunFacts

SHARE_PANEL_WORDS = {C.CLASS_PRIOR_SHARE: "prior samples", C.CLASS_GRID_SHARE: "linear-grid images",
                     C.CLASS_QGRID_SHARE: "quantile-grid images"}


def _listing(items: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    items = [i for i in items if i]
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1] if items else ""


def _latent(facts: RunFacts) -> str:
    if facts.projected:
        return (f"Where the encoder puts the test digits: their posterior means μ(x), {facts.latent_dim}-dimensional, "
                "projected on their first two principal components (PCA fitted at each checkpoint), one panel per "
                "checkpoint on the same axes, coloured by the true digit. Separate blobs of one colour = digits the "
                "latent space keeps apart; a projection can overlap clusters that are apart in all dimensions. No "
                f"grid window is drawn: the grids vary {facts.grid_dims}, which are not the axes of this plane.")
    dims = "latent dimension 0 (one dimension: the y axis is 0)" if facts.latent_dim == 1 else \
        "latent dimensions 0 and 1"
    text = (f"Where the encoder puts the test digits: the posterior means μ(x) ({dims}), one panel per checkpoint on "
            "the same axes, coloured by the true digit. Separate blobs of one colour = digits the latent space keeps "
            "apart.")
    if facts.grids:
        text += " Solid square: the window of the linear grid; dashed: the quantile grid's."
    return text


def _entropy(facts: RunFacts) -> str:
    kinds = ["prior samples"] + (["linear-grid and quantile-grid images"] if facts.grids else [])
    return ("Diversity of the generated digits: normalised class entropy (1 = every digit equally often) of "
            f"{_listing(kinds)} at each checkpoint; dotted: real test digits. A drop means fewer kinds of digits.")


def _class_share(facts: RunFacts) -> str:
    panels = [SHARE_PANEL_WORDS[p] for p in facts.share_panels] or ["prior samples"]
    return (f"Share of each digit (percent) among {_listing(panels)} at each checkpoint (one panel each); the last "
            "row is the real test set. A column near 0 is a digit the model does not generate there.")


def _loss(facts: RunFacts) -> str:
    if not facts.has_history and facts.external:
        return ("This model was not trained by vaediag, so there is no training history: the figure shows the "
                "bounds measured at the evaluated epochs (test −ELBO and the IWAE bounds on test and training "
                "digits, nats per sample; lower = better).")
    curves = "train loss (running mean over each epoch), test loss"
    curves += " and train loss in eval mode (a fixed training subset, measured like the test loss)" \
        if facts.train_eval else ""
    text = (f"{curves[0].upper()}{curves[1:]} (negative ELBO, nats per sample) at every epoch; dotted verticals: "
            "the checkpoints")
    if facts.trained_past_question:
        text += f"; dashed red: epoch {TRAIN_LENGTH_EPOCH}, the epoch Q3 asks about"
    n = len(facts.trend_epochs)
    if n >= 3:
        text += (". Per-epoch test loss scatters by a few tenths of a nat: read the trend (Q3 fits a slope over "
                 f"the last {n} epochs), not single epochs")
    return text + "."


def _pairs(facts: RunFacts) -> str:
    first, last = facts.epochs[0], facts.epochs[-1]
    when = f"at epoch {first} and at epoch {last}" if first != last else f"at epoch {last}"
    return ("How often the latent kNN classifier takes one digit for another, per pair of digits (percent), "
            f"{when}. Dark cells: pairs whose codes overlap.")


def _overview(facts: RunFacts, drawn: set[str]) -> str:
    from vaediag import plots

    curves = [n for n in (plots.FIG_SEPARATION, plots.FIG_ENTROPY, plots.FIG_FRECHET, plots.FIG_LOSS) if n in drawn]
    parts = [("the PCA projection of the latent codes of every checkpoint" if facts.projected else
              "the latent codes of every checkpoint") if plots.FIG_LATENT in drawn else "",
             f"the {len(curves)} curve figures over the epochs" if curves else "",
             "the class shares of generated digits" if plots.FIG_CLASS_SHARE in drawn else "",
             "the digit pairs the latent space mixes up" if plots.FIG_PAIRS in drawn else ""]
    return f"The whole run on one page: {_listing(parts)} (each is shown larger in its section below)."


SEPARATION = ("Silhouette (top, −1 to 1) and kNN accuracy (bottom, 0 to 1) of the test codes grouped by digit, at "
              "each checkpoint, each on its own scale. Both rise when the digits separate in latent space.")
FRECHET = ("Fréchet distance between the classifier's features of prior samples and of real test digits; lower = "
           "closer to real digits. Dotted: the distance between two halves of the real test set, the floor.")


def summary_caption(name: str, facts: RunFacts, drawn: set[str] | None = None) -> str:
    """The caption of a whole-run figure (names of :mod:`vaediag.plots`); ``drawn``: the names of every figure
    drawn (the overview lists what it is composed of)."""
    from vaediag import plots

    writers = {plots.FIG_LATENT: _latent, plots.FIG_ENTROPY: _entropy, plots.FIG_CLASS_SHARE: _class_share,
               plots.FIG_LOSS: _loss, plots.FIG_PAIRS: _pairs,
               plots.FIG_SEPARATION: lambda f: SEPARATION, plots.FIG_FRECHET: lambda f: FRECHET}
    if name == plots.FIG_OVERVIEW:
        return _overview(facts, set(drawn or ()))
    return writers[name](facts) if name in writers else name.replace("_", " ")


def _slice(facts: RunFacts) -> str:
    return f" (the other {facts.latent_dim - 2} at 0)" if facts.grid_slice else ""


def epoch_caption(kind: str, epoch: int, facts: RunFacts) -> str:
    """The caption of a per-checkpoint page (kinds of :data:`vaediag.plots.EPOCH_KINDS`)."""
    if kind == "prior":
        return f"Epoch {epoch}: 100 random prior samples through the decoder."
    if kind == "recon":
        return f"Epoch {epoch}: test digits (left of each pair) and their reconstructions (right)."
    if kind == "grid_linear":
        return f"Epoch {epoch}: the linear grid, evenly spaced points of {facts.grid_dims}{_slice(facts)}."
    return (f"Epoch {epoch}: the Gaussian-quantile grid of {facts.grid_dims}{_slice(facts)}, equal prior mass per "
            "point.")


def figure_caption(name: str, facts: RunFacts, drawn: set[str] | None = None) -> str:
    """What figure ``name`` shows and how to read it, in words true to this run."""
    from vaediag.plots.names import split_name

    kind, epoch = split_name(name)
    if epoch is not None:
        return epoch_caption(kind, epoch, facts)
    return summary_caption(name, facts, drawn)


PRIOR_TEXT = ("What the model generates: random z ~ N(0, I) through the decoder (the first 100 of the evaluation's "
              "seeded samples), one sheet per checkpoint. Look for every digit, drawn crisply; many blurry samples, "
              "or few kinds of digit, mean trouble.")
RECON_TEXT = ("Two test digits of each class (left of each pair) and their reconstructions decode(μ(x)) (right). A "
              "reconstruction that shows another digit means the code lost the digit's identity.")


def grids_text(facts: RunFacts) -> str:
    """How to read the decoded grids of this run."""
    side = f"{facts.grid_side} × {facts.grid_side} " if facts.grid_side else ""
    span = f"[−{facts.grid_span:.3g}, {facts.grid_span:.3g}]" if facts.grid_span == facts.grid_span else "its window"
    text = (f"The decoder's output at {side}evenly spaced points of {facts.grid_dims}"
            + ("" if facts.latent_dim == 1 else " (top row = highest μ₁)") + ". ")
    if facts.grid_slice:
        text += (f"This latent space has {facts.latent_dim} dimensions, so each grid is a slice: the other "
                 f"{facts.latent_dim - 2} dimensions are held at 0 (the prior mean). It shows what the decoder draws "
                 "on that plane only, not every digit the model can generate (the prior samples are the fair test), "
                 f"and its window {span} is a window of {facts.grid_dims}. ")
    else:
        text += (f"The linear grid covers {span} on both axes, the solid square of the latent panels, so it shows "
                 "only the digits whose codes lie inside it. ")
    return text + ("The Gaussian-quantile grid (Φ⁻¹ of evenly spaced probabilities, ±1.645) gives each point an equal "
                   "share of the prior.")


def group_text(kind: str, facts: RunFacts) -> str:
    """The text above a group of per-checkpoint pages: ``kind`` "prior", "grids" or "recon"."""
    return {"prior": PRIOR_TEXT, "recon": RECON_TEXT}.get(kind) or grids_text(facts)
