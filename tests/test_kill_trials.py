"""Kill trials: SIGKILL a real `python -m vaediag train` / `vaediag study` at seeded random moments, run it
again, and check that it ends exactly like an uninterrupted run: no stale temporary, no short history, no
mixed set of evaluation results."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from vaediag import columns as C
from vaediag.models.checkpoint import read_state
from vaediag.cli import cli
from vaediag.store.rundir import LOCK_FILE, Run

ROOT = Path(__file__).resolve().parents[1]
COLS = [c for c in C.HISTORY_COLUMNS[1:] if c != C.EPOCH_SECONDS]
KILLS = 4


def _train_args(mnist_root) -> list[str]:
    return ["train", "--train-size", "1000", "--test-size", "200", "--epochs", "5", "--checkpoints", "2,4,5",
            "--device", "cpu", "--data-root", str(mnist_root)]


def _start_and_kill(args: list[str], delay: float) -> str:
    """Run `python -m vaediag ARGS`; SIGKILL it ``delay`` s after it starts training. What happened?"""
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, "-m", "vaediag", *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    for line in proc.stderr:  # wait for "training mlp ..." (or the end: nothing left to do)
        if line.startswith("training "):
            break
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stderr.close()
    return "killed" if proc.returncode == -signal.SIGKILL else f"exit {proc.returncode}"


def _check_consistent(run: Run, baseline: Run) -> None:
    """What a kill may leave: a history that is at most one epoch behind last.pt, never ahead or gapped."""
    if run.has_config():
        assert run.read_config()["train"] == baseline.read_config()["train"]
    if run.last_checkpoint_path.is_file():
        saved = read_state(run.last_checkpoint_path, resumable=True)["epoch"]
        epochs = list(run.read_history().index)
        assert epochs == list(range(1, len(epochs) + 1)) and saved - 1 <= len(epochs) <= saved


@pytest.mark.mnist
def test_random_kills_resume_to_the_uninterrupted_result(tmp_path, mnist_root):
    args = _train_args(mnist_root)
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "full")])
    assert res.exit_code == 0, res.output
    baseline, run = Run(tmp_path / "full"), Run(tmp_path / "cut")

    rng = random.Random(10)
    outcomes = []
    for trial in range(KILLS):
        resume = ["--resume"] if trial else []
        outcomes.append(_start_and_kill([*args, "--out", str(run.path), *resume], rng.uniform(0.0, 1.0)))
        _check_consistent(run, baseline)
    assert "killed" in outcomes, outcomes

    res = CliRunner().invoke(cli, [*args, "--out", str(run.path), "--resume"])
    assert res.exit_code == 0, res.output
    assert not list(run.path.rglob("*.tmp")) and not (run.path / LOCK_FILE).exists()
    pd.testing.assert_frame_equal(run.read_history()[COLS], baseline.read_history()[COLS], check_exact=True)
    assert run.read_config()["train"] == baseline.read_config()["train"]
    assert sorted(run.checkpoints()) == sorted(baseline.checkpoints()) == [2, 4, 5]
    for epoch, path in baseline.checkpoints().items():
        a, b = read_state(path)["model_state"], read_state(run.checkpoint_path(epoch))["model_state"]
        assert all(torch.equal(a[k], b[k]) for k in a), epoch


def _study_args(mnist_root) -> list[str]:
    return ["study", "--train-size", "1000", "--test-size", "300", "--epochs", "2", "--checkpoints", "1,2",
            "--samples", "500", "--grid", "5", "--device", "cpu", "--data-root", str(mnist_root)]


def _phase(run: Run) -> str:
    """How far a killed study got: what its directory holds."""
    if run.report_html_path.is_file():
        return "report"
    if run.has_evaluation():
        return "evaluated"
    return f"{len(run.checkpoints()) if run.path.is_dir() else 0} checkpoints"


@pytest.mark.mnist
def test_random_kills_of_a_study_never_leave_a_mixed_set(tmp_path, mnist_root):
    """SIGKILL `vaediag study` at seeded random moments spread over its whole duration (training, evaluation,
    figures and report), one fresh RUN_DIR per trial: after the kill a reader gets either a complete
    evaluation or a one-line refusal, never a mixed set; re-running the study finishes it with the numbers
    of an uninterrupted one and no stale temporary."""
    from vaediag.errors import RunDirError

    args = _study_args(mnist_root)
    started = time.monotonic()
    res = CliRunner().invoke(cli, [*args, "--out", str(tmp_path / "full")])
    assert res.exit_code == 0, res.output
    duration = time.monotonic() - started  # in-process: about the time a subprocess spends after loading
    baseline = Run(tmp_path / "full")
    ref = baseline.read_evaluation()
    columns = [c for c in ref.metrics.columns if c != C.EPOCH_SECONDS]

    rng = random.Random(3)
    trials = []
    for i in range(KILLS):  # one delay in each quarter of the study's duration
        run = Run(tmp_path / f"cut{i}")
        outcome = _start_and_kill([*args, "--out", str(run.path)], duration * (i + rng.random()) / KILLS)
        trials.append((outcome, _phase(run)))
        try:
            Run(run.path).read_evaluation()
        except RunDirError as exc:  # not evaluated yet, or a set cut mid-publication: refused in one line
            assert "\n" not in str(exc)
        res = CliRunner().invoke(cli, [*args, "--out", str(run.path)])
        assert res.exit_code == 0, res.output
        assert not list(run.path.rglob("*.tmp")) and not (run.path / LOCK_FILE).exists()
        done = Run(run.path).read_evaluation()
        pd.testing.assert_frame_equal(done.metrics[columns], ref.metrics[columns], check_exact=True)
        pd.testing.assert_frame_equal(done.per_class, ref.per_class, check_exact=True)
        assert run.report_html_path.is_file() and run.report_md_path.is_file()
    print(f"study kill trials (outcome, phase reached): {trials}")
    assert sum(outcome == "killed" for outcome, _ in trials) >= 2, trials


# ------------------------------------------------------------------------ the in-loop API (external runs)

EXTERNAL_LOOP = """
import sys, torch, vaediag
sys.path.insert(0, {tests!r})
from external_models import FlatLogitsVAE
from vaediag.evaluate.settings import EvalSettings
settings = EvalSettings(samples=500, grid=5, knn_k=5, prdc_k=3, iwae=2)
for epoch in (1, 2, 3):
    torch.manual_seed(epoch)  # the "trained" weights of each epoch: deterministic, different per epoch
    model = FlatLogitsVAE(latent_dim=2)
    print("epoch", epoch, flush=True)
    vaediag.evaluate_model(model, sys.argv[1], epoch, decoder="logits", settings=settings, train_size=400,
                           test_size=200, data_root={root!r}, device="cpu", log=lambda *_: None)
"""


def _external_loop(tmp_path: Path, mnist_root) -> Path:
    script = tmp_path / "loop.py"
    script.write_text(EXTERNAL_LOOP.format(tests=str(Path(__file__).parent), root=str(mnist_root)))
    return script


def _run_loop(script: Path, run_dir: Path, delay: float | None) -> str:
    env = dict(os.environ, PYTHONUNBUFFERED="1",
               PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))
    proc = subprocess.Popen([sys.executable, str(script), str(run_dir)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    if delay is None:
        out, err = proc.communicate()
        assert proc.returncode == 0, err
        return "done"
    proc.stdout.readline()  # "epoch 1": torch and vaediag are imported, the first evaluation starts
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    return "killed" if proc.returncode == -signal.SIGKILL else f"exit {proc.returncode}"


@pytest.mark.mnist
def test_killed_in_loop_evaluations_end_like_an_uninterrupted_loop(tmp_path, mnist_root):
    """SIGKILL a user's loop that calls `evaluate_model` at epochs 1-3, at seeded random moments; after each kill
    the external run reads (or says in one line what to redo); running the loop again ends with the tables of an
    uninterrupted loop."""
    script = _external_loop(tmp_path, mnist_root)
    assert _run_loop(script, tmp_path / "full", None) == "done"
    baseline, run = Run(tmp_path / "full"), Run(tmp_path / "cut")
    rng = random.Random(11)
    outcomes = []
    for _ in range(KILLS):
        outcomes.append(_run_loop(script, run.path, rng.uniform(0.0, 4.0)))
        fresh = Run(run.path)
        if fresh.has_evaluation() and fresh.evaluation_problem() is None:  # a published set is a whole one
            assert set(fresh.read_evaluation().metrics.index) <= {0, 1, 2, 3}
    assert "killed" in outcomes, outcomes
    assert _run_loop(script, run.path, None) == "done"
    assert not list(run.path.rglob("*.tmp")) and not (run.path / LOCK_FILE).exists()
    assert run.read_config()["model"] == baseline.read_config()["model"]
    got, want = run.read_evaluation(), baseline.read_evaluation()
    assert list(got.metrics.index) == list(want.metrics.index) == [1, 2, 3, 0]
    pd.testing.assert_frame_equal(got.metrics, want.metrics, check_exact=True)
    pd.testing.assert_frame_equal(got.per_class, want.per_class, check_exact=True)
