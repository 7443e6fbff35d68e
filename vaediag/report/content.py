"""Everything the report says about a run, as plain data, before rendering."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from vaediag.store.rundir import Run

from .answers import Answer, answers
from .captions import group_text
from .facts import RunFacts, run_facts
from .findings import Finding, Sentence
from .questions import generation_sentences, separation_sentences, training_length_sentences
from .replication import replication_sentences, threshold_checks
from vaediag.judgement.rules import Check
from vaediag.judgement.verdict import VERDICT_UNKNOWN, Verdict
from .verdict import verdict_sentences
from .wording import reword, reword_sections, reword_sentence

SECTION_TITLES = {
    "q1": "Q1 — Do the digits form separate clusters in the latent space?",
    "q2": "Q2 — Are the generated digits good and diverse?",
    "verdict": "Collapse verdict",
    "q3": "Q3 — Does training longer help?",
    "replication": "n = 1 — what one seed can and cannot say",
}


@dataclass
class ReportContent:
    """The findings of a run: section id (``SECTION_TITLES``) -> sentences, the one-line answers that open
    Q1-Q3, the verdict at the last checkpoint, every threshold check the findings rest on, and the facts of the
    run the captions are written from."""

    run: Run
    sections: dict[str, list[Sentence]] = field(default_factory=dict)
    verdict: Verdict = Verdict(VERDICT_UNKNOWN)
    checks: list[Check] = field(default_factory=list)
    answers: dict[str, list[Answer]] = field(default_factory=dict)
    facts: RunFacts | None = None

    def findings(self) -> list[Finding]:
        """Every quoted number, in reading order (each section's answer lines first)."""
        return [f for key, sentences in self.sections.items()
                for s in [a.sentence for a in self.answers.get(key, [])] + sentences for f in s.findings()]


def build_content(run: Run) -> ReportContent:
    verdict, verdict_text = verdict_sentences(run)
    checks = threshold_checks(run)
    facts = run_facts(run)
    sections = {"q1": separation_sentences(run), "q2": generation_sentences(run), "verdict": verdict_text,
                "q3": training_length_sentences(run), "replication": replication_sentences(run, checks)}
    lines = {key: [replace(a, question=reword(a.question, run.classes),
                           sentence=reword_sentence(a.sentence, run.classes)) for a in found]
             for key, found in answers(run, facts, verdict).items()}
    return ReportContent(run, reword_sections(sections, run.classes), verdict, checks, lines, facts)


# ============================================================================================ figures
@dataclass(frozen=True)
class FigureGroup:
    """Figures shown together under one heading (``title``; "" for none), by name (:mod:`vaediag.plots`),
    with ``text`` saying how to read them (each figure also has its own caption)."""

    title: str
    names: list[str]
    text: str = ""


def section_figures(run: Run, facts: RunFacts | None = None) -> dict[str, list[FigureGroup]]:
    """Which figures (names from :mod:`vaediag.plots`) each section shows, in groups, with the texts written
    from the run's facts."""
    from vaediag import plots  # the figure names only; drawing happens in build_report

    facts = facts or run_facts(run)
    epochs = run.epochs
    grids = "Decoded latent grids (linear, quantile) at each checkpoint"
    if facts.grid_slice:
        grids += f": a slice through {facts.grid_dims}"
    return {
        "overview": [FigureGroup("", [plots.FIG_OVERVIEW])],
        "q1": [FigureGroup("", [plots.FIG_LATENT, plots.FIG_SEPARATION, plots.FIG_PAIRS])],
        "q2": [FigureGroup("Random prior samples at each checkpoint", [plots.prior_name(e) for e in epochs],
                           group_text("prior", facts)),
               FigureGroup(grids, [plots.grid_name(e, kind) for e in epochs for kind in plots.GRID_KINDS],
                           group_text("grids", facts)),
               FigureGroup("Diversity and quality over the epochs",
                           [plots.FIG_ENTROPY, plots.FIG_FRECHET, plots.FIG_CLASS_SHARE]),
               FigureGroup("Test digits beside their reconstructions", [plots.recon_name(e) for e in epochs],
                           group_text("recon", facts))],
        "verdict": [],
        "q3": [FigureGroup("", [plots.FIG_LOSS])],
        "replication": [],
    }
