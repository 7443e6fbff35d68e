"""`vaediag study` end to end on a tiny real run: train -> evaluate -> figures -> report; idempotent re-run."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from vaediag import report
from vaediag.cli import cli
from vaediag import plots
from vaediag.plots import figure_names

from test_report import check_text, parse, table_value

ARGS = ["--train-size", "3000", "--test-size", "1000", "--epochs", "3", "--checkpoints", "1,3",
        "--device", "cpu", "--samples", "2000"]


@pytest.fixture(scope="module")
def study_run(tmp_path_factory, mnist_root):
    run = tmp_path_factory.mktemp("study") / "run"
    res = CliRunner().invoke(cli, ["study", "--out", str(run), *ARGS, "--data-root", str(mnist_root)])
    assert res.exit_code == 0, res.output
    return run, res


@pytest.mark.mnist
def test_study_writes_everything(study_run):
    run, res = study_run
    assert res.stdout.strip() == str(run / "report.html")
    for rel in ["config.json", "history.csv", "checkpoints/epoch_001.pt", "checkpoints/epoch_003.pt",
                "metrics.csv", "per_class.csv", "pairs.csv", "evaluation.json", "report.html", "report.md",
                "study.json"]:
        assert (run / rel).is_file(), rel
    seconds = json.loads((run / "study.json").read_text())["seconds"]
    assert set(seconds) == {"train", "evaluate", "report", "total"}


@pytest.mark.mnist
def test_report_sections_figures_and_numbers(study_run):
    run, _ = study_run
    p = parse((run / "report.html").read_text(encoding="utf-8"))
    for sid in ("q1", "q2", "q3", "verdict"):
        assert sid in p.sections
    assert len(p.verdicts) == 1 and p.verdicts[0].startswith("Verdict at epoch 3:")
    embedded = sorted(img["data-name"] for img in p.imgs)
    narrow = sorted(img["data-narrow"] for img in p.imgs if "data-narrow" in img)  # shown by <source> on a phone
    assert sorted(embedded + narrow) == sorted(figure_names([1, 3]))
    assert narrow == sorted(plots.narrow_name(n) for n in plots.NARROW_FIGURES)
    for name in embedded:
        assert (run / "figures" / f"{name}.png").is_file()
    assert len(p.nums) >= 15
    sources = set()
    for a in p.nums:  # every number quoted in the findings is read back from the result tables
        value = table_value(run, a["data-source"], a["data-column"], a["data-epoch"], a["data-key"])
        check_text(a["data-column"], value, a["_text"])
        sources.add(a["data-source"])
    assert "metrics.csv" in sources
    assert [f for f in report.findings(run) if f.source == "metrics.csv"]


@pytest.mark.mnist
def test_rerun_recomputes_nothing(study_run, mnist_root):
    run, _ = study_run
    before = {p: p.stat().st_mtime_ns for p in (run / "checkpoints").iterdir()}
    metrics_before = (run / "metrics.csv").read_bytes()
    res = CliRunner().invoke(cli, ["study", "--out", str(run), *ARGS, "--data-root", str(mnist_root)])
    assert res.exit_code == 0, res.output
    assert {p: p.stat().st_mtime_ns for p in (run / "checkpoints").iterdir()} == before
    assert "already trained" in res.stderr and res.stderr.count("cached") >= 2
    assert (run / "metrics.csv").read_bytes() == metrics_before


@pytest.mark.mnist
def test_report_command_rebuilds(study_run):
    run, _ = study_run
    (run / "report.html").unlink()
    res = CliRunner().invoke(cli, ["report", str(run)])
    assert res.exit_code == 0, res.output
    assert (run / "report.html").is_file()


def test_study_refuses_foreign_non_empty_dir(tmp_path):
    (tmp_path / "notes.txt").write_text("mine")
    res = CliRunner().invoke(cli, ["study", "--out", str(tmp_path), "--epochs", "1", "--checkpoints", "1"])
    assert res.exit_code == 2 and "holds no vaediag run" in res.stderr
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_report_of_unevaluated_dir_is_one_line_error(tmp_path):
    res = CliRunner().invoke(cli, ["report", str(tmp_path)])
    assert res.exit_code == 2 and len(res.stderr.strip().splitlines()) == 1
