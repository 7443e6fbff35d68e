"""TensorBoard: ``evaluate_model(log_dir=...)`` as it goes, ``vaediag tensorboard RUN_DIR|SWEEP_DIR --logdir DIR``
after the fact. Every check reads the event files back with TensorBoard's own reader (``EventAccumulator``) and
compares the values with the CSV cells; tbparse, an independent reader, agrees."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import vaediag
from vaediag import columns as C
from vaediag.cli import cli
from vaediag.errors import MissingExtraError
from vaediag.evaluate.settings import EvalSettings
from vaediag.store.rundir import Run
from vaediag.store.sweepdir import DONE, FORMAT, Sweep

import external_models as X
from eval_fixtures import one_thread, random_classifier  # noqa: F401  (one_thread: autouse)
from fake_run import make_fake_run, shared_run_with_figures
from helpers import assert_one_line_error, synthetic_digits

pytest.importorskip("tensorboard")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

SMALL = EvalSettings(samples=200, grid=3, iwae=2)
TESTS = Path(__file__).parent


def _events(folder: Path) -> EventAccumulator:
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


def _scalar(acc: EventAccumulator, tag: str) -> dict[int, float]:
    return {e.step: e.value for e in acc.Scalars(tag)}


def _numeric_cells(metrics: pd.DataFrame) -> dict[tuple[str, int], float]:
    """Every finite numeric cell of the model rows outside the joined history columns: (column, epoch) -> value."""
    rows = metrics[metrics[C.SOURCE] == C.SOURCE_MODEL]
    out = {}
    for column in rows.columns:
        if column == C.SOURCE or column in C.HISTORY_COLUMNS:
            continue
        values = pd.to_numeric(rows[column], errors="coerce")
        for epoch, value in values.items():
            if np.isfinite(value):
                out[(column, int(epoch))] = float(value)
    return out


def test_evaluate_model_logs_each_epoch_as_it_goes(tmp_path):
    run_dir, logs = tmp_path / "run", tmp_path / "tb"
    history = {"train_loss": [120.0, 110.0, 105.0], "test_loss": [121.0, 112.0, 108.0]}
    options = dict(settings=SMALL, data=synthetic_digits(), classifier=random_classifier(), decoder="logits",
                   log=lambda *_: None, log_dir=logs)
    vaediag.evaluate_model(X.flat_vae(), run_dir, 1, history={k: v[:1] for k, v in history.items()}, **options)
    vaediag.evaluate_model(X.flat_vae(), run_dir, 3, history=history, **options)
    acc = _events(logs)
    run = Run(run_dir)
    cells = _numeric_cells(pd.read_csv(run_dir / "metrics.csv", index_col=C.EPOCH))
    assert cells
    for (column, epoch), value in cells.items():  # every numeric metrics.csv cell, both epochs
        assert _scalar(acc, f"metrics/{column}")[epoch] == pytest.approx(value, rel=1e-6, abs=1e-6), column
    assert _scalar(acc, "history/test_loss") == {1: 121.0, 2: 112.0, 3: 108.0}  # each epoch once
    reference = run.evaluation.reference
    assert _scalar(acc, f"reference/{C.FRECHET}")[3] == pytest.approx(reference[C.FRECHET], rel=1e-6)
    pc = run.per_class[(run.per_class[C.SOURCE] == C.SOURCE_MODEL) & (run.per_class[C.EPOCH] == 3)]
    logged = 0
    for _, row in pc.iterrows():  # every finite numeric per_class cell is a point; NaN (no readable sample) is not
        for column in pc.columns.drop([C.SOURCE, C.EPOCH, C.CLASS, C.CLASS_NAME], errors="ignore"):
            value = pd.to_numeric(row[column], errors="coerce")
            tag = f"per_class/{column}/{int(row[C.CLASS])}_{row[C.CLASS_NAME]}"
            if np.isfinite(value):
                assert _scalar(acc, tag)[3] == pytest.approx(value, abs=1e-7), tag
                logged += 1
            else:
                assert 3 not in (_scalar(acc, tag) if tag in acc.Tags()["scalars"] else {}), tag
    assert logged >= len(pc)
    pairs = run.pairs[run.pairs[C.EPOCH] == 3]
    first = pairs.iloc[0]
    tag = f"pairs/{C.CONFUSION_RATE}/{first[C.CLASS_A_NAME]}-{first[C.CLASS_B_NAME]}"
    assert _scalar(acc, tag)[3] == pytest.approx(first[C.CONFUSION_RATE], abs=1e-7)
    images = acc.Images("samples/prior_sheet")
    assert [e.step for e in images] == [1, 3] and (images[0].width, images[0].height) == (280, 280)
    # tbparse, another reader, sees the same values
    tbparse = pytest.importorskip("tbparse")
    frame = tbparse.SummaryReader(str(logs)).scalars
    silhouette = frame[frame.tag == f"metrics/{C.SILHOUETTE}"].set_index("step").value
    assert silhouette.to_dict() == pytest.approx({e: cells[(C.SILHOUETTE, e)] for e in (1, 3)}, rel=1e-6)


def test_vaediag_tensorboard_writes_a_run_and_replaces_its_earlier_export(tmp_path_factory, tmp_path):
    run_dir, figures = shared_run_with_figures(tmp_path_factory)
    logs = tmp_path / "tb"
    for _ in range(2):  # the second export replaces the first: no point twice
        res = CliRunner().invoke(cli, ["tensorboard", str(run_dir), "--logdir", str(logs)])
        assert res.exit_code == 0, res.output
    folder = logs / Path(run_dir).name
    assert len(list(folder.glob("events.out.tfevents.*"))) == 1
    acc = _events(folder)
    run = Run(run_dir)
    for (column, epoch), value in _numeric_cells(run.metrics).items():
        assert _scalar(acc, f"metrics/{column}")[epoch] == pytest.approx(value, rel=1e-6, abs=1e-6), column
    history = run.history
    assert _scalar(acc, "history/test_loss") == pytest.approx(history[C.TEST_LOSS].to_dict(), rel=1e-6)
    tags = acc.Tags()["images"]
    assert "figures/overview" in tags and "figures/grid_linear" in tags and "samples/prior_sheet" in tags
    assert [e.step for e in acc.Images("figures/grid_linear")] == list(run.epochs)
    assert len(acc.Scalars(f"metrics/{C.SILHOUETTE}")) == len(run.epochs)


def test_vaediag_tensorboard_writes_each_done_run_of_a_sweep(tmp_path):
    sweep = Sweep(tmp_path / "sweep")
    for name, seed in (("s0", 0), ("s1", 1)):
        make_fake_run(sweep.run_path(name), epochs=(2, 4), scenario="healthy", seed=seed)
    make_fake_run(sweep.run_path("s2"), epochs=(2,), scenario="healthy")
    sweep.write({"format": FORMAT, "runs": {"s0": {"status": DONE}, "s1": {"status": DONE},
                                            "s2": {"status": "failed"}}})
    res = CliRunner().invoke(cli, ["tensorboard", str(sweep.path), "--logdir", str(tmp_path / "tb")])
    assert res.exit_code == 0, res.output
    assert sorted(p.name for p in (tmp_path / "tb").iterdir()) == ["s0", "s1"]
    for name in ("s0", "s1"):
        values = _scalar(_events(tmp_path / "tb" / name), f"metrics/{C.KNN_ACCURACY}")
        assert values == pytest.approx(Run(sweep.run_path(name)).metrics.loc[[2, 4], C.KNN_ACCURACY].to_dict())


def test_bad_input_is_one_line(tmp_path):
    res = CliRunner().invoke(cli, ["tensorboard", str(tmp_path), "--logdir", str(tmp_path / "tb")])
    assert_one_line_error(res, "neither a vaediag run directory")
    unevaluated = tmp_path / "run"
    unevaluated.mkdir()
    Run(unevaluated).write_config({"model": {"latent_dim": 2}})
    res = CliRunner().invoke(cli, ["tensorboard", str(unevaluated), "--logdir", str(tmp_path / "tb")])
    assert_one_line_error(res, "has no evaluation")
    assert not (tmp_path / "tb").exists()


BLOCK = "import sys; sys.modules['tensorboard'] = None\n"


def test_without_tensorboard_the_error_names_the_extra(tmp_path):
    run_dir = make_fake_run(tmp_path / "run", epochs=(1,), scenario="healthy")
    code = BLOCK + f"from vaediag.cli import main; main(['tensorboard', {str(run_dir)!r}, '--logdir', 'tb'])"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode == 2 and len(lines) == 1, done.stderr
    assert "pip install 'vaediag[tensorboard]'" in lines[0] and not (tmp_path / "tb").exists()


def test_evaluate_model_with_log_dir_but_without_tensorboard_writes_nothing(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorboard", None)
    with pytest.raises(MissingExtraError, match=r"pip install 'vaediag\[tensorboard\]'"):
        vaediag.evaluate_model(X.flat_vae(), tmp_path / "run", 1, decoder="logits", log_dir=tmp_path / "tb",
                               data=synthetic_digits(), classifier=random_classifier(), log=lambda *_: None)
    assert not (tmp_path / "run").exists() and not (tmp_path / "tb").exists()
    shutil.rmtree(tmp_path, ignore_errors=True)
