"""Resuming: what is refused (nothing touched), what is repaired from checkpoints/last.pt, and writes that
fail (a full disk) leaving the last good checkpoint."""

from __future__ import annotations

import errno
import os
import shutil

import pandas as pd
import pytest
import torch

from vaediag import columns as C
from vaediag.models.checkpoint import read_state
from vaediag.models.train_config import TrainConfig, VAEConfig
from vaediag.errors import CheckpointError, ConfigError, RunDirError
from vaediag.store.rundir import Run
from vaediag.train import train

from helpers import synthetic_digits

QUIET = dict(log=lambda *_: None, progress=False)
COLS = [c for c in C.HISTORY_COLUMNS[1:] if c != C.EPOCH_SECONDS]


def small_cfg(**kw):
    base = dict(epochs=3, checkpoints=(1, 3), batch_size=64, seed=0, device="cpu")
    base.update(kw)
    return TrainConfig(model=VAEConfig("mlp", 2, 1.0), **base)


def snapshot(path):
    """Every file below ``path`` -> (bytes, mtime): to check that nothing was touched."""
    return {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(path.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def data():
    return synthetic_digits()


@pytest.fixture(scope="module")
def finished(tmp_path_factory, data):
    """A finished 3-epoch run (copy it before changing it)."""
    run = tmp_path_factory.mktemp("finished") / "run"
    train(small_cfg(), run, data=data, **QUIET)
    return run


@pytest.fixture
def run(finished, tmp_path):
    shutil.copytree(finished, tmp_path / "run")
    return tmp_path / "run"


def test_resume_without_last_pt_is_refused_and_nothing_touched(run, data):
    (run / "checkpoints" / "last.pt").unlink()
    before = snapshot(run)
    with pytest.raises(RunDirError) as info:
        train(small_cfg(), run, resume=True, data=data, **QUIET)
    msg = str(info.value)
    assert "last.pt is missing" in msg and "2 epoch checkpoint(s), history.csv" in msg and "\n" not in msg
    assert "copy it to" in msg and "epoch 3" in msg
    assert snapshot(run) == before


def test_resume_into_a_folder_that_is_not_a_run_is_refused(tmp_path, data):
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / "cat.jpg").write_bytes(b"meow")
    before = snapshot(folder)
    with pytest.raises(RunDirError, match="not empty and holds no vaediag run"):
        train(small_cfg(), folder, resume=True, data=data, **QUIET)
    assert snapshot(folder) == before


def test_resume_of_a_run_killed_in_its_first_epoch_starts_over(run, finished, data):
    for p in [run / "history.csv", *(run / "checkpoints").iterdir()]:  # only config.json is left
        p.unlink()
    hist = train(small_cfg(), run, resume=True, data=data, **QUIET)
    pd.testing.assert_frame_equal(hist[COLS], Run(finished).read_history()[COLS], check_exact=True)


@pytest.mark.parametrize("damage", ["short", "missing", "garbage"])
def test_finished_run_with_damaged_history_is_repaired(run, data, damage):
    good = Run(run).read_history()
    if damage == "short":  # a kill while the last epoch's history.csv was written
        good.iloc[:-1].to_csv(run / "history.csv")
    elif damage == "missing":
        (run / "history.csv").unlink()
    else:
        (run / "history.csv").write_bytes(b"\x00\x01 not a csv")
    last = (run / "checkpoints" / "last.pt").read_bytes()
    logs: list[str] = []
    hist = train(small_cfg(), run, resume=True, data=data, log=logs.append, progress=False)
    assert any(line.startswith(f"repaired {run / 'history.csv'} from") and "(3 epochs)" in line for line in logs)
    assert any("nothing to do" in line for line in logs)
    pd.testing.assert_frame_equal(Run(run).read_history(), good, check_exact=True)
    pd.testing.assert_frame_equal(hist, good, check_exact=False)
    assert (run / "checkpoints" / "last.pt").read_bytes() == last


def test_missing_checkpoint_of_the_last_epoch_is_restored(run, data):
    """A kill after last.pt but before epoch_003.pt was written: resuming writes it from last.pt."""
    (run / "checkpoints" / "epoch_003.pt").unlink()
    logs: list[str] = []
    train(small_cfg(), run, resume=True, data=data, log=logs.append, progress=False)
    assert any(line.startswith("restored") and "epoch_003.pt" in line for line in logs)
    a = read_state(run / "checkpoints" / "epoch_003.pt")
    b = read_state(run / "checkpoints" / "last.pt")
    assert a["epoch"] == 3 and all(torch.equal(a["model_state"][k], b["model_state"][k]) for k in a["model_state"])


def test_resume_cannot_shorten_a_run(run, data):
    before = snapshot(run)
    with pytest.raises(ConfigError, match="already trained to epoch 3; --epochs 2 cannot shorten it"):
        train(small_cfg(epochs=2, checkpoints=(1, 2)), run, resume=True, data=data, **QUIET)
    assert snapshot(run) == before


# ------------------------------------------------------------------------ a full disk


class _FullDiskAfter:
    """``os.fsync`` that fails with ENOSPC from the ``n``-th call on (atomic writes fsync before renaming)."""

    def __init__(self, n):
        self.n, self.calls, self.real = n, 0, os.fsync

    def __call__(self, fd):
        self.calls += 1
        if self.calls >= self.n:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return self.real(fd)


@pytest.mark.parametrize("failing_write, error, expected", [
    (5, CheckpointError, "last.pt: No space left on device; the last good checkpoint is epoch 1"),
    (6, RunDirError, "history.csv: No space left on device; the last good checkpoint is epoch 2"),
    (1, RunDirError, "config.json: No space left on device; no checkpoint was written"),
])
def test_full_disk_is_one_line_and_keeps_the_last_good_checkpoint(tmp_path, data, monkeypatch, failing_write,
                                                                   error, expected):
    # epoch 1 writes config.json, last.pt, epoch_001.pt, history.csv; epoch 2 last.pt (5), history.csv (6)
    run = tmp_path / "run"
    monkeypatch.setattr(os, "fsync", _FullDiskAfter(failing_write))
    with pytest.raises(error) as info:
        train(small_cfg(), run, data=data, **QUIET)
    assert expected in str(info.value) and "\n" not in str(info.value)
    assert not list(tmp_path.rglob("*.tmp"))
    monkeypatch.undo()
    if failing_write > 1:
        kept = read_state(run / "checkpoints" / "last.pt")["epoch"]
        assert kept == (1 if failing_write == 5 else 2)
        hist = train(small_cfg(), run, resume=True, data=data, **QUIET)  # space again: resume completes it
        full = train(small_cfg(), tmp_path / "full", data=data, **QUIET)
        pd.testing.assert_frame_equal(hist[COLS], full[COLS], check_exact=True)
        pd.testing.assert_frame_equal(Run(run).read_history()[COLS], full[COLS], check_exact=True)


def test_torch_zip_writer_failure_is_one_line(tmp_path, data, monkeypatch):
    def failing_save(obj, f, *a, **k):
        raise RuntimeError("[enforce fail at inline_container.cc:626] . unexpected pos 4352 vs 4240")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(CheckpointError) as info:
        train(small_cfg(), tmp_path / "run", data=data, **QUIET)
    assert str(info.value) == (f"cannot write {tmp_path / 'run' / 'checkpoints' / 'last.pt'} (is the disk full?): "
                               "unexpected pos 4352 vs 4240; no checkpoint was written")
    assert not list(tmp_path.rglob("*.tmp"))
