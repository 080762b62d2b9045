"""scanning/builtin/packages.py on real package metadata: this machine's dpkg database and the
Python distributions installed in this virtualenv, put into an image layer and read back."""

from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from packageurl import PackageURL

from scanning.builtin.layers import image_files
from scanning.builtin.packages import os_release, packages_of, wanted
from scanning.tests.builders import layer

DPKG_STATUS = Path("/var/lib/dpkg/status")
needs_dpkg = pytest.mark.skipif(
    not DPKG_STATUS.exists() or not shutil.which("dpkg-query"), reason="needs a Debian dpkg database"
)


def _image(*members: tuple) -> dict[str, bytes]:
    return image_files([layer(*members)], wanted)


@needs_dpkg
def test_every_installed_debian_package_is_found_as_dpkg_itself_lists_it():
    files = _image(
        ("file", "var/lib/dpkg/status", DPKG_STATUS.read_bytes()),
        ("file", "etc/os-release", Path("/etc/os-release").read_bytes()),
        ("file", "usr/bin/not-read", b"\x7fELF"),
    )
    assert set(files) == {"var/lib/dpkg/status", "etc/os-release"}
    query = "${db:Status-Status}\t${Package}\t${Version}\t${Architecture}\t${source:Package}\t${source:Version}\n"
    listed = subprocess.run(["dpkg-query", "-W", "-f", query], capture_output=True, text=True, check=True).stdout
    expected = {tuple(line.split("\t")[1:]) for line in listed.splitlines() if line.startswith("installed\t")}
    found = [p for p in packages_of(files) if p.ecosystem == "deb"]
    assert {(p.name, p.version, p.arch, p.source_name, p.source_version) for p in found} == expected
    assert len(found) == len(expected) > 100
    release = os_release(files)
    libc = next(p for p in found if p.name == "libc6")
    assert libc.source_name == "glibc"  # Debian's advisories (e.g. CVE-2023-4911) name the source package
    purl = PackageURL.from_string(libc.purl)  # "+" in a version is percent-encoded in the string (purl spec)
    assert (purl.type, purl.namespace, purl.name, purl.version) == ("deb", release.id, "libc6", libc.version)
    assert purl.qualifiers == {"arch": libc.arch, "distro": f"{release.id}-{release.version_id}"}


def test_packages_removed_or_half_installed_are_not_reported():
    status = (
        b"Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\nArchitecture: amd64\n\n"
        b"Package: here\nStatus: install ok installed\nVersion: 2:1.2-3\nArchitecture: amd64\n"
        b"Source: here-src (1.2-2)\nDescription: x\n continued\n .\n"
    )
    found = packages_of(_image(("file", "var/lib/dpkg/status", status)))
    assert [(p.name, p.version, p.source_name, p.source_version) for p in found] == [
        ("here", "2:1.2-3", "here-src", "1.2-2")
    ]
    assert found[0].purl == "pkg:deb/debian/here@2:1.2-3?arch=amd64"  # no os-release: no distro qualifier


@needs_dpkg
def test_distroless_status_d_files_are_read():
    stanza = DPKG_STATUS.read_text().split("\n\n")[0] + "\n"
    found = packages_of(_image(("file", "var/lib/dpkg/status.d/first", stanza.encode())))
    assert len(found) == 1
    assert found[0].location == "var/lib/dpkg/status.d/first"


def test_python_distributions_of_this_virtualenv_are_found_with_their_purls():
    site = Path(next(p for p in sys.path if p.endswith("site-packages")))
    members = []
    for meta in sorted(
        [*site.glob("*.dist-info/METADATA"), *site.glob("*.egg-info/PKG-INFO"), *site.glob("*.egg-info")]
    ):
        if meta.is_file():
            name = meta.relative_to(site).as_posix()
            members.append(("file", f"usr/local/lib/python3/site-packages/{name}", meta.read_bytes()))
    found = [p for p in packages_of(_image(*members)) if p.ecosystem == "pypi"]
    installed = {
        (dist.metadata["Name"].lower().replace("_", "-").replace(".", "-"), dist.version)
        for dist in importlib.metadata.distributions(path=[str(site)])
        if dist.metadata["Name"]
    }
    assert {(p.name, p.version) for p in found} == installed
    django = next(p for p in found if p.name == "django")
    assert django.purl == f"pkg:pypi/django@{importlib.metadata.version('django')}"
    assert django.location.endswith(".dist-info")
