"""The evaluation settings: one frozen dataclass whose field defaults are also the CLI defaults (torch-free)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, fields

from ..errors import ConfigError
from vaediag.models.train_config import SEED_MAX


@dataclass(frozen=True)
class EvalSettings:
    """What an evaluation computes; part of every cache key.

    ``samples`` seeded prior draws; ``grid`` x ``grid`` latent grids, the linear one over
    [-``grid_span``, ``grid_span``]; ``knn_k`` neighbours for the latent kNN; ``prdc_k`` neighbours for
    precision / recall / density / coverage; ``iwae`` importance samples K of the IWAE bound (0 = off);
    ``seed`` for the prior draws, the ELBO noise (the IWAE noise uses ``seed + 1``), the bootstrap intervals
    and the real-data split; ``unreadable_below``: a generated image whose top class probability (the image
    judge's) is below it is unreadable, counted in no class (the judge defines the calibrated value).

    Why ``iwae = 5`` by default: the bound is computed for 1000 test and 1000 training digits, K decodes each,
    and one checkpoint's whole evaluation should stay within 15 s on a 2-core CPU for the slow ``conv`` model.
    Measured under load (other jobs on the 2 cores): a conv checkpoint took 11.3–12.3 s without IWAE, and the
    IWAE stage about 0.35–0.6 s per unit of K (decoding 2000 images per unit), so K = 5 (1.8–3.3 s) keeps it
    near 14 s while K = 10 would exceed 15 s; for the MLP the stage takes 0.1–0.6 s. K = 5 already gives a
    tighter bound than the ELBO (K = 1); pass a larger --iwae on a GPU or for a final number.
    """

    samples: int = 10000
    grid: int = 15
    grid_span: float = 1.0
    knn_k: int = 5
    prdc_k: int = 5
    iwae: int = 5
    seed: int = 0
    unreadable_below: float = 0.5  # = metrics.generation.UNREADABLE_BELOW (a literal: this module stays numpy-free)

    def validate(self) -> "EvalSettings":
        """Raise :class:`ConfigError` (one line) for the first invalid setting; return self."""
        for f in fields(self):
            value = getattr(self, f.name)
            whole = type(f.default) is int
            if isinstance(value, bool) or not isinstance(value, numbers.Real) or (whole and not _is_int(value)):
                raise ConfigError(f"settings: {f.name} must be {'an integer' if whole else 'a number'}, "
                                  f"got {value!r}")
        checks = [
            (self.samples > self.prdc_k, f"--samples must exceed the PRDC k={self.prdc_k}, got {self.samples}"),
            (self.grid >= 2, f"--grid must be >= 2, got {self.grid}"),
            (self.grid_span > 0 and math.isfinite(self.grid_span), f"--grid-span must be > 0, got {self.grid_span}"),
            (self.knn_k >= 1, f"kNN k must be >= 1, got {self.knn_k}"),
            (self.prdc_k >= 1, f"PRDC k must be >= 1, got {self.prdc_k}"),
            (self.iwae >= 0, f"--iwae K must be >= 0 (0 = off), got {self.iwae}"),
            (0.0 <= self.unreadable_below < 1.0, f"unreadable_below must be in [0, 1), got {self.unreadable_below}"),
            (_is_int(self.seed) and 0 <= self.seed <= SEED_MAX,
             f"--seed must be an integer from 0 to {SEED_MAX}, got {self.seed!r}"),
        ]
        for ok, message in checks:
            if not ok:
                raise ConfigError(message)
        return self

    @classmethod
    def coerce(cls, value) -> "EvalSettings":
        """``value`` as validated settings: an :class:`EvalSettings`, or a mapping of its field names (``{"samples":
        2000}``); anything else, an unknown name or a bad value is a one-line :class:`ConfigError`."""
        if isinstance(value, cls):
            return value.validate()
        if isinstance(value, Mapping):
            names = [f.name for f in fields(cls)]
            unknown = sorted(str(k) for k in value if k not in names)
            if unknown:
                raise ConfigError(f"settings: unknown name {', '.join(unknown)}; known: {', '.join(names)}")
            return cls(**value).validate()
        raise ConfigError(f"settings must be vaediag.EvalSettings(...) or a dict of its fields, got "
                          f"{type(value).__name__}")

    def to_dict(self) -> dict:
        """The settings as a JSON-ready dict, each value of its field's type (``grid_span=1`` -> ``1.0``)."""
        return {f.name: type(f.default)(getattr(self, f.name)) for f in fields(self)}


def _is_int(value) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)
