"""The check's table as text: ``table`` (one block per row, wrapped to the terminal), ``csv``, ``json``
(evidence as a list of cells) and ``md`` (a Markdown table)."""

from __future__ import annotations

import json
import math
import shutil
import textwrap

import pandas as pd

from vaediag.errors import ConfigError
from vaediag.judgement.text import md_escape, printable

FORMATS = ("table", "csv", "json", "md")
TEXT_COLUMNS = ("claim", "id", "text", "kind", "epochs", "verdict", "measured", "rule", "explanation", "n")


def _clean(value):
    """JSON-ready: NaN -> None, numpy scalars -> Python, lists and dicts recursively."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(df: pd.DataFrame) -> list[dict]:
    return [_clean(row) for row in df.to_dict(orient="records")]


def format_claims(df: pd.DataFrame, fmt: str = "table", width: int | None = None) -> str:
    """``df`` (:func:`vaediag.claims.check_claims`) as text in ``fmt``; ends with a newline."""
    if fmt not in FORMATS:
        raise ConfigError(f"unknown format {fmt!r}; choose from {', '.join(FORMATS)}")
    if fmt == "json":
        return json.dumps(records(df), indent=2, ensure_ascii=False) + "\n"
    if fmt == "csv":
        out = df.copy()
        out["evidence"] = [json.dumps(_clean(e), ensure_ascii=False) for e in df["evidence"]]
        return out.to_csv(index=False)
    if fmt == "md":
        header = ["claim", "text", "kind", "epochs", "verdict", "measured", "rule", "explanation", "n"]
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
        for row in df.to_dict(orient="records"):
            label = md_escape(row["claim"]) + (f" ({md_escape(row['id'])})" if row["id"] else "")
            cells = [label] + [md_escape(row[c]) for c in header[1:]]
            lines.append("| " + " | ".join(cells) + " |")
        return "\n".join(lines) + "\n"
    width = width or shutil.get_terminal_size((100, 24)).columns
    width = max(width, 40)
    blocks = []
    for row in df.to_dict(orient="records"):  # printed on a terminal: control characters written out
        row = {k: (printable(v) if isinstance(v, str) else v) for k, v in row.items()}
        head = f"[{row['claim']}{' ' + row['id'] if row['id'] else ''}] {row['verdict'].upper()}  {row['kind']}"
        head += f" (epoch {row['epochs']})" if row["epochs"] else ""
        lines = textwrap.wrap(head, width) + textwrap.wrap(f"“{row['text']}”", width, initial_indent="  ",
                                                           subsequent_indent="  ")
        for label, key in (("measured", "measured"), ("rule", "rule"), ("why", "explanation")):
            if row[key]:
                lines += textwrap.wrap(f"{label}: {row[key]}", width, initial_indent="  ", subsequent_indent="    ")
        blocks.append("\n".join(lines))
    counts = df["verdict"].value_counts()
    summary = ", ".join(f"{counts.get(v, 0)} {v}" for v in ("supported", "refuted", "inconclusive"))
    return "\n\n".join(blocks) + f"\n\n{len(df)} checks: {summary}\n"
