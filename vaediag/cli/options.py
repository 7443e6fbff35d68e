"""The options several commands share; their defaults are the fields of the dataclasses that define them
(TrainConfig, VAEConfig, EvalSettings), so the CLI and the Python API always agree."""

from __future__ import annotations

import click
from click.core import ParameterSource

from vaediag.datasets.registry import DATASETS
from vaediag.errors import ConfigError
from vaediag.evaluate.settings import EvalSettings
from vaediag.models.train_config import (DEFAULT_CHECKPOINTS, DEVICE_CHOICES, MODEL_CHOICES, SEED_MAX, TrainConfig,
                                         VAEConfig, continued, default, parse_epochs)


def epochs_option(value: str | None) -> tuple[int, ...] | None:
    """An ``--epochs`` / ``--checkpoints`` comma list as a tuple of epochs (None stays None)."""
    return None if value is None else parse_epochs(value)


def data_options(f, *, train_size: bool = True):
    """--train-size / --test-size / --data-root, shared by every command that loads data."""
    f = click.option("--data-root", type=click.Path(file_okay=False), default=None,
                     help="Data root (default: $VAEDIAG_DATA or ~/.cache/vaediag/data).")(f)
    f = click.option("--test-size", type=click.IntRange(min=10), default=None,
                     help="Seeded class-stratified subset of the 10k test digits.")(f)
    if train_size:
        f = click.option("--train-size", type=click.IntRange(min=10), default=None,
                         help="Seeded class-stratified subset of the 60k training digits.")(f)
    return f


def dataset_option(f, *, help_text: str = "The dataset (provisioned offline, verified by SHA-256)."):
    """--dataset mnist|fashion-mnist, on every command that loads data (an unknown name: exit 2, one line)."""
    return click.option("--dataset", type=click.Choice(DATASETS), default=default(TrainConfig, "dataset"),
                        show_default=True, help=help_text)(f)


def device_option(f):
    return click.option("--device", type=click.Choice(DEVICE_CHOICES), default=default(TrainConfig, "device"),
                        show_default=True, help="auto = CUDA when available, else CPU.")(f)


def options(f, opts):
    for opt in reversed(opts):
        f = opt(f)
    return f


def train_options(f):
    """The training options, shared by ``train`` and ``study`` (defaults: TrainConfig / VAEConfig fields).
    ``--out`` comes first in ``--help``; the data options last."""
    return options(data_options(f), [
        click.option("--out", "run_dir", required=True, type=click.Path(), help="Run directory (RUN_DIR)."),
        click.option("--model", type=click.Choice(MODEL_CHOICES), default=default(VAEConfig, "model"),
                     show_default=True, help="mlp: 784-512-256 MLP; conv: the Keras-example CNN."),
        click.option("--latent-dim", type=int, default=default(VAEConfig, "latent_dim"), show_default=True),
        click.option("--beta", type=float, default=default(VAEConfig, "beta"), show_default=True, help="KL weight."),
        click.option("--epochs", type=int, default=default(TrainConfig, "epochs"), show_default=True),
        click.option("--checkpoints", default=None,
                     help="Comma-separated epochs to keep a checkpoint of [default: those of "
                          + ",".join(map(str, DEFAULT_CHECKPOINTS)) + " within --epochs, plus the last epoch]."),
        click.option("--batch-size", type=int, default=default(TrainConfig, "batch_size"), show_default=True),
        click.option("--lr", type=float, default=default(TrainConfig, "lr"), show_default=True),
        click.option("--seed", type=int, default=default(TrainConfig, "seed"), show_default=True,
                     help=f"0 to {SEED_MAX}."),
        device_option,
        click.option("--resume", is_flag=True, help="Continue the run in RUN_DIR from checkpoints/last.pt "
                     "with its saved settings (options given here may only extend --epochs / --checkpoints)."),
        dataset_option,
    ])


TRAIN_OPTION_NAMES = ("model", "latent_dim", "beta", "epochs", "checkpoints", "batch_size", "lr", "seed", "device",
                      "train_size", "test_size", "dataset", "data_root")


def train_config(ctx: click.Context, kw: dict, run_dir: str, continuing: bool) -> TrainConfig:
    """The run's TrainConfig: from the options, or, when ``continuing`` a run that has a config.json, its
    saved settings with the options given explicitly on top (:func:`vaediag.models.train_config.continued`)."""
    values = {k: kw[k] for k in TRAIN_OPTION_NAMES}
    values["checkpoints"] = epochs_option(values["checkpoints"])
    if continuing:
        from vaediag.store.rundir import Run

        run = Run(run_dir)
        if run.path.is_dir() and run.has_config():
            given = {k: v for k, v in values.items()
                     if ctx.get_parameter_source(k) not in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP)}
            try:
                return continued(run.config.get("train"), given).validate()
            except ConfigError as exc:
                raise ConfigError(f"{run.config_path}: {exc}") from None
    model = VAEConfig(model=values.pop("model"), latent_dim=values.pop("latent_dim"), beta=values.pop("beta"))
    return TrainConfig(model=model, **values).validate()


def claims_option(f):
    """``--claims CLAIMS.toml``: a claims file (``vaediag check``) whose verdicts the report shows."""
    return click.option("--claims", "claims_path", type=click.Path(dir_okay=False), default=None,
                        help="A claims file (TOML, see `vaediag check`): the report gets a Claims section with "
                             "each claim's verdict. A malformed file is refused before anything is written.")(f)


def load_claims(path: str | None):
    """The claims file loaded (:func:`vaediag.claims.load_claims`; one-line ConfigError when malformed), or
    None: called first, so that a bad file stops a command before it trains or writes anything."""
    from vaediag.claims.commands import load

    return load(path)


EVAL_OPTION_NAMES = ("samples", "grid", "grid_span", "iwae", "knn_k", "prdc_k")


def eval_options(f):
    """Evaluation settings, shared by ``evaluate`` and ``study`` (defaults: the EvalSettings fields)."""
    return options(f, [
        click.option("--samples", type=click.IntRange(min=10), default=default(EvalSettings, "samples"),
                     show_default=True, help="Prior samples decoded and classified."),
        click.option("--grid", type=click.IntRange(min=2), default=default(EvalSettings, "grid"),
                     show_default=True, help="n for the n x n latent grids."),
        click.option("--grid-span", type=click.FloatRange(min=0, min_open=True),
                     default=default(EvalSettings, "grid_span"), show_default=True,
                     help="The linear grid covers [-s, s] on both axes."),
        click.option("--iwae", type=click.IntRange(min=0), default=default(EvalSettings, "iwae"),
                     show_default=True, help="Importance samples K for the IWAE NLL bound (0 = off)."),
        click.option("--knn-k", type=click.IntRange(min=1), default=default(EvalSettings, "knn_k"),
                     show_default=True, help="Neighbours for the latent kNN accuracy / pair confusion."),
        click.option("--prdc-k", type=click.IntRange(min=1), default=default(EvalSettings, "prdc_k"),
                     show_default=True, help="Neighbours for precision / recall / density / coverage."),
    ])


def eval_settings(kw: dict, **extra) -> EvalSettings:
    return EvalSettings(**{k: kw.pop(k) for k in EVAL_OPTION_NAMES}, **extra)


def model_factory_options(f):
    """--model-factory / --weights / --epoch / --out / --dataset / --decoder: evaluate a user's own model."""
    return options(f, [
        click.option("--model-factory", default=None, metavar="MODULE:FUNCTION",
                     help="Evaluate your own VAE: import MODULE (the current directory is on sys.path), call "
                          "FUNCTION() for the model (vaediag.models.protocol.VAEModel), load --weights into it."),
        click.option("--weights", type=click.Path(dir_okay=False), default=None,
                     help="With --model-factory: the state_dict file (torch.load(weights_only=True))."),
        click.option("--epoch", "model_epoch", type=click.IntRange(min=1), default=None,
                     help="With --model-factory: the epoch this model is (its row in the tables)."),
        click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
                     help="With --model-factory: the external RUN_DIR (created on first use)."),
        click.option("--dataset", "model_dataset", default="mnist", show_default=True,
                     help="With --model-factory: mnist or fashion-mnist."),
        click.option("--decoder", type=click.Choice(["probs", "logits"]), default="probs", show_default=True,
                     help="With --model-factory: what the model's decode(z) returns."),
    ])


