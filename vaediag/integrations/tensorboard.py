"""``vaediag tensorboard RUN_DIR|SWEEP_DIR --logdir DIR``: a run's (or each run of a sweep's) tables, figures and
sample sheets as TensorBoard event files, to browse with ``tensorboard --logdir DIR`` beside other runs.

Each run goes to ``DIR/<run name>`` (TensorBoard shows one run per folder; a sweep's runs side by side). Its tags
(step = the epoch):

- every numeric column of every evaluated epoch of metrics.csv (``metrics/<column>``), per_class.csv
  (``per_class/<column>/<label>_<name>``, one curve per class) and pairs.csv
  (``pairs/confusion_rate/<a>-<b>``), the real-data row (``reference/<column>``) and history.csv
  (``history/<column>``, one point per training epoch); see :mod:`vaediag.evaluate.events`;
- the decoded prior samples, linear grid and reconstructions of each epoch (``samples/...``) from the
  evaluation's arrays, and the report's figures (``figures/<name>``; a per-epoch figure such as
  ``grid_linear_epoch_005`` at its epoch, the others at the last epoch) when ``vaediag report`` drew them.

Writing again replaces the event files vaediag wrote into ``DIR/<run name>`` before (only those:
``events.out.tfevents.*.vaediag``), so TensorBoard never shows a point twice.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from vaediag.errors import RunDirError
from vaediag.evaluate import events
from vaediag.plots.names import split_name
from vaediag.store.rundir import Run
from vaediag.store.sweepdir import DONE, Sweep

NEEDED_BY = "vaediag tensorboard"


def _figure(path: Path):
    """A PNG as float ``[H, W, 3]`` (RGB) or ``[H, W]`` (grey) in [0, 1], and its TensorBoard data format."""
    from matplotlib import image as mpimg

    image = mpimg.imread(path)
    if image.ndim == 3 and image.shape[2] >= 3:
        return image[..., :3], "HWC"
    return (image[..., 0] if image.ndim == 3 else image), "HW"  # grey, or grey with alpha


def _own_event_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if p.name.startswith("events.out.tfevents.")
            and p.name.endswith(events.EVENTS_SUFFIX) and p.is_file() and not p.is_symlink()]


def write_run(run: Run, log_dir: str | Path, *, figures: bool = True) -> dict:
    """Write ``run`` (evaluated) into ``log_dir`` (its own folder: the caller chooses it); returns what was
    written: ``{"epochs", "scalars", "images", "path"}``. :class:`RunDirError` for a run that is not evaluated."""
    if not run.has_evaluation():
        raise RunDirError(f"{run.path} has no evaluation (metrics.csv); run `vaediag evaluate {run.path}` first")
    evaluation = run.evaluation  # read (and checked) before anything is written
    history = run.history
    folder = Path(log_dir)
    if folder.is_symlink() or (folder.exists() and not folder.is_dir()):
        raise RunDirError(f"--logdir {folder} is not a folder vaediag writes into (a file or a symbolic link)")
    before = _own_event_files(folder)
    writer = events.open_writer(folder, NEEDED_BY)
    scalars, images = 0, 0
    try:
        for epoch in evaluation.epochs:
            scalars += events.write_epoch_events(writer, evaluation, epoch)
            images += len(events.sheet_images(evaluation.artifacts.get(epoch) or {}))
        scalars += events.write_history(writer, history)
        pngs = sorted(run.figures_dir.glob("*.png")) if figures and run.figures_dir.is_dir() else []
        last = evaluation.epochs[-1] if evaluation.epochs else 0
        for png in pngs:
            kind, epoch = split_name(png.stem)
            image, layout = _figure(png)
            writer.add_image(f"figures/{kind}", image, epoch if epoch is not None else last, dataformats=layout)
            images += 1
    finally:
        writer.close()
    for old in before:  # the previous export of this run: replaced by the one just written
        old.unlink(missing_ok=True)
    return {"epochs": evaluation.epochs, "scalars": scalars, "images": images, "path": folder}


def write_tensorboard(path: str | Path, log_dir: str | Path, *, figures: bool = True,
                      log: Callable[[str], None] = print) -> list[dict]:
    """Write the run at ``path`` (RUN_DIR), or every done run of the sweep at ``path`` (SWEEP_DIR), into
    ``log_dir/<run name>``; return one summary per run (:func:`write_run`). Needs TensorBoard
    (``vaediag[tensorboard]``): a one-line error naming the extra otherwise, before anything is written."""
    events.require_tensorboard(NEEDED_BY)
    source, out = Path(path), Path(log_dir)
    sweep = Sweep(source)
    if sweep.is_sweep():
        state = sweep.read()
        runs = [sweep.run(name) for name, entry in state["runs"].items()
                if isinstance(entry, dict) and entry.get("status") == DONE]
        if not runs:
            raise RunDirError(f"{source}: no run of this sweep is done yet; nothing to write")
    else:
        run = Run(source)
        if not run.has_config():
            raise RunDirError(f"{source} is neither a vaediag run directory (config.json) nor a sweep (sweep.json)")
        runs = [run]
    for run in runs:  # every run readable before the first is written
        if not run.has_evaluation():
            raise RunDirError(f"{run.path} has no evaluation (metrics.csv); run `vaediag evaluate {run.path}` first")
    written = []
    for run in runs:
        summary = write_run(run, out / run.name, figures=figures)
        log(f"{run.path} -> {summary['path']}: {len(summary['epochs'])} epochs, {summary['scalars']} scalars, "
            f"{summary['images']} images")
        written.append(summary)
    return written
