"""Models that are not vaediag classes, for the model-protocol tests and ``vaediag evaluate --model-factory``.

Each factory takes no arguments (what ``--model-factory tests_module:function`` calls). The broken ones each
violate the protocol in one named way.
"""

from __future__ import annotations

import torch
from torch import nn


class FlatLogitsVAE(nn.Module):
    """A user's own VAE: 784-64 MLP encoder, a decoder that returns flat [N, 784] Bernoulli logits."""

    def __init__(self, latent_dim: int = 2, hidden: int = 64):
        super().__init__()
        self.latent_dim = latent_dim
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 2 * latent_dim))
        self.dec = nn.Sequential(nn.Linear(latent_dim, hidden), nn.ReLU(), nn.Linear(hidden, 784))

    def encode(self, x):
        mu, logvar = self.enc(x).chunk(2, dim=1)
        return mu, logvar

    def decode(self, z):
        return self.dec(z)  # logits, flat

    def loss(self, x):
        """The negative ELBO (nats per image), for the user's own training loop."""
        mu, logvar = self.encode(x)
        z = mu + torch.randn_like(mu) * (0.5 * logvar).exp()
        recon = nn.functional.binary_cross_entropy_with_logits(self.decode(z), x.flatten(1), reduction="sum")
        kl = -0.5 * (1 + logvar - mu.pow(2) - logvar.exp()).sum()
        return (recon + kl) / len(x)


class DeterministicAE(nn.Module):
    """An autoencoder: encode returns mu alone; decode returns probabilities [N, 1, 28, 28]."""

    def __init__(self, latent_dim: int = 2):
        super().__init__()
        self.latent_dim = latent_dim
        self.enc = nn.Sequential(nn.Flatten(), nn.Linear(784, latent_dim))
        self.dec = nn.Linear(latent_dim, 784)

    def encode(self, x):
        return self.enc(x)

    def decode(self, z):
        return torch.sigmoid(self.dec(z)).view(-1, 1, 28, 28)


class NoDecode(nn.Module):
    latent_dim = 2

    def encode(self, x):
        return torch.zeros(len(x), 2), torch.zeros(len(x), 2)


class WrongEncodeShape(FlatLogitsVAE):
    def encode(self, x):
        mu, logvar = super().encode(x)
        return mu[:, :1], logvar[:, :1]


class NaNDecode(DeterministicAE):
    def decode(self, z):
        return torch.full((len(z), 1, 28, 28), float("nan"))


def flat_vae():
    torch.manual_seed(0)
    return FlatLogitsVAE()


def flat_vae_d3():
    return FlatLogitsVAE(latent_dim=3)


def no_decode():
    return NoDecode()


def wrong_encode_shape():
    return WrongEncodeShape()


def raises():
    raise RuntimeError("cannot build the model")


NOT_CALLABLE = 3


class PyTorchExampleVAE(nn.Module):
    """The VAE of pytorch/examples (vae/main.py): 784-400-20 encoder, 20-400-784 decoder returning probabilities."""

    latent_dim = 20

    def __init__(self):
        super().__init__()
        self.fc1, self.fc21, self.fc22 = nn.Linear(784, 400), nn.Linear(400, 20), nn.Linear(400, 20)
        self.fc3, self.fc4 = nn.Linear(20, 400), nn.Linear(400, 784)

    def encode(self, x):
        h = torch.relu(self.fc1(x.reshape(-1, 784)))
        return self.fc21(h), self.fc22(h)

    def decode(self, z):
        return torch.sigmoid(self.fc4(torch.relu(self.fc3(z))))

    def loss(self, x):
        """pytorch/examples' loss: summed Bernoulli cross-entropy plus KL, per batch."""
        mu, logvar = self.encode(x)
        recon = self.decode(mu + torch.randn_like(mu) * (0.5 * logvar).exp())
        bce = nn.functional.binary_cross_entropy(recon, x.reshape(-1, 784), reduction="sum")
        return bce - 0.5 * torch.sum(1 + logvar - mu.pow(2) - logvar.exp())
