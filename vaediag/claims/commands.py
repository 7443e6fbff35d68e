"""What the commands (``study``, ``sweep``, ``report --claims``) do with a claims file: read it before any work,
refuse claims about epochs the run will not have, and check it once the results exist."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from vaediag.errors import ConfigError

from .check import check_claims
from .schema import load_claims


def load(claims):
    """A loaded claims file: ``claims`` read with :func:`vaediag.claims.load_claims` when it is a path,
    returned as it is otherwise (``None`` stays ``None``). Raises the loader's one-line ConfigError."""
    if claims is None or not isinstance(claims, (str, Path)):
        return claims
    return load_claims(claims)


def require_epochs(claims, checkpoints) -> None:
    """Refuse (one line, :class:`~vaediag.errors.ConfigError` naming the file, the claim and its field) a claim
    of ``claims`` (a loaded :class:`vaediag.claims.ClaimsFile`, or None) that names an epoch without a
    checkpoint among ``checkpoints``: what ``study`` checks against its configuration before training, so that
    a typo does not cost the whole training."""
    if claims is None:
        return
    have = sorted(set(int(e) for e in checkpoints))
    for claim in claims.claims:
        if getattr(claim, "symbolic", False):  # "first" / "last": the first / last of these checkpoints
            try:
                claim = claim.with_epochs(have)
            except ValueError as exc:
                raise ConfigError(f"{claims.name}: {claim.label}: field {claim.epoch_field!r}: {exc}") from None
        absent = [e for e in claim.epochs() if e not in have]
        if absent:
            raise ConfigError(f"{claims.name}: {claim.label}: field {claim.epoch_field!r}: epoch {absent[0]} "
                              f"has no checkpoint (checkpoints: {', '.join(map(str, have))})")


def check(claims, target) -> pd.DataFrame | None:
    """:func:`vaediag.claims.check_claims` of ``claims`` (loaded or a path) against ``target`` (a Run, a
    RUN_DIR or a SWEEP_DIR); ``None`` when no claims are given."""
    if claims is None:
        return None
    return check_claims(load(claims), target)
