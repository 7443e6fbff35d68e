"""``vaediag data prepare``, ``vaediag classifier train|evaluate``: the datasets and their judges; ``vaediag
tensorboard``: a run or sweep as TensorBoard event files."""

from __future__ import annotations

import functools

import click

from .app import cli, log
from .options import data_options, dataset_option, device_option


# --- data ------------------------------------------------------------------------------------
@cli.group()
def data():
    """Provision datasets."""


@data.command("prepare")
@dataset_option
@click.option("--root", type=click.Path(), default=None,
              help="Data root (default: $VAEDIAG_DATA or ~/.cache/vaediag/data).")
def data_prepare(dataset, root):
    """Provision a dataset (verified by SHA-256) in torchvision's layout, offline if needed."""
    from vaediag.datasets.provision import prepare_dataset

    path = prepare_dataset(dataset, root, log=log)
    click.echo(str(path))


# --- classifier ------------------------------------------------------------------------------
@cli.group()
def classifier():
    """The shipped classifiers (one per dataset) that judge generated images."""


@classifier.command("train")
@dataset_option
@click.option("--epochs", type=click.IntRange(min=1), default=None, help="Default: the dataset's shipped recipe.")
@click.option("--seed", type=int, default=None)
@device_option
@click.option("--out", "weights_dir", type=click.Path(file_okay=False), default=None,
              help="Folder for the weights + info json (digit_cnn.* for mnist, fashion_cnn.* for fashion-mnist; "
                   "default: ~/.cache/vaediag/classifier/DATASET; the weights shipped in the package are never "
                   "overwritten). Use them with `vaediag classifier evaluate --dataset DATASET --weights DIR`.")
@data_options
def classifier_train(*, dataset, epochs, seed, device, weights_dir, train_size, test_size, data_root):
    """Retrain a dataset's judge CNN into a weights folder.

    The recipe is vaediag.datasets.classifier_training.TRAIN_RECIPES; the info json records the test accuracy,
    robustness grid, temperature and unreadable-threshold measurements."""
    from vaediag.datasets.classifier import save_classifier
    from vaediag.datasets.classifier_training import TRAIN_RECIPES, train_classifier
    from vaediag.datasets.data import load_dataset
    from vaediag.devices import resolve_device

    recipe = dict(TRAIN_RECIPES[dataset])
    dev = resolve_device(device)
    recipe["seed"] = recipe["seed"] if seed is None else seed
    recipe["epochs"] = epochs or recipe["epochs"]
    data = load_dataset(dataset, data_root, train_size=train_size, test_size=test_size, seed=recipe["seed"],
                        device=dev, log=log)
    model, info = train_classifier(data, device=dev, log=log, **recipe)
    path = save_classifier(model.cpu(), info, weights_dir, dataset=dataset)
    click.echo(f"test accuracy {info['test_accuracy']:.4f} (blur 1.5 px + 5% grey: "
               f"{info.get('test_accuracy_blur1.5_grey0.05')}); temperature {model.temperature}; weights: {path}")


@classifier.command("evaluate")
@dataset_option
@device_option
@click.option("--weights", "weights_dir", type=click.Path(file_okay=False), default=None,
              help="Folder with the dataset's weights + info json (default: the shipped weights).")
@functools.partial(data_options, train_size=False)
def classifier_evaluate(dataset, device, weights_dir, test_size, data_root):
    """Print a judge's test accuracy, clean and on the blur x grey grid.

    Measured now on the dataset's test images, degraded as vaediag.datasets.degrade describes."""
    from vaediag.datasets.classifier import load_classifier
    from vaediag.datasets.judge_checks import evaluation_text
    from vaediag.datasets.registry import dataset_spec
    from vaediag.datasets.data import load_dataset
    from vaediag.devices import resolve_device

    dev = resolve_device(device)
    model = load_classifier(dev, dataset=dataset, weights_dir=weights_dir)
    data = load_dataset(dataset, data_root, train_size=None, test_size=test_size, seed=0, log=log)
    click.echo(evaluation_text(model, data, dataset_spec(dataset).title))


# --- tensorboard -----------------------------------------------------------------------------
@cli.command("tensorboard")
@click.argument("path", metavar="RUN_DIR|SWEEP_DIR", type=click.Path())
@click.option("--logdir", required=True, type=click.Path(file_okay=False),
              help="TensorBoard's log folder: each run is written to LOGDIR/<run name> (then `tensorboard "
                   "--logdir LOGDIR`).")
@click.option("--no-figures", is_flag=True, help="Leave out the report's figures (the sample sheets stay).")
def tensorboard(path, logdir, no_figures):
    """Write an evaluated run's (or every done run of a sweep's) per-epoch columns, figures and sample sheets as
    TensorBoard event files (needs `pip install 'vaediag[tensorboard]'`)."""
    from vaediag.integrations.tensorboard import write_tensorboard

    write_tensorboard(path, logdir, figures=not no_figures, log=log)
    click.echo(str(logdir))
