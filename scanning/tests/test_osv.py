"""scanning/builtin/osv.py: OSV records and version matching.

The two advisories are real, written in OSV form from their public sources (the field values, not
invented): CVE-2023-4911 ("Looney Tunables", glibc), fixed for Debian 12 in 2.36-9+deb12u3 by
DSA-5514-1, NVD vector CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H (7.8); and CVE-2023-36053
(Django EmailValidator/URLValidator ReDoS, GHSA-jh3w-4vvf-mjgr), fixed in Django 3.2.20, 4.1.10 and
4.2.3, vector CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H (7.5). The range-semantics tests at the
end use made-up package names: they test the schema's rules, not data."""

from __future__ import annotations

import subprocess

import pytest

from scanning.builtin.osv import OsvInvalid, advisory_parse, affects
from scanning.tests.advisories import DJANGO, GLIBC


def test_severity_and_score_come_from_the_cvss_vector():
    glibc, django = advisory_parse(GLIBC), advisory_parse(DJANGO)
    assert (glibc.severity, glibc.score) == ("High", 7.8)
    assert (django.severity, django.score, django.aliases) == ("High", 7.5, ("CVE-2023-36053",))


@pytest.mark.parametrize(
    ("version", "hit"),
    [
        ("2.36-9+deb12u1", True),
        ("2.36-9+deb12u2", True),
        ("2.36-9+deb12u3", False),  # the fix
        ("2.36-9+deb12u10", False),  # Debian ordering, not text ("u10" > "u3")
        ("2.36-9", True),
        ("2.35-1", True),
    ],
)
def test_glibc_in_debian_12(version, hit):
    assert affects(advisory_parse(GLIBC), ecosystem="Debian:12", name="glibc", version=version) == (
        hit,
        ["2.36-9+deb12u3"] if hit else [],
    )


def test_a_record_for_another_release_does_not_apply():
    assert affects(advisory_parse(GLIBC), ecosystem="Debian:11", name="glibc", version="2.31-13") == (False, [])


def test_this_machines_glibc_is_fixed():
    version = subprocess.run(
        ["dpkg-query", "-W", "-f", "${source:Version}", "libc6"], capture_output=True, text=True
    ).stdout.strip()
    if not version:
        pytest.skip("needs a Debian dpkg database")
    assert affects(advisory_parse(GLIBC), ecosystem="Debian:12", name="glibc", version=version)[0] is False


@pytest.mark.parametrize(
    ("version", "hit", "fixed"),
    [
        ("3.2.19", True, ["3.2.20"]),
        ("3.2.20", False, []),
        ("4.0", True, ["4.1.10"]),
        ("4.1.9", True, ["4.1.10"]),
        ("4.1.10", False, []),
        ("4.2", True, ["4.2.3"]),
        ("4.2.2", True, ["4.2.3"]),
        ("4.2.3", False, []),
        ("4.2.10", False, []),  # PEP 440 ordering
        ("5.0", False, []),
    ],
)
def test_django_ranges(version, hit, fixed):
    assert affects(advisory_parse(DJANGO), ecosystem="PyPI", name="django", version=version) == (hit, fixed)


def _record(events, versions=(), **extra):  # noqa: ANN001, ANN003, ANN202
    affected = {"package": {"ecosystem": "PyPI", "name": "made-up"}, "versions": list(versions)}
    if events:
        affected["ranges"] = [{"type": "ECOSYSTEM", "events": events}]
    return advisory_parse({"id": "TEST-1", "modified": "2024-01-01T00:00:00Z", "affected": [affected], **extra})


@pytest.mark.parametrize(
    ("version", "hit"), [("0.9", False), ("1.0", True), ("1.5", True), ("1.5.1", False), ("2.0", False)]
)
def test_last_affected_closes_the_interval_after_that_version(version, hit):
    record = _record([{"introduced": "1.0"}, {"last_affected": "1.5"}])
    assert affects(record, ecosystem="PyPI", name="made-up", version=version)[0] is hit


def test_listed_versions_affect_without_a_range_and_withdrawn_records_affect_nothing():
    assert affects(_record([], versions=["1.2.3"]), ecosystem="PyPI", name="made-up", version="1.2.3")[0]
    assert not affects(_record([], versions=["1.2.3"]), ecosystem="PyPI", name="made-up", version="1.2.4")[0]
    withdrawn = _record([{"introduced": "0"}], withdrawn="2024-02-01T00:00:00Z")
    assert affects(withdrawn, ecosystem="PyPI", name="made-up", version="1.0") == (False, [])


def test_unparseable_versions_and_unknown_ecosystems_match_nothing():
    record = _record([{"introduced": "0"}, {"fixed": "2.0"}])
    assert affects(record, ecosystem="PyPI", name="made-up", version="not a version!") == (False, [])
    assert affects(record, ecosystem="Hackage", name="made-up", version="1.0") == (False, [])


@pytest.mark.parametrize(
    "record",
    [
        {},
        {"id": ""},
        {"id": "X", "modified": "yesterday"},
        {"id": "X"},
        [],
    ],
)
def test_records_without_what_matching_needs_are_invalid(record):
    with pytest.raises(OsvInvalid):
        advisory_parse(record)


def test_a_bad_vector_leaves_the_severity_unknown():
    record = advisory_parse({**DJANGO, "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/garbage"}]})
    assert (record.severity, record.score) == ("Unknown", None)
