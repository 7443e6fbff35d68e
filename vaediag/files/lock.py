"""One writer per directory: an exclusive lock that a second writer is refused with the holder's PID.

Every command that writes into a run directory (``train``, ``evaluate``, ``report``, ``study``) holds
``DIR/<lock file>`` locked with ``fcntl.flock`` for as long as it writes. The kernel releases a flock
when its process ends in any way, SIGKILL included, so a dead holder never blocks anybody. The file
holds the holder's PID and command: that is what a refused second writer is told. It is removed when
the holder releases the lock (a SIGKILLed holder leaves it behind; the next writer takes it over).

Within one process the lock is re-entrant: ``vaediag study`` holds it and calls ``train``, which takes
it again. Typical use, through :meth:`vaediag.store.rundir.Run.lock`::

    with Run(path).lock("evaluate"):
        ...  # write into path
"""

from __future__ import annotations

import errno
import fcntl
import json
import os
import re
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from vaediag.errors import RunDirError


@dataclass
class _Held:
    fd: int
    lock_path: Path
    count: int
    created_dir: bool


_HELD: dict[Path, _Held] = {}
# vaediag.files.atomic's temporaries: tempfile.mkstemp(prefix=".<name>.", suffix=".tmp"), random part [a-z0-9_]
_TEMPORARY = re.compile(r"^\..+\.[a-z0-9_]+\.tmp$")
_GUARD = threading.Lock()


def holds(directory: str | os.PathLike) -> bool:
    """Whether this process holds the lock on ``directory``."""
    return Path(directory).resolve() in _HELD


class DirectoryLock:
    """An exclusive, per-process re-entrant lock on ``directory`` (a context manager).

    ``create=True`` creates a missing directory first (and removes it again on release if nothing but
    the lock was ever put in it). Without ``create`` a missing directory is not locked: there is nothing
    to protect, and the command reports the missing directory itself. ``what`` names the directory in
    messages (``RUN_DIR``).
    """

    def __init__(self, directory: str | os.PathLike, lock_name: str, command: str, *,
                 create: bool = False, what: str = "RUN_DIR"):
        self.directory = Path(directory)
        self.lock_name = lock_name
        self.command = command
        self.create = create
        self.what = what
        self._key: Path | None = None

    def __enter__(self) -> "DirectoryLock":
        created = False
        if not self.directory.exists() and self.create:
            try:
                self.directory.mkdir(parents=True)
                created = True
            except FileExistsError:
                pass
            except OSError as exc:
                raise RunDirError(f"cannot create {self.what} {self.directory}: {exc.strerror or exc}") from None
        if not self.directory.is_dir():
            return self
        key = self.directory.resolve()
        with _GUARD:
            held = _HELD.get(key)
            if held is not None:
                held.count += 1
            else:
                lock_path = self.directory / self.lock_name
                try:
                    fd = self._acquire(lock_path)
                except BaseException:
                    if created:
                        _remove_if_empty(self.directory, self.lock_name)
                    raise
                _HELD[key] = _Held(fd, lock_path, 1, created)
        self._key = key
        return self

    def __exit__(self, *exc_info) -> None:
        if self._key is None:
            return
        with _GUARD:
            held = _HELD[self._key]
            held.count -= 1
            if held.count == 0:
                del _HELD[self._key]
                try:  # unlink while still holding the flock; a waiter that opened the old file retries
                    held.lock_path.unlink()
                except OSError:
                    pass
                os.close(held.fd)
                if held.created_dir:
                    _remove_if_empty(self.directory, self.lock_name)
        self._key = None

    def _acquire(self, lock_path: Path) -> int:
        while True:
            fd = self._open(lock_path)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                holder = _holder(lock_path)
                os.close(fd)
                raise RunDirError(f"{self.what} {self.directory} is in use by {holder}; "
                                  f"wait for it to finish or stop it") from None
            if _same_file(fd, lock_path):
                break
            os.close(fd)  # the previous holder removed the file between our open and flock: try again
        try:
            os.ftruncate(fd, 0)
            os.write(fd, json.dumps({"pid": os.getpid(), "command": self.command}).encode())
        except OSError:
            pass  # a full disk: the lock holds all the same, only the holder's name is unknown
        return fd


    def _open(self, lock_path: Path) -> int:
        """The lock file, opened without following a symbolic link (``O_NOFOLLOW``: a link planted there would
        make the holder's PID overwrite its target) and refused unless it is a plain file with one name (a hard
        link to a file elsewhere is refused the same way). ``O_NONBLOCK``: a FIFO there does not hang."""
        flags = os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW | os.O_NONBLOCK
        try:
            fd = os.open(lock_path, flags, 0o644)
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise RunDirError(self._not_plain(lock_path, "a symbolic link")) from None
            raise RunDirError(f"cannot write to {self.what} {self.directory}: {exc.strerror or exc} "
                              f"(is it read-only?)") from None
        st = os.fstat(fd)
        if not stat.S_ISREG(st.st_mode) or st.st_nlink != 1:
            os.close(fd)
            raise RunDirError(self._not_plain(lock_path, "not a plain file" if not stat.S_ISREG(st.st_mode)
                                              else "a hard link to another file"))
        return fd

    def _not_plain(self, lock_path: Path, what: str) -> str:
        return (f"{self.what} {self.directory}: its lock file {lock_path.name} is {what}; vaediag writes nothing "
                f"outside the folder and follows no link there: remove {lock_path} and try again")


def _same_file(fd: int, path: Path) -> bool:
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return False
    own = os.fstat(fd)
    return (own.st_dev, own.st_ino) == (st.st_dev, st.st_ino)


HOLDER_WAIT_S = 1.0  # the holder writes its name just after taking the lock: wait that long to read it


def _holder(lock_path: Path) -> str:
    """``vaediag train (PID 1234)`` from the lock file (``another vaediag process`` when unreadable). The
    holder writes its name right after its flock succeeds, so an empty file is read again for a moment."""
    deadline = time.monotonic() + HOLDER_WAIT_S
    while True:
        try:
            info = json.loads(lock_path.read_text())
            return f"vaediag {info['command']} (PID {int(info['pid'])})"
        except (OSError, ValueError, TypeError, KeyError):
            if time.monotonic() >= deadline:
                return "another vaediag process"
            time.sleep(0.02)


def _remove_if_empty(directory: Path, lock_name: str) -> None:
    try:
        if not any(p.name != lock_name for p in directory.iterdir()):
            (directory / lock_name).unlink(missing_ok=True)
            directory.rmdir()
    except OSError:
        pass


@contextmanager
def waiting_lock(path: str | os.PathLike) -> Iterator[None]:
    """Hold an exclusive ``fcntl.flock`` on the file ``path`` (created when missing), waiting while another
    process (or thread) holds it. For work that many processes may start at once and one should do, such as
    provisioning a shared data cache: the others wait, then find it done. The kernel releases the lock when its
    holder dies, SIGKILL included; the file stays (removing it would let a waiter lock a file nobody else sees).
    A symlink at ``path`` is not followed (:class:`OSError`)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the flock


def remove_stale_temporaries(directory: str | os.PathLike, folders: list[Path]) -> list[Path]:
    """Remove the temporaries that killed writers left in ``folders`` (``.<file>.<random>.tmp``, the names
    :mod:`vaediag.files.atomic` uses; other files such as a user's ``notes.tmp`` stay); return them.

    Only the lock holder may do this (no live writer's temporary is touched): :class:`RuntimeError`
    when this process does not hold the lock on ``directory``.
    """
    if not Path(directory).is_dir():
        return []
    if not holds(directory):
        raise RuntimeError(f"removing stale temporaries needs the lock on {directory}")
    removed = []
    for folder in folders:
        if folder.is_dir() and not folder.is_symlink():
            for p in folder.iterdir():
                if _TEMPORARY.match(p.name) and p.is_file() and not p.is_symlink():
                    try:
                        p.unlink(missing_ok=True)
                    except OSError:  # a read-only sub-folder: leave it, the writer fails with its own message
                        continue
                    removed.append(p)
    return removed
