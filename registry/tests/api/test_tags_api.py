"""listTags, createTag, deleteTag."""

from __future__ import annotations

import pytest

from common.testing.api import basic_client
from registry.models import Tag
from registry.tests.api import builders

pytestmark = pytest.mark.django_db
APP = "/api/v2.0/projects/lib/repositories/app/artifacts"


@pytest.fixture
def app(lib):
    repo = builders.repository("lib/app")
    one = builders.image(repo, tag="v1", seed="1")
    for name in ("a", "b", "c"):
        Tag.objects.create(repository=repo, artifact=one, name=name)
    other = builders.image(repo, tag="other", seed="2")
    return {"repo": repo, "one": one, "other": other}


def test_list_tags_of_an_artifact(app, django_assert_max_num_queries):
    limited = basic_client("limited")  # limitedGuest holds "tag list" in Harbor's matrix
    limited.get(f"{APP}/v1/tags")  # warm the Basic credentials cache
    with django_assert_max_num_queries(8):  # with_immutable_status: one query for the project's rules
        response = limited.get(f"{APP}/v1/tags?sort=name&page_size=3&with_immutable_status=true")
    assert response.status_code == 200, response.content
    assert [t["name"] for t in response.json()] == ["a", "b", "c"]
    assert response["X-Total-Count"] == "4"
    assert all(t["artifact_id"] == app["one"].pk and t["immutable"] is False for t in response.json())
    assert response.json()[0]["pull_time"] == "0001-01-01T00:00:00.000Z"
    assert [t["name"] for t in limited.get(f"{APP}/{app['one'].digest}/tags?q=name%3D~v").json()] == ["v1"]
    assert limited.get(f"{APP}/v1/tags?q=artifact__repository__name%3Dx").status_code == 400
    assert basic_client("outsider").get(f"{APP}/v1/tags").status_code == 404


def test_create_tag(app):
    url = f"{APP}/{app['one'].digest}/tags"
    assert basic_client("guest").post(url, {"name": "new"}, format="json").status_code == 403
    created = basic_client("developer").post(url, {"name": "new"}, format="json")
    assert created.status_code == 201, created.content
    assert created["Location"] == f"{APP}/new"  # the artifact by its new tag: Harbor has no single-tag GET
    assert basic_client("developer").get(created["Location"]).json()["id"] == app["one"].pk
    assert Tag.objects.get(repository=app["repo"], name="new").artifact == app["one"]
    conflict = basic_client("developer").post(url, {"name": "other"}, format="json")
    assert conflict.status_code == 409
    assert conflict.json()["errors"][0]["code"] == "CONFLICT"
    assert Tag.objects.get(name="other").artifact == app["other"]  # untouched
    assert basic_client("developer").post(url, {}, format="json").status_code == 422  # required: go-swagger
    for bad in ({"name": "-x"}, {"name": ""}, {"name": "a" * 129}, {"name": ["x"]}):
        response = basic_client("developer").post(url, bad, format="json")
        assert response.status_code == 400, bad
        assert response.json()["errors"][0]["code"] == "BAD_REQUEST"
    assert basic_client("developer").post(f"{APP}/nosuch/tags", {"name": "x"}, format="json").status_code == 404


def test_delete_tag(app):
    url = f"{APP}/v1/tags/a"
    assert basic_client("developer").delete(url).status_code == 403
    assert basic_client("maintainer").delete(url).status_code == 200
    assert not Tag.objects.filter(name="a").exists()
    # the tag exists but on another artifact
    wrong = basic_client("maintainer").delete(f"{APP}/v1/tags/other")
    assert wrong.status_code == 404
    assert wrong.json()["errors"][0]["code"] == "NOT_FOUND"
    assert Tag.objects.filter(name="other").exists()
    assert basic_client("maintainer").delete(f"{APP}/v1/tags/v1").status_code == 200  # by its own tag
    assert app["one"].__class__.objects.filter(pk=app["one"].pk).exists()  # the artifact stays
