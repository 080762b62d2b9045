"""What is installed in an image, from the files the layer reader returns (pure: no ORM, no I/O).

So far: Debian/Ubuntu packages (dpkg's `var/lib/dpkg/status`, and the `status.d/` files distroless
images carry instead), the OS release (`etc/os-release`, `usr/lib/os-release`), and Python
distributions (`*.dist-info/METADATA`, `*.egg-info/PKG-INFO`). Each package gets its package URL
(purl spec, packageurl-python); Debian packages also keep their source package, which is what
Debian's advisories name. Alpine, npm, Go and Java come next (issue 10).
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass
from email.parser import HeaderParser

from packageurl import PackageURL

DPKG_STATUS = "var/lib/dpkg/status"
DPKG_STATUS_D = "var/lib/dpkg/status.d/"
OS_RELEASE = ("etc/os-release", "usr/lib/os-release")
_PYTHON_META = re.compile(r"(^|/)[^/]+\.(dist-info/METADATA|egg-info/PKG-INFO|egg-info)$")
_SOURCE = re.compile(r"^(?P<name>\S+)(?:\s+\((?P<version>[^)]+)\))?$")


@dataclass(frozen=True, slots=True)
class OsRelease:
    id: str  # "debian", "ubuntu", "alpine"
    version_id: str  # "12"
    codename: str  # "bookworm"


@dataclass(frozen=True, slots=True)
class Package:
    """One installed package: `ecosystem` is the purl type (deb, pypi)."""

    ecosystem: str
    name: str
    version: str
    purl: str
    location: str  # the file it was found in
    source_name: str = ""  # deb: the source package (advisories are per source)
    source_version: str = ""
    arch: str = ""


def wanted(path: str) -> bool:
    """The paths the package finders read (the layer reader's filter)."""
    return (
        path == DPKG_STATUS
        or (path.startswith(DPKG_STATUS_D) and "/" not in path[len(DPKG_STATUS_D) :])
        or path in OS_RELEASE
        or bool(_PYTHON_META.search(path))
    )


def os_release(files: dict[str, bytes]) -> OsRelease | None:
    """The image's os-release (etc/ first, as systemd reads it), or None."""
    for path in OS_RELEASE:
        if path in files:
            values = {}
            for line in files[path].decode("utf-8", "replace").splitlines():
                key, sep, value = line.partition("=")
                if sep and key.strip() and not key.startswith("#"):
                    values[key.strip()] = value.strip().strip("\"'")
            return OsRelease(values.get("ID", ""), values.get("VERSION_ID", ""), values.get("VERSION_CODENAME", ""))
    return None


def _stanzas(text: str) -> list[dict[str, str]]:
    """deb822 paragraphs: `Field: value` lines, continuation lines indented, blank lines between."""
    stanzas: list[dict[str, str]] = []
    current: dict[str, str] = {}
    field = ""
    for line in text.splitlines():
        if not line.strip():
            if current:
                stanzas.append(current)
            current, field = {}, ""
        elif line[0] in " \t":
            if field:
                current[field] += "\n" + line.strip()
        else:
            field, _sep, value = line.partition(":")
            field = field.strip()
            current[field] = value.strip()
    if current:
        stanzas.append(current)
    return stanzas


def dpkg_packages(text: str, *, location: str, release: OsRelease | None) -> list[Package]:
    """The installed packages of a dpkg status file (not those removed or only configured-files)."""
    namespace = release.id if release and release.id else "debian"
    packages = []
    for stanza in _stanzas(text):
        name, version = stanza.get("Package", ""), stanza.get("Version", "")
        status = stanza.get("Status", "install ok installed").split()
        if not name or not version or status[-1:] != ["installed"]:
            continue
        arch = stanza.get("Architecture", "")
        source = _SOURCE.match(stanza.get("Source", "")) if stanza.get("Source") else None
        qualifiers = {"arch": arch} if arch else {}
        if release and release.codename:
            qualifiers["distro"] = f"{namespace}-{release.version_id or release.codename}"
        purl = PackageURL(type="deb", namespace=namespace, name=name, version=version, qualifiers=qualifiers)
        packages.append(
            Package(
                ecosystem="deb",
                name=name,
                version=version,
                purl=purl.to_string(),
                location=location,
                source_name=source.group("name") if source else name,
                source_version=(source.group("version") or version) if source else version,
                arch=arch,
            )
        )
    return packages


def python_package(text: str, *, location: str) -> Package | None:
    """The distribution of a METADATA / PKG-INFO file (core metadata: RFC 822 headers)."""
    headers = HeaderParser().parsestr(text, headersonly=True)
    name, version = (headers.get("Name") or "").strip(), (headers.get("Version") or "").strip()
    if not name or not version:
        return None
    normalised = re.sub(r"[-_.]+", "-", name).lower()  # PEP 503, as the purl spec asks for pypi
    purl = PackageURL(type="pypi", name=normalised, version=version).to_string()
    return Package(ecosystem="pypi", name=normalised, version=version, purl=purl, location=location)


def packages_of(files: dict[str, bytes]) -> list[Package]:
    """Every package the files show, sorted by ecosystem, name and version."""
    release = os_release(files)
    found: list[Package] = []
    for path, data in sorted(files.items()):
        text = data.decode("utf-8", "replace")
        if path == DPKG_STATUS or path.startswith(DPKG_STATUS_D):
            found.extend(dpkg_packages(text, location=path, release=release))
        elif _PYTHON_META.search(path):
            # The dist-info or egg-info directory; an egg-info may also be a file (PKG-INFO's content).
            inside = path.endswith(("/METADATA", "/PKG-INFO"))
            package = python_package(text, location=posixpath.dirname(path) if inside else path)
            if package is not None:
                found.append(package)
    unique = {(p.ecosystem, p.name, p.version, p.location): p for p in found}
    return sorted(unique.values(), key=lambda p: (p.ecosystem, p.name, p.version, p.location))
