"""The run report: ``RUN_DIR/report.html`` (self-contained) and ``RUN_DIR/report.md``, written from numbers.

Every sentence of the findings is produced by an explicit rule (:mod:`vaediag.judgement.rules`: the thresholds,
the verdict functions and the one table of rules the report and the documentation print) from the result tables of
a :class:`~vaediag.store.rundir.Run`, and every number it quotes is a :class:`Finding`: the cell it comes from
(table, column, epoch, key) and its raw value, written by the column's number format
(:mod:`vaediag.judgement.formats`).
:func:`findings` returns them so a test can look each one up again; in the HTML every quoted number is a
``<span class="num">`` carrying that provenance.

Modules: ``facts`` (what the run holds: latent dimension, projection, grids, history, epochs) · ``captions``
(figure captions and group texts written from the facts) · ``findings`` (Finding, Tag, Sentence, the cell
quoting) · ``answers`` (the one-line answer opening each question) · ``questions`` (Q1-Q3 sentences) · ``judges`` (the unreadable share, the two judges side by side) ·
``verdict`` (collapse verdict of a run) · ``content`` (all sections) · ``claims`` (the Claims section of a user's
claims file, ``vaediag check``) · ``tables`` (the tables as data) · ``explorer`` (the interactive latent
explorer) · ``render`` (Jinja2 templates in ``templates/``). Thresholds and verdicts live in
:mod:`vaediag.judgement`.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vaediag.store.rundir import Run

from .claims import ClaimsSection, claims_section
from .content import SECTION_TITLES, ReportContent, build_content
from .explorer import explorer_section, missing_reason
from .findings import Finding, Sentence, Tag
from vaediag.judgement.formats import format_number
from .render import claim_rules_markdown, md_escape, render_html, render_markdown, rules_markdown
from vaediag.judgement.rules import TRAIN_LENGTH_EPOCH, Rule, rules
from vaediag.judgement.run_verdict import run_verdict, verdict_table
from vaediag.judgement.verdict import VERDICT_HEADLINES, Verdict, VerdictEvidence, collapse_verdict

__all__ = ["build_report", "findings", "build_content", "collapse_verdict", "VerdictEvidence", "verdict_table", "run_verdict",
           "rules", "rules_markdown", "claim_rules_markdown", "claims_section", "ClaimsSection", "md_escape",
           "format_number", "render_html", "render_markdown",
           "Finding", "Sentence", "Tag", "Verdict", "Rule", "ReportContent", "SECTION_TITLES",
           "VERDICT_HEADLINES"]


def _as_run(run: Run | str | Path) -> Run:
    return run if isinstance(run, Run) else Run(run)


def findings(run: Run | str | Path) -> list[Finding]:
    """Every number the report's findings quote, in reading order, with where it came from."""
    return build_content(_as_run(run)).findings()


def build_report(run: Run | str | Path, figures: dict[str, Path] | None = None,
                 claims: pd.DataFrame | None = None) -> tuple[Path, Path]:
    """Draw the figures (unless given) and write ``RUN_DIR/report.html`` and ``RUN_DIR/report.md``.

    The HTML embeds every figure as a base64 PNG data URI (opens offline anywhere); the Markdown links
    ``figures/<name>.png`` relatively. ``claims``: the table of :func:`vaediag.claims.check_claims` for this
    run, shown as a "Claims" section (one row per claim: text, verdict, measured numbers, rule, explanation)
    with the claim kinds' rules in the rules section; ``None``: no such section. Raises
    :class:`~vaediag.errors.RunDirError` if the run was not evaluated. Holds the RUN_DIR lock while it writes.
    """
    run = _as_run(run)
    with run.writing("report"):
        section = claims_section(claims, run.classes)  # a malformed claims table fails before anything is written
        content = build_content(run)  # reads the evaluation first: an unevaluated run fails before drawing
        if figures is None:
            from vaediag.plots import make_figures  # matplotlib only when figures are drawn

            figures = make_figures(run, loss_mark_epoch=TRAIN_LENGTH_EPOCH)  # the epoch Q3 asks about
        explorer = explorer_section(run, content.facts)
        note = "" if explorer is not None else missing_reason(run)
        return run.write_report(render_html(content, figures, section, explorer, explorer_note=note),
                                render_markdown(content, figures, section))
