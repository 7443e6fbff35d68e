"""Figures of an evaluated run: PNG files in ``RUN_DIR/figures/``, one file per plot plus an overview.

Everything is drawn from what ``vaediag evaluate`` wrote (metrics.csv, per_class.csv, pairs.csv,
history.csv and the per-checkpoint artifacts ``eval/epoch_XXX.npz``); nothing is recomputed here.

Figure names (keys of :func:`make_figures`, file ``figures/<name>.png``) are stable:

==============================  ==================================================================
``latent_epoch_XXX``            test-set posterior means (dims 0, 1) at checkpoint XXX, one colour
                                per digit (tab10, legend 0-9); the same axis limits for every epoch;
                                the linear grid window [-s, s]^2 (solid) and the quantile window
                                (dashed) drawn as rectangles
``grid_linear_epoch_XXX``       the n x n decoded linear grid at checkpoint XXX (torchvision make_grid)
``grid_quantile_epoch_XXX``     the n x n decoded Gaussian-quantile grid at checkpoint XXX
``separation``                  silhouette and kNN accuracy over checkpoint epochs
``entropy``                     normalised class entropy of prior, linear-grid and quantile-grid
                                samples over epochs; real test digits as a horizontal line
``frechet``                     Fréchet distance over epochs; real-vs-real reference as a line
``loss``                        train and test loss (nats/sample) for every epoch of history.csv
``class_share``                 heat maps epoch x digit of the class shares of prior samples,
                                linear-grid and quantile-grid samples (real test shares as last row)
``pair_confusion``              heat maps digit x digit of the kNN pair confusion rate at the first
                                and the last checkpoint
``overview``                    one page composed of the latent codes at the first and the last
                                checkpoint, the last linear grid, the four curves and both heat maps
==============================  ==================================================================

:func:`load_run` is the one reader of a run's result files; :mod:`vaediag.report` and
:mod:`vaediag.compare` use it too.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.patches import Rectangle  # noqa: E402

from . import atomic, columns as C  # noqa: E402
from .errors import RunDirError  # noqa: E402

FIGURES_DIR = "figures"
EVAL_DIR = "eval"
METRICS_FILE, PER_CLASS_FILE, PAIRS_FILE = "metrics.csv", "per_class.csv", "pairs.csv"
HISTORY_FILE, CONFIG_FILE, EVALUATION_FILE = "history.csv", "config.json", "evaluation.json"

FIG_SEPARATION = "separation"
FIG_ENTROPY = "entropy"
FIG_FRECHET = "frechet"
FIG_LOSS = "loss"
FIG_CLASS_SHARE = "class_share"
FIG_PAIRS = "pair_confusion"
FIG_OVERVIEW = "overview"
GRID_KINDS = ("linear", "quantile")  # artifact arrays grid_linear / grid_quantile

DPI = 100
PALETTE = "tab10"  # categorical: one fixed colour per digit
LIMIT_QUANTILES = (0.005, 0.995)  # robust axis limits of the latent scatter, over all epochs' mu
LIMIT_MARGIN = 0.08  # fraction of the range added on each side
TRAIN_LENGTH_EPOCH = 30  # marked on the loss curve (the report asks whether training past it helps)


def latent_name(epoch: int) -> str:
    return f"latent_epoch_{int(epoch):03d}"


def grid_name(epoch: int, kind: str) -> str:
    return f"grid_{kind}_epoch_{int(epoch):03d}"


# ============================================================================================ reading
def _read_csv(path: Path, **kw) -> pd.DataFrame:
    try:
        return pd.read_csv(path, **kw)
    except (OSError, ValueError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise RunDirError(f"cannot read {path}: {first}") from None


def _read_json(path: Path) -> dict:
    if not path.is_file():
        return {}
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunDirError(f"cannot read {path}: {exc}") from None


def _epoch_column(df: pd.DataFrame, path: Path) -> pd.DataFrame:
    if C.EPOCH not in df.columns:
        raise RunDirError(f"{path} has no {C.EPOCH!r} column; was it written by vaediag evaluate?")
    df = df.copy()
    df[C.EPOCH] = pd.Series([C.parse_epoch(v) for v in df[C.EPOCH]], index=df.index, dtype=object)
    return df


@dataclass
class RunResults:
    """The result files of one evaluated run, read once.

    ``metrics`` is indexed by epoch (object dtype: checkpoint ints, then ``"data"``); ``per_class`` and
    ``pairs`` keep ``EPOCH`` as a column (same parsing); ``history`` is indexed by training epoch.
    """

    run_dir: Path
    metrics: pd.DataFrame
    per_class: pd.DataFrame
    pairs: pd.DataFrame
    history: pd.DataFrame
    config: dict
    evaluation: dict
    _artifacts: dict = field(default_factory=dict, repr=False)

    @property
    def epochs(self) -> list[int]:
        """Evaluated checkpoint epochs, ascending (the ``"data"`` row excluded)."""
        return sorted(e for e in self.metrics.index if isinstance(e, int))

    @property
    def first(self) -> int:
        return self.epochs[0]

    @property
    def last(self) -> int:
        return self.epochs[-1]

    @property
    def middle(self) -> int:
        """The middle checkpoint: ``epochs[(len - 1) // 2]`` (30 for 5, 15, 30, 50, 100)."""
        return self.epochs[(len(self.epochs) - 1) // 2]

    @property
    def checkpoint_metrics(self) -> pd.DataFrame:
        """metrics rows of the checkpoint epochs only, int index, ascending."""
        m = self.metrics.loc[self.epochs]
        m.index = pd.Index([int(e) for e in m.index], name=C.EPOCH)
        return m

    def value(self, column: str, epoch) -> float:
        """metrics.csv value (float; NaN when the column or the row is absent)."""
        if column not in self.metrics.columns or epoch not in self.metrics.index:
            return float("nan")
        v = pd.to_numeric(pd.Series([self.metrics.at[epoch, column]]), errors="coerce").iloc[0]
        return float(v)

    def reference(self, column: str) -> float:
        """The ``"data"`` reference row's value of ``column`` (NaN when absent)."""
        return self.value(column, C.DATA_ROW)

    def artifacts(self, epoch: int) -> dict[str, np.ndarray]:
        """The arrays of ``eval/epoch_XXX.npz`` (cached); a missing or unreadable file is a RunDirError."""
        epoch = int(epoch)
        if epoch not in self._artifacts:
            path = self.run_dir / EVAL_DIR / f"epoch_{epoch:03d}.npz"
            if not path.is_file():
                raise RunDirError(f"{path} is missing; re-run `vaediag evaluate {self.run_dir}`")
            try:
                with np.load(path, allow_pickle=False) as npz:
                    self._artifacts[epoch] = {k: npz[k] for k in npz.files}
            except (OSError, ValueError) as exc:
                raise RunDirError(f"cannot read {path}: {exc}") from None
        return self._artifacts[epoch]


def load_run(run_dir: str | Path) -> RunResults:
    """Read an evaluated run. Raises :class:`RunDirError` (one line) if it is not one."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir} is not a directory")
    for name in (METRICS_FILE, PER_CLASS_FILE, PAIRS_FILE):
        if not (run_dir / name).is_file():
            raise RunDirError(f"{run_dir} has no {name}; run `vaediag evaluate {run_dir}` first")
    metrics = _epoch_column(_read_csv(run_dir / METRICS_FILE), run_dir / METRICS_FILE)
    metrics = metrics.set_index(C.EPOCH)
    metrics.index = pd.Index(list(metrics.index), dtype=object, name=C.EPOCH)
    if not any(isinstance(e, int) for e in metrics.index):
        raise RunDirError(f"{run_dir / METRICS_FILE} has no checkpoint rows; run `vaediag evaluate {run_dir}`")
    per_class = _epoch_column(_read_csv(run_dir / PER_CLASS_FILE), run_dir / PER_CLASS_FILE)
    pairs = _epoch_column(_read_csv(run_dir / PAIRS_FILE), run_dir / PAIRS_FILE)
    if (run_dir / HISTORY_FILE).is_file():
        history = _read_csv(run_dir / HISTORY_FILE, index_col=C.EPOCH)
    else:
        history = pd.DataFrame(columns=C.HISTORY_COLUMNS[1:], index=pd.Index([], name=C.EPOCH))
    return RunResults(run_dir, metrics, per_class, pairs, history,
                      _read_json(run_dir / CONFIG_FILE), _read_json(run_dir / EVALUATION_FILE))


# ============================================================================================ helpers
def _palette() -> list[tuple[float, float, float]]:
    import seaborn as sns

    return list(sns.color_palette(PALETTE, 10))


def _save(fig, path: Path) -> Path:
    """Write ``fig`` atomically as PNG (fast zlib level: figures are redrawn on every report)."""
    path = Path(path)
    try:
        atomic.write_with(path, lambda tmp: fig.savefig(tmp, format="png", dpi=DPI, pil_kwargs={"compress_level": 1}))
    finally:
        plt.close(fig)
    return path


def _mu2(mu: np.ndarray) -> np.ndarray:
    """Two plotting coordinates of the codes: dims 0, 1 (the grid's axes); 1-D codes get a zero y."""
    mu = np.asarray(mu, dtype=np.float64).reshape(len(mu), -1)
    if mu.shape[1] >= 2:
        return mu[:, :2]
    return np.column_stack([mu[:, 0], np.zeros(len(mu))])


def _spans(run: RunResults, epoch: int) -> tuple[float, float]:
    art = run.artifacts(epoch)
    span = float(art["grid_span"]) if "grid_span" in art else run.value(C.GRID_SPAN, epoch)
    qspan = float(art["qgrid_span"]) if "qgrid_span" in art else run.value(C.QGRID_SPAN, epoch)
    return span, qspan


def latent_limits(run: RunResults) -> tuple[tuple[float, float], tuple[float, float]]:
    """Axis limits shared by every latent scatter of a run: robust quantiles (``LIMIT_QUANTILES``) of all
    epochs' codes pooled, widened to show both grid windows, plus ``LIMIT_MARGIN`` on each side."""
    pts = np.concatenate([_mu2(run.artifacts(e)["test_mu"]) for e in run.epochs])
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    if len(pts) == 0:
        pts = np.zeros((1, 2))
    lo = np.quantile(pts, LIMIT_QUANTILES[0], axis=0)
    hi = np.quantile(pts, LIMIT_QUANTILES[1], axis=0)
    windows = [s for e in run.epochs for s in _spans(run, e) if np.isfinite(s)]
    if windows:
        w = max(windows)
        lo, hi = np.minimum(lo, -w), np.maximum(hi, w)
    pad = (hi - lo) * LIMIT_MARGIN + 1e-6
    lo, hi = lo - pad, hi + pad
    return (float(lo[0]), float(hi[0])), (float(lo[1]), float(hi[1]))


def _digit_legend(ax, colours, **kw):
    handles = [Line2D([], [], marker="o", linestyle="", color=colours[d], label=str(d), markersize=6)
               for d in range(10)]
    return ax.legend(handles=handles, title="digit", fontsize=7, title_fontsize=8, **kw)


def _series(run: RunResults, column: str) -> pd.Series:
    m = run.checkpoint_metrics
    if column not in m.columns:
        return pd.Series(np.nan, index=m.index)
    return pd.to_numeric(m[column], errors="coerce")


def _ref_line(ax, value: float, label: str, colour="black") -> None:
    if np.isfinite(value):
        ax.axhline(value, color=colour, ls=":", lw=1.2, label=label)


def _heatmap(ax, values: np.ndarray, rows, cols, *, vmax: float, cmap: str, cbar: bool, title: str,
             xlabel: str, ylabel: str) -> None:
    """Annotated heat map of fractions (cells show percent); NaN cells are left blank.

    Plain ``imshow`` + text rather than ``seaborn.heatmap``, which redraws the whole figure to pick
    annotation colours and made the figures several times slower.
    """
    values = np.asarray(values, dtype=float)
    vmax = vmax if np.isfinite(vmax) and vmax > 0 else 1.0
    im = ax.imshow(np.ma.masked_invalid(values), cmap=cmap, vmin=0, vmax=vmax, aspect="auto",
                   interpolation="nearest")
    cm = plt.get_cmap(cmap)
    for i, j in zip(*np.nonzero(np.isfinite(values))):
        v = values[i, j]
        r, g, b, _ = cm(min(v / vmax, 1.0))
        ax.text(j, i, f"{100 * v:.0f}", ha="center", va="center", fontsize=6,
                color="black" if 0.299 * r + 0.587 * g + 0.114 * b > 0.5 else "white")
    ax.set_xticks(range(len(cols)), [str(c) for c in cols], fontsize=7)
    ax.set_yticks(range(len(rows)), [str(r) for r in rows], fontsize=7)
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    if cbar:
        ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.03, label="%",
                           format=matplotlib.ticker.FuncFormatter(lambda v, _: f"{100 * v:.0f}"))


# ============================================================================================ panels
def draw_latent(ax, run: RunResults, epoch: int, limits=None, legend: bool = True) -> None:
    """Scatter of the test codes at ``epoch`` coloured by digit, with both grid windows as rectangles."""
    art = run.artifacts(epoch)
    pts, labels = _mu2(art["test_mu"]), np.asarray(art["test_labels"]).astype(int) % 10
    colours = np.asarray(_palette())
    order = np.random.default_rng(0).permutation(len(pts))  # random drawing order: no digit always on top
    ax.scatter(pts[order, 0], pts[order, 1], c=colours[labels[order]], s=2, linewidths=0, alpha=0.7)
    span, qspan = _spans(run, epoch)
    if np.isfinite(span):
        ax.add_patch(Rectangle((-span, -span), 2 * span, 2 * span, fill=False, lw=1.4, ec="black",
                               label=f"linear grid [-{span:.3g}, {span:.3g}]²"))
    if np.isfinite(qspan):
        ax.add_patch(Rectangle((-qspan, -qspan), 2 * qspan, 2 * qspan, fill=False, lw=1.2, ec="dimgray",
                               ls="--", label=f"quantile grid [-{qspan:.3g}, {qspan:.3g}]²"))
    xlim, ylim = limits or latent_limits(run)
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    d = art["test_mu"].shape[1] if np.ndim(art["test_mu"]) == 2 else 1
    ax.set_xlabel("μ₀")
    ax.set_ylabel("μ₁" if d >= 2 else "(1-D codes)")
    inside = run.value(C.GRID_INSIDE, epoch)
    extra = f"; {100 * inside:.1f} % inside linear grid" if np.isfinite(inside) else ""
    ax.set_title(f"test codes, epoch {epoch}" + (f" (dims 0, 1 of {d})" if d > 2 else "") + extra, fontsize=9)
    if legend:
        ax.add_artist(_digit_legend(ax, colours, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0))
        ax.legend(loc="lower left", bbox_to_anchor=(1.02, 0.0), fontsize=7, borderaxespad=0, frameon=False)


def grid_tensor(images: np.ndarray, padding: int = 2):
    """uint8 [n*n, 28, 28] images (row-major, first row = top) tiled n x n by torchvision ``make_grid``:
    a float tensor [3, H, W] in [0, 1] with grey padding."""
    import torch
    from torchvision.utils import make_grid

    images = np.asarray(images)
    n = max(int(round(math.sqrt(len(images)))), 1)
    t = torch.from_numpy(images.astype(np.float32) / 255.0).unsqueeze(1)
    return make_grid(t, nrow=n, padding=padding, pad_value=0.5)


def grid_title(run: RunResults, epoch: int, kind: str) -> str:
    images = run.artifacts(epoch)[f"grid_{kind}"]
    n = int(round(math.sqrt(len(images))))
    span, qspan = _spans(run, epoch)
    s = span if kind == "linear" else qspan
    h = run.value((C.GRID if kind == "linear" else C.QGRID) + C.ENTROPY_NORM, epoch)
    return (f"{kind} grid {n}x{n}, z in [-{s:.3g}, {s:.3g}]^2, epoch {epoch}"
            + (f", class entropy {h:.3f}" if np.isfinite(h) else ""))


def draw_grid(ax, run: RunResults, epoch: int, kind: str = "linear") -> None:
    """The decoded n x n grid (``kind`` "linear" or "quantile") at ``epoch`` on a matplotlib axis."""
    if kind not in GRID_KINDS:
        raise ValueError(f"grid kind must be one of {GRID_KINDS}, got {kind!r}")
    ax.imshow(grid_tensor(run.artifacts(epoch)[f"grid_{kind}"])[0].numpy(), cmap="gray", vmin=0, vmax=1,
              interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(grid_title(run, epoch, kind), fontsize=8)


def draw_separation(ax, run: RunResults) -> None:
    """Silhouette and kNN accuracy over checkpoint epochs (both: higher = better separated)."""
    ax.plot(run.epochs, _series(run, C.SILHOUETTE), "o-", label="silhouette [-1, 1]")
    ax.plot(run.epochs, _series(run, C.KNN_ACCURACY), "s-", label="kNN accuracy [0, 1]")
    ax.set_xlabel("epoch")
    ax.set_ylabel("higher = better separated")
    ax.set_title("latent separation of the digits", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def entropy_reference(run: RunResults) -> float:
    """Normalised class entropy of the real test digits: the data row's prior/grid/qgrid value."""
    for prefix in (C.PRIOR, C.GRID, C.QGRID):
        v = run.reference(prefix + C.ENTROPY_NORM)
        if np.isfinite(v):
            return v
    return float("nan")


def draw_entropy(ax, run: RunResults) -> None:
    """Normalised class entropy of prior vs linear-grid vs quantile-grid samples; real digits as a line."""
    for prefix, label, marker in ((C.PRIOR, "prior samples", "o-"), (C.GRID, "linear grid", "s-"),
                                  (C.QGRID, "quantile grid", "^-")):
        ax.plot(run.epochs, _series(run, prefix + C.ENTROPY_NORM), marker, label=label)
    _ref_line(ax, entropy_reference(run), "real test digits")
    ax.set_ylim(min(0.0, ax.get_ylim()[0]), 1.05)
    ax.set_xlabel("epoch")
    ax.set_ylabel("class entropy / ln 10")
    ax.set_title("diversity of generated digits (1 = all digits equally)", fontsize=9)
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(alpha=0.3)


def draw_frechet(ax, run: RunResults) -> None:
    """Fréchet distance of prior samples to real test digits (classifier features); reference line."""
    ax.plot(run.epochs, _series(run, C.FRECHET), "o-", color="tab:purple", label="prior samples")
    _ref_line(ax, run.reference(C.FRECHET), "real vs real (two halves)")
    ax.set_ylim(bottom=0)
    ax.set_xlabel("epoch")
    ax.set_ylabel("lower = closer to real digits")
    ax.set_title("Fréchet distance (classifier features)", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def draw_loss(ax, run: RunResults) -> None:
    """Train and test loss (negative ELBO, nats/sample) for every training epoch; checkpoints marked."""
    h = run.history
    if len(h) == 0:  # fall back on the checkpoint rows, which carry the joined history columns
        h = run.checkpoint_metrics
    for col, label in ((C.TRAIN_LOSS, "train"), (C.TEST_LOSS, "test")):
        if col in h.columns:
            ax.plot(list(h.index), pd.to_numeric(h[col], errors="coerce"), lw=1.5, label=label)
    for e in run.epochs:
        ax.axvline(e, color="gray", lw=0.6, ls=":")
    if len(h) and max(h.index) > TRAIN_LENGTH_EPOCH:
        ax.axvline(TRAIN_LENGTH_EPOCH, color="tab:red", lw=0.8, ls="--", label=f"epoch {TRAIN_LENGTH_EPOCH}")
    ax.set_xlabel("epoch (dotted: checkpoints)")
    ax.set_ylabel("nats/sample")
    ax.set_title("train vs test loss (negative ELBO)", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def class_share_table(run: RunResults, column: str) -> pd.DataFrame:
    """epoch x digit table of a per_class share column, with the real test shares as last row "data"."""
    pc = run.per_class
    ck = pc[pc[C.EPOCH].map(lambda e: isinstance(e, int))]
    if column in ck.columns:
        table = ck.pivot_table(index=C.EPOCH, columns=C.DIGIT, values=column, aggfunc="first")
    else:
        table = pd.DataFrame(dtype=float)
    table = table.reindex(index=run.epochs, columns=range(10)).astype(float)
    if C.CLASS_DATA_SHARE in pc.columns:
        shares = pd.to_numeric(pc[C.CLASS_DATA_SHARE], errors="coerce").groupby(pc[C.DIGIT]).first()
        table.loc[C.DATA_ROW] = shares.reindex(range(10)).to_numpy(dtype=float)
    table.index = [str(i) for i in table.index]
    return table.astype(float)


def share_vmax(run: RunResults) -> float:
    cols = [c for c, _ in SHARE_PANELS if c in run.per_class.columns]
    vals = pd.concat([pd.to_numeric(run.per_class[c], errors="coerce") for c in cols]) if cols else pd.Series([])
    return max(float(vals.max()) if vals.notna().any() else 0.2, 0.2)


def draw_class_share(ax, run: RunResults, column: str, title: str, vmax: float | None = None,
                     cbar: bool = True) -> None:
    """Heat map epoch x digit of one share column of per_class.csv (percent per cell)."""
    t = class_share_table(run, column)
    _heatmap(ax, t.to_numpy(), t.index, t.columns, vmax=vmax or share_vmax(run), cmap="viridis", cbar=cbar,
             title=title, xlabel="digit", ylabel="epoch")


def pair_matrix(run: RunResults, epoch: int) -> pd.DataFrame:
    """Symmetric 10 x 10 matrix of pair confusion rates at ``epoch`` (NaN diagonal)."""
    m = np.full((10, 10), np.nan)
    p = run.pairs[run.pairs[C.EPOCH] == epoch]
    for a, b, r in zip(p[C.DIGIT_A], p[C.DIGIT_B], pd.to_numeric(p[C.CONFUSION_RATE], errors="coerce")):
        m[int(a), int(b)] = m[int(b), int(a)] = r
    return pd.DataFrame(m, index=range(10), columns=range(10))


def pair_vmax(run: RunResults) -> float:
    r = pd.to_numeric(run.pairs[C.CONFUSION_RATE], errors="coerce")
    v = float(r.max()) if r.notna().any() else 1.0
    return v if v > 0 else 1.0


def draw_pairs(ax, run: RunResults, epoch: int, vmax: float | None = None, cbar: bool = True) -> None:
    """Heat map digit x digit of the symmetric kNN confusion rate at ``epoch`` (percent per cell)."""
    m = pair_matrix(run, epoch)
    _heatmap(ax, m.to_numpy(), m.index, m.columns, vmax=vmax or pair_vmax(run), cmap="magma_r", cbar=cbar,
             title=f"pair confusion (kNN, %), epoch {epoch}", xlabel="digit", ylabel="digit")
    ax.set_aspect("equal")


# ============================================================================================ figures
# Fixed margins instead of tight_layout / constrained layout: a layout engine costs an extra draw per figure.
def plot_latent(run: RunResults, epoch: int, path: Path, limits=None) -> Path:
    fig = plt.figure(figsize=(7.6, 5.2))
    ax = fig.add_axes((0.09, 0.1, 0.6, 0.82))
    draw_latent(ax, run, epoch, limits)
    return _save(fig, path)


def plot_grid(run: RunResults, epoch: int, kind: str, path: Path, scale: int = 2) -> Path:
    """The decoded grid as a pixel-exact PNG (make_grid tiles, ``scale``x nearest upsampling) with a
    caption band; drawn with PIL, not matplotlib, so ten grids cost almost nothing."""
    from PIL import Image, ImageDraw, ImageFont

    if kind not in GRID_KINDS:
        raise ValueError(f"grid kind must be one of {GRID_KINDS}, got {kind!r}")
    tiles = grid_tensor(run.artifacts(epoch)[f"grid_{kind}"])[0].numpy()
    img = Image.fromarray(np.round(tiles * 255).astype(np.uint8), mode="L")
    img = img.resize((img.width * scale, img.height * scale), Image.Resampling.NEAREST)
    try:
        font = ImageFont.load_default(size=13)
    except TypeError:  # Pillow < 10.1 has only the bitmap font
        font = ImageFont.load_default()
    title = grid_title(run, epoch, kind)
    band = 24
    width = max(img.width, int(ImageDraw.Draw(img).textlength(title, font=font)) + 12)
    page = Image.new("L", (width, img.height + band), 255)
    page.paste(img, ((width - img.width) // 2, band))
    ImageDraw.Draw(page).text((6, 5), title, fill=0, font=font)
    atomic.write_with(path, lambda tmp: page.save(tmp, format="PNG", compress_level=1))
    return Path(path)


def _single(draw: Callable, run: RunResults, path: Path) -> Path:
    fig = plt.figure(figsize=(6.0, 4.2))
    draw(fig.add_axes((0.12, 0.12, 0.84, 0.8)), run)
    return _save(fig, path)


def plot_separation(run: RunResults, path: Path) -> Path:
    return _single(draw_separation, run, path)


def plot_entropy(run: RunResults, path: Path) -> Path:
    return _single(draw_entropy, run, path)


def plot_frechet(run: RunResults, path: Path) -> Path:
    return _single(draw_frechet, run, path)


def plot_loss(run: RunResults, path: Path) -> Path:
    return _single(draw_loss, run, path)


SHARE_PANELS = ((C.CLASS_PRIOR_SHARE, "prior samples"), (C.CLASS_GRID_SHARE, "linear grid"),
                (C.CLASS_QGRID_SHARE, "quantile grid"))


def plot_class_share(run: RunResults, path: Path) -> Path:
    """Class share heat maps side by side: prior samples | linear grid | quantile grid (one colour scale)."""
    panels = [(c, t) for c, t in SHARE_PANELS if c in run.per_class.columns] or [SHARE_PANELS[0]]
    vmax, n = share_vmax(run), len(panels)
    fig, axes = plt.subplots(1, n, figsize=(4.6 * n, 0.32 * (len(run.epochs) + 1) + 1.5), squeeze=False)
    fig.subplots_adjust(left=0.05, right=0.95, bottom=0.2, top=0.85, wspace=0.25)
    for i, (ax, (col, title)) in enumerate(zip(axes[0], panels)):
        draw_class_share(ax, run, col, f"class share (%): {title}", vmax=vmax, cbar=i == n - 1)
    return _save(fig, path)


def plot_pairs(run: RunResults, path: Path) -> Path:
    """Pair confusion heat maps at the first and the last checkpoint (one colour scale)."""
    vmax = pair_vmax(run)
    fig, axes = plt.subplots(1, 2, figsize=(10.5, 4.8))
    fig.subplots_adjust(left=0.06, right=0.95, bottom=0.1, top=0.92, wspace=0.15)
    draw_pairs(axes[0], run, run.first, vmax, cbar=False)
    draw_pairs(axes[1], run, run.last, vmax)
    return _save(fig, path)


OVERVIEW_ROWS = (  # figure names per row of the overview page; "{first}"/"{last}" = checkpoint epochs
    ("latent_epoch_{first:03d}", "latent_epoch_{last:03d}", "grid_linear_epoch_{last:03d}"),
    (FIG_SEPARATION, FIG_ENTROPY, FIG_FRECHET, FIG_LOSS),
    (FIG_CLASS_SHARE,),
    (FIG_PAIRS,),
)
OVERVIEW_WIDTH = 1800  # pixels


def plot_overview(run: RunResults, figures: dict[str, Path], path: Path) -> Path:
    """One page composed of the already drawn PNGs (``OVERVIEW_ROWS``): each row is scaled to a common
    height that fills ``OVERVIEW_WIDTH``. Composing images with PIL instead of redrawing every panel in a
    3x3 matplotlib figure keeps the overview almost free."""
    from PIL import Image, ImageDraw, ImageFont

    rows = []
    for row in OVERVIEW_ROWS:
        names = [n.format(first=run.first, last=run.last) for n in row]
        images = [Image.open(figures[n]).convert("RGB") for n in names if n in figures]
        if images:
            rows.append(images)
    model = run.config.get("model", {})
    title = (f"vaediag overview: {run.run_dir.name}   model {model.get('model', '?')}, latent "
             f"{model.get('latent_dim', '?')}, beta {model.get('beta', '?')}; checkpoints "
             f"{', '.join(map(str, run.epochs))}")
    band, gap = 40, 8
    scaled = []
    for images in rows:
        ratio = sum(im.width / im.height for im in images)
        height = int(min((OVERVIEW_WIDTH - gap * (len(images) - 1)) / ratio, max(im.height for im in images) * 1.0))
        scaled.append([im.resize((max(int(im.width * height / im.height), 1), height), Image.Resampling.LANCZOS)
                       for im in images])
    total = band + sum(r[0].height + gap for r in scaled)
    page = Image.new("RGB", (OVERVIEW_WIDTH, total), "white")
    y = band
    for images in scaled:
        x = (OVERVIEW_WIDTH - sum(im.width for im in images) - gap * (len(images) - 1)) // 2
        for im in images:
            page.paste(im, (x, y))
            x += im.width + gap
        y += images[0].height + gap
    try:
        font = ImageFont.load_default(size=20)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    ImageDraw.Draw(page).text((12, 10), title, fill="black", font=font)
    atomic.write_with(path, lambda tmp: page.save(tmp, format="PNG", compress_level=1))
    return Path(path)


def make_figures(run_dir: str | Path | RunResults) -> dict[str, Path]:
    """Draw every figure of an evaluated run into ``RUN_DIR/figures/``; return ``{name: path}``.

    Order: per checkpoint ``latent_epoch_XXX``, ``grid_linear_epoch_XXX``, ``grid_quantile_epoch_XXX``;
    then ``separation``, ``entropy``, ``frechet``, ``loss``, ``class_share``, ``pair_confusion``,
    ``overview``. Raises :class:`RunDirError` if the run was not evaluated.
    """
    run = run_dir if isinstance(run_dir, RunResults) else load_run(run_dir)
    out = run.run_dir / FIGURES_DIR
    out.mkdir(parents=True, exist_ok=True)
    limits = latent_limits(run)
    figs: dict[str, Path] = {}
    for e in run.epochs:
        figs[latent_name(e)] = plot_latent(run, e, out / f"{latent_name(e)}.png", limits)
        for kind in GRID_KINDS:
            figs[grid_name(e, kind)] = plot_grid(run, e, kind, out / f"{grid_name(e, kind)}.png")
    for name, fn in ((FIG_SEPARATION, plot_separation), (FIG_ENTROPY, plot_entropy), (FIG_FRECHET, plot_frechet),
                     (FIG_LOSS, plot_loss), (FIG_CLASS_SHARE, plot_class_share), (FIG_PAIRS, plot_pairs)):
        figs[name] = fn(run, out / f"{name}.png")
    figs[FIG_OVERVIEW] = plot_overview(run, figs, out / f"{FIG_OVERVIEW}.png")
    return figs


def figure_names(epochs) -> list[str]:
    """The names :func:`make_figures` returns for these checkpoint epochs, in order."""
    names = []
    for e in epochs:
        names += [latent_name(e)] + [grid_name(e, k) for k in GRID_KINDS]
    return names + [FIG_SEPARATION, FIG_ENTROPY, FIG_FRECHET, FIG_LOSS, FIG_CLASS_SHARE, FIG_PAIRS, FIG_OVERVIEW]
