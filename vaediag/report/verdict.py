"""The collapse verdict of a run: :func:`~vaediag.report.rules.collapse_verdict` applied to each checkpoint's
numbers, the sentences that explain it at the last checkpoint, and the per-checkpoint verdict table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from vaediag import columns as C
from vaediag.rundir import Run

from .findings import Part, Quotes, Sentence, const_tag, count_tag, digit_tag, dim_tag, epoch_tag, listing
from .formats import percent
from .rules import (
    COLLAPSE_ENTROPY,
    GRID_ENTROPY_GAP,
    MISSING_SHARE,
    POSTERIOR_KL_DIM_MIN,
    VERDICT_HEALTHY,
    VERDICT_MODE_COLLAPSE,
    VERDICT_POSTERIOR_COLLAPSE,
    VERDICT_RESOLUTION,
    VERDICT_UNRELIABLE,
    VERDICT_WINDOW,
    Verdict,
    collapse_verdict,
)

KL_LIMIT_TEXT = f"{POSTERIOR_KL_DIM_MIN:g} nats"


def kl_columns(run: Run) -> list[str]:
    """The ``kl_dim_<i>`` columns of metrics.csv, by dimension."""
    found = [c for c in run.metrics.columns if c.startswith(C.KL_PER_DIM_PREFIX)
             and c[len(C.KL_PER_DIM_PREFIX):].isdigit()]
    return sorted(found, key=lambda c: int(c[len(C.KL_PER_DIM_PREFIX):]))


def _class_shares(run: Run, column: str, epoch: int) -> np.ndarray | None:
    """Shares of digits 0-9 at a checkpoint (per_class.csv); None when the column or epoch is absent."""
    per_class = run.per_class
    if column not in per_class.columns:
        return None
    rows = per_class[(per_class[C.SOURCE] == C.SOURCE_MODEL) & (per_class[C.EPOCH] == epoch)]
    if rows.empty:
        return None
    shares = pd.to_numeric(rows.set_index(C.DIGIT)[column], errors="coerce").reindex(range(C.N_CLASSES))
    return shares.to_numpy(dtype=float) if shares.notna().any() else None


def run_verdict(run: Run, epoch: int) -> Verdict:
    """:func:`collapse_verdict` on the numbers of one checkpoint."""
    return collapse_verdict(
        run.value(C.PRIOR + C.ENTROPY_NORM, epoch), run.value(C.GRID + C.ENTROPY_NORM, epoch),
        run.value(C.GRID_INSIDE, epoch), prior_shares=_class_shares(run, C.CLASS_PRIOR_SHARE, epoch),
        grid_shares=_class_shares(run, C.CLASS_GRID_SHARE, epoch),
        reference_entropy_norm=run.reference(C.PRIOR + C.ENTROPY_NORM),
        kl_per_dim=[run.value(c, epoch) for c in kl_columns(run)] or None,
        active_units=run.value(C.ACTIVE_UNITS, epoch))


def verdict_table(run: Run) -> pd.DataFrame:
    """One row per checkpoint: the verdict's inputs and its outcome."""
    rows = []
    for epoch in run.epochs:
        verdict = run_verdict(run, epoch)
        rows.append({C.EPOCH: epoch, "active units": run.value(C.ACTIVE_UNITS, epoch),
                     "inactive dims": (", ".join(map(str, verdict.inactive_dims)) or "–") if verdict.latent_dims
                     else "",
                     "prior entropy (norm.)": run.value(C.PRIOR + C.ENTROPY_NORM, epoch),
                     "grid entropy (norm.)": run.value(C.GRID + C.ENTROPY_NORM, epoch),
                     "inside grid window": run.value(C.GRID_INSIDE, epoch),
                     "missing from prior": ", ".join(map(str, verdict.prior_missing)) or "–",
                     "missing from grid": ", ".join(map(str, verdict.grid_missing)) or "–",
                     "verdict": verdict.kind})
    return pd.DataFrame(rows).set_index(C.EPOCH)


# ============================================================================================ sentences
def _inputs_sentence(quotes: Quotes, epoch: int) -> Sentence | None:
    prior, grid = quotes.metric(C.PRIOR + C.ENTROPY_NORM, epoch), quotes.metric(C.GRID + C.ENTROPY_NORM, epoch)
    inside, span = quotes.metric(C.GRID_INSIDE, epoch), quotes.metric(C.GRID_SPAN, epoch)
    parts: list[Part] = []
    if prior is not None:
        parts += [" the normalised class entropy of prior samples is ", prior]
        reference = quotes.reference(C.PRIOR + C.ENTROPY_NORM)
        parts += [" (real test digits: ", reference, ")"] if reference is not None else []
    if grid is not None:
        parts += [", of the linear grid ", grid]
    if inside is not None:
        parts += ["; ", inside, " of the test codes lie inside the grid window"]
        parts += [" of half-width ", span] if span is not None else []
    return Sentence(["At ", epoch_tag(epoch)] + parts + ["."]) if parts else None


def _kl_listing(quotes: Quotes, epoch: int, positions: tuple[int, ...]) -> list[Part]:
    """The latent dimensions at ``positions`` of :func:`kl_columns`, each with its KL."""
    columns = kl_columns(quotes.run)
    return listing(list(positions), "dimension", lambda i: dim_tag(int(columns[i][len(C.KL_PER_DIM_PREFIX):])),
                   lambda i: quotes.metric(columns[i], epoch), KL_LIMIT_TEXT, unit=" nats")


def _posterior_sentence(quotes: Quotes, epoch: int, verdict: Verdict, n_dims: int) -> Sentence:
    parts: list[Part] = ["At ", epoch_tag(epoch)]
    active = quotes.metric(C.ACTIVE_UNITS, epoch)
    if active is not None:
        parts += [", ", active, " of the ", count_tag(n_dims), " latent dimensions are active"]
    if verdict.latent_dims and len(verdict.inactive_dims) == verdict.latent_dims:
        parts += [";" if active is not None else "", " every latent dimension has a KL below ",
                  const_tag(KL_LIMIT_TEXT), ": "] + _kl_listing(quotes, epoch, verdict.inactive_dims)
    return Sentence(parts + [". The latent code carries no information about the input, so the decoder draws "
                             "(nearly) one image whatever the code: this is posterior collapse, not mode collapse, "
                             "and the class histograms of prior samples say nothing about the digits the model "
                             "could draw."])


def _partial_sentence(quotes: Quotes, epoch: int, verdict: Verdict) -> Sentence:
    parts: list[Part] = ["At ", epoch_tag(epoch), ", ", count_tag(len(verdict.inactive_dims)), " of the ",
                         count_tag(verdict.latent_dims), " latent dimensions are inactive (KL below ",
                         const_tag(KL_LIMIT_TEXT), "): "]
    parts += _kl_listing(quotes, epoch, verdict.inactive_dims)
    parts += [". They carry no information about the input (a partial posterior collapse); the other dimensions "
              "carry the code"]
    active = quotes.metric(C.ACTIVE_UNITS, epoch)
    return Sentence(parts + ([" (active units: ", active, ")"] if active is not None else []) + ["."])


def _digit_listing(quotes: Quotes, column: str, epoch: int, digits: tuple[int, ...]) -> list[Part]:
    return listing(list(digits), "digit", digit_tag, lambda d: quotes.class_value(column, epoch, d),
                   percent(MISSING_SHARE))


def _mode_collapse_sentence(quotes: Quotes, epoch: int, verdict: Verdict) -> Sentence:
    if verdict.prior_missing:
        parts = ["Prior samples miss "] + _digit_listing(quotes, C.CLASS_PRIOR_SHARE, epoch, verdict.prior_missing)
    else:
        parts = ["Prior samples concentrate on few digits (entropy below ", const_tag(f"{COLLAPSE_ENTROPY:.2f}"), ")"]
    if verdict.grid_missing:
        parts += [", and the grid misses "] + _digit_listing(quotes, C.CLASS_GRID_SHARE, epoch, verdict.grid_missing)
    return Sentence(parts + [": this is a collapse of the model. It does not generate these digits from the prior "
                             "at all, so no grid window would show them."])


def _grid_sentence(quotes: Quotes, epoch: int, verdict: Verdict) -> Sentence:
    inside = quotes.metric(C.GRID_INSIDE, epoch)
    if verdict.grid_missing:
        parts = ["The grid misses "] + _digit_listing(quotes, C.CLASS_GRID_SHARE, epoch, verdict.grid_missing)
        parts += [", but prior samples draw them ("]
        parts += _digit_listing(quotes, C.CLASS_PRIOR_SHARE, epoch, verdict.grid_missing) + [")"]
    else:
        parts = ["The grid's class entropy is more than ", const_tag(f"{GRID_ENTROPY_GAP:.2f}"),
                 " below that of prior samples, which draw every digit"]
    if verdict.kind == VERDICT_WINDOW:
        parts += [", and only ", inside, " of the test codes lie inside its window: the window does not cover "
                  "those digits' region, the model has not collapsed. Widen the grid span or read the "
                  "quantile grid."] if inside is not None else [": the window does not cover those digits."]
    else:
        parts += [", although ", inside, " of the test codes lie inside its window: those digits occupy narrow "
                  "regions between grid points, the model has not collapsed. A finer grid would show them."]
    return Sentence(parts)


def verdict_sentences(run: Run) -> tuple[Verdict, list[Sentence]]:
    """The verdict at the last checkpoint and the sentences that explain it."""
    quotes, epoch = Quotes(run), run.last
    verdict = run_verdict(run, epoch)
    out = [s for s in [_inputs_sentence(quotes, epoch)] if s is not None]
    if verdict.kind == VERDICT_POSTERIOR_COLLAPSE:
        out.append(_posterior_sentence(quotes, epoch, verdict, verdict.latent_dims or run.latent_dim))
    elif verdict.kind == VERDICT_MODE_COLLAPSE:
        out.append(_mode_collapse_sentence(quotes, epoch, verdict))
    elif verdict.kind in (VERDICT_WINDOW, VERDICT_RESOLUTION):
        out.append(_grid_sentence(quotes, epoch, verdict))
    elif verdict.kind == VERDICT_UNRELIABLE:
        out.append(Sentence(["The classifier's class histogram of the real test digits has normalised entropy "
                             "below ", const_tag(f"{COLLAPSE_ENTROPY:g}"), ": it does not recognise every digit, so "
                             "entropy, modes and shares say nothing about the model (is the classifier the "
                             "shipped one?)."]))
    elif verdict.kind == VERDICT_HEALTHY:
        out.append(Sentence(["Every digit has at least ", const_tag(percent(MISSING_SHARE)),
                             " of the prior samples and of the grid: no mode collapse."]))
    if verdict.partial_posterior_collapse and verdict.kind != VERDICT_POSTERIOR_COLLAPSE:
        out.append(_partial_sentence(quotes, epoch, verdict))
    return verdict, out
