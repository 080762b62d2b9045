"""Tag retention for real: gunicorn and a Celery worker; images pushed over /v2/, the policy and runs over the API."""

from __future__ import annotations

import time

import httpx
import pytest

from common.testing.server import RegistryServer
from common.testing.v2client import V2Client

PROJECT = "retention-e2e"
REPOSITORY = f"{PROJECT}/app"


@pytest.fixture(scope="module")
def server():
    server = RegistryServer.create()
    with server.serving(worker=True):
        yield server


@pytest.fixture(scope="module")
def api(server) -> httpx.Client:
    return httpx.Client(base_url=f"{server.url}/api/v2.0", auth=("admin", server.admin_password), timeout=30)


def _id(response: httpx.Response) -> int:
    assert response.status_code == 201, response.text
    return int(response.headers["Location"].rsplit("/", 1)[1])


def _tags(client: V2Client) -> list[str]:
    response = client.request("GET", f"/v2/{REPOSITORY}/tags/list", scopes=(f"repository:{REPOSITORY}:pull",))
    assert response.status_code == 200, response.text
    return sorted(response.json()["tags"])


def _finished(api: httpx.Client, executions: str, eid: int, timeout: float = 90) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        [row] = [e for e in api.get(executions, params={"page_size": 100}).json() if e["id"] == eid]
        if row["status"] not in ("Pending", "Running") or time.monotonic() > deadline:
            return row
        time.sleep(0.5)


def _task_log(api: httpx.Client, executions: str, eid: int) -> tuple[dict, str]:
    [task] = api.get(f"{executions}/{eid}/tasks").json()
    log = api.get(f"{executions}/{eid}/tasks/{task['id']}")
    assert log.status_code == 200, log.text
    assert log.headers["Content-Type"].startswith("text/plain")
    return task, log.text


def test_dry_run_then_run_keeps_the_latest_two_and_the_immutable_tag(server, api):
    project_id = _id(api.post("/projects", json={"project_name": PROJECT, "public": False}))
    client = V2Client(server.url, "admin", server.admin_password)
    digests = {tag: client.push_image(REPOSITORY, tag, seed=tag)[0] for tag in ("v1", "v2", "v3", "v4")}
    assert _tags(client) == ["v1", "v2", "v3", "v4"]
    selector = {"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}
    immutable = api.post(
        f"/projects/{PROJECT}/immutabletagrules",
        json={
            "scope_selectors": {"repository": [selector]},
            "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "v1"}],
        },
    )
    assert immutable.status_code == 201, immutable.text

    policy = {
        "algorithm": "or",
        "rules": [
            {
                "disabled": False,
                "action": "retain",
                "template": "latestPushedK",
                "params": {"latestPushedK": 2},
                "tag_selectors": [
                    {"kind": "doublestar", "decoration": "matches", "pattern": "**", "extras": '{"untagged":true}'}
                ],
                "scope_selectors": {"repository": [selector]},
            }
        ],
        "trigger": {"kind": "Schedule", "settings": {"cron": ""}},
        "scope": {"level": "project", "ref": project_id},
    }
    policy_id = _id(api.post("/retentions", json=policy))
    assert api.get(f"/projects/{project_id}").json()["metadata"]["retention_id"] == str(policy_id)
    executions = f"/retentions/{policy_id}/executions"

    # Dry run: the worker decides and logs, nothing is deleted.
    dry = _id(api.post(executions, json={"dry_run": True}))
    row = _finished(api, executions, dry)
    assert (row["status"], row["dry_run"], row["policy_id"]) == ("Success", True, policy_id), server.log_tail(
        "worker.log"
    )
    assert _tags(client) == ["v1", "v2", "v3", "v4"]
    task, log = _task_log(api, executions, dry)
    assert (task["repository"], task["total"], task["retained"]) == ("app", 4, 3)
    assert "(dry run: kept)" in log
    assert f"{REPOSITORY}@{digests['v2']} tags=v2" in log

    # The real run: v3 and v4 are the latest two, v1 is immutable, v2 goes.
    real = _id(api.post(executions, json={"dry_run": False}))
    row = _finished(api, executions, real)
    assert (row["status"], row["dry_run"]) == ("Success", False), server.log_tail("worker.log")
    assert _tags(client) == ["v1", "v3", "v4"]
    gone = client.request(
        "GET", f"/v2/{REPOSITORY}/manifests/{digests['v2']}", scopes=(f"repository:{REPOSITORY}:pull",)
    )
    assert gone.status_code == 404
    task, log = _task_log(api, executions, real)
    assert (task["status"], task["total"], task["retained"]) == ("Success", 4, 3)
    lines = log.splitlines()
    assert any(line.startswith("RETAIN-IMMUTABLE") and "tags=v1 " in line for line in lines), log
    assert any(line.startswith("DEL ") and "tags=v2 " in line for line in lines), log
    assert sum(line.startswith("RETAIN ") and "latestPushedK=2" in line for line in lines) == 2, log
    history = api.get(executions)
    assert history.headers["X-Total-Count"] == "2"
    assert [e["id"] for e in history.json()] == [real, dry]
