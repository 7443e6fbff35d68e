"""How vaediag degrades images to test (and train) its judges, and the constructed images no judge should read.

A VAE decoder with a Bernoulli likelihood outputs pixel *means*: strokes are blurred and the background is
rarely exactly black. :func:`degrade` imitates both with two documented steps, used alike by the training
recipe's report, the tests and ``benchmarks/bench_judge.py``:

1. **blur**: a Gaussian kernel of standard deviation ``sigma`` pixels, applied separably along rows then
   columns; weights ``exp(-k^2 / (2 sigma^2))`` for integer offsets ``|k| <= ceil(3 sigma)``, normalised to sum
   to 1; outside the image counts as black (0). ``sigma = 0`` leaves the image unchanged.
2. **grey background**: ``x -> grey + (1 - grey) * x``: black becomes ``grey``, white stays white.

:data:`SIGMAS` x :data:`GREYS` is the robustness grid every judge is reported on.

:func:`constructed_images` makes images that hold no digit and no garment (blank, uniform grey, noise,
smooth noise blobs); a judge must call every one of them unreadable.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

SIGMAS = (0.0, 0.5, 1.0, 1.5, 2.0)  # blur of the robustness grid, pixels
GREYS = (0.0, 0.05, 0.10)  # grey background of the robustness grid
KERNEL_SIGMAS = 3  # the blur kernel reaches ceil(3 sigma) pixels either side


def as_float_images(images: torch.Tensor | np.ndarray) -> torch.Tensor:
    """uint8 [N,28,28] / [N,1,28,28] (0-255) or float [N,28,28] / [N,1,28,28] (0-1) -> float32 [N,1,28,28]."""
    x = torch.as_tensor(images)
    if x.dim() == 3:
        x = x.unsqueeze(1)
    if x.dim() != 4 or tuple(x.shape[1:]) != (1, 28, 28):
        raise ValueError(f"expected images of shape [N, 28, 28] or [N, 1, 28, 28], got {tuple(x.shape)}")
    if x.dtype == torch.uint8:
        return x.float().div_(255)
    if not x.is_floating_point():
        raise ValueError(f"expected uint8 or floating-point images, got {x.dtype}")
    return x.float()


def gaussian_blur(x: torch.Tensor, sigma: float | torch.Tensor) -> torch.Tensor:
    """Blur float images ``x`` [N,1,H,W] with a Gaussian of ``sigma`` pixels (one number, or one per image [N]).

    The kernel is the one :func:`degrade` documents; images with ``sigma = 0`` come back unchanged.
    """
    n = x.shape[0]
    sig = torch.as_tensor(sigma, dtype=torch.float32).to(x.device).expand(n) if n else torch.zeros(0)
    if n == 0 or float(sig.max()) <= 0:
        return x
    radius = math.ceil(KERNEL_SIGMAS * float(sig.max()))
    k = torch.arange(-radius, radius + 1, dtype=torch.float32, device=x.device)
    safe = sig.clamp_min(1e-6)[:, None]
    weights = torch.exp(-k[None, :] ** 2 / (2 * safe**2))
    weights = weights * (k[None, :].abs() <= torch.ceil(KERNEL_SIGMAS * safe))  # each image's own reach
    weights = torch.where(sig[:, None] > 0, weights, (k[None, :] == 0).float())
    weights = weights / weights.sum(1, keepdim=True)
    h, w = x.shape[-2:]
    y = x.reshape(1, n, h, w)  # one channel per image: a grouped convolution blurs each with its own kernel
    y = F.conv2d(F.pad(y, (radius, radius, 0, 0)), weights.view(n, 1, 1, -1), groups=n)
    y = F.conv2d(F.pad(y, (0, 0, radius, radius)), weights.view(n, 1, -1, 1), groups=n)
    return y.reshape(n, 1, h, w)


def degrade(images: torch.Tensor | np.ndarray, sigma: float, grey: float) -> torch.Tensor:
    """``images`` (uint8 0-255 or float 0-1, [N,28,28] or [N,1,28,28]) blurred by a Gaussian of ``sigma``
    pixels, then on a ``grey`` background (``x -> grey + (1 - grey) x``): float32 [N,1,28,28] in [0, 1].

    See the module docstring for the exact kernel. ``degrade(x, 0, 0)`` is ``x`` as floats.
    """
    if sigma < 0 or not 0 <= grey < 1:
        raise ValueError(f"need sigma >= 0 and 0 <= grey < 1, got sigma={sigma}, grey={grey}")
    x = gaussian_blur(as_float_images(images), float(sigma))
    return x if grey == 0 else grey + (1 - grey) * x


# ------------------------------------------------------------------------------------------- constructed


def smooth_noise(n: int, scale: float, generator: torch.Generator) -> torch.Tensor:
    """``n`` random blob images [n,1,28,28]: white Gaussian noise blurred by ``scale`` pixels, each image
    stretched to span [0, 1]."""
    x = gaussian_blur(torch.randn(n, 1, 28, 28, generator=generator), scale)
    lo = x.amin(dim=(1, 2, 3), keepdim=True)
    hi = x.amax(dim=(1, 2, 3), keepdim=True)
    return (x - lo) / (hi - lo).clamp_min(1e-6)


def constructed_images(n: int = 200, seed: int = 12345) -> dict[str, torch.Tensor]:
    """Images that show nothing a judge was trained to name, by kind, each float32 [m,1,28,28] in [0, 1]:

    - ``black``, ``white``: one blank image each;
    - ``grey``: uniform grey at 0.1, 0.2, ..., 0.9;
    - ``uniform_noise``: ``n`` images of independent U(0, 1) pixels;
    - ``gaussian_noise``: ``n`` images of N(0.5, 0.25^2) pixels, clipped to [0, 1];
    - ``blobs``: ``n`` images of smooth noise blobs (:func:`smooth_noise`, scales 1.5, 2, 3 and 4 px).
    """
    gen = torch.Generator().manual_seed(seed)
    scales = (1.5, 2.0, 3.0, 4.0)
    per = -(-n // len(scales))
    blobs = torch.cat([smooth_noise(per, s, gen) for s in scales])[:n]
    return {
        "black": torch.zeros(1, 1, 28, 28),
        "white": torch.ones(1, 1, 28, 28),
        "grey": torch.arange(1, 10, dtype=torch.float32).div(10).view(9, 1, 1, 1).expand(9, 1, 28, 28).clone(),
        "uniform_noise": torch.rand(n, 1, 28, 28, generator=gen),
        "gaussian_noise": (0.5 + 0.25 * torch.randn(n, 1, 28, 28, generator=gen)).clamp_(0, 1),
        "blobs": blobs,
    }
