"""Figures of an evaluated run, on fabricated runs (tests/fake_run.py): names, PNGs, shared limits, tables
behind the heat maps, and no pyplot state."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.colors import to_rgb
from PIL import Image

from vaediag import columns as C
from vaediag import plots
from vaediag.errors import RunDirError
from vaediag.plots import curves, grids, heatmaps, latent, overview
from vaediag.rundir import Evaluation, Run

from fake_run import DATA_SHARE, SHARED_EPOCHS as EPOCHS, make_fake_run, shared_run_with_figures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    return shared_run_with_figures(tmp_path_factory)


@pytest.fixture(scope="module")
def run(figures):
    return Run(figures[0])


def assert_png(path: Path) -> None:
    data = path.read_bytes()
    assert data[:8] == PNG_MAGIC and len(data) > 2000, path.name
    with Image.open(path) as im:
        assert im.width > 100 and im.height > 100, path.name
        darkest, brightest = im.convert("L").getextrema()
        assert darkest < brightest, f"{path.name} is blank"


# ------------------------------------------------------------------------------------------------ make_figures
def test_every_figure_is_a_png_with_a_stable_name(figures, run):
    run_dir, figs = figures
    expected = ([n for e in EPOCHS for n in (f"latent_epoch_{e:03d}", f"grid_linear_epoch_{e:03d}",
                                             f"grid_quantile_epoch_{e:03d}")]
                + ["separation", "entropy", "frechet", "loss", "class_share", "pair_confusion", "overview"])
    assert list(figs) == expected == plots.figure_names(EPOCHS)
    for name, path in figs.items():
        assert path == run.figure_path(name) and path.parent == run_dir / "figures"
        assert_png(path)
    assert sorted(p.name for p in run.figures_dir.iterdir()) == sorted(f"{n}.png" for n in expected)  # no temp files


def test_figures_draw_from_an_in_memory_run(tmp_path):
    disk = Run(make_fake_run(tmp_path / "disk", epochs=(2,)))
    ev = disk.evaluation
    memory = Run(tmp_path / "memory", config=disk.config, history=disk.history,
                 evaluation=Evaluation(ev.metrics, ev.per_class, ev.pairs, artifacts={2: dict(disk.artifacts(2))}))
    figs = plots.make_figures(memory, loss_mark_epoch=None)
    assert list(figs) == plots.figure_names([2])
    for path in figs.values():
        assert path.parent == tmp_path / "memory" / "figures"
        assert_png(path)


def test_no_pyplot_figures_are_left_open(figures):
    pyplot = sys.modules.get("matplotlib.pyplot")  # seaborn imports it; vaediag.plots never uses it
    if pyplot is not None:
        assert pyplot.get_fignums() == []


def test_importing_the_package_loads_no_matplotlib_and_no_torch():
    code = ("import sys, vaediag.plots; "
            "print(sorted(m for m in ('matplotlib', 'matplotlib.pyplot', 'seaborn', 'torch') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_package_uses_the_object_api_only():
    for source in Path(plots.__file__).parent.glob("*.py"):
        tree = ast.parse(source.read_text(encoding="utf-8"))
        imported = [alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names]
        imported += [f"{node.module}.{alias.name}" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
                     for alias in node.names]
        assert not [name for name in imported if "pyplot" in name], source.name
        calls = [ast.unparse(node.func) for node in ast.walk(tree) if isinstance(node, ast.Call)]
        assert "matplotlib.use" not in calls, source.name


def test_not_an_evaluated_run_is_a_one_line_error(tmp_path):
    for bad in (tmp_path / "missing", tmp_path):
        with pytest.raises(RunDirError) as exc:
            plots.make_figures(Run(bad))
        assert "\n" not in str(exc.value)
    run_dir = make_fake_run(tmp_path / "run", epochs=(1, 2), write_artifacts=False)
    with pytest.raises(RunDirError, match="epoch 1"):
        plots.make_figures(Run(run_dir))
    assert not Run(run_dir).figures_dir.exists()  # found before any figure is written


# ------------------------------------------------------------------------------------------------ latent
def test_latent_scatters_share_axis_limits_and_show_digits_and_windows(run):
    limits = latent.latent_limits(run)
    for epoch in run.epochs:
        ax = latent.latent_figure(run, epoch, limits).axes[0]
        assert (ax.get_xlim(), ax.get_ylim()) == limits
        digit_legend, window_legend = [a for a in ax.artists if a is not ax.get_legend()] + [ax.get_legend()]
        assert [t.get_text() for t in digit_legend.get_texts()] == [str(d) for d in range(10)]
        tab10 = [to_rgb(f"C{d}") for d in range(10)]
        assert [to_rgb(h.get_markerfacecolor()) for h in digit_legend.legend_handles] == tab10
        assert [t.get_text() for t in window_legend.get_texts()] == ["linear grid [-1, 1]²",
                                                                    "quantile grid [-1.64, 1.64]²"]
        points = ax.collections[0].get_offsets()
        assert len(points) == len(run.artifacts(epoch)["test_mu"])


def test_latent_limits_are_robust_and_show_both_windows(tmp_path):
    run = Run(make_fake_run(tmp_path / "run", epochs=(1, 2), scenario="window"))
    arrays = dict(run.read_artifact_file(2))
    arrays["test_mu"] = arrays["test_mu"].copy()
    arrays["test_mu"][0] = [1e6, -1e6]  # one absurd outlier must not stretch the axes
    ev = run.evaluation  # published through Run (a file written by hand no longer matches the manifest)
    run.write_evaluation(Evaluation(ev.metrics, ev.per_class, ev.pairs, ev.settings, ev.timings, {2: arrays}))
    run = Run(run.path)
    (x0, x1), (y0, y1) = latent.latent_limits(run)
    qspan = float(arrays["qgrid_span"])
    assert x0 < -qspan and x1 > qspan and y0 < -qspan and y1 > qspan
    assert max(abs(x0), x1, abs(y0), y1) < 10
    pooled = np.concatenate([run.artifacts(e)["test_mu"][:, :2] for e in run.epochs])
    inside = np.mean((pooled[:, 0] >= x0) & (pooled[:, 0] <= x1) & (pooled[:, 1] >= y0) & (pooled[:, 1] <= y1))
    assert inside > 0.98


@pytest.mark.parametrize("latent_dim", [1, 3])
def test_latent_scatter_for_other_latent_sizes(tmp_path, latent_dim):
    run = Run(make_fake_run(tmp_path / "run", epochs=(2,), latent_dim=latent_dim))
    ax = latent.latent_figure(run, 2).axes[0]
    points = ax.collections[0].get_offsets()
    if latent_dim == 1:
        assert ax.get_ylabel() == "(1-D codes)" and np.all(points[:, 1] == 0)
    else:
        assert "dims 0, 1 of 3" in ax.get_title()


# ------------------------------------------------------------------------------------------------ grids
def test_grid_is_tiled_by_make_grid_row_major():
    images = np.zeros((9, 28, 28), dtype=np.uint8)
    images[1] = 255  # first row, second column
    t = grids.grid_tensor(images, padding=2)
    assert tuple(t.shape) == (3, 3 * 30 + 2, 3 * 30 + 2)
    tile = t[0, 2:30, 32:60]
    assert float(tile.min()) == 1.0 and float(t[0, 2:30, 2:30].max()) == 0.0


def test_grid_page_holds_the_n_by_n_tiles_pixel_exact(figures, run):
    side = 5  # make_fake_run's grid
    tiles = side * (28 + grids.TILE_PADDING) + grids.TILE_PADDING
    for kind in plots.GRID_KINDS:
        with Image.open(figures[1][plots.grid_name(run.last, kind)]) as page:
            assert page.mode == "L" and page.width >= tiles * grids.GRID_SCALE
            assert page.height == tiles * grids.GRID_SCALE + grids.CAPTION_BAND
            pixels = np.asarray(page)
        expected = np.round(grids.grid_tensor(run.artifacts(run.last)[f"grid_{kind}"])[0].numpy() * 255)
        expected = np.kron(expected, np.ones((grids.GRID_SCALE, grids.GRID_SCALE))).astype(np.uint8)
        left = (page.width - expected.shape[1]) // 2
        assert np.array_equal(pixels[grids.CAPTION_BAND:, left:left + expected.shape[1]], expected)
    title = grids.grid_title(run, run.last, "quantile")
    assert title.startswith(f"quantile grid 5x5, z in [-1.64, 1.64]^2, epoch {run.last}, class entropy")
    with pytest.raises(ValueError, match="grid kind"):
        grids.grid_images(run, run.last, "radial")


# ------------------------------------------------------------------------------------------------ curves
def test_curves_plot_the_metric_values_and_the_references(run):
    ax = curves.curve_figure(curves.draw_separation, run).axes[0]
    drawn = {line.get_label(): line for line in ax.get_legend().get_lines()}
    assert set(drawn) == {"silhouette [-1, 1]", "kNN accuracy [0, 1]"}
    data_lines = [line for line in ax.lines if len(line.get_xdata())]
    series = {tuple(np.round(line.get_ydata(), 9)) for line in data_lines}
    for column in (C.SILHOUETTE, C.KNN_ACCURACY):
        assert tuple(np.round([run.value(column, e) for e in run.epochs], 9)) in series
    assert all(list(line.get_xdata()) == run.epochs for line in data_lines)

    ax = curves.curve_figure(curves.draw_frechet, run).axes[0]
    reference = [line for line in ax.lines if line.get_label() == "real vs real (two halves)"]
    assert len(reference) == 1 and reference[0].get_ydata()[0] == run.reference(C.FRECHET)
    ax = curves.curve_figure(curves.draw_entropy, run).axes[0]
    assert ax.get_ylim()[1] == 1.05
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["prior samples", "linear grid", "quantile grid",
                                                                  "real test digits"]


@pytest.mark.parametrize("mark_epoch, marked", [(30, True), (None, False), (80, False)])
def test_loss_curve_marks_an_epoch_only_when_training_ran_past_it(run, mark_epoch, marked):
    ax = curves.curve_figure(curves.draw_loss, run, mark_epoch=mark_epoch).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == ["train", "test"]
    assert (f"epoch {mark_epoch}" in labels) == marked
    train = next(line for line in ax.lines if len(line.get_xdata()) == len(run.history))
    assert np.allclose(train.get_ydata(), run.history[C.TRAIN_LOSS])
    checkpoint_lines = [line for line in ax.lines if line.get_linestyle() == ":"]
    assert sorted(line.get_xdata()[0] for line in checkpoint_lines) == run.epochs


# ------------------------------------------------------------------------------------------------ heat maps
def test_class_share_table_has_checkpoint_rows_then_the_real_test_shares(run):
    table = heatmaps.class_share_table(run, C.CLASS_GRID_SHARE)
    assert list(table.index) == [str(e) for e in run.epochs] + ["data"] and list(table.columns) == list(range(10))
    assert np.allclose(table.loc["data"], DATA_SHARE)
    assert (table.loc[str(run.last), [0, 1]] == 0).all()  # the "window" grid misses digits 0 and 1
    model = run.per_class[run.per_class[C.SOURCE] == C.SOURCE_MODEL]
    first = model[model[C.EPOCH] == run.first].set_index(C.DIGIT)[C.CLASS_GRID_SHARE]
    assert np.allclose(table.loc[str(run.first)], first.sort_index())


def test_pair_matrix_is_symmetric_with_an_empty_diagonal(run):
    matrix = heatmaps.pair_matrix(run, run.first).to_numpy()
    assert np.isnan(np.diag(matrix)).all()
    off = ~np.eye(10, dtype=bool)
    assert np.array_equal(matrix[off], matrix.T[off])
    row = run.pairs[(run.pairs[C.EPOCH] == run.first) & (run.pairs[C.DIGIT_A] == 4) & (run.pairs[C.DIGIT_B] == 9)]
    assert matrix[9, 4] == row[C.CONFUSION_RATE].iloc[0]


def test_heat_maps_annotate_percent_and_share_one_colour_scale(run):
    fig = heatmaps.pair_confusion_figure(run)
    left, right = fig.axes[:2]
    for ax, epoch in ((left, run.first), (right, run.last)):
        texts = [t.get_text() for t in ax.texts]
        assert len(texts) == 90  # the 10 x 10 cells less the blank diagonal
        rate = heatmaps.pair_matrix(run, epoch).at[4, 9]
        assert f"{100 * rate:.0f}" in texts
    assert left.collections[0].get_clim() == right.collections[0].get_clim() == (0, 100 * heatmaps.pair_vmax(run))
    fig = heatmaps.class_share_figure(run)
    meshes = [ax.collections[0] for ax in fig.axes if ax.get_title().startswith("class share")]
    assert len(meshes) == 3 and len({m.get_clim() for m in meshes}) == 1


# ------------------------------------------------------------------------------------------------ overview
def test_overview_composes_the_named_figures(figures, run):
    rows = overview.overview_rows(run)
    assert rows[0] == [plots.latent_name(run.first), plots.latent_name(run.last), plots.grid_name(run.last, "linear")]
    assert {name for row in rows for name in row} <= set(figures[1])
    with Image.open(figures[1][plots.FIG_OVERVIEW]) as page:
        assert page.width == overview.OVERVIEW_WIDTH and page.height > 1000
    assert run.name in overview.overview_title(run) and "checkpoints 5, 30, 50" in overview.overview_title(run)
