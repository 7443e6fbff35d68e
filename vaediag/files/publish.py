"""Publishing a set of files as one (the evaluation results), so that no reader takes a mixed set for one.

Protocol (:func:`publish`):

1. every file of the set is written to a temporary file next to its target (``.<name>.<random>.tmp``,
   fsynced) and hashed (SHA-256); a failure here removes the temporaries and changes nothing;
2. the temporaries are renamed onto their targets, one after the other;
3. the manifest (the set's id and each file's SHA-256) is written LAST, itself atomically.

A reader (:func:`check`) accepts the files only when they match the manifest. A kill between two renames
of step 2, or before step 3, leaves files of the new set next to files of the old one with the old
manifest: they no longer match, and the reader refuses them (the writer simply publishes again). A
file edited by hand is refused the same way.
"""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from vaediag.files import atomic
from vaediag.errors import RunDirError, first_line

MANIFEST_FORMAT = "vaediag-manifest-v1"


@dataclass(frozen=True)
class Manifest:
    """A published set: its id and ``files``: path relative to the set's root folder -> SHA-256."""

    set_id: str
    files: dict[str, str]

    def lists(self, root: Path, path: Path) -> bool:
        return _relative(root, path) in self.files


def _relative(root: Path, path: Path) -> str:
    return Path(path).relative_to(root).as_posix()


def publish(root: Path, files: list[tuple[Path, Callable[[Path], Any]]], manifest_path: Path, set_id: str,
            keep: list[Path] = ()) -> Manifest:
    """Write ``files`` (target under ``root``, writer(temporary path)) as one set with the protocol above.
    ``keep``: files already in place that belong to the new set too, when the current manifest lists them
    unchanged (others are left out). Returns the new manifest."""
    hashes = {}
    try:
        current = read_manifest(manifest_path)
    except RunDirError:
        current = None
    for path in keep:
        if current is not None and current.lists(root, path) and mismatch(root, current, [path]) is None:
            hashes[_relative(root, path)] = current.files[_relative(root, path)]
    with contextlib.ExitStack() as stack:  # on leaving: every temporary is renamed onto its target
        for target, write in files:
            tmp = stack.enter_context(atomic.atomic_path(target))
            write(tmp)
            hashes[_relative(root, target)] = atomic.file_sha256(tmp)
    manifest = Manifest(set_id, dict(sorted(hashes.items())))
    atomic.write_text(manifest_path, json.dumps({"format": MANIFEST_FORMAT, "set_id": set_id,
                                                 "sha256": manifest.files}, indent=2) + "\n")
    return manifest


def read_manifest(path: Path) -> Manifest | None:
    """The manifest at ``path`` (None when there is none); :class:`RunDirError` when it is unreadable."""
    if not path.is_file():
        return None
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
        files = obj["sha256"]
        if (obj.get("format") != MANIFEST_FORMAT or not isinstance(obj.get("set_id"), str)
                or not isinstance(files, dict) or not all(isinstance(v, str) for v in files.values())):
            raise ValueError(f"not a {MANIFEST_FORMAT} manifest")
        return Manifest(obj["set_id"], dict(files))
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise RunDirError(f"cannot read {path}: {first_line(exc)}") from None


def mismatch(root: Path, manifest: Manifest, paths: list[Path] | None = None) -> str | None:
    """The first of ``paths`` (default: every file listed) that is missing or differs from ``manifest``, as
    "<name> differs from" / "<name> is missing, listed in" / "<name> is not listed in" (to be followed by the
    manifest's name; ``name`` relative to ``root``); None when all match."""
    for path in paths if paths is not None else [root / name for name in manifest.files]:
        name = _relative(root, path)
        expected = manifest.files.get(name)
        if expected is None:
            return f"{name} is not listed in"
        if not path.is_file():
            return f"{name} is missing, listed in"
        try:
            actual = atomic.file_sha256(path)
        except OSError as exc:
            raise RunDirError(f"cannot read {path}: {first_line(exc)}") from None
        if actual != expected:
            return f"{name} differs from"
    return None
