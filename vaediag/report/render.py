"""Rendering: the report's content as HTML and Markdown, through the Jinja2 templates in ``templates/``.

Python builds plain data (:class:`Table`, :class:`Figure`, the sentences of :mod:`.findings`); the templates
write the markup. HTML is escaped by Jinja2's autoescape; Markdown by :func:`md_escape`, which the Markdown
environment applies to every ``{{ value }}`` it writes (values marked :class:`~markupsafe.Markup` are
written as they are: only link targets, which are percent-encoded).
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from urllib.parse import quote

import pandas as pd
from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from vaediag import columns as C
from vaediag.rundir import CONFIG_FILE, HISTORY_FILE, METRICS_FILE, Run

from .content import SECTION_TITLES, ReportContent
from .findings import Finding, Tag
from .formats import table_cell
from .rules import rules
from .verdict import verdict_table

TABLE_GROUPS = (  # per-epoch table split into readable groups; columns not listed land in "Other"
    (f"Training loss ({HISTORY_FILE}, nats/sample)", [c for c in C.HISTORY_COLUMNS if c != C.EPOCH]),
    ("Latent separation", [C.SILHOUETTE, C.KNN_ACCURACY, C.DAVIES_BOULDIN, C.CALINSKI_HARABASZ,
                           C.MOST_MIXED_PAIR, C.MOST_MIXED_PAIR_RATE]),
    ("Latent usage", [C.ACTIVE_UNITS, C.TOTAL_CORRELATION, C.AGGPOST_MEAN_NORM, C.AGGPOST_VAR_MEAN,
                      C.AGGPOST_KL_PRIOR]),
    ("KL per latent dimension (nats/sample)", None),  # None: the kl_dim_<i> columns
    ("Prior samples", [C.PRIOR + m for m in C.HISTOGRAM_METRICS]),
    ("Linear grid", [C.GRID + m for m in C.HISTOGRAM_METRICS] + [C.GRID_SPAN, C.GRID_INSIDE]),
    ("Quantile grid", [C.QGRID + m for m in C.HISTOGRAM_METRICS] + [C.QGRID_SPAN, C.QGRID_INSIDE]),
    ("Sample quality (classifier features)", [C.FRECHET, C.PRECISION, C.RECALL, C.DENSITY, C.COVERAGE]),
    ("Reconstruction / likelihood", [C.EVAL_LOSS, C.EVAL_RECON, C.EVAL_KL, C.RECON_ACCURACY, C.IWAE_NLL]),
)
_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")


# ============================================================================================ plain data
@dataclass(frozen=True)
class Table:
    """A rendered table: ``header`` (first entry: the row-label column) and rows of cell texts."""

    title: str
    header: list[str]
    rows: list[list[str]]


@dataclass(frozen=True)
class Figure:
    """A figure as the page shows it: ``name`` and ``src`` (a data URI in HTML, a relative link in Markdown)."""

    name: str
    src: str


def frame_table(frame: pd.DataFrame, title: str = "", row_labels: list | None = None) -> Table:
    """A DataFrame as a :class:`Table`: the index (or ``row_labels``) first, cells by ``table_cell``."""
    labels = list(frame.index) if row_labels is None else row_labels
    rows = [[str(label)] + [table_cell(v) for v in values]
            for label, values in zip(labels, frame.itertuples(index=False))]
    return Table(title, [str(frame.index.name or "")] + [str(c) for c in frame.columns], rows)


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


def section_figures(run: Run) -> dict[str, list[str]]:
    """Which figures (names from :mod:`vaediag.plots`) each section shows."""
    from vaediag import plots  # the figure names only; drawing happens in build_report

    epochs = run.epochs
    return {
        "overview": [plots.FIG_OVERVIEW],
        "q1": [plots.latent_name(e) for e in epochs] + [plots.FIG_SEPARATION, plots.FIG_PAIRS],
        "q2": [plots.grid_name(e, kind) for e in epochs for kind in plots.GRID_KINDS]
              + [plots.FIG_ENTROPY, plots.FIG_FRECHET, plots.FIG_CLASS_SHARE],
        "verdict": [],
        "q3": [plots.FIG_LOSS],
    }


# ============================================================================================ Markdown escaping
def md_escape(value) -> str:
    """``value`` as literal Markdown text: a backslash before every character Markdown could read as markup
    inline (``\\ ` * _ [ ] < > | ~ &``; with ``[`` escaped neither ``!`` nor ``(`` can start a link), line
    breaks as spaces (a table row stays one line). Values are never written at the start of a line, where
    ``#``, ``-`` or ``1.`` would matter."""
    text = " ".join(str(value).splitlines())
    return _MD_SPECIAL.sub(r"\\\1", text)


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
    return env


def _context(content: ReportContent, figures: dict[str, Figure]) -> dict:
    run = content.run
    model = run.model_config
    shown = {section: [figures[n] for n in names if n in figures] for section, names in section_figures(run).items()}
    return dict(
        name=run.name, model=model.get("model", "?"), latent_dim=model.get("latent_dim", "?"),
        beta=model.get("beta", "?"), epochs=", ".join(map(str, run.epochs)), last_epoch=run.last,
        metrics_file=METRICS_FILE, config_file=CONFIG_FILE, titles=SECTION_TITLES, sections=content.sections,
        verdict=content.verdict,
        verdict_table=frame_table(verdict_table(run)), figures=shown, tables=epoch_tables(run), rules=rules(),
        config=flatten(run.config), settings=flatten({**run.evaluation.settings,
                                                      **{f"versions.{k}": v for k, v in run.evaluation.versions.items()}}),
        timings=flatten(run.evaluation.timings),
    )


def render_html(content: ReportContent, figures: dict[str, Path]) -> str:
    """report.html: self-contained, every figure embedded as a base64 PNG data URI."""
    embedded = {name: Figure(name, "data:image/png;base64," + base64.b64encode(Path(path).read_bytes()).decode("ascii"))
                for name, path in figures.items()}
    return environment().get_template("report.html.j2").render(_context(content, embedded))


def render_markdown(content: ReportContent, figures: dict[str, Path]) -> str:
    """report.md: figures linked relatively to RUN_DIR (absolute when a figure lies outside it)."""
    run_dir = content.run.path.resolve()
    linked = {}
    for name, path in figures.items():
        path = Path(path).resolve()
        target = path.relative_to(run_dir) if path.is_relative_to(run_dir) else path
        linked[name] = Figure(name, Markup(quote(target.as_posix())))
    return environment(markdown=True).get_template("report.md.j2").render(_context(content, linked))


def rules_markdown() -> str:
    """The rules as a Markdown table: the README's rules table and the report.md rules section."""
    return environment(markdown=True).get_template("rules.md.j2").render(rules=rules())
