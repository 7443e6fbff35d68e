"""The collapse verdict of a run's checkpoints: :func:`run_evidence` gathers a checkpoint's numbers from the run's
tables (:mod:`vaediag.judgement.intervals` supplies the intervals that older runs lack), :func:`run_verdict` decides
(:func:`vaediag.judgement.verdict.collapse_verdict`) and :func:`verdict_table` lists every checkpoint's verdict
with both judges' entropy checks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from vaediag import columns as C
from vaediag.judgement.formats import percent
from vaediag.judgement.intervals import (class_column, code_entropy_ci, code_share_ci, data_shares,
                                         grid_inside_shares, inside_fraction_ci, is_deterministic, prior_entropy_ci,
                                         prior_share_ci, recon_accuracy_ci, recon_recall)
from vaediag.judgement.rules import CI_TEXT, COLLAPSE_ENTROPY, Check
from vaediag.judgement.verdict import (CHECK_CODE_ENTROPY, CHECK_ENTROPY, CHECK_INSIDE, Verdict, VerdictEvidence,
                                       collapse_verdict)
from vaediag.store.rundir import Run


def kl_columns(run: Run) -> list[str]:
    """The ``kl_dim_<i>`` columns of metrics.csv, by dimension."""
    found = [c for c in run.metrics.columns if c.startswith(C.KL_PER_DIM_PREFIX)
             and c[len(C.KL_PER_DIM_PREFIX):].isdigit()]
    return sorted(found, key=lambda c: int(c[len(C.KL_PER_DIM_PREFIX):]))


def run_evidence(run: Run, epoch: int) -> VerdictEvidence:
    """The :class:`VerdictEvidence` of one checkpoint of ``run``, with the intervals of :mod:`.intervals`."""
    inside = grid_inside_shares(run, epoch)
    kl = [run.value(c, epoch) for c in kl_columns(run)]
    recall = recon_recall(run, epoch)
    return VerdictEvidence(
        prior_entropy_norm=run.value(C.PRIOR + C.ENTROPY_NORM, epoch),
        grid_entropy_norm=run.value(C.GRID + C.ENTROPY_NORM, epoch),
        grid_inside_fraction=run.value(C.GRID_INSIDE, epoch),
        prior_shares=class_column(run, C.CLASS_PRIOR_SHARE, epoch),
        grid_shares=class_column(run, C.CLASS_GRID_SHARE, epoch),
        reference_entropy_norm=run.reference(C.PRIOR + C.ENTROPY_NORM),
        kl_per_dim=tuple(kl) or None, active_units=run.value(C.ACTIVE_UNITS, epoch),
        prior_entropy_ci=prior_entropy_ci(run, epoch), prior_share_ci=prior_share_ci(run, epoch),
        data_shares=data_shares(run),
        grid_inside_shares=None if inside is None else inside[0],
        grid_inside_ci=None if inside is None else inside[1:3],
        grid_inside_fraction_ci=inside_fraction_ci(run, epoch),
        code_shares=class_column(run, C.CLASS_PRIOR_CODE_SHARE, epoch), code_share_ci=code_share_ci(run, epoch),
        code_entropy_norm=run.value(C.PRIOR_CODE_ENTROPY_NORM, epoch), code_entropy_ci=code_entropy_ci(run, epoch),
        recon_recall_high=None if recall is None else recall[2],
        knn_recall=class_column(run, C.CLASS_KNN_RECALL, epoch),
        recon_accuracy=run.value(C.RECON_ACCURACY, epoch), recon_accuracy_ci=recon_accuracy_ci(run, epoch),
        knn_accuracy=run.value(C.KNN_ACCURACY, epoch), deterministic=is_deterministic(run))


def run_verdict(run: Run, epoch: int) -> Verdict:
    """:func:`collapse_verdict` on the numbers of one checkpoint of ``run``."""
    return collapse_verdict(run_evidence(run, epoch))


ENTROPY_CI_HEADER = f"entropy {CI_TEXT}"
ENTROPY_MARGIN_HEADER = f"margin vs {COLLAPSE_ENTROPY:g}"
ENTROPY_ANSWER_HEADER = f"entropy < {COLLAPSE_ENTROPY:g}?"
CODE_ENTROPY_HEADER = "code judge's entropy"
INSIDE_HEADER = "missing digits' codes inside window"


def check_cells(check: Check | None, write=lambda v: f"{v:.3f}") -> tuple[str, str, str]:
    """(interval, margin, answer) of a check as table cells ("" when there is no check)."""
    if check is None:
        return "", "", ""
    interval = f"[{write(check.low)}, {write(check.high)}]" if check.has_interval else "none"
    return interval, f"{check.margin:+.3f}", check.answer


def _named(classes, labels) -> str:
    """The classes' names ("2, 3" for MNIST's digits, "Pullover, Dress" for Fashion-MNIST), "–" for none."""
    return ", ".join(classes.name(i) for i in labels) or "–"


def _inside_key(classes, check: Check) -> str:
    """The class an inside-window check is about ("inside ...: digit 0" -> "0" / "T-shirt/top"), else "all"."""
    return _named(classes, [int(check.name.rpartition(" ")[2])]) if ":" in check.name else "all"


def _code_cell(check: Check | None) -> str:
    """"0.981 [0.978, 0.984] refuted" for the code judge's entropy check; "not measured" without it."""
    if check is None or not math.isfinite(check.estimate):
        return "not measured"
    interval, _, answer = check_cells(check)
    return f"{check.estimate:.3f} {interval} {answer}"


def verdict_table(run: Run) -> pd.DataFrame:
    """One row per checkpoint: the verdict's inputs, the entropy check of each judge with its interval, margin and
    answer, and the outcome."""
    rows, names = [], run.classes
    for epoch in run.epochs:
        verdict = run_verdict(run, epoch)
        interval, margin, answer = check_cells(verdict.check(CHECK_ENTROPY))
        inside = [c for c in verdict.checks if c.name.startswith(CHECK_INSIDE)]
        rows.append({C.EPOCH: epoch, "active units": run.value(C.ACTIVE_UNITS, epoch),
                     "inactive dims": (", ".join(map(str, verdict.inactive_dims)) or "–") if verdict.latent_dims
                     else "",
                     "prior entropy (norm.)": run.value(C.PRIOR + C.ENTROPY_NORM, epoch),
                     ENTROPY_CI_HEADER: interval, ENTROPY_MARGIN_HEADER: margin, ENTROPY_ANSWER_HEADER: answer,
                     CODE_ENTROPY_HEADER: _code_cell(verdict.check(CHECK_CODE_ENTROPY)),
                     "missing from prior": _named(names, verdict.prior_missing),
                     "uncertain digits": _named(names, verdict.prior_uncertain),
                     "judges disagree": _named(names, verdict.judges_disagree),
                     "judge cannot read": _named(names, verdict.judge_unreadable),
                     "over-drawn": _named(names, verdict.over_drawn),
                     "under-drawn": _named(names, verdict.under_drawn),
                     "grid entropy (norm.)": run.value(C.GRID + C.ENTROPY_NORM, epoch),
                     "missing from grid": _named(names, verdict.grid_missing),
                     "inside grid window": run.value(C.GRID_INSIDE, epoch),
                     INSIDE_HEADER: "; ".join(f"{_inside_key(names, c)}: {percent(c.estimate)} "
                                              f"{check_cells(c, percent)[0]} {c.answer}" for c in inside) or "–",
                     "verdict": verdict.kind})
    return pd.DataFrame(rows).set_index(C.EPOCH)


def class_values(run: Run, epoch: int, column: str) -> np.ndarray:
    """``column`` of per_class.csv at ``epoch`` for classes 0-9 (NaN where absent)."""
    values = class_column(run, column, epoch)
    return np.full(C.N_CLASSES, np.nan) if values is None else values
