"""The decisions of one report as one family: how many chance "rises" / "supported" the report may make.

A sweep report makes many directional decisions -- per configuration, each step of each metric's trajectory
between checkpoints and each first-to-last change ("rises" / "falls" / "stays level"); per pair of configurations,
each compared metric ("supported" / "refuted" / "inconclusive"). Taken one at a time at 95 %, about one in twenty
of the decisions where nothing changes would still come out as a change. :class:`Family` collects every decision's
t-test (:class:`vaediag.stats.TTest`) first, then applies the Benjamini–Hochberg procedure at false discovery rate
``q`` (5 %) to all of them at once: R of the m decisions are made, and on average at most 5 % of those R are
chance. Every interval the report prints for a change or a difference is then at the level 1 − q·R/m
(:func:`vaediag.stats.fcr_confidence`), at which an interval excludes 0 exactly for the decisions made -- the rule
"a change when the interval excludes 0" and the correction agree, whatever the number of decisions.

A test that cannot be made (one seed; seeds that agree exactly, so there is no noise estimate) is not in the family
and decides nothing.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Hashable

from vaediag.stats import CONFIDENCE, FDR, Interval, TTest, benjamini_hochberg, fcr_confidence


class Family:
    """Every decision of one report: ``add(key, test, section)`` each t-test first, then read ``level``,
    :meth:`interval` and :meth:`made` (the family is closed on first read; adding afterwards is an error)."""

    def __init__(self, q: float = FDR):
        self.q = q
        self.tests: dict[Hashable, TTest] = {}
        self.sections: dict[Hashable, str] = {}
        self._rejected: int | None = None

    def add(self, key: Hashable, test: TTest, section: str) -> None:
        if self._rejected is not None:
            raise RuntimeError("the family is closed: every decision must be added before any is read")
        self.tests[key] = test
        self.sections[key] = section

    @property
    def m(self) -> int:
        """How many decisions the family holds (the testable ones)."""
        return sum(t.testable for t in self.tests.values())

    @property
    def rejected(self) -> int:
        """R: how many decisions Benjamini–Hochberg makes (closes the family)."""
        if self._rejected is None:
            self._rejected = benjamini_hochberg([t.p for t in self.tests.values()], self.q)
        return self._rejected

    @property
    def level(self) -> float:
        """The confidence level of every interval of the family, 1 − q·max(R, 1)/m."""
        return fcr_confidence(self.rejected, self.m, self.q) if self.m else CONFIDENCE

    @property
    def level_text(self) -> str:
        """:attr:`level` as the report prints it ("99.27 %")."""
        return _percent(self.level)

    def interval(self, key: Hashable) -> Interval:
        """The interval of decision ``key`` at :attr:`level` (NaN bounds when it is not testable)."""
        return self.tests[key].interval(self.level)

    def made(self, key: Hashable) -> bool:
        """Whether the decision ``key`` is made (its interval at :attr:`level` excludes 0)."""
        iv = self.interval(key)
        return iv.has_interval and (iv.low > 0 or iv.high < 0)

    def counts(self) -> dict[str, tuple[int, int]]:
        """Per section: (testable decisions, decisions made), in the order sections were first added."""
        tested, made = Counter(), Counter()
        for key, test in self.tests.items():
            if test.testable:
                tested[self.sections[key]] += 1
                made[self.sections[key]] += self.made(key)
        return {s: (tested[s], made[s]) for s in dict.fromkeys(self.sections.values()) if tested[s]}

    def describe(self) -> str:
        """One sentence for a reader: how many decisions, the correction, the level of the intervals."""
        if not self.m:
            return ("This report makes no decision that has a noise estimate (each needs at least two seeds whose "
                    "values differ), so no change or difference below is called real.")
        per = "; ".join(f"{section}: {made} of {tested}" for section, (tested, made) in self.counts().items())
        q = f"{self.q * 100:g} %"
        return (f"This report makes {self.m} decisions about changes and differences ({per} made). Taken one at a "
                f"time at 95 %, about {math.ceil(0.05 * self.m)} of them would come out as a change by chance when "
                f"nothing changes; so they are made together with the Benjamini–Hochberg procedure at a {q} false "
                f"discovery rate ({self.rejected} made: on average at most {q} of those are chance), and every "
                f"interval of a change or a difference is printed at the matching level of {self.level_text}, "
                f"which excludes 0 exactly for the decisions made.")


def _percent(level: float) -> str:
    text = f"{100 * level:.2f}".rstrip("0").rstrip(".")
    return f"{text} %"
