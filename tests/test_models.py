import math

import pytest
import torch

from vaediag.errors import ConfigError
from vaediag.models import VAEConfig, build_model, gaussian_kl, reconstruction_nll


@pytest.mark.parametrize("kind", ["mlp", "conv"])
@pytest.mark.parametrize("latent_dim", [1, 2, 16])
def test_shapes_and_named_output(kind, latent_dim):
    torch.manual_seed(0)
    model = build_model(VAEConfig(kind, latent_dim))
    x = torch.rand(5, 1, 28, 28)
    mu, logvar = model.encode(x)
    assert mu.shape == logvar.shape == (5, latent_dim)
    probs = model.decode(mu).detach()
    assert probs.shape == (5, 1, 28, 28)
    assert float(probs.min()) >= 0 and float(probs.max()) <= 1
    out = model(x)
    assert out.z.shape == (5, latent_dim) and out.logits.shape == (5, 1, 28, 28)
    assert torch.allclose(out.loss, out.recon + model.config.beta * out.kl)


def test_loss_terms_match_independent_formulas():
    torch.manual_seed(1)
    logits = torch.randn(4, 1, 28, 28)
    x = torch.rand(4, 1, 28, 28)
    p = torch.sigmoid(logits.double())
    expected = -(x * torch.log(p) + (1 - x) * torch.log1p(-p)).flatten(1).sum(1)
    assert torch.allclose(reconstruction_nll(logits, x).double(), expected, atol=1e-3)

    mu, logvar = torch.randn(6, 3), torch.randn(6, 3)
    q = torch.distributions.Normal(mu, torch.exp(0.5 * logvar))
    prior = torch.distributions.Normal(torch.zeros(3), torch.ones(3))
    expected_kl = torch.distributions.kl_divergence(q, prior).sum(1)
    assert torch.allclose(gaussian_kl(mu, logvar), expected_kl, atol=1e-5)


def test_kl_zero_for_prior_posterior():
    assert float(gaussian_kl(torch.zeros(2, 4), torch.zeros(2, 4)).abs().max()) == 0.0


def test_beta_weights_kl():
    torch.manual_seed(0)
    model = build_model(VAEConfig("mlp", 2, beta=4.0))
    with torch.no_grad():
        out = model(torch.rand(3, 1, 28, 28), generator=torch.Generator().manual_seed(0))
    assert math.isclose(float(out.loss), float(out.recon + 4.0 * out.kl), rel_tol=1e-6)


def test_generator_makes_forward_reproducible():
    torch.manual_seed(0)
    model = build_model(VAEConfig("conv", 2))
    x = torch.rand(3, 1, 28, 28)
    a = model(x, generator=torch.Generator().manual_seed(7))
    b = model(x, generator=torch.Generator().manual_seed(7))
    assert torch.equal(a.z, b.z) and torch.equal(a.loss, b.loss)


@pytest.mark.parametrize(
    "kwargs, match",
    [({"model": "resnet"}, "unknown model"), ({"latent_dim": 0}, "latent dim"), ({"beta": -1.0}, "beta")],
)
def test_bad_config_is_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        VAEConfig(**kwargs)


def test_config_round_trip():
    cfg = VAEConfig("conv", 16, 4.0)
    assert VAEConfig.from_dict(cfg.to_dict()) == cfg


def test_conv_matches_keras_architecture():
    model = build_model(VAEConfig("conv", 2))
    convs = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert [(type(m).__name__, m.in_channels, m.out_channels, m.stride[0]) for m in convs] == [
        ("Conv2d", 1, 32, 2), ("Conv2d", 32, 64, 2),
        ("ConvTranspose2d", 64, 64, 2), ("ConvTranspose2d", 64, 32, 2), ("ConvTranspose2d", 32, 1, 1),
    ]
    assert all(m.kernel_size == (3, 3) for m in convs)
    dense = [m.out_features for m in model.modules() if isinstance(m, torch.nn.Linear)]
    assert dense == [16, 2, 2, 7 * 7 * 64]


@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_forward_losses_are_means_of_per_sample_terms(kind):
    torch.manual_seed(3)
    model = build_model(VAEConfig(kind, 3, beta=2.0))
    x = torch.rand(6, 1, 28, 28)
    with torch.no_grad():
        out = model(x, generator=torch.Generator().manual_seed(1))
        assert torch.allclose(out.recon, reconstruction_nll(out.logits, x).mean(), rtol=1e-5)
        assert torch.allclose(out.kl, gaussian_kl(out.mu, out.logvar).mean(), rtol=1e-5)
        assert torch.allclose(out.loss, out.recon + 2.0 * out.kl)
