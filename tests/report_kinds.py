"""Reports of every kind of run, built once per test session and shared by the report-text and browser tests:

- ``z2``: latent dimension 2, grids and their windows, 50 epochs of history (the fabricated "window" run);
- ``projected``: latent dimension 8: a PCA scatter, the grids as a slice through dims 0 and 1;
- ``short``: a 3-epoch run (history shorter than the trend window, stopped before the epoch Q3 asks about);
- ``nogrid``: a run whose evaluation holds no decoded grid (no grid columns, no grid arrays);
- ``fashion``: Fashion-MNIST's named classes, an imbalance;
- ``external``: a user's VAE with a 20-dimensional latent space, evaluated with ``vaediag.evaluate_model`` (no
  training history: evaluation bounds only);
- ``deterministic``: a user's autoencoder (no variance: no ELBO, no loss figure);
- ``study``: a default-study-like run (checkpoints 5, 15, 30, 50, 100, 10 000 test codes, a 15 x 15 grid, the
  explorer at the evaluation's own sizes) with the example claims checked;
- the sweep report of 2 configurations x 2 seeds (:func:`sweep_report`).

External runs are evaluated for real (synthetic digits, a random classifier, small settings); the others are
fabricated (tests/fake_run.py). Every report is drawn with its real figures.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from vaediag import columns as C
from vaediag import report
from vaediag.store.rundir import Run

from fake_run import make_fake_run

ROOT = Path(__file__).resolve().parents[1]
KINDS = ("z2", "projected", "short", "nogrid", "fashion", "external", "deterministic", "study")
_BUILT: dict = {}


def _strip_grids(run_dir: Path) -> None:
    """Rewrite a fabricated run's evaluation as one without decoded grids: no grid values, no grid arrays."""
    run = Run(run_dir)
    ev = run.evaluation
    metrics, per_class = ev.metrics.copy(), ev.per_class.copy()
    for column in list(metrics.columns):
        if column.startswith((C.GRID, C.QGRID)):
            metrics[column] = np.nan
    for column in list(per_class.columns):
        if column.startswith(("grid_", "qgrid_")):
            per_class[column] = np.nan
    arrays = {e: {k: v for k, v in ev.artifacts[e].items() if not k.startswith(("grid_", "qgrid_"))}
              for e in ev.epochs}
    run.write_evaluation(dataclasses.replace(ev, metrics=metrics, per_class=per_class, artifacts=arrays), versions={})


def _external(run_dir: Path, deterministic: bool) -> Path:
    import torch

    import vaediag
    from vaediag.evaluate.settings import EvalSettings

    import external_models as X
    from eval_fixtures import random_classifier
    from helpers import synthetic_digits

    torch.manual_seed(0)
    model = X.DeterministicAE() if deterministic else X.FlatLogitsVAE(latent_dim=20)
    options = dict(settings=EvalSettings(samples=300, grid=4, iwae=4), data=synthetic_digits(n_test=200),
                   classifier=random_classifier(), log=lambda *_: None)
    if not deterministic:
        options["decoder"] = "logits"
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors
    try:
        for epoch in ((1,) if deterministic else (1, 3)):
            vaediag.evaluate_model(model, run_dir, epoch, **options)
    finally:
        torch.set_num_threads(threads)
    return run_dir


def make_kind(kind: str, base: Path) -> Path:
    """The RUN_DIR of one kind (see the module docstring), evaluated, without its report."""
    path = base / kind
    if kind == "z2":
        return make_fake_run(path, epochs=(5, 30, 50), scenario="window", n_test=400)
    if kind == "projected":
        return make_fake_run(path, epochs=(5, 30, 50), latent_dim=8, n_test=400)
    if kind == "short":
        return make_fake_run(path, epochs=(1, 2, 3), n_test=300)
    if kind == "nogrid":
        run = make_fake_run(path, epochs=(5, 30, 50), n_test=300)
        _strip_grids(run)
        return run
    if kind == "fashion":
        return make_fake_run(path, epochs=(5, 30, 50), scenario="imbalance", dataset="fashion-mnist", n_test=300)
    if kind in ("external", "deterministic"):
        return _external(path, deterministic=kind == "deterministic")
    if kind == "study":
        from vaediag.evaluate.stages import EXPLORER_GRID, EXPLORER_PER_CLASS

        return make_fake_run(path, epochs=(5, 15, 30, 50, 100), scenario="healthy", n_test=10000, grid=15,
                             explorer_size=(EXPLORER_PER_CLASS, EXPLORER_GRID))
    raise ValueError(kind)


def built_kind(kind: str, tmp_path_factory) -> tuple[Run, Path, Path]:
    """(run, report.html, report.md) of ``kind``, built once per session (the study-like run with the example
    claims checked)."""
    if kind not in _BUILT:
        run_dir = make_kind(kind, tmp_path_factory.mktemp(f"kind-{kind}"))
        claims = None
        if kind == "study":
            from vaediag.claims import check_claims

            claims = check_claims(ROOT / "examples" / "claims.toml", Run(run_dir))
        html, md = report.build_report(Run(run_dir), claims=claims)
        _BUILT[kind] = (Run(run_dir), html, md)
    return _BUILT[kind]


def sweep_report(tmp_path_factory) -> tuple[list[Path], Path, Path]:
    """(the runs, report.html, report.md) of a sweep of latent 2 and 8, two seeds each."""
    if "sweep" not in _BUILT:
        from vaediag.report.sweep import build_sweep_report

        base = tmp_path_factory.mktemp("kind-sweep")
        runs = [make_fake_run(base / f"mlp_z{z}_s{s}", latent_dim=z, seed=s, epochs=(5, 30, 50), n_test=200,
                              write_artifacts=False) for z in (2, 8) for s in (0, 1)]
        info = {"grid": {"seeds": [0, 1], "latent_dim": [2, 8]}, "runs": [{"name": r.name, "status": "done"}
                                                                           for r in runs]}
        html, md = build_sweep_report(runs, html_path=base / "report.html", md_path=base / "report.md",
                                      summary_path=base / "summary.csv", figures_dir=base / "figures",
                                      sweep_info=info)
        _BUILT["sweep"] = (runs, html, md)
    return _BUILT["sweep"]
