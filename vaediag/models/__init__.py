"""The model side: the VAE architectures vaediag trains (:mod:`.nets`), their configurations (:mod:`.config`:
``VAEConfig``; :mod:`.train_config`: ``TrainConfig``), the protocol any user's VAE satisfies (:mod:`.protocol`),
building a user's model from a factory (:mod:`.factory`), checkpoints (:mod:`.checkpoint`) and likelihood bounds
(:mod:`.likelihood`).

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
