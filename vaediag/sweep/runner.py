"""Run a sweep on Ray: one Ray task per grid point, each an ordinary ``vaediag study`` into its RUN_DIR.

:func:`run_sweep` starts a local Ray instance for the sweep (``ray.init(address="local")``: no dashboard,
quiet logs, shut down at the end) or joins an existing cluster (``address="auto"`` or ``"HOST:PORT"``).
Each run is one task with ``num_cpus`` / ``num_gpus`` resources, ``max_retries`` and
``retry_exceptions=True``: a run that raises, or whose worker process dies, is tried again by Ray (it resumes
its RUN_DIR from ``last.pt``). The driver holds the SWEEP_DIR lock, collects results as they arrive
(``ray.wait``) and updates ``sweep.json`` after each. A SIGKILLed local driver takes its Ray instance with
it (Ray starts its processes with the kernel's parent-death signal), so no task keeps writing; the next
call of the same sweep skips the completed runs and resumes the partial ones bit-identically.
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..extras import require_installed
from ..errors import ConfigError, first_line
from ..evaluate.settings import EvalSettings
from .grid import Grid
from vaediag.store.sweepdir import DONE, FAILED, RUNNING, Sweep, now

LOCAL_OBJECT_STORE_BYTES = 256 * 2**20  # tasks exchange small dicts only; Ray's default would claim 30 % of RAM
MIN_THREADS_PER_RUN = 2


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


def default_resources(n_runs: int, cpus: float, gpus: float, node_cpus: float, *, cpus_per_run: int | None = None,
                      gpus_per_run: float | None = None) -> tuple[int, float]:
    """(CPUs, GPUs) per run: a GPU per run when the cluster has GPUs; otherwise the cores split so that each
    run keeps >= 2 torch threads: ``n_parallel = max(1, min(n_runs, cpus // 2))``, ``cpus // n_parallel``
    each (never more than one node has)."""
    if gpus_per_run is None:
        gpus_per_run = 1.0 if gpus > 0 else 0.0
    if cpus_per_run is None:
        if gpus_per_run > 0:
            cpus_per_run = max(1, int(cpus // max(1, gpus // gpus_per_run)))
        else:
            n_parallel = max(1, min(n_runs, int(cpus) // MIN_THREADS_PER_RUN))
            cpus_per_run = max(1, int(cpus) // n_parallel)
        cpus_per_run = max(1, min(cpus_per_run, int(node_cpus)))
    return cpus_per_run, gpus_per_run


def _die_with_raylet() -> None:
    """Linux: have the kernel SIGKILL this worker process the moment its parent (the node's raylet) dies.

    Ray's worker notices a dead raylet only after a while (seconds, measured: it went on training and writing
    its RUN_DIR); with a SIGKILLed driver, whose local raylet dies with it, that would leave a run writing
    while the next driver resumes it. Elsewhere Ray's own detection is all there is."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import signal

    parent = os.getppid()
    ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGKILL)  # 1 = PR_SET_PDEATHSIG
    if os.getppid() != parent:  # the raylet died before the request took effect
        os._exit(1)


def _run_task(cfg: dict, settings: dict, sweep_path: str, name: str, invocation: str, threads: int) -> dict:
    """One attempt of one run, inside a Ray worker: ``vaediag study`` into SWEEP_DIR/runs/<name>."""
    _die_with_raylet()
    import torch

    from vaediag.models.train_config import TrainConfig
    from ..study import run_study

    sweep = Sweep(sweep_path)
    sweep.record_attempt(name, invocation)
    log = sweep.logger(name)
    torch.set_num_threads(threads)
    log(f"attempt on {socket.gethostname()} (PID {os.getpid()}), {threads} torch threads")
    started, t0 = now(), time.perf_counter()
    try:
        run_study(TrainConfig.from_dict(cfg), sweep.run_path(name), settings=EvalSettings(**settings),
                  progress=False, log=log)
    except BaseException as exc:
        log(f"attempt failed: {type(exc).__name__}: {first_line(exc)}")
        raise
    return {"started": started, "ended": now(), "wall_seconds": time.perf_counter() - t0}


TOKEN_FILE = Path.home() / ".ray" / "auth_token"  # where `ray start` / `ray get-auth-token --generate` put it


def _use_cluster_token() -> None:
    """Send the cluster's authentication token when joining one. ``ray start --head`` (Ray 2.60) turns token
    authentication on and keeps the token in ``~/.ray/auth_token``, but a driver joining with an address only
    sends it when ``RAY_AUTH_MODE=token``: set that when a token is at hand and the user has not chosen a mode
    (``RAY_AUTH_TOKEN`` / ``RAY_AUTH_TOKEN_PATH`` / the token file; copy it there on a machine outside the
    cluster). Must happen before Ray reads its configuration, i.e. before ``ray`` is imported: a program that
    imported ray itself sets ``RAY_AUTH_MODE=token`` first."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") or TOKEN_FILE.is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


CONNECT_TIMEOUT_S = 5.0  # a HOST:PORT that accepts no TCP connection within this is refused before anything is written


def check_reachable(address: str | None) -> None:
    """Refuse (one-line :class:`ConfigError`) a ``HOST:PORT`` address that accepts no TCP connection within
    ``CONNECT_TIMEOUT_S`` — without this check Ray keeps retrying for minutes. ``None`` (a local instance) and
    ``"auto"`` (the cluster ``ray start`` started on this machine) are left to Ray."""
    if address is None or address == "auto":
        return
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--address must be 'auto' or HOST:PORT (e.g. 10.0.0.1:6379), got {address!r}")
    try:
        with socket.create_connection((host, int(port)), timeout=CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConfigError(f"cannot reach a Ray cluster at {address}: {reason} (start one with `ray start --head "
                          f"--port {port}` there, or check the address)") from None


def _start_ray(address: str | None) -> float:
    """Start a local Ray instance (``address=None``) or join the cluster at ``address``; return the seconds."""
    if address is not None:
        _use_cluster_token()
    import ray

    t0 = time.perf_counter()
    quiet = dict(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    try:
        if address is None:
            ray.init(address="local", object_store_memory=LOCAL_OBJECT_STORE_BYTES, **quiet)
        else:
            ray.init(address=address, **quiet)
    except (ConnectionError, ValueError, RuntimeError) as exc:
        raise ConfigError(f"cannot {'start Ray' if address is None else f'join the Ray cluster at {address}'}: "
                          f"{first_line(exc)}") from None
    return time.perf_counter() - t0


def _cluster() -> tuple[float, float, float, float]:
    """(CPUs, GPUs, CPUs of the largest node, GPUs of the largest node) of the joined cluster."""
    import ray

    res = ray.cluster_resources()
    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    return (res.get("CPU", 1.0), res.get("GPU", 0.0), max((n.get("CPU", 0.0) for n in nodes), default=1.0),
            max((n.get("GPU", 0.0) for n in nodes), default=0.0))


def _error(exc: BaseException) -> str:
    """The one-line error of a failed task: the run's own exception, not Ray's wrapper."""
    cause = getattr(exc, "cause", None)
    if isinstance(cause, BaseException):
        return f"{type(cause).__name__}: {first_line(cause)}"
    return f"{type(exc).__name__}: {first_line(exc)}"


def run_sweep(grid: Grid, out: str | Path, *, settings: EvalSettings = EvalSettings(), address: str | None = None,
              cpus_per_run: int | None = None, gpus_per_run: float | None = None, max_retries: int = 2,
              log: Callable[[str], None] = print, progress: bool | None = None, claims=None) -> SweepResult:
    """Run every point of ``grid`` as a RUN_DIR under ``out``/runs on Ray; write the sweep report.

    Completed runs are skipped, partial ones resume. A run that fails ``max_retries + 1`` times is recorded
    as failed (``sweep.json``: status, attempts, one-line error) while the others complete;
    :attr:`SweepResult.ok` says whether all are done. ``progress=None``: a tqdm bar when stderr is a
    terminal. ``claims``: a claims file (path or loaded) checked against the sweep into its report's "Claims"
    section (:func:`vaediag.claims.check_claims`, numbers over seeds). Bad input (:class:`ConfigError` /
    :class:`RunDirError`, a malformed claims file included) is raised before Ray starts.
    """
    from ..claims.commands import check as check_claims_of, load as load_claims_file, require_epochs

    claims = load_claims_file(claims)
    settings.validate()
    if cpus_per_run is not None and (not isinstance(cpus_per_run, int) or cpus_per_run < 1):
        raise ConfigError(f"--cpus-per-run must be an integer >= 1, got {cpus_per_run!r}")
    if gpus_per_run is not None and not gpus_per_run >= 0:
        raise ConfigError(f"--gpus-per-run must be >= 0, got {gpus_per_run!r}")
    if not isinstance(max_retries, int) or max_retries < 0:
        raise ConfigError(f"--max-retries must be an integer >= 0, got {max_retries!r}")
    points = grid.points()
    if points:  # every point has the base's checkpoints
        require_epochs(claims, points[0].config.checkpoints)
    require_installed("ray", "a sweep (vaediag sweep, study --seeds, vaediag.run_sweep)")  # not imported yet
    sweep = Sweep(out)
    sweep.check_usable()
    check_reachable(address)
    from ..versions import versions

    t_start = time.perf_counter()
    result = SweepResult(sweep.path)
    with sweep.lock("sweep"):
        state = sweep.prepare(grid, settings.to_dict(), versions())
        base = state["base"]
        todo = []
        for p in points:
            entry = state["runs"][p.name]
            if entry["status"] == DONE and sweep.run_complete(p.name, base["epochs"], base["checkpoints"]):
                result.skipped.append(p.name)
            else:
                todo.append(p)
        if todo:  # before anything is written: a cluster that cannot be joined leaves SWEEP_DIR as it was
            result.ray_start_seconds = _start_ray(address)  # may set RAY_AUTH_MODE before ray is imported
        try:
            sweep.write(state)
            log(f"sweep {sweep.path}: {len(points)} runs, {len(result.skipped)} already done, {len(todo)} to run")
            if todo:
                _run_on_ray(sweep, state, todo, settings, address=address, cpus_per_run=cpus_per_run,
                            gpus_per_run=gpus_per_run, max_retries=max_retries, log=log, progress=progress,
                            result=result)
        finally:
            if todo:
                import ray

                ray.shutdown()
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


def _run_on_ray(sweep: Sweep, state: dict, todo: list, settings: EvalSettings, *, address: str | None,
                cpus_per_run: int | None, gpus_per_run: float | None, max_retries: int, log, progress,
                result: SweepResult) -> None:
    import ray  # started by run_sweep (result.ray_start_seconds)

    try:
        cpus, gpus, node_cpus, node_gpus = _cluster()
        cpus_per_run, gpus_per_run = default_resources(len(todo), cpus, gpus, node_cpus, cpus_per_run=cpus_per_run,
                                                       gpus_per_run=gpus_per_run)
        if cpus_per_run > node_cpus or gpus_per_run > node_gpus:
            raise ConfigError(f"a run asks for {cpus_per_run} CPUs and {gpus_per_run:g} GPUs, more than any node "
                              f"of the Ray cluster has ({node_cpus:g} CPUs, {node_gpus:g} GPUs); lower "
                              f"--cpus-per-run / --gpus-per-run")
        state["ray"] = {"address": address or "local", "gcs_address": ray.get_runtime_context().gcs_address,
                        "start_seconds": result.ray_start_seconds, "cluster_cpus": cpus, "cluster_gpus": gpus,
                        "cpus_per_run": cpus_per_run, "gpus_per_run": gpus_per_run, "max_retries": max_retries}
        log(f"Ray {'started' if address is None else 'joined'} in {result.ray_start_seconds:.2f}s "
            f"({cpus:g} CPUs, {gpus:g} GPUs); {cpus_per_run} CPUs and {gpus_per_run:g} GPUs per run, "
            f"up to {max_retries} retries")
        task = ray.remote(num_cpus=cpus_per_run, num_gpus=gpus_per_run, max_retries=max_retries,
                          retry_exceptions=True)(_run_task)
        invocation = uuid.uuid4().hex
        pending = {}
        for p in todo:
            ref = task.remote(p.config.to_dict(), settings.to_dict(), str(sweep.path), p.name, invocation,
                              cpus_per_run)
            pending[ref] = p.name
            state["runs"][p.name].update(status=RUNNING, error=None, submitted=now())
        sweep.write(state)
        bar = _bar(len(todo), progress)
        try:
            while pending:
                ready, _ = ray.wait(list(pending), num_returns=1)
                name = pending.pop(ready[0])
                entry = state["runs"][name]
                entry["attempts"] = sweep.attempts(name)
                try:
                    info = ray.get(ready[0])
                except Exception as exc:  # the run's last attempt failed (its exception, or a dead worker)
                    entry.update(status=FAILED, error=_error(exc), ended=now(), wall_seconds=None)
                    result.failed[name] = entry["error"]
                    line = f"FAILED {name} after {entry['attempts']} attempts: {entry['error']}"
                else:
                    entry.update(status=DONE, error=None, **info)
                    result.done.append(name)
                    line = f"done {name} in {info['wall_seconds']:.0f}s"
                sweep.write(state)
                finished = len(result.done) + len(result.failed)
                msg = f"[{finished}/{len(todo)}] {line}"
                bar.write(msg, file=sys.stderr) if bar else log(msg)
                if bar:
                    bar.update(1)
        finally:
            if bar:
                bar.close()
    finally:
        ray.shutdown()


def _bar(total: int, progress: bool | None):
    if progress is None:
        progress = sys.stderr.isatty()
    if not progress:
        return None
    from tqdm import tqdm

    return tqdm(total=total, unit="run", file=sys.stderr, desc="sweep")
