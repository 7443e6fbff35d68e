"""The reaper of a sweep's own Ray instance: ends every process of that instance once its driver is gone.

Ray starts the processes of a local instance (GCS, raylet, dashboard, monitors, workers, and the raylet's
dashboard and runtime-env agents) from the driver; most die with it, but the agents were measured to live on for
minutes after a SIGKILLed driver. :class:`vaediag.sweep.ray_session.RaySession` therefore starts this script
first, as a separate process in its own session, with a pipe to the driver, and marks the instance it then starts
with an environment variable (``VAEDIAG_RAY_SESSION=<token>``) that every process Ray starts inherits. When the
pipe closes -- the driver ended normally, raised, or was killed by any signal, SIGKILL included -- the reaper
kills every process of this user whose environment carries the token, every descendant of one, and those it
recorded as such while the driver lived (pass after pass, until none has been
seen for two seconds: processes still starting are caught) and removes the instance's private temporary folder. It touches no other process: not
another sweep's instance, not a cluster started with ``ray start``.

Run as ``python -I reaper.py TOKEN TEMP_DIR DRIVER_PID`` (stdlib only: it starts in a few milliseconds). Linux
(``/proc``); elsewhere it only removes the folder.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import sys
import time

ENV = "VAEDIAG_RAY_SESSION"
QUIET_S = 2.0  # the reaper stops once no marked process has been seen for this long (late spawns are caught)
PAUSE_S = 0.2
DEADLINE_S = 60.0
WATCH_S = 1.0  # while the driver lives, the instance's processes are recorded this often


def _stat(pid: int) -> tuple[int, int] | None:
    """(parent PID, start time in clock ticks) of ``pid`` from /proc/PID/stat; None when it is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return int(fields[1]), int(fields[19])
    except (OSError, IndexError, ValueError):
        return None


def _marked(pid: int, needle: bytes) -> bool:
    """Whether ``pid``'s environment holds ``needle`` (False when it is gone or another user's process)."""
    try:
        with open(f"/proc/{pid}/environ", "rb") as fh:
            return needle in fh.read().split(b"\0")
    except OSError:
        return False


def instance_processes(token: str, spare: set[int]) -> dict[int, int]:
    """This user's processes whose environment holds ``ENV=token`` and every descendant of one (those in
    ``spare`` excepted), as {PID: start time}, from one pass over /proc. Descendants count because Ray's agents
    rename themselves with setproctitle, which overwrites the memory /proc/PID/environ shows: the token is no
    longer visible in them, their parent (the marked raylet) still is."""
    needle = f"{ENV}={token}".encode()
    try:
        entries = os.listdir("/proc")
    except OSError:
        return {}
    stats, found = {}, {}
    for pid in (int(e) for e in entries if e.isdigit() and int(e) not in spare):
        if (st := _stat(pid)) is not None:
            stats[pid] = st
            if _marked(pid, needle):
                found[pid] = st[1]
    grew = True
    while grew:
        grew = False
        for pid, (parent, start) in stats.items():
            if pid not in found and parent in found:
                found[pid] = start
                grew = True
    return found


def reap(token: str, temp_dir: str, spare: set[int], known: dict[int, int] | None = None) -> int:
    """Kill the marked processes, their descendants and the ``known`` ones seen while the driver lived (PID ->
    start time: a PID reused since by another process is left alone), pass after pass, until none has been seen
    for ``QUIET_S`` (a process Ray was starting at the driver's death appears late); remove ``temp_dir``; return
    how many were killed."""
    known = dict(known or {})
    killed = 0
    start = last_seen = time.monotonic()
    while time.monotonic() - last_seen < QUIET_S and time.monotonic() - start < DEADLINE_S:
        targets = instance_processes(token, spare)
        targets.update({pid: t for pid, t in known.items() if (st := _stat(pid)) is not None and st[1] == t})
        for pid in targets:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        known = {pid: t for pid, t in known.items() if pid not in targets}
        if targets:
            last_seen = time.monotonic()
        time.sleep(PAUSE_S)
    if temp_dir:
        shutil.rmtree(temp_dir, ignore_errors=True)
    return killed


def watch(token: str, spare: set[int]) -> dict[int, int]:
    """Until the driver's end of the pipe on stdin closes: every ``WATCH_S`` record the instance's processes
    (:func:`instance_processes`), so that one orphaned before the driver died is still known; return them."""
    known: dict[int, int] = {}
    while True:
        try:
            ready, _, _ = select.select([0], [], [], WATCH_S)
            if ready and not os.read(0, 1 << 16):
                return known
        except OSError:
            return known
        known.update(instance_processes(token, spare))


def main(argv: list[str]) -> int:
    token, temp_dir, driver = argv[1], argv[2], int(argv[3])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C meant for the sweep must not stop its clean-up
    spare = {os.getpid(), driver}
    reap(token, temp_dir, spare, watch(token, spare))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
