"""scanning/builtin/findings.py: the findings of images built from this machine's real package metadata.

The real dpkg database, os-release and Django dist-info METADATA of this machine and virtualenv go
into layers; their versions are current, so the two real advisories (scanning/tests/advisories.py)
find nothing. A second layer then re-installs glibc's libc6 and Django at versions those advisories
name as vulnerable: the same real metadata files with only the version fields edited, and the scan
finds exactly those two."""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest

from scanning.builtin.findings import AdvisoryIndex
from scanning.builtin.layers import image_files
from scanning.builtin.osv import advisory_parse
from scanning.builtin.packages import os_release, packages_of, wanted
from scanning.tests.advisories import DJANGO, GLIBC
from scanning.tests.builders import layer

DPKG_STATUS = Path("/var/lib/dpkg/status")
pytestmark = pytest.mark.skipif(not DPKG_STATUS.exists(), reason="needs a Debian dpkg database")
SITE = "usr/lib/python3/dist-packages"


def _django_metadata() -> tuple[str, bytes]:
    dist = importlib.metadata.distribution("django")
    metadata = Path(dist._path) / "METADATA"  # noqa: SLF001 - the installed file itself, byte for byte
    return f"{SITE}/{Path(dist._path).name}/METADATA", metadata.read_bytes()  # noqa: SLF001


def _libc6_stanza(version: str) -> bytes:
    stanza = next(s for s in DPKG_STATUS.read_text().split("\n\n") if s.startswith("Package: libc6\n"))
    return re.sub(r"(?m)^Version: .*$", f"Version: {version}", stanza).encode() + b"\n"


def _scan(*layers) -> list:  # noqa: ANN002
    files = image_files(list(layers), wanted)
    index = AdvisoryIndex([advisory_parse(GLIBC), advisory_parse(DJANGO)])
    return index.findings(packages_of(files), os_release(files))


def _base():  # noqa: ANN202
    django_path, django_metadata = _django_metadata()
    return layer(
        ("file", "var/lib/dpkg/status", DPKG_STATUS.read_bytes()),
        ("file", "etc/os-release", Path("/etc/os-release").read_bytes()),
        ("file", django_path, django_metadata),
    )


def test_the_machines_own_packages_have_none_of_these_advisories():
    assert _scan(_base()) == []


def test_vulnerable_versions_give_exactly_their_findings():
    django_path, django_metadata = _django_metadata()
    old_django = re.sub(rb"(?m)^Version: .*$", b"Version: 4.2.2", django_metadata)
    downgrade = layer(
        ("file", "var/lib/dpkg/.wh.status", b""),
        ("file", "var/lib/dpkg/status.d/libc6", _libc6_stanza("2.36-9+deb12u1")),
        ("file", f"{SITE}/.wh.{Path(django_path).parent.name}", b""),
        ("file", f"{SITE}/Django-4.2.2.dist-info/METADATA", old_django),
    )
    findings = _scan(_base(), downgrade)
    assert [
        (f.advisory_id, f.package.ecosystem, f.package.name, f.package.version, f.fixed_versions, f.severity, f.score)
        for f in findings
    ] == [
        ("CVE-2023-4911", "deb", "libc6", "2.36-9+deb12u1", ("2.36-9+deb12u3",), "High", 7.8),
        ("GHSA-jh3w-4vvf-mjgr", "pypi", "django", "4.2.2", ("4.2.3",), "High", 7.5),
    ]
    libc = findings[0].package
    assert (libc.source_name, libc.location) == ("glibc", "var/lib/dpkg/status.d/libc6")
    assert findings[1].aliases == ("CVE-2023-36053",)
