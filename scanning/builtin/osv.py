"""OSV records (ossf/osv-schema) and whether one affects a package version (pure: no ORM, no I/O).

A record names packages per ecosystem ("Debian:12", "PyPI", ...) with `ranges` of events and
explicit `versions`. Versions are compared with the ecosystem's own ordering (univers: Debian's
epochs and tildes, PEP 440, npm semver, Go, Maven, Alpine), never as text. Range evaluation is the
schema's: events in version order, `introduced` opens an affected interval ("0": from the first
version), `fixed` closes it at that version, `last_affected` after it. GIT ranges name commits, not
versions, and are not used. Severity comes from the record's CVSS vectors (the `cvss` package).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cvss import CVSS2, CVSS3, CVSS4
from univers import versions as uv

# OSV ecosystem (before any ":release") -> univers version class
VERSION_CLASSES: dict[str, type[uv.Version]] = {
    "Debian": uv.DebianVersion,
    "Ubuntu": uv.DebianVersion,
    "Alpine": uv.AlpineLinuxVersion,
    "PyPI": uv.PypiVersion,
    "npm": uv.SemverVersion,
    "Go": uv.GolangVersion,
    "Maven": uv.MavenVersion,
}
SEVERITIES = ("None", "Low", "Medium", "High", "Critical")  # Harbor's levels above "Unknown"


class OsvInvalid(ValueError):
    """A record that does not follow the OSV schema where it matters here."""


@dataclass(frozen=True, slots=True)
class Range:
    kind: str  # ECOSYSTEM, SEMVER (GIT ranges are dropped)
    events: tuple[tuple[str, str], ...]  # (introduced | fixed | last_affected | limit, version)


@dataclass(frozen=True, slots=True)
class Affected:
    ecosystem: str  # "Debian:12", "PyPI"
    name: str
    ranges: tuple[Range, ...]
    versions: frozenset[str]


@dataclass(frozen=True, slots=True)
class Advisory:
    id: str
    aliases: tuple[str, ...]
    modified: datetime
    withdrawn: datetime | None
    summary: str
    severity: str  # one of SEVERITIES, or "Unknown"
    score: float | None
    vector: str
    affected: tuple[Affected, ...]


def _time(value: object, field: str) -> datetime:
    if not isinstance(value, str):
        raise OsvInvalid(f"{field} must be an RFC 3339 time")
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise OsvInvalid(f"{field} is not an RFC 3339 time: {value!r}") from exc


def _severity(record: dict) -> tuple[str, float | None, str]:
    """The highest CVSS base score among the record's vectors, with its level; Unknown without one."""
    best: tuple[str, float | None, str] = ("Unknown", None, "")
    for entry in record.get("severity") or []:
        kind, vector = entry.get("type"), entry.get("score", "")
        parser = {"CVSS_V2": CVSS2, "CVSS_V3": CVSS3, "CVSS_V4": CVSS4}.get(kind)
        if parser is None or not isinstance(vector, str):
            continue
        try:
            cvss = parser(vector)
        except Exception:  # noqa: BLE001, S112 - the cvss package raises its own errors for a bad vector
            continue
        score = float(cvss.base_score)
        level = (
            "None"
            if score == 0
            else "Low"
            if score < 4
            else "Medium"
            if score < 7
            else "High"
            if score < 9
            else "Critical"
        )
        if best[1] is None or score > best[1]:
            best = (level, score, vector)
    return best


def advisory_parse(record: dict) -> Advisory:
    """An OSV record as an Advisory; OsvInvalid when it lacks what matching needs."""
    if not isinstance(record, dict) or not isinstance(record.get("id"), str) or not record["id"]:
        raise OsvInvalid("a record needs an id")
    affected = []
    for entry in record.get("affected") or []:
        package = entry.get("package") or {}
        ecosystem, name = package.get("ecosystem"), package.get("name")
        if not isinstance(ecosystem, str) or not isinstance(name, str):
            continue
        ranges = tuple(
            Range(
                r["type"], tuple((kind, str(value)) for event in r.get("events", []) for kind, value in event.items())
            )
            for r in entry.get("ranges") or []
            if r.get("type") in ("ECOSYSTEM", "SEMVER")
        )
        affected.append(Affected(ecosystem, name, ranges, frozenset(str(v) for v in entry.get("versions") or [])))
    level, score, vector = _severity(record)
    return Advisory(
        id=record["id"],
        aliases=tuple(record.get("aliases") or ()),
        modified=_time(record.get("modified"), "modified"),
        withdrawn=_time(record["withdrawn"], "withdrawn") if record.get("withdrawn") else None,
        summary=str(record.get("summary") or record.get("details") or "")[:1000],
        severity=level,
        score=score,
        vector=vector,
        affected=tuple(affected),
    )


def _version_class(ecosystem: str) -> type[uv.Version] | None:
    return VERSION_CLASSES.get(ecosystem.split(":", 1)[0])


def _in_range(version: uv.Version, events: tuple[tuple[str, str], ...], parse) -> bool:  # noqa: ANN001
    def key(event: tuple[str, str]):  # noqa: ANN202
        return (0, None) if event[1] == "0" else (1, parse(event[1]))

    try:
        ordered = sorted(events, key=key)
    except (ValueError, TypeError):
        return False  # a version the ecosystem can't parse: the range can't be decided
    affected = False
    for kind, value in ordered:
        if kind == "introduced" and (value == "0" or version >= parse(value)):
            affected = True
        elif kind == "fixed" and version >= parse(value) or kind == "last_affected" and version > parse(value):
            affected = False
    return affected


def affects(advisory: Advisory, *, ecosystem: str, name: str, version: str) -> tuple[bool, list[str]]:
    """Does the advisory affect this package version? And the versions that fix it (for the report).

    `ecosystem` is OSV's, with the release where the ecosystem has them ("Debian:12"): a record for
    another release does not apply. A withdrawn record affects nothing."""
    if advisory.withdrawn is not None:
        return False, []
    version_class = _version_class(ecosystem)
    if version_class is None:
        return False, []
    try:
        current = version_class(version)
    except (ValueError, TypeError):
        return False, []
    parse = version_class
    hit, fixed = False, []
    for entry in advisory.affected:
        if entry.ecosystem != ecosystem or entry.name != name:
            continue
        if version in entry.versions:
            hit = True
        for r in entry.ranges:
            if _in_range(current, r.events, parse):
                hit = True
                fixed.extend(value for kind, value in r.events if kind == "fixed")
    return hit, sorted(set(fixed), key=lambda v: _sortable(parse, v))


def _sortable(parse, value: str):  # noqa: ANN001, ANN202
    try:
        return (0, parse(value))
    except (ValueError, TypeError):
        return (1, value)
