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
import json
import struct
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from vaediag import columns as C
from vaediag.datasets.registry import DEFAULT_DATASET
from vaediag.datasets.classes import MNIST_CLASSES, ClassNames
from vaediag.store.rundir import (CONFIG_FILE, HISTORY_FILE, METRICS_FILE, PAIRS_COLUMNS, PAIRS_FILE, PER_CLASS_COLUMNS,
                            PER_CLASS_FILE, Run)

from .claims import ClaimsSection
from .claims import claim_rules as claim_rules_pairs
from .content import SECTION_TITLES, FigureGroup, ReportContent, figure_caption, section_figures
from .judges import JUDGES_TABLE_DOCS, judges_table
from .findings import Finding, Tag
from vaediag.judgement.formats import percent, table_cell
from vaediag.judgement.text import md_escape
from .replication import checks_table
from vaediag.judgement.rules import (CI_TEXT, COLLAPSE_ENTROPY, IMBALANCE_FACTOR, INSIDE_MIN, MISSING_SHARE,
                                     POSTERIOR_KL_DIM_MIN, Rule, rules)
from vaediag.judgement.run_verdict import (CODE_ENTROPY_HEADER, ENTROPY_ANSWER_HEADER, ENTROPY_CI_HEADER,
                                           ENTROPY_MARGIN_HEADER, INSIDE_HEADER, verdict_table)
from .wording import reword

HISTORY_TABLE_COLUMNS = list(dict.fromkeys(C.HISTORY_COLUMNS + [C.TRAIN_EVAL_LOSS, C.TRAIN_EVAL_RECON, C.TRAIN_EVAL_KL]))
TABLE_GROUPS = (  # per-epoch table split into readable groups; columns not listed land in "Other"
    (f"Training loss ({HISTORY_FILE}, nats/sample)", [c for c in HISTORY_TABLE_COLUMNS if c != C.EPOCH]),
    ("Latent separation", [C.SILHOUETTE, C.KNN_ACCURACY, C.KNN_ACCURACY + C.CI_LOW, C.KNN_ACCURACY + C.CI_HIGH,
                           C.DAVIES_BOULDIN, C.CALINSKI_HARABASZ, C.MOST_MIXED_PAIR, C.MOST_MIXED_PAIR_RATE]),
    ("Latent usage", [C.ACTIVE_UNITS, C.TOTAL_CORRELATION, C.AGGPOST_MEAN_NORM, C.AGGPOST_VAR_MEAN,
                      C.AGGPOST_KL_PRIOR]),
    ("KL per latent dimension (nats/sample)", None),  # None: the kl_dim_<i> columns
    ("Prior samples", [C.PRIOR + m for m in C.HISTOGRAM_METRICS] + [C.PRIOR_ENTROPY_NORM_CI_LOW,
                                                                    C.PRIOR_ENTROPY_NORM_CI_HIGH]
     + [C.PRIOR + m for m in C.READABILITY_METRICS]),
    ("The second judge (nearest test codes)", list(C.JUDGE_COLUMNS)),
    ("Linear grid", [C.GRID + m for m in C.HISTOGRAM_METRICS + C.READABILITY_METRICS] + [C.GRID_SPAN, C.GRID_INSIDE]),
    ("Quantile grid", [C.QGRID + m for m in C.HISTOGRAM_METRICS + C.READABILITY_METRICS]
     + [C.QGRID_SPAN, C.QGRID_INSIDE]),
    ("Sample quality (classifier features)", [C.FRECHET, C.PRECISION, C.RECALL, C.DENSITY, C.COVERAGE]),
    ("Reconstruction / likelihood", [C.EVAL_LOSS, C.EVAL_RECON, C.EVAL_KL, C.RECON_ACCURACY, C.IWAE_NLL,
                                      C.IWAE_TRAIN_NLL]),
)
VERDICT_HEADER_DOCS = {  # the per-checkpoint verdict table's headers (verdict.verdict_table)
    "active units": C.column_doc(C.ACTIVE_UNITS),
    "inactive dims": f"latent dimensions whose KL is below {POSTERIOR_KL_DIM_MIN:g} nats (kl_dim_<i>); '–' = none",
    "prior entropy (norm.)": C.column_doc(C.PRIOR + C.ENTROPY_NORM),
    "grid entropy (norm.)": C.column_doc(C.GRID + C.ENTROPY_NORM),
    ENTROPY_CI_HEADER: f"{CI_TEXT} of the prior entropy (bootstrap over the prior samples; recomputed from the "
                       "shares for runs evaluated without it)",
    ENTROPY_MARGIN_HEADER: f"prior entropy − {COLLAPSE_ENTROPY:g}: how far the estimate is from the threshold",
    ENTROPY_ANSWER_HEADER: "supported (interval wholly below: imbalance, or collapse with missing digits), refuted "
                           "(wholly at or above), inconclusive (straddles)",
    "inside grid window": C.column_doc(C.GRID_INSIDE),
    "missing from prior": f"digits whose share of prior samples has its whole {CI_TEXT} (Wilson) below "
                          f"{percent(MISSING_SHARE)}",
    "uncertain digits": f"digits whose share interval straddles {percent(MISSING_SHARE)}: missing or not cannot be "
                        "told from this run",
    "over-drawn": f"digits whose share interval lies wholly above {IMBALANCE_FACTOR:g} × their test-set share",
    "under-drawn": f"digits whose share interval lies wholly below their test-set share / {IMBALANCE_FACTOR:g}",
    "missing from grid": f"digits with less than {percent(MISSING_SHARE)} of the linear grid's images "
                         "(per_class.csv grid_share; the grid's points are fixed, so no interval)",
    INSIDE_HEADER: f"for each digit missing from the grid: the share of its own test codes inside the grid window "
                   f"with its Wilson {CI_TEXT} and the answer to “below {percent(INSIDE_MIN)}?” (“all”: the overall "
                   "inside fraction, when per-digit shares are unavailable)",
    CODE_ENTROPY_HEADER: f"the code judge's normalised class entropy of the prior samples with its {CI_TEXT} and "
                         f"the answer to “below {COLLAPSE_ENTROPY:g}?” (an imbalance needs both judges to say so)",
    "judges disagree": f"digits on which one judge's share interval lies wholly below {percent(MISSING_SHARE)} and "
                       "the other's wholly above: no verdict on them",
    "judge cannot read": "digits whose reconstructions the classifier cannot read (recon_recall): its shares of "
                         "them are no evidence",
    "verdict": "the collapse verdict of the checkpoint (rules: 'How the findings are written')",
}
CHECK_HEADER_DOCS = {
    "check": "the threshold rule: is the estimate on the rule's side of the threshold?",
    "estimate": "the measured value (a slope in nats/epoch for the trends)",
    CI_TEXT: "the interval the answer is decided on",
    "side": "the rule's side of the threshold",
    "threshold": "the rule's threshold (0 for a trend: is the slope above 0?)",
    "margin": "estimate − threshold",
    "answer": "supported (interval wholly on the side), refuted (wholly on the other), inconclusive (straddles)",
    "interval": "how the interval was obtained",
}
README_COLUMN_TABLES = (  # the README's column tables: file -> its columns, in order
    (HISTORY_FILE, HISTORY_TABLE_COLUMNS),
    (METRICS_FILE, [C.EPOCH, C.SOURCE] + [c for _, cols in TABLE_GROUPS[1:] for c in (cols or [C.KL_PER_DIM_PREFIX])]),
    (PER_CLASS_FILE, PER_CLASS_COLUMNS),
    (PAIRS_FILE, PAIRS_COLUMNS),
)
# only documented columns are listed: a column whose doc has not been written yet (or that was removed) stays out
README_COLUMN_TABLES = tuple((name, [c for c in columns if C.column_doc(c)]) for name, columns in README_COLUMN_TABLES)


# ============================================================================================ plain data
@dataclass(frozen=True)
class Table:
    """A rendered table: ``header`` (first entry: the row-label column), the meaning of each header
    (``docs``, "" where none) and rows of cell texts; rows labelled ``"data"`` (the real-data reference) stay
    last when the table is sorted."""

    title: str
    header: list[str]
    rows: list[list[str]]
    docs: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Figure:
    """A figure as the page shows it: ``name``, ``src`` (a data URI in HTML, a relative link in Markdown), a
    ``caption`` in words, and its size on the page in CSS pixels (0 when unknown)."""

    name: str
    src: str
    caption: str = ""
    width: int = 0
    height: int = 0


def frame_table(frame: pd.DataFrame, title: str = "", row_labels: list | None = None,
                docs: dict[str, str] | None = None) -> Table:
    """A DataFrame as a :class:`Table`: the index (or ``row_labels``) first, cells by ``table_cell``; header
    docs from ``docs`` (header -> text), else :func:`vaediag.columns.column_doc`. The row-label header is
    the index's name ("row" when it has none), never empty."""
    labels = list(frame.index) if row_labels is None else row_labels
    rows = [[str(label)] + [table_cell(v) for v in values]
            for label, values in zip(labels, frame.itertuples(index=False))]
    header = [str(frame.index.name or "row")] + [str(c) for c in frame.columns]
    return Table(title, header, rows, [(docs or {}).get(h) or C.column_doc(h) for h in header])


def epoch_tables(run: Run) -> list[Table]:
    """metrics.csv in column groups (every column exactly once), rows labelled by epoch; the real-data
    reference row is labelled ``"data"``."""
    metrics = run.metrics
    labels = [C.SOURCE_DATA if source == C.SOURCE_DATA else int(epoch)
              for epoch, source in zip(metrics.index, metrics[C.SOURCE])]
    kl = [c for c in metrics.columns if c.startswith(C.KL_PER_DIM_PREFIX)]
    used, out = {C.SOURCE}, []
    for title, columns in TABLE_GROUPS:
        columns = [c for c in (kl if columns is None else columns) if c in metrics.columns and c not in used]
        used.update(columns)
        if columns:
            out.append(frame_table(metrics[columns], title, labels))
    rest = [c for c in metrics.columns if c not in used]
    if rest:
        out.append(frame_table(metrics[rest], "Other", labels))
    return out


def flatten(mapping, prefix: str = "") -> list[tuple[str, str]]:
    """Nested dicts as ("a.b", "value") pairs; lists, booleans and None in JSON."""
    out = []
    for key, value in (mapping or {}).items():
        if isinstance(value, dict):
            out += flatten(value, f"{prefix}{key}.")
        else:
            text = json.dumps(value) if isinstance(value, (list, tuple, bool)) or value is None else str(value)
            out.append((f"{prefix}{key}", text))
    return out


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


def reworded_table(table: Table, classes: ClassNames) -> Table:
    """``table`` with its title, headers, docs and cells in the words of ``classes`` (:mod:`.wording`)."""
    if classes.numeric:
        return table
    return Table(reword(table.title, classes), [reword(h, classes) for h in table.header],
                 [[reword(cell, classes) for cell in row] for row in table.rows],
                 [reword(doc, classes) for doc in table.docs])


def _context(content: ReportContent, figures: dict[str, Figure], claims: ClaimsSection | None = None) -> dict:
    run = content.run
    model = run.model_config
    classes = run.classes
    shown = {section: [(reword(title, classes), reword(text, classes),
                        [replace(f, caption=reword(f.caption, classes)) for f in found])
                       for title, text, found in _shown(groups, figures)]
             for section, groups in section_figures(run).items()}
    return dict(
        name=run.name, model=run.model_name, latent_dim=model.get("latent_dim", "?"),
        dataset="" if classes.dataset == DEFAULT_DATASET else classes.title, classes=classes,
        beta=model.get("beta", "– (not trained by vaediag)" if run.is_external else "?"),
        epochs=", ".join(map(str, run.epochs)), last_epoch=run.last,
        metrics_file=METRICS_FILE, config_file=CONFIG_FILE,
        titles={key: reword(title, classes) for key, title in SECTION_TITLES.items()}, sections=content.sections,
        verdict=content.verdict, verdict_headline=reword(content.verdict.headline, classes),
        verdict_table=reworded_table(frame_table(verdict_table(run), docs=VERDICT_HEADER_DOCS), classes),
        judges_table=reworded_table(frame_table(judges_table(run), f"Both judges at epoch {run.last}",
                                                docs=JUDGES_TABLE_DOCS), classes),
        figures=shown, tables=epoch_tables(run), rules=[Rule(reword(r.topic, classes), reword(r.text, classes)) for r in rules()],
        checks_table=reworded_table(frame_table(checks_table(content.checks), docs=CHECK_HEADER_DOCS), classes),
        config=flatten(run.config), settings=flatten({**run.evaluation.settings,
                                                      **{f"versions.{k}": v for k, v in run.evaluation.versions.items()}}),
        timings=flatten(run.evaluation.timings), claims=claims, claim_rules_here=False,
    )


def png_size(data: bytes) -> tuple[int, int]:
    """(width, height) in pixels from a PNG's header; (0, 0) when ``data`` is not a PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        return 0, 0
    return struct.unpack(">II", data[16:24])


def embedded_figure(name: str, path: Path) -> Figure:
    """A figure for report.html: the PNG as a base64 data URI, shown at 1/``DISPLAY_SCALE`` of its pixels."""
    from vaediag.plots.output import DISPLAY_SCALE

    data = Path(path).read_bytes()
    width, height = (round(n / DISPLAY_SCALE) for n in png_size(data))
    return Figure(name, "data:image/png;base64," + base64.b64encode(data).decode("ascii"), figure_caption(name),
                  width, height)


def render_html(content: ReportContent, figures: dict[str, Path], claims: ClaimsSection | None = None) -> str:
    """report.html: self-contained, every figure embedded as a base64 PNG data URI; a Claims section when
    ``claims`` is given."""
    embedded = {name: embedded_figure(name, path) for name, path in figures.items()}
    return environment().get_template("report.html.j2").render(_context(content, embedded, claims))


def render_markdown(content: ReportContent, figures: dict[str, Path], claims: ClaimsSection | None = None) -> str:
    """report.md: figures linked relatively to RUN_DIR (absolute when a figure lies outside it); a Claims
    section when ``claims`` is given."""
    run_dir = content.run.path.resolve()
    linked = {}
    for name, path in figures.items():
        path = Path(path).resolve()
        target = path.relative_to(run_dir) if path.is_relative_to(run_dir) else path
        linked[name] = Figure(name, Markup(quote(target.as_posix())), figure_caption(name))
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
