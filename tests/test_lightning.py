"""The PyTorch Lightning callback, with a real ``lightning.Trainer`` fitting the classic pytorch/examples VAE (kept
unchanged inside a LightningModule): evaluations at chosen epochs, Lightning's logged losses as the run's history,
the pre-flight check before the first batch, and a fit that is bit-identical with and without the callback."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from vaediag import columns as C
from vaediag.errors import ConfigError, ProtocolError
from vaediag.evaluate.settings import EvalSettings
from vaediag.store.rundir import Run

from classic_vae import VAE, loss_function
from eval_fixtures import one_thread, random_classifier  # noqa: F401  (one_thread: autouse)
from helpers import synthetic_digits

L = pytest.importorskip("lightning")
from vaediag.integrations.lightning import VaediagCallback  # noqa: E402

SMALL = EvalSettings(samples=200, grid=3, iwae=2)
DATA = synthetic_digits(n_train=192, n_test=64)


class LitVAE(L.LightningModule):
    """The classic VAE as a LightningModule: its loss per image, logged per epoch (and every batch's loss kept,
    to check what the callback records)."""

    def __init__(self, lr: float = 1e-3, batch_size: int = 64):
        super().__init__()
        self.save_hyperparameters()
        self.vae = VAE()
        self.seen: dict[int, list[float]] = {}
        self.calls = 0

    def _loss(self, batch):
        (x,) = batch
        recon, mu, logvar = self.vae(x)
        return loss_function(recon, x, mu, logvar) / len(x)

    def training_step(self, batch, batch_idx):
        self.calls += 1
        loss = self._loss(batch)
        self.seen.setdefault(self.current_epoch + 1, []).append(float(loss))
        self.log("train_loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        self.log("val_loss", self._loss(batch))

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)


def _loaders():
    train = TensorDataset(DATA.train_images.float().div(255).unsqueeze(1))
    test = TensorDataset(DATA.test_images.float().div(255).unsqueeze(1))
    return DataLoader(train, batch_size=64, shuffle=True), DataLoader(test, batch_size=64)


def _fit(tmp_path, callbacks=(), epochs: int = 3, module: LitVAE | None = None, **trainer):
    L.seed_everything(0, verbose=False)
    module = module or LitVAE()
    options = dict(max_epochs=epochs, accelerator="cpu", devices=1, logger=False, enable_checkpointing=False,
                   enable_progress_bar=False, enable_model_summary=False, default_root_dir=tmp_path,
                   deterministic=True)
    options.update(trainer)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # Lightning's hints (num_workers, ...) are not the subject here
        L.Trainer(callbacks=list(callbacks), **options).fit(module, *_loaders())
    return module


def _callback(run_dir, **kw):
    options = dict(model="vae", settings=SMALL, data=DATA, classifier=random_classifier(), log=lambda *_: None)
    return VaediagCallback(run_dir, **{**options, **kw})


def test_the_callback_evaluates_chosen_epochs_and_records_lightnings_losses(tmp_path):
    run_dir = tmp_path / "lit"
    callback = _callback(run_dir, epochs=(1,))
    module = _fit(tmp_path, [callback])
    run = Run(run_dir)
    assert run.epochs == [1, 3]  # the chosen epoch, and the last one
    history = run.history
    assert list(history.index) == [1, 2, 3]
    for epoch, losses in module.seen.items():  # Lightning's epoch mean of the logged train loss
        assert history.loc[epoch, C.TRAIN_LOSS] == pytest.approx(np.mean(losses), rel=1e-6)
    assert history[C.TEST_LOSS].notna().all() and (history[C.EPOCH_SECONDS] > 0).all()
    # the validation loss recorded is the model's own loss on the test images after that epoch
    with torch.no_grad():
        module.vae.eval()
        torch.manual_seed(0)
        own = np.mean([float(module._loss(b)) for b in _loaders()[1] for _ in range(20)])
    assert history.loc[3, C.TEST_LOSS] == pytest.approx(own, rel=0.02)
    config = run.config
    assert config["user"]["lr"] == 1e-3 and config["user"]["lightning_module"].endswith("LitVAE")
    assert config["model"]["input"] == "flat" and config["model"]["latent_dim"] == 20
    assert set(callback.evaluations) == {1, 3}


def test_a_fit_with_the_callback_is_bit_identical_to_one_without(tmp_path):
    plain = _fit(tmp_path / "a")
    diagnosed = _fit(tmp_path / "b", [_callback(tmp_path / "lit", every=1, classifier=None)])  # the shipped judge
    assert Run(tmp_path / "lit").epochs == [1, 2, 3]
    assert plain.seen == diagnosed.seen  # the same batches, noise and dropout: the same losses
    for (name, a), (_, b) in zip(plain.state_dict().items(), diagnosed.state_dict().items()):
        assert torch.equal(a, b), name


def test_the_pre_flight_check_fails_before_the_first_batch(tmp_path):
    module = LitVAE()
    with pytest.raises(ConfigError, match="has no attribute 'decoder_net'"):
        _fit(tmp_path, [VaediagCallback(tmp_path / "lit", model="decoder_net")], module=module)
    assert module.calls == 0
    module = LitVAE()
    with pytest.raises(ProtocolError, match='pass decoder="probs"'):
        _fit(tmp_path, [VaediagCallback(tmp_path / "lit", model="vae", decoder="logits")], module=module)
    assert module.calls == 0 and not (tmp_path / "lit").exists()
    with pytest.raises(ConfigError, match="has no encode / decode; tell VaediagCallback where the VAE is"):
        _fit(tmp_path, [VaediagCallback(tmp_path / "lit")], module=LitVAE())


def test_early_stop_is_evaluated_at_its_last_epoch_and_log_dir_writes_events(tmp_path):
    pytest.importorskip("tensorboard")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir, logs = tmp_path / "lit", tmp_path / "tb"
    _fit(tmp_path, [_callback(run_dir, log_dir=logs)], epochs=5, max_steps=6)  # stops after 2 epochs of 3 batches
    assert Run(run_dir).epochs == [2]
    acc = EventAccumulator(str(logs), size_guidance={"scalars": 0})
    acc.Reload()
    assert [e.step for e in acc.Scalars("history/train_loss")] == [1, 2]
    assert [e.step for e in acc.Scalars(f"metrics/{C.SILHOUETTE}")] == [2]


def test_bad_callback_arguments_are_refused_at_once(tmp_path):
    with pytest.raises(ConfigError, match="epochs must be integers >= 1"):
        VaediagCallback(tmp_path, epochs=(0, 2))
    with pytest.raises(ConfigError, match="every must be an integer >= 1"):
        VaediagCallback(tmp_path, every=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_the_callback_on_cuda_is_bit_identical_too(tmp_path):
    plain = _fit(tmp_path / "a", accelerator="gpu")
    diagnosed = _fit(tmp_path / "b", [_callback(tmp_path / "lit", every=1)], accelerator="gpu")
    assert Run(tmp_path / "lit").evaluation.settings["device"].startswith("cuda")
    for (name, a), (_, b) in zip(plain.state_dict().items(), diagnosed.state_dict().items()):
        assert torch.equal(a, b), name
