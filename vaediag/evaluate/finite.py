"""Refuse NaN / infinite model outputs before any metric sees them.

A model that returns NaN for some inputs only (a two-image probe misses it) would otherwise end deep inside a
metric (scipy's ``sqrtm``, sklearn's input check) or, worse, publish a number computed around the NaN. Each
output the stages take from a model passes :func:`require_finite` first; the stages' caller adds the
checkpoint / epoch, so the one-line :class:`~vaediag.errors.NonFiniteError` reads e.g. "epoch 4
(checkpoints/epoch_004.pt): the encoder's mu is NaN or infinite for 37 of 1000 test images (the first: #12);
nothing was published".
"""

from __future__ import annotations

import numpy as np
import torch

from vaediag.errors import NonFiniteError


def require_finite(values: np.ndarray | torch.Tensor, what: str, items: str) -> None:
    """:class:`NonFiniteError` when ``values`` (one row per item: ``[N, ...]``) holds a NaN or an infinity:
    how many of the N ``items`` are hit, and the first one."""
    if isinstance(values, torch.Tensor):
        bad = ~torch.isfinite(values.detach()).reshape(len(values), -1).all(dim=1)
        bad = bad.cpu().numpy()
    else:
        bad = ~np.isfinite(np.asarray(values, dtype=float)).reshape(len(values), -1).all(axis=1)
    if bad.any():
        hit = np.flatnonzero(bad)
        raise NonFiniteError(f"{what} is NaN or infinite for {len(hit)} of {len(bad)} {items} "
                             f"(the first: #{hit[0]})")


def at_epoch(exc: NonFiniteError, epoch: int, checkpoint: str | None = None) -> NonFiniteError:
    """``exc`` re-worded to name the epoch (and checkpoint file) it happened at; nothing was published."""
    where = f"epoch {epoch}" + (f" ({checkpoint})" if checkpoint else "")
    return NonFiniteError(f"{where}: {exc}; nothing was published (a model that outputs NaN cannot be measured)")
