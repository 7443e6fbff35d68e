"""A Sphinx extension: the tables of the documentation that are generated from the code at build time.

``vaediag-table NAME`` (in a MyST page: a fenced block ```` ```{vaediag-table} rules ```` with no body) inserts
the Markdown that :data:`TABLES` ``[NAME]`` returns, parsed as the page's own Markdown:

- ``columns``: what every column of the result tables means (``vaediag columns``; from ``COLUMN_DOCS`` /
  ``COLUMN_RANGES`` in :mod:`vaediag.columns`);
- ``rules``: the report's rules table (:func:`vaediag.report.rules_markdown`, the one a report prints);
- ``claim-rules``: how each claim kind is decided (:func:`vaediag.report.claim_rules_markdown`);
- ``face``: the names of the package face (``vaediag.X``) and the module each is defined in;
- ``moved``: the module paths of the flat layout and their new homes (``vaediag.MOVED_MODULES``).

So the published tables are the code's by construction; ``tests/test_docs.py`` checks that the guide pages use
the directive rather than a hand copy.
"""

from __future__ import annotations

import inspect
import re
from typing import Callable

from docutils import nodes
from docutils.statemachine import StringList
from sphinx.util.docutils import SphinxDirective


RST_ROLE = re.compile(r":(?:py:)?(class|func|meth|mod|data|attr|obj|exc):`([^`]+)`")  # docstrings -> MyST roles


def columns() -> str:
    from vaediag.report.render import columns_markdown

    return columns_markdown()


def rules() -> str:
    from vaediag.report import rules_markdown

    return rules_markdown()


def claim_rules() -> str:
    from vaediag.report import claim_rules_markdown

    return claim_rules_markdown()


def face() -> str:
    """One row per public name of ``vaediag`` (``vaediag._LAZY``): the name, where it is defined, its summary."""
    import importlib

    import vaediag

    rows = ["| name | defined in | what it is |", "|---|---|---|"]
    for name, (module, attr) in vaediag._LAZY.items():
        obj = getattr(importlib.import_module(module), attr)
        documented = inspect.isclass(obj) or inspect.isfunction(obj)
        target = f"{obj.__module__}.{obj.__qualname__}" if documented else f"{module}.{attr}"  # where autodoc has it
        summary = (inspect.getdoc(obj) or "").strip().split("\n\n", 1)[0] if documented else ""
        summary = RST_ROLE.sub(lambda m: f"{{py:{m.group(1)}}}`{m.group(2)}`", " ".join(summary.split()))
        if not summary:
            summary = {"DATASETS": "the names of the registered datasets, in registry order"}.get(name, "")
        rows.append(f"| `vaediag.{name}` | {{py:obj}}`{target}` | {summary.replace('|', chr(92) + '|')} |")
    return "\n".join(rows) + "\n"


def moved() -> str:
    """The module paths of the flat layout and their new homes (``vaediag.MOVED_MODULES``)."""
    import vaediag

    rows = ["| old path (imports with a DeprecationWarning) | new path |", "|---|---|"]
    rows += [f"| `{old}` | {{py:mod}}`{new}` |" for old, new in vaediag.MOVED_MODULES.items()]
    return "\n".join(rows) + "\n"


TABLES: dict[str, Callable[[], str]] = {
    "columns": columns,
    "rules": rules,
    "claim-rules": claim_rules,
    "face": face,
    "moved": moved,
}


class TableDirective(SphinxDirective):
    """``vaediag-table NAME``: the generated Markdown of :data:`TABLES` ``[NAME]``."""

    required_arguments = 1
    has_content = False

    def run(self) -> list[nodes.Node]:
        name = self.arguments[0]
        if name not in TABLES:
            raise self.error(f"vaediag-table: unknown table {name!r}; known: {', '.join(TABLES)}")
        text = TABLES[name]()
        container = nodes.container(classes=[f"vaediag-{name}"])
        self.state.nested_parse(StringList(text.splitlines(), source=f"<vaediag-table {name}>"),
                                self.content_offset, container)
        return container.children


def setup(app):
    app.add_directive("vaediag-table", TableDirective)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True}
