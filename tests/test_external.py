"""Diagnosing a VAE vaediag did not train: the model protocol, ``evaluate_model`` (external runs) and
``vaediag evaluate --model-factory`` (models from tests/external_models.py)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

import vaediag
from vaediag import columns as C
from vaediag.cli import cli
from vaediag.errors import ConfigError, ProtocolError
from vaediag.evaluate.settings import EvalSettings
from vaediag.models.nets import VAEConfig, build_model
from vaediag.models.protocol import VAEModel, check_model
from vaediag.store.rundir import Run

import external_models as X
from eval_fixtures import one_thread, random_classifier  # noqa: F401  (one_thread: autouse)
from helpers import assert_one_line_error, synthetic_digits

SMALL = EvalSettings(samples=300, grid=4, iwae=4)
QUIET = dict(log=lambda *_: None)



# ---------------------------------------------------------------------------------------------- done when
@pytest.mark.mnist
def test_own_vae_in_its_own_loop_then_report_and_check(tmp_path, mnist_root):
    """A VAE that is no vaediag class (flat logits decoder), trained in its own loop on real MNIST, evaluated at
    epochs 2 and 4; then `vaediag report` and `vaediag check` on the external run."""
    from vaediag.datasets.data import MNISTData, load_mnist

    data = load_mnist(mnist_root, train_size=2000, test_size=500, seed=0, log=lambda *_: None)
    x = MNISTData.to_float(data.train_images)
    torch.manual_seed(0)
    model = X.FlatLogitsVAE(latent_dim=2)
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    run_dir = tmp_path / "mine"
    for epoch in range(1, 5):
        model.train()
        for i in range(0, len(x), 100):
            loss = model.loss(x[i : i + 100])
            opt.zero_grad()
            loss.backward()
            opt.step()
        if epoch in (2, 4):
            vaediag.evaluate_model(model, run_dir, epoch, decoder="logits", settings=SMALL, train_size=1000,
                                   test_size=500, data_root=mnist_root, config={"lr": 3e-3}, **QUIET)
    assert model.training  # its mode is restored for the loop

    run = Run(run_dir)
    assert run.is_external and run.config["model"]["class"] == "external_models.FlatLogitsVAE"
    assert run.config["user"] == {"lr": 3e-3} and run.config["dataset"] == "mnist"
    metrics = pd.read_csv(run_dir / "metrics.csv", index_col="epoch")
    assert list(metrics.index[metrics.source == "model"]) == [2, 4]
    # the stored codes are the final model's encoder means on the test subset (independent forward pass)
    test = load_mnist(mnist_root, train_size=1000, test_size=500, seed=0, log=lambda *_: None)
    with torch.no_grad():
        mu, logvar = model.eval().encode(MNISTData.to_float(test.test_images))
    np.testing.assert_allclose(run.artifacts(4)["test_mu"], mu.numpy(), atol=1e-5)
    # the test ELBO of epoch 4 against a Monte-Carlo estimate of our own (other noise: a loose tolerance)
    torch.manual_seed(1)
    with torch.no_grad():
        own = np.mean([model.loss(MNISTData.to_float(test.test_images)).item() for _ in range(5)])
    assert metrics.loc[4, C.EVAL_LOSS] == pytest.approx(own, rel=0.03)
    assert np.isfinite(metrics.loc[4, C.IWAE_NLL]) and metrics.loc[4, C.IWAE_NLL] <= metrics.loc[4, C.EVAL_LOSS] + 1

    res = CliRunner().invoke(cli, ["report", str(run_dir)])
    assert res.exit_code == 0, res.output
    md = (run_dir / "report.md").read_text(encoding="utf-8")
    assert "external\\_models.FlatLogitsVAE" in md and "No training history" in md
    knn = metrics.loc[4, C.KNN_ACCURACY]
    assert f"{100 * knn:.1f} %" in md  # the kNN accuracy quoted is the table's cell
    assert (run_dir / "figures" / "loss.png").is_file()  # drawn from the IWAE / ELBO columns, not empty

    claims = tmp_path / "claims.toml"
    claims.write_text('[[claim]]\ntext = "3 and 8 are mixed"\nkind = "mixed_pair"\nepoch = 4\ndigits = [3, 8]\n\n'
                      '[[claim]]\ntext = "it overfits"\nkind = "overfitting"\nafter = 2\n', encoding="utf-8")
    res = CliRunner().invoke(cli, ["check", str(claims), str(run_dir), "--format", "csv"])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(pd.io.common.StringIO(res.stdout))
    assert set(table.verdict) <= {"supported", "refuted", "inconclusive"} and len(table) == 2
    overfit = table[table.kind == "overfitting"].iloc[0]
    assert overfit.verdict == "inconclusive" and "external run" in overfit.explanation


# ---------------------------------------------------------------------------------------------- the protocol
@pytest.mark.parametrize("name", ["mlp", "conv"])
def test_vaediags_own_models_satisfy_the_protocol(name):
    model = build_model(VAEConfig(model=name, latent_dim=3))
    assert isinstance(model, VAEModel)
    adapter = check_model(model)
    assert not adapter.deterministic and adapter.latent_dim == 3
    z = torch.randn(4, 3)
    torch.testing.assert_close(adapter.decode(z), model.decode(z))


@pytest.mark.parametrize("model, decoder, fragment", [
    (X.NoDecode(), "probs", "NoDecode has no 'decode'"),
    (X.WrongEncodeShape(), "logits", "encode(x) mu returned a tensor of shape [2, 1], expected a tensor of shape [2, 2]"),
    (X.NaNDecode(), "probs", "decode(z) returned NaN"),
    (X.FlatLogitsVAE(), "probs", 'pass decoder="logits"'),
    (X.FlatLogitsVAE(), "sigmoid", "unknown decoder 'sigmoid'"),
])
def test_protocol_violations_are_named(model, decoder, fragment):
    with pytest.raises(ProtocolError) as err:
        check_model(model, decoder)
    assert fragment in str(err.value) and "\n" not in str(err.value)


def test_protocol_names_a_bad_latent_dim_and_a_bad_decode_shape():
    m = X.FlatLogitsVAE()
    m.latent_dim = "2"
    with pytest.raises(ProtocolError, match="latent_dim must be an integer"):
        check_model(m, "logits")
    m = X.DeterministicAE()
    m.decode = lambda z: torch.zeros(len(z), 10)
    with pytest.raises(ProtocolError, match=r"decode\(z\) returned a tensor of shape \[2, 10\]"):
        check_model(m)


def test_flat_logits_are_reshaped_and_sigmoided():
    m = X.FlatLogitsVAE()
    adapter = check_model(m, "logits")
    z = torch.randn(3, 2)
    with torch.no_grad():
        torch.testing.assert_close(adapter.decode(z), torch.sigmoid(m.decode(z)).view(3, 1, 28, 28))
        torch.testing.assert_close(adapter.decode_logits(z), m.decode(z).view(3, 1, 28, 28))


# ---------------------------------------------------------------------------------------------- evaluate_model
def _evaluate(model, run_dir, epoch, **kw):
    options = dict(settings=SMALL, data=synthetic_digits(), classifier=random_classifier(), **QUIET)
    options.update(kw)
    return vaediag.evaluate_model(model, run_dir, epoch, **options)


def test_deterministic_encoder_leaves_the_variance_columns_nan(tmp_path):
    torch.manual_seed(0)
    ev = _evaluate(X.DeterministicAE(), tmp_path / "ae", 1)
    row = ev.metrics.loc[1]
    nan_columns = [C.EVAL_LOSS, C.EVAL_RECON, C.EVAL_KL, C.IWAE_NLL, C.IWAE_TRAIN_NLL, f"{C.KL_PER_DIM_PREFIX}0",
                   f"{C.KL_PER_DIM_PREFIX}1", C.AGGPOST_VAR_MEAN, C.AGGPOST_KL_PRIOR]
    assert all(math.isnan(row[c]) for c in nan_columns)
    for column in (C.SILHOUETTE, C.KNN_ACCURACY, C.ACTIVE_UNITS, C.FRECHET, C.RECON_ACCURACY, C.AGGPOST_MEAN_NORM):
        assert np.isfinite(row[column]), column
    mu = ev.artifacts[1]["test_mu"].astype(np.float64)
    assert row[C.AGGPOST_MEAN_NORM] == pytest.approx(np.linalg.norm(mu.mean(axis=0)), rel=1e-6)
    assert Run(tmp_path / "ae").config["model"]["deterministic"] is True
    res = CliRunner().invoke(cli, ["report", str(tmp_path / "ae")])
    assert res.exit_code == 0, res.output
    assert not (tmp_path / "ae" / "figures" / "loss.png").exists()  # nothing to draw: no empty figure


def test_epochs_accumulate_rows_replace_and_checkpoints_are_saved(tmp_path):
    torch.manual_seed(0)
    model, run_dir = X.FlatLogitsVAE(), tmp_path / "run"
    _evaluate(model, run_dir, 3, decoder="logits", save_checkpoint=True)
    first = Run(run_dir).metrics.loc[3, C.SILHOUETTE]
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5 * torch.randn_like(p))
    ev = _evaluate(model, run_dir, 1, decoder="logits")
    assert ev.epochs == [1, 3] and ev.metrics.loc[3, C.SILHOUETTE] == first  # epoch 3 rebuilt from its cache
    Run(run_dir).clear_cache()  # earlier rows then come from the published tables
    ev = _evaluate(model, run_dir, 3, decoder="logits")  # re-evaluating epoch 3 replaces its row
    assert ev.epochs == [1, 3] and ev.metrics.loc[3, C.SILHOUETTE] != first
    assert ev.metrics.loc[3, C.SILHOUETTE] == ev.metrics.loc[1, C.SILHOUETTE]  # same weights now
    saved = torch.load(run_dir / "checkpoints" / "epoch_003.pt", weights_only=True)
    assert saved["class"] == "external_models.FlatLogitsVAE" and saved["format"] == "vaediag-external-v1"
    assert set(saved["state_dict"]) == set(model.state_dict())


def _listing(path):
    return sorted((str(p.relative_to(path)), p.stat().st_mtime_ns) for p in path.rglob("*"))


@pytest.mark.parametrize("change, fragment", [
    (dict(model=X.FlatLogitsVAE(latent_dim=3)), "model.latent_dim = 2, this call has 3"),
    (dict(decoder="probs", model=X.DeterministicAE()), "model.class"),
    (dict(settings=EvalSettings(samples=301, grid=4, iwae=4)), "evaluation.settings"),
    (dict(test_size=100), "evaluation.test_size"),
])
def test_a_second_call_that_disagrees_writes_nothing(tmp_path, change, fragment):
    run_dir = tmp_path / "run"
    _evaluate(X.FlatLogitsVAE(), run_dir, 1, decoder="logits")
    before = _listing(run_dir)
    options = dict(decoder="logits")
    options.update(change)
    model = options.pop("model", X.FlatLogitsVAE())
    with pytest.raises(ConfigError, match=fragment.replace(".", r"\.")):
        _evaluate(model, run_dir, 2, **options)
    assert _listing(run_dir) == before


def test_bad_arguments_write_nothing(tmp_path):
    for kwargs, fragment in ((dict(config={"f": object()}), "JSON-able"), (dict(dataset="cifar"), "cifar"),
                             (dict(decoder="probs"), "decoder")):
        with pytest.raises(ConfigError, match=fragment):
            _evaluate(X.FlatLogitsVAE(), tmp_path / "run", 1, **{"decoder": "logits", **kwargs})
        assert not (tmp_path / "run").exists()


# ---------------------------------------------------------------------------------------------- the CLI
def _weights(tmp_path, model=None, name="w.pt"):
    path = tmp_path / name
    torch.save((model or X.flat_vae()).state_dict(), path)
    return path


@pytest.mark.mnist
def test_cli_model_factory_evaluates_into_an_external_run(tmp_path, mnist_root):
    weights, out = _weights(tmp_path), tmp_path / "ext"
    args = ["evaluate", "--model-factory", "external_models:flat_vae", "--weights", str(weights), "--epoch", "7",
            "--out", str(out), "--decoder", "logits", "--samples", "200", "--grid", "3", "--iwae", "0",
            "--train-size", "300", "--test-size", "200", "--data-root", str(mnist_root), "--device", "cpu",
            "--format", "csv"]
    res = CliRunner().invoke(cli, args)
    assert res.exit_code == 0, res.output
    run = Run(out)
    assert run.is_external and run.epochs == [7] and run.config["user"]["model_factory"] == "external_models:flat_vae"
    res = CliRunner().invoke(cli, ["evaluate", str(out)])
    assert_one_line_error(res, "--model-factory")


@pytest.mark.parametrize("factory, weights, fragment", [
    ("external_models.flat_vae", "good", "not of the form package.module:function"),
    ("no_such_module_xyz:f", "good", "module 'no_such_module_xyz' does not import: ModuleNotFoundError"),
    ("external_models:nope", "good", "has no attribute 'nope'"),
    ("external_models:NOT_CALLABLE", "good", "not callable"),
    ("external_models:raises", "good", "raised RuntimeError: cannot build the model"),
    ("external_models:no_decode", "good", "NoDecode has no 'decode'"),
    ("external_models:wrong_encode_shape", "good", "shape [2, 1]"),
    ("external_models:flat_vae", "missing", "no such file"),
    ("external_models:flat_vae", "corrupt", "does not load with torch.load(weights_only=True)"),
    ("external_models:flat_vae", "list", "holds no state_dict"),
    ("external_models:flat_vae", "other", "enc.3.weight' has shape [6, 64] in the file, [4, 64] in the model"),
    ("external_models:flat_vae", "extra", "unexpected key 'extra'"),
])
def test_cli_model_factory_bad_input_is_one_line_and_writes_nothing(tmp_path, factory, weights, fragment):
    path = tmp_path / "w.pt"
    if weights == "good":
        _weights(tmp_path)
    elif weights == "corrupt":
        path.write_bytes(b"not a torch file")
    elif weights == "list":
        torch.save([torch.zeros(1)], path)
    elif weights == "other":
        _weights(tmp_path, X.FlatLogitsVAE(latent_dim=3))
    elif weights == "extra":
        torch.save({**X.flat_vae().state_dict(), "extra": torch.zeros(1)}, path)
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["evaluate", "--model-factory", factory, "--weights", str(path), "--epoch", "1",
                                   "--out", str(out), "--decoder", "logits"])
    assert_one_line_error(res, fragment)
    assert not out.exists()


def test_cli_unknown_dataset_writes_nothing(tmp_path):
    out = tmp_path / "out"
    res = CliRunner().invoke(cli, ["evaluate", "--model-factory", "external_models:flat_vae", "--weights",
                                   str(_weights(tmp_path)), "--epoch", "1", "--out", str(out), "--dataset", "cifar"])
    assert_one_line_error(res, "cifar")
    assert not out.exists()


# ---------------------------------------------------------------------------------------------- Fashion-MNIST, compare


@pytest.mark.mnist
def test_evaluate_model_on_fashion_mnist_names_its_classes_and_compares(tmp_path, fashion_root):
    """`evaluate_model(..., dataset="fashion-mnist")` evaluates on Fashion-MNIST's test images with its own
    classifier; the tables and the report name the classes; `vaediag compare` puts the external run beside
    another one."""
    from vaediag.datasets.data import load_dataset

    torch.manual_seed(0)
    model = X.FlatLogitsVAE(latent_dim=2)
    for epoch in (1, 2):
        vaediag.evaluate_model(model, tmp_path / "mine", epoch, dataset="fashion-mnist", decoder="logits",
                               settings=SMALL, train_size=1000, test_size=300, data_root=fashion_root, **QUIET)
        with torch.no_grad():
            for p in model.parameters():
                p.mul_(0.9)  # another model at epoch 2
    run = Run(tmp_path / "mine")
    assert run.dataset == "fashion-mnist" and run.config["dataset"] == "fashion-mnist"
    # the codes stored are the model's own on Fashion-MNIST's test subset (not MNIST's)
    test = load_dataset("fashion-mnist", fashion_root, train_size=1000, test_size=300, seed=0, log=lambda *_: None)
    np.testing.assert_array_equal(run.artifacts(2)["test_labels"], test.test_labels.numpy())
    per_class = run.per_class
    names = per_class[per_class[C.EPOCH] == 2].set_index(C.CLASS)[C.CLASS_NAME]
    assert names[6] == "Shirt" and names[0] == "T-shirt/top" and names[9] == "Ankle boot"

    res = CliRunner().invoke(cli, ["report", str(run.path)])
    assert res.exit_code == 0, res.output
    md = (run.path / "report.md").read_text(encoding="utf-8")
    assert "on Fashion-MNIST" in md and "test images" in md and "digit" not in md.split("## Configuration")[0]

    other = tmp_path / "mine-mnist"
    vaediag.evaluate_model(model, other, 1, decoder="logits", settings=SMALL, train_size=1000, test_size=300,
                           data_root=fashion_root, **QUIET)
    res = CliRunner().invoke(cli, ["compare", str(run.path), str(other), "--out", str(tmp_path / "cmp")])
    assert res.exit_code == 0, res.output
    table = pd.read_csv(tmp_path / "cmp" / "comparison.csv")
    assert {"mine", "mine-mnist"} <= set(table.astype(str).stack())
