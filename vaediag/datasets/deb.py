"""Read files out of a Debian package (``.deb``) in memory, without dpkg and without extracting anything.

A ``.deb`` is an ``ar`` archive (8-byte magic ``!<arch>\\n``; each member a 60-byte header -- name 16,
mtime 12, uid 6, gid 6, mode 8, size 10 (decimal ASCII), magic 2 ``\\x60\\n`` -- then its bytes, padded to an
even length) whose members are ``debian-binary``, ``control.tar.*`` and ``data.tar.*``. The installed files
are in ``data.tar.xz`` (or ``.gz``); :func:`read_deb_files` reads the wanted regular files from it by name
with :mod:`tarfile`, so nothing is ever written to disk (no path traversal is possible). Every failure is a
one-line :class:`~vaediag.errors.DataError`.
"""

from __future__ import annotations

import io
import lzma
import os
import tarfile
import zlib

from vaediag.errors import DataError, first_line

AR_MAGIC = b"!<arch>\n"
AR_HEADER_BYTES = 60
AR_MEMBER_MAGIC = b"`\n"
DATA_MEMBERS = {"data.tar.xz": "r:xz", "data.tar.gz": "r:gz"}  # the compressions accepted


def ar_members(blob: bytes, source: str = "archive") -> dict[str, bytes]:
    """The members of an ``ar`` archive (name -> bytes); :class:`DataError` when it is not a valid one."""
    if not blob.startswith(AR_MAGIC):
        raise DataError(f"{source} is not a Debian package (no ar magic)")
    members, pos = {}, len(AR_MAGIC)
    while pos < len(blob):
        header = blob[pos : pos + AR_HEADER_BYTES]
        if len(header) < AR_HEADER_BYTES or header[58:60] != AR_MEMBER_MAGIC:
            raise DataError(f"{source} is truncated or corrupt (bad ar header at byte {pos})")
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")  # GNU ar ends names with '/'
        try:
            size = int(header[48:58].decode("ascii").strip())
        except ValueError:
            raise DataError(f"{source} is corrupt (bad ar member size at byte {pos})") from None
        start = pos + AR_HEADER_BYTES
        if size < 0 or start + size > len(blob):
            raise DataError(f"{source} is truncated (ar member {name!r} needs {size} bytes)")
        members[name] = blob[start : start + size]
        pos = start + size + (size % 2)  # members are padded to an even length
    return members


def read_deb_files(deb: bytes | str | os.PathLike, wanted: list[str], source: str | None = None) -> dict[str, bytes]:
    """The bytes of each path in ``wanted`` (as the data tarball names them, e.g.
    ``./usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz``) from a ``.deb`` given as bytes or a path.

    :class:`DataError` (one line) when the package cannot be read, its data tarball is neither ``.xz`` nor
    ``.gz``, or a wanted file is missing or not a regular file.
    """
    if not isinstance(deb, bytes):
        source = source or str(deb)
        try:
            with open(deb, "rb") as fh:
                deb = fh.read()
        except OSError as exc:
            raise DataError(f"cannot read {source}: {exc.strerror or first_line(exc)}") from None
    source = source or "the Debian package"
    members = ar_members(deb, source)
    data_name = next((n for n in members if n.startswith("data.tar")), None)
    if data_name is None:
        raise DataError(f"{source} has no data.tar member")
    if data_name not in DATA_MEMBERS:
        raise DataError(f"{source}: {data_name} is not supported (only {', '.join(DATA_MEMBERS)})")
    out = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(members[data_name]), mode=DATA_MEMBERS[data_name]) as tar:
            for path in wanted:
                try:
                    info = tar.getmember(path)
                except KeyError:
                    raise DataError(f"{source} does not contain {path}") from None
                if not info.isfile():
                    raise DataError(f"{source}: {path} is not a regular file")
                out[path] = tar.extractfile(info).read()
    except (tarfile.TarError, lzma.LZMAError, zlib.error, EOFError, OSError) as exc:
        raise DataError(f"{source}: {data_name} is corrupt ({first_line(exc)})") from None
    return out
