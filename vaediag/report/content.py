"""Everything the report says about a run, as plain data, before rendering."""

from __future__ import annotations

from dataclasses import dataclass, field

from vaediag.store.rundir import Run

from .findings import Finding, Sentence
from .questions import generation_sentences, separation_sentences, training_length_sentences
from .replication import replication_sentences, threshold_checks
from vaediag.judgement.rules import Check
from vaediag.judgement.verdict import VERDICT_UNKNOWN, Verdict
from .verdict import verdict_sentences
from .wording import reword_sections

SECTION_TITLES = {
    "q1": "Q1 — Do the digits form separate clusters in the latent space?",
    "q2": "Q2 — Are the generated digits good and diverse?",
    "verdict": "Collapse verdict",
    "q3": "Q3 — Does training longer help?",
    "replication": "n = 1 — what one seed can and cannot say",
}


@dataclass
class ReportContent:
    """The findings of a run: section id (``SECTION_TITLES``) -> sentences, the verdict at the last
    checkpoint, and every threshold check the findings rest on."""

    run: Run
    sections: dict[str, list[Sentence]] = field(default_factory=dict)
    verdict: Verdict = Verdict(VERDICT_UNKNOWN)
    checks: list[Check] = field(default_factory=list)

    def findings(self) -> list[Finding]:
        """Every quoted number, in reading order."""
        return [f for sentences in self.sections.values() for s in sentences for f in s.findings()]


def build_content(run: Run) -> ReportContent:
    verdict, verdict_text = verdict_sentences(run)
    checks = threshold_checks(run)
    sections = {"q1": separation_sentences(run), "q2": generation_sentences(run), "verdict": verdict_text,
                "q3": training_length_sentences(run), "replication": replication_sentences(run, checks)}
    return ReportContent(run, reword_sections(sections, run.classes), verdict, checks)


# ============================================================================================ figures
@dataclass(frozen=True)
class FigureGroup:
    """Figures shown together under one heading (``title``; "" for none), by name (:mod:`vaediag.plots`),
    with ``text`` saying how to read them (each figure also has its own caption)."""

    title: str
    names: list[str]
    text: str = ""


SUMMARY_CAPTIONS = {
    "overview": "The whole run on one page: the latent codes of every checkpoint, the four curves over the epochs, "
                "the class shares of generated digits and the digit pairs the latent space mixes up (each is "
                "shown larger in its section below).",
    "latent_all": "Where the encoder puts the test digits: the posterior means μ(x) (latent dimensions 0 and 1), "
                  "one panel per checkpoint on the same axes, coloured by the true digit. Separate blobs of one "
                  "colour = digits the latent space keeps apart. Solid square: the window of the linear grid; "
                  "dashed: the quantile grid's.",
    "separation": "Silhouette (top, −1 to 1) and kNN accuracy (bottom, 0 to 1) of the test codes grouped by digit, "
                  "at each checkpoint, each on its own scale. Both rise when the digits separate in latent space.",
    "pair_confusion": "How often the latent kNN classifier takes one digit for another, per pair of digits (percent), "
                      "at the first and the last checkpoint. Dark cells: pairs whose codes overlap.",
    "entropy": "Diversity of the generated digits: normalised class entropy (1 = every digit equally often) of prior "
               "samples, linear-grid and quantile-grid images at each checkpoint; dotted: real test digits. A drop "
               "means fewer kinds of digits.",
    "frechet": "Fréchet distance between the classifier's features of prior samples and of real test digits; lower "
               "= closer to real digits. Dotted: the distance between two halves of the real test set, the floor.",
    "class_share": "Share of each digit (percent) among prior samples, linear-grid and quantile-grid images at each "
                   "checkpoint; the last row is the real test set. A column near 0 is a digit the model does not "
                   "generate there.",
    "loss": "Train and test loss (negative ELBO, nats per sample) at every epoch; dotted verticals: the checkpoints, "
            "dashed red: the epoch Q3 asks about. Per-epoch test loss scatters by a few tenths of a nat: read the "
            "trend (Q3 fits a slope over the last epochs), not single epochs.",
}
EPOCH_CAPTIONS = {  # short: the group's text says how to read them
    "prior": "Epoch {epoch}: 100 random prior samples through the decoder.",
    "grid_linear": "Epoch {epoch}: the linear grid (evenly spaced points of the window).",
    "grid_quantile": "Epoch {epoch}: the Gaussian-quantile grid (equal prior mass per point).",
    "recon": "Epoch {epoch}: test digits (left of each pair) and their reconstructions (right).",
}
GROUP_TEXTS = {
    "prior": "What the model generates: random z ~ N(0, I) through the decoder (the first 100 of the evaluation's "
             "seeded samples), one sheet per checkpoint. Look for every digit, drawn crisply; many blurry "
             "samples, or few kinds of digit, mean trouble.",
    "grids": "The decoder's output at evenly spaced latent points (dimensions 0 and 1; top row = highest μ₁). "
             "The linear grid covers the solid square of the latent panels, so it shows only the digits whose codes "
             "lie inside it; the Gaussian-quantile grid (Φ⁻¹ of evenly spaced probabilities, ±1.645) gives each "
             "point an equal share of the prior.",
    "recon": "Two test digits of each class (left of each pair) and their reconstructions decode(μ(x)) (right). A "
             "reconstruction that shows another digit means the code lost the digit's identity.",
}


def figure_caption(name: str) -> str:
    """What figure ``name`` shows and how to read it, in words."""
    from vaediag.plots.names import split_name

    kind, epoch = split_name(name)
    if epoch is not None:
        return EPOCH_CAPTIONS[kind].format(epoch=epoch)
    return SUMMARY_CAPTIONS.get(name, name.replace("_", " "))


def section_figures(run: Run) -> dict[str, list[FigureGroup]]:
    """Which figures (names from :mod:`vaediag.plots`) each section shows, in groups."""
    from vaediag import plots  # the figure names only; drawing happens in build_report

    epochs = run.epochs
    return {
        "overview": [FigureGroup("", [plots.FIG_OVERVIEW])],
        "q1": [FigureGroup("", [plots.FIG_LATENT, plots.FIG_SEPARATION, plots.FIG_PAIRS])],
        "q2": [FigureGroup("Random prior samples at each checkpoint", [plots.prior_name(e) for e in epochs],
                           GROUP_TEXTS["prior"]),
               FigureGroup("Decoded latent grids (linear, quantile) at each checkpoint",
                           [plots.grid_name(e, kind) for e in epochs for kind in plots.GRID_KINDS],
                           GROUP_TEXTS["grids"]),
               FigureGroup("Diversity and quality over the epochs",
                           [plots.FIG_ENTROPY, plots.FIG_FRECHET, plots.FIG_CLASS_SHARE]),
               FigureGroup("Test digits beside their reconstructions", [plots.recon_name(e) for e in epochs],
                           GROUP_TEXTS["recon"])],
        "verdict": [],
        "q3": [FigureGroup("", [plots.FIG_LOSS])],
        "replication": [],
    }
