"""The guide's examples are executed: pytest collects every ``>>>`` example of ``docs/**/*.md`` as a doctest
(``--doctest-glob="*.md"`` in pyproject.toml, with ``ELLIPSIS`` and ``NORMALIZE_WHITESPACE``), one test per page,
run by ``tox -e py`` with the rest of the suite.

Each page's examples run in a fresh empty folder holding a copy of ``examples/`` and ``runs/study``: an evaluated
run with the default study's checkpoints (5, 15, 30, 50, 100), fabricated by ``tests/fake_run.py`` in a fraction of
a second, so that pages about reading results need no training. A page whose examples train or evaluate on the
real MNIST says so with the line ``<!-- doctest: mnist -->``: it is marked ``mnist`` (left out of the fast
selection) and gets MNIST provisioned first (offline, once; see the data guide).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MNIST_PAGE = "<!-- doctest: mnist -->"


def _is_page_doctest(item) -> bool:
    return type(item).__name__ == "DoctestItem" and item.path.suffix == ".md"


def pytest_collection_modifyitems(config, items):
    for item in items:
        if _is_page_doctest(item) and MNIST_PAGE in item.path.read_text(encoding="utf-8"):
            item.add_marker(pytest.mark.mnist)


@pytest.fixture(autouse=True)
def _page_folder(request, tmp_path, monkeypatch):
    """Run a page's examples in ``tmp_path`` with ``examples/`` and a finished ``runs/study`` in it."""
    if not _is_page_doctest(request.node):
        yield
        return
    sys.path.insert(0, str(ROOT / "tests"))
    try:
        from fake_run import make_fake_run
    finally:
        sys.path.remove(str(ROOT / "tests"))
    if request.node.get_closest_marker("mnist"):
        from vaediag.datasets.provision import prepare_dataset

        prepare_dataset("mnist", log=lambda *_: None)
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    make_fake_run(tmp_path / "runs" / "study", epochs=(5, 15, 30, 50, 100))
    monkeypatch.chdir(tmp_path)
    yield
