"""The labels API (global: sysadmins; project: the project's label permissions) and addLabel/removeLabel."""

from __future__ import annotations

import pytest

from common.testing.api import basic_client
from projects.services import project_create
from registry.models import ArtifactLabel, Label
from registry.tests.api import builders

pytestmark = pytest.mark.django_db
API = "/api/v2.0"


def _create(user: str, body: dict):  # noqa: ANN202
    return basic_client(user).post(f"{API}/labels", body, format="json")


def test_global_labels_are_sysadmins(lib):
    refused = _create("padmin", {"name": "prod", "scope": "g", "color": "#00ff00"})
    assert refused.status_code == 403
    assert _create(None, {"name": "prod", "scope": "g"}).status_code == 401
    created = _create("root", {"name": "prod", "scope": "g", "color": "#00ff00", "description": "production"})
    assert created.status_code == 201, created.content
    label = Label.objects.get(name="prod")
    assert created["Location"] == f"/api/v2.0/labels/{label.pk}"
    assert label.scope == "g"
    assert label.project is None
    body = basic_client("root").get(f"{API}/labels/{label.pk}").json()
    assert set(body) == {"id", "name", "description", "color", "scope", "project_id", "creation_time", "update_time"}
    assert (body["name"], body["color"], body["scope"], body["project_id"]) == ("prod", "#00ff00", "g", 0)
    # anyone lists global labels; reading one by id is a system permission in Harbor
    assert [x["name"] for x in basic_client("guest").get(f"{API}/labels?scope=g").json()] == ["prod"]
    assert [x["name"] for x in basic_client(None).get(f"{API}/labels?scope=g").json()] == ["prod"]
    assert basic_client("guest").get(f"{API}/labels/{label.pk}").status_code == 403
    conflict = _create("root", {"name": "prod", "scope": "g"})
    assert conflict.status_code == 409
    assert conflict.json()["errors"][0]["code"] == "CONFLICT"
    assert basic_client("padmin").put(f"{API}/labels/{label.pk}", {"name": "x"}, format="json").status_code == 403
    updated = basic_client("root").put(
        f"{API}/labels/{label.pk}", {"name": "production", "color": "#fff"}, format="json"
    )
    assert updated.status_code == 200
    label.refresh_from_db()
    assert (label.name, label.color, label.description) == ("production", "#fff", "")
    assert basic_client("padmin").delete(f"{API}/labels/{label.pk}").status_code == 403
    assert basic_client("root").delete(f"{API}/labels/{label.pk}").status_code == 200
    assert basic_client("root").get(f"{API}/labels/{label.pk}").status_code == 404


def test_project_labels_follow_the_project_role(lib):
    body = {"name": "team", "scope": "p", "project_id": lib.pk}
    for user in ("developer", "guest", "limited"):
        assert _create(user, body).status_code == 403, user
    assert _create("outsider", body).status_code == 404
    created = _create("maintainer", body)
    assert created.status_code == 201, created.content
    label = Label.objects.get(name="team")
    assert label.project == lib
    assert _create("padmin", {**body, "name": "other"}).status_code == 201
    # the same name may exist globally and in another project
    assert _create("root", {"name": "team", "scope": "g"}).status_code == 201
    assert _create("maintainer", body).status_code == 409
    url = f"{API}/labels?scope=p&project_id={lib.pk}"
    listed = basic_client("guest").get(url + "&sort=name")
    assert [x["name"] for x in listed.json()] == ["other", "team"]
    assert listed["X-Total-Count"] == "2"
    assert [x["name"] for x in basic_client("guest").get(url + "&name=tea").json()] == ["team"]
    assert basic_client("limited").get(url).status_code == 403  # limitedGuest has no label permissions
    assert basic_client("outsider").get(url).status_code == 404
    assert basic_client("guest").get(f"{API}/labels/{label.pk}").json()["project_id"] == lib.pk
    assert basic_client("outsider").get(f"{API}/labels/{label.pk}").status_code == 404
    assert basic_client("developer").delete(f"{API}/labels/{label.pk}").status_code == 403
    assert basic_client("maintainer").delete(f"{API}/labels/{label.pk}").status_code == 200


def test_label_bad_input(lib):
    for body in (
        {"name": "", "scope": "g"},
        {"name": "x" * 129, "scope": "g"},
        {"name": "x", "scope": "z"},
        {"name": "x", "scope": "p"},
        {"name": "x", "scope": "p", "project_id": 999999},
        {"name": ["x"], "scope": "g"},
    ):
        response = _create("root", body)
        assert response.status_code == 400, body
        assert response.json()["errors"][0]["code"] == "BAD_REQUEST"
    assert basic_client("guest").get(f"{API}/labels").status_code == 400  # scope is required
    assert basic_client("guest").get(f"{API}/labels?scope=p").status_code == 400  # and a project for p
    assert basic_client("guest").get(f"{API}/labels?scope=g&q=project__name%3Dx").status_code == 400
    assert basic_client("root").get(f"{API}/labels/999999").status_code == 404


def test_add_and_remove_artifact_labels(lib):
    repo = builders.repository("lib/app")
    builders.image(repo, tag="v1")
    mine = Label.objects.create(name="mine", scope="p", project=lib)
    shared = Label.objects.create(name="shared", scope="g")
    elsewhere = Label.objects.create(name="theirs", scope="p", project=project_create(name="other"))
    url = f"{API}/projects/lib/repositories/app/artifacts/v1/labels"
    assert basic_client("guest").post(url, {"id": mine.pk}, format="json").status_code == 403
    assert basic_client("developer").post(url, {"id": mine.pk}, format="json").status_code == 200
    assert basic_client("developer").post(url, {"id": shared.pk}, format="json").status_code == 200
    again = basic_client("developer").post(url, {"id": mine.pk}, format="json")
    assert again.status_code == 409
    assert basic_client("developer").post(url, {"id": elsewhere.pk}, format="json").status_code == 404
    assert basic_client("developer").post(url, {"id": 999999}, format="json").status_code == 404
    assert basic_client("developer").post(url, {}, format="json").status_code == 400
    body = basic_client("guest").get(f"{API}/projects/lib/repositories/app/artifacts/v1?with_label=true").json()
    assert sorted(x["name"] for x in body["labels"]) == ["mine", "shared"]
    assert basic_client("guest").delete(f"{url}/{mine.pk}").status_code == 403
    assert basic_client("developer").delete(f"{url}/{mine.pk}").status_code == 200
    assert basic_client("developer").delete(f"{url}/{mine.pk}").status_code == 404
    assert list(ArtifactLabel.objects.values_list("label__name", flat=True)) == ["shared"]
    # deleting a label takes it off every artifact
    assert basic_client("root").delete(f"{API}/labels/{shared.pk}").status_code == 200
    assert not ArtifactLabel.objects.exists()
