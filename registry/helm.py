"""Reading a Helm chart archive (.tgz) for the chart additions: pure, streamed, with hard size caps.

Harbor loads the whole chart with Helm's loader and returns the top-level values.yaml and
README.md as they are, and the dependencies from Chart.yaml (apiVersion v2) or requirements.yaml
(v1). Here the archive is read as a stream (tarfile's "r|gz"): only the few top-level files are
kept, everything else is skipped, and both the compressed and the decompressed bytes are capped,
so a hostile archive costs bounded memory and time.
"""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

# Helm's own loader refuses charts over 100 MiB decompressed and files over 5 MiB.
MAX_DECOMPRESSED = 100 * 1024 * 1024
MAX_FILE = 5 * 1024 * 1024
_WANTED = {"chart.yaml", "values.yaml", "readme.md", "requirements.yaml"}
# The keys of Helm's Dependency, in its JSON order (name and repository always present).
_DEPENDENCY_KEYS = ("name", "version", "repository", "condition", "tags", "enabled", "import-values", "alias")


class ChartInvalid(ValueError):
    """The archive is not a readable chart, or is larger than the caps allow."""


@dataclass
class ChartFiles:
    values: str = ""
    readme: str = ""
    dependencies: list[dict[str, Any]] = field(default_factory=list)


class _Stream(io.RawIOBase):
    """A read-only file over an iterator of byte chunks, refusing more than `limit` bytes."""

    def __init__(self, chunks: Iterable[bytes], limit: int):
        self._chunks: Iterator[bytes] = iter(chunks)
        self._buffer = b""
        self._read = 0
        self._limit = limit

    def readable(self) -> bool:
        return True

    def readinto(self, target) -> int:  # noqa: ANN001 - a writable buffer
        while not self._buffer:
            piece = next(self._chunks, None)
            if piece is None:
                return 0
            self._buffer = piece
        size = min(len(target), len(self._buffer))
        target[:size] = self._buffer[:size]
        self._buffer = self._buffer[size:]
        self._read += size
        if self._read > self._limit:
            raise ChartInvalid(f"chart archive is larger than {self._limit} bytes")
        return size


def _member_name(name: str) -> str | None:
    """`<chart>/<file>` at the top level of the chart, lower-cased; None for anything deeper."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if len(parts) != 2:
        return None
    lowered = parts[1].lower()
    return lowered if lowered in _WANTED else None


def _read_member(archive: tarfile.TarFile, member: tarfile.TarInfo) -> str:
    if member.size > MAX_FILE:
        raise ChartInvalid(f"{member.name} is larger than {MAX_FILE} bytes")
    handle = archive.extractfile(member)
    if handle is None:
        return ""
    return handle.read(MAX_FILE + 1).decode("utf-8", errors="replace")


def _dependencies(text: str) -> list[dict[str, Any]]:
    try:
        doc = yaml.safe_load(text) if text else None
    except yaml.YAMLError as exc:
        raise ChartInvalid(f"unreadable chart metadata: {exc}") from exc
    raw = doc.get("dependencies") if isinstance(doc, dict) else None
    result = []
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        dependency = {key: item[key] for key in _DEPENDENCY_KEYS if item.get(key) not in (None, "", [], False)}
        dependency.setdefault("name", "")
        dependency.setdefault("repository", "")
        result.append(dependency)
    return result


def _api_version(chart_yaml: str) -> str:
    try:
        doc = yaml.safe_load(chart_yaml) if chart_yaml else None
    except yaml.YAMLError as exc:
        raise ChartInvalid(f"unreadable Chart.yaml: {exc}") from exc
    return str(doc.get("apiVersion", "v1")) if isinstance(doc, dict) else "v1"


def chart_files(chunks: Iterable[bytes], *, max_compressed: int) -> ChartFiles:
    """values.yaml, README.md and the dependencies of the chart archive streamed as `chunks`."""
    found: dict[str, str] = {}
    decompressed = 0
    try:
        with tarfile.open(fileobj=_Stream(chunks, max_compressed), mode="r|gz") as archive:
            for member in archive:
                decompressed += max(member.size, 0)
                if decompressed > MAX_DECOMPRESSED:
                    raise ChartInvalid(f"chart is larger than {MAX_DECOMPRESSED} bytes decompressed")
                name = _member_name(member.name) if member.isfile() else None
                if name is not None and name not in found:
                    found[name] = _read_member(archive, member)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise ChartInvalid(f"not a chart archive: {exc}") from exc
    if "chart.yaml" not in found:
        raise ChartInvalid("the archive has no Chart.yaml")
    if _api_version(found["chart.yaml"]) == "v1":
        dependencies = _dependencies(found.get("requirements.yaml", ""))
    else:
        dependencies = _dependencies(found["chart.yaml"])
    return ChartFiles(values=found.get("values.yaml", ""), readme=found.get("readme.md", ""), dependencies=dependencies)
