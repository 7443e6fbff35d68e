"""Rendering: the report's content as HTML and Markdown, through the Jinja2 templates in ``templates/``.

Python builds plain data (:class:`Table`, :class:`Figure`, the sentences of :mod:`.findings`); the templates
write the markup. HTML is escaped by Jinja2's autoescape; Markdown by :func:`md_escape`, which the Markdown
environment applies to every ``{{ value }}`` it writes (values marked :class:`~markupsafe.Markup` are
written as they are: only link targets, which are percent-encoded).

In the HTML every quoted number carries its provenance as a hover text (:func:`provenance`), every table
header the column's meaning (:func:`vaediag.columns.column_doc`); tables sort on a click on a header (a
small inline script, nothing fetched); figures are shown at half their pixel size (``DISPLAY_SCALE``, sharp
on high-density screens) and open full size on a click (CSS ``:target``, no script).
"""

from __future__ import annotations

import base64
import struct
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from vaediag import columns as C
from vaediag.datasets.classes import MNIST_CLASSES, ClassNames
from vaediag.datasets.registry import DEFAULT_DATASET
from vaediag.judgement.rules import Rule, rules
from vaediag.judgement.run_verdict import verdict_table
from vaediag.store.rundir import CONFIG_FILE, METRICS_FILE

from .answers import NO_RULE
from .captions import figure_caption
from .claims import ClaimsSection
from .claims import claim_rules as claim_rules_pairs
from .content import SECTION_TITLES, FigureGroup, ReportContent, section_figures
from .facts import RunFacts, run_facts
from .findings import Finding, Tag
from .judges import JUDGES_TABLE_DOCS, judges_table
from .replication import checks_table
from .tables import (CHECK_HEADER_DOCS, HISTORY_TABLE_COLUMNS, README_COLUMN_TABLES, TABLE_GROUPS,  # noqa: F401
                     VERDICT_HEADER_DOCS, Table, empty_columns, epoch_tables, flatten, frame_table, verdict_columns,
                     verdict_first)
from .wording import reword
from vaediag.judgement.text import md_escape



# ============================================================================================ plain data
@dataclass(frozen=True)
class Figure:
    """A figure as the page shows it: ``name``, ``src`` (a data URI in HTML, a relative link in Markdown), a
    ``caption`` in words, its size on the page in CSS pixels (0 when unknown), the height of its smallest text in
    the PNG's pixels (``min_text``, NaN when not recorded) and, where the figure has one, its narrow rendering
    (``narrow``: a :class:`Figure` the page shows on a narrow screen instead)."""

    name: str
    src: str
    caption: str = ""
    width: int = 0
    height: int = 0
    min_text: float = float("nan")
    narrow: "Figure | None" = None


def provenance(finding: Finding, classes: ClassNames = MNIST_CLASSES) -> str:
    """Where a quoted number comes from, as its hover text: "metrics.csv, column silhouette, epoch 30: 0.0834",
    then what the column means; a per-class cell names its class in the words of ``classes``."""
    if finding.row == C.SOURCE_DATA:
        where = "reference row 'data' (real test digits)"
    else:
        where = f"epoch {finding.epoch}"
    if isinstance(finding.key, tuple):
        where += f", digits {finding.key_text}"
        if not classes.numeric:
            where += f" ({classes.pair(*finding.key)})"
    elif finding.key is not None:
        where += f", digit {finding.key_text}"
        if not classes.numeric:
            where += f" ({classes.name(finding.key)})"
    doc = C.column_doc(finding.column)
    where = where if classes.numeric else where.replace("digit", "class").replace("test classes", "test images")
    return f"{finding.source}, column {finding.column}, {where}: {finding.value:.4g}" + (f"\n{doc}" if doc else "")


# ============================================================================================ Markdown escaping
def _md_finalize(value) -> str:
    return value if isinstance(value, Markup) else md_escape(value)


# ============================================================================================ templates
def _is_finding(part) -> bool:
    return isinstance(part, Finding)


def _is_tag(part) -> bool:
    return isinstance(part, Tag)


@lru_cache(maxsize=None)
def environment(markdown: bool = False) -> Environment:
    """The Jinja2 environment of the HTML templates (autoescape on) or of the Markdown ones (every value
    through :func:`md_escape`)."""
    options = dict(finalize=_md_finalize, autoescape=False) if markdown else dict(autoescape=True)
    env = Environment(loader=PackageLoader("vaediag.report", "templates"), undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True, **options)
    env.tests.update(finding=_is_finding, tag=_is_tag)
    env.filters.update(provenance=provenance)
    return env


def _shown(groups: list[FigureGroup], figures: dict[str, Figure]) -> list[tuple[str, str, list[Figure]]]:
    """(title, text, figures) of each group of a section, with the figures that were drawn; empty groups
    left out."""
    shown = [(group.title, group.text, [figures[n] for n in group.names if n in figures]) for group in groups]
    return [(title, text, found) for title, text, found in shown if found]


def _without_empty(frame):
    """``frame`` without its columns that hold no value for this run (e.g. no share verdict without a prior)."""
    return frame.drop(columns=empty_columns(frame))


def reworded_table(table: Table, classes: ClassNames) -> Table:
    """``table`` with its title, headers, docs and cells in the words of ``classes`` (:mod:`.wording`)."""
    if classes.numeric:
        return table
    return Table(reword(table.title, classes), [reword(h, classes) for h in table.header],
                 [[reword(cell, classes) for cell in row] for row in table.rows],
                 [reword(doc, classes) for doc in table.docs])


def _captioned(figures: dict[str, Figure], facts: RunFacts, classes: ClassNames) -> dict[str, Figure]:
    """The figures with their captions written from the run's facts (in the words of ``classes``)."""
    drawn = set(figures)
    return {name: replace(f, caption=reword(figure_caption(name, facts, drawn), classes)) for name, f in figures.items()}


def _context(content: ReportContent, figures: dict[str, Figure], claims: ClaimsSection | None = None) -> dict:
    run = content.run
    facts = content.facts or run_facts(run)
    classes = run.classes
    figures = _captioned(figures, facts, classes)
    shown = {section: [(reword(title, classes), reword(text, classes), found)
                       for title, text, found in _shown(groups, figures)]
             for section, groups in section_figures(run, facts).items()}
    empty = empty_columns(run.metrics)
    return dict(
        name=run.name, model=run.model_name, latent_dim=facts.latent_dim,
        dataset="" if classes.dataset == DEFAULT_DATASET else classes.title, classes=classes,
        beta=facts.beta_text, epochs=", ".join(map(str, run.epochs)), last_epoch=run.last,
        metrics_file=METRICS_FILE, config_file=CONFIG_FILE, no_rule=NO_RULE,
        titles={key: reword(title, classes) for key, title in SECTION_TITLES.items()}, sections=content.sections,
        answers=content.answers, verdict=content.verdict, verdict_headline=reword(content.verdict.headline, classes),
        verdict_table=reworded_table(frame_table(verdict_columns(verdict_table(run), facts.grids),
                                                 docs=VERDICT_HEADER_DOCS), classes),
        judges_table=reworded_table(frame_table(_without_empty(judges_table(run)), f"Both judges at epoch {run.last}",
                                                docs=JUDGES_TABLE_DOCS), classes),
        figures=shown, tables=epoch_tables(run), empty_columns=empty,
        rules=[Rule(reword(r.topic, classes), reword(r.text, classes)) for r in rules()],
        checks_table=reworded_table(frame_table(verdict_first(checks_table(content.checks), "answer"),
                                                docs=CHECK_HEADER_DOCS), classes),
        config=flatten(run.config), settings=flatten({**run.evaluation.settings,
                                                      **{f"versions.{k}": v for k, v in run.evaluation.versions.items()}}),
        timings=flatten(run.evaluation.timings), claims=claims, claim_rules_here=False,
        explorer=None, explorer_note="",
    )


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's header; (0, 0) when ``data`` is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return 0, 0
    return struct.unpack(">II", data[16:24])


def embedded_figure(name: str, path: Path, caption: str = "") -> Figure:
    """A figure for report.html: the PNG as a base64 data URI, shown at 1/``DISPLAY_SCALE`` of its pixels, with
    the smallest text it recorded."""
    from vaediag.plots.output import DISPLAY_SCALE, png_min_text

    data = Path(path).read_bytes()
    width, height = (round(n / DISPLAY_SCALE) for n in png_size(data))
    return Figure(name, "data:image/png;base64," + base64.b64encode(data).decode("ascii"), caption, width, height,
                  png_min_text(data))


def with_narrow(figures: dict[str, Figure]) -> dict[str, Figure]:
    """The figures, each narrow rendering (:func:`vaediag.plots.wide_name`) attached to its figure as
    ``narrow`` instead of standing alone."""
    from vaediag.plots import wide_name

    out = {name: f for name, f in figures.items() if wide_name(name) is None}
    for name, f in figures.items():
        wide = wide_name(name)
        if wide is not None and wide in out:
            out[wide] = replace(out[wide], narrow=f)
    return out


def render_html(content: ReportContent, figures: dict[str, Path], claims: ClaimsSection | None = None,
                explorer=None, *, explorer_note: str = "") -> str:
    """report.html: self-contained, every figure embedded as a base64 PNG data URI (a narrow rendering, where a
    figure has one, as the source a narrow screen shows); a Claims section when ``claims`` is given; the latent
    explorer when ``explorer`` (:func:`vaediag.report.explorer.explorer_section`) is given, else
    ``explorer_note`` (why there is none) when not empty."""
    embedded = with_narrow({name: embedded_figure(name, path) for name, path in figures.items()})
    context = _context(content, embedded, claims)
    context.update(explorer=explorer, explorer_note=explorer_note)
    return environment().get_template("report.html.j2").render(context)


def render_markdown(content: ReportContent, figures: dict[str, Path], claims: ClaimsSection | None = None) -> str:
    """report.md: figures linked relatively to RUN_DIR (absolute when a figure lies outside it; narrow renderings
    left out); a Claims section when ``claims`` is given."""
    from vaediag.plots import wide_name

    run_dir = content.run.path.resolve()
    linked = {}
    for name, path in figures.items():
        if wide_name(name) is not None:
            continue
        path = Path(path).resolve()
        target = path.relative_to(run_dir) if path.is_relative_to(run_dir) else path
        linked[name] = Figure(name, Markup(quote(target.as_posix())))
    return environment(markdown=True).get_template("report.md.j2").render(_context(content, linked, claims))


def columns_markdown() -> str:
    """What every column of the result tables means (``vaediag.columns.COLUMN_DOCS``), as Markdown: the
    README's column tables."""
    tables = [(name, [(column + ("<i>" if column == C.KL_PER_DIM_PREFIX else ""), C.column_doc(column))
                      for column in columns]) for name, columns in README_COLUMN_TABLES]
    return environment(markdown=True).get_template("columns.md.j2").render(tables=tables)


def rules_markdown() -> str:
    """The rules as a Markdown table: the README's rules table and the report.md rules section."""
    return environment(markdown=True).get_template("rules.md.j2").render(rules=rules())


def claim_rules_markdown() -> str:
    """The claim kinds' decision rules (:func:`vaediag.claims.claim_rules`) as a Markdown table: the README's
    claim-rules table and the report.md "How the claims are decided" subsection."""
    return environment(markdown=True).get_template("claim_rules.md.j2").render(
        claims={"rules": claim_rules_pairs()})
