"""Hold written claims about a VAE against the measurements: ``vaediag check CLAIMS.toml RUN_DIR|SWEEP_DIR``.

People write claims from pictures ("at epoch 5 the 3s, 5s and 8s overlap", "4 and 9 are mixed", "by epoch 100
the model collapsed: 3, 4, 5 and 6 are missing", "it overfits after 50 epochs"). A claims file states them; the
check answers each with **supported / refuted / inconclusive**, the measured numbers with their 95 % intervals,
the rule that decided and, when a claim does not hold, the most likely explanation the measurements point to.

The claims file (TOML)::

    [settings]                      # optional: thresholds (defaults shown; see claim_rules())
    overlap_silhouette = 0.25       # overlap: each digit's silhouette wholly below this
    separated_silhouette = 0.5      # separated: wholly above this
    mixed_pair_rate = 0.05          # mixed_pair: confusion rate wholly above this
    missing_share = 0.01            # missing: share of generated digits wholly below this
    imbalance_factor = 1.5          # rare: below data share / factor; overrepresented: above factor × data share
    quality_tolerance = 0.05        # quality within one run: relative Fréchet change that counts

    [[claim]]
    id = "q1"                       # optional, shown back
    text = "At epoch 5 the 3s, 5s and 8s overlap"   # required: the claim in your words
    kind = "overlap"                # required: one of KINDS
    epoch = 5                       # the kind's fields (below)
    digits = [3, 5, 8]
    config = { latent_dim = 2 }     # optional, sweeps: which configuration(s) the claim is about

Kinds and their fields (``epoch`` must be a checkpoint epoch of the run, or ``"first"`` / ``"last"``: its first /
last checkpoint, so a claims file fits a run of any length; ``epochs = ["first", "last"]`` likewise):

- ``overlap`` / ``separated``: ``epoch``, ``digits`` (a digit or a list);
- ``mixed_pair``: ``epoch``, ``digits`` (exactly two);
- ``missing`` / ``rare`` / ``overrepresented``: ``epoch``, ``digits``, ``source`` = "prior" (default) | "grid"
  | "qgrid": the picture the claim was made from;
- ``mode_collapse``: ``epoch``, optional ``digits`` (the digits said to be missing);
- ``quality`` / ``diversity``: ``epochs = [from, to]``, ``direction`` = "improves" | "worsens";
- ``overfitting``: ``after`` (an epoch of history.csv);
- ``bottleneck``: optional ``epoch`` (default: the last common checkpoint) — needs a sweep over latent_dim;
- ``metric``: ``column`` (metrics.csv; per_class.csv with ``digit``), ``operator`` (<, <=, >, >=),
  ``value``, and ``epoch`` or ``epochs``.

On a SWEEP_DIR each claim is checked per configuration over its seeds (one row per configuration, each row's
``measured`` starts with the configuration), unless ``config`` selects some; ``bottleneck`` compares them.
How each kind is decided: :func:`claim_rules`.

Python API: :func:`load_claims`, :func:`check_claims` (-> a DataFrame with ``CLAIM_COLUMNS``),
:func:`format_claims`, :func:`claim_rules`; ``KINDS`` maps each kind to a short description.
"""

from __future__ import annotations

from .check import CLAIM_COLUMNS, check_claims
from .formats import FORMATS, format_claims
from vaediag.judgement.claim_rules import claim_rules

from .schema import KINDS, SETTINGS, Claim, ClaimsError, ClaimsFile, load_claims, parse_claims

__all__ = ["CLAIM_COLUMNS", "FORMATS", "KINDS", "SETTINGS", "Claim", "ClaimsError", "ClaimsFile", "check_claims",
           "claim_rules", "format_claims", "load_claims", "parse_claims"]
