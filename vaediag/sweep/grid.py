"""The sweep grid: train options given as comma lists, their cartesian product, one TrainConfig per point.

``Grid(base, axes)`` holds the settings every run shares (``base``: a :class:`TrainConfig` with epochs,
checkpoints, train/test size, device, data root, init ...) and, per varying option, its list of values
(``axes``: ``{"seed": (0, 1, 2), "latent_dim": (2, 16)}``). :meth:`Grid.points` is the cartesian product
in a fixed order (options in :data:`AXES` order, values as given), each a :class:`SweepPoint` with a
stable folder name built from its settings (``mlp_z2_beta1_seed0``). This module imports no torch.
"""

from __future__ import annotations

import itertools
import math
import re
from dataclasses import dataclass, replace

from vaediag.models.train_config import TrainConfig
from ..errors import ConfigError
from vaediag.models.config import MODEL_CHOICES, VAEConfig

# option name (TrainConfig / VAEConfig field) -> its CLI option
AXES = {
    "model": "--model",
    "latent_dim": "--latent-dim",
    "beta": "--beta",
    "lr": "--lr",
    "batch_size": "--batch-size",
    "seed": "--seeds",
}
MODEL_AXES = ("model", "latent_dim", "beta")
MAX_RUNS = 1000  # a larger grid is refused unless max_runs (--max-runs) is raised: a typo like --seeds 0-9999
_INT_AXES = ("latent_dim", "batch_size", "seed")
_FLOAT_AXES = ("beta", "lr")
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


def parse_axis(name: str, text: str | int | float | list | tuple) -> tuple:
    """The values of option ``name`` from a comma list (``"0,1,2"``) or a sequence; :class:`ConfigError`
    (one line, naming the option) for an empty item, a duplicate, a non-number or an unknown model."""
    if name not in AXES:
        raise ConfigError(f"{name!r} cannot be swept; sweepable options: {', '.join(AXES.values())}")
    option = AXES[name]
    items = (str(text).split(",") if isinstance(text, str) else [text] if not isinstance(text, (list, tuple))
             else list(text))
    values = []
    for raw in items:
        item = str(raw).strip()
        if not item:
            raise ConfigError(f"{option} {text!r} has an empty item; give comma-separated values like 1,2")
        values.append(_parse_value(name, option, item))
    dupes = sorted({str(v) for v in values if values.count(v) > 1})
    if dupes:
        raise ConfigError(f"{option} names {', '.join(dupes)} more than once")
    return tuple(values)


def _parse_value(name: str, option: str, item: str):
    if name == "model":
        if item not in MODEL_CHOICES:
            raise ConfigError(f"{option}: unknown model {item!r}; choose from {', '.join(MODEL_CHOICES)}")
        return item
    if name in _INT_AXES:
        try:
            return int(item)
        except ValueError:
            raise ConfigError(f"{option}: {item!r} is not an integer") from None
    try:
        value = float(item)
    except ValueError:
        raise ConfigError(f"{option}: {item!r} is not a number") from None
    if not math.isfinite(value):
        raise ConfigError(f"{option}: {item!r} is not a finite number")
    return value


def format_value(value) -> str:
    """A setting as it appears in a folder name: ``1.0 -> "1"``, ``0.001 -> "0.001"``, ``1e-05 -> "1e-05"``."""
    if isinstance(value, float):
        text = repr(value)
        text = text[:-2] if text.endswith(".0") else text
        return text.replace("+", "")
    return str(value)


@dataclass(frozen=True)
class SweepPoint:
    """One run of a sweep: its folder name, its varying settings (option -> value) and its TrainConfig."""

    name: str
    settings: dict
    config: TrainConfig


def point_name(cfg: TrainConfig) -> str:
    """The stable folder name of a run: ``<model>_z<latent>_beta<beta>[_lr<lr>][_bs<batch>]_seed<seed>``.

    Learning rate and batch size appear only when they differ from the defaults, so a name never changes
    when a sweep is extended along another option; only ``[A-Za-z0-9._-]`` are used."""
    defaults = TrainConfig()
    parts = [cfg.model.model, f"z{cfg.model.latent_dim}", f"beta{format_value(float(cfg.model.beta))}"]
    if cfg.lr != defaults.lr:
        parts.append(f"lr{format_value(float(cfg.lr))}")
    if cfg.batch_size != defaults.batch_size:
        parts.append(f"bs{cfg.batch_size}")
    parts.append(f"seed{cfg.seed}")
    return _SAFE.sub("-", "_".join(parts))


class Grid:
    """The base configuration and the varying options of a sweep (see the module docstring)."""

    def __init__(self, base: TrainConfig, axes: dict[str, tuple] | None = None):
        self.base = base
        self.axes = {k: parse_axis(k, v) for k, v in (axes or {}).items()}
        self.axes = {k: self.axes[k] for k in AXES if k in self.axes}  # one fixed order

    @classmethod
    def from_options(cls, base: TrainConfig, **lists) -> "Grid":
        """A grid over every option of :data:`AXES`: those given as CLI-style comma lists (``seed="0,1,2"``,
        ``latent_dim="2,16"``), the others (None or absent) with ``base``'s single value. Recording every
        option as an axis keeps a sweep extendable along any of them."""
        unknown = set(lists) - set(AXES)
        if unknown:
            raise ConfigError(f"cannot sweep {', '.join(sorted(unknown))}; sweepable: {', '.join(AXES.values())}")
        axes = {}
        for k in AXES:
            if lists.get(k) is not None:
                axes[k] = lists[k]
            else:
                axes[k] = (getattr(base.model, k) if k in MODEL_AXES else getattr(base, k),)
        return cls(base, axes)

    def __len__(self) -> int:
        return math.prod(len(v) for v in self.axes.values())

    def points(self) -> list[SweepPoint]:
        """The cartesian product, each point validated (:class:`ConfigError` naming the run otherwise)."""
        names = list(self.axes)
        points, seen = [], {}
        for combo in itertools.product(*(self.axes[k] for k in names)):
            settings = dict(zip(names, combo))
            cfg = self.config(settings)
            name = point_name(cfg)
            if name in seen:  # cannot happen for distinct values; a guard for the name format
                raise ConfigError(f"runs {seen[name]} and {settings} would share the folder name {name}")
            seen[name] = settings
            points.append(SweepPoint(name, settings, cfg))
        return points

    def config(self, settings: dict) -> TrainConfig:
        model = {k: settings.get(k, getattr(self.base.model, k)) for k in MODEL_AXES}
        init = self.base.model.init if model["model"] == self.base.model.model else None
        try:
            vae = VAEConfig(model=model["model"], latent_dim=model["latent_dim"], beta=float(model["beta"]),
                            init=init)
            cfg = replace(self.base, model=vae, **{k: v for k, v in settings.items() if k not in MODEL_AXES})
            return cfg.validate()
        except ConfigError as exc:
            raise ConfigError(f"sweep point {_describe(settings)}: {exc}") from None

    def base_dict(self) -> dict:
        """The shared settings as saved in sweep.json: the base config without the varying options and without
        ``data_root`` / ``device`` (where this machine keeps MNIST and what it computes on)."""
        d = self.base.to_dict()
        for k in (*self.axes, "data_root", "device"):
            d.pop(k, None)
        if "model" in self.axes:  # each model's default init (no option sets it)
            d.pop("init", None)
        return d

    def axes_dict(self) -> dict:
        return {k: list(v) for k, v in self.axes.items()}


def _describe(settings: dict) -> str:
    return ", ".join(f"{AXES[k]} {format_value(v)}" for k, v in settings.items()) or "(base)"
