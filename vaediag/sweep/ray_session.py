"""The sweep's Ray instance and its one owner, :class:`RaySession`: start or join, hand out resources, stop.

:class:`RayOptions` holds how a sweep uses Ray (``address``, CPUs / GPUs per run, retries, the per-run timeout);
:class:`RaySession` is the only code that calls ``ray.init`` / ``ray.shutdown``:

- **no address**: a local instance of the sweep's own, in a private temporary folder (so no ``ray_current_cluster``
  file points at it), with a reaper process (:mod:`.reaper`) that ends every process of that instance once the
  driver is gone, however it ended (a SIGKILL included), and removes the folder. SIGTERM / SIGHUP stop the sweep
  like Ctrl-C: the session is closed, the runs' partial RUN_DIRs resume on the next call.
- **"auto"**: the cluster ``ray start`` started on this machine (its address in Ray's ``ray_current_cluster`` file,
  or ``$RAY_ADDRESS``), never another driver's local instance (Ray's own "auto" would join any it finds).
- **HOST:PORT**: that cluster, after :func:`probe` checked that a Ray GCS answers there within
  ``CONNECT_TIMEOUT_S`` (an address that accepts TCP but is no Ray cluster would make Ray retry for minutes).

Every refusal is a one-line :class:`~vaediag.errors.ConfigError`, raised before SWEEP_DIR is written.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from vaediag.errors import ConfigError, first_line

from .reaper import ENV as SESSION_ENV

LOCAL_OBJECT_STORE_BYTES = 256 * 2**20  # tasks exchange small dicts only; Ray's default would claim 30 % of RAM
MIN_THREADS_PER_RUN = 2  # the default resources split the cores so that each run keeps at least this many threads
CONNECT_TIMEOUT_S = 5.0  # a HOST:PORT where no Ray GCS answers within this is refused before anything is written
TOKEN_FILE = Path.home() / ".ray" / "auth_token"  # where `ray start` / `ray get-auth-token --generate` put it
REAPER = Path(__file__).with_name("reaper.py")
GCS_PROBE = "/ray.rpc.NodeInfoGcsService/GetClusterId"  # a GCS method every Ray cluster serves, empty request


class SweepStopped(KeyboardInterrupt):
    """The sweep's driver got SIGTERM / SIGHUP: stop like Ctrl-C (the session closes, runs resume later)."""


@dataclass(frozen=True)
class RayOptions:
    """How a sweep uses Ray. ``address``: None (a local instance of the sweep's own), ``"auto"`` (the cluster
    ``ray start`` started on this machine) or ``"HOST:PORT"``; ``cpus_per_run`` / ``gpus_per_run``: each run's
    task resources (None: :func:`default_resources`); ``max_retries``: retries of a run whose worker died or that
    raised an unexpected error (a vaediag error -- bad input, diverged training, a NaN model -- recurs and is
    never retried); ``run_timeout``: seconds an attempt may take before its worker is killed and the run recorded
    as failed (None: no limit)."""

    address: str | None = None
    cpus_per_run: int | None = None
    gpus_per_run: float | None = None
    max_retries: int = 2
    run_timeout: float | None = None

    FLAGS = {"address": "--address", "cpus_per_run": "--cpus-per-run", "gpus_per_run": "--gpus-per-run",
             "max_retries": "--max-retries", "run_timeout": "--run-timeout"}  # how the CLI spells each

    def validate(self) -> "RayOptions":
        """One-line :class:`ConfigError` naming the first bad option; returns self."""
        f = self.FLAGS
        if self.address is not None and not isinstance(self.address, str):
            raise ConfigError(f"{f['address']} must be 'auto' or HOST:PORT, got {self.address!r}")
        if self.cpus_per_run is not None and (not _whole(self.cpus_per_run) or self.cpus_per_run < 1):
            raise ConfigError(f"{f['cpus_per_run']} must be an integer >= 1, got {self.cpus_per_run!r}")
        if self.gpus_per_run is not None and not (_number(self.gpus_per_run) and self.gpus_per_run >= 0):
            raise ConfigError(f"{f['gpus_per_run']} must be >= 0, got {self.gpus_per_run!r}")
        if not _whole(self.max_retries) or self.max_retries < 0:
            raise ConfigError(f"{f['max_retries']} must be an integer >= 0, got {self.max_retries!r}")
        if self.run_timeout is not None and not (_number(self.run_timeout) and 0 < self.run_timeout < float("inf")):
            raise ConfigError(f"{f['run_timeout']} must be a number of seconds > 0, got {self.run_timeout!r}")
        return self


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


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



# ============================================================================================ addresses
def _use_cluster_token() -> None:
    """Send the cluster's authentication token when joining one. ``ray start --head`` (Ray 2.60) turns token
    authentication on and keeps the token in ``~/.ray/auth_token``, but a driver joining with an address only
    sends it when ``RAY_AUTH_MODE=token``: set that when a token is at hand and the user has not chosen a mode
    (``RAY_AUTH_TOKEN`` / ``RAY_AUTH_TOKEN_PATH`` / the token file). Must happen before ``ray`` is imported."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    if os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH") or TOKEN_FILE.is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


def started_cluster_address() -> str | None:
    """The address of the cluster ``ray start`` last started on this machine (``$RAY_ADDRESS`` first), or None.
    A local instance started by a driver's ``ray.init`` writes no such record, so it is never found here."""
    env = os.environ.get("RAY_ADDRESS")
    if env:
        return env
    base = os.environ.get("RAY_TMPDIR") or tempfile.gettempdir()
    try:
        text = (Path(base) / "ray" / "ray_current_cluster").read_text().strip()
    except (OSError, UnicodeDecodeError):
        return None
    return text or None


def probe(address: str, timeout: float = CONNECT_TIMEOUT_S) -> None:
    """One-line :class:`ConfigError` unless a Ray GCS answers at ``HOST:PORT`` within ``timeout``: a TCP
    connection first, then one gRPC call every Ray cluster serves. A cluster that wants an authentication
    token answers too (it is a Ray cluster; the join sends the token)."""
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ConfigError(f"--address must be 'auto' or HOST:PORT (e.g. 10.0.0.1:6379), got {address!r}")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout):
            pass
    except OSError as exc:
        raise ConfigError(f"cannot reach a Ray cluster at {address}: {exc.strerror or type(exc).__name__} (start "
                          f"one with `ray start --head --port {port}` there, or check the address)") from None
    import grpc

    channel = grpc.insecure_channel(address)
    try:
        channel.unary_unary(GCS_PROBE)(b"", timeout=timeout)
    except grpc.RpcError as exc:
        code = exc.code()
        if code in (grpc.StatusCode.UNAUTHENTICATED, grpc.StatusCode.PERMISSION_DENIED):
            return
        why = {grpc.StatusCode.DEADLINE_EXCEEDED: f"it accepts connections but gives no answer within {timeout:g} s",
               grpc.StatusCode.UNIMPLEMENTED: "it answers gRPC but serves no Ray GCS"}.get(
            code, f"it does not speak Ray's protocol ({code.name.lower()})")
        raise ConfigError(f"{address} is not a Ray cluster: {why}; give the GCS port `ray start --head` printed "
                          f"(default 6379)") from None
    finally:
        channel.close()


def resolve_address(address: str | None) -> str | None:
    """None (a local instance), or the checked HOST:PORT to join (``"auto"`` resolved as the module says)."""
    if address is None:
        return None
    if address == "auto":
        found = started_cluster_address()
        if found is None:
            raise ConfigError("--address auto: no cluster started with `ray start` on this machine (a sweep never "
                              "joins another sweep's own instance); start one with `ray start --head --block`, "
                              "give HOST:PORT, or leave out --address for a local instance")
        try:
            probe(found)
        except ConfigError as exc:
            raise ConfigError(f"--address auto: the cluster `ray start` last started here ({found}) does not answer "
                              f"({exc}); start it again or leave out --address") from None
        return found
    probe(address)
    return address


# ============================================================================================ the session
class RaySession:
    """The sweep's Ray instance, from start (or join) to stop: use as a context manager. ``seconds``: how long
    starting or joining took; ``resources()``: (CPUs, GPUs, CPUs and GPUs of the largest node)."""

    def __init__(self, options: RayOptions):
        self.options = options
        self.address = resolve_address(options.address)  # refusals before anything starts
        self.seconds = 0.0
        self._reaper: subprocess.Popen | None = None
        self._temp_dir: str | None = None
        self._signals: dict = {}
        self.stopped_by: str | None = None  # the signal that stopped the sweep (SIGTERM / SIGHUP), if one did

    @property
    def local(self) -> bool:
        return self.address is None

    def __enter__(self) -> "RaySession":
        t0 = time.perf_counter()
        try:
            self._start()
            self._catch_signals()  # after ray.init: Ray's core installs its own SIGTERM handler (it aborts)
        except BaseException:
            self.close()
            raise
        self.seconds = time.perf_counter() - t0
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close()
        if self.stopped_by and isinstance(exc, KeyboardInterrupt) and not isinstance(exc, SweepStopped):
            # Ray's wait turned our exception into a plain KeyboardInterrupt: say which signal it was
            raise SweepStopped(f"stopped by {self.stopped_by}") from None

    def _start(self) -> None:
        if not self.local:
            _use_cluster_token()  # may set RAY_AUTH_MODE: before ray is imported
        import ray

        quiet = dict(include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
        if not self.local:
            try:
                ray.init(address=self.address, **quiet)
            except (ConnectionError, ValueError, RuntimeError) as exc:
                raise ConfigError(f"cannot join the Ray cluster at {self.address}: {first_line(exc)}") from None
            return
        base = tempfile.gettempdir()
        self._temp_dir = tempfile.mkdtemp(prefix="vaediag-ray-", dir=base if len(base) <= 40 else "/tmp")
        token = secrets.token_hex(8)
        self._reaper = subprocess.Popen([sys.executable, "-I", str(REAPER), token, self._temp_dir, str(os.getpid())],
                                        stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                        start_new_session=True)
        os.environ[SESSION_ENV] = token  # inherited by every process of the instance: what the reaper ends
        try:
            ray.init(address="local", _temp_dir=self._temp_dir, object_store_memory=LOCAL_OBJECT_STORE_BYTES,
                     **quiet)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            raise ConfigError(f"cannot start Ray: {first_line(exc)}") from None
        finally:
            os.environ.pop(SESSION_ENV, None)

    def resources(self) -> tuple[float, float, float, float]:
        """(CPUs, GPUs, CPUs of the largest node, GPUs of the largest node) of the instance."""
        import ray

        res = ray.cluster_resources()
        nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
        return (res.get("CPU", 1.0), res.get("GPU", 0.0), max((n.get("CPU", 0.0) for n in nodes), default=1.0),
                max((n.get("GPU", 0.0) for n in nodes), default=0.0))

    def gcs_address(self) -> str:
        import ray

        return ray.get_runtime_context().gcs_address

    def close(self) -> None:
        """Stop (or leave) Ray, then let the reaper end what is left of a local instance; restore the signal
        handlers. Safe to call twice."""
        if "ray" in sys.modules:
            import ray

            if ray.is_initialized():
                ray.shutdown()
        if self._reaper is not None:
            try:
                self._reaper.stdin.close()  # the pipe's end: the reaper kills what is left and removes the folder
                self._reaper.wait(timeout=30)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self._reaper = None
        for sig, handler in self._signals.items():
            signal.signal(sig, handler)
        self._signals = {}

    def _catch_signals(self) -> None:
        """SIGTERM / SIGHUP raise :class:`SweepStopped` in the driver (main thread only), so the session closes."""
        if sys.platform == "win32" or not _main_thread():
            return

        def stop(signum, frame):
            self.stopped_by = signal.Signals(signum).name
            raise SweepStopped(f"stopped by {self.stopped_by}")

        for sig in (signal.SIGTERM, signal.SIGHUP):
            self._signals[sig] = signal.signal(sig, stop)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()
