"""The model side: the VAE architectures vaediag trains (:mod:`~vaediag.models.nets`), their configurations
(:mod:`~vaediag.models.config`: ``VAEConfig``; :mod:`~vaediag.models.train_config`: ``TrainConfig``), the protocol
any user's VAE satisfies (:mod:`~vaediag.models.protocol`), building a user's model from a factory
(:mod:`~vaediag.models.factory`), checkpoints (:mod:`~vaediag.models.checkpoint`) and likelihood bounds
(:mod:`~vaediag.models.likelihood`).

The architecture names are imported on first use (``from vaediag.models import VAE`` works as before the package
existed), so ``import vaediag.models`` loads no torch.
"""

from __future__ import annotations

import importlib

_NETS = ("VAE", "MLPVAE", "ConvVAE", "VAEOutput", "build_model", "gaussian_kl", "reconstruction_nll", "IMAGE_SHAPE",
         "N_PIXELS", "INIT_CHOICES")
_LAZY = {**{name: "vaediag.models.nets" for name in _NETS}, "VAEConfig": "vaediag.models.config",
         "MODEL_CHOICES": "vaediag.models.config"}


def __getattr__(name: str):  # PEP 562
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vaediag.models' has no attribute {name!r}")
