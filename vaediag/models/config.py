"""What defines a model: :class:`VAEConfig` (architecture, latent size, KL weight, weight init). No torch."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from vaediag.errors import ConfigError

MODEL_CHOICES = ("mlp", "conv")
INIT_CHOICES = ("torch", "glorot")
DEFAULT_INIT = {"mlp": "torch", "conv": "glorot"}
LEGACY_INIT = "torch"  # what a config saved before the ``init`` field existed was trained with
# The largest latent size vaediag builds: 16 times the 784 pixels it encodes (the conv model then holds about 40 M
# weights, 160 MB); far beyond it a model is only an allocation failure or a machine out of memory.
MAX_LATENT_DIM = 16 * 784


@dataclass(frozen=True)
class VAEConfig:
    """What defines a model: its architecture, latent size, KL weight and weight initialisation.
    Round-trips through JSON. ``init=None`` means the model's default (``DEFAULT_INIT``)."""

    model: str = "mlp"
    latent_dim: int = 2
    beta: float = 1.0
    init: str | None = None

    def __post_init__(self):
        if self.model not in MODEL_CHOICES:
            raise ConfigError(f"unknown model {self.model!r}; choose one of {', '.join(MODEL_CHOICES)}")
        if self.init is None:
            object.__setattr__(self, "init", DEFAULT_INIT[self.model])
        elif self.init not in INIT_CHOICES:
            raise ConfigError(f"unknown init {self.init!r}; choose one of {', '.join(INIT_CHOICES)}")
        if not isinstance(self.latent_dim, int) or isinstance(self.latent_dim, bool) or self.latent_dim < 1:
            raise ConfigError(f"latent dim must be an integer >= 1, got {self.latent_dim!r}")
        if self.latent_dim > MAX_LATENT_DIM:
            raise ConfigError(f"latent dim {self.latent_dim} is larger than {MAX_LATENT_DIM} (16 x the 784 pixels "
                              f"of an image): choose a smaller --latent-dim")
        if not (self.beta >= 0 and self.beta < float("inf")):
            raise ConfigError(f"beta must be a finite number >= 0, got {self.beta!r}")

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "VAEConfig":
        """A config from ``to_dict`` output. A dict without ``init`` (saved before that field existed)
        gets ``init="torch"``, the init those models were trained with, whatever the model."""
        names = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw.setdefault("init", LEGACY_INIT)
        return cls(**kw)
