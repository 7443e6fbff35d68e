"""The run directory as a reader meets it: evaluation results published as one set (a kill between two
renames, a missing manifest, a hand edit), documented ranges, sub-folders that lead outside RUN_DIR,
damaged config.json / history.csv / evaluation.json, and full or read-only disks: always one line, exit
code 2 on the CLI, nothing touched. (Evaluate's side of these cases is in ``test_evaluate_safety.py``.)"""

from __future__ import annotations

import dataclasses
import errno
import json
import math
import os
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from vaediag.files import atomic, publish
from vaediag import columns as C, plots, report
from vaediag.store import ranges
from vaediag.cli import cli
from vaediag.errors import RunDirError
from vaediag.evaluate import stages
from vaediag.store.evaluation import read_summary
from vaediag.store.rundir import EVAL_DIR, MANIFEST_FILE, Run

from fake_run import make_fake_run
from helpers import assert_one_line_error


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def files(folder: Path) -> dict[str, bytes]:
    """Every file under ``folder`` (not following links) -> its bytes."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def one_line(exc: pytest.ExceptionInfo, *fragments: str) -> str:
    text = str(exc.value)
    assert "\n" not in text, text
    for fragment in fragments:
        assert fragment in text, (fragment, text)
    return text


@pytest.fixture()
def run_dir(tmp_path):
    return make_fake_run(tmp_path / "run", epochs=(1, 2, 3))


# ---------------------------------------------------------------------------------------------- publish
class Killed(BaseException):
    """What a SIGKILL does to the writer: it stops between two system calls."""


def kill_after_renames(monkeypatch, n: int, counted=lambda dst: True) -> None:
    """Kill the writer at its rename number ``n + 1`` (counting only the targets ``counted`` accepts)."""
    real, calls = os.replace, []

    def replace(src, dst):
        if counted(dst):
            if len(calls) == n:
                raise Killed()
            calls.append(dst)
        return real(src, dst)

    monkeypatch.setattr(os, "replace", replace)


def new_evaluation(run_dir: Path):
    """The run's evaluation with other numbers (what a re-evaluation with other settings writes)."""
    ev = Run(run_dir).evaluation
    metrics = ev.metrics.copy()
    metrics.loc[metrics[C.SOURCE] == C.SOURCE_MODEL, C.SILHOUETTE] -= 0.05
    arts = {e: {**ev.artifacts[e], "grid_span": ev.artifacts[e]["grid_span"] * 2} for e in ev.epochs}
    return dataclasses.replace(ev, metrics=metrics, artifacts=arts)


@pytest.mark.parametrize("renames", [1, 2, 4])
def test_a_kill_between_renames_leaves_a_set_that_readers_refuse(run_dir, monkeypatch, renames):
    new = new_evaluation(run_dir)
    before = files(run_dir)
    kill_after_renames(monkeypatch, renames)  # the npz files are renamed first, metrics.csv last
    with pytest.raises(Killed):
        Run(run_dir).write_evaluation(new)
    monkeypatch.undo()
    after = files(run_dir)
    assert after["metrics.csv"] == before["metrics.csv"] and after["eval/epoch_003.npz"] != before["eval/epoch_003.npz"]
    with pytest.raises(RunDirError) as exc:
        Run(run_dir).read_evaluation()
    one_line(exc, "incomplete or mixed", f"re-run `vaediag evaluate {run_dir}`")
    with pytest.raises(RunDirError, match="incomplete or mixed"):
        report.build_report(run_dir, figures={})
    assert_one_line_error(run_cli("report", run_dir), "incomplete or mixed")
    assert "incomplete or mixed" in Run(run_dir).evaluation_problem()


def test_the_manifest_is_written_last_and_lists_every_result(run_dir, monkeypatch):
    written = []
    real = os.replace
    monkeypatch.setattr(os, "replace", lambda src, dst: (written.append(Path(dst).name), real(src, dst)))
    Run(run_dir).write_evaluation(new_evaluation(run_dir))
    assert written[-1] == MANIFEST_FILE
    assert sorted(written[:-1]) == sorted(["metrics.csv", "per_class.csv", "pairs.csv", "evaluation.json",
                                           "epoch_001.npz", "epoch_002.npz", "epoch_003.npz"])
    manifest = json.loads((run_dir / EVAL_DIR / MANIFEST_FILE).read_text())
    assert set(manifest["sha256"]) == {"metrics.csv", "per_class.csv", "pairs.csv", "evaluation.json",
                                       "eval/epoch_001.npz", "eval/epoch_002.npz", "eval/epoch_003.npz"}
    assert manifest["set_id"] == json.loads((run_dir / "evaluation.json").read_text())["evaluation_id"]
    assert Run(run_dir).evaluation_problem() is None
    assert float(Run(run_dir).artifacts(2)["grid_span"]) == 2.0


def test_results_without_a_manifest_are_refused(run_dir):
    """Older runs (and a first evaluation killed before its manifest) must be evaluated again."""
    (run_dir / EVAL_DIR / MANIFEST_FILE).unlink()
    with pytest.raises(RunDirError) as exc:
        Run(run_dir).read_evaluation()
    one_line(exc, f"{EVAL_DIR}/{MANIFEST_FILE}", f"re-run `vaediag evaluate {run_dir}`")


@pytest.mark.parametrize("edit", ["metrics", "npz", "npz_missing", "summary"])
def test_a_file_changed_after_publishing_is_refused(run_dir, edit):
    if edit == "metrics":
        path = run_dir / "metrics.csv"
        path.write_text(path.read_text() + "\n")
    elif edit == "npz":
        path = Run(run_dir).artifact_path(2)
        path.write_bytes(path.read_bytes()[:200])  # a truncated file never reaches np.load
    elif edit == "npz_missing":
        Run(run_dir).artifact_path(2).unlink()
    else:
        summary = json.loads((run_dir / "evaluation.json").read_text())
        (run_dir / "evaluation.json").write_text(json.dumps({**summary, "settings": {"samples": 1}}))
    with pytest.raises(RunDirError) as exc:
        Run(run_dir).read_evaluation()
    one_line(exc, "incomplete or mixed")


def test_an_artifact_changed_after_reading_is_refused_when_loaded(run_dir):
    run = Run(run_dir)
    run.evaluation  # noqa: B018  (tables read and checked; artifacts load on first use)
    path = run.artifact_path(3)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(RunDirError) as exc:
        run.artifacts(3)
    one_line(exc, "eval/epoch_003.npz differs")


def test_artifacts_left_out_keep_the_published_files(run_dir):
    run = Run(run_dir)
    arrays = dict(run.artifacts(1))
    run.write_evaluation(dataclasses.replace(run.evaluation, artifacts={}))
    assert Run(run_dir).evaluation_problem() is None
    assert sorted(Run(run_dir).evaluation.artifacts) == [1, 2, 3]
    assert (Run(run_dir).artifacts(1)["test_mu"] == arrays["test_mu"]).all()


def test_an_unreadable_manifest_is_one_line(run_dir):
    (run_dir / EVAL_DIR / MANIFEST_FILE).write_text("{not json")
    with pytest.raises(RunDirError) as exc:
        Run(run_dir).read_evaluation()
    one_line(exc, "manifest.json")
    assert publish.read_manifest(run_dir / "nothing.json") is None


# ---------------------------------------------------------------------------------------------- ranges
def republish(run_dir: Path, table: str, column: str, value, epoch: int = 3) -> None:
    """Set one cell of checkpoint ``epoch`` and publish the evaluation again (a consistent manifest)."""
    run = Run(run_dir)
    ev = run.evaluation
    metrics, per_class, pairs = ev.metrics.copy(), ev.per_class.copy(), ev.pairs.copy()
    if table == "metrics":
        metrics[column] = metrics[column].astype(object)
        metrics.loc[(metrics.index == epoch) & (metrics[C.SOURCE] == C.SOURCE_MODEL), column] = value
    elif table == "per_class":
        per_class.loc[(per_class[C.EPOCH] == epoch) & (per_class[C.CLASS] == 4), column] = value
    else:
        pairs.loc[(pairs[C.EPOCH] == epoch) & (pairs[C.CLASS_A] == 4) & (pairs[C.CLASS_B] == 9), column] = value
    run.write_evaluation(dataclasses.replace(ev, metrics=metrics, per_class=per_class, pairs=pairs))


@pytest.mark.parametrize("table,column,value,documented", [
    ("metrics", C.SILHOUETTE, 7.5, "[-1, 1]"),
    ("metrics", C.KNN_ACCURACY, 1.2, "[0, 1]"),
    ("metrics", C.PRIOR + C.CONFIDENCE, 0.05, "[0.1, 1]"),
    ("metrics", C.GRID + C.CLASSIFIER_SCORE, 11.0, "[1, 10]"),
    ("metrics", C.PRIOR + C.ENTROPY, 2.5, "[0, 2.30259]"),
    ("metrics", C.PRIOR + C.MODES_COVERED, 12, "[0, 10]"),
    ("metrics", C.FRECHET, -1.0, "[0, inf]"),
    ("metrics", f"{C.KL_PER_DIM_PREFIX}1", -0.5, "[0, inf]"),
    ("metrics", C.TEST_LOSS, -3.0, "[0, inf]"),
    ("per_class", C.CLASS_PRIOR_SHARE, 1.5, "[0, 1]"),
    ("pairs", C.CONFUSION_RATE, -0.1, "[0, 1]"),
])
def test_a_value_outside_its_documented_range_is_refused(run_dir, table, column, value, documented):
    republish(run_dir, table, column, value)
    with pytest.raises(RunDirError) as exc:
        Run(run_dir).read_evaluation()
    one_line(exc, f"{table}.csv", column, "epoch 3", str(value), documented)


def test_silhouette_7_5_is_not_quoted_by_the_report(run_dir):
    republish(run_dir, "metrics", C.SILHOUETTE, 7.5)
    assert_one_line_error(run_cli("report", run_dir), "silhouette = 7.5 at epoch 3 is outside its documented range")
    assert not (run_dir / "report.html").exists()


def test_a_word_in_a_numeric_column_is_refused(run_dir):
    republish(run_dir, "metrics", C.FRECHET, "abc")
    with pytest.raises(RunDirError) as exc:
        Run(run_dir).read_evaluation()
    one_line(exc, "frechet_distance = abc at epoch 3 is not a number")


def test_float_rounding_at_a_bound_is_accepted(run_dir):
    republish(run_dir, "metrics", C.PRIOR + C.CONFIDENCE, 0.1 - 1e-8)
    republish(run_dir, "metrics", C.TOTAL_CORRELATION, -1e-9)
    republish(run_dir, "metrics", C.PRIOR + C.ENTROPY, math.log(10) + 1e-9)
    assert Run(run_dir).read_evaluation().value(C.TOTAL_CORRELATION, 3) == pytest.approx(0, abs=1e-8)


def test_every_numeric_metric_column_has_a_documented_range():
    """A new metric column needs its range in vaediag.store.ranges (the report quotes it unchecked otherwise)."""
    columns = [c for c in stages.metrics_columns(4) if c != C.MOST_MIXED_PAIR]
    assert [c for c in columns if ranges.column_range(c) is None] == []
    for c in (*C.HISTORY_COLUMNS[1:], C.CLASS_KNN_RECALL, C.CLASS_PRIOR_SHARE, C.CLASS_DATA_SHARE, C.CONFUSION_RATE):
        assert ranges.column_range(c) is not None, c


# ---------------------------------------------------------------------------------------------- symlinks
def swap_for_link(run_dir: Path, folder: str, target: Path) -> None:
    real = run_dir / folder
    if real.exists():
        shutil.move(str(real), str(target))
    else:
        target.mkdir()
    real.symlink_to(target, target_is_directory=True)


@pytest.mark.parametrize("folder", ["eval", "figures", "checkpoints"])
def test_a_subfolder_leading_outside_the_run_is_refused(run_dir, tmp_path, folder):
    outside = tmp_path / "elsewhere"
    new = new_evaluation(run_dir)
    swap_for_link(run_dir, folder, outside)
    (outside / "keep.txt").write_text("not vaediag's")
    before = files(outside)
    actions = {
        "eval": [lambda: Run(run_dir).read_evaluation(), lambda: Run(run_dir).clear_cache(),
                 lambda: Run(run_dir).write_evaluation(new)],
        "figures": [lambda: plots.make_figures(Run(run_dir)), lambda: Run(run_dir).check_writable()],
        "checkpoints": [lambda: Run(run_dir).checkpoints(), lambda: Run(run_dir).last_checkpoint_path],
    }[folder]
    for action in actions:
        with pytest.raises(RunDirError) as exc:
            action()
        one_line(exc, f"{run_dir / folder} leads outside the run directory")
    assert files(outside) == before
    command = "evaluate" if folder == "checkpoints" else "report"
    assert_one_line_error(run_cli(command, run_dir), "leads outside the run directory")
    assert files(outside) == before


def test_a_link_that_stays_inside_the_run_is_fine(run_dir):
    swap_for_link(run_dir, "eval", run_dir / "eval_store")
    assert Run(run_dir).read_evaluation().epochs == [1, 2, 3]
    assert Run(run_dir).artifacts(2)["test_mu"].shape[1] == 2


# ---------------------------------------------------------------------------------------------- damaged files
@pytest.mark.parametrize("text,fragment", [
    ("{nope", "cannot read"),
    ("[1, 2]", "does not hold a JSON object"),
    ('{"model": {"model": "mlp", "latent_dim": 2}, "train": [1]}', "'train' must be a JSON object"),
    ('{"model": "mlp", "train": {}}', "'model' must be a JSON object"),
])
def test_a_damaged_config_is_one_line(run_dir, text, fragment):
    (run_dir / "config.json").write_text(text)
    assert_one_line_error(run_cli("report", run_dir), fragment)
    assert not (run_dir / "report.html").exists()


def test_a_bad_latent_dim_in_config_is_one_line(run_dir):
    run = Run(run_dir)
    run.write_config({**run.config, "model": {"model": "mlp", "latent_dim": "abc"}})
    with pytest.raises(RunDirError) as exc:
        Run(run_dir).latent_dim  # noqa: B018
    one_line(exc, "latent_dim must be an integer")


@pytest.mark.parametrize("text,fragment", [
    ('epoch,train_loss\n"1,2\n3', "cannot read"),
    ("epoch,train_loss,test_loss\n1,abc,2\n2,3,4\n", "train_loss = abc at epoch 1 is not a number"),
    ("epoch,train_loss,test_loss\n1,-5,2\n2,3,4\n", "train_loss = -5 at epoch 1 is outside"),
    ("epoch,train_loss,test_loss\n1,1,2\n1,3,4\n2,3,4\n", "epoch 1 appears more than once"),
    ("train_loss\n1\n", "no 'epoch' column"),
])
def test_a_damaged_history_is_one_line(run_dir, text, fragment):
    (run_dir / "history.csv").write_text(text)
    with pytest.raises(RunDirError) as exc:
        Run(run_dir).read_history()
    one_line(exc, fragment)
    assert_one_line_error(run_cli("report", run_dir), fragment)


@pytest.mark.parametrize("obj,fragment", [
    ([1], "does not hold the evaluation summary"),
    ({"timings": {"epochs": {"x": 1}}}, "timings.epochs must map epochs"),
    ({"settings": "abc"}, "does not hold the evaluation summary"),
])
def test_a_damaged_evaluation_summary_is_one_line(tmp_path, obj, fragment):
    path = tmp_path / "evaluation.json"
    path.write_text(json.dumps(obj))
    with pytest.raises(RunDirError) as exc:
        read_summary(path)
    one_line(exc, fragment)


# ---------------------------------------------------------------------------------------------- full / read-only disk
def fail_writes_under(monkeypatch, folder: Path, err: int) -> None:
    """Every atomic write under ``folder`` fails as the disk would (fsync of the temporary file)."""
    real = os.fsync

    def fsync(fd):
        if os.readlink(f"/proc/self/fd/{fd}").startswith(str(folder)):
            raise OSError(err, os.strerror(err))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)


def test_a_full_disk_while_publishing_keeps_the_previous_results(run_dir, monkeypatch):
    before = files(run_dir)
    new = new_evaluation(run_dir)
    fail_writes_under(monkeypatch, run_dir, errno.ENOSPC)
    with pytest.raises(RunDirError) as exc:
        Run(run_dir).write_evaluation(new)
    one_line(exc, "cannot write", "No space left on device")
    assert isinstance(exc.value, OSError)  # still an OSError for code that catches those
    monkeypatch.undo()
    assert files(run_dir) == before  # no temporary file left, nothing replaced
    assert Run(run_dir).evaluation_problem() is None


@pytest.mark.parametrize("err,fragment", [(errno.ENOSPC, "No space left on device"),
                                          (errno.EROFS, "Read-only file system")])
def test_report_on_a_full_or_read_only_disk_is_one_line(run_dir, monkeypatch, err, fragment):
    report.build_report(run_dir, figures={})
    before = files(run_dir)
    fail_writes_under(monkeypatch, run_dir, err)
    assert_one_line_error(run_cli("report", run_dir), fragment)
    monkeypatch.undo()
    assert files(run_dir) == before


def test_a_write_error_names_the_target_not_the_temporary(tmp_path, monkeypatch):
    fail_writes_under(monkeypatch, tmp_path, errno.ENOSPC)
    with pytest.raises(atomic.WriteError) as exc:
        atomic.write_text(tmp_path / "report.html", "x")
    assert str(exc.value) == f"cannot write {tmp_path / 'report.html'}: No space left on device"
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_report_into_a_read_only_run_dir_is_one_line(run_dir):
    os.chmod(run_dir, 0o555)
    try:
        assert_one_line_error(run_cli("report", run_dir), "cannot write")
    finally:
        os.chmod(run_dir, 0o755)
