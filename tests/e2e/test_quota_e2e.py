"""Storage quotas over raw HTTP against a real gunicorn: counted once per project, DENIED past the limit."""

from __future__ import annotations

import os

import httpx
import pytest

from common.testing.v2client import V2Client, digest_of
from tests.e2e.conftest import PASSWORD

PROJECT = "quota-e2e"


def _scope(repository: str) -> str:
    return f"repository:{PROJECT}/{repository}:pull,push"


@pytest.fixture(scope="module")
def quota_project(registry_server) -> dict:
    """A project of its own with a 1,000-byte limit (the session's other projects stay unlimited)."""
    api = httpx.Client(base_url=f"{registry_server.url}/api/v2.0", auth=("admin", registry_server.admin_password))
    created = api.post("/projects", json={"project_name": PROJECT, "storage_limit": 1000})
    assert created.status_code == 201, created.text
    project_id = int(created.headers["Location"].rsplit("/", 1)[1])
    quotas = api.get("/quotas", params={"reference": "project", "reference_id": str(project_id)}).json()
    assert len(quotas) == 1
    return {"api": api, "project_id": project_id, "quota_id": quotas[0]["id"]}


def _used(quota_project: dict) -> int:
    body = quota_project["api"].get(f"/quotas/{quota_project['quota_id']}").json()
    assert body["ref"]["name"] == PROJECT
    return body["used"]["storage"]


def _monolithic(client: V2Client, repository: str, data: bytes) -> httpx.Response:
    return client.request(
        "POST",
        f"/v2/{PROJECT}/{repository}/blobs/uploads/?digest={digest_of(data)}",
        scopes=(_scope(repository),),
        content=data,
    )


def test_quota_counts_each_blob_once_and_denies_pushes_past_the_limit(admin, quota_project):
    layer = os.urandom(600)
    assert _monolithic(admin, "one", layer).status_code == 201
    assert _monolithic(admin, "two", layer).status_code == 201  # same blob, second repository
    assert _used(quota_project) == 600

    # A mount inside the project costs nothing either.
    mounted = admin.request(
        "POST",
        f"/v2/{PROJECT}/three/blobs/uploads/?mount={digest_of(layer)}&from={PROJECT}/one",
        headers=admin.bearer(_scope("three"), f"repository:{PROJECT}/one:pull"),
    )
    assert mounted.status_code == 201, mounted.text
    assert _used(quota_project) == 600

    # Monolithic push past the limit: 403 DENIED, nothing recorded, nothing readable.
    big = os.urandom(500)
    refused = _monolithic(admin, "one", big)
    assert refused.status_code == 403, refused.text
    error = refused.json()["errors"][0]
    assert error["code"] == "DENIED"
    assert error["message"] == "quota exceeded: storage 600+500 > 1000"
    auth = admin.bearer(_scope("one"))
    assert admin.request("HEAD", f"/v2/{PROJECT}/one/blobs/{digest_of(big)}", headers=auth).status_code == 404

    # The same through a chunked session: the completing PUT is refused and the session is gone.
    location = admin.request("POST", f"/v2/{PROJECT}/one/blobs/uploads/", headers=auth).headers["Location"]
    patched = admin.request("PATCH", location, headers=auth, content=big)
    assert patched.status_code == 202
    put = admin.request("PUT", f"{patched.headers['Location']}?digest={digest_of(big)}", headers=auth)
    assert put.status_code == 403
    assert put.json()["errors"][0]["code"] == "DENIED"
    assert admin.request("GET", patched.headers["Location"], headers=auth).status_code == 404
    assert _used(quota_project) == 600

    # A project admin may not raise the limit; the system admin may, and the push then fits.
    raise_it = {"hard": {"storage": 2000}}
    quota_url = f"/quotas/{quota_project['quota_id']}"
    api = quota_project["api"]
    member = api.post(f"/projects/{PROJECT}/members", json={"role_id": 1, "member_user": {"username": "padmin"}})
    assert member.status_code == 201, member.text
    padmin = httpx.Client(base_url=str(api.base_url), auth=("padmin", PASSWORD))
    assert padmin.get(f"/projects/{PROJECT}/members").status_code == 200
    assert padmin.put(quota_url, json=raise_it).status_code == 403
    assert api.put(quota_url, json=raise_it).status_code == 200
    assert _monolithic(admin, "one", big).status_code == 201
    assert _used(quota_project) == 1100

    # Deleting a blob releases it only when its last link in the project goes.
    for repository in ("one", "two", "three"):
        deleted = admin.request(
            "DELETE",
            f"/v2/{PROJECT}/{repository}/blobs/{digest_of(layer)}",
            headers=admin.bearer(f"repository:{PROJECT}/{repository}:delete"),
        )
        assert deleted.status_code == 202, deleted.text
        assert _used(quota_project) == (500 if repository == "three" else 1100)

    summary = api.get(f"/projects/{PROJECT}/summary").json()
    assert summary["quota"] == {"hard": {"storage": 2000}, "used": {"storage": 500}}
