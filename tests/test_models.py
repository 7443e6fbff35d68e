import math

import pytest
import torch

from vaediag.errors import ConfigError
from vaediag.models.nets import INIT_CHOICES, VAEConfig, build_model, gaussian_kl, reconstruction_nll

LAYERS = (torch.nn.Conv2d, torch.nn.ConvTranspose2d, torch.nn.Linear)


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
    [({"model": "resnet"}, "unknown model"), ({"latent_dim": 0}, "latent dim"), ({"beta": -1.0}, "beta"),
     ({"init": "he"}, "unknown init 'he'; choose one of torch, glorot"), ({"init": ""}, "unknown init")],
)
def test_bad_config_is_config_error(kwargs, match):
    with pytest.raises(ConfigError, match=match) as exc:
        VAEConfig(**kwargs)
    assert "\n" not in str(exc.value)


def test_config_round_trip():
    cfg = VAEConfig("conv", 16, 4.0)
    assert VAEConfig.from_dict(cfg.to_dict()) == cfg


@pytest.mark.parametrize("kind, default", [("mlp", "torch"), ("conv", "glorot")])
def test_init_is_recorded_in_config(kind, default):
    assert VAEConfig(kind).init == default
    assert VAEConfig(kind).to_dict()["init"] == default
    for init in INIT_CHOICES:
        cfg = VAEConfig(kind, 3, 2.0, init)
        assert cfg.init == init and VAEConfig.from_dict(cfg.to_dict()) == cfg
        assert build_model(cfg).config.init == init


@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_legacy_config_without_init_means_torch_init(kind):
    """Configs saved before ``init`` existed were trained with torch's default init: load them as such."""
    cfg = VAEConfig.from_dict({"model": kind, "latent_dim": 2, "beta": 1.0})
    assert cfg.init == "torch"
    assert VAEConfig.from_dict({"model": kind, "init": None}).init == VAEConfig(kind).init  # None: default


def test_legacy_conv_checkpoint_loads_with_torch_init(tmp_path):
    from vaediag import load_checkpoint
    from vaediag.models.checkpoint import FORMAT

    torch.manual_seed(0)
    model = build_model(VAEConfig("conv", 2, init="torch"))
    legacy = {"model": "conv", "latent_dim": 2, "beta": 1.0}
    torch.save({"format": FORMAT, "epoch": 1, "model_config": legacy, "model_state": model.state_dict()},
               tmp_path / "old.pt")
    ck = load_checkpoint(tmp_path / "old.pt")
    assert ck.config == VAEConfig("conv", 2, 1.0, "torch")
    assert all(torch.equal(v, ck.model.state_dict()[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize("kind", ["mlp", "conv"])
def test_glorot_init_zero_biases_and_weights_within_bound(kind):
    torch.manual_seed(0)
    model = build_model(VAEConfig(kind, 2, init="glorot"))
    layers = [m for m in model.modules() if isinstance(m, LAYERS)]
    assert len(layers) == (9 if kind == "conv" else 7)
    for m in layers:
        fan_in, fan_out = torch.nn.init._calculate_fan_in_and_fan_out(m.weight)
        bound = math.sqrt(6.0 / (fan_in + fan_out))
        w = m.weight.detach()
        assert float(w.abs().max()) <= bound
        if w.numel() >= 1000:  # enough draws to see U(-b, b): the whole range, std b / sqrt(3)
            assert float(w.abs().max()) > 0.99 * bound
            assert abs(float(w.std()) / (bound / math.sqrt(3)) - 1) < 0.05
        assert m.bias is not None and float(m.bias.detach().abs().max()) == 0.0


def test_conv_defaults_to_glorot_and_torch_init_differs():
    torch.manual_seed(0)
    default = build_model(VAEConfig("conv", 2))
    torch.manual_seed(0)
    legacy = build_model(VAEConfig("conv", 2, init="torch"))
    assert float(default.encoder_net[5].bias.detach().abs().max()) == 0.0  # Dense 16
    assert float(legacy.encoder_net[5].bias.detach().abs().max()) > 0.0
    assert not torch.equal(default.encoder_net[5].weight, legacy.encoder_net[5].weight)


@pytest.mark.parametrize("kind", ["mlp", "conv"])
@pytest.mark.parametrize("init", INIT_CHOICES)
def test_init_is_deterministic_under_manual_seed(kind, init):
    states = []
    for _ in range(2):
        torch.manual_seed(5)
        states.append(build_model(VAEConfig(kind, 2, init=init)).state_dict())
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
    torch.manual_seed(6)
    other = build_model(VAEConfig(kind, 2, init=init)).state_dict()
    assert not all(torch.equal(states[0][k], other[k]) for k in other)


def test_mlp_default_init_is_torchs_unchanged():
    """MLP keeps torch's default init, drawn in layer order: existing MLP results stay bit-identical."""
    torch.manual_seed(0)
    model = build_model(VAEConfig("mlp", 2))
    torch.manual_seed(0)
    first = torch.nn.Linear(28 * 28, 512)
    assert torch.equal(model.encoder_net[1].weight, first.weight)
    assert torch.equal(model.encoder_net[1].bias, first.bias)


@pytest.mark.parametrize("init", INIT_CHOICES)
def test_conv_init_keeps_channels_last(init):
    torch.manual_seed(0)
    model = build_model(VAEConfig("conv", 2, init=init))
    convs = [m for m in model.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d))]
    assert all(m.weight.is_contiguous(memory_format=torch.channels_last) for m in convs)
    torch.manual_seed(0)
    plain = type(model)(VAEConfig("conv", 2, init=init), channels_last=False)
    x = torch.rand(4, 1, 28, 28)
    with torch.no_grad():
        a = model(x, generator=torch.Generator().manual_seed(0))
        b = plain(x, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(a.logits, b.logits, atol=1e-4) and torch.allclose(a.mu, b.mu, atol=1e-5)


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


def test_continuing_a_legacy_conv_run_keeps_its_torch_init():
    """A conv run saved before ``init`` existed was trained with torch's init; continuing it must not
    relabel it as Glorot (config.json and new checkpoints record what the weights came from)."""
    from vaediag.models.train_config import TrainConfig, continued

    legacy = {"model": "conv", "latent_dim": 2, "beta": 1.0, "epochs": 5, "checkpoints": [5], "batch_size": 128,
              "lr": 1e-3, "seed": 0, "device": "cpu", "train_size": None, "test_size": None}
    assert continued(legacy, {"epochs": 8}).model.init == "torch"
    assert TrainConfig.from_dict(legacy).to_dict()["init"] == "torch"
    assert TrainConfig(model=VAEConfig("conv")).to_dict()["init"] == "glorot"
