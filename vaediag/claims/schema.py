"""The claims file: TOML parsed with :mod:`tomllib`, validated field by field into a :class:`ClaimsFile`.

Every problem is a :class:`ClaimsError` (a :class:`~vaediag.errors.ConfigError`) of ONE line naming the file,
the claim (its position 1.. and its id or text) and the field, e.g.
``claims.toml: claim 3 ('4 and 9 are mixed'): field 'digits': 11 is not a class 0-9 or a class name``.
The format itself is documented in :mod:`vaediag.claims` (the package docstring).
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from vaediag import columns as C
from vaediag.errors import ConfigError
from vaediag.judgement.text import control_character
from vaediag.judgement.claim_rules import (BOTTLENECK, DIVERSITY, KINDS, METRIC, MISSING, MIXED_PAIR,  # noqa: F401
                                           MODE_COLLAPSE, OVERFITTING, OVERLAP, OVERREPRESENTED, QUALITY, RARE,
                                           SEPARATED, SETTING_DOCS, SETTINGS, default_settings)

FIRST, LAST = "first", "last"  # an epoch named by its place: the target's first / last checkpoint
SYMBOLIC_EPOCHS = (FIRST, LAST)
SOURCES = {"prior": C.CLASS_PRIOR_SHARE, "grid": C.CLASS_GRID_SHARE, "qgrid": C.CLASS_QGRID_SHARE}
DIRECTIONS = ("improves", "worsens")
OPERATORS = ("<", "<=", ">", ">=")
CONFIG_KEYS = ("model", "latent_dim", "beta", "batch_size", "lr", "train_size", "test_size")
COMMON_FIELDS = ("text", "kind", "id", "config")
# kind -> (required fields, optional fields)
FIELDS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    OVERLAP: (("epoch", "digits"), ()),
    SEPARATED: (("epoch", "digits"), ()),
    MIXED_PAIR: (("epoch", "digits"), ()),
    MISSING: (("epoch", "digits"), ("source",)),
    RARE: (("epoch", "digits"), ("source",)),
    OVERREPRESENTED: (("epoch", "digits"), ("source",)),
    MODE_COLLAPSE: (("epoch",), ("digits",)),
    QUALITY: (("epochs", "direction"), ()),
    DIVERSITY: (("epochs", "direction"), ()),
    OVERFITTING: (("after",), ()),
    BOTTLENECK: ((), ("epoch",)),
    METRIC: (("column", "operator", "value"), ("epoch", "epochs", "digit")),
}

# ============================================================================================ data
class ClaimsError(ConfigError):
    """A claims file (or a claim) is malformed, or names an epoch the target does not have. One line."""


@dataclass(frozen=True)
class Claim:
    """One claim: its ``position`` (1..) in the file, ``id`` ("" when none), free ``text``, ``kind`` and its
    validated parameters (``params``: field -> value); ``config`` selects sweep configurations."""

    position: int
    text: str
    kind: str
    id: str = ""
    params: dict = field(default_factory=dict)
    config: dict = field(default_factory=dict)

    def get(self, name: str, default=None):
        return self.params.get(name, default)

    @property
    def label(self) -> str:
        """``claim 3 ('4 and 9 are mixed')``: how errors name it."""
        return claim_label(self.position, self.id or self.text)

    def epochs(self) -> list[int | str]:
        """The checkpoint epochs the claim needs (the ``after`` of overfitting is a history epoch, not one);
        ``"first"`` / ``"last"`` until :meth:`with_epochs` resolves them."""
        if "epochs" in self.params:
            return list(self.params["epochs"])
        return [self.params["epoch"]] if self.params.get("epoch") is not None else []

    @property
    def epoch_field(self) -> str:
        return "epochs" if "epochs" in self.params else "epoch"

    @property
    def symbolic(self) -> bool:
        """True when the claim names an epoch by its place (``"first"`` / ``"last"``)."""
        return any(isinstance(e, str) for e in self.epochs())

    def with_epochs(self, available) -> "Claim":
        """The claim with ``"first"`` / ``"last"`` replaced by the first / last of the ``available`` checkpoint
        epochs; :class:`ValueError` (the message) when there are none, or the epochs it then names are not
        distinct and ascending."""
        if not self.symbolic:
            return self
        have = sorted(set(int(e) for e in available))
        if not have:
            raise ValueError("names an epoch by its place (first / last), but there are no checkpoints")
        place = {FIRST: have[0], LAST: have[-1]}
        epochs = [place.get(e, e) if isinstance(e, str) else e for e in self.epochs()]
        if len(epochs) > 1 and epochs != sorted(set(epochs)):
            given = [str(e) for e in self.epochs()]
            raise ValueError(f"{given} are the checkpoints {epochs}: the epochs must be distinct and ascending "
                             f"(checkpoints: {', '.join(map(str, have))})")
        key = self.epoch_field
        return replace(self, params={**self.params, key: tuple(epochs) if key == "epochs" else epochs[0]})


@dataclass(frozen=True)
class ClaimsFile:
    """A parsed claims file: where it came from (``name`` for messages), the thresholds in force and the claims."""

    name: str
    settings: dict
    claims: tuple[Claim, ...]


def claim_label(position: int, words: str) -> str:
    words = " ".join(str(words).split())
    words = words if len(words) <= 50 else words[:49] + "…"
    return f"claim {position} ({words!r})" if words else f"claim {position}"


# ============================================================================================ parsing
def load_claims(path) -> ClaimsFile:
    """Read and validate a claims file (TOML). :class:`ClaimsError` (one line) for an unreadable file, a TOML
    syntax error (with its line), an unknown kind or field, a missing field or a bad value."""
    p = Path(path)
    name = str(path)
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ClaimsError(f"{name}: cannot read the claims file ({type(exc).__name__}: "
                          f"{getattr(exc, 'strerror', None) or exc})") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ClaimsError(f"{name}: TOML syntax error: {' '.join(str(exc).split())}") from None
    return parse_claims(data, name)


def parse_claims(data: Any, name: str = "claims") -> ClaimsFile:
    """Validate claims given as data: the TOML document as a dict (``{"settings": {...}, "claim": [...]}``) or
    a list of claim dicts."""
    if isinstance(data, (list, tuple)):
        data = {"claim": list(data)}
    if not isinstance(data, dict):
        raise ClaimsError(f"{name}: expected a table with [[claim]] entries, got {type(data).__name__}")
    unknown = sorted(set(data) - {"settings", "claim"})
    if unknown:
        raise ClaimsError(f"{name}: unknown top-level key {unknown[0]!r}; a claims file holds [settings] and "
                          f"[[claim]] tables")
    settings = _settings(data.get("settings", {}), name)
    raw = data.get("claim")
    if raw is None or (isinstance(raw, list) and not raw):
        raise ClaimsError(f"{name}: no claims; add [[claim]] tables with text and kind")
    if not isinstance(raw, list):
        raise ClaimsError(f"{name}: 'claim' must be an array of tables ([[claim]]), got {type(raw).__name__}")
    claims = tuple(_claim(entry, i, name) for i, entry in enumerate(raw, 1))
    return ClaimsFile(name, settings, claims)


def _settings(raw: Any, name: str) -> dict:
    if not isinstance(raw, dict):
        raise ClaimsError(f"{name}: [settings] must be a table, got {type(raw).__name__}")
    out = default_settings()
    for key, value in raw.items():
        if key not in SETTINGS:
            raise ClaimsError(f"{name}: [settings]: unknown setting {key!r}; known: {', '.join(SETTINGS)}")
        _, low, high = SETTINGS[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ClaimsError(f"{name}: [settings]: {key} must be a number, got {value!r}")
        if not low <= value <= high:
            raise ClaimsError(f"{name}: [settings]: {key} must lie in [{low:g}, {high:g}], got {value!r}")
        out[key] = float(value)
    return out


class _Fields:
    """Field readers of one claim that raise the one-line error naming file, claim and field."""

    def __init__(self, entry: dict, position: int, name: str):
        self.entry, self.position, self.name = entry, position, name
        self.spellings: dict[str, str] = {}  # schema field -> the name the file used ("digits" -> "classes")
        words = entry.get("id") or entry.get("text") or ""
        self.label = claim_label(position, words if isinstance(words, str) else "")

    def spelled(self, field_name: str) -> str:
        return self.spellings.get(field_name, field_name)

    def error(self, field_name: str | None, message: str) -> ClaimsError:
        where = f"field {field_name!r}: " if field_name else ""
        return ClaimsError(f"{self.name}: {self.label}: {where}{message}")

    def text(self, key: str, required: bool) -> str:
        value = self.entry.get(key)
        if value is None:
            if required:
                raise self.error(key, "missing (required)")
            return ""
        if not isinstance(value, str) or (required and not value.strip()):
            raise self.error(key, f"must be a non-empty string, got {value!r}")
        control = control_character(value)
        if control:  # it would act on the terminal that prints the check, and on report readers
            raise self.error(key, f"holds the control character {control}; write plain text")
        return value.strip()

    def integer(self, key: str, value=None, low: int = 0) -> int:
        value = self.entry.get(key) if value is None else value
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"must be an integer, got {value!r}")
        if value < low:
            raise self.error(key, f"must be >= {low}, got {value}")
        return value

    def digit(self, key: str, value) -> int | str:
        """A class: an index 0-9, or a name (a non-empty string, resolved against the dataset of the run the
        claim is checked on: :func:`resolve_classes`)."""
        if isinstance(value, str) and value.strip():
            return int(value) if value.strip().isdigit() and int(value) < C.N_CLASSES else value.strip()
        if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < C.N_CLASSES:
            raise self.error(self.spelled(key), f"{value!r} is not a class 0-9 or a class name")
        return value

    def digits(self, key: str, exactly: int | None = None) -> tuple[int | str, ...]:
        value = self.entry.get(key)
        items = [value] if isinstance(value, (int, str)) and not isinstance(value, bool) else value
        if not isinstance(items, list) or not items:
            raise self.error(self.spelled(key), f"must be a class or a non-empty list of classes, got {value!r}")
        digits = tuple(self.digit(key, v) for v in items)
        folded = [d.casefold() if isinstance(d, str) else d for d in digits]
        if len(set(folded)) != len(folded):
            raise self.error(self.spelled(key), f"names a class twice: {list(digits)}")
        if exactly is not None and len(digits) != exactly:
            raise self.error(self.spelled(key), f"must name exactly {exactly} classes, got {list(digits)}")
        return digits

    def choice(self, key: str, choices, default=None) -> str:
        value = self.entry.get(key, default)
        if value not in choices:
            raise self.error(key, f"must be one of {', '.join(map(repr, choices))}, got {value!r}")
        return value

    def epoch(self, key: str, value=None) -> int | str:
        """A checkpoint epoch: an integer >= 1, or ``"first"`` / ``"last"`` (resolved against the target)."""
        value = self.entry.get(key) if value is None else value
        if isinstance(value, str):
            if value.strip().lower() in SYMBOLIC_EPOCHS:
                return value.strip().lower()
            raise self.error(key, f"must be an integer >= 1, \"first\" or \"last\", got {value!r}")
        return self.integer(key, value, low=1)

    def epochs(self, key: str, exactly: int | None = None) -> tuple[int | str, ...]:
        value = self.entry.get(key)
        if not isinstance(value, list) or not value:
            raise self.error(key, f"must be a list of epochs, got {value!r}")
        epochs = tuple(self.epoch(key, v) for v in value)
        if exactly is not None and len(epochs) != exactly:
            raise self.error(key, f"must name exactly {exactly} epochs (from, to), got {list(epochs)}")
        numbers = [e for e in epochs if isinstance(e, int)]
        misplaced = any(e == FIRST for e in epochs[1:]) or any(e == LAST for e in epochs[:-1])
        if numbers != sorted(set(numbers)) or misplaced:
            raise self.error(key, f"epochs must be distinct and ascending (\"first\" first, \"last\" last), "
                                  f"got {list(epochs)}")
        return epochs


def _claim(entry: Any, position: int, name: str) -> Claim:
    if not isinstance(entry, dict):
        raise ClaimsError(f"{name}: claim {position}: must be a table ([[claim]]), got {type(entry).__name__}")
    f = _Fields(entry, position, name)
    text = f.text("text", required=True)
    claim_id = f.text("id", required=False)
    if "kind" not in entry:
        raise f.error("kind", f"missing (required); kinds: {', '.join(KINDS)}")
    kind = entry["kind"]
    if kind not in KINDS:
        raise f.error("kind", f"unknown kind {kind!r}; kinds: {', '.join(KINDS)}")
    entry = _class_aliases(f, entry, kind)
    required, optional = FIELDS[kind]
    allowed = set(COMMON_FIELDS) | set(required) | set(optional)
    for key in entry:
        if key not in allowed:
            raise f.error(key, f"unknown field for kind {kind!r}; its fields: "
                               f"{', '.join(required + optional + ('id', 'config'))}")
    for key in required:
        if key not in entry:
            raise f.error(key, f"missing (required for kind {kind!r})")
    params: dict = {}
    if "epoch" in entry:
        params["epoch"] = f.epoch("epoch")
    if "epochs" in entry:
        params["epochs"] = f.epochs("epochs", exactly=2 if kind in (QUALITY, DIVERSITY) else None)
    if "digits" in entry:
        params["digits"] = f.digits("digits", exactly=2 if kind == MIXED_PAIR else None)
    if kind in (MISSING, RARE, OVERREPRESENTED):
        params["source"] = f.choice("source", tuple(SOURCES), default="prior")
    if kind in (QUALITY, DIVERSITY):
        params["direction"] = f.choice("direction", DIRECTIONS)
    if kind == OVERFITTING:
        params["after"] = f.integer("after", low=1)
    if kind == METRIC:
        params.update(_metric_params(f, entry))
    if f.spellings:
        params["class_fields"] = dict(f.spellings)
    return Claim(position, text, kind, claim_id, params, _config(f, entry.get("config")))


CLASS_ALIASES = {"classes": "digits", "class": "digit"}  # the general spelling -> MNIST's (both accepted)


def _class_aliases(f: "_Fields", entry: dict, kind: str) -> dict:
    """``entry`` with ``classes`` / ``class`` read as ``digits`` / ``digit`` (the field names the schema keeps);
    ``f`` remembers the spelling the file used, for messages (``params["class_fields"]``). Both spellings at
    once: one-line error."""
    allowed = set(FIELDS[kind][0]) | set(FIELDS[kind][1])
    out = dict(entry)
    for alias, field_name in CLASS_ALIASES.items():
        if alias in out and field_name in allowed:
            if field_name in out:
                raise f.error(alias, f"give either {alias!r} or {field_name!r}, not both")
            out[field_name] = out.pop(alias)
            f.spellings[field_name] = alias
    f.entry = out
    return out


def resolve_classes(claim: Claim, classes) -> Claim:
    """``claim`` with the classes it names by name resolved to labels 0-9 in ``classes`` (a
    :class:`vaediag.datasets.classes.ClassNames`); :class:`ValueError` ``(field, message)`` for a name that is not one of
    them (the caller names the file and the claim)."""
    params = dict(claim.params)
    spell = claim.params.get("class_fields", {})
    for field_name in ("digits", "digit"):
        if field_name not in params:
            continue
        values = params[field_name] if field_name == "digits" else (params[field_name],)
        try:
            resolved = tuple(classes.index(v) for v in values)
        except ValueError as exc:
            raise ValueError(spell.get(field_name, field_name), str(exc)) from None
        if len(set(resolved)) != len(resolved):
            raise ValueError(spell.get(field_name, field_name), f"names a class twice: {list(values)}")
        params[field_name] = resolved if field_name == "digits" else resolved[0]
    return replace(claim, params=params)


def _metric_params(f: _Fields, entry: dict) -> dict:
    column = entry["column"]
    if not isinstance(column, str) or not column.strip():
        raise f.error("column", f"must be a column name (metrics.csv, or per_class.csv with 'class'), "
                                f"got {column!r}")
    if not C.column_doc(column.strip()):  # checked here, before a study trains: every table column is documented
        raise f.error("column", f"unknown column {column.strip()!r}; `vaediag columns` lists them")
    if ("epoch" in entry) == ("epochs" in entry):
        raise f.error("epoch", "give either 'epoch' or 'epochs' (not both, not neither)")
    value = entry["value"]
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise f.error("value", f"must be a finite number, got {value!r}")
    out = {"column": column.strip(), "operator": f.choice("operator", OPERATORS), "value": float(value)}
    if "digit" in entry:
        out["digit"] = f.digit("digit", entry["digit"])
    return out


def _config(f: _Fields, raw: Any) -> dict:
    if raw is None:
        return {}
    if not isinstance(raw, dict) or not raw:
        raise f.error("config", f"must be a table of configuration keys, e.g. {{ latent_dim = 2 }}, got {raw!r}")
    for key, value in raw.items():
        if key not in CONFIG_KEYS:
            raise f.error("config", f"unknown configuration key {key!r}; keys: {', '.join(CONFIG_KEYS)}")
        if isinstance(value, (dict, list)) or value is None:
            raise f.error("config", f"{key} must be a single value, got {value!r}")
    return dict(raw)
