"""The sweep report: SWEEP_DIR/report.html, report.md, summary.csv and figures/.

PLACEHOLDER written by the sweep engine (part A): helper D's version (statistics over seeds, Q1-Q3 with
mean ± CI, comparisons across configurations, seaborn figures with CI bands) replaces this module; the
signature of :func:`build_sweep_report` is the contract between the two. This one writes the seed summary of
:mod:`vaediag.compare` as summary.csv and a page linking every run's own report.
"""

from __future__ import annotations

import os
from pathlib import Path

import jinja2

from .. import atomic
from ..compare import compare_runs, summarise_seeds
from ..rundir import Run

_HTML = jinja2.Environment(autoescape=True).from_string("""<!doctype html>
<html><head><meta charset="utf-8"><title>vaediag sweep</title></head><body>
<h1>vaediag sweep</h1>
<p>{{ runs|length }} runs done; the statistics over seeds are in <a href="{{ summary }}">{{ summary }}</a>.</p>
<ul>{% for name, link in runs %}<li><a href="{{ link }}">{{ name }}</a></li>{% endfor %}</ul>
</body></html>
""")
_MD = jinja2.Environment(autoescape=False).from_string("""# vaediag sweep

{{ runs|length }} runs done; the statistics over seeds are in [{{ summary }}]({{ summary }}).

{% for name, link in runs %}- [{{ name }}]({{ link }})
{% endfor %}""")


def build_sweep_report(run_dirs, *, html_path, md_path, summary_path, figures_dir, sweep_info: dict
                       ) -> tuple[Path, Path]:
    """Write the sweep report of the evaluated ``run_dirs``; return (html, md) paths."""
    html_path, md_path, summary_path = Path(html_path), Path(md_path), Path(summary_path)
    run_dirs = [Path(p) for p in run_dirs]
    df = compare_runs(run_dirs)
    summary = summarise_seeds(df)
    atomic.write_with(summary_path, lambda tmp: summary.to_csv(tmp))
    links = [(p.name, Path(os.path.relpath(Run(p).report_html_path, html_path.parent)).as_posix()) for p in run_dirs]
    summary_link = Path(os.path.relpath(summary_path, html_path.parent)).as_posix()
    atomic.write_text(html_path, _HTML.render(runs=links, summary=summary_link))
    atomic.write_text(md_path, _MD.render(runs=links, summary=summary_link))
    return html_path, md_path
