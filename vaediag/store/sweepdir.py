"""The sweep directory (SWEEP_DIR): its layout, and the one place that reads and writes its files.

Layout::

    SWEEP_DIR/sweep.json              the grid, the shared settings, each run's status and timings, Ray
    SWEEP_DIR/runs/<name>/            one ordinary RUN_DIR per grid point (every vaediag command works on it)
    SWEEP_DIR/logs/<name>.log         the log lines of each run's attempts (written by its Ray task)
    SWEEP_DIR/logs/<name>.attempts    one JSON line per attempt started (host, PID, time)
    SWEEP_DIR/report.html, report.md  the sweep report
    SWEEP_DIR/summary.csv             the statistics behind it
    SWEEP_DIR/figures/                its figures

``sweep.json`` is written atomically by the driver only (the process holding the SWEEP_DIR lock); the
runs' tasks write their own RUN_DIR and their two log files. On a multi-node Ray cluster SWEEP_DIR must be
on storage every node sees at the same path. :class:`Sweep` is the only code that knows these names.
"""

from __future__ import annotations

import json
import os
import socket
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from vaediag.files import atomic
from vaediag.datasets.registry import DEFAULT_DATASET
from vaediag.errors import ConfigError, RunDirError, first_line
from vaediag.files.fileio import append_text, is_plain_or_missing, read_json
from vaediag.files.lock import DirectoryLock
from vaediag.store import display
from vaediag.store.rundir import Run


class Grid(Protocol):
    """What a sweep directory needs of a grid (:class:`vaediag.sweep.grid.Grid`): its points and its settings."""

    def points(self) -> list: ...

    def base_dict(self) -> dict: ...

    def axes_dict(self) -> dict: ...


FORMAT = "vaediag-sweep/1"
SWEEP_FILE = "sweep.json"
RUNS_DIR = "runs"
LOGS_DIR = "logs"
REPORT_HTML = "report.html"
REPORT_MD = "report.md"
SUMMARY_FILE = "summary.csv"
FIGURES_DIR = "figures"
LOCK_FILE = ".vaediag-sweep.lock"
PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"
STATUSES = (PENDING, RUNNING, DONE, FAILED)


def now() -> str:
    """The current time as ISO 8601 UTC, to the second (``2026-01-31T12:00:00Z``)."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Sweep:
    """One sweep directory: where each file lives, and how ``sweep.json`` is read and written."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Sweep({str(self.path)!r})"

    def _repr_html_(self) -> str:  # a notebook shows one line per run and the sweep's figures
        return display.sweep_html(self, Run)

    # ---------------------------------------------------------------------------------------- layout
    @property
    def sweep_path(self) -> Path:
        return self.path / SWEEP_FILE

    @property
    def runs_dir(self) -> Path:
        return self.path / RUNS_DIR

    def run_path(self, name: str) -> Path:
        return self.runs_dir / name

    def run(self, name: str) -> Run:
        return Run(self.run_path(name))

    def log_path(self, name: str) -> Path:
        return self.path / LOGS_DIR / f"{name}.log"

    def attempts_path(self, name: str) -> Path:
        return self.path / LOGS_DIR / f"{name}.attempts"

    @property
    def report_html_path(self) -> Path:
        return self.path / REPORT_HTML

    @property
    def report_md_path(self) -> Path:
        return self.path / REPORT_MD

    @property
    def summary_path(self) -> Path:
        return self.path / SUMMARY_FILE

    @property
    def figures_dir(self) -> Path:
        return self.path / FIGURES_DIR

    # ---------------------------------------------------------------------------------------- state
    def is_sweep(self) -> bool:
        return self.sweep_path.is_file()

    def check_usable(self) -> None:
        """:class:`RunDirError` (nothing touched) when SWEEP_DIR is a file, or a non-empty folder without
        sweep.json."""
        if self.path.exists() and not self.path.is_dir():
            raise RunDirError(f"SWEEP_DIR {self.path} exists and is not a directory")
        if self.path.is_dir() and not self.is_sweep() and any(p.name != LOCK_FILE for p in self.path.iterdir()):
            raise RunDirError(f"SWEEP_DIR {self.path} is not empty and holds no vaediag sweep ({SWEEP_FILE}); "
                              f"choose a new --out")

    def check_contained(self, names: list[str]) -> None:
        """:class:`RunDirError` (nothing written) when a folder of SWEEP_DIR (runs/, logs/, figures/, a run's
        RUN_DIR) is a symbolic link, or a run's log / attempts file is not a plain file (a link would make the
        runs' tasks append to its target): a sweep writes only inside SWEEP_DIR."""
        folders = [self.runs_dir, self.path / LOGS_DIR, self.figures_dir, *(self.run_path(n) for n in names)]
        for folder in folders:
            if folder.is_symlink():
                raise RunDirError(f"{folder} is a symbolic link; a sweep writes only inside SWEEP_DIR {self.path} "
                                  f"and follows no link there: remove it")
        for name in names:
            for path in (self.log_path(name), self.attempts_path(name)):
                if not is_plain_or_missing(path):
                    raise RunDirError(f"{path} is a link or not a plain file; a sweep appends its run's log lines "
                                      f"only to a plain file inside SWEEP_DIR: remove it")

    def lock(self, command: str = "sweep") -> DirectoryLock:
        """The exclusive lock of the sweep driver (a second driver on this SWEEP_DIR is refused, one line)."""
        return DirectoryLock(self.path, LOCK_FILE, command, create=True, what="SWEEP_DIR")

    def read(self) -> dict:
        """sweep.json; :class:`RunDirError` (one line) when unreadable or not a vaediag sweep file."""
        state = read_json(self.sweep_path)
        if not isinstance(state, dict) or state.get("format") != FORMAT or not isinstance(state.get("runs"), dict):
            raise RunDirError(f"{self.sweep_path} is not a {FORMAT} file")
        return state

    def write(self, state: dict) -> None:
        state["updated"] = now()
        atomic.write_json(self.sweep_path, state)

    def prepare(self, grid: Grid, evaluation: dict, versions: dict) -> dict:
        """The state of this sweep for ``grid``: a new sweep.json, or the existing one with the grid's new points
        added (pending). :class:`ConfigError` naming the difference when the existing sweep was made with other
        shared settings or evaluation settings. Does not write."""
        points = grid.points()
        base = grid.base_dict()
        if self.is_sweep():
            state = self.read()
            for key, given, what in (("base", base, "training"), ("evaluation", evaluation, "evaluation")):
                saved = state.get(key) or {}
                if key == "base":  # older sweeps recorded no dataset: they are MNIST sweeps
                    saved = {"dataset": DEFAULT_DATASET, **saved}
                diff = [f"{k} {saved.get(k)!r} (not {given.get(k)!r})" for k in sorted(set(saved) | set(given))
                        if saved.get(k) != given.get(k)]
                if diff:
                    raise ConfigError(f"{self.sweep_path} was made with {what} settings " + ", ".join(diff)
                                      + "; use the same settings to continue it, or choose a new --out")
        else:
            state = {"format": FORMAT, "created": now(), "base": base, "evaluation": evaluation, "runs": {}}
        state["grid"] = grid.axes_dict()
        state["versions"] = versions
        for p in points:
            state["runs"].setdefault(p.name, {"settings": p.settings, "status": PENDING, "attempts": 0,
                                              "error": None, "wall_seconds": None, "started": None, "ended": None})
        for entry in state["runs"].values():  # "running" in a sweep.json nobody drives (we hold the lock): stopped
            if isinstance(entry, dict) and entry.get("status") == RUNNING:
                entry["status"] = PENDING
        return state

    def run_complete(self, name: str, epochs: int, checkpoints: list[int]) -> bool:
        """Whether run ``name`` is trained to ``epochs``, evaluated at every checkpoint and reported."""
        run = self.run(name)
        try:
            if not (run.has_config() and run.has_evaluation() and run.report_html_path.is_file()):
                return False
            if run.read_config().get("train", {}).get("epochs") != epochs or len(run.read_history()) != epochs:
                return False
            return run.evaluation_problem() is None and run.read_evaluation().epochs == list(checkpoints)
        except (RunDirError, OSError):
            return False

    # ---------------------------------------------------------------------------------------- attempts
    def record_attempt(self, name: str, invocation: str) -> None:
        """Append one line for an attempt of run ``name`` started now (by a Ray task, on any node)."""
        path = self.attempts_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        line = json.dumps({"invocation": invocation, "started": now(), "time": time.time(),
                           "host": socket.gethostname(), "pid": os.getpid()})
        append_text(path, line + "\n")  # never through a link (OSError then: the attempt fails)

    def attempts(self, name: str, invocation: str | None = None) -> int:
        """How many attempts of run ``name`` were started: by every sweep call, or by the call ``invocation``."""
        return len(self._attempt_lines(name, invocation))

    def attempt_times(self, name: str, invocation: str) -> list[float]:
        """When each attempt of run ``name`` in the sweep call ``invocation`` started (seconds since the epoch,
        in order)."""
        times = [entry.get("time") for entry in self._attempt_lines(name, invocation)]
        return sorted(t for t in times if isinstance(t, (int, float)))

    def _attempt_lines(self, name: str, invocation: str | None) -> list[dict]:
        try:
            lines = self.attempts_path(name).read_text(encoding="utf-8").splitlines()
        except OSError:
            return []
        out = []
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut by a kill
            if isinstance(entry, dict) and (invocation is None or entry.get("invocation") == invocation):
                out.append(entry)
        return out

    def logger(self, name: str):
        """A ``log`` callable that appends timestamped lines to ``logs/<name>.log``."""
        path = self.log_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)

        def log(msg: str) -> None:
            try:
                append_text(path, f"{time.strftime('%H:%M:%S')} {msg}\n")
            except OSError as exc:  # a log line is never worth failing a run
                print(f"cannot write {path}: {first_line(exc)}")

        return log
