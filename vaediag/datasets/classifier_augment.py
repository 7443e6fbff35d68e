"""The judges' training augmentations: moves, the degradations VAE decoders produce, and junk images.

All functions are seeded through an explicit ``torch.Generator`` (CPU) and work on a batch at a time:

- :func:`random_shift`, :func:`random_hflip`: integer translations and left-right mirroring of uint8 images;
- :func:`random_warp`: a small random affine move (rotation, scale, shear, translation) plus an elastic
  displacement, bilinear, on float images;
- :func:`random_photometric`: what a Bernoulli-mean decoder does to intensities: Gaussian blur (the kernel of
  :func:`vaediag.datasets.degrade.degrade`), a gamma change of the stroke profile, a dimmer peak (intensity scaling)
  and a grey background (contrast loss);
- :func:`junk_images`: images that show nothing (blank, uniform grey, noise, smooth blobs, scribbles of
  noise) that the recipe trains towards a uniform distribution over the classes.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .degrade import gaussian_blur, smooth_noise


def _uniform(n: int, lo: float, hi: float, generator: torch.Generator) -> torch.Tensor:
    return lo + (hi - lo) * torch.rand(n, generator=generator)


def random_shift(images: torch.Tensor, max_shift: int, generator: torch.Generator) -> torch.Tensor:
    """Translate each image of ``images`` (uint8 [B,28,28]) by its own random offset in [-max_shift, max_shift]
    along both axes, filling with zeros (black)."""
    if max_shift <= 0:
        return images
    b, h, w = images.shape
    padded = F.pad(images, (max_shift,) * 4)
    offset = torch.randint(0, 2 * max_shift + 1, (b, 2), generator=generator).to(images.device)
    rows = offset[:, :1] + torch.arange(h, device=images.device)  # [B, H]
    cols = offset[:, 1:] + torch.arange(w, device=images.device)  # [B, W]
    batch = torch.arange(b, device=images.device)[:, None, None]
    return padded[batch, rows[:, :, None], cols[:, None, :]]


def random_hflip(images: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Mirror each image of ``images`` ([B,28,28] or [B,1,28,28]) left-right with probability 1/2, independently."""
    flip = (torch.rand(images.shape[0], generator=generator) < 0.5).to(images.device)
    return torch.where(flip.view(-1, *([1] * (images.dim() - 1))), images.flip(-1), images)


def random_warp(x: torch.Tensor, generator: torch.Generator, *, rotate: float = 10.0, scale: float = 0.1,
                shear: float = 0.15, shift: float = 2.0, elastic: float = 1.0) -> torch.Tensor:
    """Move each float image of ``x`` [B,1,28,28] by its own random affine map and elastic displacement.

    Rotation up to ``rotate`` degrees, isotropic scale in [1 - scale, 1 + scale], shear up to ``shear``,
    translation up to ``shift`` pixels per axis, plus a smooth random displacement field of about ``elastic``
    pixels (4x4 Gaussian noise upsampled bicubically). Bilinear sampling; outside is black.
    """
    b = x.shape[0]
    if b == 0:
        return x
    angle = _uniform(b, -rotate, rotate, generator) * math.pi / 180
    zoom = _uniform(b, 1 - scale, 1 + scale, generator)
    sh = _uniform(b, -shear, shear, generator)
    move = _uniform(2 * b, -shift, shift, generator).view(b, 2) * (2 / 28)  # pixels -> normalised coordinates
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin + sh * cos, move[:, 0]], 1),
                         torch.stack([sin, cos + sh * sin, move[:, 1]], 1)], 1)
    grid = F.affine_grid(theta, [b, 1, 28, 28], align_corners=False)
    if elastic > 0:
        field = torch.randn(b, 2, 4, 4, generator=generator) * (elastic * 2 / 28)
        grid = grid + F.interpolate(field, size=(28, 28), mode="bicubic", align_corners=False).permute(0, 2, 3, 1)
    return F.grid_sample(x, grid.to(x.device), mode="bilinear", padding_mode="zeros", align_corners=False)


def random_photometric(x: torch.Tensor, generator: torch.Generator, *, max_sigma: float = 2.5,
                       max_grey: float = 0.15, min_peak: float = 0.5, gamma: float = 0.5) -> torch.Tensor:
    """Degrade each float image of ``x`` [B,1,28,28] as a Bernoulli-mean decoder might, with its own settings:

    blur by sigma ~ U(0, ``max_sigma``) px (:func:`vaediag.datasets.degrade.gaussian_blur`), raise to a power
    exp(U(-``gamma``, ``gamma``)) (thinner or fatter strokes), scale so that the brightest pixel becomes
    peak ~ U(``min_peak``, 1) (half of the images keep their peak), then a grey background
    ``x -> g + (1 - g) x`` with g ~ U(0, ``max_grey``) (for half of the images; the other half stay black).
    """
    b = x.shape[0]
    if b == 0:
        return x
    sigma = _uniform(b, 0, max_sigma, generator)
    power = torch.exp(_uniform(b, -gamma, gamma, generator)).view(b, 1, 1, 1)
    peak = torch.where(torch.rand(b, generator=generator) < 0.5, _uniform(b, min_peak, 1, generator),
                       torch.ones(b)).view(b, 1, 1, 1)
    grey = torch.where(torch.rand(b, generator=generator) < 0.5, _uniform(b, 0, max_grey, generator),
                       torch.zeros(b)).view(b, 1, 1, 1)
    y = gaussian_blur(x, sigma.to(x.device)).clamp_(0, 1).pow(power.to(x.device))
    y = y * (peak.to(x.device) / y.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-3)).clamp(max=1.0)
    grey = grey.to(x.device)
    return grey + (1 - grey) * y


JUNK_KINDS = ("blank", "noise", "blobs", "sparse")


def junk_images(n: int, generator: torch.Generator) -> torch.Tensor:
    """``n`` float images [n,1,28,28] that show nothing, of kinds drawn in equal shares (:data:`JUNK_KINDS`):

    - ``blank``: one uniform level U(0, 1) (includes near-black and near-white);
    - ``noise``: independent pixels, uniform or Gaussian, over a random level and spread;
    - ``blobs``: smooth noise (:func:`vaediag.datasets.degrade.smooth_noise`, scale U(1, 5) px) raised to a random power;
    - ``sparse``: a random 3-15 % of pixels lit on black, blurred by U(0, 1.5) px.

    Each image is then scaled to a random peak U(0.3, 1) on a random grey background U(0, 0.3).
    """
    if n == 0:
        return torch.zeros(0, 1, 28, 28)
    kind = torch.randint(0, len(JUNK_KINDS), (n,), generator=generator)
    level = _uniform(n, 0, 1, generator).view(n, 1, 1, 1)
    out = level.expand(n, 1, 28, 28).clone()  # blank
    spread = _uniform(n, 0.05, 0.5, generator).view(n, 1, 1, 1)
    gaussian = torch.rand(n, 1, 1, 1, generator=generator) < 0.5
    noise = torch.where(gaussian, level + spread * torch.randn(n, 1, 28, 28, generator=generator),
                        level + spread * (2 * torch.rand(n, 1, 28, 28, generator=generator) - 1)).clamp(0, 1)
    blobs = torch.cat([smooth_noise(1, float(s), generator) for s in _uniform(n, 1, 5, generator)])
    blobs = blobs.pow(torch.exp(_uniform(n, -1, 1, generator)).view(n, 1, 1, 1))
    density = _uniform(n, 0.03, 0.15, generator).view(n, 1, 1, 1)
    sparse = (torch.rand(n, 1, 28, 28, generator=generator) < density).float()
    sparse = gaussian_blur(sparse, _uniform(n, 0, 1.5, generator))
    sparse = sparse / sparse.amax(dim=(1, 2, 3), keepdim=True).clamp_min(1e-3)
    kind = kind.view(n, 1, 1, 1)
    out = torch.where(kind == 1, noise, torch.where(kind == 2, blobs, torch.where(kind == 3, sparse, out)))
    peak = _uniform(n, 0.3, 1, generator).view(n, 1, 1, 1)
    grey = _uniform(n, 0, 0.3, generator).view(n, 1, 1, 1)
    out = torch.where(kind == 0, out, grey + (peak - grey).clamp_min(0) * out)
    return out.clamp_(0, 1)
