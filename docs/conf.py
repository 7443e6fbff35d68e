"""Sphinx configuration of the vaediag documentation (``tox -e docs``).

The guide pages are MyST Markdown (``guide/*.md``); the references are generated at build time from the code:
the CLI from click (sphinx-click), the API from docstrings (autodoc + autosummary, one page per module), the
column reference and the rules tables from :mod:`vaediag.columns` and the rules (the ``vaediag-table``
directive of ``_ext/vaediag_docs.py``). Built with warnings as errors.
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "_ext"))
sys.path.insert(0, str(HERE.parent))  # the vaediag of this checkout, also when it is not installed

import vaediag  # noqa: E402

project = "vaediag"
author = "the vaediag authors"
copyright = "the vaediag authors"
release = version = vaediag.__version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.viewcode",
    "sphinx_click",
    "vaediag_docs",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_templates", "Thumbs.db", ".DS_Store"]
templates_path = ["_templates"]

# MyST: GitHub-style anchors for headings down to ###, so that [text](page.md#a-heading) links resolve
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence", "deflist"]

# The API reference: every module of the package gets its page (autosummary, recursive, at build time into
# reference/api/generated/, which is not kept in git); members in source order; type hints in the description.
autosummary_generate = True
autosummary_imported_members = False
autodoc_default_options = {"members": True, "member-order": "bysource", "show-inheritance": True}
autodoc_typehints = "description"
autodoc_typehints_format = "short"
autodoc_preserve_defaults = True
add_module_names = False
# Docstrings write code in single backquotes the way Markdown does: show it as code (not italics)
default_role = "literal"

html_theme = "furo"
html_title = f"vaediag {release}"
html_static_path = ["_static"]
html_show_sourcelink = False
