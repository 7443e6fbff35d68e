"""The commands on one run: ``train``, ``evaluate``, ``study``, ``report``, ``compare``, ``check``, ``columns``.
Each is thin: it parses, calls the library, prints; torch is imported when a command runs, not at start-up."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

import click
from click.core import ParameterSource

from vaediag.errors import ConfigError, RunDirError
from vaediag.evaluate.settings import EvalSettings
from vaediag.models.train_config import default

from .app import announce, cli, log
from .sweep import run_sweep_command
from .options import (claims_option, data_options, device_option, epochs_option, eval_options, eval_settings,
                      load_claims, model_factory_options, train_config, train_options)


# --- train -----------------------------------------------------------------------------------
@cli.command()
@train_options
@click.pass_context
def train(ctx, run_dir, resume, **kw):
    """Train a VAE, keeping checkpoints at chosen epochs."""
    if resume:
        _require_run(run_dir)
    cfg = train_config(ctx, kw, run_dir, continuing=resume)
    announce("train", run_dir)
    from vaediag.train import train as run_training

    history = run_training(cfg, run_dir, resume=resume, log=log)
    click.echo(history.tail(5).to_string(float_format=lambda v: f"{v:.3f}"))


def _require_run(run_dir: str) -> None:
    """``--resume`` continues a run: a missing or empty RUN_DIR (a typo?) is refused, not started afresh (a folder
    holding a lock file only is a run another writer just began: the writer's lock reports it)."""
    path = Path(run_dir)
    if not path.exists() or (path.is_dir() and not any(path.iterdir())):
        raise RunDirError(f"--resume: {run_dir} holds no run to continue (the folder is missing or empty: a typo?); "
                          f"leave out --resume to start a new run there")


@cli.command()
@click.argument("run_dir", type=click.Path(), required=False)
@click.option("--epochs", "epochs", default=None, help="Comma-separated checkpoint epochs (default: all).")
@eval_options
@click.option("--seed", type=int, default=default(EvalSettings, "seed"), show_default=True,
              help="Seeds prior samples and ELBO noise.")
@click.option("--format", "fmt", type=click.Choice(["table", "csv", "json"]), default="table", show_default=True)
@device_option
@data_options
@model_factory_options
def evaluate(*, run_dir, epochs, fmt, seed, model_factory, weights, model_epoch, out_dir, model_dataset, decoder, **kw):
    """Evaluate RUN_DIR's checkpoints (or, with --model-factory, your own model) into tables.

    Without --model-factory: every checkpoint of RUN_DIR (or --epochs), tables printed. With --model-factory
    (plus --weights, --epoch, --out): your own model, built by your factory, into the external run --out."""
    from vaediag.evaluate.table import format_table

    settings = eval_settings(kw, seed=seed)
    if model_factory is None:
        if run_dir is None:
            raise click.UsageError("missing RUN_DIR (or --model-factory with --weights, --epoch and --out)")
        from vaediag.evaluate.pipeline import evaluate_run

        ev = evaluate_run(run_dir, settings=settings, epochs=epochs_option(epochs), log=log, **kw)
    else:
        ev = _evaluate_factory(model_factory, kw, weights=weights, epoch=model_epoch, out_dir=out_dir,
                               dataset=model_dataset, decoder=decoder, run_dir=run_dir, epochs=epochs, settings=settings)
    click.echo(format_table(ev, fmt))


def _evaluate_factory(spec, kw, *, weights, epoch, out_dir, dataset, decoder, run_dir, epochs, settings):
    """``evaluate --model-factory``: every check (options, dataset, factory, protocol, weights) before RUN_DIR is
    touched."""
    from vaediag.datasets.registry import check_dataset

    if run_dir is not None or epochs is not None:
        raise click.UsageError("with --model-factory, give the run as --out RUN_DIR and the epoch as --epoch")
    for value, option in ((weights, "--weights"), (epoch, "--epoch"), (out_dir, "--out")):
        if value is None:
            raise click.UsageError(f"--model-factory needs {option}")
    check_dataset(dataset)
    settings.validate()
    from vaediag.evaluate.external import EXTERNAL_TRAIN_SIZE, evaluate_model
    from vaediag.models.factory import load_factory_model

    train_size = kw["train_size"] if kw["train_size"] is not None else EXTERNAL_TRAIN_SIZE
    # the user's code may print: keep stdout for the table (--format csv / json stays parseable)
    with contextlib.redirect_stdout(sys.stderr):
        model = load_factory_model(spec, weights, decoder)
        return evaluate_model(model, out_dir, epoch, dataset=dataset, device=kw["device"], decoder=decoder,
                              config={"model_factory": spec, "weights": str(weights)}, settings=settings,
                              train_size=train_size, test_size=kw["test_size"], data_root=kw["data_root"], log=log)


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
    claims = load_claims(claims_path)
    settings = eval_settings(kw)
    if seeds is not None:
        if ctx.get_parameter_source("seed") not in (ParameterSource.DEFAULT, ParameterSource.DEFAULT_MAP):
            raise ConfigError("give either --seed (one run) or --seeds (a sweep over seeds), not both")
        from vaediag.sweep.grid import Grid

        grid = Grid.from_options(train_config(ctx, kw, run_dir, continuing=False), seed=seeds)
        run_sweep_command(grid, run_dir, settings, claims=claims)
        return
    if resume:
        _require_run(run_dir)
    cfg = train_config(ctx, kw, run_dir, continuing=True)
    announce("study", run_dir)
    from vaediag.study import run_study

    result = run_study(cfg, run_dir, log=log, settings=settings, claims=claims)
    click.echo(str(result.report_html))


@cli.command()
@click.argument("run_dir", type=click.Path())
@claims_option
def report(run_dir, claims_path):
    """Rebuild the figures and report of an evaluated RUN_DIR."""
    claims = load_claims(claims_path)
    from vaediag.report import build_report
    from vaediag.claims.commands import check
    from vaediag.store.rundir import Run

    html, _ = build_report(run_dir, claims=check(claims, run_dir))
    run = Run(run_dir)
    if not run.is_external and not run.history_path.is_file():
        log(f"note: {run.history_path} is missing: the report's Q3 leaves out the training losses "
            f"(`vaediag train --out {run_dir} --resume` writes it again from checkpoints/last.pt)")
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
    from vaediag.compare import (FIGURE_FILE, FIGURE_METRICS, compare_runs, format_for_terminal, summarise_seeds,
                          write_comparison)

    df = compare_runs(run_dirs, metrics=metrics)
    summary = summarise_seeds(df)
    click.echo(format_for_terminal(df, summary, metrics=metrics))
    if out_dir:
        from vaediag.plots.sweep import compare_figure

        paths = write_comparison(df, summary, out_dir)
        paths.append(compare_figure(df, Path(out_dir) / FIGURE_FILE, FIGURE_METRICS))
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
    from vaediag.claims import check_claims, format_claims, load_claims

    claims = load_claims(claims_file)
    text = format_claims(check_claims(claims, target, log=log), fmt)
    if out_file:
        from vaediag.files.atomic import write_text

        write_text(out_file, text)
        log(f"wrote {out_file}")
    else:
        click.echo(text, nl=False)


@cli.command()
def columns():
    """What every result-table column means, as Markdown."""
    from vaediag.report.render import columns_markdown

    click.echo(columns_markdown(), nl=False)


