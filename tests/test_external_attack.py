"""Odd inputs to the issue-11 features, each once a traceback, a silent data loss or a misleading message:
numpy latent_dim, a decode that ignores the batch size, a lost or edited eval/external.json, a factory that calls
sys.exit(), a whole pickled model as --weights, a state_dict with a ``_metadata`` key, a factory that prints (the
table on stdout stays parseable), and the short Fashion-MNIST names the figures show."""

from __future__ import annotations

import io
import json

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

import vaediag
from vaediag.datasets.classes import FASHION_MNIST_CLASSES
from vaediag.cli import cli
from vaediag.errors import ProtocolError, RunDirError
from vaediag.evaluate.settings import EvalSettings
from vaediag.models.protocol import check_model
from vaediag.store.rundir import Run

import external_models as X
from eval_fixtures import one_thread, random_classifier  # noqa: F401  (one_thread: autouse)
from helpers import assert_one_line_error, synthetic_digits

SMALL = EvalSettings(samples=300, grid=4, iwae=4)



def _evaluate(model, run_dir, epoch, **kw):
    options = dict(settings=SMALL, data=synthetic_digits(), classifier=random_classifier(), log=lambda *_: None,
                   decoder="logits")
    options.update(kw)
    return vaediag.evaluate_model(model, run_dir, epoch, **options)


# ---------------------------------------------------------------------------------------------- the protocol
class NumpyLatentDim(X.FlatLogitsVAE):
    def __init__(self):
        super().__init__()
        self.latent_dim = np.int64(2)


class FixedBatchDecode(X.FlatLogitsVAE):
    """decode always returns two images (the probe's batch size), whatever the number of codes."""

    def decode(self, z):
        return super().decode(z[:1].expand(2, -1))


def test_a_numpy_integer_latent_dim_is_an_integer():
    assert check_model(NumpyLatentDim(), "logits").latent_dim == 2


def test_a_decode_that_ignores_the_batch_size_is_named_and_nothing_is_written(tmp_path):
    check_model(FixedBatchDecode(), "logits")  # the two-image probe cannot see it
    with pytest.raises(ProtocolError, match=r"FixedBatchDecode\.decode\(z\) returned a tensor of shape \[2, 784\]"):
        _evaluate(FixedBatchDecode(), tmp_path / "run", 1)
    assert not Run(tmp_path / "run").has_config() and not (tmp_path / "run" / "metrics.csv").exists()


# ---------------------------------------------------------------------------------------------- eval/external.json
def test_published_rows_survive_a_lost_external_json(tmp_path):
    run_dir = tmp_path / "run"
    torch.manual_seed(0)
    model = X.FlatLogitsVAE()
    first = _evaluate(model, run_dir, 1).metrics.loc[1]
    Run(run_dir).external_path.unlink()
    Run(run_dir).clear_cache()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.2 * torch.randn_like(p))
    ev = _evaluate(model, run_dir, 2)
    assert ev.epochs == [1, 2] and Run(run_dir).epochs == [1, 2]
    published = pd.read_csv(run_dir / "metrics.csv").set_index("epoch")
    assert published.loc[1, "silhouette"] == pytest.approx(first["silhouette"])
    assert published.loc[1, "silhouette"] != pytest.approx(published.loc[2, "silhouette"])
    assert sorted(json.loads(Run(run_dir).external_path.read_text())["epochs"]) == ["1", "2"]


def test_an_external_json_with_epoch_0_is_refused_and_nothing_is_written(tmp_path):
    run_dir = tmp_path / "run"
    _evaluate(X.FlatLogitsVAE(), run_dir, 1)
    Run(run_dir).external_path.write_text('{"epochs": {"0": "edited"}}')
    before = (run_dir / "metrics.csv").read_bytes()
    with pytest.raises(RunDirError, match="epochs must be integers >= 1, got 0; was it edited"):
        _evaluate(X.FlatLogitsVAE(), run_dir, 2)
    assert (run_dir / "metrics.csv").read_bytes() == before


# ---------------------------------------------------------------------------------------------- --model-factory
FACTORIES = """
import sys
import external_models as X

def exits():
    sys.exit(3)

def prints():
    print("hello from the factory")
    return X.flat_vae()
"""


@pytest.fixture
def factory_dir(tmp_path, monkeypatch):
    (tmp_path / "attack_factories.py").write_text(FACTORIES)
    (tmp_path / "attack_exits_at_import.py").write_text("import sys\nsys.exit('bye')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    torch.save(X.flat_vae().state_dict(), tmp_path / "sd.pt")
    return tmp_path


def _factory_cli(tmp_path, factory, weights="sd.pt", *extra):
    return CliRunner().invoke(cli, ["evaluate", "--model-factory", factory, "--weights", str(tmp_path / weights),
                                    "--epoch", "1", "--out", str(tmp_path / "out"), "--decoder", "logits", *extra])


@pytest.mark.parametrize("factory, fragment", [
    ("attack_exits_at_import:f", "module 'attack_exits_at_import' called sys.exit('bye') at import"),
    ("attack_factories:exits", "attack_factories:exits() called sys.exit(3)"),
])
def test_a_factory_that_calls_sys_exit_is_one_line(factory_dir, factory, fragment):
    res = _factory_cli(factory_dir, factory)
    assert_one_line_error(res, fragment)
    assert not (factory_dir / "out").exists()


def test_a_whole_pickled_model_as_weights_says_to_save_the_state_dict(factory_dir):
    torch.save(X.flat_vae(), factory_dir / "full.pt")
    res = _factory_cli(factory_dir, "external_models:flat_vae", "full.pt")
    assert_one_line_error(res, "save model.state_dict() instead")
    assert not (factory_dir / "out").exists()


def test_a_state_dict_with_a_metadata_key_loads(tmp_path):
    from vaediag.models.factory import read_state_dict

    state = X.flat_vae().state_dict()
    path = tmp_path / "meta.pt"
    torch.save({**state, "_metadata": {"": {"version": 1}}}, path)
    loaded = read_state_dict(path)
    assert set(loaded) == set(state) and all(torch.equal(loaded[k], state[k]) for k in state)


@pytest.mark.mnist
def test_a_factory_that_prints_leaves_the_csv_on_stdout_parseable(factory_dir, mnist_root):
    res = _factory_cli(factory_dir, "attack_factories:prints", "sd.pt", "--samples", "200", "--grid", "3",
                       "--iwae", "0", "--train-size", "300", "--test-size", "200", "--data-root", str(mnist_root),
                       "--device", "cpu", "--format", "csv")
    assert res.exit_code == 0, res.output
    assert "hello from the factory" in res.stderr and "hello" not in res.stdout
    table = pd.read_csv(io.StringIO(res.stdout))
    assert sorted(table["epoch"]) == [0, 1]


# ---------------------------------------------------------------------------------------------- class names
def test_the_short_fashion_names_of_the_figures_are_accepted():
    names = list(torchvision_classes())
    assert FASHION_MNIST_CLASSES.index("Boot") == names.index("Ankle boot")
    assert FASHION_MNIST_CLASSES.index("t-shirt") == names.index("T-shirt/top")
    with pytest.raises(ValueError, match="is not a class of Fashion-MNIST"):
        FASHION_MNIST_CLASSES.index("Sock")


def torchvision_classes():
    from torchvision.datasets import FashionMNIST

    return FashionMNIST.classes
