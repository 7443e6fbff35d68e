"""Run a sweep on Ray: one Ray task per grid point, each an ordinary ``vaediag study`` into its RUN_DIR.

:func:`run_sweep` checks everything it can before anything is written (the grid, its size, the claims, SWEEP_DIR,
the Ray address, the resources a run asks for), then holds the SWEEP_DIR lock and drives the runs on the Ray
instance of a :class:`~vaediag.sweep.ray_session.RaySession` (the only owner of ``ray.init`` / ``ray.shutdown``).
Each run is one task (:func:`vaediag.sweep.task.run_task`) with ``num_cpus`` / ``num_gpus`` resources, a fresh
worker process per attempt (``max_calls=1``), Ray's retries for a dead worker or an unexpected error, none for a
vaediag error (it would recur), and an optional per-attempt timeout. The driver notes when each run really starts
(its attempt line in ``logs/<name>.attempts``), collects results as they arrive and rewrites ``sweep.json`` after
each change. A killed driver takes its local instance with it (the session's reaper ends what Ray leaves); the
next call of the same sweep skips the completed runs and resumes the partial ones bit-identically.
"""

from __future__ import annotations

import sys
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from ..extras import require_installed
from ..errors import ConfigError, first_line
from ..evaluate.settings import EvalSettings
from .grid import MAX_RUNS, Grid
from .ray_session import (CONNECT_TIMEOUT_S, LOCAL_OBJECT_STORE_BYTES, MIN_THREADS_PER_RUN, RayOptions,  # noqa: F401
                          RaySession, default_resources, probe)
from vaediag.store.sweepdir import DONE, FAILED, PENDING, RUNNING, Sweep, now

POLL_S = 1.0  # how often the driver looks for runs that started or ran past the timeout


@dataclass
class SweepResult:
    """What a sweep call did: runs done now, skipped (already done), failed (name -> one-line error)."""

    path: Path
    done: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    report_html: Path | None = None
    report_md: Path | None = None
    seconds: float = 0.0
    ray_start_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed


def _error(exc: BaseException) -> str:
    """The one-line error of a failed task: the run's own exception, not Ray's wrapper."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {first_line(cause)}"
    return f"{type(exc).__name__}: {first_line(exc)}"


def _options(given: RayOptions | None, **keywords) -> RayOptions:
    """``given``, or the options built from the separate keywords (the documented call); not both."""
    defaults = RayOptions()
    if given is None:
        return RayOptions(**keywords).validate()
    if not isinstance(given, RayOptions):
        raise ConfigError(f"ray_options must be a vaediag.sweep.RayOptions, got {type(given).__name__}")
    if any(value != getattr(defaults, key) for key, value in keywords.items()):
        raise ConfigError("give the Ray options either as ray_options=RayOptions(...) or as separate keywords, "
                          "not both")
    return given.validate()


def run_sweep(grid: Grid, out: str | Path, *, settings: EvalSettings = EvalSettings(),
              ray_options: RayOptions | None = None, address: str | None = None, cpus_per_run: int | None = None,
              gpus_per_run: float | None = None, max_retries: int = 2, run_timeout: float | None = None,
              max_runs: int = MAX_RUNS, log: Callable[[str], None] = print, progress: bool | None = None,
              claims=None) -> SweepResult:
    """Run every point of ``grid`` as a RUN_DIR under ``out``/runs on Ray; write the sweep report.

    Ray: ``ray_options`` (a :class:`RayOptions`) or the same fields as keywords (``address``, ``cpus_per_run``,
    ``gpus_per_run``, ``max_retries``, ``run_timeout``). Completed runs are skipped, partial ones resume. A run
    that fails (a vaediag error at once; a dead worker or another error after ``max_retries`` retries; an attempt
    longer than ``run_timeout`` seconds) is recorded as failed (``sweep.json``: status, attempts, one-line error)
    while the others complete; :attr:`SweepResult.ok` says whether all are done. ``max_runs``: a larger grid is
    refused. ``progress=None``: a tqdm bar when stderr is a terminal. ``claims``: a claims file (path or loaded)
    checked against the sweep into its report's "Claims" section. Bad input (:class:`ConfigError` /
    :class:`RunDirError`) is raised before anything is written or Ray starts.
    """
    from ..claims.commands import check as check_claims_of, load as load_claims_file, require_epochs
    from ..versions import versions

    claims = load_claims_file(claims)
    settings = EvalSettings.coerce(settings)
    options = _options(ray_options, address=address, cpus_per_run=cpus_per_run, gpus_per_run=gpus_per_run,
                       max_retries=max_retries, run_timeout=run_timeout)
    if isinstance(max_runs, bool) or not isinstance(max_runs, int) or max_runs < 1:
        raise ConfigError(f"--max-runs must be an integer >= 1, got {max_runs!r}")
    if len(grid) > max_runs:
        raise ConfigError(f"the grid has {len(grid)} runs, more than --max-runs {max_runs}; check the comma lists "
                          f"(a typo?) or raise --max-runs")
    points = grid.points()
    if points:  # every point has the base's checkpoints
        require_epochs(claims, points[0].config.checkpoints)
    require_installed("ray", "a sweep (vaediag sweep, study --seeds, vaediag.run_sweep)")  # not imported yet
    sweep = Sweep(out)
    sweep.check_usable()
    session = RaySession(options)  # resolves and probes the address: a refusal writes nothing
    t_start = time.perf_counter()
    result = SweepResult(sweep.path)
    with sweep.lock("sweep"):
        sweep.check_contained([p.name for p in points])
        state = sweep.prepare(grid, settings.to_dict(), versions())
        base = state["base"]
        todo = []
        for p in points:
            entry = state["runs"][p.name]
            if entry["status"] == DONE and sweep.run_complete(p.name, base["epochs"], base["checkpoints"]):
                result.skipped.append(p.name)
            else:
                todo.append(p)
        if todo:
            with session:
                result.ray_start_seconds = session.seconds
                plan = _plan(session, options, len(todo))  # refused before sweep.json is written
                state["ray"] = plan
                sweep.write(state)
                log(f"sweep {sweep.path}: {len(points)} runs, {len(result.skipped)} already done, {len(todo)} to run")
                log(f"Ray {'started' if session.local else 'joined'} in {session.seconds:.2f}s "
                    f"({plan['cluster_cpus']:g} CPUs, {plan['cluster_gpus']:g} GPUs); {plan['cpus_per_run']} CPUs "
                    f"and {plan['gpus_per_run']:g} GPUs per run, up to {options.max_retries} retries"
                    + (f", {options.run_timeout:g} s per attempt" if options.run_timeout else ""))
                _Scheduler(sweep, state, plan, settings, log=log, result=result).run(todo, progress)
        else:
            sweep.write(state)
            log(f"sweep {sweep.path}: {len(points)} runs, {len(result.skipped)} already done, 0 to run")
        done = [name for name, e in state["runs"].items() if e["status"] == DONE]
        if done:
            from ..report.sweep import build_sweep_report

            result.report_html, result.report_md = build_sweep_report(
                [sweep.run_path(n) for n in done], html_path=sweep.report_html_path, md_path=sweep.report_md_path,
                summary_path=sweep.summary_path, figures_dir=sweep.figures_dir, sweep_info=state,
                claims=check_claims_of(claims, sweep.path))
        result.seconds = time.perf_counter() - t_start
        state["seconds"] = result.seconds
        sweep.write(state)
    n_done = len(result.done) + len(result.skipped)
    log(f"sweep finished in {result.seconds:.0f}s: {n_done} of {len(points)} runs done"
        + (f", {len(result.failed)} failed ({', '.join(result.failed)})" if result.failed else "")
        + (f"; report: {result.report_html}" if result.report_html else ""))
    return result


def _plan(session: RaySession, options: RayOptions, n_todo: int) -> dict:
    """The resources of each run on this instance (sweep.json ``ray``); :class:`ConfigError` when no node has
    them."""
    cpus, gpus, node_cpus, node_gpus = session.resources()
    cpus_per_run, gpus_per_run = default_resources(n_todo, cpus, gpus, node_cpus, cpus_per_run=options.cpus_per_run,
                                                   gpus_per_run=options.gpus_per_run)
    if cpus_per_run > node_cpus or gpus_per_run > node_gpus:
        f = RayOptions.FLAGS
        raise ConfigError(f"a run asks for {cpus_per_run} CPUs and {gpus_per_run:g} GPUs, more than any node of the "
                          f"Ray cluster has ({node_cpus:g} CPUs, {node_gpus:g} GPUs); lower {f['cpus_per_run']} / "
                          f"{f['gpus_per_run']}")
    return {"address": options.address or "local", "joined": session.address, "gcs_address": session.gcs_address(),
            "start_seconds": session.seconds, "cluster_cpus": cpus, "cluster_gpus": gpus, "cpus_per_run": cpus_per_run,
            "gpus_per_run": gpus_per_run, "max_retries": options.max_retries, "run_timeout": options.run_timeout,
            "worker_per_attempt": True}


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class _Scheduler:
    """Submits the runs, follows them (started, timed out, finished) and keeps sweep.json current."""

    def __init__(self, sweep: Sweep, state: dict, plan: dict, settings: EvalSettings, *, log, result: SweepResult):
        self.sweep, self.state, self.plan, self.settings = sweep, state, plan, settings
        self.log, self.result = log, result
        self.invocation = uuid.uuid4().hex
        self.pending: dict = {}  # ref -> run name
        self.starts: dict[str, list[float]] = {}  # run name -> start times of its attempts in this call
        self.cancelled: dict[str, int] = {}  # run name -> the attempt stopped by the timeout
        self.bar = None
        self.total = 0

    def entry(self, name: str) -> dict:
        return self.state["runs"][name]

    def run(self, todo: list, progress: bool | None) -> None:
        import ray

        from .task import run_task

        plan = self.plan
        task = ray.remote(num_cpus=plan["cpus_per_run"], num_gpus=plan["gpus_per_run"],
                          max_retries=plan["max_retries"], retry_exceptions=True, max_calls=1)(run_task)
        for p in todo:
            ref = task.remote(p.config.to_dict(), self.settings.to_dict(), str(self.sweep.path), p.name,
                              self.invocation, plan["cpus_per_run"])
            self.pending[ref] = p.name
            self.entry(p.name).update(status=PENDING, error=None, submitted=now(), started=None, ended=None,
                                      wall_seconds=None)
        self.sweep.write(self.state)
        self.bar = _bar(len(todo), progress)
        self.total = len(todo)
        try:
            while self.pending:
                ready, _ = ray.wait(list(self.pending), num_returns=1, timeout=POLL_S)
                self._follow()
                for ref in ready:
                    self._finish(ref)
        except BaseException:  # interrupted: what did not finish is pending again, not "running"
            for name in self.pending.values():
                if self.entry(name)["status"] == RUNNING:
                    self.entry(name).update(status=PENDING, error="interrupted (the sweep was stopped)")
            self.sweep.write(self.state)
            raise
        finally:
            if self.bar:
                self.bar.close()

    def _follow(self) -> None:
        """Runs whose (next) attempt started: status running, attempts; attempts past the timeout: stopped."""
        import ray

        changed = False
        timeout = self.plan["run_timeout"]
        for ref, name in self.pending.items():
            times = self.sweep.attempt_times(name, self.invocation)
            if times != self.starts.get(name, []):
                self.starts[name] = times
                self.entry(name).update(status=RUNNING, started=_iso(times[0]), attempts=self.sweep.attempts(name))
                changed = True
            if timeout and times and name not in self.cancelled and time.time() - times[-1] > timeout:
                self.cancelled[name] = len(times)
                ray.cancel(ref, force=True)  # kills the worker: the RUN_DIR keeps what the attempt wrote
        if changed:
            self.sweep.write(self.state)

    def _finish(self, ref) -> None:
        import ray

        name = self.pending.pop(ref)
        entry = self.entry(name)
        times = self.sweep.attempt_times(name, self.invocation)
        entry.update(attempts=self.sweep.attempts(name), ended=now(), started=_iso(times[0]) if times else None,
                     wall_seconds=(time.time() - times[0]) if times else None)
        try:
            info = ray.get(ref)
        except Exception as exc:  # the last attempt raised, its worker died, or the timeout stopped it
            error = _error(exc)
            if name in self.cancelled:
                error = (f"TimeoutError: attempt {self.cancelled[name]} ran longer than --run-timeout "
                         f"{self.plan['run_timeout']:g} s and was stopped (the sweep resumes it when run again)")
            info = {"ok": False, "error": error, "seconds": None}
        entry["attempt_seconds"] = info.get("seconds")
        if info["ok"]:
            entry.update(status=DONE, error=None)
            self.result.done.append(name)
            line = f"done {name} in {entry['wall_seconds'] or 0:.0f}s"
        else:
            entry.update(status=FAILED, error=info["error"])
            self.result.failed[name] = info["error"]
            line = f"FAILED {name} after {entry['attempts']} attempt(s): {info['error']}"
        self.sweep.write(self.state)
        msg = f"[{len(self.result.done) + len(self.result.failed)}/{self.total}] {line}"
        self.bar.write(msg, file=sys.stderr) if self.bar else self.log(msg)
        if self.bar:
            self.bar.update(1)


def _bar(total: int, progress: bool | None):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="run", file=sys.stderr, desc="sweep")
