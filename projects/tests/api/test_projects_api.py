"""/api/v2.0/projects through the API, with Basic credentials."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from common.testing.api import basic_client
from projects.models import Member, Project, Quota, Role
from projects.services import member_set, project_create
from registry.models import Repository

pytestmark = pytest.mark.django_db
PW = "pw-Secret-1"


@pytest.fixture
def users():
    model = get_user_model()
    admin = model.objects.create_superuser("root", "root@x", PW)
    alice = model.objects.create_user("alice", password=PW)
    bob = model.objects.create_user("bob", password=PW)
    return {"admin": admin, "alice": alice, "bob": bob}


def test_create_get_update_delete_project(users):
    alice = basic_client("alice")
    created = alice.post(
        "/api/v2.0/projects",
        {"project_name": "alpha", "metadata": {"public": "false"}, "storage_limit": 1024},
        format="json",
    )
    assert created.status_code == 201, created.content
    project = Project.objects.get(name="alpha")
    assert created["Location"] == f"/api/v2.0/projects/{project.pk}"
    assert Member.objects.get(project=project).role == Role.PROJECT_ADMIN
    assert Quota.objects.get(project=project).hard == -1  # only sysadmins choose a quota
    by_admin = basic_client("root").post(
        "/api/v2.0/projects", {"project_name": "capped", "storage_limit": 1024}, format="json"
    )
    assert by_admin.status_code == 201
    assert Quota.objects.get(project__name="capped").hard == 1024
    managed = alice.put("/api/v2.0/projects/alpha", {"metadata": {"retention_id": "7"}}, format="json")
    assert managed.status_code == 400
    body = alice.get("/api/v2.0/projects/alpha").json()
    assert body["name"] == "alpha"
    assert body["project_id"] == project.pk
    assert body["owner_name"] == "alice"
    assert body["metadata"]["public"] == "false"
    assert body["current_user_role_id"] == 1
    assert body["current_user_role_ids"] == [1]
    assert alice.get(f"/api/v2.0/projects/{project.pk}").json()["name"] == "alpha"
    assert (
        alice.put(
            "/api/v2.0/projects/alpha", {"metadata": {"public": "true", "auto_scan": "true"}}, format="json"
        ).status_code
        == 200
    )
    project.refresh_from_db()
    assert project.public
    assert project.metadata["auto_scan"] == "true"
    assert alice.delete("/api/v2.0/projects/alpha").status_code == 200
    assert not Project.objects.filter(name="alpha").exists()


def test_create_errors(users):
    alice = basic_client("alice")
    assert alice.post("/api/v2.0/projects", {"project_name": "Bad Name"}, format="json").status_code == 400
    assert alice.post("/api/v2.0/projects", {"project_name": "dup"}, format="json").status_code == 201
    conflict = alice.post("/api/v2.0/projects", {"project_name": "dup"}, format="json")
    assert conflict.status_code == 409
    assert conflict.json()["errors"][0]["code"] == "CONFLICT"
    bad_meta = alice.post("/api/v2.0/projects", {"project_name": "m", "metadata": {"owner": "root"}}, format="json")
    assert bad_meta.status_code == 400
    assert bad_meta.json()["errors"][0]["code"] == "BAD_REQUEST"
    anonymous = basic_client(None).post("/api/v2.0/projects", {"project_name": "anon"}, format="json")
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["code"] == "UNAUTHORIZED"


def test_list_is_scoped_paged_and_filtered(users, django_assert_max_num_queries):
    for i in range(12):
        project_create(name=f"p{i:02d}", public=i % 2 == 0)
    member_set(project=Project.objects.get(name="p01"), user=users["alice"], role=Role.GUEST)
    alice = basic_client("alice")
    with django_assert_max_num_queries(6):
        page = alice.get("/api/v2.0/projects?page=1&page_size=5")
    names = [p["name"] for p in page.json()]
    assert page["X-Total-Count"] == "7"  # six public + the private one she's a guest of
    assert names == ["p00", "p01", "p02", "p04", "p06"]
    assert 'rel="next"' in page["Link"]
    assert [p["name"] for p in alice.get("/api/v2.0/projects?q=name=~p1").json()] == ["p10"]
    assert [p["name"] for p in alice.get("/api/v2.0/projects?public=false").json()] == ["p01"]
    assert alice.get("/api/v2.0/projects?sort=-name&page_size=1").json()[0]["name"] == "p10"
    refused = alice.get("/api/v2.0/projects?q=owner__password=x")
    assert refused.status_code == 400
    assert basic_client("root").get("/api/v2.0/projects")["X-Total-Count"] == "12"
    assert basic_client(None).get("/api/v2.0/projects")["X-Total-Count"] == "6"


def test_private_project_invisible_to_outsiders(users):
    project_create(name="secret", owner=users["alice"])
    assert basic_client("bob").get("/api/v2.0/projects/secret").status_code == 404
    assert basic_client(None).get("/api/v2.0/projects/secret").status_code == 401
    assert basic_client("bob").delete("/api/v2.0/projects/secret").status_code == 404
    member_set(project=Project.objects.get(name="secret"), user=users["bob"], role=Role.DEVELOPER)
    assert basic_client("bob").get("/api/v2.0/projects/secret").status_code == 200
    assert basic_client("bob").delete("/api/v2.0/projects/secret").status_code == 403


def test_head_deletable_summary(users):
    project = project_create(name="full", owner=users["alice"], storage_limit=2048)
    Repository.objects.create(name="full/app", project=project)
    alice = basic_client("alice")
    assert alice.head("/api/v2.0/projects?project_name=full").status_code == 200
    assert alice.head("/api/v2.0/projects?project_name=nope").status_code == 404
    assert alice.get("/api/v2.0/projects/full/_deletable").json() == {
        "deletable": False,
        "message": "the project contains repositories",
    }
    refused = alice.delete("/api/v2.0/projects/full")
    assert refused.status_code == 412
    assert refused.json()["errors"][0]["code"] == "PRECONDITION"
    summary = alice.get("/api/v2.0/projects/full/summary").json()
    assert summary["repo_count"] == 1
    assert summary["project_admin_count"] == 1
    assert summary["quota"] == {"hard": {"storage": 2048}, "used": {"storage": 0}}
