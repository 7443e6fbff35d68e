"""How runs, sweeps and evaluations show themselves in a notebook (Jupyter's ``_repr_html_``).

- an :class:`~vaediag.store.evaluation.Evaluation` returned by ``evaluate_model``: the epoch's key numbers beside
  the real-data reference row, and its first decoded prior samples (10 x 10 sheet); a whole-run evaluation: the
  key numbers of every epoch;
- a :class:`~vaediag.store.rundir.Run`: what it is (model, dataset, latent size, epochs), the key numbers of
  every evaluated epoch, the last training losses, and the overview figure (``vaediag report`` draws it; before
  that, the prior sheet of the last epoch from the evaluation's arrays);
- a :class:`~vaediag.store.sweepdir.Sweep`: one line per run (settings, status, last epoch's key numbers) and
  the sweep report's figures.

Every image is embedded (a base64 PNG), so a saved notebook shows it without the run folder. Nothing is
computed here; the numbers are the tables' cells (:data:`KEY_COLUMNS`; every column is in metrics.csv).
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vaediag import columns as C

KEY_COLUMNS = (C.SILHOUETTE, C.KNN_ACCURACY, C.ACTIVE_UNITS, C.PRIOR + C.ENTROPY_NORM, C.PRIOR + C.MODES_COVERED,
               C.FRECHET, C.COVERAGE, C.RECON_ACCURACY, C.EVAL_LOSS, C.TEST_LOSS)
LOSS_COLUMNS = (C.TRAIN_LOSS, C.TRAIN_EVAL_LOSS, C.TEST_LOSS)
OVERVIEW_FIGURE = "overview.png"
SHEET_COLUMNS = 10  # the prior sheet: 10 x 10 samples
IMAGE_STYLE = "max-width:100%;image-rendering:pixelated"
SHEET_WIDTH = "420px"  # a 10 x 10 sheet of 28-pixel images, shown at 1.5 x


def png_data_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def sheet_png(images: np.ndarray, columns: int = SHEET_COLUMNS, scale: int = 1) -> bytes:
    """uint8 images ``[n, h, w]`` tiled ``columns`` wide (rows as needed), each pixel ``scale`` x ``scale``,
    as a grey PNG (Pillow, which matplotlib brings)."""
    from PIL import Image

    n, h, w = images.shape
    rows = -(-n // columns)
    sheet = np.zeros((rows * h, columns * w), np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, columns)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = im
    sheet = np.kron(sheet, np.ones((scale, scale), np.uint8))
    buffer = io.BytesIO()
    Image.fromarray(sheet).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def _img(uri: str, alt: str, width: str | None = None) -> str:
    style = IMAGE_STYLE + (f";width:{width}" if width else "")
    return f'<img src="{uri}" alt="{html.escape(alt)}" style="{style}"/>'


def key_table(metrics: pd.DataFrame, epochs: list[int] | None = None) -> pd.DataFrame:
    """The key columns (those present) of the model rows (``epochs``, default all) and the reference row."""
    source = metrics[C.SOURCE] if C.SOURCE in metrics.columns else pd.Series(C.SOURCE_MODEL, index=metrics.index)
    model = metrics[source == C.SOURCE_MODEL]
    if epochs is not None:
        model = model[model.index.isin(epochs)]
    data = metrics[source == C.SOURCE_DATA]
    columns = [c for c in KEY_COLUMNS if c in metrics.columns and metrics[c].notna().any()]
    rows = pd.concat([model[columns], data[columns]])
    rows.index = [f"epoch {int(e)}" for e in model.index] + ["real data"] * len(data)
    return rows


def _table_html(table: pd.DataFrame) -> str:
    def cell(v):
        if isinstance(v, (int, np.integer)) or (isinstance(v, float) and float(v).is_integer() and abs(v) < 1e6):
            return f"{v:g}"
        return "" if pd.isna(v) else f"{v:.4g}" if isinstance(v, (float, np.floating)) else html.escape(str(v))

    return table.to_html(formatters={c: cell for c in table.columns}, escape=False, border=0, na_rep="")


def _artifact(evaluation: Any, epoch: int) -> Any:
    try:
        return evaluation.artifacts[epoch] if epoch in evaluation.artifacts else None
    except Exception:  # noqa: BLE001 - a damaged artifact file: no picture, the numbers still show
        return None


def evaluation_html(evaluation: Any) -> str:
    """The HTML of an Evaluation: its ``epoch``'s numbers and prior samples, or every epoch's numbers."""
    epoch = getattr(evaluation, "epoch", None)
    epochs = [epoch] if epoch is not None else None
    title = f"vaediag: epoch {epoch}" if epoch is not None else f"vaediag: epochs {evaluation.epochs}"
    parts = [f"<h4>{html.escape(title)}</h4>", _table_html(key_table(evaluation.metrics, epochs))]
    shown = epoch if epoch is not None else (evaluation.epochs[-1] if evaluation.epochs else None)
    artifact = _artifact(evaluation, shown) if shown is not None else None
    if artifact is not None and "prior_sheet" in artifact:
        parts.append(f"<p>decoded prior samples z ~ N(0, I), epoch {shown}:</p>")
        parts.append(_img(png_data_uri(sheet_png(np.asarray(artifact["prior_sheet"]))), "prior samples",
                          width=SHEET_WIDTH))
    return "<div>" + "\n".join(parts) + "</div>"


def run_html(run: Any) -> str:
    """The HTML of a Run: what it is, its numbers per epoch, its last losses and its overview figure."""
    parts = [f"<h4>vaediag run {html.escape(run.name)}</h4>"]
    try:
        facts = {"model": run.model_name, "dataset": run.dataset, "latent_dim": run.latent_dim,
                 "folder": str(run.path)}
    except Exception as exc:  # noqa: BLE001 - not a run (yet): say so instead of failing the display
        return f"<div><h4>vaediag run {html.escape(str(run.path))}</h4><p>{html.escape(str(exc))}</p></div>"
    parts.append("<p>" + "; ".join(f"{k}: <code>{html.escape(str(v))}</code>" for k, v in facts.items()) + "</p>")
    history = run.history
    losses = [c for c in LOSS_COLUMNS if c in history.columns and history[c].notna().any()]
    if len(history) and losses:
        last = int(history.index.max())
        values = ", ".join(f"{c} {history.at[last, c]:.4g}" for c in losses if pd.notna(history.at[last, c]))
        parts.append(f"<p>history.csv: {len(history)} epochs; epoch {last}: {html.escape(values)}</p>")
    if run.has_evaluation() and not run.evaluation_problem():
        evaluation = run.evaluation
        parts.append(_table_html(key_table(evaluation.metrics)))
        overview = run.figures_dir / OVERVIEW_FIGURE
        if overview.is_file():
            parts.append(_img(png_data_uri(overview.read_bytes()), "overview", width="100%"))
        elif evaluation.epochs:
            artifact = _artifact(evaluation, evaluation.epochs[-1])
            if artifact is not None and "prior_sheet" in artifact:
                parts.append(f"<p>decoded prior samples, epoch {evaluation.epochs[-1]} (`vaediag report` draws "
                             f"the figures):</p>")
                parts.append(_img(png_data_uri(sheet_png(np.asarray(artifact["prior_sheet"]))), "prior samples",
                                  width=SHEET_WIDTH))
    else:
        parts.append("<p>not evaluated yet (no complete metrics.csv)</p>")
    if run.report_html_path.is_file():
        parts.append(f"<p>report: <code>{html.escape(str(run.report_html_path))}</code></p>")
    return "<div>" + "\n".join(parts) + "</div>"


def sweep_html(sweep: Any, run_class: Any) -> str:
    """The HTML of a Sweep: one row per run (settings, status, the last epoch's key numbers) and its figures
    (``run_class``: how a run folder is opened)."""
    try:
        state = sweep.read()
    except Exception as exc:  # noqa: BLE001
        return f"<div><h4>vaediag sweep {html.escape(str(sweep.path))}</h4><p>{html.escape(str(exc))}</p></div>"
    rows = []
    for name, entry in state["runs"].items():
        row = {"run": name, **(entry.get("settings") or {}), "status": entry.get("status")}
        run = run_class(sweep.run_path(name))
        if run.has_evaluation() and not run.evaluation_problem():
            table = key_table(run.evaluation.metrics)
            model_rows = table[table.index != "real data"]
            if len(model_rows):
                row["epoch"] = model_rows.index[-1].split()[-1]
                row.update(model_rows.iloc[-1].to_dict())
        rows.append(row)
    parts = [f"<h4>vaediag sweep {html.escape(str(sweep.path))}: {len(rows)} runs</h4>",
             _table_html(pd.DataFrame(rows).set_index("run")) if rows else "<p>no runs</p>"]
    figures = sorted(Path(sweep.figures_dir).glob("*.png")) if Path(sweep.figures_dir).is_dir() else []
    parts += [_img(png_data_uri(f.read_bytes()), f.stem, width="100%") for f in figures]
    if Path(sweep.report_html_path).is_file():
        parts.append(f"<p>report: <code>{html.escape(str(sweep.report_html_path))}</code></p>")
    return "<div>" + "\n".join(parts) + "</div>"
