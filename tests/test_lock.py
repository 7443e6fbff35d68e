"""The RUN_DIR lock (vaediag.files.lock via Run.lock): one writer at a time, a dead holder never blocks, stale
temporaries are removed by the next writer, and every writing command takes the lock."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from vaediag.cli import cli
from vaediag.errors import RunDirError
from vaediag.files.lock import holds
from vaediag.store.rundir import LOCK_FILE, Run

from helpers import assert_one_line_error

ROOT = Path(__file__).resolve().parents[1]
ENV = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]))

HOLDER = textwrap.dedent("""
    import sys, time
    from vaediag.store.rundir import Run
    with Run(sys.argv[1]).lock(sys.argv[2]):
        print("locked", flush=True)
        time.sleep(60)
""")


@pytest.fixture
def other_holder(tmp_path):
    """Start another process that holds the lock on tmp_path/"run" (as `vaediag train`); yield (run, pid)."""
    run = tmp_path / "run"
    run.mkdir()
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(run), "train"], env=ENV, stdout=subprocess.PIPE,
                            text=True)
    assert proc.stdout.readline().strip() == "locked"
    yield run, proc
    proc.kill()
    proc.wait()


def test_lock_is_exclusive_reentrant_and_removed_on_release(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    with Run(run).lock("evaluate") as lock:
        assert holds(run) and lock is not None
        info = json.loads((run / LOCK_FILE).read_text())
        assert info == {"pid": os.getpid(), "command": "evaluate"}
        with Run(run).lock("train"):  # re-entrant within one process (study -> train)
            assert holds(run)
        assert holds(run) and (run / LOCK_FILE).is_file()
    assert not holds(run) and list(run.iterdir()) == []


def test_second_process_is_refused_with_the_holders_pid(other_holder):
    run, proc = other_holder
    with pytest.raises(RunDirError, match=rf"in use by vaediag train \(PID {proc.pid}\); wait for it"):
        with Run(run).lock("evaluate"):
            pass
    assert (run / LOCK_FILE).is_file()  # the holder's lock file is left alone


def test_a_killed_holder_never_blocks(other_holder):
    run, proc = other_holder
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert (run / LOCK_FILE).is_file()  # left behind by the dead holder ...
    with Run(run).lock("train"):  # ... but the kernel released its flock
        assert json.loads((run / LOCK_FILE).read_text())["pid"] == os.getpid()
    assert not (run / LOCK_FILE).exists()


def test_missing_directory_is_not_created_unless_asked(tmp_path):
    with Run(tmp_path / "nope").lock("evaluate"):
        pass
    assert not (tmp_path / "nope").exists()
    with Run(tmp_path / "new").lock("train", create=True):
        assert (tmp_path / "new").is_dir()
    assert not (tmp_path / "new").exists()  # created for nothing: removed again
    with Run(tmp_path / "kept").lock("train", create=True):
        (tmp_path / "kept" / "config.json").write_text("{}")
    assert (tmp_path / "kept" / "config.json").is_file()


def test_lock_file_does_not_make_a_run_dir_non_empty(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / LOCK_FILE).write_text("{}")  # left by a SIGKILLed writer
    assert Run(tmp_path / "run").is_empty()


def test_clean_stale_temporaries_removes_only_vaediags_own(tmp_path):
    run = Run(tmp_path / "run")
    stale = [run.checkpoint_dir / ".last.pt.abc.tmp", run.path / ".metrics.csv.x.tmp",
             run.path / "eval" / ".epoch_005.npz.k2j_9q8z.tmp", run.path / "eval" / "cache" / ".data-1.json.q1.tmp"]
    kept = [run.path / "notes.tmp", run.checkpoint_dir / "last.pt", run.path / ".hidden", run.path / "a.b.tmp"]
    for p in stale + kept:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text("x")
    with pytest.raises(RuntimeError, match="needs the lock"):
        run.clean_stale_temporaries()
    with run.lock("train"):
        assert sorted(run.clean_stale_temporaries()) == sorted(stale)
    assert not any(p.exists() for p in stale) and all(p.exists() for p in kept)


# ------------------------------------------------------------------------ every writing command takes it


@pytest.mark.parametrize("command", [["evaluate"], ["report"]])
def test_evaluate_and_report_refuse_a_locked_run(other_holder, command):
    run, proc = other_holder
    (run / "config.json").write_text("{}")
    res = CliRunner().invoke(cli, [*command, str(run)])
    assert_one_line_error(res, f"is in use by vaediag train (PID {proc.pid})")
    assert sorted(p.name for p in run.iterdir()) == [LOCK_FILE, "config.json"]


def test_study_and_train_refuse_a_locked_run(other_holder):
    run, proc = other_holder
    for command in ("study", "train"):
        res = CliRunner().invoke(cli, [command, "--out", str(run), "--epochs", "1", "--resume"])
        assert_one_line_error(res, f"is in use by vaediag train (PID {proc.pid})")
    assert [p.name for p in run.iterdir()] == [LOCK_FILE]


def test_cli_writers_remove_stale_temporaries(tmp_path):
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    stale = [run / "checkpoints" / ".last.pt.abc.tmp", run / ".metrics.csv.x.tmp"]
    for p in stale + [run / "notes.tmp"]:
        p.write_text("x")
    res = CliRunner().invoke(cli, ["report", str(run)])  # fails (not evaluated), but only after cleaning
    assert res.exit_code == 2
    assert not any(p.exists() for p in stale) and (run / "notes.tmp").read_text() == "x"


# ------------------------------------------------------------------------ two real processes


RACER = textwrap.dedent("""
    import os, runpy, sys, time
    import torch, vaediag.train  # import first, so both racers start training at the same moment
    go = sys.argv[1]
    print("ready", flush=True)
    while not os.path.exists(go):
        time.sleep(0.001)
    sys.argv = ["vaediag", *sys.argv[2:]]
    runpy.run_module("vaediag", run_name="__main__")
""")


@pytest.mark.mnist
def test_two_trains_into_one_run_dir(tmp_path, mnist_root):
    """Two `python -m vaediag train` processes started together into one RUN_DIR (different seeds): one
    trains, the other is refused with the holder's PID; config, checkpoints and history agree."""
    run, go = tmp_path / "run", tmp_path / "go"
    args = ["train", "--out", str(run), "--train-size", "1000", "--test-size", "200", "--epochs", "2",
            "--checkpoints", "1,2", "--device", "cpu", "--data-root", str(mnist_root)]
    procs = [subprocess.Popen([sys.executable, "-c", RACER, str(go), *args, "--seed", str(seed)], env=ENV,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for seed in (1, 2)]
    assert [p.stdout.readline().strip() for p in procs] == ["ready", "ready"]  # both imported torch
    go.write_text("")
    results = [(p, *p.communicate(timeout=120)) for p in procs]
    codes = sorted(p.returncode for p, _, _ in results)
    assert codes == [0, 2], [(p.returncode, err) for p, _, err in results]
    winner = next(p for p, _, _ in results if p.returncode == 0)
    loser_err = next(err for p, _, err in results if p.returncode == 2)
    lines = [ln for ln in loser_err.splitlines() if ln.strip()]
    assert lines == [f"Error: RUN_DIR {run} is in use by vaediag train (PID {winner.pid}); "
                     f"wait for it to finish or stop it"], loser_err
    seed = 1 if winner is procs[0] else 2
    from vaediag.models.checkpoint import read_state

    r = Run(run)
    assert r.config["train"]["seed"] == seed
    for path in [r.last_checkpoint_path, *r.checkpoints().values()]:
        assert read_state(path)["train_config"]["seed"] == seed
    assert list(r.read_history().index) == [1, 2]
    assert read_state(r.last_checkpoint_path)["history"][-1]["test_loss"] == pytest.approx(
        r.read_history().loc[2, "test_loss"], rel=1e-12)
    assert not (run / LOCK_FILE).exists() and not list(run.rglob("*.tmp"))
