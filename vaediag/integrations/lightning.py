"""Diagnose a VAE while a PyTorch Lightning ``Trainer`` fits it: :class:`VaediagCallback`
(``pip install 'vaediag[lightning]'``).

::

    import lightning as L
    from vaediag.integrations.lightning import VaediagCallback

    trainer = L.Trainer(max_epochs=20, callbacks=[VaediagCallback("runs/lit", epochs=(5, 10, 20))])
    trainer.fit(LitVAE(), train_loader, val_loader)      # then: vaediag report runs/lit

What it does, as the trainer runs:

- ``on_fit_start``: the pre-flight check (:func:`vaediag.check_model`) of the model, before the first batch;
- ``on_validation_epoch_end`` (not the sanity check): records the validation loss Lightning logged this epoch as
  the epoch's ``test_loss``;
- ``on_train_epoch_end``: records the epoch's logged train loss (``train_loss``) and its wall time
  (``epoch_seconds``), then, at a chosen epoch, calls :func:`vaediag.evaluate_model` with everything recorded
  so far as ``history`` (history.csv: the report's overfitting question and ``overfitting`` claims read it);
- ``on_fit_end``: evaluates the last completed epoch if it was not evaluated yet (``last=True``), so a run that
  early stopping cut short is diagnosed at its end too.

Epochs are counted from 1 (Lightning's ``current_epoch`` + 1). The evaluation runs on the global-zero process
only, on the model's own device (CPU or CUDA), and changes nothing the training sees (random generators, modes,
weights: :func:`vaediag.models.isolation.untouched`): a fit with the callback is bit-identical to one without.
The losses are read from ``trainer.callback_metrics`` under the first of the names given that was logged (nats per
image, as vaediag's own history.csv); the LightningModule's ``hparams`` are recorded as the run's ``user`` config
(its ``lr`` / ``batch_size`` / ``beta`` / ``seed``, if there, label the run in ``vaediag compare``).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from vaediag.errors import ConfigError
from vaediag.evaluate.external import evaluate_model
from vaediag.extras import require
from vaediag.models.isolation import untouched
from vaediag.models.protocol import check_model, model_device

L = require("lightning", "vaediag.integrations.lightning.VaediagCallback")

TRAIN_LOSS_NAMES = ("train_loss_epoch", "train_loss", "train/loss", "loss_epoch", "loss")
TEST_LOSS_NAMES = ("val_loss_epoch", "val_loss", "val/loss", "validation_loss", "valid_loss", "test_loss")


def _json_hparams(pl_module: Any) -> dict:
    """The LightningModule's hparams that are JSON-able (numbers, strings, lists and dicts of them)."""
    out = {}
    for key, value in dict(getattr(pl_module, "hparams", {}) or {}).items():
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError):
            continue
        out[str(key)] = value
    return out


def _names(names: str | Iterable[str]) -> tuple[str, ...]:
    return (names,) if isinstance(names, str) else tuple(names)


class VaediagCallback(L.Callback):
    """Evaluate the VAE of a LightningModule at chosen epochs into the external run ``run_dir``.

    ``epochs``: the epochs (1, 2, ...) to evaluate at; ``every``: also every ``every``-th epoch; ``last``: also the
    last epoch of the fit (default True; with neither ``epochs`` nor ``every``, only the last). ``model``: where
    the VAE is: None = the LightningModule itself (it has ``encode`` / ``decode``), an attribute name (``"vae"``
    for ``self.vae = VAE()``) or a function of the LightningModule. ``train_loss`` / ``test_loss``: the logged
    names to record (the first one logged wins). ``log_dir``: also write each evaluation as TensorBoard events
    (``vaediag[tensorboard]``). Every other keyword (``decoder``, ``dataset``, ``settings``, ``train_size``,
    ``test_size``, ``seed``, ``data_root``, ``log``, ...) goes to :func:`vaediag.evaluate_model`.

    ``history``: the losses recorded so far, column -> {epoch: value}; ``evaluations``: epoch -> the
    :class:`~vaediag.store.evaluation.Evaluation` of each evaluation made.
    """

    def __init__(self, run_dir: str | Path, *, epochs: Iterable[int] = (), every: int | None = None,
                 last: bool = True, model: str | Callable[[Any], Any] | None = None, decoder: str = "probs",
                 train_loss: str | Iterable[str] = TRAIN_LOSS_NAMES, test_loss: str | Iterable[str] = TEST_LOSS_NAMES,
                 log_dir: str | Path | None = None, config: dict | None = None, **evaluate_options: Any):
        super().__init__()
        epochs = tuple(epochs)
        if any(isinstance(e, bool) or not isinstance(e, int) or e < 1 for e in epochs):
            raise ConfigError(f"epochs must be integers >= 1 (the first epoch is 1), got {list(epochs)}")
        if every is not None and (isinstance(every, bool) or not isinstance(every, int) or every < 1):
            raise ConfigError(f"every must be an integer >= 1, got {every!r}")
        if log_dir is not None:
            require("tensorboard", "VaediagCallback(log_dir=...)")
        self.run_dir, self.epochs, self.every, self.last = Path(run_dir), set(epochs), every, bool(last)
        self.model, self.decoder, self.log_dir, self.config = model, decoder, log_dir, config
        self.train_names, self.test_names = _names(train_loss), _names(test_loss)
        self.options = evaluate_options
        self.history: dict[str, dict[int, float]] = {"train_loss": {}, "test_loss": {}, "epoch_seconds": {}}
        self.evaluations: dict[int, Any] = {}
        self._epoch_start: float | None = None

    # ------------------------------------------------------------------------------------------ helpers
    def vae(self, pl_module: Any) -> Any:
        """The model to diagnose, as ``model`` says."""
        if self.model is None:
            if not hasattr(pl_module, "encode") or not hasattr(pl_module, "decode"):
                raise ConfigError(f"{type(pl_module).__name__} has no encode / decode; tell VaediagCallback where the "
                                  f"VAE is: model=\"vae\" (an attribute) or model=lambda module: module.vae")
            return pl_module
        if isinstance(self.model, str):
            if not hasattr(pl_module, self.model):
                raise ConfigError(f"VaediagCallback(model={self.model!r}): {type(pl_module).__name__} has no "
                                  f"attribute {self.model!r}")
            return getattr(pl_module, self.model)
        return self.model(pl_module)

    def _logged(self, trainer: Any, names: tuple[str, ...]) -> float | None:
        metrics = trainer.callback_metrics
        for name in names:
            if name in metrics:
                value = float(metrics[name])
                return value if math.isfinite(value) else None
        return None

    def _chosen(self, epoch: int) -> bool:
        return epoch in self.epochs or (self.every is not None and epoch % self.every == 0)

    def _history(self) -> dict[str, dict[int, float]] | None:
        recorded = {k: v for k, v in self.history.items() if v}
        return recorded or None

    def evaluate(self, trainer: Any, pl_module: Any, epoch: int) -> Any:
        """Evaluate the model as epoch ``epoch`` with the history recorded so far (global zero only)."""
        if not trainer.is_global_zero or epoch in self.evaluations:
            return None
        config = {"lightning_module": f"{type(pl_module).__module__}.{type(pl_module).__qualname__}",
                  "max_epochs": trainer.max_epochs, **_json_hparams(pl_module), **(self.config or {})}
        vae = self.vae(pl_module)
        with untouched(pl_module, model_device(vae)):
            evaluation = evaluate_model(vae, self.run_dir, epoch, decoder=self.decoder, config=config,
                                        history=self._history(), log_dir=self.log_dir, **self.options)
        self.evaluations[epoch] = evaluation
        return evaluation

    # ------------------------------------------------------------------------------------------ hooks
    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        check_model(self.vae(pl_module), self.decoder)  # the pre-flight check: before the first batch

    def on_train_epoch_start(self, trainer: Any, pl_module: Any) -> None:
        self._epoch_start = time.perf_counter()

    def on_validation_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        value = self._logged(trainer, self.test_names)
        if value is not None:
            self.history["test_loss"][trainer.current_epoch + 1] = value

    def on_train_epoch_end(self, trainer: Any, pl_module: Any) -> None:
        epoch = trainer.current_epoch + 1
        value = self._logged(trainer, self.train_names)
        if value is not None:
            self.history["train_loss"][epoch] = value
        if self._epoch_start is not None:
            self.history["epoch_seconds"][epoch] = time.perf_counter() - self._epoch_start
        if self._chosen(epoch) or (self.last and trainer.max_epochs is not None and epoch == trainer.max_epochs):
            self.evaluate(trainer, pl_module, epoch)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        done = max((e for column in self.history.values() for e in column), default=0)
        if self.last and done and done not in self.evaluations and not trainer.interrupted:
            self.evaluate(trainer, pl_module, done)
