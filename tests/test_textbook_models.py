"""Models as people write them: the classic pytorch/examples VAE (no ``latent_dim``, a flat-input ``encode``, a
probabilities decoder) works unchanged through ``check_model``, ``evaluate_model`` and ``--model-factory``; a
probabilities decoder declared as logits is caught."""

from __future__ import annotations

import pytest
import torch
from click.testing import CliRunner
from torch import nn

import vaediag
from vaediag import columns as C
from vaediag.cli import cli
from vaediag.errors import ProtocolError
from vaediag.evaluate.settings import EvalSettings
from vaediag.models.protocol import FLAT_INPUT, IMAGE_INPUT, check_model
from vaediag.store.rundir import Run

import external_models as X
from classic_vae import VAE
from eval_fixtures import one_thread, random_classifier  # noqa: F401  (one_thread: autouse)
from helpers import assert_one_line_error, synthetic_digits

SMALL = EvalSettings(samples=200, grid=3, iwae=2)
QUIET = dict(log=lambda *_: None)


def test_the_classic_vae_passes_the_pre_flight_check_unchanged():
    model = VAE()
    assert not hasattr(model, "latent_dim")
    adapter = vaediag.check_model(model)  # decoder="probs": it ends in a sigmoid
    assert adapter.latent_dim == 20 and adapter.input == FLAT_INPUT and not adapter.deterministic
    x = torch.rand(5, 1, 28, 28)
    with torch.no_grad():
        mu, logvar = adapter.encode(x)
        own_mu, own_logvar = model.encode(x.view(-1, 784))
        torch.testing.assert_close(mu, own_mu)
        torch.testing.assert_close(logvar, own_logvar)
        z = torch.randn(5, 20)
        torch.testing.assert_close(adapter.decode(z), model.decode(z).view(5, 1, 28, 28))


def test_an_image_encoder_keeps_image_input_and_a_declared_latent_dim_must_agree():
    assert check_model(X.FlatLogitsVAE(), "logits").input == IMAGE_INPUT  # nn.Flatten inside: images work
    model = VAE()
    model.latent_dim = 8
    with pytest.raises(ProtocolError, match=r"encode\(x\) mu returned a tensor of shape \[2, 20\], expected a "
                                            r"tensor of shape \[2, 8\]"):
        check_model(model)


def test_a_probabilities_decoder_declared_as_logits_is_a_one_line_error():
    with pytest.raises(ProtocolError) as err:
        check_model(VAE(), "logits")
    message = str(err.value)
    assert "\n" not in message and 'decoder="logits"' in message and 'pass decoder="probs"' in message
    assert "flat grey" in message


def test_the_opposite_mistake_still_gets_its_hint():
    with pytest.raises(ProtocolError, match='pass decoder="logits"'):
        check_model(X.FlatLogitsVAE(), "probs")


def test_an_encoder_that_takes_neither_shape_is_named_with_both_tries():
    class Broken(VAE):
        def encode(self, x):
            raise ValueError("no input fits")

    with pytest.raises(ProtocolError, match=r"raised ValueError: no input fits on a \[2, 1, 28, 28\] batch \(and "
                                            r"failed on the same batch flat, \[2, 784\], too\)"):
        check_model(Broken())


def test_a_model_without_latent_dim_and_without_a_code_is_named():
    class NoCode(nn.Module):
        def encode(self, x):
            return "codes"

        def decode(self, z):
            return torch.zeros(len(z), 784)

    with pytest.raises(ProtocolError, match=r"encode\(x\) returned a str"):
        check_model(NoCode())


def test_evaluate_model_takes_the_classic_vae_and_records_its_input(tmp_path):
    torch.manual_seed(0)
    model = VAE()
    ev = vaediag.evaluate_model(model, tmp_path / "run", 1, settings=SMALL, data=synthetic_digits(),
                                classifier=random_classifier(), **QUIET)
    run = Run(tmp_path / "run")
    assert run.config["model"] == {"class": "classic_vae.VAE", "latent_dim": 20, "decoder": "probs",
                                   "deterministic": False, "input": "flat"}
    assert [c for c in ev.metrics.columns if c.startswith(C.KL_PER_DIM_PREFIX)][-1] == "kl_dim_19"
    # the stored codes are the classic encode of the flat test images
    data = synthetic_digits()
    with torch.no_grad():
        mu, _ = model.eval().encode(data.test_images.float().div(255).view(-1, 784))
    torch.testing.assert_close(torch.as_tensor(ev.artifacts[1]["test_mu"]), mu, atol=1e-5, rtol=1e-5)


def test_a_run_recorded_before_inputs_were_adapted_continues(tmp_path):
    """config.json written without model.input (image input was the only kind): a later call continues it."""
    from vaediag.files import atomic

    run_dir = tmp_path / "run"
    options = dict(settings=SMALL, data=synthetic_digits(), classifier=random_classifier(), decoder="logits", **QUIET)
    vaediag.evaluate_model(X.flat_vae(), run_dir, 1, **options)
    config = Run(run_dir).config
    del config["model"]["input"]
    atomic.write_json(run_dir / "config.json", config)
    assert vaediag.evaluate_model(X.flat_vae(), run_dir, 2, **options).epochs == [1, 2]


def test_model_factory_takes_the_classic_vae(tmp_path, monkeypatch):
    """`vaediag evaluate --model-factory classic_vae:classic_vae` on the classic model's own state_dict (the
    shipped classifier and data replaced by the synthetic ones, as the CLI tests of test_external do)."""
    import vaediag.evaluate.external as external

    monkeypatch.setattr(external, "load_dataset", lambda *a, **k: synthetic_digits())
    monkeypatch.setattr(external, "load_classifier", lambda *a, **k: random_classifier())
    torch.manual_seed(1)
    weights = tmp_path / "vae.pt"
    torch.save(VAE().state_dict(), weights)
    out = tmp_path / "ext"
    res = CliRunner().invoke(cli, ["evaluate", "--model-factory", "classic_vae:classic_vae", "--weights",
                                   str(weights), "--epoch", "3", "--out", str(out), "--samples", "200", "--grid", "3",
                                   "--iwae", "0", "--device", "cpu"])
    assert res.exit_code == 0, res.output
    run = Run(out)
    assert run.epochs == [3] and run.config["model"]["input"] == "flat" and run.config["model"]["latent_dim"] == 20
    res = CliRunner().invoke(cli, ["evaluate", "--model-factory", "classic_vae:classic_vae", "--weights",
                                   str(weights), "--epoch", "4", "--out", str(tmp_path / "bad"), "--decoder", "logits"])
    assert_one_line_error(res, 'pass decoder="probs"')
    assert not (tmp_path / "bad").exists()
