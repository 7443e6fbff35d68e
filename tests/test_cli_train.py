"""`vaediag train` / `vaediag data prepare` end to end on the real MNIST (small subsets) or on synthetic digits:
resume rules, saved settings, one-line errors with nothing touched, and the help a newcomer reads."""

import os
import signal
import subprocess
import sys
import time

import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from vaediag import columns as C
from vaediag.models.checkpoint import read_state
from vaediag.cli import cli
from vaediag.store.rundir import Run

from helpers import assert_one_line_error

SMALL = ["--train-size", "2000", "--test-size", "500"]


def read_history(run):
    return Run(run).read_history()


def run_cli(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


@pytest.mark.mnist
def test_train_real_mnist_two_epochs(tmp_path, mnist_root):
    run = tmp_path / "run"
    res = run_cli("train", "--out", run, *SMALL, "--epochs", 2, "--checkpoints", "1,2", "--data-root", mnist_root)
    assert res.exit_code == 0, res.output
    for rel in ["config.json", "history.csv", "checkpoints/epoch_001.pt", "checkpoints/epoch_002.pt",
                "checkpoints/last.pt"]:
        assert (run / rel).is_file(), rel
    hist = read_history(run)
    assert list(hist.index) == [1, 2]
    assert (hist[C.TEST_LOSS] > 0).all() and hist[C.TRAIN_LOSS].iloc[1] < hist[C.TRAIN_LOSS].iloc[0]


@pytest.mark.mnist
def test_killed_run_resumes_bit_identical(tmp_path, mnist_root):
    """SIGKILL a real `vaediag train` process mid-run, resume it, compare with an uninterrupted run."""
    args = ["train", *SMALL, "--epochs", "4", "--checkpoints", "2,4", "--data-root", str(mnist_root),
            "--device", "cpu"]
    assert run_cli(*args, "--out", tmp_path / "full").exit_code == 0

    cut = tmp_path / "cut"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    proc = subprocess.Popen([sys.executable, "-m", "vaediag", *args, "--out", str(cut)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:
        if (cut / "history.csv").is_file() and len(read_history(cut)) >= 1:
            break
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    done = len(read_history(cut))
    assert 1 <= done < 4, f"the run was not interrupted mid-way ({done} epochs done)"

    res = run_cli(*args, "--out", cut, "--resume")
    assert res.exit_code == 0, res.output
    cols = [c for c in C.HISTORY_COLUMNS[1:] if c != C.EPOCH_SECONDS]
    pd.testing.assert_frame_equal(read_history(cut)[cols], read_history(tmp_path / "full")[cols], check_exact=True)
    a = read_state(tmp_path / "full" / "checkpoints" / "last.pt")["model_state"]
    b = read_state(cut / "checkpoints" / "last.pt")["model_state"]
    assert all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["--model", "resnet"], "'resnet' is not one of 'mlp', 'conv'"),
        (["--latent-dim", "0"], "latent dim"),
        (["--checkpoints", "5,3", "--epochs", "10"], "strictly increasing"),
        (["--checkpoints", "5,15", "--epochs", "10"], "beyond --epochs"),
        (["--checkpoints", "5,x"], "comma-separated"),
        (["--epochs", "abc"], "abc"),
        (["--device", "tpu"], "'tpu' is not one of 'auto', 'cpu', 'cuda'"),
    ],
)
def test_bad_train_options_are_one_line_errors(tmp_path, args, fragment):
    res = run_cli("train", "--out", tmp_path / "run", *args)
    assert_one_line_error(res, fragment)
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU error")
def test_cuda_without_gpu_is_one_line_error(tmp_path):
    res = run_cli("train", "--out", tmp_path / "run", "--device", "cuda", "--epochs", 1, "--checkpoints", 1)
    assert_one_line_error(res, "no CUDA GPU")


def test_run_dir_is_a_file(tmp_path):
    f = tmp_path / "f"
    f.write_text("keep")
    assert_one_line_error(run_cli("train", "--out", f, "--epochs", 1, "--checkpoints", 1), "not a directory")
    assert f.read_text() == "keep"


def test_corrupt_last_checkpoint_on_resume(tmp_path):
    ck = tmp_path / "run" / "checkpoints"
    ck.mkdir(parents=True)
    (ck / "last.pt").write_bytes(b"\x00garbage")
    res = run_cli("train", "--out", tmp_path / "run", "--resume", "--epochs", 1, "--checkpoints", 1)
    assert_one_line_error(res, "last.pt")
    assert (ck / "last.pt").read_bytes() == b"\x00garbage"


def test_non_empty_run_dir_without_resume(tmp_path):
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "x").write_text("keep")
    assert_one_line_error(run_cli("train", "--out", tmp_path / "run", "--epochs", 1, "--checkpoints", 1),
                          "not empty")
    assert (tmp_path / "run" / "x").read_text() == "keep"


def test_unwritable_data_root_is_one_line_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    res = run_cli("data", "prepare", "--root", blocker / "sub")
    assert_one_line_error(res, "cannot create")
    assert blocker.read_text() == "x"


def test_data_prepare_prints_root(mnist_root):
    res = run_cli("data", "prepare", "--root", mnist_root)
    assert res.exit_code == 0, res.output
    assert res.stdout.strip() == str(mnist_root)


# ------------------------------------------------------------------------ on synthetic digits (no MNIST)


@pytest.fixture
def synthetic(monkeypatch):
    """`vaediag train` on synthetic digits: replaces the MNIST loader the training code calls."""
    from helpers import synthetic_digits

    from vaediag import train as train_mod

    digits = synthetic_digits()
    monkeypatch.setattr(train_mod, "load_dataset", lambda *a, **k: digits)
    return digits


FAST = ["--batch-size", "64", "--device", "cpu"]


def snapshot(path):
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture
def finished(tmp_path, synthetic):
    run = tmp_path / "run"
    res = run_cli("train", "--out", run, *FAST, "--epochs", 3, "--checkpoints", "1,3", "--latent-dim", 3, "--seed", 5)
    assert res.exit_code == 0, res.output
    return run


def test_resume_without_last_pt_is_refused(finished):
    (finished / "checkpoints" / "last.pt").unlink()
    before = snapshot(finished)
    res = run_cli("train", "--out", finished, "--resume")
    assert_one_line_error(res, f"{finished / 'checkpoints' / 'last.pt'} is missing")
    assert snapshot(finished) == before


def test_resume_into_a_folder_that_is_not_a_run(tmp_path, synthetic):
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "thesis.tex").write_text("keep")
    res = run_cli("train", "--out", tmp_path / "docs", "--resume", "--epochs", 1)
    assert_one_line_error(res, "is not empty and holds no vaediag run")
    assert [p.name for p in (tmp_path / "docs").iterdir()] == ["thesis.tex"]


@pytest.mark.parametrize("damage", ["short", "missing"])
def test_resume_repairs_a_short_history(finished, damage):
    good = read_history(finished)
    if damage == "short":
        good.iloc[:-1].to_csv(finished / "history.csv")
    else:
        (finished / "history.csv").unlink()
    res = run_cli("train", "--out", finished, "--resume")
    assert res.exit_code == 0, res.output
    assert f"repaired {finished / 'history.csv'}" in res.stderr
    pd.testing.assert_frame_equal(read_history(finished), good, check_exact=True)


@pytest.mark.parametrize("seed", ["-1", "99999999999999999999999"])
def test_bad_seed_is_one_line_error(tmp_path, synthetic, seed):
    res = run_cli("train", "--out", tmp_path / "run", *FAST, "--epochs", 1, "--checkpoints", 1, "--seed", seed)
    assert_one_line_error(res, "--seed must be an integer")
    assert not (tmp_path / "run").exists()


def test_epochs_without_checkpoints_uses_the_defaults_that_fit(tmp_path, synthetic):
    run = tmp_path / "run"
    res = run_cli("train", "--out", run, *FAST, "--epochs", 7)
    assert res.exit_code == 0, res.output
    assert sorted(Run(run).checkpoints()) == [5, 7]
    assert Run(run).config["train"]["checkpoints"] == [5, 7]


def test_resume_takes_the_saved_settings(finished):
    res = run_cli("train", "--out", finished, "--resume", "--epochs", 4)  # no --latent-dim 3 --seed 5 needed
    assert res.exit_code == 0, res.output
    cfg = Run(finished).config["train"]
    assert (cfg["latent_dim"], cfg["seed"], cfg["epochs"], cfg["checkpoints"]) == (3, 5, 4, [1, 3, 4])
    assert list(read_history(finished).index) == [1, 2, 3, 4]
    res = run_cli("train", "--out", finished, "--resume", "--latent-dim", 3, "--seed", 5)  # same as saved: fine
    assert res.exit_code == 0 and "nothing to do" in res.stderr, res.output


def test_resume_with_an_explicitly_different_setting_is_one_line_error(finished):
    before = snapshot(finished)
    res = run_cli("train", "--out", finished, "--resume", "--latent-dim", 2, "--lr", "0.01")
    assert_one_line_error(res, "the run was trained with --latent-dim 3 (not 2), --lr 0.001 (not 0.01)")
    assert snapshot(finished) == before


def test_study_takes_the_saved_settings(finished, monkeypatch):
    import vaediag.study

    seen = {}
    monkeypatch.setattr(vaediag.study, "run_study", lambda cfg, run_dir, **kw: seen.setdefault("cfg", cfg))
    run_cli("study", "--out", finished)
    assert (seen["cfg"].model.latent_dim, seen["cfg"].seed, seen["cfg"].epochs) == (3, 5, 3)
    assert_one_line_error(run_cli("study", "--out", finished, "--seed", 1), "--seed 5 (not 1)")


def test_read_only_run_dir_is_one_line_error(finished, tmp_path):
    from unprivileged import read_only

    with read_only(finished) as run:
        before = snapshot(run)
        for args in (["--resume"], ["--resume", "--epochs", 5]):
            res = run_cli("train", "--out", run, *args)
            assert_one_line_error(res, f"cannot write to RUN_DIR {run}: Permission denied")
        assert snapshot(run) == before


def test_full_disk_during_train_is_one_line_error(tmp_path, synthetic, monkeypatch):
    import errno

    real, calls = os.fsync, []

    def fsync(fd):  # epoch 1: config.json, last.pt, epoch_001.pt, history.csv; then the disk is full
        calls.append(fd)
        if len(calls) > 4:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    res = run_cli("train", "--out", tmp_path / "run", *FAST, "--epochs", 3, "--checkpoints", "1,3")
    assert res.exit_code == 2 and "Traceback" not in res.output
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("Error:")]
    assert errors == [f"Error: cannot write {tmp_path / 'run' / 'checkpoints' / 'last.pt'}: No space left on device; "
                      "the last good checkpoint is epoch 1"]
    assert read_state(tmp_path / "run" / "checkpoints" / "last.pt")["epoch"] == 1
    assert not list(tmp_path.rglob("*.tmp"))


@pytest.mark.mnist
def test_read_only_data_root_with_verified_mnist_trains(tmp_path, mnist_root):
    import shutil

    from unprivileged import read_only

    data = tmp_path / "data"
    shutil.copytree(mnist_root / "MNIST" / "raw", data / "MNIST" / "raw")
    with read_only(data, run_dir=True) as (root, run):
        res = run_cli("train", "--out", run, *SMALL, "--epochs", 1, "--data-root", root)
        assert res.exit_code == 0, res.output
        assert read_history(run).index.tolist() == [1]


# ------------------------------------------------------------------------ help and newcomer friction


@pytest.mark.parametrize("command", ["train", "study"])
def test_out_comes_first_in_help(command):
    res = run_cli(command, "--help")
    options = [ln.split()[0] for ln in res.stdout.split("Options:")[1].splitlines() if ln.startswith("  -")]
    assert options[0] == "--out"


def test_command_summaries_are_never_cut():
    for args in ([], ["classifier"], ["data"]):
        res = CliRunner().invoke(cli, [*args, "--help"], terminal_width=50)
        assert res.exit_code == 0 and "..." not in res.stdout.split("Commands:")[1]
        text = " ".join(res.stdout.split())
        group = cli if not args else cli.commands[args[0]]
        for cmd in group.commands.values():
            assert cmd.help.splitlines()[0] in text


def test_terminal_gets_a_start_line_before_torch_loads(monkeypatch, capsys):
    import vaediag.cli as cli_mod

    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    cli_mod.app.announce("train", "RUN")
    assert capsys.readouterr().err == "vaediag train: RUN (loading PyTorch and MNIST ...)\n"


def test_package_face_and_cli_import_no_torch():
    """`import vaediag` and the CLI module stay light: `vaediag --help` must not pay for torch."""
    code = ("import sys, vaediag, vaediag.cli; from vaediag import Run, TrainConfig, EvalSettings; "
            "assert 'torch' not in sys.modules, sorted(m for m in sys.modules if m.startswith('torch'))")
    subprocess.run([sys.executable, "-c", code], check=True)
    res = subprocess.run([sys.executable, "-m", "vaediag", "--help"], capture_output=True, text=True, check=True)
    assert "study" in res.stdout and "evaluate" in res.stdout
