"""Text a user wrote (claim texts and ids), made safe for where vaediag writes it: Markdown tables and terminals.

- :func:`md_escape`: literal Markdown text, one table cell. A backslash before every character Markdown could read
  as markup inline (``\\ ` * _ [ ] < > | ~ &``): ``<script>`` and ``<img onerror=...>`` stay text, ``[x](javascript:
  ...)`` is no link (with ``[`` escaped neither ``!`` nor ``(`` can start one), a ``|`` does not split the cell.
- :func:`control_character`: the first character that would act on a terminal or reorder text rather than be shown
  (C0 / C1 controls such as ``ESC ] 0 ; ... BEL``, DEL, the bidirectional overrides): claims files are refused with
  it (:mod:`vaediag.claims.schema`), and :func:`printable` shows any that reach a terminal as ``\\x1b``-style text.
"""

from __future__ import annotations

import re

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|~&])")
# C0 controls but tab and newline, DEL, C1 controls, and the Unicode bidirectional embeddings / overrides / isolates
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def md_escape(value) -> str:
    """``value`` as literal Markdown text: a backslash before every character Markdown could read as markup
    inline, line breaks as spaces (a table row stays one line), control characters shown as ``\\x1b``. Values are
    never written at the start of a line, where ``#``, ``-`` or ``1.`` would matter."""
    text = " ".join(printable(value).splitlines())
    return _MD_SPECIAL.sub(r"\\\1", text)


def control_character(text: str) -> str | None:
    """The first control character of ``text`` as ``U+001B``, or None when it holds none (tab and newline are
    allowed)."""
    found = _CONTROL.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def printable(value) -> str:
    """``str(value)`` with every control character written out (``ESC`` -> ``\\x1b``, U+202E -> ``\\u202e``), so
    that printing it moves no cursor, sets no window title and reorders nothing."""
    return _CONTROL.sub(lambda m: m.group().encode("unicode_escape").decode("ascii"), str(value))
