"""Lists cost a fixed number of queries: no N+1 over artifacts, tags, labels, references or accessories."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common.testing.api import basic_client
from registry import media_types as mt
from registry.api.filters import artifact_filter
from registry.api_selectors.artifacts import artifact_list
from registry.api_selectors.details import ArtifactOptions, artifact_details
from registry.digest import Digest
from registry.models import Artifact, ArtifactLabel, ArtifactReference, Label, Repository, Tag
from registry.tests.api import builders

pytestmark = pytest.mark.django_db
APP = "/api/v2.0/projects/lib/repositories/app/artifacts"
ALL_OPTIONS = "with_tag=true&with_label=true&with_accessory=true&with_immutable_status=true&with_scan_overview=true"


@pytest.fixture
def busy(lib):
    """210 images, each with two tags and a label; every third signed; a few indexes over them."""
    repo = builders.repository("lib/app")
    labels = [Label.objects.create(name=f"l{i}", scope="p", project=lib) for i in range(3)]
    images = []
    for i in range(210):
        artifact = builders.image(repo, tag=f"v{i}", seed=str(i))
        Tag.objects.create(repository=repo, artifact=artifact, name=f"alias{i}")
        ArtifactLabel.objects.create(artifact=artifact, label=labels[i % 3])
        if i % 3 == 0:
            builders.signature(repo, artifact)
        images.append(artifact)
    for i in range(5):
        builders.index(repo, [(images[i], {"architecture": "amd64", "os": "linux"})], tag=f"multi{i}")
    return repo


def test_list_artifacts_budget_at_200_plus(busy, django_assert_max_num_queries):
    developer = basic_client("developer")
    first = developer.get(f"{APP}?page_size=100&{ALL_OPTIONS}")  # fills extra_attrs for the page
    assert first.status_code == 200, first.content
    assert first["X-Total-Count"] == "215"
    # user, project, roles, repository, count, page, references, tags, immutability rules, labels, accessories (2)
    with django_assert_max_num_queries(12):
        page = developer.get(f"{APP}?page_size=100&{ALL_OPTIONS}")
    body = page.json()
    assert len(body) == 100
    assert all(
        len(a["tags"]) == 2 and len(a["labels"]) == 1 for a in body if a["type"] == "IMAGE" and "references" not in a
    )
    assert any(a.get("accessories") for a in body)
    assert any(a["references"] for a in body)
    with django_assert_max_num_queries(13):  # a cold page: one extra UPDATE for the new extra_attrs
        assert developer.get(f"{APP}?page_size=100&page=2&{ALL_OPTIONS}").status_code == 200
    assert Artifact.objects.filter(repository=busy, extra_attrs__isnull=True).count() < 215


def test_list_repositories_budget(lib, django_assert_max_num_queries):
    for i in range(30):
        repo = builders.repository(f"lib/r{i:02d}")
        builders.image(repo, tag="1", seed=str(i))
    basic_client("guest").get("/api/v2.0/repositories")  # warm the Basic credentials cache
    # user, project, roles, count, page (artifact counts are a subquery)
    with django_assert_max_num_queries(5):
        response = basic_client("guest").get("/api/v2.0/projects/lib/repositories?page_size=100")
    assert [r["artifact_count"] for r in response.json()] == [1] * 30
    with django_assert_max_num_queries(3):  # user, count, page
        assert len(basic_client("guest").get("/api/v2.0/repositories?page_size=100").json()) == 30


def _bulk_repository(project, name: str, count: int) -> Repository:  # noqa: ANN001
    """`count` artifacts written with bulk inserts: tags, labels, signatures, and an index over some."""
    repo = Repository.objects.create(project=project, name=name)
    label = Label.objects.create(name=f"{name}-label", scope="p", project=project)
    rows = []
    for i in range(count):
        body = json.dumps(
            {"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "config": {}, "layers": [], "n": i}
        ).encode()
        rows.append(
            Artifact(
                repository=repo,
                digest=str(Digest.of(body)),
                media_type=mt.OCI_MANIFEST,
                manifest=body,
                manifest_size=len(body),
                size=len(body),
                extra_attrs={},
            )
        )
    artifacts = Artifact.objects.bulk_create(rows, batch_size=2000)
    Tag.objects.bulk_create([Tag(repository=repo, artifact=a, name=f"t{a.pk}") for a in artifacts], batch_size=2000)
    ArtifactLabel.objects.bulk_create([ArtifactLabel(artifact=a, label=label) for a in artifacts], batch_size=2000)
    signatures = []
    for a in artifacts[::10]:
        body = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_MANIFEST, "sig": a.digest}).encode()
        signatures.append(
            Artifact(
                repository=repo,
                digest=str(Digest.of(body)),
                media_type=mt.OCI_MANIFEST,
                manifest=body,
                manifest_size=len(body),
                size=len(body),
                subject_digest=a.digest,
                extra_attrs={},
            )
        )
    Artifact.objects.bulk_create(signatures, batch_size=2000)
    index_body = json.dumps({"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": []}).encode()
    index = Artifact.objects.create(
        repository=repo,
        digest=str(Digest.of(index_body)),
        media_type=mt.OCI_INDEX,
        manifest=index_body,
        manifest_size=len(index_body),
        size=len(index_body),
        extra_attrs={},
    )
    ArtifactReference.objects.bulk_create([ArtifactReference(parent=index, child=a) for a in artifacts[:50]])
    return repo


def _queries_for_page(repo: Repository) -> tuple[int, int]:
    options = ArtifactOptions(with_tag=True, with_label=True, with_accessory=True, with_immutable_status=True)
    with CaptureQueriesContext(connection) as captured:
        queryset = artifact_filter(artifact_list(repository=repo), q="tags=*", sort=None)
        total = queryset.count()
        details = artifact_details(artifacts=list(queryset[:100]), options=options)
    assert all(d.tags and d.labels for d in details)
    return len(captured), total


def test_artifact_list_selector_is_constant_at_10000(lib):
    small = _bulk_repository(lib, "lib/small", 20)
    large = _bulk_repository(lib, "lib/large", 10_000)
    small_queries, small_total = _queries_for_page(small)
    large_queries, large_total = _queries_for_page(large)
    assert (small_total, large_total) == (20, 10_000)
    assert large_queries == small_queries
    assert large_queries <= 7
