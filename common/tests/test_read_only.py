"""Read-only mode in process: every write on /v2/ and on the API is 403 DENIED, reads keep working."""

from __future__ import annotations

import json
import uuid

import pytest

from common.configuration import READ_ONLY_MESSAGE
from common.testing.api import basic_client
from projects.models import Project
from projects.tests.factories import PASSWORD, MemberFactory, ProjectFactory, SysadminFactory, UserFactory
from registry.auth.scopes import Scope
from registry.auth.token import token_issue
from registry.tests.factories import BlobFactory, RepositoryBlobFactory, RepositoryFactory, TagFactory
from system.configuration import config_update

pytestmark = pytest.mark.django_db

DENIED = {"errors": [{"code": "DENIED", "message": READ_ONLY_MESSAGE}]}


@pytest.fixture
def world():
    admin = SysadminFactory(username="root")
    dev = UserFactory(username="dev")
    project = ProjectFactory(name="team")
    MemberFactory(project=project, user=dev)
    repository = RepositoryFactory(project=project, name="team/app")
    tag = TagFactory(repository=repository, name="v1")
    blob = BlobFactory()
    RepositoryBlobFactory(repository=repository, blob=blob)
    return {"admin": admin, "dev": dev, "project": project, "tag": tag, "blob": blob}


def bearer(actions: str, name: str = "team/app") -> str:
    token, _, _ = token_issue(subject="dev", access=[Scope("repository", name, frozenset(actions.split(",")))])
    return f"Bearer {token}"


def v2_writes(world) -> list[tuple[str, str, dict]]:
    digest = world["tag"].artifact.digest
    manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json"})
    upload = f"/v2/team/app/blobs/uploads/{uuid.uuid4()}"
    return [
        ("post", "/v2/team/app/blobs/uploads/", {}),
        ("patch", upload, {"data": b"chunk", "content_type": "application/octet-stream"}),
        ("put", f"{upload}?digest={world['blob'].digest}", {}),
        ("delete", upload, {}),
        ("put", "/v2/team/app/manifests/v2", {"data": manifest, "content_type": "application/json"}),
        ("delete", f"/v2/team/app/manifests/{digest}", {}),
        ("delete", f"/v2/team/app/blobs/{world['blob'].digest}", {}),
    ]


def test_v2_writes_are_denied_and_reads_work(client, world):
    config_update(changes={"read_only": True}, user=world["admin"])
    auth = bearer("pull,push,delete")
    for method, path, extra in v2_writes(world):
        response = getattr(client, method)(path, HTTP_AUTHORIZATION=auth, **extra)
        assert response.status_code == 403, (method, path, response.content)
        assert response.json() == DENIED, (method, path)
        assert response["Docker-Distribution-API-Version"] == "registry/2.0"
    anonymous = client.post("/v2/team/app/blobs/uploads/")  # refused as read-only, not as unauthenticated
    assert anonymous.status_code == 403
    assert anonymous.json() == DENIED
    pulled = client.get("/v2/team/app/manifests/v1", HTTP_AUTHORIZATION=bearer("pull"))
    assert pulled.status_code == 200
    assert pulled["Docker-Content-Digest"] == world["tag"].artifact.digest
    assert client.get("/v2/team/app/tags/list", HTTP_AUTHORIZATION=bearer("pull")).json()["tags"] == ["v1"]
    head = client.head(f"/v2/team/app/blobs/{world['blob'].digest}", HTTP_AUTHORIZATION=bearer("pull"))
    assert head.status_code == 200


def test_v2_push_works_again_when_switched_off(client, world):
    config_update(changes={"read_only": True}, user=world["admin"])
    assert client.post("/v2/team/app/blobs/uploads/", HTTP_AUTHORIZATION=bearer("pull,push")).status_code == 403
    config_update(changes={"read_only": False}, user=world["admin"])
    started = client.post("/v2/team/app/blobs/uploads/", HTTP_AUTHORIZATION=bearer("pull,push"))
    assert started.status_code == 202, started.content


def test_v2_read_only_check_costs_no_query_per_request(client, world, django_assert_num_queries):
    config_update(changes={"read_only": True}, user=world["admin"])
    auth = bearer("pull,push")
    client.post("/v2/team/app/blobs/uploads/", HTTP_AUTHORIZATION=auth)  # warms the snapshot
    with django_assert_num_queries(0):
        for _ in range(5):
            assert client.post("/v2/team/app/blobs/uploads/", HTTP_AUTHORIZATION=auth).status_code == 403


def test_api_writes_are_denied_and_reads_work(world):
    config_update(changes={"read_only": True}, user=world["admin"])
    admin, dev = basic_client("root", PASSWORD), basic_client("dev", PASSWORD)
    for client in (admin, dev):
        created = client.post("/api/v2.0/projects", {"project_name": "newone"}, format="json")
        assert created.status_code == 403, created.content
        assert created.json() == DENIED
    deleted = admin.delete("/api/v2.0/projects/team")
    assert deleted.status_code == 403
    assert deleted.json() == DENIED
    updated = admin.put("/api/v2.0/projects/team", {"metadata": {"public": "true"}}, format="json")
    assert updated.json() == DENIED
    assert not Project.objects.filter(name="newone").exists()
    assert not Project.objects.get(name="team").public
    assert dev.get("/api/v2.0/projects").status_code == 200
    assert admin.get("/api/v2.0/projects/team").json()["name"] == "team"


def test_configurations_can_be_changed_in_read_only_mode_by_an_admin_only(world):
    config_update(changes={"read_only": True}, user=world["admin"])
    refused = basic_client("dev", PASSWORD).put("/api/v2.0/configurations", {"read_only": False}, format="json")
    assert refused.status_code == 403
    assert refused.json()["errors"][0]["code"] == "FORBIDDEN"  # a role refusal, not the read-only one
    admin = basic_client("root", PASSWORD)
    assert admin.put("/api/v2.0/configurations", {"read_only": False}, format="json").status_code == 200
    assert admin.post("/api/v2.0/projects", {"project_name": "newone"}, format="json").status_code == 201


def test_api_writes_work_when_off(world):
    created = basic_client("dev", PASSWORD).post("/api/v2.0/projects", {"project_name": "newone"}, format="json")
    assert created.status_code == 201, created.content
