"""Findings as plain data: sentences made of text, quoted numbers (:class:`Finding`) and tags.

Every number a sentence quotes is a :class:`Finding`: the cell it comes from (table, column, epoch, key,
model or data row) and its raw value, written by the column's number format. :class:`Quotes` reads the
cells of a :class:`~vaediag.store.rundir.Run` and wraps them; nothing here renders HTML or Markdown.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Union

import pandas as pd

from vaediag import columns as C
from vaediag.store.rundir import HISTORY_FILE, METRICS_FILE, PAIRS_FILE, PER_CLASS_FILE, Run

from vaediag.judgement.formats import format_number
from vaediag.judgement.rules import LIST_VALUES_UP_TO


@dataclass(frozen=True)
class Finding:
    """One quoted number: ``text`` as the report writes it, read from table ``source`` (``"metrics.csv"``,
    ``"per_class.csv"``, ``"pairs.csv"`` or ``"history.csv"``) at (``epoch``, ``key``), ``column``; ``value``
    is the raw cell. ``key`` is a digit (per_class.csv), an (a, b) pair (pairs.csv) or None; ``row`` is
    ``"model"`` for a checkpoint's row, ``"data"`` for the real-data reference row (epoch ``DATA_EPOCH``)."""

    text: str
    column: str
    epoch: int
    value: float
    source: str = METRICS_FILE
    key: Union[int, tuple[int, int], None] = None
    row: str = C.SOURCE_MODEL

    @property
    def key_text(self) -> str:
        """``key`` as written in the report's provenance: "" / "3" / "4-9"."""
        if self.key is None:
            return ""
        return "-".join(map(str, self.key)) if isinstance(self.key, tuple) else str(self.key)


@dataclass(frozen=True)
class Tag:
    """A non-measured token of a sentence: an epoch, a digit, a digit pair, a latent dimension, a count
    derived from the numbers or a rule constant."""

    kind: str  # "epoch" | "digit" | "pair" | "dim" | "count" | "const" | "stat"
    text: str
    how: str = ""  # "stat" tags (numbers derived from the cells: a slope, an interval, a margin): how


Part = Union[str, Finding, Tag]


@dataclass
class Sentence:
    """A finding sentence as parts: plain text, :class:`Finding` (a quoted number) and :class:`Tag`."""

    parts: list[Part]

    def __post_init__(self):
        self.parts = [p for p in self.parts if p is not None]

    def findings(self) -> list[Finding]:
        return [p for p in self.parts if isinstance(p, Finding)]

    def plain(self) -> str:
        return "".join(p if isinstance(p, str) else p.text for p in self.parts)


def epoch_tag(epoch: int) -> Tag:
    return Tag("epoch", f"epoch {epoch}")


def digit_tag(digit: int) -> Tag:
    return Tag("digit", str(int(digit)))


def pair_tag(a: int, b: int) -> Tag:
    return Tag("pair", f"{int(a)}↔{int(b)}")


def dim_tag(dim: int) -> Tag:
    return Tag("dim", str(int(dim)))


def count_tag(count: int) -> Tag:
    return Tag("count", str(int(count)))


def const_tag(text: str) -> Tag:
    return Tag("const", text)


def stat_tag(text: str, how: str) -> Tag:
    """A number derived from the cells (a slope, an interval, a margin), with how it was computed."""
    return Tag("stat", text, how)


def interval_tag(low: float, high: float, write: Callable[[float], str], how: str) -> Tag | None:
    """"[low, high]" written by ``write`` as a stat tag; None when the interval is unknown."""
    if not (math.isfinite(low) and math.isfinite(high)):
        return None
    return stat_tag(f"[{write(low)}, {write(high)}]", how)


def _first_cell(rows: pd.DataFrame, column: str) -> float:
    """The first row's ``column`` as float (NaN when there is no row or no number)."""
    values = pd.to_numeric(rows[column], errors="coerce")
    return float(values.iloc[0]) if len(values) else float("nan")


class Quotes:
    """Reads cells of a run and wraps them as :class:`Finding` (None when absent or not finite)."""

    def __init__(self, run: Run):
        self.run = run

    @staticmethod
    def _finding(column: str, epoch: int, value: float, source: str = METRICS_FILE, key=None,
                 row: str = C.SOURCE_MODEL) -> Finding | None:
        if not math.isfinite(value):
            return None
        return Finding(format_number(column, value), column, int(epoch), value, source, key, row)

    def metric(self, column: str, epoch: int) -> Finding | None:
        """A checkpoint's cell of metrics.csv."""
        return self._finding(column, epoch, self.run.value(column, epoch))

    def reference(self, column: str) -> Finding | None:
        """The real-data reference row's cell of metrics.csv."""
        return self._finding(column, C.DATA_EPOCH, self.run.reference(column), row=C.SOURCE_DATA)

    def class_value(self, column: str, epoch: int, digit: int) -> Finding | None:
        """A checkpoint's cell of per_class.csv for one digit."""
        per_class = self.run.per_class
        if column not in per_class.columns:
            return None
        rows = per_class[(per_class[C.SOURCE] == C.SOURCE_MODEL) & (per_class[C.EPOCH] == epoch)
                         & (per_class[C.CLASS] == digit)]
        return self._finding(column, epoch, _first_cell(rows, column), PER_CLASS_FILE, int(digit))

    def pair_rate(self, epoch: int, a: int, b: int) -> Finding | None:
        """A checkpoint's confusion rate of digits ``a`` < ``b`` (pairs.csv)."""
        pairs = self.run.pairs
        rows = pairs[(pairs[C.EPOCH] == epoch) & (pairs[C.CLASS_A] == a) & (pairs[C.CLASS_B] == b)]
        rate = _first_cell(rows, C.CONFUSION_RATE)
        return self._finding(C.CONFUSION_RATE, epoch, rate, PAIRS_FILE, (int(a), int(b)))

    def history_value(self, column: str, epoch: int) -> Finding | None:
        """A training epoch's cell of history.csv."""
        history = self.run.history
        if column not in history.columns or epoch not in history.index:
            return None
        return self._finding(column, epoch, _first_cell(history.loc[[epoch]], column), HISTORY_FILE)

    def first_to_last(self, column: str, what: str) -> tuple[list[Part], Finding | None, Finding | None]:
        """Parts "<what> went from X at epoch F to Y at epoch L" (or "<what> is Y at epoch L"), and the
        first and last findings (None when absent)."""
        first, last = self.run.first, self.run.last
        at_first, at_last = self.metric(column, first), self.metric(column, last)
        if at_last is None:
            return [], None, None
        if first == last or at_first is None:
            return [f"{what} is ", at_last, " at ", epoch_tag(last)], None, at_last
        return ([f"{what} went from ", at_first, " at ", epoch_tag(first), " to ", at_last, " at ",
                 epoch_tag(last)], at_first, at_last)


def listing(items: list[int], word: str, tag: Callable[[int], Tag], value: Callable[[int], Finding | None],
            limit_text: str, unit: str = "") -> list[Part]:
    """"digit 2 (0.3 %), digit 3 (0.0 %)": each item named by ``word`` and ``tag(item)``, with the
    Finding ``value(item)`` and ``unit``; more than ``LIST_VALUES_UP_TO`` items are only named:
    "digits 0, 1, 3, 4 (each below <limit_text>)"."""
    parts: list[Part] = []
    if len(items) > LIST_VALUES_UP_TO:
        for i, item in enumerate(items):
            parts += ([", "] if i else [f"{word}s "]) + [tag(item)]
        return parts + [" (each below ", const_tag(limit_text), ")"]
    for i, item in enumerate(items):
        found = value(item)
        parts += ([", "] if i else []) + [f"{word} ", tag(item)]
        parts += [" (", found, f"{unit})"] if found is not None else []
    return parts
