"""Webhooks for real: gunicorn + a Celery worker deliver pushes to receivers on 127.0.0.1.

The server's HARBOR_EGRESS_ALLOW names the ports of the receivers it may reach; one receiver is
left out of it, so that deliveries to it are refused by the egress guard.
"""

from __future__ import annotations

import json
import time

import httpx
import pytest

from audit.tests.receiver import Answer, Receiver
from audit.webhooks.payloads import signature_verify
from common.testing.server import RegistryServer
from common.testing.v2client import V2Client

NAMES = ("default", "cloud", "flaky", "outside")


@pytest.fixture(scope="module")
def receivers():
    with Receiver() as a, Receiver() as b, Receiver() as c, Receiver() as d:
        yield dict(zip(NAMES, (a, b, c, d), strict=True))


@pytest.fixture(scope="module")
def hook_server(receivers):
    allowed = ",".join(f"127.0.0.1:{receivers[name].port}" for name in NAMES if name != "outside")
    server = RegistryServer.create(extra_env={"HARBOR_EGRESS_ALLOW": allowed})
    with server.serving(worker=True):
        yield server


@pytest.fixture(scope="module")
def api(hook_server) -> httpx.Client:
    return httpx.Client(base_url=f"{hook_server.url}/api/v2.0", auth=("admin", hook_server.admin_password), timeout=30)


def _project(api: httpx.Client, name: str) -> int:
    created = api.post("/projects", json={"project_name": name, "public": False})
    assert created.status_code == 201, created.text
    return int(created.headers["Location"].rsplit("/", 1)[1])


def _policy(api: httpx.Client, project: str, address: str, **target) -> tuple[int, str]:  # noqa: ANN003
    body = {"name": "hook", "event_types": ["PUSH_ARTIFACT"], "targets": [{"address": address, **target}]}
    created = api.post(f"/projects/{project}/webhook/policies", json=body)
    assert created.status_code == 201, created.text
    assert created.headers["Location"].endswith(f"/webhook/policies/{created.json()['id']}")
    return created.json()["id"], created.json()["signing_secret"]


def _settled(api: httpx.Client, project: str, policy_id: int) -> dict:
    """The policy's single execution once it is final (the worker may still be writing it)."""
    deadline = time.monotonic() + 90
    while True:
        executions = api.get(f"/projects/{project}/webhook/policies/{policy_id}/executions").json()
        if executions and executions[0]["status"] in ("Success", "Error", "Stopped"):
            assert len(executions) == 1, executions
            return executions[0]
        assert time.monotonic() < deadline, f"delivery not settled: {executions}"
        time.sleep(0.3)


def _task_and_log(api: httpx.Client, project: str, policy_id: int, execution_id: int) -> tuple[dict, str]:
    base = f"/projects/{project}/webhook/policies/{policy_id}/executions/{execution_id}"
    (task,) = api.get(f"{base}/tasks").json()
    log = api.get(f"{base}/tasks/{task['id']}/log")
    assert log.status_code == 200
    assert log.headers["Content-Type"].startswith("text/plain")
    return task, log.text


def _verified(received, secret: str) -> dict:  # noqa: ANN001
    timestamp = int(received.headers["x-harbor-signature-timestamp"])
    assert signature_verify(
        secret=secret, timestamp=timestamp, body=received.body, signature=received.headers["x-harbor-signature"]
    )
    assert not signature_verify(
        secret="not-the-secret",
        timestamp=timestamp,
        body=received.body,
        signature=received.headers["x-harbor-signature"],
    )
    return json.loads(received.body)


def test_push_is_delivered_signed_with_the_auth_header(hook_server, api, receivers):
    receiver = receivers["default"]
    _project(api, "hooks-default")
    policy_id, secret = _policy(api, "hooks-default", f"{receiver.url}/hook", auth_header="Bearer e2e-token")
    shown = api.get(f"/projects/hooks-default/webhook/policies/{policy_id}").json()
    assert shown["targets"][0]["auth_header"] == "******"
    assert "signing_secret" not in shown

    admin = V2Client(hook_server.url, "admin", hook_server.admin_password)
    digest, _ = admin.push_image("hooks-default/app", "v1", seed="default")
    (received,) = receiver.wait_for(1)
    assert received.path == "/hook"
    assert received.headers["authorization"] == "Bearer e2e-token"
    assert received.headers["content-type"] == "application/json"
    payload = _verified(received, secret)
    assert payload["type"] == "PUSH_ARTIFACT"
    assert payload["operator"] == "admin"
    assert [r["digest"] for r in payload["event_data"]["resources"]] == [digest]
    assert payload["event_data"]["resources"][0]["tag"] == "v1"
    assert payload["event_data"]["repository"]["repo_full_name"] == "hooks-default/app"
    assert payload["event_data"]["repository"]["namespace"] == "hooks-default"

    execution = _settled(api, "hooks-default", policy_id)
    assert (execution["status"], execution["trigger"], execution["vendor_type"]) == ("Success", "EVENT", "WEBHOOK")
    task, log = _task_and_log(api, "hooks-default", policy_id, execution["id"])
    assert (task["status"], task["run_count"]) == ("Success", 1)
    assert "-> 200" in log
    assert "e2e-token" not in log
    triggers = api.get("/projects/hooks-default/webhook/lasttrigger").json()
    assert triggers[0]["last_trigger_time"]


def test_cloudevents_format(hook_server, api, receivers):
    receiver = receivers["cloud"]
    project_id = _project(api, "hooks-cloud")
    policy_id, secret = _policy(api, "hooks-cloud", receiver.url, payload_format="CloudEvents")
    admin = V2Client(hook_server.url, "admin", hook_server.admin_password)
    digest, _ = admin.push_image("hooks-cloud/app", "v2", seed="cloud")
    (received,) = receiver.wait_for(1)
    assert "authorization" not in received.headers
    assert received.headers["content-type"] == "application/cloudevents+json"
    event = _verified(received, secret)
    assert event["specversion"] == "1.0"
    assert event["type"] == "harbor.artifact.pushed"
    assert event["source"] == f"/projects/{project_id}/webhook/policies/{policy_id}"
    assert event["datacontenttype"] == "application/json"
    assert event["data"]["resources"][0]["digest"] == digest
    assert event["operator"] == "admin"
    assert _settled(api, "hooks-cloud", policy_id)["status"] == "Success"


def test_a_500_is_retried_then_delivered(hook_server, api, receivers):
    receiver = receivers["flaky"]
    receiver.answers.append(Answer(500, b"try again"))
    _project(api, "hooks-flaky")
    policy_id, secret = _policy(api, "hooks-flaky", receiver.url)
    admin = V2Client(hook_server.url, "admin", hook_server.admin_password)
    admin.push_image("hooks-flaky/app", "v1", seed="flaky")
    first, second = receiver.wait_for(2)
    assert first.body == second.body
    _verified(second, secret)
    execution = _settled(api, "hooks-flaky", policy_id)
    assert execution["status"] == "Success"
    task, log = _task_and_log(api, "hooks-flaky", policy_id, execution["id"])
    assert task["run_count"] == 2
    assert "attempt 1: POST" in log
    assert "-> 500" in log
    assert "'try again'" in log
    assert "retry 1 of 5 in 2 s" in log
    assert "attempt 2: POST" in log
    assert "-> 200" in log


def test_targets_outside_the_allowlist_are_refused_on_create_and_on_delivery(hook_server, api, receivers):
    receiver = receivers["outside"]
    _project(api, "hooks-outside")
    body = {"name": "hook", "event_types": ["PUSH_ARTIFACT"], "targets": [{"address": receiver.url}]}
    refused = api.post("/projects/hooks-outside/webhook/policies", json=body)
    assert refused.status_code == 400, refused.text
    assert "not a public address" in refused.json()["errors"][0]["message"]
    # A policy whose address became private after it was configured (say, a DNS change): written
    # directly, as the API would not take it; the delivery is refused when it connects. (Written
    # outside the services, it moves the project's policy revision itself, as they do.)
    policy_id = int(
        hook_server.python(
            "from audit.models import WebhookPolicy; from projects.models import Project; "
            "from projects.services import project_policies_changed; "
            "p = WebhookPolicy.objects.create(project=Project.objects.get(name='hooks-outside'), name='stale', "
            f"event_types=['PUSH_ARTIFACT'], targets=[{{'type': 'http', 'address': {receiver.url!r}, "
            "'auth_header': '', 'skip_cert_verify': False, 'payload_format': 'Default'}], signing_secret='s'); "
            "project_policies_changed(project_id=p.project_id); print(p.pk)"
        )
        .strip()
        .splitlines()[-1]
    )
    admin = V2Client(hook_server.url, "admin", hook_server.admin_password)
    admin.push_image("hooks-outside/app", "v1", seed="outside")
    execution = _settled(api, "hooks-outside", policy_id)
    assert execution["status"] == "Error"
    task, log = _task_and_log(api, "hooks-outside", policy_id, execution["id"])
    assert task["status"] == "Error"
    assert "refused by the egress guard" in log
    assert "not a public address" in log
    assert receiver.requests == []
