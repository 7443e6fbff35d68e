"""The documentation cannot rot quietly: the README front door stays short and every link in it resolves; the
generated references are the code's; every guide page is in the site's table of contents; the files and modules the
guide names exist; CI runs exactly the README's test command. (The site itself is built, warnings as errors, by
``tox -e docs``; the guide's ``>>>`` examples run as doctests with the suite, see docs/conftest.py.)"""

from __future__ import annotations

import importlib
import re
import shlex
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
MAX_README_LINES = 200
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def _links(text: str) -> list[str]:
    """The targets of the Markdown links and images of ``text`` (code spans and blocks left out)."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return LINK.findall(text)


def _anchors(text: str) -> set[str]:
    """GitHub's (and MyST's) anchors of the headings of a Markdown text."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    out = set()
    for heading in re.findall(r"^#{1,6} (.+)$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


def test_readme_is_a_short_front_door():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= MAX_README_LINES, f"README.md has {len(lines)} lines; the manual belongs in docs/guide/"


def test_every_readme_link_resolves_to_a_file_in_the_repo():
    text = README.read_text(encoding="utf-8")
    links = _links(text)
    assert links, "the README links into the documentation"
    for link in links:
        assert not re.match(r"[a-z]+:", link), f"{link}: the README links to files of the repository only"
        path, _, anchor = link.partition("#")
        if not path:  # an anchor of the README itself
            assert anchor in _anchors(text), link
            continue
        target = (ROOT / path).resolve()
        assert target.is_file() and target.is_relative_to(ROOT), f"README link {link!r}: no such file"
        if anchor and target.suffix == ".md":
            assert anchor in _anchors(target.read_text(encoding="utf-8")), f"README link {link!r}: no such heading"


def test_readme_shows_a_picture_of_a_report_rendered_by_the_named_script():
    text = README.read_text(encoding="utf-8")
    images = [link for link in _links(text) if link.endswith(".png")]
    assert images == ["docs/_static/report.png"]
    png = (ROOT / images[0]).read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n") and len(png) < 400_000  # small enough for the repository
    assert "docs/report_picture.py" in (DOCS / "guide" / "testing.md").read_text(encoding="utf-8") + text


def _readme_test_command() -> str:
    text = README.read_text(encoding="utf-8")
    commands = re.findall(r"^(tox -e \S+)$", text, flags=re.M)
    assert len(commands) == 1, commands
    return commands[0]


def test_ci_runs_exactly_the_readme_test_command():
    script = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    last = [line for line in script.splitlines() if line.strip() and not line.lstrip().startswith("#")][-1]
    assert last.strip() == _readme_test_command()
    assert {"py", "docs"} <= set(shlex.split(last)[2].split(","))  # the suite and the site


def test_ci_fits_a_small_disk_one_environment_and_no_kept_tmp_folders():
    """A CI machine's disk may be small: no second tox environment with its own torch (~6.5 GB), no kept tmp_path
    of a passing test (a whole run writes ~6.6 GB there). The docs environment builds inside the py one, and a
    passing test's folder is removed when it ends (the measured peaks are in docs/guide/testing.md)."""
    import configparser
    import tomllib

    tox = configparser.ConfigParser(interpolation=None)
    tox.read(ROOT / "tox.ini", encoding="utf-8")
    docs = tox["testenv:docs"]
    assert docs.get("skip_install") == "true" and "deps" not in docs and "extras" not in docs
    commands = docs["commands"].strip().splitlines()
    assert commands[0].startswith("tox run -e py --notest")  # creates or updates py (tox exec alone would not)
    assert commands[1].startswith("tox exec -e py ") and "sphinx-build -W" in commands[1]
    assert {"docs"} <= set(tox["testenv"]["extras"].split())  # the py environment has what Sphinx needs
    pytest_ini = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["pytest"]["ini_options"]
    assert pytest_ini["tmp_path_retention_policy"] == "failed"
    assert pytest_ini["tmp_path_retention_count"] <= 1


def test_every_guide_page_is_in_the_sites_table_of_contents():
    index = (DOCS / "index.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^(guide/[\w-]+|reference/[\w-]+)$", index, flags=re.M))
    pages = {str(p.relative_to(DOCS).with_suffix("")) for p in [*DOCS.glob("guide/*.md"), *DOCS.glob("reference/*.md")]}
    assert pages - listed == set(), "add these pages to a toctree of docs/index.md"
    assert listed - pages == set(), "the toctree names pages that do not exist"


# --------------------------------------------------------------------------- the generated tables are the code's
@pytest.fixture(scope="module")
def docs_extension():
    pytest.importorskip("sphinx", reason="the docs extra (pip install -e '.[docs]') builds the site")
    sys.path.insert(0, str(DOCS / "_ext"))
    try:
        yield importlib.import_module("vaediag_docs")
    finally:
        sys.path.remove(str(DOCS / "_ext"))


def test_the_published_tables_are_generated_from_the_code(docs_extension):
    from vaediag.report import claim_rules_markdown, rules_markdown
    from vaediag.report.render import columns_markdown

    tables = docs_extension.TABLES
    assert tables["rules"]() == rules_markdown()
    assert tables["claim-rules"]() == claim_rules_markdown()
    assert tables["columns"]() == columns_markdown()
    pages = {name: (DOCS / page).read_text(encoding="utf-8") for name, page in
             [("rules", "guide/report.md"), ("claim-rules", "guide/claims.md"), ("columns", "reference/columns.md"),
              ("face", "reference/api.md"), ("moved", "guide/architecture.md")]}
    for name, text in pages.items():
        assert f"```{{vaediag-table}} {name}\n```" in text, name
    every_page = "".join(p.read_text(encoding="utf-8") for p in DOCS.rglob("*.md"))
    assert ":start -->" not in every_page  # no hand-copied table between markers


def test_every_name_of_the_package_face_resolves_and_is_listed(docs_extension):
    import vaediag

    for name in vaediag.__all__:
        assert getattr(vaediag, name) is not None, name
    face = docs_extension.TABLES["face"]()
    assert all(f"| `vaediag.{name}` |" in face for name in vaediag._LAZY)
    moved = docs_extension.TABLES["moved"]()
    assert all(f"| `{old}` |" in moved for old in vaediag.MOVED_MODULES)


# ------------------------------------------------------------------------ what the guide names exists in the code
PATH = re.compile(r"`(vaediag/[\w/.-]+)`")
DOTTED = re.compile(r"`(vaediag(?:\.\w+)+)(?:\(\))?`")


@pytest.mark.parametrize("page", sorted(p.name for p in (DOCS / "guide").glob("*.md")))
def test_the_files_and_modules_a_guide_page_names_exist(page):
    text = (DOCS / "guide" / page).read_text(encoding="utf-8")
    for path in PATH.findall(text):
        assert (ROOT / path.rstrip("/")).exists(), f"{page} names {path}, which does not exist"
    for dotted in (d for d in DOTTED.findall(text) if not re.search(r"\.[A-Z]$", d)):  # vaediag.X: a placeholder
        assert _resolves(dotted), f"{page} names {dotted}, which does not import"


def _resolves(dotted: str) -> bool:
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for attr in parts[cut:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return False
        return True
    return False


def test_every_test_listed_as_slow_exists():
    """tests/slow_tests.txt names test functions; a renamed or removed one would silently leave the list."""
    lines = (ROOT / "tests" / "slow_tests.txt").read_text(encoding="utf-8").splitlines()
    names = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    assert len(names) == len(set(names))
    for name in names:
        path, _, function = name.partition("::")
        assert re.search(rf"^def {re.escape(function)}\(", (ROOT / path).read_text(encoding="utf-8"), re.M), name
