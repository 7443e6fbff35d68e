"""What defines a training run: :class:`TrainConfig`, which holds the model's :class:`VAEConfig`.

The dataclass field defaults are the one source of defaults: the CLI reads them (:func:`default`).
This module imports no torch, so ``vaediag --help`` stays fast.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields

from .errors import ConfigError
from .modelconfig import MODEL_CHOICES, VAEConfig  # noqa: F401  (re-exported)

DEFAULT_CHECKPOINTS = (5, 15, 30, 50, 100)
DEVICE_CHOICES = ("auto", "cpu", "cuda")
# Settings that must not change when a run is resumed (epochs and checkpoints may be extended).
RESUME_INVARIANTS = ("model", "latent_dim", "beta", "init", "batch_size", "lr", "seed", "train_size", "test_size")


@dataclass
class TrainConfig:
    """Everything that defines a training run; saved as RUN_DIR/config.json (key ``train``, flat).

    ``model`` is a :class:`VAEConfig` (a model name such as ``"conv"`` is accepted and means that
    architecture with the default latent dimension and beta).
    """

    model: VAEConfig = field(default_factory=VAEConfig)
    epochs: int = 100
    checkpoints: tuple[int, ...] = DEFAULT_CHECKPOINTS
    batch_size: int = 128
    lr: float = 1e-3
    seed: int = 0
    device: str = "auto"
    train_size: int | None = None
    test_size: int | None = None
    data_root: str | None = field(default=None, compare=False)

    def __post_init__(self):
        if isinstance(self.model, str):
            self.model = VAEConfig(model=self.model)
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
        return self

    def to_dict(self) -> dict:
        """Flat dict: the model's fields, then the training fields (the ``train`` key of config.json)."""
        d = {k: v for k, v in asdict(self).items() if k != "model"}
        d["checkpoints"] = list(self.checkpoints)
        return {**self.model.to_dict(), **d}

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in fields(cls)} - {"model"}
        return cls(model=VAEConfig.from_dict(d), **{k: v for k, v in d.items() if k in names})


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
