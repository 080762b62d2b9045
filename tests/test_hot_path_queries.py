"""Query budgets for the hot /v2/ paths (manifest GET/HEAD, blob HEAD, tags list) with a bearer token."""

from __future__ import annotations

import pytest

from projects.tests.factories import ProjectFactory
from registry.auth.scopes import Scope
from registry.auth.token import token_issue
from registry.models import Tag
from registry.tests.factories import ArtifactFactory, BlobFactory, RepositoryBlobFactory, RepositoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def repo_with_image():
    repository = RepositoryFactory(name="hot/app", project=ProjectFactory(name="hot"))
    blob = RepositoryBlobFactory(repository=repository, blob=BlobFactory(content=b"0123456789")).blob
    artifact = ArtifactFactory(repository=repository)
    Tag.objects.bulk_create([Tag(repository=repository, name=f"t{i:05d}", artifact=artifact) for i in range(10_000)])
    token, _, _ = token_issue(subject="someone", access=[Scope("repository", "hot/app", frozenset({"pull"}))])
    return {"auth": f"Bearer {token}", "artifact": artifact, "blob": blob}


def test_manifest_get_by_tag_is_one_query(client, repo_with_image, django_assert_max_num_queries):
    auth = repo_with_image["auth"]
    client.get("/v2/hot/app/manifests/t00001", HTTP_AUTHORIZATION=auth)  # warm the token cache
    with django_assert_max_num_queries(1):
        response = client.get("/v2/hot/app/manifests/t00001", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200
    assert response["Docker-Content-Digest"] == repo_with_image["artifact"].digest
    with django_assert_max_num_queries(1):
        assert (
            client.head(
                f"/v2/hot/app/manifests/{repo_with_image['artifact'].digest}", HTTP_AUTHORIZATION=auth
            ).status_code
            == 200
        )


def test_blob_head_is_one_query(client, repo_with_image, django_assert_max_num_queries):
    auth = repo_with_image["auth"]
    with django_assert_max_num_queries(1):
        response = client.head(f"/v2/hot/app/blobs/{repo_with_image['blob'].digest}", HTTP_AUTHORIZATION=auth)
    assert response.status_code == 200
    assert response["Content-Length"] == "10"


def test_tags_list_is_one_query_at_any_size(client, repo_with_image, django_assert_max_num_queries):
    auth = repo_with_image["auth"]
    with django_assert_max_num_queries(1):
        response = client.get("/v2/hot/app/tags/list", HTTP_AUTHORIZATION=auth)
    assert len(response.json()["tags"]) == 10_000
    with django_assert_max_num_queries(1):
        page = client.get("/v2/hot/app/tags/list?n=100&last=t00100", HTTP_AUTHORIZATION=auth)
    assert page.json()["tags"][0] == "t00101"
    assert page["Link"] == '</v2/hot/app/tags/list?n=100&last=t00200>; rel="next"'
