"""The ``vaediag`` command line: thin click commands over the library.

Every error a user can cause is printed as one line (``Error: ...``) with exit code 2; no traceback.
``vaediag sweep`` (and ``study --seeds``) exits 1 when some run failed (recorded in sweep.json).
Every command that writes into a RUN_DIR (train, evaluate, study, report) holds its lock while it writes
(the library functions take it: :meth:`vaediag.rundir.Run.writing`): a second writer is refused with the
holder's PID.
This module imports no torch at load time (``vaediag --help`` answers at once); each command imports
what it needs. Option defaults come from the dataclasses that define them (TrainConfig, VAEConfig,
EvalSettings), so the CLI and the Python API always agree.
"""

from __future__ import annotations

import contextlib
import functools
import sys

import click
from click.core import ParameterSource

from .config import (DEFAULT_CHECKPOINTS, DEVICE_CHOICES, MODEL_CHOICES, SEED_MAX, TrainConfig, VAEConfig,
                     continued, default, parse_epochs)
from .classes import DATASETS
from .errors import ConfigError, VaediagError
from .evaluate.settings import EvalSettings


class _Group(click.Group):
    """A click group whose command list shows each summary whole (wrapped to the terminal, never cut)."""

    group_class = type  # sub-groups are of this class too

    def format_commands(self, ctx, formatter):
        rows = [(name, cmd.get_short_help_str(limit=10_000)) for name in self.list_commands(ctx)
                if (cmd := self.get_command(ctx, name)) is not None and not cmd.hidden]
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


class _OneLineErrors(_Group):
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


def _options(f, opts):
    for opt in reversed(opts):
        f = opt(f)
    return f


def train_options(f):
    """The training options, shared by ``train`` and ``study`` (defaults: TrainConfig / VAEConfig fields).
    ``--out`` comes first in ``--help``; the data options last."""
    return _options(data_options(f), [
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


def _train_config(ctx: click.Context, kw: dict, run_dir: str, continuing: bool) -> TrainConfig:
    """The run's TrainConfig: from the options, or, when ``continuing`` a run that has a config.json, its
    saved settings with the options given explicitly on top (:func:`vaediag.config.continued`)."""
    values = {k: kw[k] for k in TRAIN_OPTION_NAMES}
    values["checkpoints"] = _epochs_option(values["checkpoints"])
    if continuing:
        from .rundir import Run

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


def _load_claims(path: str | None):
    """The claims file loaded (:func:`vaediag.claims.load_claims`; one-line ConfigError when malformed), or
    None: called first, so that a bad file stops a command before it trains or writes anything."""
    from .report.claims import load

    return load(path)


def _announce(command: str, run_dir: str) -> None:
    """On a terminal, say at once what is starting (PyTorch and MNIST take a few seconds to load)."""
    if sys.stderr.isatty():
        _log(f"vaediag {command}: {run_dir} (loading PyTorch and MNIST ...)")


@click.group(cls=_OneLineErrors, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="vaediag")
def cli():
    """vaediag: train VAEs on MNIST and measure what people usually eyeball."""


# --- data ------------------------------------------------------------------------------------
@cli.group()
def data():
    """Provision datasets."""


@data.command("prepare")
@dataset_option
@click.option("--root", type=click.Path(), default=None,
              help="Data root (default: $VAEDIAG_DATA or ~/.cache/vaediag/data).")
def data_prepare(dataset, root):
    """Provision a dataset (verified by SHA-256) in torchvision's layout, offline if needed."""
    from .data import prepare_dataset

    path = prepare_dataset(dataset, root, log=_log)
    click.echo(str(path))


# --- train -----------------------------------------------------------------------------------
@cli.command()
@train_options
@click.pass_context
def train(ctx, run_dir, resume, **kw):
    """Train a VAE, keeping checkpoints at chosen epochs."""
    cfg = _train_config(ctx, kw, run_dir, continuing=resume)
    _announce("train", run_dir)
    from .train import train as run_training

    history = run_training(cfg, run_dir, resume=resume, log=_log)
    click.echo(history.tail(5).to_string(float_format=lambda v: f"{v:.3f}"))


# --- evaluate --------------------------------------------------------------------------------
EVAL_OPTION_NAMES = ("samples", "grid", "grid_span", "iwae", "knn_k", "prdc_k")


def eval_options(f):
    """Evaluation settings, shared by ``evaluate`` and ``study`` (defaults: the EvalSettings fields)."""
    return _options(f, [
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


def _eval_settings(kw: dict, **extra) -> EvalSettings:
    return EvalSettings(**{k: kw.pop(k) for k in EVAL_OPTION_NAMES}, **extra)


def _model_factory_options(f):
    """--model-factory / --weights / --epoch / --out / --dataset / --decoder: evaluate a user's own model."""
    return _options(f, [
        click.option("--model-factory", default=None, metavar="MODULE:FUNCTION",
                     help="Evaluate your own VAE: import MODULE (the current directory is on sys.path), call "
                          "FUNCTION() for the model (vaediag.protocol.VAEModel), load --weights into it."),
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


@cli.command()
@click.argument("run_dir", type=click.Path(), required=False)
@click.option("--epochs", "epochs", default=None, help="Comma-separated checkpoint epochs (default: all).")
@eval_options
@click.option("--seed", type=int, default=default(EvalSettings, "seed"), show_default=True,
              help="Seeds prior samples and ELBO noise.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@device_option
@data_options
@_model_factory_options
def evaluate(run_dir, epochs, fmt, seed, model_factory, weights, model_epoch, out_dir, model_dataset, decoder, **kw):
    """Evaluate RUN_DIR's checkpoints (or, with --model-factory, your own model) into tables.

    Without --model-factory: every checkpoint of RUN_DIR (or --epochs), tables printed. With --model-factory
    (plus --weights, --epoch, --out): your own model, built by your factory, into the external run --out."""
    from .evaluate.table import format_table

    settings = _eval_settings(kw, seed=seed)
    if model_factory is None:
        if run_dir is None:
            raise click.UsageError("missing RUN_DIR (or --model-factory with --weights, --epoch and --out)")
        from .evaluate.pipeline import evaluate_run

        ev = evaluate_run(run_dir, settings=settings, epochs=_epochs_option(epochs), log=_log, **kw)
    else:
        ev = _evaluate_factory(model_factory, weights, model_epoch, out_dir, model_dataset, decoder, run_dir,
                               epochs, settings, kw)
    click.echo(format_table(ev, fmt))


def _evaluate_factory(spec, weights, epoch, out_dir, dataset, decoder, run_dir, epochs, settings, kw):
    """``evaluate --model-factory``: every check (options, dataset, factory, protocol, weights) before RUN_DIR is
    touched."""
    from .classes import check_dataset

    if run_dir is not None or epochs is not None:
        raise click.UsageError("with --model-factory, give the run as --out RUN_DIR and the epoch as --epoch")
    for value, option in ((weights, "--weights"), (epoch, "--epoch"), (out_dir, "--out")):
        if value is None:
            raise click.UsageError(f"--model-factory needs {option}")
    check_dataset(dataset)
    settings.validate()
    from .evaluate.external import EXTERNAL_TRAIN_SIZE, evaluate_model
    from .factory import load_factory_model

    train_size = kw["train_size"] if kw["train_size"] is not None else EXTERNAL_TRAIN_SIZE
    # the user's code may print: keep stdout for the table (--format csv / json stays parseable)
    with contextlib.redirect_stdout(sys.stderr):
        model = load_factory_model(spec, weights, decoder)
        return evaluate_model(model, out_dir, epoch, dataset=dataset, device=kw["device"], decoder=decoder,
                              config={"model_factory": spec, "weights": str(weights)}, settings=settings,
                              train_size=train_size, test_size=kw["test_size"], data_root=kw["data_root"], log=_log)


# --- study / report / compare ----------------------------------------------------------------
@cli.command()
@train_options
@eval_options
@click.option("--seeds", default=None, help="Comma-separated seeds (e.g. 0,1,2): a one-configuration sweep into "
              "--out (SWEEP_DIR) on a local Ray instance, with the replicated report. Default: one run, --seed.")
@claims_option
@click.pass_context
def study(ctx, run_dir, resume, seeds, claims_path, **kw):
    """Train (or resume), evaluate, then write figures and report."""
    claims = _load_claims(claims_path)
    settings = _eval_settings(kw)
    if seeds is not None:
        if ctx.get_parameter_source("seed") not in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP):
            raise ConfigError("give either --seed (one run) or --seeds (a sweep over seeds), not both")
        from .sweep.grid import Grid

        grid = Grid.from_options(_train_config(ctx, kw, run_dir, continuing=False), seed=seeds)
        _run_sweep_command(grid, run_dir, settings, claims=claims)
        return
    cfg = _train_config(ctx, kw, run_dir, continuing=True)
    _announce("study", run_dir)
    from .study import run_study

    result = run_study(cfg, run_dir, log=_log, settings=settings, claims=claims)
    click.echo(str(result.report_html))


# --- sweep -----------------------------------------------------------------------------------
def _list_option(name: str, default_value, help_text: str):
    return click.option(name, default=None, help=f"{help_text} Comma list [default: {default_value}].")


@cli.command()
@click.option("--out", "sweep_dir", required=True, type=click.Path(),
              help="Sweep directory (SWEEP_DIR): sweep.json, runs/<name>/ (one RUN_DIR per run), the sweep report.")
@_list_option("--seeds", default(TrainConfig, "seed"), "Seeds, e.g. 0,1,2,3,4.")
@_list_option("--model", default(VAEConfig, "model"), f"Models ({', '.join(MODEL_CHOICES)}).")
@_list_option("--latent-dim", default(VAEConfig, "latent_dim"), "Latent dimensions, e.g. 2,16.")
@_list_option("--beta", default(VAEConfig, "beta"), "KL weights, e.g. 1,4.")
@_list_option("--lr", default(TrainConfig, "lr"), "Learning rates.")
@_list_option("--batch-size", default(TrainConfig, "batch_size"), "Batch sizes.")
@click.option("--epochs", type=int, default=default(TrainConfig, "epochs"), show_default=True)
@click.option("--checkpoints", default=None,
              help="Comma-separated epochs to keep a checkpoint of [default: those of "
                   + ",".join(map(str, DEFAULT_CHECKPOINTS)) + " within --epochs, plus the last epoch].")
@device_option
@data_options
@dataset_option
@eval_options
@click.option("--address", default=None, help="Join an existing Ray cluster: 'auto' (the one `ray start` "
              "started on this machine) or HOST:PORT. Default: a local Ray instance started for the sweep. "
              "On a multi-node cluster SWEEP_DIR must be on storage all nodes share.")
@click.option("--cpus-per-run", type=click.IntRange(min=1), default=None,
              help="CPUs (= torch threads) of each run's Ray task [default: the cores split so that each "
                   "run keeps >= 2 threads; with GPUs, the cores per GPU].")
@click.option("--gpus-per-run", type=click.FloatRange(min=0), default=None,
              help="GPUs of each run's Ray task [default: 1 when the cluster has GPUs, else 0].")
@click.option("--max-retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Ray retries of a failing run (an exception or a killed worker) before it is recorded as failed.")
@claims_option
def sweep(sweep_dir, seeds, model, latent_dim, beta, lr, batch_size, address, cpus_per_run, gpus_per_run,
          max_retries, claims_path, **kw):
    """Train, evaluate and report every combination of the listed options (a cartesian product) on Ray.

    Each run is an ordinary RUN_DIR under SWEEP_DIR/runs (every command works on it). Re-running the same
    command finishes an interrupted sweep: done runs are skipped, partial ones resume. Exit code 0 when all
    runs are done, 1 when some failed (recorded in sweep.json), 2 for bad input.
    """
    claims = _load_claims(claims_path)
    settings = _eval_settings(kw)
    from .sweep.grid import Grid

    base = TrainConfig(epochs=kw["epochs"], checkpoints=_epochs_option(kw["checkpoints"]), device=kw["device"],
                       train_size=kw["train_size"], test_size=kw["test_size"], dataset=kw["dataset"],
                       data_root=kw["data_root"])
    grid = Grid.from_options(base, seed=seeds, model=model, latent_dim=latent_dim, beta=beta, lr=lr,
                             batch_size=batch_size)
    _run_sweep_command(grid, sweep_dir, settings, claims=claims, address=address, cpus_per_run=cpus_per_run,
                       gpus_per_run=gpus_per_run, max_retries=max_retries)


def _run_sweep_command(grid, sweep_dir: str, settings: EvalSettings, claims=None, **ray_options) -> None:
    """Run the sweep (``claims``: a loaded claims file for the report's Claims section); print the report's
    path; exit 1 when a run failed."""
    grid.points()  # every point valid before anything is written
    _announce("sweep", sweep_dir)
    from .sweep.runner import run_sweep

    result = run_sweep(grid, sweep_dir, settings=settings, log=_log, claims=claims, **ray_options)
    click.echo(str(result.report_html or sweep_dir))
    if not result.ok:
        sys.exit(1)


@cli.command()
@click.argument("run_dir", type=click.Path())
@claims_option
def report(run_dir, claims_path):
    """Rebuild the figures and report of an evaluated RUN_DIR."""
    claims = _load_claims(claims_path)
    from .report import build_report
    from .report.claims import check

    html, _ = build_report(run_dir, claims=check(claims, run_dir))
    click.echo(str(html))


@cli.command()
@click.argument("run_dirs", nargs=-1, required=True, type=click.Path())
@click.option("--out", "out_dir", type=click.Path(file_okay=False), default=None,
              help="Write comparison.csv, comparison_seeds.csv, comparison_summary.csv and comparison.png "
                   "here (every metric).")
@click.option("--metrics", default=None,
              help="Comma-separated metrics.csv columns to print (default: the key metrics).")
def compare(run_dirs, out_dir, metrics):
    """Put evaluated runs side by side; seeds grouped as mean ± 95 % CI half-width (n)."""
    from .compare import compare_runs, format_for_terminal, summarise_seeds, write_comparison

    df = compare_runs(run_dirs, metrics=metrics)
    summary = summarise_seeds(df)
    click.echo(format_for_terminal(df, summary, metrics=metrics))
    if out_dir:
        paths = write_comparison(df, summary, out_dir)
        click.echo("wrote " + ", ".join(str(p) for p in paths), err=True)


@cli.command()
@click.argument("claims_file", metavar="CLAIMS.toml", type=click.Path())
@click.argument("target", metavar="RUN_DIR|SWEEP_DIR", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json", "md"]), default="table",
              show_default=True)
@click.option("--out", "out_file", type=click.Path(dir_okay=False), default=None,
              help="Write the table to this file (atomically) instead of printing it.")
def check(claims_file, target, fmt, out_file):
    """Hold the written claims of CLAIMS.toml against the measurements: supported / refuted / inconclusive.

    Evaluates the checkpoints the claims need when RUN_DIR is not evaluated yet (cached). Exit code 0 when
    the check ran, whatever the verdicts; 2 for a malformed claims file (nothing is written then).
    """
    from .claims import check_claims, format_claims, load_claims

    claims = load_claims(claims_file)
    text = format_claims(check_claims(claims, target, log=_log), fmt)
    if out_file:
        from .atomic import write_text

        write_text(out_file, text)
        _log(f"wrote {out_file}")
    else:
        click.echo(text, nl=False)


@cli.command()
def columns():
    """What every result-table column means, as Markdown."""
    from .report.render import columns_markdown

    click.echo(columns_markdown(), nl=False)


# --- classifier ------------------------------------------------------------------------------
@cli.group()
def classifier():
    """The shipped classifiers (one per dataset) that judge generated images."""


@classifier.command("train")
@dataset_option
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Default: the dataset's shipped recipe.")
@click.option("--seed", type=int, default=None)
@device_option
@click.option("--out", "weights_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for the weights + info json (digit_cnn.* for mnist, fashion_cnn.* for fashion-mnist; "
                   "default: ~/.cache/vaediag/classifier/DATASET; the weights shipped in the package are never "
                   "overwritten). Use them with `vaediag classifier evaluate --dataset DATASET --weights DIR`.")
@data_options
def classifier_train(dataset, epochs, seed, device, weights_dir, train_size, test_size, data_root):
    """Retrain a dataset's classifier CNN (its recipe: vaediag.classifier.TRAIN_RECIPES) into a weights folder."""
    from .classifier import TRAIN_RECIPES, save_classifier, train_classifier
    from .data import load_dataset
    from .devices import resolve_device

    recipe = dict(TRAIN_RECIPES[dataset])
    dev = resolve_device(device)
    recipe["seed"] = recipe["seed"] if seed is None else seed
    recipe["epochs"] = epochs or recipe["epochs"]
    data = load_dataset(dataset, data_root, train_size=train_size, test_size=test_size, seed=recipe["seed"],
                        device=dev, log=_log)
    model, info = train_classifier(data, device=dev, log=_log, **recipe)
    path = save_classifier(model.cpu(), info, weights_dir, dataset=dataset)
    click.echo(f"test accuracy {info['test_accuracy']:.4f}; weights: {path}")


@classifier.command("evaluate")
@dataset_option
@device_option
@click.option("--weights", "weights_dir", type=click.Path(file_okay=False), default=None,
              help="Folder with the dataset's weights + info json (default: the shipped weights).")
@functools.partial(data_options, train_size=False)
def classifier_evaluate(dataset, device, weights_dir, test_size, data_root):
    """Print a classifier's accuracy on its dataset's test set (re-measured now)."""
    from .classifier import evaluate_classifier, load_classifier
    from .data import dataset_spec, load_dataset
    from .devices import resolve_device

    dev = resolve_device(device)
    model = load_classifier(dev, dataset=dataset, weights_dir=weights_dir)
    data = load_dataset(dataset, data_root, train_size=None, test_size=test_size, seed=0, log=_log)
    acc = evaluate_classifier(model, data.test_images, data.test_labels)
    click.echo(f"test accuracy {acc:.4f} on {len(data.test_labels)} {dataset_spec(dataset).title} test images")


def main(argv=None):  # console-script entry point
    cli.main(args=argv, prog_name="vaediag")


if __name__ == "__main__":  # pragma: no cover
    main()
