"""An evaluation's tables as TensorBoard events: every numeric column of an epoch as a scalar, the sample sheets
as images (``pip install 'vaediag[tensorboard]'``).

Tags (step = the epoch; TensorBoard groups by the part before the first ``/``):

- ``metrics/<column>``: each numeric metrics.csv column of the epoch's checkpoint row (NaN cells are left out);
- ``reference/<column>``: the real-data reference row's value, at the same step (the ceiling, as a flat line);
- ``history/<column>``: history.csv's columns (training losses), one point per training epoch;
- ``per_class/<column>/<label>_<name>``: per_class.csv, one curve per class (``6_Shirt``; a ``/`` in a class
  name becomes ``-``);
- ``pairs/confusion_rate/<a>-<b>``: pairs.csv, one curve per class pair;
- images ``samples/prior_sheet`` (the first 100 decoded prior samples, 10 x 10), ``samples/grid_linear`` (the
  decoded latent grid) and ``samples/recon_pairs`` (test images over their reconstructions).

:func:`write_epoch` is what ``evaluate_model(log_dir=...)`` and the Lightning callback call after each
evaluation; :mod:`vaediag.integrations.tensorboard` writes whole runs and sweeps (``vaediag tensorboard``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vaediag import columns as C
from vaediag.extras import require

EVENTS_SUFFIX = ".vaediag"  # the suffix of the event files vaediag writes (events.out.tfevents.*.vaediag)
SHEETS = {"prior_sheet": "samples/prior_sheet", "grid_linear": "samples/grid_linear",
          "recon_pairs": "samples/recon_pairs"}


def require_tensorboard(needed_by: str = "log_dir=") -> None:
    """A one-line error naming ``vaediag[tensorboard]`` when TensorBoard is not installed."""
    require("tensorboard", needed_by)


def open_writer(log_dir: str | Path, needed_by: str = "log_dir="):
    """A ``torch.utils.tensorboard.SummaryWriter`` writing a new event file into ``log_dir`` (created)."""
    require_tensorboard(needed_by)
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(log_dir), filename_suffix=EVENTS_SUFFIX)


def tile(images: np.ndarray, columns: int) -> np.ndarray:
    """uint8 images ``[n, h, w]`` as one sheet ``[rows * h, columns * w]`` in row-major order (blank cells 0)."""
    n, h, w = images.shape
    rows = max(1, math.ceil(n / columns))
    sheet = np.zeros((rows * h, columns * w), np.uint8)
    for i, image in enumerate(images):
        r, c = divmod(i, columns)
        sheet[r * h : (r + 1) * h, c * w : (c + 1) * w] = image
    return sheet


def sheet_images(artifact: Any) -> dict[str, np.ndarray]:
    """The tag -> uint8 sheet ``[H, W]`` of each sample sheet an epoch's artifacts hold."""
    out = {}
    for key, tag in SHEETS.items():
        if key not in artifact:
            continue
        images = np.asarray(artifact[key])
        if key == "recon_pairs":  # [2, n, 28, 28]: originals over reconstructions
            out[tag] = np.concatenate([tile(images[0], len(images[0])), tile(images[1], len(images[1]))])
        else:
            out[tag] = tile(images, max(1, int(round(math.sqrt(len(images))))))
    return out


def _scalars(writer, prefix: str, row: pd.Series, step: int, skip=()) -> int:
    written = 0
    for column, value in row.items():
        if column in skip or isinstance(value, (bool, np.bool_)):
            continue
        number = pd.to_numeric(pd.Series([value]), errors="coerce").iloc[0]
        if pd.notna(number) and math.isfinite(float(number)):
            writer.add_scalar(f"{prefix}/{column}", float(number), step)
            written += 1
    return written


def class_tag(label: Any, name: Any) -> str:
    return f"{int(label)}_{str(name).replace('/', '-')}"


def write_history(writer, history: pd.DataFrame, epochs=None) -> int:
    """history.csv's numeric cells as ``history/<column>`` (only ``epochs`` when given); returns the count."""
    rows = history if epochs is None else history[history.index.isin(list(epochs))]
    return sum(_scalars(writer, "history", row, int(epoch)) for epoch, row in rows.iterrows())


def write_epoch_events(writer, evaluation, epoch: int) -> int:
    """Epoch ``epoch`` of ``evaluation`` (an :class:`~vaediag.store.evaluation.Evaluation`) through ``writer``:
    the metrics, reference, per-class and pair scalars and the sample sheets. Returns the scalars written."""
    epoch = int(epoch)
    written = 0
    m = evaluation.checkpoint_metrics
    history_columns = set(C.HISTORY_COLUMNS)
    if epoch in m.index:
        written += _scalars(writer, "metrics", m.loc[epoch], epoch, skip={C.SOURCE, *history_columns})
    written += _scalars(writer, "reference", evaluation.reference, epoch, skip={C.SOURCE, *history_columns})
    pc = evaluation.per_class
    rows = pc[(pc[C.SOURCE] == C.SOURCE_MODEL) & (pc[C.EPOCH] == epoch)]
    for _, row in rows.iterrows():
        tag = class_tag(row[C.CLASS], row[C.CLASS_NAME])
        values = row.drop([C.SOURCE, C.EPOCH, C.CLASS, C.CLASS_NAME])
        written += _scalars(writer, "per_class", values.rename(lambda c: f"{c}/{tag}"), epoch)
    pairs = evaluation.pairs[evaluation.pairs[C.EPOCH] == epoch]
    for _, row in pairs.iterrows():
        name = f"{row[C.CLASS_A_NAME]}-{row[C.CLASS_B_NAME]}".replace("/", "-")
        written += _scalars(writer, "pairs", pd.Series({f"{C.CONFUSION_RATE}/{name}": row[C.CONFUSION_RATE]}), epoch)
    artifact = evaluation.artifacts.get(epoch) if hasattr(evaluation.artifacts, "get") else None
    for tag, sheet in sheet_images(artifact or {}).items():
        writer.add_image(tag, sheet[None], epoch)  # [1, H, W]: one grey channel
    return written


def write_epoch(log_dir: str | Path, evaluation, epoch: int, history: pd.DataFrame | None = None,
                since: int = 0) -> None:
    """One event file in ``log_dir`` with epoch ``epoch`` of ``evaluation`` and the ``history`` rows of the
    epochs after ``since`` up to ``epoch`` (what a call of ``evaluate_model`` adds)."""
    writer = open_writer(log_dir)
    try:
        write_epoch_events(writer, evaluation, epoch)
        if history is not None and len(history):
            write_history(writer, history, [e for e in history.index if since < int(e) <= int(epoch)])
    finally:
        writer.close()
