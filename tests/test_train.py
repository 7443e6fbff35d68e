import json

import pandas as pd
import pytest
import torch

from vaediag import columns as C
from vaediag import load_checkpoint
from vaediag.models.checkpoint import read_state
from vaediag.errors import CheckpointError, ConfigError, RunDirError, TrainingDivergedError
from vaediag.models.train_config import TrainConfig, VAEConfig, parse_epochs
from vaediag.store.rundir import Run
from vaediag.train import train

from helpers import synthetic_digits

QUIET = dict(log=lambda *_: None, progress=False)


def small_cfg(model="mlp", latent_dim=2, beta=1.0, **kw):
    base = dict(epochs=3, checkpoints=(1, 3), batch_size=64, seed=0, device="cpu")
    base.update(kw)
    return TrainConfig(model=VAEConfig(model, latent_dim, beta), **base)


def read_history(run):
    return Run(run).read_history()


@pytest.fixture(scope="module")
def data():
    return synthetic_digits()


def test_run_writes_every_file(tmp_path, data):
    run = tmp_path / "run"
    hist = train(small_cfg(), run, data=data, **QUIET)
    assert list(hist.index) == [1, 2, 3]
    assert set(Run(run).checkpoints()) == {1, 3}
    assert (run / "checkpoints" / "last.pt").is_file()
    on_disk = read_history(run)
    assert list(on_disk.columns) == C.HISTORY_COLUMNS[1:]
    pd.testing.assert_frame_equal(on_disk, hist, check_dtype=False)
    cfg = json.loads((run / "config.json").read_text())
    assert cfg["train"]["checkpoints"] == [1, 3] and cfg["model"]["latent_dim"] == 2
    assert "torch" in cfg["versions"]
    assert hist[C.TRAIN_LOSS].iloc[-1] < hist[C.TRAIN_LOSS].iloc[0]  # it learns
    assert not list(run.rglob("*.tmp"))  # atomic writes leave no temp files


def test_load_checkpoint_returns_eval_model(tmp_path, data):
    run = tmp_path / "run"
    train(small_cfg(model="conv", epochs=1, checkpoints=(1,)), run, data=data, **QUIET)
    ck = load_checkpoint(run / "checkpoints" / "epoch_001.pt")
    assert ck.epoch == 1 and ck.config.model == "conv" and not ck.model.training
    assert ck.model.decode(torch.zeros(2, 2)).shape == (2, 1, 28, 28)


class _KillAfter:
    """A log callback that raises after ``epoch`` was fully written, like a kill between epochs."""

    def __init__(self, epoch):
        self.marker = f"epoch {epoch:3d}/"

    def __call__(self, msg):
        if msg.startswith(self.marker):
            raise KeyboardInterrupt


@pytest.mark.parametrize("model", ["mlp", "conv"])
def test_resume_is_bit_identical(tmp_path, data, model):
    cfg = small_cfg(model=model)
    full = train(cfg, tmp_path / "full", data=data, **QUIET)
    with pytest.raises(KeyboardInterrupt):
        train(cfg, tmp_path / "cut", data=data, log=_KillAfter(1), progress=False)
    assert list(read_history(tmp_path / "cut").index) == [1]
    resumed = train(cfg, tmp_path / "cut", resume=True, data=data, **QUIET)
    cols = [c for c in C.HISTORY_COLUMNS[1:] if c != C.EPOCH_SECONDS]  # wall time cannot be identical
    pd.testing.assert_frame_equal(resumed[cols], full[cols], check_exact=True)
    a = read_state(tmp_path / "full" / "checkpoints" / "last.pt")["model_state"]
    b = read_state(tmp_path / "cut" / "checkpoints" / "last.pt")["model_state"]
    assert all(torch.equal(a[k], b[k]) for k in a)
    pd.testing.assert_frame_equal(read_history(tmp_path / "cut")[cols], full[cols], check_exact=True)


def test_resume_can_extend_epochs(tmp_path, data):
    run = tmp_path / "run"
    train(small_cfg(epochs=1, checkpoints=(1,)), run, data=data, **QUIET)
    hist = train(small_cfg(epochs=2, checkpoints=(1, 2)), run, resume=True, data=data, **QUIET)
    assert list(hist.index) == [1, 2] and set(Run(run).checkpoints()) == {1, 2}


def test_resume_refuses_changed_settings(tmp_path, data):
    run = tmp_path / "run"
    train(small_cfg(epochs=1, checkpoints=(1,)), run, data=data, **QUIET)
    with pytest.raises(ConfigError, match="latent_dim"):
        train(small_cfg(epochs=2, checkpoints=(2,), latent_dim=3), run, resume=True, data=data, **QUIET)


def test_non_empty_run_dir_is_refused_and_untouched(tmp_path, data):
    run = tmp_path / "run"
    run.mkdir()
    (run / "notes.txt").write_text("keep me")
    with pytest.raises(RunDirError, match="not empty"):
        train(small_cfg(), run, data=data, **QUIET)
    assert [p.name for p in run.iterdir()] == ["notes.txt"]


def test_run_dir_that_is_a_file(tmp_path, data):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(RunDirError, match="not a directory"):
        train(small_cfg(), f, data=data, **QUIET)
    assert f.read_text() == "x"


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(checkpoints=(3, 1)), "strictly increasing"),
        (dict(checkpoints=(1, 5)), "beyond --epochs"),
        (dict(epochs=0, checkpoints=(1,)), "--epochs"),
        (dict(batch_size=0), "batch-size"),
        (dict(lr=-1.0), "--lr"),
        (dict(model="vgg"), "unknown model"),
        (dict(latent_dim=0), "latent dim"),
    ],
)
def test_bad_config(kw, match):
    with pytest.raises(ConfigError, match=match):
        small_cfg(**kw).validate()


def test_parse_epochs():
    assert parse_epochs("5,15, 30") == (5, 15, 30)
    with pytest.raises(ConfigError):
        parse_epochs("5,x")


def test_nan_loss_stops_and_keeps_last_good_checkpoint(tmp_path, data, monkeypatch):
    run = tmp_path / "run"
    cfg = small_cfg()
    calls = {"n": 0}
    from vaediag import train as train_mod

    original = train_mod.evaluate_elbo

    def poisoned(model, x, seed, **kw):
        calls["n"] += 1
        res = original(model, x, seed, **kw)
        if calls["n"] == 3:  # epoch 2's test loss is NaN (each epoch: the test ELBO, then the training subset's)
            res["loss"] = float("nan")
        return res

    monkeypatch.setattr(train_mod, "evaluate_elbo", poisoned)
    with pytest.raises(TrainingDivergedError, match="epoch 2.*last good checkpoint is epoch 1"):
        train(cfg, run, data=data, **QUIET)
    assert read_state(run / "checkpoints" / "last.pt")["epoch"] == 1
    assert list(read_history(run).index) == [1]


def test_nan_at_epoch_1_says_no_checkpoint_was_written(tmp_path, data, monkeypatch):
    from vaediag import train as train_mod

    monkeypatch.setattr(train_mod, "evaluate_elbo", lambda *a, **k: {"loss": float("nan"), "recon": 0, "kl": 0})
    with pytest.raises(TrainingDivergedError) as info:
        train(small_cfg(), tmp_path / "run", data=data, **QUIET)
    assert "at epoch 1" in str(info.value) and "no checkpoint was written" in str(info.value)
    assert "epoch 0" not in str(info.value)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_corrupt_checkpoint_is_checkpoint_error(tmp_path, data):
    run = tmp_path / "run"
    train(small_cfg(epochs=1, checkpoints=(1,)), run, data=data, **QUIET)
    path = run / "checkpoints" / "epoch_001.pt"
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(CheckpointError, match="truncated or corrupt"):
        load_checkpoint(path)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError):
        load_checkpoint(tmp_path / "junk.pt")


# ------------------------------------------------------------------------ defaults, seeds, progress


@pytest.mark.parametrize("epochs, expected", [(10, (5, 10)), (3, (3,)), (5, (5,)), (100, (5, 15, 30, 50, 100)),
                                              (120, (5, 15, 30, 50, 100, 120))])
def test_default_checkpoints_fit_the_epochs(epochs, expected):
    cfg = TrainConfig(epochs=epochs).validate()
    assert cfg.checkpoints == expected and cfg.to_dict()["checkpoints"] == list(expected)
    assert TrainConfig(epochs=epochs, checkpoints=(1,)).checkpoints == (1,)


@pytest.mark.parametrize("seed", [-1, 2**63, 99999999999999999999999])
def test_seed_out_of_range_is_config_error(seed):
    with pytest.raises(ConfigError, match="--seed must be an integer from 0 to"):
        small_cfg(seed=seed).validate()


def test_largest_seed_trains(tmp_path, data):
    hist = train(small_cfg(epochs=1, checkpoints=(1,), seed=2**63 - 1), tmp_path / "run", data=data, **QUIET)
    assert list(hist.index) == [1]


def test_start_line_says_what_is_starting(tmp_path, data):
    logs: list[str] = []
    train(small_cfg(epochs=2, checkpoints=(2,)), tmp_path / "run", data=data, log=logs.append, progress=False)
    assert logs[0] == f"training mlp (latent 2) on cpu: {data.n_train} MNIST digits, epochs 1-2"
    logs.clear()
    train(small_cfg(epochs=3, checkpoints=(2, 3)), tmp_path / "run", resume=True, data=data, log=logs.append,
          progress=False)
    assert logs[0] == f"training mlp (latent 2) on cpu: {data.n_train} MNIST digits, epochs 3-3 (resuming " \
                      f"{tmp_path / 'run'} after epoch 2)"


def test_progress_bars_over_all_epochs(tmp_path, data, capsys):
    logs: list[str] = []
    train(small_cfg(epochs=2, checkpoints=(2,)), tmp_path / "run", data=data, log=logs.append, progress=True)
    err = capsys.readouterr().err
    assert "epochs: 100%" in err and "2/2" in err  # the bar over all epochs
    assert any(line.startswith("epoch   2/2") for line in logs)


def test_train_removes_stale_temporaries(tmp_path, data):
    run = tmp_path / "run"
    train(small_cfg(epochs=1, checkpoints=(1,)), run, data=data, **QUIET)
    stale = [run / "checkpoints" / ".last.pt.abc.tmp", run / ".metrics.csv.x.tmp", run / ".history.csv.q_1.tmp"]
    for p in stale + [run / "notes.tmp"]:
        p.write_bytes(b"x" * 100)
    train(small_cfg(epochs=2, checkpoints=(1, 2)), run, resume=True, data=data, **QUIET)
    assert not any(p.exists() for p in stale) and (run / "notes.tmp").is_file()


# ---------------------------------------------------------------------------------------------- train ELBO, eval mode
def test_train_eval_columns_equal_an_independent_elbo_on_the_fixed_subset(tmp_path, data):
    from vaediag.models.likelihood import evaluate_elbo, train_eval_indices
    from vaediag.datasets.data import MNISTData

    cfg = small_cfg()
    hist = train(cfg, tmp_path / "run", data=data, **QUIET)
    cols = [C.TRAIN_EVAL_LOSS, C.TRAIN_EVAL_RECON, C.TRAIN_EVAL_KL]
    assert hist[cols].notna().all().all() and (hist[cols].to_numpy() >= 0).all()
    idx = train_eval_indices(len(data.train_labels), len(data.test_labels), cfg.seed)
    assert len(idx) == len(data.test_labels) and len(set(idx.tolist())) == len(idx)  # the test set's size, distinct
    assert (idx == train_eval_indices(len(data.train_labels), len(data.test_labels), cfg.seed)).all()  # fixed
    model = load_checkpoint(tmp_path / "run" / "checkpoints" / "epoch_003.pt").model
    subset = MNISTData.to_float(data.train_images[torch.as_tensor(idx)])
    elbo = evaluate_elbo(model, subset, seed=(cfg.seed * 1_000_003 + 3) % 2**64)  # the test ELBO's noise seed
    assert hist.loc[3, cols].tolist() == pytest.approx([elbo["loss"], elbo["recon"], elbo["kl"]], rel=1e-6)
    # the running mean over the epoch (train mode, changing weights) is a different number
    assert hist.loc[1, C.TRAIN_LOSS] != pytest.approx(hist.loc[1, C.TRAIN_EVAL_LOSS], rel=1e-3)


def test_measuring_the_training_subset_leaves_training_bit_identical(tmp_path, data, monkeypatch):
    from vaediag import train as train_mod

    cfg = small_cfg()
    measured = train(cfg, tmp_path / "measured", data=data, **QUIET)
    original, calls = train_mod.evaluate_elbo, {"n": 0}

    def test_only(model, x, seed, **kw):  # each epoch: the test ELBO, then the training subset's (skipped here)
        calls["n"] += 1
        return original(model, x, seed, **kw) if calls["n"] % 2 else {"loss": 0.0, "recon": 0.0, "kl": 0.0}

    monkeypatch.setattr(train_mod, "evaluate_elbo", test_only)
    plain = train(cfg, tmp_path / "plain", data=data, **QUIET)
    cols = [C.TRAIN_LOSS, C.TRAIN_RECON, C.TRAIN_KL, C.TEST_LOSS, C.TEST_RECON, C.TEST_KL]
    pd.testing.assert_frame_equal(measured[cols], plain[cols], check_exact=True)
    a = read_state(tmp_path / "measured" / "checkpoints" / "last.pt")
    b = read_state(tmp_path / "plain" / "checkpoints" / "last.pt")
    assert all(torch.equal(a["model_state"][k], b["model_state"][k]) for k in a["model_state"])
    assert torch.equal(a["rng"]["generator"], b["rng"]["generator"])


def test_a_0_2_history_and_last_pt_still_read_and_resume(tmp_path, data):
    from vaediag.models.checkpoint import save_state

    run = tmp_path / "run"
    train(small_cfg(epochs=1, checkpoints=(1,)), run, data=data, **QUIET)
    old_columns = [C.TRAIN_EVAL_LOSS, C.TRAIN_EVAL_RECON, C.TRAIN_EVAL_KL]
    state = read_state(run / "checkpoints" / "last.pt")
    state["history"] = [{k: v for k, v in r.items() if k not in old_columns} for r in state["history"]]
    save_state(run / "checkpoints" / "last.pt", state)  # as 0.2 wrote it
    Run(run).read_history().drop(columns=old_columns).to_csv(run / "history.csv")
    assert Run(run).read_history()[old_columns].isna().all().all()  # reads, the new columns NaN
    hist = train(small_cfg(epochs=2, checkpoints=(1, 2)), run, resume=True, data=data, **QUIET)
    assert hist.loc[1, old_columns].isna().all() and hist.loc[2, old_columns].notna().all()
