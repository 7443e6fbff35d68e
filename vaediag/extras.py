"""The optional dependencies (``pip install 'vaediag[EXTRA]'``) and the one-line error when one is missing.

The base install diagnoses and trains; these extras add what only some workflows need:

===============  =================================  ======================================================
extra            installs                           needed by
===============  =================================  ======================================================
``ray``          Ray                                ``vaediag sweep``, ``study --seeds``, ``run_sweep``
``lightning``    PyTorch Lightning                  :class:`vaediag.integrations.lightning.VaediagCallback`
``tensorboard``  TensorBoard                        ``vaediag tensorboard``, ``log_dir=``
``notebook``     ipykernel, nbclient, nbformat      running the example notebook (display needs none)
===============  =================================  ======================================================
"""

from __future__ import annotations

import importlib
import importlib.util
from types import ModuleType

from vaediag.errors import MissingExtraError

EXTRAS = {  # extra -> (the module it provides, what the user sees it as)
    "ray": ("ray", "Ray"),
    "lightning": ("lightning", "PyTorch Lightning"),
    "tensorboard": ("tensorboard", "TensorBoard"),
    "notebook": ("nbclient", "nbclient"),
}


def has_extra(extra: str) -> bool:
    """True when the extra's module can be imported (checked without importing it)."""
    module, _ = EXTRAS[extra]
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _missing(extra: str, needed_by: str, missing: str) -> MissingExtraError:
    _, title = EXTRAS[extra]
    return MissingExtraError(f"{needed_by} needs {title}, which is not installed (no module {missing!r}); "
                             f"install the extra: pip install 'vaediag[{extra}]'")


def require_installed(extra: str, needed_by: str) -> None:
    """The one-line :class:`MissingExtraError` of :func:`require` when the extra is missing, checked without
    importing it (Ray reads its configuration from the environment when it is imported: a sweep sets that
    first)."""
    if not has_extra(extra):
        raise _missing(extra, needed_by, EXTRAS[extra][0])


def require(extra: str, needed_by: str) -> ModuleType:
    """The extra's module, imported; a one-line :class:`MissingExtraError` naming the extra to install when it
    is missing (or fails to import)."""
    module, _ = EXTRAS[extra]
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise _missing(extra, needed_by, getattr(exc, "name", None) or module) from None
