"""What defines a model: :class:`VAEConfig` (architecture, latent size, KL weight). Imports no torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from .errors import ConfigError

MODEL_CHOICES = ("mlp", "conv")


@dataclass(frozen=True)
class VAEConfig:
    """What defines a model: its architecture, latent size and KL weight. Round-trips through JSON."""

    model: str = "mlp"
    latent_dim: int = 2
    beta: float = 1.0

    def __post_init__(self):
        if self.model not in MODEL_CHOICES:
            raise ConfigError(f"unknown model {self.model!r}; choose one of {', '.join(MODEL_CHOICES)}")
        if not isinstance(self.latent_dim, int) or isinstance(self.latent_dim, bool) or self.latent_dim < 1:
            raise ConfigError(f"latent dim must be an integer >= 1, got {self.latent_dim!r}")
        if not (self.beta >= 0 and self.beta < float("inf")):
            raise ConfigError(f"beta must be a finite number >= 0, got {self.beta!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "VAEConfig":
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})
