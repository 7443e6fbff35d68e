"""Notebooks: an Evaluation, a Run and a Sweep show themselves (``_repr_html_``: the tables' own numbers, embedded
images), and examples/own-vae.ipynb (the classic VAE in its own loop) runs top to bottom under nbclient."""

from __future__ import annotations

import base64
import io
import re
from pathlib import Path

import numpy as np
import pytest

import vaediag
from vaediag import columns as C
from vaediag.evaluate.settings import EvalSettings
from vaediag.store.rundir import Run
from vaediag.store.sweepdir import DONE, FORMAT, Sweep

import external_models as X
from eval_fixtures import one_thread, random_classifier  # noqa: F401  (one_thread: autouse)
from fake_run import make_fake_run, shared_run_with_figures
from helpers import synthetic_digits

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "own-vae.ipynb"
IMAGE = re.compile(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


def _png_size(b64: str) -> tuple[int, int]:
    from matplotlib import image as mpimg

    array = mpimg.imread(io.BytesIO(base64.b64decode(b64)), format="png")
    return array.shape[1], array.shape[0]


def test_evaluate_model_returns_rows_that_display_the_epoch(tmp_path):
    ev = vaediag.evaluate_model(X.flat_vae(), tmp_path / "run", 2, decoder="logits", data=synthetic_digits(),
                                classifier=random_classifier(), settings=EvalSettings(samples=200, grid=3, iwae=2),
                                log=lambda *_: None)
    assert ev.epoch == 2 and repr(ev).startswith("Evaluation(epochs=[2], epoch=2")
    rows = ev.rows()
    assert list(rows.index) == [2, 0] and list(rows[C.SOURCE]) == [C.SOURCE_MODEL, C.SOURCE_DATA]
    html = ev._repr_html_()
    assert "vaediag: epoch 2" in html and "real data" in html
    assert f"{ev.metrics.loc[2, C.SILHOUETTE]:.4g}" in html and f"{ev.metrics.loc[2, C.KNN_ACCURACY]:.4g}" in html
    images = IMAGE.findall(html)
    assert len(images) == 1 and _png_size(images[0]) == (280, 280)  # the 10 x 10 prior sheet


def test_a_run_displays_its_numbers_and_overview(tmp_path_factory):
    run_dir, _ = shared_run_with_figures(tmp_path_factory)
    run = Run(run_dir)
    html = run._repr_html_()
    assert f"vaediag run {run.name}" in html and "history.csv" in html
    for epoch in run.epochs:
        assert f"epoch {epoch}" in html
    assert f"{run.metrics.loc[run.last, C.FRECHET]:.4g}" in html
    (overview,) = IMAGE.findall(html)
    assert base64.b64decode(overview) == (Path(run_dir) / "figures" / "overview.png").read_bytes()


def test_display_never_raises_on_a_folder_that_is_not_a_run(tmp_path):
    assert "has no config.json" in Run(tmp_path)._repr_html_()
    bare = tmp_path / "bare"
    bare.mkdir()
    Run(bare).write_config({"model": {"latent_dim": 2}})
    assert "not evaluated yet" in Run(bare)._repr_html_()


def test_a_sweep_displays_one_line_per_run(tmp_path):
    sweep = Sweep(tmp_path / "sweep")
    for name in ("a", "b"):
        make_fake_run(sweep.run_path(name), epochs=(3, 6), scenario="healthy", seed=ord(name))
    sweep.write({"format": FORMAT, "runs": {"a": {"status": DONE, "settings": {"seed": 0}},
                                            "b": {"status": "failed", "settings": {"seed": 1}}}})
    html = sweep._repr_html_()
    assert "2 runs" in html and "failed" in html
    knn = Run(sweep.run_path("a")).metrics.loc[6, C.KNN_ACCURACY]
    assert f"{knn:.4g}" in html


def test_the_example_notebook_is_shipped_executed():
    import nbformat

    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count for c in code), "run the notebook and save it with its outputs"
    assert sum("text/html" in o.get("data", {}) for c in code for o in c.outputs) >= 2
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
    source = "".join(c.source for c in code)
    assert "latent_dim" not in source and "x.view(-1, 784)" in source  # the classic model, unchanged


@pytest.mark.mnist
def test_the_example_notebook_runs_under_nbclient(tmp_path, mnist_root):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(NOTEBOOK, as_version=4)
    for cell in nb.cells:
        cell.outputs = [] if cell.cell_type == "code" else cell.get("outputs")
    nbclient.NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute()
    outputs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs]
    assert not [o for o in outputs if o.output_type == "error"]
    html = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    evaluation, run_html = html[0], html[1]
    assert "vaediag: epoch 3" in evaluation and len(IMAGE.findall(evaluation)) == 1
    assert "vaediag run notebook-vae" in run_html and "epoch 1" in run_html
    run = Run(tmp_path / "runs" / "notebook-vae")
    assert run.epochs == [1, 3] and list(run.history.index) == [1, 2, 3]
    assert run.config["model"]["input"] == "flat" and run.config["model"]["latent_dim"] == 20
    losses = run.history[C.TEST_LOSS].to_numpy()
    assert np.all(np.diff(losses) < 0)  # the classic VAE learns in its first three epochs
    assert f"{run.metrics.loc[3, C.SILHOUETTE]:.4g}" in evaluation
