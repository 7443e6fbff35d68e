"""What defines a training run: :class:`TrainConfig`, which holds the model's :class:`VAEConfig`.

The dataclass field defaults are the one source of defaults: the CLI reads them (:func:`default`).
This module imports no torch, so ``vaediag --help`` stays fast.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields, replace

from vaediag.datasets.registry import check_dataset
from vaediag.devices import DEVICE_CHOICES  # noqa: F401  (re-exported)
from vaediag.errors import ConfigError
from vaediag.models.config import MODEL_CHOICES, VAEConfig  # noqa: F401  (re-exported)

DEFAULT_CHECKPOINTS = (5, 15, 30, 50, 100)
SEED_MAX = 2**63 - 1  # seeds are 0 ... SEED_MAX (torch's generators take 64-bit seeds)
# Settings that must not change when a run is resumed (epochs and checkpoints may be extended).
RESUME_INVARIANTS = ("model", "latent_dim", "beta", "init", "batch_size", "lr", "seed", "train_size", "test_size",
                     "dataset")


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved as RUN_DIR/config.json (key ``train``, flat).

    ``model`` is a :class:`VAEConfig` (a model name such as ``"conv"`` is accepted and means that
    architecture with the default latent dimension and beta). ``dataset`` is what the run trains on
    (``"mnist"`` or ``"fashion-mnist"``; a saved config without it is MNIST). ``checkpoints=None`` (the default) means
    :func:`default_checkpoints` of ``epochs``: the config holds the resolved tuple.
    """

    model: VAEConfig = field(default_factory=VAEConfig)
    epochs: int = 100
    checkpoints: tuple[int, ...] | None = None
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    train_size: int | None = None
    test_size: int | None = None
    dataset: str = "mnist"  # a name of vaediag.datasets.classes.DATASETS
    data_root: str | None = field(default=None, compare=False)

    def __post_init__(self):
        if isinstance(self.model, str):
            self.model = VAEConfig(model=self.model)
        if self.checkpoints is None:
            self.checkpoints = default_checkpoints(self.epochs)
        self.checkpoints = tuple(int(c) for c in self.checkpoints)

    @property
    def model_config(self) -> VAEConfig:
        return self.model

    def validate(self) -> "TrainConfig":
        """Raise :class:`ConfigError` (one line) for any invalid setting; return self."""
        if self.epochs < 1:
            raise ConfigError(f"--epochs must be >= 1, got {self.epochs}")
        cks = self.checkpoints
        if not cks:
            raise ConfigError("--checkpoints must name at least one epoch")
        if any(c < 1 for c in cks):
            raise ConfigError(f"checkpoint epochs must be >= 1, got {','.join(map(str, cks))}")
        if any(b <= a for a, b in zip(cks, cks[1:])):
            raise ConfigError(f"checkpoint epochs must be strictly increasing, got {','.join(map(str, cks))}")
        if cks[-1] > self.epochs:
            raise ConfigError(f"checkpoint epoch {cks[-1]} is beyond --epochs {self.epochs}")
        if self.batch_size < 1:
            raise ConfigError(f"--batch-size must be >= 1, got {self.batch_size}")
        if not (self.lr > 0 and math.isfinite(self.lr)):
            raise ConfigError(f"--lr must be a positive number, got {self.lr}")
        if not (isinstance(self.seed, int) and 0 <= self.seed <= SEED_MAX):
            raise ConfigError(f"--seed must be an integer from 0 to {SEED_MAX}, got {self.seed!r}")
        check_dataset(self.dataset)
        return self

    def to_dict(self) -> dict:
        """Flat dict: the model's fields, then the training fields (the ``train`` key of config.json)."""
        d = {k: v for k, v in asdict(self).items() if k != "model"}
        d["checkpoints"] = list(self.checkpoints)
        return {**self.model.to_dict(), **d}

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        """The inverse of :meth:`to_dict`; :class:`ConfigError` (one line) for values of the wrong type."""
        names = {f.name for f in fields(cls)} - {"model"}
        try:
            return cls(model=VAEConfig.from_dict(d), **{k: v for k, v in d.items() if k in names})
        except (TypeError, ValueError, AttributeError) as exc:
            raise ConfigError(f"bad training configuration: {exc}") from None


def default_checkpoints(epochs: int) -> tuple[int, ...]:
    """The default checkpoint epochs for a run of ``epochs``: those of :data:`DEFAULT_CHECKPOINTS`
    that fit, plus the last epoch (``10 -> (5, 10)``; ``100 -> (5, 15, 30, 50, 100)``)."""
    if not isinstance(epochs, int) or epochs < 1:
        return ()
    return tuple(c for c in DEFAULT_CHECKPOINTS if c < epochs) + (epochs,)


def continued(saved: dict, given: dict) -> TrainConfig:
    """The configuration that continues a saved run: config.json's ``train`` settings, except those
    ``given`` explicitly (name -> value, e.g. the options typed on the command line).

    A given value that differs from a setting a run cannot change (:data:`RESUME_INVARIANTS`) is a
    :class:`ConfigError`. ``epochs`` / ``checkpoints`` may extend the run: a new ``epochs`` without
    ``checkpoints`` keeps the saved checkpoints that fit and adds the new last epoch. ``device`` may
    change; ``data_root`` is never taken from the saved settings (it says where this machine keeps MNIST).
    """
    if not isinstance(saved, dict):
        raise ConfigError("the saved training configuration is not a JSON object")
    base = TrainConfig.from_dict(saved)
    old = base.to_dict()
    conflicts = [k for k in RESUME_INVARIANTS if k in given and given[k] != old.get(k)]
    if conflicts:
        raise ConfigError("the run was trained with " + ", ".join(
            f"--{k.replace('_', '-')} {old.get(k)} (not {given[k]})" for k in conflicts)
            + "; drop those options to continue it with its saved settings, or choose a new --out")
    epochs = given.get("epochs", base.epochs)
    if given.get("checkpoints") is not None:
        checkpoints = tuple(given["checkpoints"])
    elif epochs != base.epochs:
        checkpoints = tuple(sorted({c for c in base.checkpoints if c <= epochs} | {epochs}))
    else:
        checkpoints = base.checkpoints
    return replace(base, epochs=epochs, checkpoints=checkpoints, device=given.get("device", base.device),
                   data_root=given.get("data_root"))


def default(cls, name: str):
    """The default of dataclass field ``name`` of ``cls`` (for CLI option defaults)."""
    for f in fields(cls):
        if f.name == name:
            return f.default_factory() if callable(f.default_factory) else f.default
    raise KeyError(name)


def parse_epochs(text: str) -> tuple[int, ...]:
    """Parse ``"5,15,30"`` into ``(5, 15, 30)``; raise :class:`ConfigError` on anything else."""
    try:
        values = tuple(int(p) for p in str(text).replace(" ", "").split(",") if p != "")
    except ValueError:
        raise ConfigError(f"expected comma-separated epoch numbers, got {text!r}") from None
    if not values:
        raise ConfigError(f"expected comma-separated epoch numbers, got {text!r}")
    return values
