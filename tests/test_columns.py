"""Column docs (``vaediag.columns.COLUMN_DOCS``): one for every column of every result table, and the README's
column tables are exactly the ones generated from them."""

from __future__ import annotations

import re
from pathlib import Path

from vaediag import columns as C
from vaediag.report.render import README_COLUMN_TABLES, columns_markdown
from vaediag.rundir import PAIRS_COLUMNS, PER_CLASS_COLUMNS, Run

from fake_run import make_fake_run

README = Path(__file__).resolve().parents[1] / "README.md"


def test_every_column_of_every_table_has_a_doc(tmp_path):
    from vaediag.evaluate.stages import metrics_columns

    run = Run(make_fake_run(tmp_path / "run", epochs=(1, 2), latent_dim=3, write_artifacts=False))
    tables = [run.metrics.reset_index(), run.history.reset_index(), run.per_class, run.pairs]
    columns = {c for table in tables for c in table.columns} | set(metrics_columns(5)) | set(C.HISTORY_COLUMNS)
    columns |= set(PER_CLASS_COLUMNS) | set(PAIRS_COLUMNS)
    undocumented = sorted(c for c in columns if not C.column_doc(c))
    assert not undocumented
    assert C.column_doc("kl_dim_7") == C.COLUMN_DOCS[C.KL_PER_DIM_PREFIX]
    assert C.column_doc("no_such_column") == ""


def test_each_doc_says_range_or_values_then_how_to_read():
    for column, doc in C.COLUMN_DOCS.items():
        assert ":" in doc and len(doc.split(":", 1)[1].strip()) > 10, column  # "range, direction: how to read it"
        assert "\n" not in doc, column


def test_the_readme_column_tables_are_generated_from_the_docs():
    readme = README.read_text(encoding="utf-8")
    match = re.search(r"<!-- columns:start -->\n(.*?)<!-- columns:end -->", readme, re.S)
    assert match, "README.md has no <!-- columns:start --> ... <!-- columns:end --> block"
    assert match.group(1) == columns_markdown()
    listed = [column for _, columns in README_COLUMN_TABLES for column in columns]
    assert set(listed) == set(C.COLUMN_DOCS) - {C.RUN}  # every documented column of the result tables
