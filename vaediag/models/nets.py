"""VAE models: the Keras-example convolutional VAE (``conv``) and a CPU-friendly MLP VAE (``mlp``).

Both use a diagonal Gaussian posterior q(z|x) = N(mu, exp(logvar)), a N(0, I) prior and a Bernoulli
decoder on pixel intensities in [0, 1]. Losses are *per sample, in nats*:

- ``recon``: binary cross-entropy with logits, summed over the 784 pixels (-log p(x|z)),
- ``kl``: analytic KL(q(z|x) || N(0, I)), summed over latent dimensions,
- ``loss`` = recon + beta * kl (the negative ELBO when beta = 1).

Weight initialisation (``VAEConfig.init``): ``"glorot"`` is the Keras default (Glorot-uniform weights,
zero biases) and the default for ``conv``: with torch's default init the conv model's 16-unit ReLU
bottleneck mostly dies and the posterior collapses (KL ~0.01-0.07 nats after one MNIST epoch for most
seeds). ``"torch"`` keeps torch's default layer init; it is the default for ``mlp`` and what every
model saved before ``init`` existed was trained with.

A model knows no dataset and no training loop.
"""

from __future__ import annotations

from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from vaediag.errors import ConfigError, first_line
from vaediag.models.config import INIT_CHOICES, MODEL_CHOICES, VAEConfig  # noqa: F401  (re-exported)

IMAGE_SHAPE = (1, 28, 28)
N_PIXELS = 28 * 28


def init_weights(model: nn.Module, init: str) -> None:
    """Initialise every Conv2d / ConvTranspose2d / Linear of ``model`` in place, in module order, from
    torch's global RNG. ``"glorot"``: Glorot-uniform weights and zero biases (Keras' default);
    ``"torch"``: leave torch's default layer init untouched."""
    if init == "torch":
        return
    if init != "glorot":
        raise ConfigError(f"unknown init {init!r}; choose one of {', '.join(INIT_CHOICES)}")
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
                # fan_in + fan_out is the same for torch's and Keras' ConvTranspose weight layouts
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)


class VAEOutput(NamedTuple):
    """Result of a forward pass. ``loss``/``recon``/``kl`` are batch means of per-sample nats."""

    loss: torch.Tensor
    recon: torch.Tensor
    kl: torch.Tensor
    mu: torch.Tensor
    logvar: torch.Tensor
    z: torch.Tensor
    logits: torch.Tensor


def reconstruction_nll(logits: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Per-sample Bernoulli NLL in nats: BCE-with-logits summed over pixels, shape [N]."""
    return F.binary_cross_entropy_with_logits(logits, x, reduction="none").flatten(1).sum(1)


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """Per-sample analytic KL(N(mu, exp(logvar)) || N(0, I)) in nats, summed over dims, shape [N]."""
    return -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum(1)


class VAE(nn.Module):
    """Base class: subclasses provide ``encoder_net``/``mu_head``/``logvar_head`` and ``decode_logits``."""

    def __init__(self, config: VAEConfig):
        super().__init__()
        self.config = config

    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Posterior parameters (mu, logvar), each [N, latent_dim], for images x [N, 1, 28, 28] in [0, 1]."""
        h = self.encoder_net(x)
        return self.mu_head(h), self.logvar_head(h)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        """Bernoulli means (pixel probabilities) [N, 1, 28, 28] for latent codes z [N, latent_dim]."""
        return torch.sigmoid(self.decode_logits(z))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> VAEOutput:
        """One reparameterised pass; ``generator`` makes the noise reproducible."""
        mu, logvar = self.encode(x)
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + eps * torch.exp(0.5 * logvar)
        logits = self.decode_logits(z)
        n = x.shape[0]  # batch means of the per-sample sums, in one reduction each (faster than sum-then-mean)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / n
        kl = -0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp()) / n
        return VAEOutput(recon + self.config.beta * kl, recon, kl, mu, logvar, z, logits)


class MLPVAE(VAE):
    """784-512-256 encoder and mirrored 256-512-784 decoder with ReLU (about 1.07 M parameters for d=2)."""

    hidden = (512, 256)

    def __init__(self, config: VAEConfig):
        super().__init__(config)
        h1, h2 = self.hidden
        d = config.latent_dim
        self.encoder_net = nn.Sequential(
            nn.Flatten(), nn.Linear(N_PIXELS, h1), nn.ReLU(), nn.Linear(h1, h2), nn.ReLU()
        )
        self.mu_head = nn.Linear(h2, d)
        self.logvar_head = nn.Linear(h2, d)
        self.decoder_net = nn.Sequential(
            nn.Linear(d, h2), nn.ReLU(), nn.Linear(h2, h1), nn.ReLU(), nn.Linear(h1, N_PIXELS)
        )
        init_weights(self, config.init)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        return self.decoder_net(z).view(-1, *IMAGE_SHAPE)


class ConvVAE(VAE):
    """The Keras VAE example: Conv 32/3x3/s2 -> Conv 64/3x3/s2 -> Dense 16 -> (mu, logvar);
    decoder Dense 7*7*64 -> ConvT 64/s2 -> ConvT 32/s2 -> ConvT 1 (3x3, stride 1), ReLU between.

    Weights are initialised as in Keras (Glorot-uniform, zero biases) unless ``config.init`` says
    ``"torch"``. By default it runs in channels_last memory format, which makes the full-resolution
    layers several times faster on CPU (see the README's performance section); ``channels_last=False``
    gives the plain NCHW fp32 implementation that the benchmark compares against. Both compute the same
    function.
    """

    def __init__(self, config: VAEConfig, channels_last: bool = True):
        super().__init__(config)
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        d = config.latent_dim
        self.encoder_net = nn.Sequential(
            nn.Conv2d(1, 32, 3, stride=2, padding=1), nn.ReLU(),
            nn.Conv2d(32, 64, 3, stride=2, padding=1), nn.ReLU(),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 16), nn.ReLU(),
        )
        self.mu_head = nn.Linear(16, d)
        self.logvar_head = nn.Linear(16, d)
        self.decoder_fc = nn.Sequential(nn.Linear(d, 64 * 7 * 7), nn.ReLU())
        self.decoder_net = nn.Sequential(
            nn.ConvTranspose2d(64, 64, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 3, stride=2, padding=1, output_padding=1), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 3, stride=1, padding=1),
        )
        init_weights(self, config.init)
        self.to(memory_format=self.memory_format)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return super().encode(x.contiguous(memory_format=self.memory_format))

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        h = self.decoder_fc(z).view(-1, 64, 7, 7).contiguous(memory_format=self.memory_format)
        return self.decoder_net(h)


def build_model(config: VAEConfig) -> VAE:
    """Instantiate the model named by ``config.model``, its weights initialised as ``config.init`` says
    from torch's global RNG (deterministic under ``torch.manual_seed``)."""
    try:
        return {"mlp": MLPVAE, "conv": ConvVAE}[config.model](config)
    except (MemoryError, torch.OutOfMemoryError) as exc:
        raise ConfigError(f"cannot build the {config.model} model with latent dim {config.latent_dim}: out of "
                          f"memory ({first_line(exc)})") from None
    except RuntimeError as exc:  # CPU allocation failures are plain RuntimeErrors
        if "alloc" not in str(exc).lower():
            raise
        raise ConfigError(f"cannot build the {config.model} model with latent dim {config.latent_dim}: "
                          f"{first_line(exc)}") from None
