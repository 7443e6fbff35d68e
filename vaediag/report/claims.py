"""The report's "Claims" section: a user's own claims (``vaediag check``) held against the measurements.

Data only: :func:`claims_section` turns the DataFrame of :func:`vaediag.claims.check_claims` (one row per
claim: text, verdict, measured numbers with their 95 % CIs, the rule that decided, the explanation of a
refuted claim, the cells it read) into a :class:`ClaimsSection` that the templates ``claims.html.j2`` /
``claims.md.j2`` render in the run report and in the sweep report; the claim kinds' decision rules
(:func:`vaediag.claims.claim_rules`) go with it. How to read a row: the verdict is **supported** when the
measured interval lies wholly on the claim's side of its threshold, **refuted** when wholly on the other
side, **inconclusive** when it straddles the threshold (or the measurement the claim needs is missing: the
explanation says why).
"""

from __future__ import annotations

import numbers
from collections import Counter
from dataclasses import dataclass, field

import pandas as pd

from vaediag.datasets.classes import MNIST_CLASSES, ClassNames
from vaediag.judgement.claim_rules import claim_rules as rules

VERDICTS = ("supported", "refuted", "inconclusive")  # the answers a claim can get, in the summary's order
SECTION_TITLE = "Claims"
HEADER = ("#", "claim", "verdict", "measured (95 % CI)", "rule", "explanation")  # the claims table's columns
HEADER_DOCS = {
    "#": "the claim's number in the claims file (its id in brackets when it has one)",
    "claim": "the claim as written in the claims file, with its kind and epoch(s)",
    "verdict": "supported (the measured interval lies wholly on the claim's side of the rule's threshold), "
               "refuted (wholly on the other side), inconclusive (it straddles the threshold, or the measurement "
               "is missing)",
    "measured (95 % CI)": "the numbers the verdict rests on, each with its 95 % interval (over seeds in a sweep, "
                          "a sampling interval in a single run); hover for the table cells",
    "rule": "the decision rule of the claim's kind, with its threshold",
    "explanation": "for a claim that is not supported: what the measurements point to instead",
}
DERIVED = "derived"  # the evidence "table" of a number computed from cells (its "column" says how)
REQUIRED_COLUMNS = ("claim", "text", "verdict", "measured", "rule", "explanation")


@dataclass(frozen=True)
class ClaimRow:
    """One claim as the report shows it: its number ("3", or "3 (ovl-5)" when it has an id), text, kind,
    epoch(s), verdict, measured numbers, rule, explanation, the number of seeds ``n`` and ``cells``: where each
    measured number comes from, one line per cell (the hover text of the measured numbers)."""

    number: str
    text: str
    kind: str
    epochs: str
    verdict: str
    measured: str
    rule: str
    explanation: str
    n: int = 1
    cells: str = ""

    @property
    def measured_parts(self) -> tuple[str, str]:
        """(the first clause of ``measured``, the rest): the report shows the first and folds the rest. Clauses are
        separated by "; " outside brackets; a single clause folds its trailing "(95 % CI: how it was obtained)"."""
        depth = 0
        for i, char in enumerate(self.measured):
            depth += 1 if char in "([" else -1 if char in ")]" else 0
            if depth == 0 and self.measured.startswith("; ", i):
                return self.measured[:i], self.measured[i + 2:]
        how = self.measured.find(" (95 % CI: ")  # one clause: how its interval was obtained is folded
        if how > 0:
            return self.measured[:how], self.measured[how + 1:]
        return self.measured, ""

    @property
    def when(self) -> str:
        """"epoch 5", "epochs 5 → 30" (a change between two epochs), or "" (a claim without an epoch)."""
        if not self.epochs:
            return ""
        return ("epochs " if "→" in self.epochs or "," in self.epochs else "epoch ") + self.epochs


@dataclass(frozen=True)
class ClaimsSection:
    """What the Claims section shows: the rows, the count of each verdict, the claim kinds' rules
    (``(topic, text)`` pairs) and the table's header with the meaning of each column."""

    rows: list[ClaimRow]
    counts: list[tuple[str, int]]
    rules: list[tuple[str, str]] = field(default_factory=list)
    header: tuple[str, ...] = HEADER
    docs: dict[str, str] = field(default_factory=lambda: dict(HEADER_DOCS))
    title: str = SECTION_TITLE

    @property
    def summary(self) -> str:
        """"4 claims: 1 supported, 2 refuted, 1 inconclusive"."""
        n = len(self.rows)
        return f"{n} claim{'s' if n != 1 else ''}: " + ", ".join(f"{k} {verdict}" for verdict, k in self.counts)


def _text(value) -> str:
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    return str(value)


def _number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) and not pd.isna(value)


def _cell(evidence: dict, classes: ClassNames = MNIST_CLASSES) -> str:
    """One evidence cell as a line: "per_class.csv, column prior_share, epoch 100, digit 3: 0.032 [0.029, 0.036]"
    (the run's name first in a sweep; a derived number says how it was computed instead of a column)."""
    table, column = _text(evidence.get("table")), _text(evidence.get("column"))
    parts = [_text(evidence.get("run"))] + ([column] if table == DERIVED else [table, f"column {column}"])
    where = ", ".join(p for p in parts if p)
    epoch = evidence.get("epoch")
    if _number(epoch) and float(epoch).is_integer():
        where += f", epoch {int(epoch)}"
    elif _text(epoch):
        where += f", epoch {epoch}"
    key = _text(evidence.get("key"))
    if key:
        where += f", {classes.label(int(key))}" if key.isdigit() and int(key) < classes.n else f", {key}"
    value, low, high = evidence.get("value"), evidence.get("ci_low"), evidence.get("ci_high")
    text = f"{where}: {value:.4g}" if _number(value) else f"{where}: {_text(value)}"
    if _number(low) and _number(high):
        text += f" [{low:.4g}, {high:.4g}]"
    return text


def claim_row(record: dict, classes: ClassNames = MNIST_CLASSES) -> ClaimRow:
    """A :class:`ClaimRow` from one row of :func:`vaediag.claims.check_claims` (a dict of its columns)."""
    number = _text(record.get("claim"))
    if _text(record.get("id")):
        number += f" ({record['id']})"
    evidence = record.get("evidence")
    evidence = evidence if isinstance(evidence, (list, tuple)) else []
    n = record.get("n")
    return ClaimRow(number=number, text=_text(record.get("text")), kind=_text(record.get("kind")),
                    epochs=_text(record.get("epochs")), verdict=_text(record.get("verdict")),
                    measured=_text(record.get("measured")), rule=_text(record.get("rule")),
                    explanation=_text(record.get("explanation")),
                    n=int(n) if _number(n) else 1,
                    cells="\n".join(_cell(e, classes) for e in evidence if isinstance(e, dict)))


def claim_rules() -> list[tuple[str, str]]:
    """The claim kinds' decision rules as (topic, text) pairs (:func:`vaediag.judgement.claim_rules.claim_rules`)."""
    return [(rule.topic, rule.text) for rule in rules()]


def claims_section(claims: pd.DataFrame | None, classes: ClassNames = MNIST_CLASSES) -> ClaimsSection | None:
    """The Claims section of ``claims`` (the DataFrame of :func:`vaediag.claims.check_claims`); ``None`` when
    no claims are given, so the report has no such section. Raises ValueError when a needed column is
    absent."""
    if claims is None:
        return None
    missing = [c for c in REQUIRED_COLUMNS if c not in claims.columns]
    if missing:
        raise ValueError(f"the claims table lacks the column(s) {', '.join(missing)}")
    rows = [claim_row(record, classes) for record in claims.to_dict("records")]
    counted = Counter(row.verdict for row in rows)
    counts = [(v, counted[v]) for v in VERDICTS if counted[v]]
    counts += [(v, k) for v, k in counted.items() if v not in VERDICTS]
    return ClaimsSection(rows, counts, claim_rules())
