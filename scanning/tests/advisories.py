"""Real advisories in OSV form, written from their public sources (field values, not invented).

CVE-2023-4911 ("Looney Tunables", glibc): fixed for Debian 12 in 2.36-9+deb12u3 by DSA-5514-1; NVD
vector CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H (7.8). CVE-2023-36053 (Django EmailValidator/
URLValidator ReDoS, GHSA-jh3w-4vvf-mjgr): fixed in Django 3.2.20, 4.1.10 and 4.2.3; vector
CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H (7.5).
"""

GLIBC = {
    "schema_version": "1.6.0",
    "id": "CVE-2023-4911",
    "aliases": ["DSA-5514-1"],
    "modified": "2023-10-03T18:15:00Z",
    "published": "2023-10-03T18:15:00Z",
    "summary": "glibc: buffer overflow in ld.so leading to privilege escalation (GLIBC_TUNABLES)",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:L/AC:L/PR:L/UI:N/S:U/C:H/I:H/A:H"}],
    "affected": [
        {
            "package": {"ecosystem": "Debian:12", "name": "glibc", "purl": "pkg:deb/debian/glibc?arch=source"},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.36-9+deb12u3"}]}],
        }
    ],
}

DJANGO = {
    "id": "GHSA-jh3w-4vvf-mjgr",
    "aliases": ["CVE-2023-36053"],
    "modified": "2023-07-03T13:00:00Z",
    "summary": "Django has regular expression denial of service vulnerability in EmailValidator/URLValidator",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}],
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "django"},
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.2.20"}]},
                {"type": "ECOSYSTEM", "events": [{"introduced": "4.0"}, {"fixed": "4.1.10"}]},
                {"type": "ECOSYSTEM", "events": [{"introduced": "4.2"}, {"fixed": "4.2.3"}]},
            ],
        }
    ],
}
