"""Shared setup of the evaluation tests (``test_evaluate*.py``): a tiny synthetic run, a random classifier, one
shared evaluation, and small settings.

The run (MLP, 2 epochs, checkpoints 1 and 2) is trained once per test module and copied per test; the digit
classifier is a randomly initialised ``DigitClassifier`` (its numbers are meaningless, the plumbing is what
is tested). A test module imports the fixtures it uses by name.
"""

from __future__ import annotations

import dataclasses
import shutil

import pytest
import torch

from vaediag.store import rundir
from vaediag.models.train_config import TrainConfig
from vaediag.evaluate.pipeline import evaluate_run
from vaediag.evaluate.settings import EvalSettings
from vaediag.train import train

from helpers import synthetic_digits

QUIET = dict(device="cpu", log=lambda *_: None)
FAST = EvalSettings(samples=120, grid=4, iwae=0)  # small settings (IWAE off): a checkpoint takes well under a second
EVALUATED = dataclasses.replace(FAST, iwae=20)
RESULT_FILES = (rundir.METRICS_FILE, rundir.PER_CLASS_FILE, rundir.PAIRS_FILE, rundir.EVALUATION_FILE)


def random_classifier():
    """The shipped classifier architecture in a fixed random init (no trained weights needed)."""
    from vaediag.datasets.classifier import DigitClassifier

    torch.manual_seed(0)
    return DigitClassifier().eval()


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny tensors: one thread avoids thread-pool overhead (and spinning on a shared CPU)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def data():
    return synthetic_digits()


@pytest.fixture(scope="module")
def base_run(tmp_path_factory, data):
    run = tmp_path_factory.mktemp("base") / "run"
    cfg = TrainConfig(model="mlp", epochs=2, checkpoints=(1, 2), batch_size=64, seed=0, device="cpu")
    train(cfg, run, data=data, progress=False, log=lambda *_: None)
    return run


@pytest.fixture()
def run(tmp_path, base_run):
    """A fresh copy of the trained run (evaluate writes into it)."""
    dst = tmp_path / "run"
    shutil.copytree(base_run, dst)
    return dst


@pytest.fixture(scope="module")
def clf():
    return random_classifier()


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory, base_run, data, clf):
    """One evaluation (settings ``EVALUATED``) of a copy of the base run, shared by the read-only tests."""
    dst = tmp_path_factory.mktemp("evaluated") / "run"
    shutil.copytree(base_run, dst)
    return dst, evaluate_run(dst, settings=EVALUATED, data=data, classifier=clf, **QUIET)


@pytest.fixture()
def evaluated_run(tmp_path, evaluated):
    """A fresh copy of the evaluated run: result files and cache entries for ``EVALUATED`` settings."""
    dst = tmp_path / "evaluated"
    shutil.copytree(evaluated[0], dst)
    return dst


def result_bytes(run):
    return {name: (run / name).read_bytes() for name in RESULT_FILES}
