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


# --- evaluate --------------------------------------------------------------------------------
def eval_options(f):
    """Evaluation settings, shared by ``evaluate`` and ``study`` (defaults: vaediag.evaluate.DEFAULT_EVAL)."""
    from .evaluate import DEFAULT_EVAL as D

    opts = [
        click.option("--samples", type=click.IntRange(min=10), default=D["samples"], show_default=True,
                     help="Prior samples decoded and classified."),
        click.option("--grid", type=click.IntRange(min=2), default=D["grid"], show_default=True,
                     help="n for the n x n latent grids."),
        click.option("--grid-span", type=click.FloatRange(min=0, min_open=True), default=D["grid_span"],
                     show_default=True, help="The linear grid covers [-s, s] on both axes."),
        click.option("--iwae", type=click.IntRange(min=0), default=D["iwae"], show_default=True,
                     help="Importance samples K for the IWAE NLL bound (0 = off)."),
        click.option("--knn-k", type=click.IntRange(min=1), default=D["knn_k"], show_default=True,
                     help="Neighbours for the latent kNN accuracy / pair confusion."),
        click.option("--prdc-k", type=click.IntRange(min=1), default=D["prdc_k"], show_default=True,
                     help="Neighbours for precision / recall / density / coverage."),
    ]
    for opt in reversed(opts):
        f = opt(f)
    return f


@cli.command()
@click.argument("run_dir", type=click.Path())
@click.option("--epochs", "epochs", default=None, help="Comma-separated checkpoint epochs (default: all).")
@eval_options
@click.option("--seed", type=int, default=0, show_default=True, help="Seeds prior samples and ELBO noise.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@click.option("--device", default="auto", show_default=True, help="auto | cpu | cuda")
@data_options
def evaluate(run_dir, epochs, fmt, **kw):
    """Evaluate every checkpoint of RUN_DIR: writes metrics.csv, per_class.csv, pairs.csv; prints a table."""
    from .evaluate import evaluate as run_evaluate, format_table

    ev = run_evaluate(run_dir, epochs=_epochs_option(epochs), log=_log, **kw)
    click.echo(format_table(ev, fmt))


# --- study / report / compare ----------------------------------------------------------------
@cli.command()
@train_options
@eval_options
def study(run_dir, resume, samples, grid, grid_span, iwae, knn_k, prdc_k, **kw):
    """Train (or resume) -> evaluate every checkpoint -> figures + report.html. Idempotent."""
    from .study import run_study

    cfg = _train_config(kw)
    result = run_study(cfg, run_dir, log=_log, eval_settings=dict(
        samples=samples, grid=grid, grid_span=grid_span, iwae=iwae, knn_k=knn_k, prdc_k=prdc_k))
    click.echo(str(result.report_html))


@cli.command()
@click.argument("run_dir", type=click.Path())
def report(run_dir):
    """Rebuild the figures and report.html / report.md of an evaluated RUN_DIR."""
    from .report import build_report

    html, _ = build_report(run_dir)
    click.echo(str(html))


@cli.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path())
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write comparison.csv, comparison_seeds.csv and comparison.png here.")
def compare(run_dirs, out_dir):
    """Put several evaluated runs side by side: one row per (run, epoch); seeds grouped as mean ± std."""
    from pathlib import Path

    from . import atomic
    from .compare import compare_figure, compare_runs, format_summary, summarise_seeds

    df = compare_runs(run_dirs)
    summary = summarise_seeds(df)
    click.echo(df.to_string(float_format=lambda v: f"{v:.3f}"))
    click.echo("")
    click.echo(format_summary(summary).to_string())
    if out_dir:
        out = Path(out_dir)
        atomic.write_with(out / "comparison.csv", lambda tmp: df.to_csv(tmp))
        atomic.write_with(out / "comparison_seeds.csv", lambda tmp: summary.to_csv(tmp))
        compare_figure(df, out / "comparison.png")
        click.echo(f"wrote {out}/comparison.csv, comparison_seeds.csv, comparison.png", err=True)


# --- classifier ------------------------------------------------------------------------------
@cli.group()
def classifier():
    """The shipped digit classifier that judges generated digits."""


@classifier.command("train")
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Default: the shipped recipe.")
@click.option("--seed", type=int, default=None)
@click.option("--device", default="auto", show_default=True)
@click.option("--out", "weights_dir", type=click.Path(file_okay=False), default=None,
              help="Weights folder (default: the package's vaediag/weights/).")
@data_options
def classifier_train(epochs, seed, device, weights_dir, train_size, test_size, data_root):
    """Train the digit CNN on MNIST and write digit_cnn.pt + digit_cnn.json (sha256, test accuracy)."""
    from .classifier import TRAIN_DEFAULTS, save_classifier, train_classifier
    from .data import load_mnist
    from .devices import resolve_device

    dev = resolve_device(device)
    seed = TRAIN_DEFAULTS["seed"] if seed is None else seed
    data = load_mnist(data_root, train_size=train_size, test_size=test_size, seed=seed, device=dev, log=_log)
    model, info = train_classifier(data, epochs=epochs or TRAIN_DEFAULTS["epochs"], seed=seed, device=dev,
                                   log=_log)
    path = save_classifier(model.cpu(), info, weights_dir)
    click.echo(f"test accuracy {info['test_accuracy']:.4f}; weights: {path}")


@classifier.command("evaluate")
@click.option("--device", default="auto", show_default=True)
@click.option("--weights", "weights_dir", type=click.Path(file_okay=False), default=None)
@data_options
def classifier_evaluate(device, weights_dir, train_size, test_size, data_root):
    """Print the shipped classifier's accuracy on the MNIST test set."""
    from .classifier import evaluate_classifier, load_classifier
    from .data import load_mnist
    from .devices import resolve_device

    dev = resolve_device(device)
    model = load_classifier(dev, weights_dir=weights_dir)
    data = load_mnist(data_root, train_size=None, test_size=test_size, seed=0, log=_log)
    acc = evaluate_classifier(model, data.test_images, data.test_labels)
    click.echo(f"test accuracy {acc:.4f} on {len(data.test_labels)} MNIST test digits")


def main(argv=None):  # console-script entry point
    cli.main(args=argv, prog_name="vaediag")


if __name__ == "__main__":  # pragma: no cover
    main()
