"""Query budgets for the push path of /v2/, per request kind, as a client pushes an image.

The figures are today's counts (issue 9 brought the blob requests down from 17-21 statements to 6-11
on PostgreSQL): a change that adds a round trip to any of these requests fails here, at SQL level,
whatever the machine's speed. Each
budget counts every statement sent, transaction control and savepoints included, because each is a
round trip to PostgreSQL. Read-side budgets are in tests/test_hot_path_queries.py.
"""

from __future__ import annotations

import hashlib
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from projects.services import project_create
from registry.auth.scopes import Scope
from registry.auth.token import token_issue

pytestmark = pytest.mark.django_db

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
# kind -> (PostgreSQL, SQLite) budget
BUDGETS = {
    "blob HEAD, missing": (1, 1),
    "monolithic POST, creating the repository": (10, 12),
    "monolithic POST": (6, 8),
    "session POST": (1, 1),
    "session PATCH": (3, 3),
    "session PUT (completion)": (7, 9),
    "session POST, then": (1, 1),
    "session PUT with the whole blob (docker, containerd)": (6, 8),
    "manifest PUT, new image by tag": (8, 9),
    "manifest PUT, existing image under a new tag": (7, 7),
    "monolithic POST, known blob into a new repository": (11, 12),
}


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Pusher:
    def __init__(self, client, auth: str, on_commit):  # noqa: ANN001
        self.client, self.auth, self.on_commit, self.counts = client, auth, on_commit, {}

    def send(self, kind: str, method: str, url: str, status: int, **kwargs):  # noqa: ANN201
        # What runs after commit (event subscribers: the webhook fan-out) is part of the request's cost.
        with CaptureQueriesContext(connection) as queries, self.on_commit(execute=True):
            response = getattr(self.client, method)(url, HTTP_AUTHORIZATION=self.auth, **kwargs)
        assert response.status_code == status, response.content[:300]
        self.counts[kind] = len(queries.captured_queries)
        return response


@pytest.fixture
def pusher(client, django_capture_on_commit_callbacks) -> Pusher:
    project_create(name="hot")  # with its quota row, as the API creates it
    access = [Scope("repository", name, frozenset({"pull", "push"})) for name in ("hot/app", "hot/other")]
    token, _, _ = token_issue(subject="ci", access=access)
    pusher = Pusher(client, f"Bearer {token}", django_capture_on_commit_callbacks)
    client.get("/v2/", HTTP_AUTHORIZATION=pusher.auth)  # token verification cache, configuration snapshot
    return pusher


def test_push_path_query_budgets(pusher):
    config = json.dumps({"architecture": "amd64", "os": "linux"}).encode()
    layer, chunked = b"layer-bytes" * 200, b"second-layer" * 100
    octets = {"content_type": "application/octet-stream"}
    pusher.send("blob HEAD, missing", "head", f"/v2/hot/app/blobs/{_digest(config)}", 404)
    upload = "/v2/hot/app/blobs/uploads/?digest={}"
    pusher.send(
        "monolithic POST, creating the repository",
        "post",
        upload.format(_digest(config)),
        201,
        data=config,
        **octets,
    )
    pusher.send("monolithic POST", "post", upload.format(_digest(layer)), 201, data=layer, **octets)
    started = pusher.send("session POST", "post", "/v2/hot/app/blobs/uploads/", 202)
    patched = pusher.send("session PATCH", "patch", started["Location"], 202, data=chunked, **octets)
    done = f"{patched['Location']}?digest={_digest(chunked)}"
    pusher.send("session PUT (completion)", "put", done, 201, data=b"", **octets)
    whole = b"pushed-as-docker-does" * 100
    started = pusher.send("session POST, then", "post", "/v2/hot/app/blobs/uploads/", 202)
    done = f"{started['Location']}?digest={_digest(whole)}"
    pusher.send("session PUT with the whole blob (docker, containerd)", "put", done, 201, data=whole, **octets)

    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _digest(config),
            "size": len(config),
        },
        "layers": [
            {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": _digest(layer), "size": len(layer)}
        ],
    }
    body = json.dumps(manifest).encode()
    pusher.send(
        "manifest PUT, new image by tag", "put", "/v2/hot/app/manifests/v1", 201, data=body, content_type=OCI_MANIFEST
    )
    pusher.send(
        "manifest PUT, existing image under a new tag",
        "put",
        "/v2/hot/app/manifests/v2",
        201,
        data=body,
        content_type=OCI_MANIFEST,
    )
    known = f"/v2/hot/other/blobs/uploads/?digest={_digest(config)}"
    pusher.send("monolithic POST, known blob into a new repository", "post", known, 201, data=config, **octets)
    column = 0 if connection.vendor == "postgresql" else 1
    over = {
        kind: (count, BUDGETS[kind][column]) for kind, count in pusher.counts.items() if count > BUDGETS[kind][column]
    }
    assert not over, f"queries over budget (count, budget): {over}"
    assert set(pusher.counts) == set(BUDGETS)
