"""The sweep report: ``SWEEP_DIR/report.html`` (self-contained) and ``report.md``, plus ``summary.csv``.

Data first (:mod:`.sweep_content`: per configuration the Q1–Q3 trajectories as mean ± 95 % CI over seeds,
missing digits and verdicts per seed; the comparisons across configurations), then the Jinja2 templates
``sweep.html.j2`` / ``sweep.md.j2`` through the run report's environment (autoescape, the same CSS). The
statistics are :func:`vaediag.judgement.replicates.seed_statistics` of :func:`vaediag.compare.compare_runs`, written
as summary.csv; every number the findings quote is one of its cells or a derived interval that says how it
was computed.
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path
from urllib.parse import quote

import pandas as pd
from markupsafe import Markup

from vaediag import columns as C
from vaediag.files import atomic
from vaediag.judgement import replicates as R
from vaediag.compare import GROUP, RUN_DIR, compare_runs
from vaediag.errors import RunDirError
from vaediag.store.rundir import Run

from .claims import claims_section
from .findings import Sentence
from .render import Figure, embedded_figure, environment, flatten
from .sweep_answers import config_answers
from .sweep_content import (SECTION_TITLES, SWEEP_METRICS, comparisons, config_sections, decision_family,
                            digit_and_verdict_counts)
from .wording import reword, reword_sentence

FIGURE_CAPTION = ("The key metrics over the checkpoint epochs, one colour per configuration: the line is the mean "
                  "over its seeds, the band the 95 % Student-t interval of that mean (none for a single seed). On a "
                  "narrow screen one panel per row.")


def answers_by_group(df: pd.DataFrame, summary: pd.DataFrame, classes, family) -> dict[str, dict[str, list]]:
    """Configuration -> question id -> its one-line answers (:mod:`.sweep_answers`; Q3's changes are decisions of
    the report's ``family``), in the words of ``classes``."""
    flat, out = df.reset_index(), {}
    for group in dict.fromkeys(flat[GROUP]):
        rows = flat[flat[GROUP] == group]
        epochs = sorted(int(e) for e in rows[C.EPOCH].unique())
        runs = [Run(d) for d in dict.fromkeys(rows[RUN_DIR])]
        missing, _ = digit_and_verdict_counts(runs, epochs[-1:])
        found = config_answers(df, summary, group, epochs, missing[epochs[-1]], len(runs), family=family)
        out[group] = {key: [replace(a, question=reword(a.question, classes),
                                    sentence=reword_sentence(a.sentence, classes)) for a in lines]
                      for key, lines in found.items()}
    return out


def _metrics_present(run_dirs: list[Path]) -> list[str]:
    present = set()
    for d in run_dirs:
        present.update(Run(d).checkpoint_metrics.columns)
    return [m for m in SWEEP_METRICS if m in present or m == R.LOSS_GAP]


RUN_FIELDS = (("status", "status"), ("attempts", "attempts"), ("wall_seconds", "wall seconds (all attempts)"),
              ("attempt_seconds", "last attempt seconds"), ("started", "started"), ("ended", "ended"),
              ("error", "error"))  # sweep.json field -> header


def _runs_table(sweep_info: dict) -> tuple[list[str], list[list[str]]]:
    """sweep_info["runs"] (a list of dicts, or name -> dict, as in sweep.json) as a header and rows of text:
    run, status, attempts, wall seconds (1 decimal), start, end, the one-line error."""
    runs = sweep_info.get("runs") or []
    if isinstance(runs, dict):
        runs = [{"run": name, **(v if isinstance(v, dict) else {"status": v})} for name, v in runs.items()]

    def cell(value) -> str:
        if value is None:
            return ""
        return f"{value:.1f}" if isinstance(value, float) else str(value)

    header = ["run"] + [words for _, words in RUN_FIELDS]
    rows = [[cell(r.get("run", r.get("name")))] + [cell(r.get(key)) for key, _ in RUN_FIELDS]
            for r in runs if isinstance(r, dict)]
    return header, rows


def build_sweep_report(run_dirs, *, html_path, md_path, summary_path, figures_dir,
                       sweep_info: dict, claims: pd.DataFrame | None = None) -> tuple[Path, Path]:
    """Write summary.csv (long-form statistics over seeds), the figure, report.html and report.md of a sweep
    whose finished runs are ``run_dirs``; ``sweep_info`` holds the grid, statuses and timings (sweep.json);
    ``claims`` (the table of :func:`vaediag.claims.check_claims` for the sweep, numbers over seeds) adds a
    "Claims" section with the claim kinds' rules. Returns (html_path, md_path). Raises :class:`RunDirError`
    (one line) when no run is given or one is not evaluated."""
    from vaediag.plots.output import save_png
    from vaediag.plots.sweep import FIG_SWEEP, sweep_metrics_figure

    run_dirs = [Path(d) for d in run_dirs]
    if not run_dirs:
        raise RunDirError("the sweep report needs at least one finished, evaluated run")
    classes = Run(run_dirs[0]).classes  # a sweep's runs share one dataset (a shared setting of the sweep)
    section = claims_section(claims, classes)
    html_path, md_path, summary_path = Path(html_path), Path(md_path), Path(summary_path)
    figures_dir = Path(figures_dir)
    measured = [m for m in _metrics_present(run_dirs) if m != R.LOSS_GAP]
    df = R.with_derived(compare_runs(run_dirs, metrics=measured + [C.TRAIN_EVAL_LOSS]))  # its inputs: the loss gap
    metrics = [m for m in SWEEP_METRICS if m in df.columns]
    summary = R.seed_statistics(df, metrics)
    R.write_summary(summary, summary_path)
    figure = save_png(sweep_metrics_figure(summary, metrics), figures_dir / f"{FIG_SWEEP}.png")
    narrow = save_png(sweep_metrics_figure(summary, metrics, narrow=True), figures_dir / f"{FIG_SWEEP}_narrow.png")
    html_dir, md_dir = html_path.parent.resolve(), md_path.parent.resolve()

    def link(base: Path):
        def to(run_dir) -> str | None:
            target = Run(run_dir).report_html_path.resolve()
            return Markup(quote(Path(os.path.relpath(target, base)).as_posix())) if target.is_file() else None
        return to

    header, rows = _runs_table(sweep_info)
    grid = flatten(sweep_info.get("grid") or {})
    other = flatten({k: v for k, v in sweep_info.items() if k not in ("grid", "runs")})
    family = decision_family(df, summary)  # every decision of the report, corrected together
    compared = [replace(c, parts=reword_sentence(Sentence(c.parts), classes).parts)
                for c in comparisons(df, summary, family)]
    common = dict(titles={k: reword(t, classes) for k, t in SECTION_TITLES.items()}, comparisons=compared,
                  missing_title=reword("Missing digits and collapse verdicts per checkpoint (seeds)", classes),
                  grid=grid, other=other,
                  runs_header=header, runs_rows=rows, n_runs=len(run_dirs), summary_name=summary_path.name,
                  summary_columns=[(k, R.SUMMARY_COLUMN_DOCS.get(k, "")) for k in R.SUMMARY_COLUMNS],
                  claims=section, claim_rules_here=True, decisions=family.describe(), level=family.level_text,
                  answers=answers_by_group(df, summary, classes, family))
    embedded = replace(embedded_figure(FIG_SWEEP, figure, FIGURE_CAPTION),
                       narrow=embedded_figure(f"{FIG_SWEEP}_narrow", narrow))
    html = environment().get_template("sweep.html.j2").render(
        configs=config_sections(df, summary, link(html_dir), classes, family=family), figure=embedded, **common)
    fig_link = Markup(quote(Path(os.path.relpath(figure.resolve(), md_dir)).as_posix()))
    markdown = environment(markdown=True).get_template("sweep.md.j2").render(
        configs=config_sections(df, summary, link(md_dir), classes, family=family),
        figure=Figure(FIG_SWEEP, fig_link, FIGURE_CAPTION),
        **common)

    atomic.write_text(html_path, html)
    atomic.write_text(md_path, markdown)
    return html_path, md_path
