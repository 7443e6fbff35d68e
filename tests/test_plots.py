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
from vaediag.plots import curves, grids, heatmaps, latent, output, overview
from vaediag.store.rundir import Evaluation, Run

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
    expected = ([n for e in EPOCHS for n in (f"prior_epoch_{e:03d}", f"grid_linear_epoch_{e:03d}",
                                             f"grid_quantile_epoch_{e:03d}", f"recon_epoch_{e:03d}")]
                + ["latent_all", "separation", "entropy", "frechet", "loss", "class_share", "pair_confusion",
                   "latent_all_narrow", "class_share_narrow", "pair_confusion_narrow", "overview"])
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


def test_runs_evaluated_before_the_digit_sheets_get_every_other_figure(tmp_path):
    run = Run(make_fake_run(tmp_path / "run", epochs=(2, 4), sheets=False))
    figs = plots.make_figures(run)
    assert list(figs) == [n for n in plots.figure_names([2, 4]) if not n.startswith(("prior_", "recon_"))]
    for path in figs.values():
        assert_png(path)


# ------------------------------------------------------------------------------------------------ legibility
def matplotlib_figures(run):
    """Every matplotlib figure make_figures draws, by name (drawn again, not read back from PNG)."""
    return {plots.FIG_LATENT: latent.latent_all_figure(run), plots.FIG_SEPARATION: curves.separation_figure(run),
            **{name: curves.curve_figure(draw, run, **options) for name, draw, options in (
                (plots.FIG_ENTROPY, curves.draw_entropy, {}), (plots.FIG_FRECHET, curves.draw_frechet, {}),
                (plots.FIG_LOSS, curves.draw_loss, {"mark_epoch": 30}))},
            plots.FIG_CLASS_SHARE: heatmaps.class_share_figure(run), plots.FIG_PAIRS: heatmaps.pair_confusion_figure(run),
            plots.narrow_name(plots.FIG_LATENT): latent.latent_all_figure(run, narrow=True),
            plots.narrow_name(plots.FIG_CLASS_SHARE): heatmaps.class_share_figure(run, narrow=True),
            plots.narrow_name(plots.FIG_PAIRS): heatmaps.pair_confusion_figure(run, narrow=True)}


def drawn_texts(ax) -> list:
    """The texts an axes draws: titles, axis labels, annotations, its legend and the tick labels in view."""
    items = [ax.title, ax.xaxis.label, ax.yaxis.label, *ax.texts]
    items += [ax.get_legend()] if ax.get_legend() is not None else []
    for axis, (low, high) in ((ax.xaxis, sorted(ax.get_xlim())), (ax.yaxis, sorted(ax.get_ylim()))):
        for tick in axis.get_major_ticks():
            if low - 1e-9 <= tick.get_loc() <= high + 1e-9:
                items += [label for label in (tick.label1, tick.label2) if label.get_visible()]
    return [item for item in items if item.get_visible() and (not hasattr(item, "get_text") or item.get_text().strip())]


def outside_texts(fig) -> list[str]:
    """Texts (and legends) of a matplotlib figure that reach beyond its edges (cut off in the PNG)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()  # places the tick labels and legends
    renderer = canvas.get_renderer()
    page = fig.bbox.padded(1)  # one pixel of tolerance
    items = [*fig.texts, *fig.legends] + [item for ax in fig.axes for item in drawn_texts(ax)]
    extents = [(item, item.get_window_extent(renderer)) for item in items]
    return [str(item) for item, box in extents if not (page.contains(*box.p0) and page.contains(*box.p1))]


def test_every_figure_text_is_at_least_10_css_pixels_where_the_report_shows_it(figures, run):
    """A figure is shown at 1/DISPLAY_SCALE of its pixels and never wider than MAX_WIDTH_IN * 100 CSS pixels
    (what the page holds at 1400 px), so a text of f points is f * DPI / 72 / DISPLAY_SCALE CSS pixels."""
    from matplotlib.text import Text

    assert output.DPI == 2 * 100 and output.DISPLAY_SCALE == 2  # 2x resolution, shown at 100 CSS px per inch
    assert output.css_px(output.MIN_FONT_PT) >= output.MIN_TEXT_PX == 10
    for name, fig in matplotlib_figures(run).items():
        width_in, _ = fig.get_size_inches()
        assert width_in <= output.MAX_WIDTH_IN, name
        with Image.open(figures[1][name]) as png:
            assert png.width == round(width_in * output.DPI), name  # the PNG is drawn at DPI
        texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
        assert len(texts) > 5, name
        small = {(t.get_text(), t.get_fontsize()) for t in texts if output.css_px(t.get_fontsize()) < 10}
        assert not small, (name, small)
        assert not outside_texts(fig), name
    assert grids.CAPTION_FONT_PX / output.DISPLAY_SCALE >= 10  # the PIL pages' captions
    assert overview.TITLE_FONT_SIZE / output.DISPLAY_SCALE >= 10


def test_on_a_phone_every_figure_shown_keeps_its_text_at_9_css_pixels(figures, run):
    """At 420 px a figure is scaled to the room the page leaves (NARROW_ROOM_PX): its smallest text, recorded in
    the PNG, times that scale stays at 9 px or more. Figures too wide for that are replaced there by their narrow
    rendering; the overview is not shown on a phone."""
    shown = {name for name in figures[1] if plots.narrow_name(name) not in figures[1]} - {plots.FIG_OVERVIEW}
    assert {plots.narrow_name(n) for n in plots.NARROW_FIGURES} <= shown
    for name in sorted(shown):
        data = figures[1][name].read_bytes()
        with Image.open(figures[1][name]) as png:
            width = png.width
        css_width = width / output.DISPLAY_SCALE
        scale = min(1.0, output.NARROW_ROOM_PX / css_width)
        min_text = output.png_min_text(data)
        assert min_text == min_text, f"{name} records no smallest text"
        assert min_text / output.DISPLAY_SCALE * scale >= output.NARROW_MIN_TEXT_PX, (name, min_text, css_width)
    for name in plots.NARROW_FIGURES:  # the narrow rendering is itself no wider than a phone's room
        with Image.open(figures[1][plots.narrow_name(name)]) as png:
            assert png.width / output.DISPLAY_SCALE <= output.NARROW_ROOM_PX, name


def test_every_png_records_its_smallest_text(figures, run):
    """The recorded size is the smallest font of the figure's texts (computed again from the figure here) in
    image pixels; a PIL page records its caption font; the overview the smallest of its parts as pasted."""
    from matplotlib.text import Text

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    for name, fig in matplotlib_figures(run).items():
        FigureCanvasAgg(fig).draw()
        sizes = [t.get_fontsize() for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
        recorded = output.png_min_text(figures[1][name].read_bytes())
        assert recorded == pytest.approx(min(sizes) * output.DPI / 72, abs=0.01), name
    page = figures[1][plots.grid_name(run.last, "linear")]
    with Image.open(page) as png:
        assert output.png_min_text(page.read_bytes()) == grids.caption_px(png.width)
    assert output.png_min_text(figures[1][plots.FIG_OVERVIEW].read_bytes()) > 0


def test_the_overview_keeps_the_figures_at_their_size(figures, run):
    names = [name for row in overview.overview_rows(run) for name in row]
    assert names == [plots.FIG_LATENT, plots.FIG_SEPARATION, plots.FIG_ENTROPY, plots.FIG_FRECHET, plots.FIG_LOSS,
                     plots.FIG_CLASS_SHARE, plots.FIG_PAIRS]
    for row in overview.overview_rows(run):  # every row fits unscaled, so its texts stay legible
        widths = [Image.open(figures[1][name]).width for name in row]
        assert sum(widths) + overview.GAP * (len(row) - 1) <= overview.OVERVIEW_WIDTH, row
    with Image.open(figures[1][plots.FIG_OVERVIEW]) as page:
        assert page.width == overview.OVERVIEW_WIDTH == output.MAX_WIDTH_IN * output.DPI
        heights = [max(Image.open(figures[1][name]).height for name in row) for row in overview.overview_rows(run)]
        assert page.height == overview.TITLE_BAND + sum(h + overview.GAP for h in heights)
        pixels = np.asarray(page.convert("L"))
    with Image.open(figures[1][plots.FIG_LATENT]) as fig:  # pasted pixel for pixel, not resampled
        latent_pixels = np.asarray(fig.convert("L"))
    left = (overview.OVERVIEW_WIDTH - latent_pixels.shape[1]) // 2
    top = overview.TITLE_BAND
    assert np.array_equal(pixels[top:top + latent_pixels.shape[0], left:left + latent_pixels.shape[1]], latent_pixels)
    assert run.name in overview.overview_title(run) and "checkpoints 5, 30, 50" in overview.overview_title(run)


# ------------------------------------------------------------------------------------------------ latent
def test_latent_panels_share_axes_in_one_row_with_one_legend(run):
    limits = latent.latent_limits(run)
    fig = latent.latent_all_figure(run, limits)
    axes = fig.axes
    assert len(axes) == len(run.epochs)
    boxes = [ax.get_position() for ax in axes]
    assert len({round(b.y0, 6) for b in boxes}) == 1  # one row
    assert all(a.x1 < b.x0 for a, b in zip(boxes, boxes[1:]))  # side by side, in epoch order
    for ax, epoch in zip(axes, run.epochs):
        assert (ax.get_xlim(), ax.get_ylim()) == limits
        assert ax.get_title().startswith(f"epoch {epoch}\n")
        points = ax.collections[0].get_offsets()
        assert len(points) == len(run.artifacts(epoch)["test_mu"])
        assert [p.get_width() for p in ax.patches] == pytest.approx([2.0, 2 * 1.6448536269514722])
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == [str(d) for d in range(10)] + [
        "linear grid [-1, 1]²", "quantile grid [-1.64, 1.64]²"]
    tab10 = [to_rgb(f"C{d}") for d in range(10)]
    assert [to_rgb(h.get_color()) for h in legend.legend_handles[:10]] == tab10


@pytest.mark.parametrize("epochs", [(1,), tuple(range(1, 13))])
def test_latent_row_fits_the_page_for_any_number_of_checkpoints(tmp_path, epochs):
    run = Run(make_fake_run(tmp_path / "run", epochs=epochs, n_test=40, sheets=False))
    fig = latent.latent_all_figure(run)
    width, height = fig.get_size_inches()
    assert width <= output.MAX_WIDTH_IN and len(fig.axes) == len(epochs)
    boxes = [ax.get_position() for ax in fig.axes]
    assert all(b.x0 >= 0 and b.x1 <= 1 and b.y0 >= 0 and b.y1 <= 1 for b in boxes)
    assert len({round(b.y0, 6) for b in boxes}) == (1 if len(epochs) <= 7 else 2)  # a second row only when needed
    assert min(b.width * width for b in boxes) >= latent.PANEL_IN[0]
    assert not outside_texts(fig)
    renderer = fig.canvas.get_renderer()
    titles = [ax.title.get_window_extent(renderer) for ax in fig.axes]
    labels = [ax.xaxis.label.get_window_extent(renderer) for ax in fig.axes]
    assert not [(t, x) for t in titles for x in labels if t.overlaps(x)]  # rows do not collide


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
    fig = latent.latent_all_figure(run)
    ax = fig.axes[0]
    points = ax.collections[0].get_offsets()
    if latent_dim == 1:
        assert ax.get_ylabel() == "(1-D codes)" and np.all(points[:, 1] == 0)
    else:  # more than 2 dimensions: the PCA projection of the codes, no grid windows
        assert (ax.get_xlabel(), ax.get_ylabel()) == ("PC1 of μ", "PC2 of μ")
        assert "first two principal components" in fig.texts[0].get_text() and not ax.patches


def test_latent_dim_8_shows_pc1_pc2_of_mu_and_the_grids_as_slices(tmp_path):
    from sklearn.decomposition import PCA

    run = Run(make_fake_run(tmp_path / "run", epochs=(2, 4), latent_dim=8, n_test=60))
    fig = latent.latent_all_figure(run)
    for ax, epoch in zip(fig.axes, run.epochs):
        mu = np.asarray(run.artifacts(epoch)["test_mu"], dtype=float)
        expected = PCA(n_components=2).fit(mu)
        points = np.asarray(ax.collections[0].get_offsets())  # drawn in a shuffled order: compare as sets
        got = PCA(n_components=2).fit(points)  # the projection keeps the variance of the first two components
        assert got.explained_variance_ == pytest.approx(expected.explained_variance_, rel=1e-6)
        assert np.var(points, axis=0, ddof=1).sum() == pytest.approx(expected.explained_variance_.sum(), rel=1e-6)
        assert not ax.patches and "in linear grid" not in ax.get_title()
    assert fig.axes[0].get_xlabel() == "PC1 of μ" and "8-D" in fig.texts[0].get_text()
    names = set(plots.make_figures(run))
    assert {plots.prior_name(e) for e in run.epochs} <= names
    # the grids the verdict reads are shown, titled as what they are: a slice through dims 0 and 1
    assert {plots.grid_name(e, k) for e in run.epochs for k in plots.GRID_KINDS} <= names
    assert "z0, z1 in [-1, 1]^2, the other 6 dims at 0" in grids.grid_title(run, 2, "linear")


# ------------------------------------------------------------------------------------------------ grids
def test_grid_is_tiled_by_make_grid_row_major():
    images = np.zeros((9, 28, 28), dtype=np.uint8)
    images[1] = 255  # first row, second column
    t = grids.grid_tensor(images, padding=2)
    assert tuple(t.shape) == (3, 3 * 30 + 2, 3 * 30 + 2)
    tile = t[0, 2:30, 32:60]
    assert float(tile.min()) == 1.0 and float(t[0, 2:30, 2:30].max()) == 0.0


def page_tiles(path: Path, images: np.ndarray, nrow: int | None = None) -> None:
    """The page at ``path`` shows ``images`` tiled by make_grid, upsampled GRID_SCALE x, pixel for pixel, at the
    bottom, centred, under its caption band."""
    expected = np.round(grids.grid_tensor(images, nrow=nrow)[0].numpy() * 255)
    expected = np.kron(expected, np.ones((grids.GRID_SCALE, grids.GRID_SCALE))).astype(np.uint8)
    with Image.open(path) as page:
        assert page.mode == "L" and page.width >= expected.shape[1]
        pixels = np.asarray(page)
    band = pixels.shape[0] - expected.shape[0]
    line = grids.caption_line(expected.shape[1])
    assert band >= line + grids.CAPTION_MARGIN and (band - grids.CAPTION_MARGIN) % line == 0
    left = (pixels.shape[1] - expected.shape[1]) // 2
    assert np.array_equal(pixels[band:, left:left + expected.shape[1]], expected)


def test_grid_page_holds_the_n_by_n_tiles_pixel_exact(figures, run):
    for kind in plots.GRID_KINDS:
        page_tiles(figures[1][plots.grid_name(run.last, kind)], run.artifacts(run.last)[f"grid_{kind}"])
    title = grids.grid_title(run, run.last, "quantile")
    assert title.startswith(f"quantile grid 5x5, z in [-1.64, 1.64]^2, epoch {run.last}, class entropy")
    with pytest.raises(ValueError, match="grid kind"):
        grids.grid_images(run, run.last, "radial")


def test_prior_sheet_and_reconstruction_pages_show_the_stored_digits(figures, run):
    arrays = run.artifacts(run.first)
    assert arrays["prior_sheet"].shape == (100, 28, 28)
    page_tiles(figures[1][plots.prior_name(run.first)], arrays["prior_sheet"], nrow=10)
    originals, recons = arrays["recon_pairs"]
    pairs = np.concatenate([originals, recons], axis=2)  # each digit left of its reconstruction
    page_tiles(figures[1][plots.recon_name(run.first)], pairs, nrow=10)
    with Image.open(figures[1][plots.recon_name(run.first)]) as page:
        assert page.width == (10 * (56 + grids.TILE_PADDING) + grids.TILE_PADDING) * grids.GRID_SCALE  # 10 pairs a row


def test_long_page_captions_wrap_to_the_tiles_width():
    page = grids.tile_page(np.zeros((4, 28, 28), np.uint8), "a caption far longer than two tiles of digits " * 3)
    assert page.width == (2 * 30 + 2) * grids.GRID_SCALE  # not widened by the caption
    assert page.height > (2 * 30 + 2) * grids.GRID_SCALE + 3 * grids.caption_line(page.width)


# ------------------------------------------------------------------------------------------------ curves
def test_curves_plot_the_metric_values_and_the_references(run):
    fig = curves.separation_figure(run)  # silhouette and kNN accuracy, each on its own axes and scale
    assert [ax.get_ylabel() for ax in fig.axes] == ["silhouette", "kNN accuracy"]
    assert fig.axes[0].get_shared_x_axes().joined(fig.axes[0], fig.axes[1])
    for ax, column in zip(fig.axes, (C.SILHOUETTE, C.KNN_ACCURACY)):
        (line,) = [line for line in ax.lines if len(line.get_xdata())]
        assert list(line.get_xdata()) == run.epochs
        assert np.allclose(line.get_ydata(), [run.value(column, e) for e in run.epochs])
        low, high = ax.get_ylim()
        assert high - low < 2 * np.ptp(line.get_ydata())  # its own scale: the curve fills the axes

    ax = curves.curve_figure(curves.draw_frechet, run).axes[0]
    reference = [line for line in ax.lines if line.get_label() == "real vs real (two halves)"]
    assert len(reference) == 1 and reference[0].get_ydata()[0] == run.reference(C.FRECHET)
    fig = curves.curve_figure(curves.draw_entropy, run)
    ax = fig.axes[0]
    assert ax.get_ylim()[1] == 1.05
    (legend,) = fig.legends
    assert [t.get_text() for t in legend.get_texts()] == ["prior samples", "linear grid", "quantile grid",
                                                          "real test digits"]


@pytest.mark.parametrize("draw", [curves.draw_entropy, curves.draw_frechet, curves.draw_loss])
def test_curve_legends_sit_below_the_axes_and_epoch_ticks_are_whole(run, draw):
    """No legend covers the data (the diversity legend once hid the lines near zero); epochs tick as integers."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = curves.curve_figure(draw, run)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    renderer = canvas.get_renderer()
    ax = fig.axes[0]
    assert ax.get_legend() is None
    (legend,) = fig.legends
    axes_box = ax.get_tightbbox(renderer)
    assert legend.get_window_extent(renderer).y1 <= axes_box.y0 + 1  # wholly below the axes and its labels
    ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_epoch_ticks_are_whole_on_a_three_epoch_run(tmp_path):
    run = Run(make_fake_run(tmp_path / "run", epochs=(1, 2, 3), n_test=60))
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    for fig in (curves.separation_figure(run), curves.curve_figure(curves.draw_loss, run)):
        FigureCanvasAgg(fig).draw()
        for ax in fig.axes:
            ticks = [t for t in ax.get_xticks() if ax.get_xlim()[0] <= t <= ax.get_xlim()[1]]
            assert ticks and all(float(t).is_integer() for t in ticks), ticks


@pytest.mark.parametrize("mark_epoch, marked", [(30, True), (None, False), (80, False)])
def test_loss_curve_marks_an_epoch_only_when_training_ran_past_it(run, mark_epoch, marked):
    fig = curves.curve_figure(curves.draw_loss, run, mark_epoch=mark_epoch)
    ax = fig.axes[0]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert labels[:3] == ["train (running)", "test", "train (eval mode)"]
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
    first = model[model[C.EPOCH] == run.first].set_index(C.CLASS)[C.CLASS_GRID_SHARE]
    assert np.allclose(table.loc[str(run.first)], first.sort_index())


def test_pair_matrix_is_symmetric_with_an_empty_diagonal(run):
    matrix = heatmaps.pair_matrix(run, run.first).to_numpy()
    assert np.isnan(np.diag(matrix)).all()
    off = ~np.eye(10, dtype=bool)
    assert np.array_equal(matrix[off], matrix.T[off])
    row = run.pairs[(run.pairs[C.EPOCH] == run.first) & (run.pairs[C.CLASS_A] == 4) & (run.pairs[C.CLASS_B] == 9)]
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
