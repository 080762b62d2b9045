"""registry/selectors.py: tag and catalog listings (byte order, pagination, visibility) and lookups."""

from __future__ import annotations

import random

import pytest
from django.db import connection

from projects.models import Role
from projects.permissions import Principal, can
from projects.tests.factories import MemberFactory, ProjectFactory, SysadminFactory, UserFactory
from registry import media_types as mt
from registry.digest import Digest
from registry.errors import BlobUnknown, ManifestUnknown, NameUnknown
from registry.models import Repository
from registry.selectors import blob_size_get, catalog_names, manifest_get, referrers, tag_names
from registry.tests.factories import ArtifactFactory, BlobFactory, RepositoryBlobFactory, RepositoryFactory, TagFactory

pytestmark = pytest.mark.django_db

# Every character class the tag grammar allows, where byte order and natural-language order disagree:
# '-' (0x2d) < '.' (0x2e) < digits < upper case < '_' (0x5f) < lower case.
TAGS = ["latest", "Latest", "LATEST", "v1", "V1", "v1.0", "v1-0", "v1_0", "1.0", "1-0", "1_0", "_x", "Z", "z", "a", "A"]
# Repository names are lower case; '/' (0x2f) sorts between '.' and the digits.
REPOSITORIES = ["a-b", "a.b", "a_b", "a/b", "ab", "a0", "a--b", "a__b"]


def _linguistic_collation() -> str | None:
    with connection.cursor() as cursor:
        for name in ("und-x-icu", "en-x-icu", "en_US.utf8", "en_US"):
            cursor.execute("SELECT 1 FROM pg_collation WHERE collname = %s", [name])
            if cursor.fetchone():
                return name
    return None


@pytest.fixture
def linguistic_collation(db):
    """On PostgreSQL, give the name columns a natural-language collation (as many databases have).

    Test databases here are often created with the C collation, where any ORDER BY is already
    byte order; this makes the byte-order tests able to fail. The DDL rolls back with the test.
    """
    if connection.vendor != "postgresql":
        return None  # SQLite compares with BINARY: byte order is its only order
    collation = _linguistic_collation()
    if collation is None:
        return None
    with connection.cursor() as cursor:
        cursor.execute(f'ALTER TABLE registry_tag ALTER COLUMN name TYPE varchar(128) COLLATE "{collation}"')
        cursor.execute(f'ALTER TABLE registry_repository ALTER COLUMN name TYPE varchar(255) COLLATE "{collation}"')
    return collation


def _column_order(table: str, names: list[str]) -> list[str]:
    """The database's own ORDER BY on the column, to show the collation really differs."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT name FROM {table} WHERE name = ANY(%s) ORDER BY name", [names])
        return [row[0] for row in cursor.fetchall()]


@pytest.fixture
def tagged_repository():
    repository = RepositoryFactory()
    artifact = ArtifactFactory(repository=repository)
    for name in random.Random(7).sample(TAGS, len(TAGS)):
        TagFactory(repository=repository, artifact=artifact, name=name)
    # Tags of another repository never show.
    TagFactory(name="0-other")
    return repository


# --- tags ----------------------------------------------------------------------------------


def test_tags_are_in_byte_order(linguistic_collation, tagged_repository):
    if linguistic_collation:
        assert _column_order("registry_tag", TAGS) != sorted(TAGS)  # the column's own order is not byte order
    names, more = tag_names(repository_name=tagged_repository.name, last=None, limit=None)
    assert names == sorted(TAGS, key=str.encode)
    assert more is False
    assert names[:5] == ["1-0", "1.0", "1_0", "A", "LATEST"]


@pytest.mark.parametrize("page_size", [1, 3, 5, 16, 100])
def test_tags_paginate_with_last(linguistic_collation, tagged_repository, page_size):
    seen: list[str] = []
    last = None
    for _ in range(len(TAGS) + 1):
        page, more = tag_names(repository_name=tagged_repository.name, last=last, limit=page_size)
        assert len(page) == min(page_size, len(TAGS) - len(seen))
        seen += page
        assert more is (len(seen) < len(TAGS))  # `more` says exactly whether another page exists
        if not more:
            break
        last = page[-1]
    assert seen == sorted(TAGS, key=str.encode)
    assert tag_names(repository_name=tagged_repository.name, last=seen[-1], limit=page_size) == ([], False)


@pytest.mark.parametrize("last", ["M", "V", "_", "latest", "v1.", "~"])
def test_tags_after_a_last_that_is_not_a_tag(linguistic_collation, tagged_repository, last):
    expected = [t for t in sorted(TAGS, key=str.encode) if t.encode() > last.encode()]
    assert tag_names(repository_name=tagged_repository.name, last=last, limit=None) == (expected, False)


def test_tags_limit_zero_is_an_empty_page(tagged_repository, django_assert_num_queries):
    # dist-spec: `n=0` is an empty page with no next page announced (more=True made the view read tags[-1])
    with django_assert_num_queries(1):  # no page query; the repository's existence (NAME_UNKNOWN otherwise)
        assert tag_names(repository_name=tagged_repository.name, last=None, limit=0) == ([], False)


def test_tags_page_is_one_query(tagged_repository, django_assert_num_queries):
    with django_assert_num_queries(1):
        page, more = tag_names(repository_name=tagged_repository.name, last="a", limit=5)
    assert (len(page), more) == (5, True)


def test_tags_of_an_empty_repository():
    repository = RepositoryFactory()
    assert tag_names(repository_name=repository.name, last=None, limit=None) == ([], False)
    assert tag_names(repository_name=repository.name, last="x", limit=10) == ([], False)


@pytest.mark.parametrize("last", [None, "a"])
def test_tags_of_an_unknown_repository_is_name_unknown(last):
    with pytest.raises(NameUnknown):
        tag_names(repository_name="nobody/nothing", last=last, limit=10)


# --- catalog -------------------------------------------------------------------------------


@pytest.fixture
def world():
    public = ProjectFactory(name="pub", public=True)
    team = ProjectFactory(name="team")
    other = ProjectFactory(name="other")
    for suffix in random.Random(3).sample(REPOSITORIES, len(REPOSITORIES)):
        RepositoryFactory(project=public, name=f"pub/{suffix}")
    for name in ("team/app", "team/zeta"):
        RepositoryFactory(project=team, name=name)
    RepositoryFactory(project=other, name="other/secret")
    users = {
        "dev": MemberFactory(project=team, role=Role.DEVELOPER).user,
        "limited": MemberFactory(project=other, role=Role.LIMITED_GUEST).user,
        "outsider": UserFactory(),
        "admin": SysadminFactory(),
    }
    return {name: Principal(user) for name, user in users.items()} | {"anonymous": Principal.anonymous()}


PUBLIC = sorted(f"pub/{s}" for s in REPOSITORIES)


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("anonymous", PUBLIC),
        ("outsider", PUBLIC),
        ("dev", sorted([*PUBLIC, "team/app", "team/zeta"])),
        ("limited", sorted([*PUBLIC, "other/secret"])),
        ("admin", sorted([*PUBLIC, "team/app", "team/zeta", "other/secret"])),
    ],
)
def test_catalog_is_filtered_by_visibility_in_byte_order(linguistic_collation, world, who, expected):
    if linguistic_collation:
        assert _column_order("registry_repository", PUBLIC) != PUBLIC
    assert catalog_names(principal=world[who], last=None, limit=None) == (expected, False)


@pytest.mark.parametrize("who", ["anonymous", "outsider", "dev", "limited", "admin"])
def test_catalog_agrees_with_the_permission_oracle(world, who):
    principal = world[who]
    listable = sorted(
        r.name
        for r in Repository.objects.select_related("project")
        if can(principal, "list", "repository", project=r.project)
    )
    assert catalog_names(principal=principal, last=None, limit=None) == (listable, False)


@pytest.mark.parametrize("page_size", [1, 2, 4, 50])
def test_catalog_paginates_with_last(linguistic_collation, world, page_size):
    everything, _ = catalog_names(principal=world["admin"], last=None, limit=None)
    seen: list[str] = []
    last = None
    for _ in range(len(everything) + 1):
        page, more = catalog_names(principal=world["admin"], last=last, limit=page_size)
        assert len(page) == min(page_size, len(everything) - len(seen))
        seen += page
        assert more is (len(seen) < len(everything))
        if not more:
            break
        last = page[-1]
    assert seen == everything


def test_catalog_last_for_anonymous(linguistic_collation, world):
    assert catalog_names(principal=world["anonymous"], last="pub/a.b", limit=2) == (["pub/a/b", "pub/a0"], True)
    assert catalog_names(principal=world["anonymous"], last="pub/ab", limit=None) == ([], False)
    assert catalog_names(principal=world["dev"], last="pub/ab", limit=2) == (["team/app", "team/zeta"], False)


@pytest.mark.parametrize("who", ["anonymous", "dev", "admin"])
def test_catalog_page_is_one_query(world, who, django_assert_num_queries):
    with django_assert_num_queries(1):
        catalog_names(principal=world[who], last=None, limit=3)


# --- lookups -------------------------------------------------------------------------------


def test_manifest_get_by_tag_and_by_digest():
    tag = TagFactory(name="v1")
    artifact = tag.artifact
    by_tag = manifest_get(repository_name=tag.repository.name, reference="v1")
    by_digest = manifest_get(repository_name=tag.repository.name, reference=artifact.digest)
    assert by_tag == by_digest
    assert by_tag.digest == artifact.digest
    assert by_tag.media_type == mt.OCI_MANIFEST
    assert by_tag.content == bytes(artifact.manifest)
    assert Digest.of(by_tag.content) == Digest.parse(by_tag.digest)


def test_manifest_get_unknown_reference_vs_unknown_repository():
    tag = TagFactory(name="v1")
    with pytest.raises(ManifestUnknown):
        manifest_get(repository_name=tag.repository.name, reference="v2")
    with pytest.raises(ManifestUnknown):
        manifest_get(repository_name=tag.repository.name, reference=str(Digest.of(b"nope")))
    with pytest.raises(NameUnknown):
        manifest_get(repository_name="nobody/nothing", reference="v1")
    other = RepositoryFactory()
    with pytest.raises(ManifestUnknown):  # a manifest of another repository is not readable here
        manifest_get(repository_name=other.name, reference=tag.artifact.digest)


def test_blob_size_only_where_linked():
    link = RepositoryBlobFactory(blob=BlobFactory(content=b"12345"))
    digest = Digest.parse(link.blob.digest)
    assert blob_size_get(repository_name=link.repository.name, digest=digest) == 5
    with pytest.raises(BlobUnknown):
        blob_size_get(repository_name=RepositoryFactory().name, digest=digest)


def test_referrers_filtered_by_artifact_type():
    subject = ArtifactFactory()
    repository = subject.repository
    sbom = ArtifactFactory(
        repository=repository,
        subject_digest=subject.digest,
        artifact_type="application/spdx+json",
        annotations={"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
    )
    signature = ArtifactFactory(repository=repository, subject_digest=subject.digest, artifact_type="application/sig")
    ArtifactFactory(subject_digest=subject.digest)  # same subject digest, other repository
    digest = Digest.parse(subject.digest)
    listed = referrers(repository_name=repository.name, digest=digest, artifact_type=None)
    assert [d["digest"] for d in listed] == [sbom.digest, signature.digest]
    assert listed[0] == {
        "mediaType": mt.OCI_MANIFEST,
        "digest": sbom.digest,
        "size": sbom.manifest_size,
        "artifactType": "application/spdx+json",
        "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"},
    }
    only = referrers(repository_name=repository.name, digest=digest, artifact_type="application/sig")
    assert [d["digest"] for d in only] == [signature.digest]
    assert referrers(repository_name=repository.name, digest=Digest.of(b"x"), artifact_type=None) == []
    with pytest.raises(NameUnknown):
        referrers(repository_name="nobody/nothing", digest=digest, artifact_type=None)
