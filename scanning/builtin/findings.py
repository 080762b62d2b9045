"""Which advisories affect which packages of an image (pure: the advisories come in as values).

Packages are looked up under their OSV coordinates: Debian packages by their source package and
source version in the image's release ("Debian:12": Debian's advisories are per source package and
per release), Python distributions by their PEP 503 name in "PyPI".
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from scanning.builtin.osv import Advisory, affects
from scanning.builtin.packages import OsRelease, Package

_OS_ECOSYSTEMS = {"debian": "Debian", "ubuntu": "Ubuntu"}


@dataclass(frozen=True, slots=True)
class Finding:
    """An advisory that affects an installed package."""

    advisory_id: str
    aliases: tuple[str, ...]
    severity: str
    score: float | None
    vector: str
    summary: str
    fixed_versions: tuple[str, ...]
    package: Package


def _pypi_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def osv_coordinates(package: Package, release: OsRelease | None) -> tuple[str, str, str] | None:
    """(OSV ecosystem, name, version) to look the package up under; None when there is none."""
    if package.ecosystem == "deb":
        if release is None or release.id not in _OS_ECOSYSTEMS or not release.version_id:
            return None
        ecosystem = f"{_OS_ECOSYSTEMS[release.id]}:{release.version_id}"
        return ecosystem, package.source_name or package.name, package.source_version or package.version
    if package.ecosystem == "pypi":
        return "PyPI", _pypi_name(package.name), package.version
    return None


class AdvisoryIndex:
    """Advisories by the (ecosystem, name) they name, for looking up many packages."""

    def __init__(self, advisories: Iterable[Advisory] = ()) -> None:
        self._by_package: dict[tuple[str, str], list[Advisory]] = defaultdict(list)
        for advisory in advisories:
            self.add(advisory)

    def add(self, advisory: Advisory) -> None:
        names = set()
        for affected in advisory.affected:
            name = _pypi_name(affected.name) if affected.ecosystem == "PyPI" else affected.name
            names.add((affected.ecosystem, name))
        for key in names:
            self._by_package[key].append(advisory)

    def findings(self, packages: Iterable[Package], release: OsRelease | None) -> list[Finding]:
        """Every (advisory, package) where the advisory affects the installed version, in a stable order."""
        found = []
        for package in packages:
            coordinates = osv_coordinates(package, release)
            if coordinates is None:
                continue
            ecosystem, name, version = coordinates
            for advisory in self._by_package.get((ecosystem, name), ()):
                if ecosystem == "PyPI":  # the record may spell the name otherwise: match it as it is written
                    spelled = {a.name for a in advisory.affected if _pypi_name(a.name) == name}
                    hits = [affects(advisory, ecosystem=ecosystem, name=n, version=version) for n in spelled]
                else:
                    hits = [affects(advisory, ecosystem=ecosystem, name=name, version=version)]
                if not any(hit for hit, _fixed in hits):
                    continue
                fixed = tuple(dict.fromkeys(v for hit, versions in hits if hit for v in versions))
                found.append(
                    Finding(
                        advisory.id,
                        advisory.aliases,
                        advisory.severity,
                        advisory.score,
                        advisory.vector,
                        advisory.summary,
                        fixed,
                        package,
                    )
                )
        return sorted(found, key=lambda f: (f.package.ecosystem, f.package.name, f.package.version, f.advisory_id))
