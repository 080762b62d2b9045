"""Image layers built in the tests, as tar archives (members from real files where the test says so)."""

from __future__ import annotations

import gzip
import io
import tarfile

import zstandard


def layer(*members: tuple, compression: str = "gzip") -> io.BytesIO:
    """A layer tar: ("file", name, bytes) | ("dir", name) | ("symlink", name, target) | ("fifo"|"chr", name)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for kind, name, *rest in members:
            info = tarfile.TarInfo(name)
            if kind == "file":
                info.size = len(rest[0])
                archive.addfile(info, io.BytesIO(rest[0]))
                continue
            info.type = {
                "dir": tarfile.DIRTYPE,
                "symlink": tarfile.SYMTYPE,
                "fifo": tarfile.FIFOTYPE,
                "chr": tarfile.CHRTYPE,
            }[kind]
            if kind == "symlink":
                info.linkname = rest[0]
            archive.addfile(info)
    data = raw.getvalue()
    if compression == "gzip":
        data = gzip.compress(data)
    elif compression == "zstd":
        data = zstandard.ZstdCompressor().compress(data)
    return io.BytesIO(data)
