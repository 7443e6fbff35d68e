"""Provisioning a shared data cache from several processes at once (the pytest-xdist workers of the suite, several
users of one cache): they queue on a lock file in the data root, one fetches the files, the others wait and find
them verified; nothing is fetched twice and no process sees a half-provisioned dataset."""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import time
from pathlib import Path

import pytest

from vaediag.datasets import provision, registry
from vaediag.datasets.install import install_verified
from vaediag.files.lock import waiting_lock

NAMES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
BLOBS = {name: f"toy {name}".encode() * 1000 for name in NAMES}
FETCH_S = 0.5  # how long the toy route takes: long enough for the other processes to arrive meanwhile


def _toy_spec() -> registry.DatasetSpec:
    mnist = registry.SPECS["mnist"]
    return registry.DatasetSpec("toy", "Toy", "Toy", {n: hashlib.sha256(b).hexdigest() for n, b in BLOBS.items()},
                                ("the toy route",), "toy", mnist.classes, mnist.classifier)


def _toy_fetch(root: Path, names: list[str], log) -> str:
    """The toy offline route: notes who fetched (one file per call), takes FETCH_S, installs verified files."""
    (root / f"fetched-by-{os.getpid()}").write_text(",".join(names))
    time.sleep(FETCH_S)
    install_verified({n: BLOBS[n] for n in names}, _toy_spec().raw_dir(root), _toy_spec())
    return "the toy route"


@pytest.fixture
def toy_dataset(monkeypatch):
    monkeypatch.setitem(registry.SPECS, "toy", _toy_spec())
    monkeypatch.setitem(provision.ROUTES, "toy", provision.Route("the toy route", _toy_fetch))
    monkeypatch.setattr(provision, "_torchvision_download", lambda *args: None)  # no network in this test


def _provision_and_check(root: str, results) -> None:
    """In a forked process: provision, then report whether every file was there and verified right after."""
    try:
        provision.prepare_dataset("toy", root, log=lambda *_: None)
        raw = _toy_spec().raw_dir(root)
        ok = all((raw / n).read_bytes() == BLOBS[n] for n in NAMES)
        results.put((os.getpid(), "ok" if ok else "incomplete"))
    except Exception as exc:  # reported to the parent, which fails the test with it
        results.put((os.getpid(), repr(exc)))


def test_concurrent_provisionings_fetch_once_and_all_find_the_files(tmp_path, toy_dataset):
    ctx = multiprocessing.get_context("fork")  # the children inherit the toy dataset patched in above
    results = ctx.Queue()
    procs = [ctx.Process(target=_provision_and_check, args=(str(tmp_path), results)) for _ in range(4)]
    for p in procs:
        p.start()
    outcomes = [results.get(timeout=60) for _ in procs]
    for p in procs:
        p.join(timeout=30)
    assert [o for _, o in outcomes] == ["ok"] * 4, outcomes
    fetchers = list(tmp_path.glob("fetched-by-*"))
    assert len(fetchers) == 1, fetchers  # without the lock every process would fetch
    assert (tmp_path / provision.provision_lock_name(_toy_spec())).is_file()
    assert not list(tmp_path.rglob("*.tmp"))


def _hold_and_fetch(root: str, held, release) -> None:
    """In a forked process: take the provisioning lock, say so, wait for ``release``, then fetch the files."""
    with waiting_lock(Path(root) / provision.provision_lock_name(_toy_spec())):
        held.set()
        release.wait(60)
        _toy_fetch(Path(root), list(NAMES), print)


def test_provisioning_waits_for_a_holder_then_finds_the_files(tmp_path, toy_dataset):
    """A provisioning that starts while another process holds the lock waits for it, then fetches nothing.
    (The lock is held in a child: a process forked while its parent holds a flock shares that lock.)"""
    ctx = multiprocessing.get_context("fork")
    held, release, results = ctx.Event(), ctx.Event(), ctx.Queue()
    holder = ctx.Process(target=_hold_and_fetch, args=(str(tmp_path), held, release))
    holder.start()
    assert held.wait(30)
    waiter = ctx.Process(target=_provision_and_check, args=(str(tmp_path), results))
    waiter.start()
    time.sleep(0.5)
    assert waiter.is_alive() and results.empty()  # queued behind the lock
    release.set()
    assert results.get(timeout=60)[1] == "ok"
    for p in (holder, waiter):
        p.join(timeout=30)
    assert [p.name for p in tmp_path.glob("fetched-by-*")] == [f"fetched-by-{holder.pid}"]  # the holder's only


def test_a_killed_holder_releases_the_lock(tmp_path):
    lock = tmp_path / "x.lock"
    ctx = multiprocessing.get_context("fork")
    held = ctx.Event()

    def hold():
        with waiting_lock(lock):
            held.set()
            time.sleep(60)

    holder = ctx.Process(target=hold)
    holder.start()
    assert held.wait(30)
    holder.kill()
    holder.join()
    start = time.monotonic()
    with waiting_lock(lock):
        pass
    assert time.monotonic() - start < 5


def test_the_lock_follows_no_symlink(tmp_path):
    target = tmp_path / "elsewhere"
    (tmp_path / "x.lock").symlink_to(target)
    with pytest.raises(OSError):
        with waiting_lock(tmp_path / "x.lock"):
            pass
    assert not target.exists()
