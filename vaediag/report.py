"""The run report: ``RUN_DIR/report.html`` (self-contained) and ``RUN_DIR/report.md``, written from numbers.

Every sentence of the findings is produced by an explicit rule from the result tables, and every number
it quotes is a :class:`Finding`: the cell it comes from (file, column, epoch, key) and its raw value,
formatted by a fixed rule (``COLUMN_FORMATS``). :func:`findings` returns them so a test can look each one
up again. In the HTML every quoted number is a ``<span class="num">`` carrying that provenance.

Rules (thresholds are the module constants named here; the report repeats them with their values):

=================  =====================================================================================
Q1 separation      silhouette first -> last checkpoint "rises"/"falls" when it changes by more than
                   ``SILHOUETTE_CHANGE``, else "stays about the same"; its level is named by
                   ``SILHOUETTE_LEVELS``. kNN accuracy likewise with ``KNN_CHANGE``.
Q1 pairs           the ``TOP_PAIRS`` highest confusion rates of pairs.csv at the first and the last
                   checkpoint; the top pair at the last one is "the most mixed pair"; it is "less/more
                   mixed" than at the first checkpoint when its rate moved by more than ``PAIR_CHANGE``.
Q2 quality         prior-sample confidence (``CONFIDENCE_CHANGE``), classifier score and Fréchet distance
                   (relative change ``FRECHET_CHANGE_REL``) first -> last, each beside the "data" row;
                   most / least frequent digit of prior samples at the last checkpoint (per_class.csv)
                   next to its test-set share; modes covered; reconstruction accuracy ("preserved" when
                   >= ``RECON_GOOD``).
Q3 length          test loss (history.csv) at ``TRAIN_LENGTH_EPOCH`` vs after it: "keeps falling" (last
                   is lower by > ``LOSS_CHANGE_REL`` of the loss and within it of the best), "falls then
                   rises", "rises" or "is flat"; train-test gap at the last epoch is "overfitting" when
                   test exceeds train by > ``GAP_REL`` of the test loss; diversity (``DIVERSITY_DROPS``)
                   "falls" from the middle to the last checkpoint when any metric drops by more than
                   its threshold.
verdict            :func:`collapse_verdict`: a digit is missing when its share < ``MISSING_SHARE``.
                   Real test digits (data row) with entropy < ``COLLAPSE_ENTROPY`` -> "unreliable"
                   (the classifier itself does not see every digit). Prior samples miss a digit
                   (or prior normalised entropy < ``COLLAPSE_ENTROPY``) ->
                   "collapse" of the model. Otherwise the grid misses a digit (or its entropy is more than
                   ``GRID_ENTROPY_GAP`` below the prior's) -> "window" when the fraction of test codes
                   inside the grid window < ``INSIDE_MIN``, else "resolution" (the window covers the
                   codes, the grid points miss narrow regions). Otherwise "healthy".
=================  =====================================================================================

Number formats (``FORMATS``): "percent" = 100·v with 1 decimal and " %"; "decimal3" = 3 decimals;
"sig3" = 3 significant digits, positional, trailing zeros dropped; "nats1" = 1 decimal; "int" = rounded integer.
"""

from __future__ import annotations

import base64
import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Union

import numpy as np
import pandas as pd

from . import atomic, columns as C
from .plots import (
    FIG_CLASS_SHARE,
    FIG_ENTROPY,
    FIG_FRECHET,
    FIG_LOSS,
    FIG_OVERVIEW,
    FIG_PAIRS,
    FIG_SEPARATION,
    GRID_KINDS,
    TRAIN_LENGTH_EPOCH,
    RunResults,
    grid_name,
    latent_name,
    load_run,
    make_figures,
)

HTML_FILE, MD_FILE = "report.html", "report.md"

# ------------------------------------------------------------------------------------------- rules
SILHOUETTE_CHANGE = 0.02  # absolute change of silhouette that counts as rising / falling
SILHOUETTE_LEVELS = (  # (lower bound, words); first match wins
    (0.5, "clearly separated clusters"),
    (0.25, "clusters that partly overlap"),
    (0.0, "strongly overlapping clusters"),
    (-math.inf, "no clusters by digit"),
)
KNN_CHANGE = 0.01  # absolute change of kNN accuracy (1 percentage point)
TOP_PAIRS = 3  # most-mixed pairs listed per checkpoint
PAIR_CHANGE = 0.01  # absolute change of a pair's confusion rate
CONFIDENCE_CHANGE = 0.01  # absolute change of mean classifier confidence
FRECHET_CHANGE_REL = 0.05  # relative change of the Fréchet distance
RECON_GOOD = 0.90  # reconstruction accuracy at which digit identity counts as preserved
# TRAIN_LENGTH_EPOCH (30, from vaediag.plots, which marks it on the loss curve): Q3 asks whether training
# past this epoch helps.
LOSS_CHANGE_REL = 0.002  # a test-loss change smaller than 0.2 % of the loss is "flat"
GAP_REL = 0.02  # test loss more than 2 % above train loss = a train-test gap (overfitting)
DIVERSITY_DROPS = {  # column -> drop (middle -> last checkpoint) that counts as "diversity falls"
    C.PRIOR + C.ENTROPY_NORM: 0.02,
    C.PRIOR + C.MODES_COVERED: 1,
    C.RECALL: 0.02,
    C.COVERAGE: 0.02,
}
MISSING_SHARE = 0.01  # a digit with a smaller share of the samples is missing (same as modes_covered)
COLLAPSE_ENTROPY = 0.90  # prior normalised entropy below this = collapse even with no digit missing
GRID_ENTROPY_GAP = 0.05  # grid entropy this far below the prior's = the grid under-represents digits
INSIDE_MIN = 0.90  # a grid window holding fewer test codes than this does not cover the latent space

VERDICT_COLLAPSE, VERDICT_WINDOW, VERDICT_RESOLUTION = "collapse", "window", "resolution"
VERDICT_HEALTHY, VERDICT_UNKNOWN, VERDICT_UNRELIABLE = "healthy", "unknown", "unreliable"
VERDICT_HEADLINES = {
    VERDICT_COLLAPSE: "mode collapse of the model: prior samples miss digits too, so the grid's gaps are the model's",
    VERDICT_WINDOW: "no collapse of the model: the grid window does not cover the region of the missing digits",
    VERDICT_RESOLUTION: "no collapse of the model: the grid window covers the codes, but the grid points miss "
                        "the narrow regions of some digits",
    VERDICT_HEALTHY: "no mode collapse: prior samples and the grid both show every digit",
    VERDICT_UNKNOWN: "no verdict: the entropy or inside-fraction columns are missing",
    VERDICT_UNRELIABLE: "no verdict: the classifier does not find every digit in the real test images either, "
                        "so its class histograms cannot judge the model",
}
LIST_SHARES_UP_TO = 3  # missing digits are listed with their shares up to this many, else just named


def _sig3(v: float) -> str:
    """3 significant digits, positional, trailing zeros trimmed: 142.63 -> "143", 0.012345 -> "0.0123"."""
    if not math.isfinite(v):
        return f"{v}"
    return np.format_float_positional(v, precision=3, unique=False, fractional=False, trim="-")


FORMATS = {
    "percent": lambda v: f"{100 * v:.1f} %",
    "decimal3": lambda v: f"{v:.3f}",
    "sig3": _sig3,
    "nats1": lambda v: f"{v:.1f}",
    "int": lambda v: f"{int(round(v))}",
}
FORMAT_DESCRIPTIONS = {
    "percent": "100 × value, 1 decimal, followed by ' %'",
    "decimal3": "3 decimals",
    "sig3": "3 significant digits, no exponent, trailing zeros dropped",
    "nats1": "1 decimal (nats per sample)",
    "int": "rounded to an integer",
}
COLUMN_FORMATS = {
    C.SILHOUETTE: "decimal3",
    C.KNN_ACCURACY: "percent",
    C.CONFUSION_RATE: "percent",
    C.MOST_MIXED_PAIR_RATE: "percent",
    C.PRIOR + C.CONFIDENCE: "percent",
    C.PRIOR + C.CLASSIFIER_SCORE: "sig3",
    C.FRECHET: "sig3",
    C.CLASS_PRIOR_SHARE: "percent",
    C.CLASS_GRID_SHARE: "percent",
    C.CLASS_QGRID_SHARE: "percent",
    C.CLASS_DATA_SHARE: "percent",
    C.RECON_ACCURACY: "percent",
    C.TRAIN_LOSS: "nats1",
    C.TEST_LOSS: "nats1",
    C.PRIOR + C.ENTROPY_NORM: "decimal3",
    C.GRID + C.ENTROPY_NORM: "decimal3",
    C.QGRID + C.ENTROPY_NORM: "decimal3",
    C.PRIOR + C.MODES_COVERED: "int",
    C.GRID_INSIDE: "percent",
    C.QGRID_INSIDE: "percent",
    C.GRID_SPAN: "sig3",
    C.PRECISION: "percent",
    C.RECALL: "percent",
    C.COVERAGE: "percent",
}
DEFAULT_FORMAT = "sig3"


def format_value(column: str, value: float) -> str:
    """The text a finding quotes for ``value`` of ``column`` (rule ``COLUMN_FORMATS``, else sig3)."""
    return FORMATS[COLUMN_FORMATS.get(column, DEFAULT_FORMAT)](float(value))


# ------------------------------------------------------------------------------------------- findings
METRICS_SRC, PER_CLASS_SRC, PAIRS_SRC, HISTORY_SRC = "metrics.csv", "per_class.csv", "pairs.csv", "history.csv"


@dataclass(frozen=True)
class Finding:
    """One quoted number: ``text`` as it appears in the report, read from ``source`` at (``epoch``, ``key``),
    ``column``; ``value`` is the raw cell. ``key`` is a digit (per_class.csv), an (a, b) pair (pairs.csv)
    or None."""

    text: str
    column: str
    epoch: Union[int, str]
    value: float
    source: str = METRICS_SRC
    key: Union[int, tuple, None] = None


@dataclass(frozen=True)
class Tag:
    """A non-measured token of a sentence: an epoch, a digit, a digit pair or a rule constant."""

    kind: str  # "epoch" | "digit" | "pair" | "const"
    text: str


Part = Union[str, Finding, Tag]


@dataclass
class Sentence:
    """A finding sentence as parts: plain text, :class:`Finding` (a quoted number) and :class:`Tag`."""

    parts: list

    def __post_init__(self):
        self.parts = [p for p in self.parts if p is not None]

    def findings(self) -> list[Finding]:
        return [p for p in self.parts if isinstance(p, Finding)]

    def plain(self) -> str:
        return "".join(p if isinstance(p, str) else p.text for p in self.parts)

    def html(self) -> str:
        out = []
        for p in self.parts:
            if isinstance(p, Finding):
                key = "" if p.key is None else ("-".join(map(str, p.key)) if isinstance(p.key, tuple) else str(p.key))
                out.append(f'<span class="num" data-source="{html.escape(p.source)}" '
                           f'data-column="{html.escape(p.column)}" data-epoch="{html.escape(str(p.epoch))}" '
                           f'data-key="{html.escape(key)}">{html.escape(p.text)}</span>')
            elif isinstance(p, Tag):
                out.append(f'<span class="{html.escape(p.kind)}">{html.escape(p.text)}</span>')
            else:
                out.append(html.escape(p))
        return "".join(out)


def _epoch(e) -> Tag:
    return Tag("epoch", f"epoch {e}")


def _digit(d) -> Tag:
    return Tag("digit", str(int(d)))


def _pair(a, b) -> Tag:
    return Tag("pair", f"{int(a)}↔{int(b)}")


def _const(text: str) -> Tag:
    return Tag("const", text)


def _num(v) -> float:
    try:
        return float(v)
    except (TypeError, ValueError):
        return float("nan")


class _Quote:
    """Finds cells and wraps them as Findings (None when absent or not finite)."""

    def __init__(self, run: RunResults):
        self.run = run

    def m(self, column: str, epoch) -> Finding | None:
        v = self.run.value(column, epoch)
        return Finding(format_value(column, v), column, epoch, v) if math.isfinite(v) else None

    def pc(self, column: str, epoch, digit: int) -> Finding | None:
        pc = self.run.per_class
        if column not in pc.columns:
            return None
        rows = pc[(pc[C.EPOCH] == epoch) & (pc[C.DIGIT] == digit)]
        v = _num(rows[column].iloc[0]) if len(rows) else float("nan")
        if not math.isfinite(v):
            return None
        return Finding(format_value(column, v), column, epoch, v, PER_CLASS_SRC, int(digit))

    def pair(self, epoch, a: int, b: int) -> Finding | None:
        p = self.run.pairs
        rows = p[(p[C.EPOCH] == epoch) & (p[C.DIGIT_A] == a) & (p[C.DIGIT_B] == b)]
        v = _num(rows[C.CONFUSION_RATE].iloc[0]) if len(rows) else float("nan")
        if not math.isfinite(v):
            return None
        return Finding(format_value(C.CONFUSION_RATE, v), C.CONFUSION_RATE, epoch, v, PAIRS_SRC, (int(a), int(b)))

    def h(self, column: str, epoch: int) -> Finding | None:
        h = self.run.history
        if column not in h.columns or epoch not in h.index:
            return None
        v = _num(h.at[epoch, column])
        return Finding(format_value(column, v), column, int(epoch), v, HISTORY_SRC) if math.isfinite(v) else None


def _trend(first: float, last: float, threshold: float, up: str, down: str, same: str) -> str:
    if last - first > threshold:
        return up
    if first - last > threshold:
        return down
    return same


def _level(silhouette: float) -> str:
    return next(words for bound, words in SILHOUETTE_LEVELS if silhouette >= bound)


def _first_last(q: _Quote, column: str, what: str) -> tuple[list, Finding | None, Finding | None]:
    """Parts "<what> went from X at epoch F to Y at epoch L" (or "<what> is Y at epoch L")."""
    run = q.run
    f, l_ = q.m(column, run.first), q.m(column, run.last)
    if l_ is None:
        return [], None, None
    if run.first == run.last or f is None:
        return [f"{what} is ", l_, " at ", _epoch(run.last)], None, l_
    return [f"{what} went from ", f, " at ", _epoch(run.first), " to ", l_, " at ", _epoch(run.last)], f, l_


# --- Q1 -------------------------------------------------------------------------------------------------
def top_pairs(run: RunResults, epoch, n: int = TOP_PAIRS) -> list[tuple[int, int]]:
    """The ``n`` digit pairs with the highest confusion rate at ``epoch`` (ties: smallest (a, b) first)."""
    p = run.pairs[run.pairs[C.EPOCH] == epoch].copy()
    p[C.CONFUSION_RATE] = pd.to_numeric(p[C.CONFUSION_RATE], errors="coerce")
    p = p.dropna(subset=[C.CONFUSION_RATE])
    p = p.sort_values([C.CONFUSION_RATE, C.DIGIT_A, C.DIGIT_B], ascending=[False, True, True])
    return [(int(a), int(b)) for a, b in zip(p[C.DIGIT_A].head(n), p[C.DIGIT_B].head(n))]


def _q1(run: RunResults) -> list[Sentence]:
    q, out = _Quote(run), []
    parts, f, l_ = _first_last(q, C.SILHOUETTE, "The silhouette of the test codes grouped by digit")
    if l_ is not None:
        trend = "" if f is None else _trend(f.value, l_.value, SILHOUETTE_CHANGE, "it rises", "it falls",
                                            "it stays about the same")
        out.append(Sentence(parts + [": " + (trend + "; " if trend else "") + "at ", _epoch(run.last),
                                     f" the digits form {_level(l_.value)}."]))
    parts, f, l_ = _first_last(q, C.KNN_ACCURACY, "The kNN accuracy (digit predicted from its latent neighbours)")
    if l_ is not None:
        trend = "." if f is None else ": it " + _trend(f.value, l_.value, KNN_CHANGE, "rises.", "falls.",
                                                          "stays about the same.")
        out.append(Sentence(parts + [trend]))
    epochs = [run.first] if run.first == run.last else [run.first, run.last]
    listing: list = []
    for i, e in enumerate(epochs):
        pairs = [(a, b, q.pair(e, a, b)) for a, b in top_pairs(run, e)]
        if not pairs:
            continue
        listing += (["The most mixed pairs at "] if i == 0 else ["; at "]) + [_epoch(e), ": "]
        for j, (a, b, fnd) in enumerate(pairs):
            listing += ([", "] if j else []) + [_pair(a, b), " (", fnd, ")"]
    if listing:
        out.append(Sentence(listing + ["."]))
    top = top_pairs(run, run.last, 1)
    if top:
        a, b = top[0]
        last = q.pair(run.last, a, b)
        parts = [_pair(a, b), " is the most mixed pair at ", _epoch(run.last), " (", last, " of its digits are "
                 "predicted as the other one)"]
        first = q.pair(run.first, a, b) if run.first != run.last else None
        if first is not None:
            change = _trend(first.value, last.value, PAIR_CHANGE, "more mixed than", "less mixed than",
                            "about as mixed as")
            parts += [f"; it is {change} at ", _epoch(run.first), " (", first, ")"]
        out.append(Sentence(parts + ["."]))
    return out


# --- Q2 -------------------------------------------------------------------------------------------------
def _with_reference(q: _Quote, column: str, parts: list, label: str = "real test digits") -> list:
    ref = q.m(column, C.DATA_ROW)
    return parts + ([f" ({label}: ", ref, ")"] if ref is not None else [])


def _q2(run: RunResults) -> list[Sentence]:
    q, out = _Quote(run), []
    parts, f, l_ = _first_last(q, C.PRIOR + C.CONFIDENCE, "The classifier's mean confidence on prior samples")
    if l_ is not None:
        parts = _with_reference(q, C.PRIOR + C.CONFIDENCE, parts)
        if f is not None:
            parts += [": generated digits got " + _trend(f.value, l_.value, CONFIDENCE_CHANGE, "crisper",
                                                         "less crisp", "neither crisper nor blurrier")]
        out.append(Sentence(parts + ["."]))
    parts, f, l_ = _first_last(q, C.PRIOR + C.CLASSIFIER_SCORE,
                               "The classifier score of prior samples (higher = crisp and diverse)")
    if l_ is not None:
        out.append(Sentence(_with_reference(q, C.PRIOR + C.CLASSIFIER_SCORE, parts) + ["."]))
    parts, f, l_ = _first_last(q, C.FRECHET, "The Fréchet distance of prior samples to the real test digits")
    if l_ is not None:
        parts = _with_reference(q, C.FRECHET, parts, "two halves of the real test set")
        if f is not None:
            rel = FRECHET_CHANGE_REL * max(abs(f.value), 1e-12)
            parts += [": generated digits got " + _trend(f.value, l_.value, rel, "further from", "closer to",
                                                         "about as close to") + " real ones"]
        out.append(Sentence(parts + ["."]))
    shares = [(d, q.pc(C.CLASS_PRIOR_SHARE, run.last, d)) for d in range(10)]
    shares = [(d, s) for d, s in shares if s is not None]
    if shares:
        dmax = max(shares, key=lambda t: (t[1].value, -t[0]))
        dmin = min(shares, key=lambda t: (t[1].value, t[0]))
        parts = ["At ", _epoch(run.last), " prior samples show digit ", _digit(dmax[0]), " most often (", dmax[1],
                 ") and digit ", _digit(dmin[0]), " least often (", dmin[1], ")"]
        rmax, rmin = q.pc(C.CLASS_DATA_SHARE, run.last, dmax[0]), q.pc(C.CLASS_DATA_SHARE, run.last, dmin[0])
        if rmax is not None and rmin is not None:
            parts += ["; in the test set these digits are ", rmax, " and ", rmin]
        out.append(Sentence(parts + ["."]))
    modes = q.m(C.PRIOR + C.MODES_COVERED, run.last)
    if modes is not None:
        out.append(Sentence(["At ", _epoch(run.last), " prior samples cover ", modes, " of the ten digits (a digit "
                             "counts when it makes up at least ", _const(FORMATS["percent"](MISSING_SHARE)),
                             " of the samples)."]))
    parts, f, l_ = _first_last(q, C.RECON_ACCURACY,
                               "The classifier's accuracy on reconstructed test digits")
    if l_ is not None:
        word = "preserves" if l_.value >= RECON_GOOD else "partly loses"
        parts = _with_reference(q, C.RECON_ACCURACY, parts, "the classifier on the real test digits")
        out.append(Sentence(parts + [f": the encoder–decoder round trip {word} the digit identity."]))
    return out


# --- verdict --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Verdict:
    """Outcome of :func:`collapse_verdict`: ``kind`` is one of collapse / window / resolution / healthy /
    unreliable / unknown; the digits missing from prior samples and from the grid; ``headline`` says it plainly."""

    kind: str
    prior_missing: tuple = ()
    grid_missing: tuple = ()

    @property
    def headline(self) -> str:
        return VERDICT_HEADLINES[self.kind]


def _missing(shares) -> tuple:
    if shares is None:
        return ()
    s = np.asarray(shares, dtype=float)
    return tuple(int(d) for d in np.flatnonzero(np.isfinite(s) & (s < MISSING_SHARE)))


def collapse_verdict(prior_entropy_norm: float, grid_entropy_norm: float, grid_inside_fraction: float,
                     prior_shares=None, grid_shares=None, reference_entropy_norm: float = float("nan")) -> Verdict:
    """Tell a collapse of the model from a grid that does not cover the latent space.

    Inputs: normalised class entropies of prior samples and of the linear grid ([0, 1]), the fraction of
    test codes inside the grid window ([0, 1]) and optionally the per-digit shares ([10] each).
    ``reference_entropy_norm`` is the same entropy for real test images (the "data" row), if known.
    Rules, in order (constants of this module):

    0. the reference entropy is below COLLAPSE_ENTROPY -> ``"unreliable"``: the classifier does not see
       every digit in real images, so its histograms cannot judge the model;
    1. prior samples miss a digit (share < MISSING_SHARE) or their entropy < COLLAPSE_ENTROPY
       -> ``"collapse"``: the model itself does not generate those digits;
    2. else the grid misses a digit, or its entropy is more than GRID_ENTROPY_GAP below the prior's:
       inside fraction < INSIDE_MIN -> ``"window"`` (the window does not cover those digits' region),
       otherwise ``"resolution"`` (the window covers the codes, the grid points miss narrow regions);
    3. else ``"healthy"``. Missing entropy (NaN) -> ``"unknown"``.
    """
    hp, hg, inside = _num(prior_entropy_norm), _num(grid_entropy_norm), _num(grid_inside_fraction)
    prior_missing, grid_missing = _missing(prior_shares), _missing(grid_shares)
    ref = _num(reference_entropy_norm)
    if math.isfinite(ref) and ref < COLLAPSE_ENTROPY:
        return Verdict(VERDICT_UNRELIABLE, prior_missing, grid_missing)
    if not math.isfinite(hp) and prior_shares is None:
        return Verdict(VERDICT_UNKNOWN)
    if prior_missing or (math.isfinite(hp) and hp < COLLAPSE_ENTROPY):
        return Verdict(VERDICT_COLLAPSE, prior_missing, grid_missing)
    grid_low = math.isfinite(hg) and math.isfinite(hp) and hg < hp - GRID_ENTROPY_GAP
    if grid_missing or grid_low:
        if not math.isfinite(inside):
            return Verdict(VERDICT_UNKNOWN, prior_missing, grid_missing)
        kind = VERDICT_WINDOW if inside < INSIDE_MIN else VERDICT_RESOLUTION
        return Verdict(kind, prior_missing, grid_missing)
    if not math.isfinite(hg) and grid_shares is None:
        return Verdict(VERDICT_UNKNOWN, prior_missing, grid_missing)
    return Verdict(VERDICT_HEALTHY, prior_missing, grid_missing)


def _shares(run: RunResults, column: str, epoch) -> np.ndarray | None:
    pc = run.per_class
    if column not in pc.columns:
        return None
    rows = pc[pc[C.EPOCH] == epoch]
    if rows.empty:
        return None
    s = pd.to_numeric(rows.set_index(C.DIGIT)[column], errors="coerce").reindex(range(10))
    return s.to_numpy(dtype=float) if s.notna().any() else None


def run_verdict(run: RunResults, epoch) -> Verdict:
    """:func:`collapse_verdict` on the numbers of one checkpoint."""
    return collapse_verdict(run.value(C.PRIOR + C.ENTROPY_NORM, epoch), run.value(C.GRID + C.ENTROPY_NORM, epoch),
                            run.value(C.GRID_INSIDE, epoch), _shares(run, C.CLASS_PRIOR_SHARE, epoch),
                            _shares(run, C.CLASS_GRID_SHARE, epoch), run.reference(C.PRIOR + C.ENTROPY_NORM))


def _digit_shares(q: _Quote, column: str, epoch, digits) -> list:
    """"digit 2 (0.3 %), digit 3 (0.0 %)"; more than LIST_SHARES_UP_TO digits: "digits 0, 1, 3, 4 (each
    below 1.0 %)"."""
    if len(digits) > LIST_SHARES_UP_TO:
        parts: list = ["digits "]
        for i, d in enumerate(digits):
            parts += ([", "] if i else []) + [_digit(d)]
        return parts + [" (each below ", _const(FORMATS["percent"](MISSING_SHARE)), ")"]
    parts = []
    for i, d in enumerate(digits):
        f = q.pc(column, epoch, d)
        parts += ([", "] if i else []) + ["digit ", _digit(d)] + ([" (", f, ")"] if f is not None else [])
    return parts


def _verdict(run: RunResults) -> tuple[Verdict, list[Sentence]]:
    q, e = _Quote(run), run.last
    v = run_verdict(run, e)
    hp, hg = q.m(C.PRIOR + C.ENTROPY_NORM, e), q.m(C.GRID + C.ENTROPY_NORM, e)
    inside, span = q.m(C.GRID_INSIDE, e), q.m(C.GRID_SPAN, e)
    out: list[Sentence] = []
    parts: list = ["At ", _epoch(e)]
    if hp is not None:
        parts += [" the normalised class entropy of prior samples is ", hp]
        ref = q.m(C.PRIOR + C.ENTROPY_NORM, C.DATA_ROW)
        parts += [" (real test digits: ", ref, ")"] if ref is not None else []
    if hg is not None:
        parts += [", of the linear grid ", hg]
    if inside is not None:
        parts += ["; ", inside, " of the test codes lie inside the grid window"]
        parts += [" of half-width ", span] if span is not None else []
    if len(parts) > 2:
        out.append(Sentence(parts + ["."]))
    if v.kind == VERDICT_COLLAPSE:
        if v.prior_missing:
            parts = ["Prior samples miss "] + _digit_shares(q, C.CLASS_PRIOR_SHARE, e, v.prior_missing)
        else:
            parts = ["Prior samples concentrate on few digits (entropy below ", _const(f"{COLLAPSE_ENTROPY:.2f}"), ")"]
        if v.grid_missing:
            parts += [", and the grid misses "] + _digit_shares(q, C.CLASS_GRID_SHARE, e, v.grid_missing)
        parts += [": this is a collapse of the model. It does not generate these digits from the prior at all, "
                  "so no grid window would show them."]
        out.append(Sentence(parts))
    elif v.kind in (VERDICT_WINDOW, VERDICT_RESOLUTION):
        if v.grid_missing:
            parts = ["The grid misses "] + _digit_shares(q, C.CLASS_GRID_SHARE, e, v.grid_missing)
            parts += [", but prior samples draw them ("]
            parts += _digit_shares(q, C.CLASS_PRIOR_SHARE, e, v.grid_missing) + [")"]
        else:
            parts = ["The grid's class entropy is more than ", _const(f"{GRID_ENTROPY_GAP:.2f}"),
                     " below that of prior samples, which draw every digit"]
        if v.kind == VERDICT_WINDOW:
            parts += [", and only ", inside, " of the test codes lie inside its window: the window does not cover "
                      "those digits' region, the model has not collapsed. Widen the grid span or read the "
                      "quantile grid."] if inside is not None else [": the window does not cover those digits."]
        else:
            parts += [", although ", inside, " of the test codes lie inside its window: those digits occupy narrow "
                      "regions between grid points, the model has not collapsed. A finer grid would show them."]
        out.append(Sentence(parts))
    elif v.kind == VERDICT_UNRELIABLE:
        out.append(Sentence(["The classifier's class histogram of the real test digits has normalised entropy "
                             "below ", _const(f"{COLLAPSE_ENTROPY:g}"), ": it does not recognise every digit, so "
                             "entropy, modes and shares say nothing about the model (is the classifier the "
                             "shipped one?)."]))
    elif v.kind == VERDICT_HEALTHY:
        out.append(Sentence(["Every digit has at least ", _const(FORMATS["percent"](MISSING_SHARE)),
                             " of the prior samples and of the grid: no mode collapse."]))
    return v, out


# --- Q3 -------------------------------------------------------------------------------------------------
def _q3(run: RunResults) -> list[Sentence]:
    q, out = _Quote(run), []
    h = run.history
    E = TRAIN_LENGTH_EPOCH
    if C.TEST_LOSS in h.columns and len(h):
        test = pd.to_numeric(h[C.TEST_LOSS], errors="coerce").dropna()
        last = int(test.index.max())
        if last <= E:
            out.append(Sentence(["Training stopped at ", _epoch(last), ", not after ", _epoch(E),
                                 ": this run cannot tell whether training longer helps (test loss ",
                                 q.h(C.TEST_LOSS, last), " at its last epoch)."]))
        else:
            before = [int(i) for i in test.index if i <= E]
            ref = max(before) if before else int(test.index.min())  # epoch 30, or the last one before it
            after = test[test.index > ref]
            e_min = int(after.idxmin())
            l_ref, l_min, l_last = q.h(C.TEST_LOSS, ref), q.h(C.TEST_LOSS, e_min), q.h(C.TEST_LOSS, last)
            tol = LOSS_CHANGE_REL * abs(l_ref.value)
            tol_text = _const(FORMATS["percent"](LOSS_CHANGE_REL))
            if l_ref.value - l_last.value > tol and l_last.value - l_min.value <= tol:
                parts = ["The test loss keeps falling after ", _epoch(ref), ": ", l_ref, " there, ", l_last, " at ",
                         _epoch(last)]
                if e_min != last:
                    parts += [" (lowest ", l_min, " at ", _epoch(e_min), ")"]
                parts += [": training longer helps."]
            elif l_ref.value - l_min.value > tol and l_last.value - l_min.value > tol:
                parts = ["The test loss falls from ", l_ref, " at ", _epoch(ref), " to ", l_min, " at ",
                         _epoch(e_min), ", then rises to ", l_last, " at ", _epoch(last),
                         ": training past its minimum overfits."]
            elif l_last.value - l_ref.value > tol:
                parts = ["The test loss rises after ", _epoch(ref), ": from ", l_ref, " to ", l_last, " at ",
                         _epoch(last), ": training longer hurts."]
            else:
                parts = ["The test loss is flat after ", _epoch(ref), ": ", l_ref, " there and ", l_last, " at ",
                         _epoch(last), " (changes within ", tol_text, "): training longer does not help."]
            out.append(Sentence(parts))
        tr, te = q.h(C.TRAIN_LOSS, last), q.h(C.TEST_LOSS, last)
        if tr is not None and te is not None:
            gap = te.value - tr.value
            limit = GAP_REL * abs(te.value)
            if gap > limit:
                parts = ["At ", _epoch(last), " the test loss ", te, " is above the train loss ", tr,
                         " by more than ", _const(FORMATS["percent"](GAP_REL)),
                         ": the model fits its training digits better than unseen ones (overfitting)"]
                tr_e, te_e = q.h(C.TRAIN_LOSS, E), q.h(C.TEST_LOSS, E)
                if last > E and tr_e is not None and te_e is not None:
                    grew = gap - (te_e.value - tr_e.value) > LOSS_CHANGE_REL * abs(te.value)
                    parts += ["; " + ("the gap has grown" if grew else "the gap has not grown") + " since ",
                              _epoch(E), " (train ", tr_e, ", test ", te_e, ")"]
            elif gap < -limit:
                parts = ["At ", _epoch(last), " the test loss ", te, " is below the train loss ", tr,
                         ": no overfitting (the train loss is averaged over an epoch in which the model still "
                         "improves)"]
            else:
                parts = ["At ", _epoch(last), " train and test loss are within ",
                         _const(FORMATS["percent"](GAP_REL)), " of each other (", tr, " and ", te,
                         "): no sign of overfitting"]
            out.append(Sentence(parts + ["."]))
    mid, last = run.middle, run.last
    if mid != last:
        parts: list = ["From ", _epoch(mid), " to ", _epoch(last), ":"]
        names = {C.PRIOR + C.ENTROPY_NORM: "normalised class entropy of prior samples",
                 C.PRIOR + C.MODES_COVERED: "digits covered", C.RECALL: "PRDC recall", C.COVERAGE: "PRDC coverage"}
        fell, n = [], 0
        for col, drop in DIVERSITY_DROPS.items():
            a, b = q.m(col, mid), q.m(col, last)
            if a is None or b is None:
                continue
            parts += ([","] if n else []) + [f" {names.get(col, col)} ", a, " → ", b]
            n += 1
            if a.value - b.value > drop:
                fell.append(names.get(col, col))
        if n:
            verdict = ("diversity falls (" + ", ".join(fell) + " dropped)") if fell else "diversity does not fall"
            out.append(Sentence(parts + [f"; {verdict}."]))
    return out


# ------------------------------------------------------------------------------------------- assembly
SECTION_TITLES = {
    "q1": "Q1 — Do the digits form separate clusters in the latent space?",
    "q2": "Q2 — Are the generated digits good and diverse?",
    "verdict": "Mode-collapse verdict",
    "q3": "Q3 — Does training longer help?",
}


@dataclass
class ReportContent:
    """Everything the report says, before rendering."""

    run: RunResults
    sections: dict = field(default_factory=dict)  # id -> list[Sentence]
    verdict: Verdict = Verdict(VERDICT_UNKNOWN)


def build_content(run: RunResults) -> ReportContent:
    verdict, vs = _verdict(run)
    return ReportContent(run, {"q1": _q1(run), "q2": _q2(run), "verdict": vs, "q3": _q3(run)}, verdict)


def _as_run(run_dir) -> RunResults:
    return run_dir if isinstance(run_dir, RunResults) else load_run(run_dir)


def findings(run_dir) -> list[Finding]:
    """Every number the report's findings quote, in reading order, with where it came from."""
    content = build_content(_as_run(run_dir))
    return [f for sentences in content.sections.values() for s in sentences for f in s.findings()]


def rules() -> list[tuple[str, str]]:
    """(topic, rule) pairs, with the constants' values, for the "How the findings are written" section."""
    pct = FORMATS["percent"]
    levels = "; ".join(f"≥ {b:g}: {w}" for b, w in SILHOUETTE_LEVELS if math.isfinite(b))
    drops = ", ".join(f"{c} by more than {d:g}" for c, d in DIVERSITY_DROPS.items())
    return [
        ("Q1 silhouette", f"first → last checkpoint: “rises”/“falls” when it changes by more than "
                          f"{SILHOUETTE_CHANGE:g}, else “stays about the same”; level words: {levels}; "
                          f"below 0: no clusters by digit."),
        ("Q1 kNN accuracy", f"“rises”/“falls” when it changes by more than {pct(KNN_CHANGE)}."),
        ("Q1 pairs", f"the {TOP_PAIRS} highest confusion rates of pairs.csv at the first and the last checkpoint; "
                     f"the top pair at the last checkpoint is the most mixed pair; “more/less mixed” when its "
                     f"rate moved by more than {pct(PAIR_CHANGE)}."),
        ("Q2 confidence", f"mean max class probability of prior samples; “crisper”/“less crisp” when it moved by "
                          f"more than {pct(CONFIDENCE_CHANGE)}; the data row gives the value on real digits."),
        ("Q2 classifier score", "exp(E KL(p(y|x) ‖ p(y))) of prior samples, 1 (one digit or blurry) to 10 "
                                "(all digits, crisp), beside the data row."),
        ("Q2 Fréchet distance", f"“closer to”/“further from” real digits when it changed by more than "
                                f"{pct(FRECHET_CHANGE_REL)} of its first value; reference: two halves of the "
                                f"real test set."),
        ("Q2 class shares", "most and least frequent digit of prior samples at the last checkpoint "
                            "(per_class.csv), beside the same digits' test-set shares; modes covered = digits "
                            f"with at least {pct(MISSING_SHARE)} of the samples."),
        ("Q2 reconstructions", f"identity “preserved” when the classifier's accuracy on reconstructions is at "
                               f"least {pct(RECON_GOOD)}, else “partly lost”."),
        ("Q3 test loss", f"history.csv test loss at epoch {TRAIN_LENGTH_EPOCH} vs later epochs, with a tolerance of "
                         f"{pct(LOSS_CHANGE_REL)} of the loss: “keeps falling” (last lower, and within the "
                         f"tolerance of the best), “falls then rises” (best clearly below both), “rises”, or "
                         f"“is flat”."),
        ("Q3 train–test gap", f"at the last epoch, test loss more than {pct(GAP_REL)} above train loss = "
                              f"overfitting; “the gap has grown” when it grew by more than "
                              f"{pct(LOSS_CHANGE_REL)} of the loss since epoch {TRAIN_LENGTH_EPOCH}."),
        ("Q3 diversity", f"middle → last checkpoint; “diversity falls” when any of: {drops}."),
        ("Verdict: missing digit", f"a digit with less than {pct(MISSING_SHARE)} of the samples."),
        ("Verdict: collapse", f"prior samples miss a digit, or their normalised class entropy is below "
                              f"{COLLAPSE_ENTROPY:g}: the model does not generate those digits."),
        ("Verdict: window", f"prior samples are fine but the grid misses a digit (or its entropy is more than "
                            f"{GRID_ENTROPY_GAP:g} below the prior's) and fewer than {pct(INSIDE_MIN)} of the test "
                            f"codes lie inside the grid window: the window does not cover that digit's region."),
        ("Verdict: resolution", f"as “window”, but at least {pct(INSIDE_MIN)} of the codes lie inside the window: "
                                f"the grid points miss the digits' narrow regions."),
        ("Verdict: healthy", "neither prior samples nor the grid miss a digit."),
        ("Verdict: unreliable", f"checked first: the real test digits' normalised class entropy (data row) is "
                                f"below {COLLAPSE_ENTROPY:g}, i.e. the classifier itself does not see every digit."),
        ("Number formats", "; ".join(f"{k}: {d}" for k, d in FORMAT_DESCRIPTIONS.items())
                           + ". Percent: " + ", ".join(c for c, k in COLUMN_FORMATS.items() if k == "percent")
                           + "."),
    ]


# ------------------------------------------------------------------------------------------- tables
TABLE_GROUPS = (  # per-epoch table split into readable groups; columns not listed land in "other"
    ("Training loss (history.csv, nats/sample)", [c for c in C.HISTORY_COLUMNS if c != C.EPOCH]),
    ("Latent separation", [C.SILHOUETTE, C.KNN_ACCURACY, C.DAVIES_BOULDIN, C.CALINSKI_HARABASZ,
                           C.MOST_MIXED_PAIR, C.MOST_MIXED_PAIR_RATE]),
    ("Latent usage", [C.ACTIVE_UNITS, C.TOTAL_CORRELATION, C.AGGPOST_MEAN_NORM, C.AGGPOST_VAR_MEAN,
                      C.AGGPOST_KL_PRIOR]),
    ("Prior samples", [C.PRIOR + m for m in C.HISTOGRAM_METRICS]),
    ("Linear grid", [C.GRID + m for m in C.HISTOGRAM_METRICS] + [C.GRID_SPAN, C.GRID_INSIDE]),
    ("Quantile grid", [C.QGRID + m for m in C.HISTOGRAM_METRICS] + [C.QGRID_SPAN, C.QGRID_INSIDE]),
    ("Sample quality (classifier features)", [C.FRECHET, C.PRECISION, C.RECALL, C.DENSITY, C.COVERAGE]),
    ("Reconstruction / likelihood", [C.EVAL_LOSS, C.EVAL_RECON, C.EVAL_KL, C.RECON_ACCURACY, C.IWAE_NLL]),
)


def table_groups(metrics: pd.DataFrame) -> list[tuple[str, pd.DataFrame]]:
    """The metrics table split into column groups (every column appears exactly once)."""
    used, out = set(), []
    kl = [c for c in metrics.columns if c.startswith(C.KL_PER_DIM_PREFIX)]
    groups = list(TABLE_GROUPS)
    groups.insert(3, ("KL per latent dimension (nats/sample)", kl))
    for title, cols in groups:
        cols = [c for c in cols if c in metrics.columns and c not in used]
        used.update(cols)
        if cols:
            out.append((title, metrics[cols]))
    rest = [c for c in metrics.columns if c not in used]
    if rest:
        out.append(("Other", metrics[rest]))
    return out


def _cell(v) -> str:
    if isinstance(v, (float, np.floating)):
        return "" if not np.isfinite(v) else f"{v:.4g}"
    return "" if v is None else str(v)


def _md_table(df: pd.DataFrame, index_name: str | None = None) -> str:
    header = [index_name or str(df.index.name or "")] + [str(c) for c in df.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for idx, row in df.iterrows():
        cells = [str(idx)] + [_cell(v).replace("|", "\\|") for v in row]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _flatten(d, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for k, v in (d or {}).items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out += _flatten(v, key + ".")
        else:
            out.append((key, json.dumps(v) if isinstance(v, (list, tuple, bool)) or v is None else str(v)))
    return out


def verdict_table(run: RunResults) -> pd.DataFrame:
    """One row per checkpoint: the verdict inputs and outcome."""
    rows = []
    for e in run.epochs:
        v = run_verdict(run, e)
        rows.append({C.EPOCH: e, "prior entropy (norm.)": run.value(C.PRIOR + C.ENTROPY_NORM, e),
                     "grid entropy (norm.)": run.value(C.GRID + C.ENTROPY_NORM, e),
                     "inside grid window": run.value(C.GRID_INSIDE, e),
                     "missing from prior": ", ".join(map(str, v.prior_missing)) or "–",
                     "missing from grid": ", ".join(map(str, v.grid_missing)) or "–", "verdict": v.kind})
    return pd.DataFrame(rows).set_index(C.EPOCH)


# ------------------------------------------------------------------------------------------- rendering
SECTION_FIGURES = {  # which figures each section shows (names from vaediag.plots)
    "overview": lambda run: [FIG_OVERVIEW],
    "q1": lambda run: [latent_name(e) for e in run.epochs] + [FIG_SEPARATION, FIG_PAIRS],
    "q2": lambda run: [grid_name(e, k) for e in run.epochs for k in GRID_KINDS] + [FIG_ENTROPY, FIG_FRECHET,
                                                                                    FIG_CLASS_SHARE],
    "verdict": lambda run: [],
    "q3": lambda run: [FIG_LOSS],
}

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;
color:#222;line-height:1.45}
h1{font-size:1.6em}h2{border-bottom:1px solid #ccc;padding-bottom:.2em;margin-top:2em}
.num{font-weight:600;font-variant-numeric:tabular-nums}
.verdict{font-size:1.1em;padding:.6em 1em;border-left:6px solid #888;background:#f5f5f5}
.verdict-collapse{border-color:#c0392b}.verdict-window,.verdict-resolution{border-color:#e67e22}
.verdict-healthy{border-color:#27ae60}details{margin:.5em 0}
.gallery{display:flex;flex-wrap:wrap;gap:1em}.gallery figure{margin:0;flex:1 1 45%;max-width:100%}
figure img{max-width:100%;height:auto;border:1px solid #eee}figcaption{font-size:.85em;color:#555}
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:.82em;margin:.5em 0 1.2em}
th,td{border:1px solid #ddd;padding:.2em .5em;text-align:right}th{background:#f0f0f0}
td.left,th.left{text-align:left}
"""


def _img_html(name: str, path: Path) -> str:
    data = base64.b64encode(Path(path).read_bytes()).decode("ascii")
    alt = html.escape(name.replace("_", " "))
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{alt}" data-name="{html.escape(name)}">'
            f"<figcaption>{html.escape(name)}.png</figcaption></figure>")


def _kv_html(pairs: list[tuple[str, str]]) -> str:
    rows = "".join(f'<tr><th class="left">{html.escape(k)}</th><td class="left">{html.escape(v)}</td></tr>'
                   for k, v in pairs)
    return f"<table>{rows}</table>"


def _frame_html(df: pd.DataFrame) -> str:
    return df.to_html(float_format=lambda v: f"{v:.4g}", na_rep="", border=0, escape=True)


def render_html(content: ReportContent, figures: dict[str, Path]) -> str:
    run = content.run
    name = run.run_dir.name
    model = run.config.get("model", {})
    h = [f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
         f'<meta name="viewport" content="width=device-width, initial-scale=1">'
         f"<title>vaediag report: {html.escape(name)}</title><style>{CSS}</style></head><body>",
         f"<h1>vaediag report: {html.escape(name)}</h1>",
         f"<p>Model <b>{html.escape(str(model.get('model', '?')))}</b>, latent dimension "
         f"<b>{html.escape(str(model.get('latent_dim', '?')))}</b>, "
         f"β <b>{html.escape(str(model.get('beta', '?')))}</b>; "
         f"checkpoints {html.escape(', '.join(map(str, run.epochs)))}. Every number in the findings comes from "
         f"the run's result tables (hover-free provenance in the page source: "
         f"<code>span.num[data-source][data-column][data-epoch]</code>).</p>",
         "<nav><ul>" + "".join(f'<li><a href="#{k}">{html.escape(t)}</a></li>' for k, t in
                               [("overview", "Overview"), *SECTION_TITLES.items(), ("table", "Per-epoch table"),
                                ("rules", "How the findings are written"), ("config", "Configuration and versions")])
         + "</ul></nav>"]

    def gallery(section: str) -> str:
        names = [n for n in SECTION_FIGURES[section](run) if n in figures]
        return ('<div class="gallery">' + "".join(_img_html(n, figures[n]) for n in names) + "</div>") if names else ""

    h.append(f'<section id="overview"><h2>Overview</h2>{gallery("overview")}</section>')
    for sid, title in SECTION_TITLES.items():
        h.append(f'<section id="{sid}"><h2>{html.escape(title)}</h2>')
        if sid == "verdict":
            v = content.verdict
            h.append(f'<p class="verdict verdict-{v.kind}"><strong>Verdict at epoch {run.last}:</strong> '
                     f"{html.escape(v.headline)}.</p>")
        sentences = content.sections.get(sid, [])
        if sentences:
            h.append('<ul class="findings">' + "".join(f"<li>{s.html()}</li>" for s in sentences) + "</ul>")
        else:
            h.append("<p>No numbers available for this question.</p>")
        if sid == "verdict":
            h.append("<h3>Per checkpoint</h3>" + _frame_html(verdict_table(run)))
        h.append(gallery(sid) + "</section>")
    h.append('<section id="table"><h2>Per-epoch table</h2><p>metrics.csv, one row per checkpoint epoch and the '
             'reference row <code>data</code> (real test images), in column groups.</p>')
    for title, df in table_groups(run.metrics):
        h.append(f"<h3>{html.escape(title)}</h3><div class=\"scroll\">{_frame_html(df)}</div>")
    h.append("</section>")
    h.append('<section id="rules"><h2>How the findings are written</h2><p>Each sentence above is generated from '
             "the numbers by these rules (constants in <code>vaediag/report.py</code>):</p>"
             + _kv_html(rules()) + "</section>")
    h.append('<section id="config"><h2>Configuration and versions</h2><h3>config.json</h3>'
             + _kv_html(_flatten(run.config)) + "<h3>evaluation.json</h3>"
             + _kv_html(_flatten({k: v for k, v in run.evaluation.items() if k != "timings"}))
             + ("<details><summary>evaluation timings (seconds)</summary>"
                + _kv_html(_flatten(run.evaluation["timings"])) + "</details>" if "timings" in run.evaluation else "")
             + "</section></body></html>\n")
    return "\n".join(h)


def render_markdown(content: ReportContent, figures: dict[str, Path]) -> str:
    run = content.run
    rel = {n: Path(p).relative_to(run.run_dir).as_posix() if Path(p).is_relative_to(run.run_dir) else Path(p).as_posix()
           for n, p in figures.items()}

    def imgs(section: str) -> list[str]:
        return [f"![{n}]({rel[n]})" for n in SECTION_FIGURES[section](run) if n in rel]

    model = run.config.get("model", {})
    md = [f"# vaediag report: {run.run_dir.name}", "",
          f"Model **{model.get('model', '?')}**, latent dimension **{model.get('latent_dim', '?')}**, "
          f"β **{model.get('beta', '?')}**; checkpoints {', '.join(map(str, run.epochs))}.", "",
          "## Overview", "", *imgs("overview"), ""]
    for sid, title in SECTION_TITLES.items():
        md += [f"## {title}", ""]
        if sid == "verdict":
            md += [f"**Verdict at epoch {run.last}:** {content.verdict.headline}.", ""]
        md += [f"- {s.plain()}" for s in content.sections.get(sid, [])] or ["No numbers available for this question."]
        md.append("")
        if sid == "verdict":
            md += ["### Per checkpoint", "", _md_table(verdict_table(run)), ""]
        md += [*imgs(sid), ""]
    md += ["## Per-epoch table", ""]
    for title, df in table_groups(run.metrics):
        md += [f"### {title}", "", _md_table(df), ""]
    md += ["## How the findings are written", "", *[f"- **{k}**: {v}" for k, v in rules()], "",
           "## Configuration and versions", "", "### config.json", "", "```json",
           json.dumps(run.config, indent=2, sort_keys=True), "```", "", "### evaluation.json", "", "```json",
           json.dumps(run.evaluation, indent=2, sort_keys=True), "```", ""]
    return "\n".join(md)


def build_report(run_dir, figures: dict[str, Path] | None = None) -> tuple[Path, Path]:
    """Draw the figures (unless given) and write ``RUN_DIR/report.html`` and ``RUN_DIR/report.md``.

    The HTML embeds every figure as a base64 PNG data URI (opens offline anywhere); the Markdown links
    ``figures/<name>.png`` relatively. Raises :class:`RunDirError` if the run was not evaluated.
    """
    run = _as_run(run_dir)
    if figures is None:
        figures = make_figures(run)
    content = build_content(run)
    html_path, md_path = run.run_dir / HTML_FILE, run.run_dir / MD_FILE
    atomic.write_text(html_path, render_html(content, figures))
    atomic.write_text(md_path, render_markdown(content, figures))
    return html_path, md_path
