"""The model protocol: what vaediag needs from a VAE it did not train, and the adapter that gives it that.

Any object satisfying :class:`VAEModel` can be diagnosed (:func:`vaediag.evaluate_model`, ``vaediag evaluate
--model-factory``): an ``nn.Module`` of your own, a Lightning module, a pythae model behind a thin wrapper, a plain
class. vaediag's own :class:`~vaediag.models.nets.MLPVAE` / :class:`~vaediag.models.nets.ConvVAE` satisfy it.

Required (images ``x`` are ``float32 [N, 1, 28, 28]`` with pixel intensities in [0, 1]):

- ``encode(x)`` -> ``(mu, logvar)``, each ``[N, latent_dim]``, the diagonal Gaussian posterior
  q(z|x) = N(mu, exp(logvar)); or ``mu`` alone (a tensor ``[N, latent_dim]``) for a **deterministic encoder**.
  An encoder written for flat input (``[N, 784]``: the classic MLP VAE that flattens in ``forward``) is
  adapted: the probe tries the image shape first and falls back to flat input (``ModelAdapter.input``,
  recorded as ``model.input`` = ``"image"`` / ``"flat"`` in an external run's config.json);
- ``decode(z)`` for ``z [N, latent_dim]`` -> Bernoulli means (pixel probabilities in [0, 1]) ``[N, 1, 28, 28]``;
  a flat ``[N, 784]`` output (or ``[N, 28, 28]``) is accepted and reshaped;
- ``latent_dim: int`` (>= 1), the size of z: optional; without the attribute it is read from the width of
  ``encode``'s output on the probe batch (with it, the two must agree).

The one keyword that adapts decoders: ``decoder="probs"`` (default: ``decode`` returns probabilities) or
``decoder="logits"`` (``decode`` returns Bernoulli logits, e.g. a last ``nn.Linear`` without sigmoid; vaediag
applies the sigmoid). Flat outputs are reshaped either way. A mismatch is caught on the probe batch:
``"probs"`` with values outside [0, 1] (it returns logits), and ``"logits"`` with every value inside [0, 1] (it
returns probabilities: a second sigmoid would turn every image flat grey) are one-line errors.

A deterministic encoder (``encode`` returns ``mu`` alone) has no posterior variance, so these columns are NaN
(everything else is computed on mu, as for a stochastic encoder): ``eval_loss``, ``eval_recon``, ``eval_kl``
(the ELBO and its parts), ``iwae_nll``, ``iwae_train_nll``, every ``kl_dim_<i>``, and the aggregate-posterior
moments that use the posterior variance (``aggpost_var_mean``, ``aggpost_kl_prior``; ``aggpost_mean_norm``
is computed from mu).

:func:`check_model` probes the object with a two-image batch and returns a :class:`ModelAdapter` (what the
evaluation stages call), or raises a one-line :class:`~vaediag.errors.ProtocolError` naming the problem.
"""

from __future__ import annotations

import math
import numbers
from contextlib import contextmanager
from typing import Any, Iterator, Protocol, runtime_checkable

import torch
import torch.nn.functional as F

from vaediag.errors import ProtocolError
from vaediag.models.isolation import eval_mode, untouched
from vaediag.models.nets import IMAGE_SHAPE, N_PIXELS, VAEOutput, gaussian_kl

DECODERS = ("probs", "logits")  # the decoder keyword: what ``decode`` returns
IMAGE_INPUT, FLAT_INPUT = "image", "flat"  # what encode(x) is given: [N, 1, 28, 28], or [N, 784]
PROBE_BATCH = 2  # images in the probe batch of check_model
PROB_TOLERANCE = 1e-4  # decode(z) with decoder="probs" may stray this far outside [0, 1] (rounding)
LOGIT_CLAMP = 1e-6  # decoder="probs": logits are log(p / (1 - p)) of p clamped to [LOGIT_CLAMP, 1 - LOGIT_CLAMP]


@runtime_checkable
class VAEModel(Protocol):
    """A VAE vaediag can diagnose: ``latent_dim``, ``encode(x) -> (mu, logvar) | mu``, ``decode(z) -> probs``.

    See the module docstring for shapes, the ``decoder`` keyword and what a deterministic encoder skips.
    """

    latent_dim: int

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor] | torch.Tensor: ...

    def decode(self, z: torch.Tensor) -> torch.Tensor: ...


def class_name(model: Any) -> str:
    """The qualified class name of ``model`` (``package.module.Class``), what an external run records."""
    cls = type(model)
    return f"{cls.__module__}.{cls.__qualname__}"


def _describe(value: Any) -> str:
    if isinstance(value, torch.Tensor):
        return f"a tensor of shape {list(value.shape)}"
    if isinstance(value, (tuple, list)):
        return f"a {type(value).__name__} of {len(value)} ({', '.join(_describe(v) for v in value[:3])})"
    return f"a {type(value).__name__}"


def model_device(model: Any) -> torch.device:
    """The device of the model's first parameter or buffer (CPU when it has none)."""
    for getter in ("parameters", "buffers"):
        items = getattr(model, getter, None)
        if callable(items):
            for t in items():
                return t.device
    return torch.device("cpu")


class ModelAdapter:
    """A :class:`VAEModel` seen the way the evaluation sees vaediag's own models.

    ``encode(x)`` -> (mu, logvar) with ``logvar`` None for a deterministic encoder; ``decode(z)`` -> probabilities
    ``[N, 1, 28, 28]``; ``decode_logits(z)`` -> logits (the real ones with ``decoder="logits"``, else the logit of
    the clamped probabilities); ``forward(x, generator)`` -> :class:`~vaediag.models.nets.VAEOutput` at beta = 1, so
    :func:`vaediag.models.likelihood.evaluate_elbo` and :func:`~vaediag.models.likelihood.iwae_nll` work unchanged. Inputs go to
    the model's own device and outputs come back on ``device``; the model itself is never moved.
    """

    def __init__(self, model: Any, decoder: str = "probs", device: torch.device | str | None = None, *,
                 latent_dim: int | None = None, input: str = IMAGE_INPUT):
        self.model = model
        self.decoder = checked_decoder(decoder)
        self.latent_dim = int(model.latent_dim if latent_dim is None else latent_dim)
        self.input = input  # IMAGE_INPUT: encode gets [N, 1, 28, 28]; FLAT_INPUT: [N, 784]
        self.model_device = model_device(model)
        self.device = torch.device(device) if device is not None else self.model_device
        self.deterministic = False  # set by check_model from the probe
        self.training = False

    def __repr__(self) -> str:
        encoder = "deterministic" if self.deterministic else "stochastic"
        return (f"ModelAdapter({type(self.model).__name__}: latent_dim={self.latent_dim}, input={self.input}, "
                f"decoder={self.decoder}, {encoder} encoder, device={self.model_device})")

    # -------------------------------------------------------------------- the protocol, normalised
    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        x = x.reshape(len(x), N_PIXELS) if self.input == FLAT_INPUT else x
        out = self.model.encode(x.to(self.model_device))
        if isinstance(out, torch.Tensor):
            _check_batch(out, f"{type(self.model).__name__}.encode(x)", len(x), self.latent_dim)
            return out.float().to(self.device), None
        mu, logvar = out
        _check_batch(mu, f"{type(self.model).__name__}.encode(x) mu", len(x), self.latent_dim)
        _check_batch(logvar, f"{type(self.model).__name__}.encode(x) logvar", len(x), self.latent_dim)
        return mu.float().to(self.device), logvar.float().to(self.device)

    def _decoded(self, z: torch.Tensor) -> torch.Tensor:
        out = self.model.decode(z.to(self.model_device))
        if not isinstance(out, torch.Tensor) or out.numel() != len(z) * N_PIXELS:
            raise ProtocolError(f"{type(self.model).__name__}.decode(z) returned {_describe(out)} for z of shape "
                                f"{list(z.shape)}, expected [{len(z)}, 1, 28, 28] (or [{len(z)}, 784]): one image per "
                                f"code, whatever the batch size")
        return out.float().reshape(len(z), *IMAGE_SHAPE).to(self.device)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        out = self._decoded(z)
        return torch.sigmoid(out) if self.decoder == "logits" else out.clamp(0.0, 1.0)

    def decode_logits(self, z: torch.Tensor) -> torch.Tensor:
        out = self._decoded(z)
        if self.decoder == "logits":
            return out
        return torch.logit(out.clamp(LOGIT_CLAMP, 1.0 - LOGIT_CLAMP))

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> VAEOutput:
        """One reparameterised pass (beta = 1); a deterministic encoder has no ELBO: NaN loss, recon and kl."""
        mu, logvar = self.encode(x)
        if logvar is None:
            nan = torch.tensor(math.nan, device=mu.device)
            return VAEOutput(nan, nan, nan, mu, torch.full_like(mu, math.nan), mu, self.decode_logits(mu))
        eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
        z = mu + eps * torch.exp(0.5 * logvar)
        logits = self.decode_logits(z)
        recon = F.binary_cross_entropy_with_logits(logits, x, reduction="sum") / len(x)
        kl = gaussian_kl(mu, logvar).mean()
        return VAEOutput(recon + kl, recon, kl, mu, logvar, z, logits)

    __call__ = forward

    # -------------------------------------------------------------------- mode switches used by likelihood.py
    def eval(self) -> "ModelAdapter":
        return self

    def train(self, mode: bool = True) -> "ModelAdapter":
        return self

    @contextmanager
    def evaluating(self) -> Iterator["ModelAdapter"]:
        """The wrapped model in eval mode (dropout off, BatchNorm running stats) for the block; the mode of the
        model and of each of its sub-modules is restored afterwards, so a user's training loop continues
        unchanged."""
        with eval_mode(self.model):
            yield self

    def state_dict(self) -> dict:
        sd = getattr(self.model, "state_dict", None)
        return dict(sd()) if callable(sd) else {}


def checked_decoder(decoder: str) -> str:
    """``decoder`` when it is one of :data:`DECODERS`, else a one-line :class:`ProtocolError`."""
    if decoder not in DECODERS:
        raise ProtocolError(f"unknown decoder {decoder!r}; choose one of {', '.join(DECODERS)} "
                            f"(what the model's decode returns)")
    return decoder


def _check_batch(value: Any, what: str, n: int, d: int) -> None:
    """The evaluation's own batches (any size, not only the probe's) must give [n, latent_dim] too."""
    if not isinstance(value, torch.Tensor) or tuple(value.shape) != (n, d):
        raise ProtocolError(f"{what} returned {_describe(value)} for a batch of {n}, expected [{n}, {d}] "
                            f"([N, latent_dim], whatever the batch size)")


def _check_2d(value: Any, what: str, n: int, d: int) -> None:
    if not isinstance(value, torch.Tensor) or value.shape != (n, d):
        raise ProtocolError(f"{what} returned {_describe(value)}, expected a tensor of shape [{n}, {d}] "
                            f"([N, latent_dim])")
    if not torch.isfinite(value).all():
        raise ProtocolError(f"{what} returned NaN or infinite values on the probe batch")


def _first_line(exc: Exception) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0]}" if str(exc) else type(exc).__name__


def _code_width(out: Any, n: int) -> int | None:
    """The width d of an encoder output on a batch of n: mu [n, d] alone, or (mu, logvar) both [n, d]; else None."""
    parts = [out] if isinstance(out, torch.Tensor) else list(out) if isinstance(out, (tuple, list)) else []
    if not parts or len(parts) > 2 or not all(isinstance(t, torch.Tensor) and t.dim() == 2 and len(t) == n
                                              for t in parts):
        return None
    return int(parts[0].shape[1]) if len({tuple(t.shape) for t in parts}) == 1 else None


def _probe_encode(model: Any, x: torch.Tensor, name: str) -> tuple[Any, str]:
    """``encode`` of the probe images (``[n, 1, 28, 28]``); when that raises or gives no code of shape
    ``[n, d]``, the same images flat (``[n, 784]``). Returns (output, IMAGE_INPUT | FLAT_INPUT)."""
    n, device = len(x), model_device(model)
    try:
        out, failure = model.encode(x.to(device)), None
    except Exception as exc:  # noqa: BLE001 - the user's code: any failure is named
        out, failure = None, exc
    if failure is None and _code_width(out, n) is not None:
        return out, IMAGE_INPUT
    try:
        flat = model.encode(x.reshape(n, N_PIXELS).to(device))
    except Exception:  # noqa: BLE001 - the image-shaped failure is the one to name
        flat = None
    if _code_width(flat, n) is not None:
        return flat, FLAT_INPUT
    if failure is not None:
        raise ProtocolError(f"{name}.encode(x) raised {_first_line(failure)} on a [{n}, 1, 28, 28] batch (and "
                            f"failed on the same batch flat, [{n}, {N_PIXELS}], too)") from None
    return out, IMAGE_INPUT  # a wrong shape: named below


def _declared_latent_dim(model: Any, name: str) -> int | None:
    if not hasattr(model, "latent_dim"):
        return None
    d = model.latent_dim
    if isinstance(d, torch.Tensor) and d.numel() == 1:
        d = d.item()
    if isinstance(d, numbers.Integral) and not isinstance(d, bool):
        d = int(d)  # numpy integers are integers too
    if not isinstance(d, int) or isinstance(d, bool) or d < 1:
        raise ProtocolError(f"{name}.latent_dim must be an integer >= 1, got {d!r}")
    return d


def _check_decoded(images: Any, name: str, decoder: str, n: int, d: int) -> None:
    shapes = ((n, *IMAGE_SHAPE), (n, N_PIXELS), (n, *IMAGE_SHAPE[1:]))
    if not isinstance(images, torch.Tensor) or tuple(images.shape) not in shapes:
        raise ProtocolError(f"{name}.decode(z) returned {_describe(images)}, expected a tensor of shape "
                            f"[{n}, 1, 28, 28] (or [{n}, 784])")
    if not torch.isfinite(images).all():
        raise ProtocolError(f"{name}.decode(z) returned NaN or infinite values on the probe batch")
    low, high = float(images.min()), float(images.max())
    if decoder == "probs" and (low < -PROB_TOLERANCE or high > 1 + PROB_TOLERANCE):
        raise ProtocolError(f"{name}.decode(z) returned values in [{low:.3g}, {high:.3g}], not probabilities "
                            f"in [0, 1]; if it returns logits, pass decoder=\"logits\" (--decoder logits)")
    if decoder == "logits" and low >= 0.0 and high <= 1.0:
        raise ProtocolError(f"{name}.decode(z) returned only values in [{low:.3g}, {high:.3g}] on z of shape "
                            f"[{n}, {d}], although decoder=\"logits\" was given: it returns probabilities (a last "
                            f"sigmoid), so a second sigmoid would turn every image flat grey; pass "
                            f"decoder=\"probs\" (--decoder probs)")


def check_model(model: Any, decoder: str = "probs", device: torch.device | str | None = None) -> ModelAdapter:
    """Probe ``model`` with a seeded two-image batch and return its :class:`ModelAdapter`: the pre-flight check
    to run once before training (``vaediag.check_model(model, decoder=...)``); :func:`vaediag.evaluate_model`
    runs it first on every call, before any data is loaded.

    The model is probed in eval mode under ``torch.inference_mode``; its modes and every random generator are
    left as they were (:func:`vaediag.models.isolation.untouched`: a model that draws noise in ``encode`` does not
    shift the training's random numbers). ``latent_dim`` comes from the attribute or,
    without one, from the width of ``encode``'s output; an encoder that refuses ``[N, 1, 28, 28]`` but takes
    ``[N, 784]`` is adapted (``adapter.input == "flat"``).

    :class:`~vaediag.errors.ProtocolError` (one line) naming the problem: a missing ``encode`` / ``decode``, a
    ``latent_dim`` that is not an integer >= 1 or disagrees with the encoder's output, an ``encode`` / ``decode``
    that raises or returns the wrong type or shape (what it returned vs what is expected), NaN outputs,
    ``decoder="probs"`` with values outside [0, 1] (it returns logits: pass ``decoder="logits"``) or
    ``decoder="logits"`` with every value inside [0, 1] (it returns probabilities: pass ``decoder="probs"``).
    """
    checked_decoder(decoder)  # before the probe: a typo is named first
    name = type(model).__name__
    for attr in ("encode", "decode"):
        if not hasattr(model, attr):
            raise ProtocolError(f"{name} has no {attr!r}; a model needs encode(x) and decode(z) "
                                f"(vaediag.models.protocol.VAEModel)")
        if not callable(getattr(model, attr)):
            raise ProtocolError(f"{name}.{attr} is not callable")
    declared = _declared_latent_dim(model, name)
    n = PROBE_BATCH
    gen = torch.Generator().manual_seed(0)
    x = torch.rand((n, *IMAGE_SHAPE), generator=gen)
    with untouched(model, model_device(model)), eval_mode(model), torch.inference_mode():
        out, given = _probe_encode(model, x, name)
        width = _code_width(out, n)
        d = declared if declared is not None else width
        if d is None:
            raise ProtocolError(f"{name}.encode(x) returned {_describe(out)} for a [{n}, 1, 28, 28] batch, expected "
                                f"(mu, logvar), each [{n}, latent_dim], or mu alone (a deterministic encoder)")
        if isinstance(out, torch.Tensor):
            _check_2d(out, f"{name}.encode(x)", n, d)
        elif isinstance(out, (tuple, list)) and len(out) == 2:
            _check_2d(out[0], f"{name}.encode(x) mu", n, d)
            _check_2d(out[1], f"{name}.encode(x) logvar", n, d)
        else:
            raise ProtocolError(f"{name}.encode(x) returned {_describe(out)}, expected (mu, logvar), each "
                                f"[{n}, {d}], or mu alone (a deterministic encoder)")
        z = torch.randn((n, d), generator=gen)
        try:
            images = model.decode(z.to(model_device(model)))
        except Exception as exc:  # noqa: BLE001
            raise ProtocolError(f"{name}.decode(z) raised {_first_line(exc)} on z of shape [{n}, {d}]") from None
        _check_decoded(images, name, decoder, n, d)
    adapter = ModelAdapter(model, decoder, device, latent_dim=d, input=given)
    adapter.deterministic = isinstance(out, torch.Tensor)
    return adapter
