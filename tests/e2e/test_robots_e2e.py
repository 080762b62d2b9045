"""Robot accounts against a real server: created through the API by a project admin, then used by
docker-style clients (token flow and Basic on /v2/): pull and push, a pull-only robot, a disabled
robot, and a robot of one project reaching for another."""

from __future__ import annotations

import json
import uuid

import httpx
import jwt
import pytest

from common.testing.v2client import V2Client
from tests.e2e.conftest import PASSWORD

pytestmark = pytest.mark.e2e


def _api(registry_server, username: str, password: str) -> httpx.Client:  # noqa: ANN001
    return httpx.Client(base_url=f"{registry_server.url}/api/v2.0", auth=(username, password), timeout=60)


@pytest.fixture
def padmin(registry_server) -> httpx.Client:
    """The project admin of `team` (seeded by the session fixture)."""
    return _api(registry_server, "padmin", PASSWORD)


def _robot(api: httpx.Client, project: str, *actions: str) -> dict:
    """Create a project robot with repository `actions`; returns RobotCreated."""
    access = [{"resource": "repository", "action": action, "effect": "allow"} for action in actions]
    body = {
        "name": f"e2e-{uuid.uuid4().hex[:8]}",
        "level": "project",
        "duration": -1,
        "permissions": [{"kind": "project", "namespace": project, "access": access}],
    }
    created = api.post("/robots", json=body)
    assert created.status_code == 201, created.text
    return created.json()


def _client(registry_server, robot: dict) -> V2Client:  # noqa: ANN001
    return V2Client(registry_server.url, robot["name"], robot["secret"])


def _granted(client: V2Client, scope: str) -> list[str]:
    token = client.token(scope)
    assert token.status_code == 200, token.text
    claims = jwt.decode(token.json()["token"], options={"verify_signature": False})
    return [action for entry in claims["access"] for action in entry["actions"]]


def _pull(client: V2Client, name: str, reference: str) -> httpx.Response:
    return client.request(
        "GET",
        f"/v2/{name}/manifests/{reference}",
        scopes=(f"repository:{name}:pull",),
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )


def test_robot_pushes_and_pulls_through_the_token_flow_and_basic(registry_server, padmin):
    robot = _robot(padmin, "team", "pull", "push")
    assert robot["name"].startswith("robot$team+e2e-")
    client = _client(registry_server, robot)
    digest, manifest = client.push_image("team/robot-app", "v1", seed="robot")
    pulled = _pull(client, "team/robot-app", "v1")
    assert pulled.status_code == 200, pulled.text
    assert pulled.headers["Docker-Content-Digest"] == digest
    assert json.loads(pulled.content) == manifest
    assert sorted(_granted(client, "repository:team/robot-app:pull,push")) == ["pull", "push"]
    # Basic credentials straight on /v2/, as some clients send them
    basic = (robot["name"], robot["secret"])
    assert client.http.get(f"{registry_server.url}/v2/", auth=basic).status_code == 200
    direct = client.http.get(
        f"{registry_server.url}/v2/team/robot-app/manifests/v1",
        auth=basic,
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert direct.status_code == 200, direct.text
    # and on the API: the robot's own record, which never shows its secret
    record = _api(registry_server, "padmin", PASSWORD).get(f"/robots/{robot['id']}")
    assert record.status_code == 200
    assert robot["secret"] not in record.text


def test_pull_only_robot_cannot_push(registry_server, padmin):
    _client(registry_server, _robot(padmin, "team", "pull", "push")).push_image("team/pull-only", "v1", seed="p")
    puller = _client(registry_server, _robot(padmin, "team", "pull"))
    assert _granted(puller, "repository:team/pull-only:pull,push") == ["pull"]
    assert _pull(puller, "team/pull-only", "v1").status_code == 200
    data = b"not allowed"
    upload = puller.request(
        "POST", "/v2/team/pull-only/blobs/uploads/", scopes=("repository:team/pull-only:pull,push",), content=data
    )
    assert upload.status_code == 401  # the token grants pull only: insufficient scope
    assert upload.json()["errors"][0]["code"] == "UNAUTHORIZED"
    basic = puller.http.post(
        f"{registry_server.url}/v2/team/pull-only/blobs/uploads/", auth=(puller.username, puller.password)
    )
    assert basic.status_code == 403
    assert basic.json()["errors"][0]["code"] == "DENIED"
    overwrite = puller.request(
        "PUT",
        "/v2/team/pull-only/manifests/v1",
        scopes=("repository:team/pull-only:pull,push",),
        content=b"{}",
        headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert overwrite.status_code == 401


def test_disabled_robot_is_refused_until_enabled(registry_server, padmin):
    robot = _robot(padmin, "team", "pull", "push")
    client = _client(registry_server, robot)
    client.push_image("team/toggled", "v1", seed="t")
    record = padmin.get(f"/robots/{robot['id']}").json()
    assert padmin.put(f"/robots/{robot['id']}", json={**record, "disable": True}).status_code == 200
    assert client.token("repository:team/toggled:pull").status_code == 401
    basic = (robot["name"], robot["secret"])
    assert client.http.get(f"{registry_server.url}/v2/", auth=basic).status_code == 401
    assert client.http.get(f"{registry_server.url}/api/v2.0/projects/team", auth=basic).status_code == 401
    assert padmin.put(f"/robots/{robot['id']}", json={**record, "disable": False}).status_code == 200
    assert _pull(client, "team/toggled", "v1").status_code == 200


def test_robot_of_one_project_cannot_touch_another(registry_server, padmin, client_for):
    client_for("outsider").push_image("other/private", "v1", seed="o")  # `other` is private
    robot = _client(registry_server, _robot(padmin, "team", "pull", "push"))
    assert _granted(robot, "repository:other/private:pull,push") == []
    assert _pull(robot, "other/private", "v1").status_code == 401
    push = robot.request(
        "POST", "/v2/other/robot-was-here/blobs/uploads/", scopes=("repository:other/robot-was-here:pull,push",)
    )
    assert push.status_code == 401
    basic = (robot.username, robot.password)
    direct = robot.http.get(
        f"{registry_server.url}/v2/other/private/manifests/v1",
        auth=basic,
        headers={"Accept": "application/vnd.oci.image.manifest.v1+json"},
    )
    assert direct.status_code == 403
    assert robot.http.get(f"{registry_server.url}/api/v2.0/projects/other", auth=basic).status_code == 404
    # nor create robots there, nor in its own project without the robot permission
    for namespace, status in (("other", 404), ("team", 403)):
        access = [{"resource": "repository", "action": "pull"}]
        body = {
            "name": "sneaky",
            "level": "project",
            "permissions": [{"kind": "project", "namespace": namespace, "access": access}],
        }
        created = robot.http.post(f"{registry_server.url}/api/v2.0/robots", json=body, auth=basic)
        assert created.status_code == status, created.text
