"""The reaper of a sweep's own Ray instance: ends every process of that instance once its driver is gone.

Ray starts the processes of a local instance (GCS, raylet, dashboard, monitors, workers, and the raylet's
dashboard and runtime-env agents) from the driver; most die with it, but the agents were measured to live on for
minutes after a SIGKILLed driver. :class:`vaediag.sweep.ray_session.RaySession` therefore starts this script
first, as a separate process in its own session, with a pipe to the driver, and marks the instance it then starts
with an environment variable (``VAEDIAG_RAY_SESSION=<token>``) that every process Ray starts inherits. When the
pipe closes -- the driver ended normally, raised, or was killed by any signal, SIGKILL included -- the reaper
kills every process of this user whose environment carries the token (pass after pass, until none has been
seen for two seconds: processes still starting are caught) and removes the instance's private temporary folder. It touches no other process: not
another sweep's instance, not a cluster started with ``ray start``.

Run as ``python -I reaper.py TOKEN TEMP_DIR DRIVER_PID`` (stdlib only: it starts in a few milliseconds). Linux
(``/proc``); elsewhere it only removes the folder.
"""

from __future__ import annotations

import os
import shutil
import signal
import sys
import time

ENV = "VAEDIAG_RAY_SESSION"
QUIET_S = 2.0  # the reaper stops once no marked process has been seen for this long (late spawns are caught)
PAUSE_S = 0.2
DEADLINE_S = 60.0


def marked_processes(token: str, spare: set[int]) -> list[int]:
    """PIDs of this user's processes whose environment holds ``ENV=token`` (those in ``spare`` excepted)."""
    needle = f"{ENV}={token}".encode()
    found = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return found
    for entry in entries:
        if not entry.isdigit() or int(entry) in spare:
            continue
        try:
            with open(f"/proc/{entry}/environ", "rb") as fh:
                if needle in fh.read().split(b"\0"):
                    found.append(int(entry))
        except OSError:  # gone, or another user's process
            continue
    return found


def reap(token: str, temp_dir: str, spare: set[int]) -> int:
    """Kill the marked processes, pass after pass, until none has been seen for ``QUIET_S`` (a process Ray was
    starting at the driver's death appears late); remove ``temp_dir``; return how many were killed."""
    killed = 0
    start = last_seen = time.monotonic()
    while time.monotonic() - last_seen < QUIET_S and time.monotonic() - start < DEADLINE_S:
        pids = marked_processes(token, spare)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except OSError:
                pass
        if pids:
            last_seen = time.monotonic()
        time.sleep(PAUSE_S)
    if temp_dir:
        shutil.rmtree(temp_dir, ignore_errors=True)
    return killed


def main(argv: list[str]) -> int:
    token, temp_dir, driver = argv[1], argv[2], int(argv[3])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # a Ctrl-C meant for the sweep must not stop its clean-up
    try:
        while sys.stdin.buffer.read(1 << 16):  # until the driver's end of the pipe closes
            pass
    except OSError:
        pass
    reap(token, temp_dir, {os.getpid(), driver})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
