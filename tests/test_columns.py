"""Column docs (``vaediag.columns.COLUMN_DOCS``): one for every column of every result table, printed by
``vaediag columns``; ranges (``COLUMN_RANGES``) sit beside them."""

from __future__ import annotations


from vaediag import columns as C
from vaediag.report.render import README_COLUMN_TABLES, columns_markdown
from vaediag.store.rundir import PAIRS_COLUMNS, PER_CLASS_COLUMNS, Run

from fake_run import make_fake_run



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


def test_vaediag_columns_prints_every_documented_column():
    from click.testing import CliRunner

    from vaediag.cli import cli

    res = CliRunner().invoke(cli, ["columns"])
    assert res.exit_code == 0, res.output
    assert res.stdout == columns_markdown()
    listed = [column for _, columns in README_COLUMN_TABLES for column in columns]
    assert set(listed) == set(C.COLUMN_DOCS) - {C.RUN}  # every documented column of the result tables
    for column in listed:
        assert column.replace("_", "\\_") in res.stdout, column


def test_every_documented_numeric_column_has_a_range_next_to_its_doc():
    numeric = set(C.COLUMN_RANGES) | {C.KL_PER_DIM_PREFIX}
    assert numeric <= set(C.COLUMN_DOCS)
