"""vaediag inside other tools' workflows; each module needs its optional extra and is imported on first use, so
``import vaediag.integrations`` loads neither torch nor the extras.

- :mod:`~vaediag.integrations.lightning`    :class:`VaediagCallback`: diagnose a LightningModule while a
  ``lightning.Trainer`` fits it (``pip install 'vaediag[lightning]'``)
- :mod:`~vaediag.integrations.tensorboard`  :func:`write_tensorboard`: a run's or a sweep's tables, figures and
  sample sheets as TensorBoard event files (``vaediag tensorboard``; ``pip install 'vaediag[tensorboard]'``)
"""

from __future__ import annotations

import importlib

_LAZY = {  # public name -> module
    "VaediagCallback": "vaediag.integrations.lightning",
    "write_tensorboard": "vaediag.integrations.tensorboard",
}

__all__ = list(_LAZY)


def __getattr__(name: str):  # PEP 562: import the defining module on first use
    if name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'vaediag.integrations' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
