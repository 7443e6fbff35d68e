"""``vaediag sweep``: the cartesian product of comma-listed options, each point an ordinary run, on Ray."""

from __future__ import annotations

import sys

import click

from vaediag.evaluate.settings import EvalSettings
from vaediag.models.config import MODEL_CHOICES, VAEConfig
from vaediag.models.train_config import DEFAULT_CHECKPOINTS, TrainConfig, default

from vaediag.sweep.grid import MAX_RUNS

from .app import announce, cli, log
from .options import (claims_option, data_options, dataset_option, device_option, epochs_option, eval_options,
                      eval_settings, load_claims)

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
              "started on this machine; never another sweep's own instance) or HOST:PORT (refused unless a Ray "
              "cluster answers there within 5 s). Default: a local Ray instance of the sweep's own, stopped at the "
              "end. On a multi-node cluster SWEEP_DIR must be on storage all nodes share.")
@click.option("--cpus-per-run", type=click.IntRange(min=1), default=None,
              help="CPUs (= torch threads) of each run's Ray task [default: the cores split so that each "
                   "run keeps >= 2 threads; with GPUs, the cores per GPU].")
@click.option("--gpus-per-run", type=click.FloatRange(min=0), default=None,
              help="GPUs of each run's Ray task [default: 1 when the cluster has GPUs, else 0].")
@click.option("--max-retries", type=click.IntRange(min=0), default=2, show_default=True,
              help="Retries of a run whose worker died or that raised an unexpected error, before it is recorded "
                   "as failed (a vaediag error -- e.g. a diverged training -- would recur: never retried).")
@click.option("--run-timeout", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Seconds one attempt of a run may take; a longer one is stopped and the run recorded as failed "
                   "(re-running the sweep resumes it) [default: no limit].")
@click.option("--max-runs", type=click.IntRange(min=1), default=MAX_RUNS, show_default=True,
              help="A grid with more runs is refused (a typo in a comma list); raise it for a larger sweep.")
@claims_option
def sweep(*, sweep_dir, seeds, model, latent_dim, beta, lr, batch_size, address, cpus_per_run, gpus_per_run,
          max_retries, run_timeout, max_runs, claims_path, **kw):
    """Train, evaluate and report every combination of the listed options (a cartesian product) on Ray.

    Each run is an ordinary RUN_DIR under SWEEP_DIR/runs (every command works on it). Re-running the same
    command finishes an interrupted sweep: done runs are skipped, partial ones resume. Exit code 0 when all
    runs are done, 1 when some failed (recorded in sweep.json), 2 for bad input.
    """
    claims = load_claims(claims_path)
    settings = eval_settings(kw)
    from vaediag.sweep.grid import Grid

    base = TrainConfig(epochs=kw["epochs"], checkpoints=epochs_option(kw["checkpoints"]), device=kw["device"],
                       train_size=kw["train_size"], test_size=kw["test_size"], dataset=kw["dataset"],
                       data_root=kw["data_root"])
    grid = Grid.from_options(base, seed=seeds, model=model, latent_dim=latent_dim, beta=beta, lr=lr,
                             batch_size=batch_size)
    from vaediag.sweep.ray_session import RayOptions

    options = RayOptions(address=address, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run,
                         max_retries=max_retries, run_timeout=run_timeout)
    run_sweep_command(grid, sweep_dir, settings, claims=claims, ray_options=options, max_runs=max_runs)


def run_sweep_command(grid, sweep_dir: str, settings: EvalSettings, claims=None, **options) -> None:
    """Run the sweep (``claims``: a loaded claims file for the report's Claims section; ``options``: of
    :func:`vaediag.sweep.runner.run_sweep`); print the report's path; exit 1 when a run failed, 130 when stopped
    (Ctrl-C, SIGTERM, SIGHUP)."""
    if len(grid) <= options.get("max_runs", MAX_RUNS):
        grid.points()  # every point valid before anything is written
    announce("sweep", sweep_dir)
    from vaediag.sweep.runner import run_sweep

    try:
        result = run_sweep(grid, sweep_dir, settings=settings, log=log, claims=claims, **options)
    except KeyboardInterrupt as exc:
        log(f"Interrupted{f' ({exc})' if str(exc) else ''}: the sweep stopped; run the same command again to finish "
            f"it (done runs are kept, partial ones resume)")
        sys.exit(130)
    click.echo(str(result.report_html or sweep_dir))
    if not result.ok:
        sys.exit(1)
