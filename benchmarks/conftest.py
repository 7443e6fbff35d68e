"""Benchmarks share one MNIST root and print their comparisons at the end of the session."""

from __future__ import annotations

import os

import pytest

COMPARISONS: list[str] = []


@pytest.fixture(scope="session")
def mnist_root():
    from vaediag.datasets.registry import default_root
    from vaediag.datasets.provision import prepare_mnist

    return prepare_mnist(default_root(), log=lambda *_: None)


def bench_size(default: int | None = None) -> int | None:
    """Training digits used by the benchmarks: all 60k unless $VAEDIAG_BENCH_TRAIN_SIZE says otherwise."""
    value = os.environ.get("VAEDIAG_BENCH_TRAIN_SIZE")
    return int(value) if value else default


def pytest_terminal_summary(terminalreporter):
    if COMPARISONS:
        terminalreporter.section("vaediag comparisons")
        for line in COMPARISONS:
            terminalreporter.write_line(line)
