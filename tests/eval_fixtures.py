"""Shared setup of the evaluation tests (``test_evaluate*.py``): a tiny synthetic run, a random classifier, one
shared evaluation, and small settings.

The run (MLP, 2 epochs, checkpoints 1 and 2) is trained once per test module and copied per test; the judge
(``clf``) is :class:`SquareJudge`, a stub whose probabilities follow from the image by construction (it reads the
synthetic digits of :func:`helpers.synthetic_digits`, and cannot read a blank, grey or noise image), so its numbers
can be checked by hand; ``random_classifier`` is a randomly initialised ``DigitClassifier`` (its numbers are
meaningless: it reads every image as one class with probability 0.11, i.e. unreadable). A test module imports the
fixtures it uses by name.
"""

from __future__ import annotations

import dataclasses
import shutil

import pytest
import torch

from torch import nn

from vaediag.store import rundir
from vaediag.models.train_config import TrainConfig
from vaediag.evaluate.pipeline import evaluate_run
from vaediag.evaluate.settings import EvalSettings
from vaediag.train import train

from helpers import synthetic_digits

QUIET = dict(device="cpu", log=lambda *_: None)
FAST = EvalSettings(samples=120, grid=4, iwae=0)  # small settings (IWAE off): a checkpoint takes well under a second
# the shared evaluation counts every prior sample in a class (no unreadable bucket): the 2-epoch model draws blurs
# the stub cannot read, and these plumbing tests check the class shares; the bucket: tests/test_judges.py
EVALUATED = dataclasses.replace(FAST, iwae=20, unreadable_below=0.0)
RESULT_FILES = (rundir.METRICS_FILE, rundir.PER_CLASS_FILE, rundir.PAIRS_FILE, rundir.EVALUATION_FILE)


def random_classifier():
    """The shipped classifier architecture in a fixed random init (no trained weights needed)."""
    from vaediag.datasets.classifier import DigitClassifier

    torch.manual_seed(0)
    return DigitClassifier().eval()


SQUARE_SHARPNESS = 8.0


class SquareJudge(nn.Module):
    """A judge stub with the classifier's interface (``features``, ``out``, ``feature_dim``) for the synthetic
    digits: class c's evidence is the mean brightness of class c's 6×6 square, and the logits are ``sharpness`` ×
    the evidence, so probabilities are known by construction. A synthetic digit (its square ≈ 0.9, the rest ≈ 0.08)
    is read as its class with probability ≈ 0.997; a blank or uniformly grey image has equal evidence everywhere:
    probability 0.1 for each class (unreadable); uniform noise differs by ≈ 0.05 between squares: ≈ 0.1-0.2."""

    feature_dim = 10

    def __init__(self, sharpness: float = SQUARE_SHARPNESS):
        super().__init__()
        masks = torch.zeros(10, 28, 28)
        for c in range(10):
            r, k = 2 + (c // 5) * 12, 2 + (c % 5) * 5
            masks[c, r : r + 6, k : k + 6] = 1.0 / 36
        self.register_buffer("masks", masks)
        self.out = nn.Linear(10, 10)
        with torch.no_grad():
            self.out.weight.copy_(torch.eye(10) * sharpness)
            self.out.bias.zero_()
        self.eval()

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return torch.einsum("nchw,khw->nk", x.float(), self.masks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.features(x))


def square_judge() -> SquareJudge:
    return SquareJudge()


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
    return square_judge()


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
