"""Kill trials: SIGKILL a real `python -m vaediag train` / `vaediag study` at seeded random moments, run it
again, and check that it ends exactly like an uninterrupted run: no stale temporary, no short history, no
mixed set of evaluation results."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
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


# ------------------------------------------------------------------------ `vaediag evaluate` while it publishes

# Runs `python -m vaediag ARGS` with os.replace wrapped: the process SIGKILLs itself just before the K-th rename
# onto a file of the published set (the tables, evaluation.json, eval/*.npz, the manifest; cache entries and
# training files do not count). K = 1: every temporary written, none renamed; K = last: all renamed, no manifest.
AIMED = """
import os, signal, sys
from pathlib import Path
run, k = Path(sys.argv[1]).resolve(), int(sys.argv[2])
PUBLISHED = {"metrics.csv", "per_class.csv", "pairs.csv", "evaluation.json"}
real, seen = os.replace, [0]
def replace(src, dst, *args, **kwargs):
    dst_path = Path(dst).resolve()
    if dst_path.name in PUBLISHED and dst_path.parent == run or dst_path.parent == run / "eval" and (
            dst_path.suffix == ".npz" or dst_path.name == "manifest.json"):
        seen[0] += 1
        if seen[0] == k:
            os.kill(os.getpid(), signal.SIGKILL)
    return real(src, dst, *args, **kwargs)
os.replace = replace
from vaediag.cli import main
main(sys.argv[3:])
"""
EVAL_ARGS = ["--samples", "300", "--grid", "5", "--iwae", "0", "--device", "cpu"]


def _env() -> dict:
    return dict(os.environ, PYTHONUNBUFFERED="1",
                PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))


def _aimed(run: Path, k: int, args: list[str]) -> int:
    done = subprocess.run([sys.executable, "-c", AIMED, str(run), str(k), *args], env=_env(),
                          capture_output=True, text=True, timeout=300)
    return done.returncode


def _reader_sees_a_whole_set_or_one_line(run: Path, settings_span: set[float]) -> str:
    """After a kill: the results read as one complete set (of either evaluation), or are refused in one line."""
    from vaediag.errors import RunDirError

    try:
        ev = Run(run).read_evaluation()
    except RunDirError as exc:
        assert "\n" not in str(exc)
        return "refused"
    assert ev.settings["grid_span"] in settings_span
    return f"whole set (grid_span {ev.settings['grid_span']})"


@pytest.fixture(scope="module")
def evaluated_pair(tmp_path_factory, mnist_root):
    """A trained run evaluated with grid span 2 (the "old" set), and the reference evaluation with the default
    span of a copy of it (what every killed and repeated evaluation must end as)."""
    base = tmp_path_factory.mktemp("eval-kills")
    old = base / "old"
    res = CliRunner().invoke(cli, [*_train_args(mnist_root)[:-2], "--epochs", "2", "--checkpoints", "1,2",
                                   "--data-root", str(mnist_root), "--out", str(old)])
    assert res.exit_code == 0, res.output
    assert CliRunner().invoke(cli, ["evaluate", str(old), *EVAL_ARGS, "--grid-span", "2"]).exit_code == 0
    ref = base / "ref"
    shutil.copytree(old, ref)
    started = time.monotonic()
    assert CliRunner().invoke(cli, ["evaluate", str(ref), *EVAL_ARGS]).exit_code == 0
    return old, Run(ref).read_evaluation(), time.monotonic() - started


def _check_finishes_like_the_reference(run: Path, ref) -> None:
    res = CliRunner().invoke(cli, ["evaluate", str(run), *EVAL_ARGS])
    assert res.exit_code == 0, res.output
    assert not list(run.rglob("*.tmp")) and not (run / LOCK_FILE).exists()
    got = Run(run).read_evaluation()
    columns = [c for c in ref.metrics.columns if c != C.EPOCH_SECONDS]
    pd.testing.assert_frame_equal(got.metrics[columns], ref.metrics[columns], check_exact=True)
    pd.testing.assert_frame_equal(got.per_class, ref.per_class, check_exact=True)
    pd.testing.assert_frame_equal(got.pairs, ref.pairs, check_exact=True)
    for epoch in (1, 2):
        a, b = got.artifacts[epoch], ref.artifacts[epoch]
        assert a.keys() == b.keys() and all(np.array_equal(a[key], b[key]) for key in a), epoch


@pytest.mark.mnist
@pytest.mark.parametrize("command, k", [("evaluate", 1), ("evaluate", 4), ("evaluate", 7), ("study", 3)])
def test_aimed_kills_while_the_evaluation_publishes(evaluated_pair, tmp_path, mnist_root, command, k):
    """SIGKILL `vaediag evaluate` (and `vaediag study`, which publishes the same way) at the k-th rename of the
    published set -- 7 renames for 2 checkpoints: 4 tables, 2 npz, the manifest last -- over an earlier set of
    other settings: a reader then gets the old set whole or a one-line refusal, never a mix; the next
    `vaediag evaluate` ends exactly like an uninterrupted one."""
    old, ref, _ = evaluated_pair
    run = tmp_path / "run"
    shutil.copytree(old, run)
    args = ["evaluate", str(run), *EVAL_ARGS] if command == "evaluate" else [
        "study", "--out", str(run), *EVAL_ARGS, "--data-root", str(mnist_root)]
    assert _aimed(run, k, args) == -signal.SIGKILL
    seen = _reader_sees_a_whole_set_or_one_line(run, {2.0})
    assert seen == ("whole set (grid_span 2.0)" if k == 1 else "refused"), seen
    if k == 1:
        assert list(run.rglob("*.tmp"))  # the cut publication's temporaries: the next writer removes them
    _check_finishes_like_the_reference(run, ref)


@pytest.mark.mnist
def test_random_kills_of_evaluate(evaluated_pair, tmp_path):
    """SIGKILL `vaediag evaluate` at seeded random moments over its whole duration, one fresh copy per trial:
    whatever the moment, the results read whole or are refused in one line, and evaluating again ends exactly
    like an uninterrupted evaluation."""
    old, ref, duration = evaluated_pair
    rng = random.Random(5)
    outcomes = []
    for i in range(3):
        run = tmp_path / f"run{i}"
        shutil.copytree(old, run)
        proc = subprocess.Popen([sys.executable, "-m", "vaediag", "evaluate", str(run), *EVAL_ARGS], env=_env(),
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(2.0 + duration * (i + rng.random()) / 3)  # ~2 s of imports, then a third of the work each
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        outcomes.append(("killed" if proc.returncode == -signal.SIGKILL else f"exit {proc.returncode}",
                         _reader_sees_a_whole_set_or_one_line(run, {1.0, 2.0})))
        _check_finishes_like_the_reference(run, ref)
    print(f"evaluate kill trials (outcome, what a reader saw): {outcomes}")
    assert sum(outcome == "killed" for outcome, _ in outcomes) >= 2, outcomes
