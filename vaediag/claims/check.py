"""The driver: resolve the target (one RUN_DIR, or a SWEEP_DIR's configurations), validate every claim against
it (epochs that are checkpoints, ``"first"`` / ``"last"`` resolved to the runs' own, columns that exist,
configuration selectors that match) BEFORE anything is
computed or written, evaluate what is missing (cached per checkpoint), then check each claim on each subject
and return one row per (claim, subject) with the columns ``CLAIM_COLUMNS``."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Callable

import pandas as pd

from vaediag.datasets.classes import MNIST_CLASSES, ClassNames
from vaediag.errors import RunDirError
from vaediag.datasets.classes import reword
from vaediag.judgement.grouping import GROUP_KEYS, SEED, config_values, group_labels
from vaediag.store.rundir import Run

from . import collapse, generation, latent, metric, training
from .measure import Outcome, Subject
from .schema import (BOTTLENECK, OVERFITTING, Claim, ClaimsError, ClaimsFile, load_claims, parse_claims,
                     resolve_classes)

CLAIM_COLUMNS = ("claim", "id", "text", "kind", "epochs", "verdict", "measured", "rule", "explanation", "n",
                 "evidence")
HANDLERS: dict[str, Callable] = {**latent.HANDLERS, **generation.HANDLERS, **collapse.HANDLERS, **training.HANDLERS, **metric.HANDLERS}
NO_CHECKPOINT_KINDS = (OVERFITTING, BOTTLENECK)  # kinds that read no checkpoint epoch given by the claim


# ============================================================================================ target
@dataclass
class Target:
    """What the claims are checked against: ``path``, whether it is a sweep, its subjects (one per
    configuration; one for a run) and every run."""

    path: Path
    sweep: bool
    subjects: list[Subject]

    @property
    def runs(self) -> list[Run]:
        return [r for s in self.subjects for r in s.runs]


def open_target(target) -> Target:
    """A :class:`Target` from a RUN_DIR / SWEEP_DIR path or a :class:`Run`. :class:`RunDirError` (one line)
    when it is neither."""
    if isinstance(target, Run):
        return Target(target.path, False, [Subject([target], settings=_settings_of(target))])
    path = Path(target)
    from vaediag.store.sweepdir import DONE, Sweep

    sweep = Sweep(path)
    if sweep.is_sweep():
        state = sweep.read()
        names = [n for n, e in state["runs"].items() if isinstance(e, dict) and e.get("status") == DONE]
        if not names:
            raise RunDirError(f"{path}: no run of this sweep is done yet; nothing to check")
        return Target(path, True, _sweep_subjects([sweep.run(n) for n in names]))
    run = Run(path)
    if not run.path.is_dir():
        raise RunDirError(f"{path} is not a directory (expected a RUN_DIR or a SWEEP_DIR)")
    if not run.has_config():
        raise RunDirError(f"{path} is neither a vaediag run directory (config.json) nor a sweep (sweep.json)")
    return Target(path, False, [Subject([run], settings=_settings_of(run))])


def _settings_of(run: Run) -> dict:
    values = config_values(run)
    return {k: values.get(k) for k in GROUP_KEYS}


def _sweep_subjects(runs: list[Run]) -> list[Subject]:
    rows = [{**config_values(r), "_run": r} for r in runs]
    frame = pd.DataFrame(rows)
    frame["_group"] = group_labels(frame)
    groups: dict[str, list[Run]] = {}
    settings: dict[str, dict] = {}
    for label, g in frame.groupby("_group", sort=False):
        g = g.sort_values(SEED, kind="stable")
        groups[label] = list(g["_run"])
        settings[label] = _settings_of(groups[label][0])
    return [Subject(rs, label, settings[label], True, groups, settings) for label, rs in groups.items()]


# ============================================================================================ validation
def _matches(settings: dict, selector: dict) -> bool:
    for key, want in selector.items():
        have = settings.get(key)
        try:
            if float(have) != float(want):
                return False
        except (TypeError, ValueError):
            if str(have) != str(want):
                return False
    return True


def _error(cf: ClaimsFile, claim: Claim, field: str, message: str) -> ClaimsError:
    return ClaimsError(f"{cf.name}: {claim.label}: field {field!r}: {message}")


def subjects_for(cf: ClaimsFile, claim: Claim, target: Target) -> list[Subject]:
    if not claim.config:
        return target.subjects
    chosen = [s for s in target.subjects if _matches(s.settings, claim.config)]
    if not chosen:
        have = "; ".join(s.label or ", ".join(f"{k}={v}" for k, v in s.settings.items() if v is not None)
                         for s in target.subjects)
        raise _error(cf, claim, "config", f"{claim.config} matches no configuration of {target.path} ({have})")
    return chosen


def resolve(cf: ClaimsFile, target: Target) -> ClaimsFile:
    """``cf`` with every class given by name resolved against the dataset of the runs each claim is checked on
    (:meth:`Run.classes`); a name that is not a class there: one-line :class:`ClaimsError` naming the claim, the
    field and the valid names."""
    claims = []
    for claim in cf.claims:
        runs = [r for s in subjects_for(cf, claim, target) for r in s.runs] or target.runs
        resolved = []
        for classes in dict.fromkeys(r.classes for r in runs):
            try:
                resolved.append(resolve_classes(claim, classes))
            except ValueError as exc:
                field_name, message = exc.args
                raise _error(cf, claim, field_name, message) from None
        if any(r.params != resolved[0].params for r in resolved[1:]):
            raise _error(cf, claim, claim.get("class_fields", {}).get("digits", "digits"),
                         "its class names mean different classes in the datasets of these runs")
        claims.append(resolved[0] if resolved else claim)
    return replace(cf, claims=tuple(claims))


def _available_epochs(run: Run) -> set[int]:
    epochs = set(run.checkpoints()) if run.path.is_dir() else set()
    if run.has_evaluation() and run.evaluation_problem() is None:
        epochs |= set(run.evaluation.epochs)
    return epochs


def resolve_epochs(cf: ClaimsFile, target: Target) -> ClaimsFile:
    """``cf`` with every ``"first"`` / ``"last"`` epoch replaced by the first / last checkpoint the claim's runs
    share (evaluated or not); a claim they then make invalid: one-line :class:`ClaimsError`."""
    claims = []
    for claim in cf.claims:
        if claim.symbolic:
            runs = target.runs if claim.kind == BOTTLENECK else [r for s in subjects_for(cf, claim, target)
                                                                 for r in s.runs]
            shared = set.intersection(*(_available_epochs(r) for r in runs)) if runs else set()
            try:
                claim = claim.with_epochs(shared)
            except ValueError as exc:
                raise _error(cf, claim, claim.epoch_field, str(exc)) from None
        claims.append(claim)
    return replace(cf, claims=tuple(claims))


def validate(cf: ClaimsFile, target: Target) -> dict[Path, set[int]]:
    """Check every claim against the target (one-line :class:`ClaimsError` naming claim and field); return
    the checkpoint epochs each run needs evaluated."""
    needed: dict[Path, set[int]] = {}
    available = {r.path: _available_epochs(r) for r in target.runs}
    for claim in cf.claims:
        subjects = subjects_for(cf, claim, target)
        runs = [r for s in subjects for r in s.runs] if claim.kind != BOTTLENECK else target.runs
        if claim.kind == OVERFITTING:
            for run in runs:
                if run.is_external and not len(run.history):
                    continue  # no history to check against: answered inconclusive, with the reason
                history = list(run.history.index)
                if claim.get("after") not in history:
                    span = f"epochs {history[0]}-{history[-1]}" if history else "no epochs"
                    raise _error(cf, claim, "after", f"epoch {claim.get('after')} is not in {run.path}/history.csv "
                                                     f"({span})")
            continue
        for epoch in claim.epochs():
            for run in runs:
                if epoch not in available[run.path]:
                    have = ", ".join(map(str, sorted(available[run.path]))) or "none"
                    raise _error(cf, claim, claim.epoch_field, f"epoch {epoch} is not a checkpoint of {run.path} "
                                                               f"(checkpoints: {have})")
                needed.setdefault(run.path, set()).add(epoch)
        if claim.kind == BOTTLENECK and target.sweep:
            for run in runs:
                needed.setdefault(run.path, set())
    return needed


def _check_columns(cf: ClaimsFile, target: Target) -> None:
    for claim in cf.claims:
        if claim.kind != "metric":
            continue
        for subject in subjects_for(cf, claim, target):
            known = metric.metric_columns(subject.run, claim.get("digit"))
            if claim.get("column") not in known:
                table = "metrics.csv" if claim.get("digit") is None else "per_class.csv"
                raise _error(cf, claim, "column", f"{claim.get('column')!r} is not a numeric {table} column "
                                                  f"(`vaediag columns` lists them)")


def ensure_evaluated(run: Run, epochs: set[int], log: Callable[[str], None], settings=None) -> Run:
    """``run`` with every epoch of ``epochs`` evaluated: reuses the evaluation on disk, else evaluates the
    missing checkpoints (with ``settings``, else the run's earlier evaluation settings, else the defaults;
    cached per checkpoint)."""
    have = set(run.evaluation.epochs) if run.has_evaluation() and run.evaluation_problem() is None else set()
    if epochs <= have and run.has_evaluation():
        return run
    from vaediag.evaluate.pipeline import evaluate_run
    from vaediag.evaluate.settings import EvalSettings

    known = {f.name for f in fields(EvalSettings)}
    previous = run.evaluation.settings if have else {}
    settings = settings or EvalSettings(**{k: v for k, v in previous.items() if k in known})
    log(f"vaediag check: evaluating {run.path} at epoch(s) {', '.join(map(str, sorted(epochs - have)))}")
    evaluate_run(run.path, settings=settings, epochs=sorted(have | epochs), log=log)
    return Run(run.path)


# ============================================================================================ driver
def _as_claims(claims) -> ClaimsFile:
    if isinstance(claims, ClaimsFile):
        return claims
    if isinstance(claims, (str, Path)):
        return load_claims(claims)
    return parse_claims(claims)


def _epochs_text(claim: Claim, subject: Subject, used_epoch=None) -> str:
    if claim.kind == OVERFITTING:
        history = subject.run.history.index
        return f"{claim.get('after')} → {int(history.max())}" if len(history) else str(claim.get("after"))
    if claim.kind in ("quality", "diversity"):
        a, b = claim.get("epochs")
        return f"{a} → {b}"
    epochs = claim.epochs() or ([used_epoch] if used_epoch is not None else [])
    return ", ".join(map(str, epochs))


def check_claims(claims, target, *, log: Callable[[str], None] | None = None, eval_settings=None) -> pd.DataFrame:
    """Check ``claims`` (a claims-file path, a :class:`ClaimsFile`, or a list of claim dicts as in the TOML)
    against ``target`` (a RUN_DIR or SWEEP_DIR path, or a :class:`~vaediag.store.rundir.Run`).

    Returns one row per claim (per configuration of a sweep, unless the claim selects one with ``config``),
    columns ``CLAIM_COLUMNS``. Every claim is validated against the target first (one-line
    :class:`ClaimsError`, nothing written); un-evaluated checkpoints the claims need are then evaluated
    (``eval_settings``: an :class:`~vaediag.evaluate.settings.EvalSettings`; default the run's earlier ones or
    the defaults). ``log`` receives progress lines (default: none)."""
    log = log or (lambda *_: None)
    cf = _as_claims(claims)
    tgt = open_target(target)
    cf = resolve_epochs(resolve(cf, tgt), tgt)
    needed = validate(cf, tgt)
    for subject in tgt.subjects:
        subject.runs = [ensure_evaluated(r, needed[r.path], log, eval_settings) if r.path in needed else r for r in subject.runs]
    for subject in tgt.subjects:  # the groups every subject shares (bottleneck) must hold the fresh runs
        subject.all_groups = {s.label: s.runs for s in tgt.subjects} if tgt.sweep else {}
    _check_columns(cf, tgt)
    rows = []
    for claim in cf.claims:
        handler = HANDLERS[claim.kind]
        if claim.kind == BOTTLENECK:
            subject = tgt.subjects[0]
            for label, outcome in handler(claim, subject, cf.settings):
                n = min((len(subject.all_groups[g]) for g in label.split(" vs ")), default=1) if label else 1
                epoch = next((e["epoch"] for e in outcome.evidence if e["epoch"] is not None), None)
                rows.append(_row(claim, outcome, label, n, _epochs_text(claim, subject, epoch), _classes(subject)))
            continue
        for subject in subjects_for(cf, claim, tgt):
            outcome = handler(claim, subject, cf.settings)
            rows.append(_row(claim, outcome, subject.label, subject.n, _epochs_text(claim, subject),
                             _classes(subject)))
    return pd.DataFrame(rows, columns=list(CLAIM_COLUMNS))


def _classes(subject: Subject) -> ClassNames:
    return subject.runs[0].classes if subject.runs else MNIST_CLASSES


def _row(claim: Claim, outcome: Outcome, label: str, n: int, epochs: str,
         classes: ClassNames = MNIST_CLASSES) -> dict:
    """One output row; the measured text, rule and explanation name the classes of ``classes`` (MNIST:
    unchanged, "digit 3"; Fashion-MNIST: "Shirt")."""
    measured = f"{label} ({n} seed{'s' if n != 1 else ''}): {outcome.measured}" if label else outcome.measured
    return {"claim": claim.position, "id": claim.id, "text": claim.text, "kind": claim.kind, "epochs": epochs,
            "verdict": outcome.verdict, "measured": reword(measured, classes), "rule": reword(outcome.rule, classes),
            "explanation": reword(outcome.explanation, classes), "n": int(n), "evidence": outcome.evidence}
