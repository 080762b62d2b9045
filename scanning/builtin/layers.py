"""The files of an image, from its layers: what the built-in scanner reads packages from.

Pure (no ORM, no storage): it takes the layers' byte streams in order, base layer first, and the
paths the caller wants, and returns those files as the container would see them. The OCI image
spec's rules apply (image-spec `layer.md`): a layer is a tar archive, plain, gzip or zstd (told by
the stream's magic bytes, not by a media type a client may have got wrong); `.wh.<name>` in a
directory deletes `<name>` from the layers below; `.wh..wh..opq` makes the directory opaque (the
layers below contribute nothing to it); a later layer's file replaces an earlier one.

Archives are hostile input: member names are normalised (`./`, repeated slashes) and those that
climb out of the root (`..`) are skipped, absolute names are taken relative to the root, links,
devices and FIFOs are never read, a member larger than `max_file` is skipped unread, and a layer
that decompresses to more than `max_layer` bytes stops with LayerTooLarge (decompression bombs).
"""

from __future__ import annotations

import gzip
import io
import posixpath
import tarfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import BinaryIO

import zstandard

GZIP_MAGIC = b"\x1f\x8b"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
WHITEOUT_PREFIX = ".wh."
OPAQUE = ".wh..wh..opq"
MAX_FILE = 64 * 1024 * 1024  # bytes of one file the scanner reads (package databases, metadata, jars)
MAX_LAYER = 8 * 1024 * 1024 * 1024  # bytes a layer may decompress to


class LayerError(Exception):
    """A layer that can't be read as an image layer (not a tar archive, corrupt compression)."""


class LayerTooLarge(LayerError):
    """A layer that decompresses to more than the limit: read no further."""


@dataclass
class LayerReport:
    """What reading the layers skipped, and why (shown with a scan's log)."""

    skipped: list[tuple[str, str]] = field(default_factory=list)  # (member name, reason)


class _Counted(io.RawIOBase):
    """A decompressed stream that refuses to yield more than `limit` bytes."""

    def __init__(self, stream: BinaryIO, limit: int) -> None:
        self.stream, self.limit, self.count = stream, limit, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001
        data = self.stream.read(len(buffer))
        self.count += len(data)
        if self.count > self.limit:
            raise LayerTooLarge(f"the layer decompresses to more than {self.limit} bytes")
        buffer[: len(data)] = data
        return len(data)


def _decompressed(stream: BinaryIO, limit: int) -> BinaryIO:
    """The tar stream inside a layer, whatever its compression (by magic bytes)."""
    head = stream.read(4)
    rest = io.BufferedReader(_Prefixed(head, stream))
    if head.startswith(GZIP_MAGIC):
        inner: BinaryIO = gzip.GzipFile(fileobj=rest, mode="rb")
    elif head.startswith(ZSTD_MAGIC):
        inner = zstandard.ZstdDecompressor().stream_reader(rest, read_across_frames=True)
    else:
        inner = rest
    return io.BufferedReader(_Counted(inner, limit), buffer_size=1024 * 1024)


class _Prefixed(io.RawIOBase):
    """Bytes already read from a stream, then the rest of it."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self.head, self.stream = head, stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:  # noqa: ANN001
        if self.head:
            size = min(len(buffer), len(self.head))
            buffer[:size], self.head = self.head[:size], self.head[size:]
            return size
        data = self.stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def member_path(name: str) -> str | None:
    """The normalised path of a member below the root ("a/b"), or None if it leaves the root."""
    parts: list[str] = []
    for part in name.replace("\\", "/").split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            return None  # no container runtime lets a layer write above its root
        parts.append(part)
    return "/".join(parts) if parts else None


def _ancestors(path: str) -> Iterator[str]:
    """The path and every directory above it ("a/b/c", "a/b", "a")."""
    while path:
        yield path
        path = posixpath.dirname(path)


def image_files(
    layers: Iterable[BinaryIO],
    wanted: Callable[[str], bool],
    *,
    max_file: int = MAX_FILE,
    max_layer: int = MAX_LAYER,
    report: LayerReport | None = None,
) -> dict[str, bytes]:
    """The wanted regular files of the image's final filesystem, by path ("var/lib/dpkg/status")."""
    report = report if report is not None else LayerReport()
    files: dict[str, bytes] = {}
    for layer in layers:
        removed, opaque, added = _apply_layer(layer, wanted, max_file=max_file, max_layer=max_layer, report=report)
        # Whiteouts, opaque directories and replacements hide the layers below, never the same layer's files.
        for path in list(files):
            above = list(_ancestors(path))
            if "" in opaque or any(p in removed for p in above) or any(p in opaque for p in above[1:]):
                del files[path]
        files.update(added)
    return files


def _apply_layer(
    layer: BinaryIO, wanted: Callable[[str], bool], *, max_file: int, max_layer: int, report: LayerReport
) -> tuple[set[str], set[str], dict[str, bytes]]:
    removed: set[str] = set()
    opaque: set[str] = set()
    added: dict[str, bytes] = {}
    try:
        with tarfile.open(fileobj=_decompressed(layer, max_layer), mode="r|") as archive:
            for member in archive:
                _member(archive, member, wanted, max_file, report, removed, opaque, added)
    except LayerTooLarge:
        raise
    except (tarfile.TarError, OSError, EOFError, zstandard.ZstdError) as exc:
        raise LayerError(f"not a readable layer: {exc}") from exc
    return removed, opaque, added


def _member(  # noqa: PLR0913 - the state of one layer, threaded through
    archive: tarfile.TarFile,
    member: tarfile.TarInfo,
    wanted: Callable[[str], bool],
    max_file: int,
    report: LayerReport,
    removed: set[str],
    opaque: set[str],
    added: dict[str, bytes],
) -> None:
    path = member_path(member.name)
    if path is None:
        report.skipped.append((member.name, "outside the root"))
        return
    directory, base = posixpath.split(path)
    if base == OPAQUE:
        opaque.add(directory)
        return
    if base.startswith(WHITEOUT_PREFIX):
        removed.add(posixpath.join(directory, base[len(WHITEOUT_PREFIX) :]))
        return
    if member.isdir():
        return  # a directory over a directory merges with it
    if member.issym() or member.islnk():
        removed.add(path)  # a link replaces what a lower layer had there; links are never followed
        return
    if not member.isreg():
        report.skipped.append((member.name, "device or FIFO"))
        return
    removed.add(path)  # this layer's file replaces a lower one (and anything below it)
    if not wanted(path):
        return
    if member.size > max_file:
        report.skipped.append((member.name, f"larger than {max_file} bytes"))
        return
    handle = archive.extractfile(member)
    if handle is None:
        return
    added[path] = handle.read(max_file + 1)[:max_file]
