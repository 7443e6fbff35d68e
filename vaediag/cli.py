"""The ``vaediag`` command line: thin click commands over the library.

Every error a user can cause is printed as one line (``Error: ...``) with exit code 2; no traceback.
"""

from __future__ import annotations

import sys

import click

from .errors import VaediagError
from .train import DEFAULT_CHECKPOINTS, TrainConfig, parse_epochs


class _OneLineErrors(click.Group):
    """A click group that reports usage errors and :class:`VaediagError` as a single line, exit code 2."""

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        try:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.Abort:
            click.echo("Aborted.", err=True)
            sys.exit(1)
        except click.ClickException as exc:
            click.echo(f"Error: {exc.format_message()}", err=True)
            sys.exit(2 if isinstance(exc, click.UsageError) else exc.exit_code)
        except VaediagError as exc:
            click.echo(f"Error: {exc}", err=True)
            sys.exit(2)
        except KeyboardInterrupt:
            click.echo("Interrupted; completed epochs are checkpointed (use --resume).", err=True)
            sys.exit(130)


def _epochs_option(value: str | None) -> tuple[int, ...] | None:
    return None if value is None else parse_epochs(value)


def _log(msg: str) -> None:
    click.echo(msg, err=True)


def data_options(f):
    """--train-size / --test-size / --data-root, shared by every command that loads data."""
    f = click.option("--data-root", type=click.Path(file_okay=False), default=None,
                     help="MNIST root (default: $VAEDIAG_DATA or ~/.cache/vaediag/data).")(f)
    f = click.option("--test-size", type=click.IntRange(min=10), default=None,
                     help="Seeded class-stratified subset of the 10k test digits.")(f)
    f = click.option("--train-size", type=click.IntRange(min=10), default=None,
                     help="Seeded class-stratified subset of the 60k training digits.")(f)
    return f


def train_options(f):
    """The training options, shared by ``train`` and ``study``."""
    opts = [
        click.option("--out", "run_dir", required=True, type=click.Path(), help="Run directory (RUN_DIR)."),
        click.option("--model", type=str, default="mlp", show_default=True, help="mlp | conv"),
        click.option("--latent-dim", type=int, default=2, show_default=True),
        click.option("--beta", type=float, default=1.0, show_default=True, help="KL weight."),
        click.option("--epochs", type=int, default=100, show_default=True),
        click.option("--checkpoints", default=",".join(map(str, DEFAULT_CHECKPOINTS)), show_default=True,
                     help="Comma-separated epochs to keep a checkpoint of."),
        click.option("--batch-size", type=int, default=128, show_default=True),
        click.option("--lr", type=float, default=1e-3, show_default=True),
        click.option("--seed", type=int, default=0, show_default=True),
        click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda"),
        click.option("--resume", is_flag=True, help="Continue the run in RUN_DIR from checkpoints/last.pt."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return data_options(f)


def _train_config(kw: dict) -> TrainConfig:
    return TrainConfig(
        model=kw["model"], latent_dim=kw["latent_dim"], beta=kw["beta"], epochs=kw["epochs"],
        checkpoints=parse_epochs(kw["checkpoints"]), batch_size=kw["batch_size"], lr=kw["lr"],
        seed=kw["seed"], device=kw["device"], train_size=kw["train_size"], test_size=kw["test_size"],
        data_root=kw["data_root"],
    ).validate()


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vaediag")
def cli():
    """vaediag: train VAEs on MNIST and measure what people usually eyeball."""


# --- data ------------------------------------------------------------------------------------
@cli.group()
def data():
    """Provision datasets."""


@data.command("prepare")
@click.option("--dataset", type=click.Choice(["mnist"]), default="mnist", show_default=True)
@click.option("--root", type=click.Path(), default=None,
              help="Data root (default: $VAEDIAG_DATA or ~/.cache/vaediag/data).")
def data_prepare(dataset, root):
    """Provision the canonical MNIST (verified by SHA-256) in torchvision's layout, offline if needed."""
    from .data import prepare_mnist

    path = prepare_mnist(root, log=_log)
    click.echo(str(path))


# --- train -----------------------------------------------------------------------------------
@cli.command()
@train_options
def train(run_dir, resume, **kw):
    """Train a VAE, writing checkpoints at the requested epochs (default 5,15,30,50,100)."""
    from .train import train as run_training

    cfg = _train_config(kw)
    history = run_training(cfg, run_dir, resume=resume, log=_log)
    click.echo(history.tail(5).to_string(float_format=lambda v: f"{v:.3f}"))


def main(argv=None):  # console-script entry point
    cli.main(args=argv, prog_name="vaediag")


if __name__ == "__main__":  # pragma: no cover
    main()
