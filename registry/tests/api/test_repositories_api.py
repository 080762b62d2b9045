"""listAllRepositories, listRepositories, getRepository, updateRepository, deleteRepository."""

from __future__ import annotations

import pytest

from common.testing.api import basic_client
from projects.models import Quota
from projects.quotas import quota_usage
from projects.services import project_create
from registry.models import Artifact, ArtifactReference, Blob, Repository, RepositoryBlob, Tag
from registry.tests.api import builders

pytestmark = pytest.mark.django_db
API = "/api/v2.0"


@pytest.fixture
def content(lib):
    app = builders.repository("lib/app")
    one = builders.image(app, tag="v1", seed="1")
    builders.image(app, tag="v2", seed="2")
    builders.signature(app, one)  # an accessory: not counted
    nested = builders.repository("lib/team/api")
    amd = builders.image(nested, seed="amd")
    arm = builders.image(nested, seed="arm")
    builders.index(
        nested,
        [(amd, {"architecture": "amd64", "os": "linux"}), (arm, {"architecture": "arm64", "os": "linux"})],
        tag="latest",
    )
    return {"app": app, "nested": nested}


def test_get_repository_json(content):
    response = basic_client("guest").get(f"{API}/projects/lib/repositories/app")
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {
        "id",
        "project_id",
        "name",
        "description",
        "artifact_count",
        "pull_count",
        "creation_time",
        "update_time",
    }
    assert body["name"] == "lib/app"
    assert body["project_id"] == content["app"].project_id
    assert body["artifact_count"] == 2  # the signature is an accessory
    assert body["pull_count"] == 0


def test_nested_name_is_encoded_twice(content):
    guest = basic_client("guest")
    body = guest.get(f"{API}/projects/lib/repositories/team%252Fapi").json()
    assert body["name"] == "lib/team/api"
    assert body["artifact_count"] == 1  # the index; its untagged children are not listed
    assert guest.get(f"{API}/projects/lib/repositories/team%2Fapi").status_code == 404  # once is not enough


def test_list_repositories_of_project_sorted_filtered_paged(content, django_assert_max_num_queries):
    guest = basic_client("guest")
    guest.get(f"{API}/projects/lib/repositories")  # warm the Basic credentials cache
    with django_assert_max_num_queries(7):
        response = guest.get(f"{API}/projects/lib/repositories?sort=name")
    assert response["X-Total-Count"] == "2"
    assert [r["name"] for r in response.json()] == ["lib/app", "lib/team/api"]
    default = guest.get(f"{API}/projects/lib/repositories").json()
    assert [r["name"] for r in default] == ["lib/team/api", "lib/app"]  # newest first, as Harbor
    fuzzy = guest.get(f"{API}/projects/lib/repositories?q=name%3D~team").json()
    assert [r["name"] for r in fuzzy] == ["lib/team/api"]
    paged = guest.get(f"{API}/projects/lib/repositories?sort=name&page=2&page_size=1")
    assert [r["name"] for r in paged.json()] == ["lib/team/api"]
    assert 'rel="prev"' in paged["Link"]
    bad = guest.get(f"{API}/projects/lib/repositories?q=project__owner__password%3Dx")
    assert bad.status_code == 400
    assert bad.json()["errors"][0]["code"] == "BAD_REQUEST"
    assert guest.get(f"{API}/projects/lib/repositories?sort=secret").status_code == 400


def test_list_all_repositories_only_visible(content, users, django_assert_max_num_queries):
    other = project_create(name="pub", public=True)
    builders.image(builders.repository("pub/tool"), tag="1")
    project_create(name="hidden")
    builders.image(builders.repository("hidden/x"), tag="1")
    assert other.public
    basic_client("guest").get(f"{API}/repositories")  # warm the Basic credentials cache
    with django_assert_max_num_queries(5):
        guest = basic_client("guest").get(f"{API}/repositories?sort=name")
    assert [r["name"] for r in guest.json()] == ["lib/app", "lib/team/api", "pub/tool"]
    assert guest["X-Total-Count"] == "3"
    assert [r["name"] for r in basic_client("outsider").get(f"{API}/repositories").json()] == ["pub/tool"]
    assert [r["name"] for r in basic_client(None).get(f"{API}/repositories").json()] == ["pub/tool"]
    assert basic_client("root").get(f"{API}/repositories")["X-Total-Count"] == "4"


def test_private_project_hidden_and_roles_refused(content):
    assert basic_client("outsider").get(f"{API}/projects/lib/repositories").status_code == 404
    anonymous = basic_client(None).get(f"{API}/projects/lib/repositories/app")
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["code"] == "UNAUTHORIZED"
    assert basic_client("limited").get(f"{API}/projects/lib/repositories/app").status_code == 200
    assert basic_client("guest").get(f"{API}/projects/nope/repositories").status_code == 404
    missing = basic_client("guest").get(f"{API}/projects/lib/repositories/nope")
    assert missing.status_code == 404
    assert missing.json()["errors"][0]["code"] == "NOT_FOUND"


def test_update_description(content):
    url = f"{API}/projects/lib/repositories/app"
    refused = basic_client("guest").put(url, {"description": "x"}, format="json")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "FORBIDDEN"
    response = basic_client("developer").put(url, {"description": 'Our <b>app</b> & "more"'}, format="json")
    assert response.status_code == 200, response.content
    assert basic_client("guest").get(url).json()["description"] == "Our &lt;b&gt;app&lt;/b&gt; &amp; &#34;more&#34;"
    bad = basic_client("developer").put(url, {"description": ["not", "text"]}, format="json")
    assert bad.status_code == 400


def test_delete_repository_with_artifacts_tags_and_quota(content):
    nested = content["nested"]
    lib = Quota.objects.get(project__name="lib").project_id
    used_before = quota_usage(project_id=lib)
    nested_blobs = set(RepositoryBlob.objects.filter(repository=nested).values_list("blob_id", flat=True))
    nested_size = sum(Blob.objects.filter(pk__in=nested_blobs).values_list("size", flat=True))
    url = f"{API}/projects/lib/repositories/team%252Fapi"
    for user in ("guest", "developer"):
        assert basic_client(user).delete(url).status_code == 403
    response = basic_client("maintainer").delete(url)
    assert response.status_code == 200, response.content
    assert not Repository.objects.filter(name="lib/team/api").exists()
    assert not Artifact.objects.filter(repository_id=nested.pk).exists()
    assert not Tag.objects.filter(repository_id=nested.pk).exists()
    assert not ArtifactReference.objects.filter(parent__repository_id=nested.pk).exists()
    assert quota_usage(project_id=lib) == used_before - nested_size
    assert basic_client("maintainer").delete(url).status_code == 404
    assert Repository.objects.filter(name="lib/app").exists()
