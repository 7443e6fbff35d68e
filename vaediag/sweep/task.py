"""One attempt of one sweep run, inside a Ray worker: an ordinary ``vaediag study`` into SWEEP_DIR/runs/<name>.

The driver submits :func:`run_task` with ``max_calls=1`` (a fresh worker process per attempt: no torch state,
thread setting or CUDA context carries over from one run to the next) and with Ray's retries for a worker that
died or an unexpected exception. A :class:`~vaediag.errors.VaediagError` (bad input, diverged training, a model
that outputs NaN, an unusable RUN_DIR) recurs on every attempt: it is returned as the run's failure instead of
raised, so Ray does not retry it.
"""

from __future__ import annotations

import os
import socket
import sys
import time

from vaediag.errors import VaediagError, first_line
from vaediag.evaluate.settings import EvalSettings
from vaediag.store.sweepdir import Sweep, now


def die_with_raylet() -> None:
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


def run_task(cfg: dict, settings: dict, sweep_path: str, name: str, invocation: str, threads: int) -> dict:
    """Run one attempt; return ``{"ok", "error", "started", "ended", "seconds"}`` (this attempt's times).
    Raises (so that Ray retries) on anything but a :class:`VaediagError`."""
    die_with_raylet()
    import torch

    from vaediag.models.train_config import TrainConfig
    from vaediag.study import run_study

    sweep = Sweep(sweep_path)
    sweep.record_attempt(name, invocation)
    log = sweep.logger(name)
    torch.set_num_threads(threads)
    log(f"attempt on {socket.gethostname()} (PID {os.getpid()}), {threads} torch threads")
    started, t0 = now(), time.perf_counter()
    error = None
    try:
        run_study(TrainConfig.from_dict(cfg), sweep.run_path(name), settings=EvalSettings(**settings),
                  progress=False, log=log)
    except VaediagError as exc:  # deterministic: the next attempt would fail the same way
        error = f"{type(exc).__name__}: {first_line(exc)}"
        log(f"attempt failed (not retried: it would fail again): {error}")
    except BaseException as exc:
        log(f"attempt failed: {type(exc).__name__}: {first_line(exc)}")
        raise
    return {"ok": error is None, "error": error, "started": started, "ended": now(),
            "seconds": time.perf_counter() - t0}
