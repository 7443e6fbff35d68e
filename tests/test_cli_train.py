"""`vaediag train` / `vaediag data prepare` end to end on the real MNIST (small subsets), and bad input."""

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
from vaediag.checkpoint import read_state
from vaediag.cli import cli
from vaediag.rundir import Run

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
