"""Everything the report says about a run, as plain data, before rendering."""

from __future__ import annotations

from dataclasses import dataclass, field

from vaediag.rundir import Run

from .findings import Finding, Sentence
from .questions import generation_sentences, separation_sentences, training_length_sentences
from .rules import VERDICT_UNKNOWN, Verdict
from .verdict import verdict_sentences

SECTION_TITLES = {
    "q1": "Q1 — Do the digits form separate clusters in the latent space?",
    "q2": "Q2 — Are the generated digits good and diverse?",
    "verdict": "Collapse verdict",
    "q3": "Q3 — Does training longer help?",
}


@dataclass
class ReportContent:
    """The findings of a run: section id (``SECTION_TITLES``) -> sentences, and the verdict at the last
    checkpoint."""

    run: Run
    sections: dict[str, list[Sentence]] = field(default_factory=dict)
    verdict: Verdict = Verdict(VERDICT_UNKNOWN)

    def findings(self) -> list[Finding]:
        """Every quoted number, in reading order."""
        return [f for sentences in self.sections.values() for s in sentences for f in s.findings()]


def build_content(run: Run) -> ReportContent:
    verdict, verdict_text = verdict_sentences(run)
    sections = {"q1": separation_sentences(run), "q2": generation_sentences(run), "verdict": verdict_text,
                "q3": training_length_sentences(run)}
    return ReportContent(run, sections, verdict)
