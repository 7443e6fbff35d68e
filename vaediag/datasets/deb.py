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


MAX_DEB_BYTES = 256 * 2**20  # a .deb read into memory: Debian's dataset-fashion-mnist is 31 MB


def read_deb_files(deb: bytes | str | os.PathLike, wanted: dict[str, int] | list[str],
                   source: str | None = None) -> dict[str, bytes]:
    """The bytes of each path in ``wanted`` (as the data tarball names them, e.g.
    ``./usr/share/datasets/fashion-mnist/t10k-labels-idx1-ubyte.gz``) from a ``.deb`` given as bytes or a path.
    ``wanted`` maps each path to the most bytes it may have (a list: no limit); a larger member is refused from
    its tar header, before it is read, so a package that claims gigabytes costs no memory.

    :class:`DataError` (one line) when the package cannot be read or is larger than ``MAX_DEB_BYTES``, its data
    tarball is neither ``.xz`` nor ``.gz``, or a wanted file is missing, not a regular file or too large.
    """
    if not isinstance(deb, bytes):
        source = source or str(deb)
        deb = _read_file(deb, source)
    source = source or "the Debian package"
    limits = dict(wanted) if isinstance(wanted, dict) else {path: None for path in wanted}
    members = ar_members(deb, source)
    data_name = next((n for n in members if n.startswith("data.tar")), None)
    if data_name is None:
        raise DataError(f"{source} has no data.tar member")
    if data_name not in DATA_MEMBERS:
        raise DataError(f"{source}: {data_name} is not supported (only {', '.join(DATA_MEMBERS)})")
    out = {}
    try:
        with tarfile.open(fileobj=io.BytesIO(members[data_name]), mode=DATA_MEMBERS[data_name]) as tar:
            for info in tar:  # in archive order, stopping once every wanted file is read
                if info.name not in limits or info.name in out:
                    continue
                if not info.isfile():
                    raise DataError(f"{source}: {info.name} is not a regular file")
                limit = limits[info.name]
                if limit is not None and info.size > limit:
                    raise DataError(f"{source}: {info.name} claims {info.size} bytes, more than the {limit} "
                                    f"it can have (a corrupt or forged package); nothing was read")
                out[info.name] = tar.extractfile(info).read()
                if len(out) == len(limits):
                    break
    except (tarfile.TarError, lzma.LZMAError, zlib.error, EOFError, OSError) as exc:
        raise DataError(f"{source}: {data_name} is corrupt ({first_line(exc)})") from None
    missing = [path for path in limits if path not in out]
    if missing:
        raise DataError(f"{source} does not contain {missing[0]}")
    return out


def _read_file(path: str | os.PathLike, source: str) -> bytes:
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > MAX_DEB_BYTES:
                raise DataError(f"{source} has {size} bytes, more than a dataset package of {MAX_DEB_BYTES} "
                                f"at most; is it the right file?")
            return fh.read(MAX_DEB_BYTES + 1)
    except OSError as exc:
        raise DataError(f"cannot read {source}: {exc.strerror or first_line(exc)}") from None
