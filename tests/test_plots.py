"""Figures of an evaluated run, on fabricated result files (tests/fake_run.py): names, PNGs, shared limits."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from vaediag import columns as C
from vaediag import plots
from vaediag.errors import RunDirError

from fake_run import SHARED_EPOCHS as EPOCHS, make_fake_run, shared_run_with_figures

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def figures(tmp_path_factory):
    return shared_run_with_figures(tmp_path_factory)


def test_every_figure_is_a_nonempty_png_with_a_stable_name(figures):
    run, figs = figures
    expected = ([n for e in EPOCHS for n in (f"latent_epoch_{e:03d}", f"grid_linear_epoch_{e:03d}",
                                             f"grid_quantile_epoch_{e:03d}")]
                + ["separation", "entropy", "frechet", "loss", "class_share", "pair_confusion", "overview"])
    assert list(figs) == expected == plots.figure_names(EPOCHS)
    for name, path in figs.items():
        assert path == run / "figures" / f"{name}.png"
        data = path.read_bytes()
        assert data[:8] == PNG_MAGIC and len(data) > 2000, name
        with Image.open(path) as im:
            assert im.width > 100 and im.height > 100, name
            extrema = im.convert("L").getextrema()
            assert extrema[0] < extrema[1], f"{name} is blank"
    assert sorted(p.name for p in (run / "figures").iterdir()) == sorted(f"{n}.png" for n in expected)


def test_grid_is_tiled_by_make_grid_row_major():
    images = np.zeros((9, 28, 28), dtype=np.uint8)
    images[1] = 255  # first row, second column
    t = plots.grid_tensor(images, padding=2)
    assert tuple(t.shape) == (3, 3 * 30 + 2, 3 * 30 + 2)
    tile = t[0, 2:30, 32:60]
    assert float(tile.min()) == 1.0 and float(t[0, 2:30, 2:30].max()) == 0.0


def test_latent_limits_are_shared_robust_and_show_both_windows(tmp_path):
    run_dir = make_fake_run(tmp_path / "run", epochs=(1, 2), scenario="window")
    mu = np.load(run_dir / "eval" / "epoch_002.npz")["test_mu"].copy()
    mu[0] = [1e6, -1e6]  # one absurd outlier must not stretch the axes
    art = dict(np.load(run_dir / "eval" / "epoch_002.npz"))
    art["test_mu"] = mu
    np.savez(run_dir / "eval" / "epoch_002.npz", **art)
    run = plots.load_run(run_dir)
    (x0, x1), (y0, y1) = plots.latent_limits(run)
    qspan = float(art["qgrid_span"])
    assert x0 < -qspan and x1 > qspan and y0 < -qspan and y1 > qspan
    assert max(abs(x0), x1, abs(y0), y1) < 10
    pooled = np.concatenate([run.artifacts(e)["test_mu"][:, :2] for e in run.epochs])
    inside = np.mean((pooled[:, 0] >= x0) & (pooled[:, 0] <= x1) & (pooled[:, 1] >= y0) & (pooled[:, 1] <= y1))
    assert inside > 0.98


@pytest.mark.parametrize("latent_dim", [1, 3])
def test_latent_scatter_for_other_latent_sizes(tmp_path, latent_dim):
    run = plots.load_run(make_fake_run(tmp_path / "run", epochs=(2,), latent_dim=latent_dim))
    path = plots.plot_latent(run, 2, tmp_path / "latent.png")
    assert path.read_bytes()[:8] == PNG_MAGIC


def test_load_run_reads_the_epoch_column_and_reference_row(figures):
    run = plots.load_run(figures[0])
    assert run.epochs == list(EPOCHS) and run.first == 5 and run.last == 50 and run.middle == 30
    assert list(run.metrics.index) == [5, 30, 50, C.DATA_ROW]
    assert np.isfinite(run.reference(C.FRECHET)) and np.isnan(run.reference(C.SILHOUETTE))
    assert set(run.artifacts(30)) >= {"test_mu", "test_labels", "grid_linear", "grid_quantile", "grid_span",
                                     "qgrid_span", "prior_labels"}


def test_not_an_evaluated_run_is_a_one_line_error(tmp_path):
    for bad in (tmp_path / "missing", tmp_path):
        with pytest.raises(RunDirError) as exc:
            plots.make_figures(bad)
        assert "\n" not in str(exc.value)
    run = make_fake_run(tmp_path / "run", epochs=(1, 2), write_artifacts=False)
    with pytest.raises(RunDirError, match="epoch_001.npz"):
        plots.make_figures(run)
    (run / "metrics.csv").write_text("")
    with pytest.raises(RunDirError, match="cannot read"):
        plots.load_run(run)
