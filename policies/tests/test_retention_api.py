"""The Retention API (Harbor's tag "Retention") through real Basic auth, with runs executed as the worker would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from common.models import Execution, ExecutionStatus
from common.testing.api import basic_client
from policies.models import RetentionPolicy
from policies.retention.runs import retention_execute
from policies.retention.selectors import METADATA
from projects.services import project_create
from registry.models import Artifact, Tag
from registry.tests.api import builders

pytestmark = pytest.mark.django_db
BASE = "/api/v2.0/retentions"


def rule(template: str = "latestPushedK", param: int | None = 2, tag: str = "**") -> dict:
    return {
        "id": 0,
        "priority": 0,
        "disabled": False,
        "action": "retain",
        "template": template,
        "params": {} if param is None else {template: param},
        "tag_selectors": [
            {"kind": "doublestar", "decoration": "matches", "pattern": tag, "extras": '{"untagged":true}'}
        ],
        "scope_selectors": {"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
    }


def policy_body(project_id: int, *rules: dict, cron: str = "") -> dict:
    return {
        "algorithm": "or",
        "rules": list(rules) or [rule()],
        "trigger": {"kind": "Schedule", "settings": {"cron": cron}, "references": {}},
        "scope": {"level": "project", "ref": project_id},
    }


def _error(response, status: int, code: str, text: str = "") -> None:  # noqa: ANN001
    assert response.status_code == status, response.content
    error = response.json()["errors"][0]
    assert error["code"] == code
    assert text in error["message"]


def create(client, project_id: int, *rules: dict, cron: str = "") -> int:  # noqa: ANN001
    response = client.post(BASE, policy_body(project_id, *rules, cron=cron), format="json")
    assert response.status_code == 201, response.content
    return int(response["Location"].rsplit("/", 1)[1])


def test_metadata_needs_authentication_only(lib):
    assert basic_client("limited").get(f"{BASE}/metadatas").json() == METADATA
    assert [t["rule_template"] for t in METADATA["templates"]] == [
        "latestPushedK",
        "latestPulledN",
        "nDaysSinceLastPush",
        "nDaysSinceLastPull",
        "latestActiveK",
        "lastXDays",
        "always",
    ]
    _error(basic_client(None).get(f"{BASE}/metadatas"), 401, "UNAUTHORIZED")


def test_create_get_update_delete(lib):
    admin = basic_client("padmin")
    policy_id = create(admin, lib.pk, rule(), cron="0 0 0 * * *")
    assert admin.get(f"/api/v2.0/projects/{lib.pk}").json()["metadata"]["retention_id"] == str(policy_id)
    got = admin.get(f"{BASE}/{policy_id}").json()
    assert got == {
        "id": policy_id,
        "algorithm": "or",
        "rules": [{**rule(), "id": 1}],
        "trigger": {"kind": "Schedule", "settings": {"cron": "0 0 0 * * *"}, "references": {}},
        "scope": {"level": "project", "ref": lib.pk},
    }
    changed = policy_body(lib.pk, rule("always", None), rule("nDaysSinceLastPull", 7))
    assert admin.put(f"{BASE}/{policy_id}", changed, format="json").status_code == 200
    got = admin.get(f"{BASE}/{policy_id}").json()
    assert [(r["id"], r["template"], r["params"]) for r in got["rules"]] == [
        (1, "always", {}),
        (2, "nDaysSinceLastPull", {"nDaysSinceLastPull": 7}),
    ]
    assert got["trigger"]["settings"]["cron"] == ""
    assert admin.delete(f"{BASE}/{policy_id}").status_code == 200
    _error(admin.get(f"{BASE}/{policy_id}"), 404, "NOT_FOUND")
    assert "retention_id" not in admin.get(f"/api/v2.0/projects/{lib.pk}").json()["metadata"]


@pytest.mark.parametrize(
    ("body", "status", "code", "text"),
    [
        ({"rules": [rule()], "scope": None}, 400, "BAD_REQUEST", ""),
        ({"rules": [rule()], "scope": {}}, 400, "BAD_REQUEST", "not supported"),
        ({"rules": [rule()], "scope": {"level": "system", "ref": 0}}, 400, "BAD_REQUEST", "not supported"),
        ({"rules": [rule()], "scope": {"level": "project", "ref": 0}}, 400, "BAD_REQUEST", "invalid Project id"),
        ({"rules": [rule()], "scope": {"level": "project", "ref": 999999}}, 404, "NOT_FOUND", ""),
        ({"rules": [rule()] * 2}, 409, "CONFLICT", "conflict with rule 0"),
        ({"rules": [rule(param=n) for n in range(16)]}, 400, "BAD_REQUEST", "only 15 rules"),
        ({"rules": [rule("latestDeployed")]}, 400, "BAD_REQUEST", "is not registered"),
        ({"rules": [rule(param=-1)]}, 400, "BAD_REQUEST", "less than zero"),
        ({"rules": [rule()], "trigger": {"kind": "Schedule", "settings": {"cron": "bad"}}}, 400, "BAD_REQUEST", "cron"),
        ({"rules": "all"}, 400, "BAD_REQUEST", ""),
    ],
)
def test_create_refuses_invalid_policies(lib, body, status, code, text):
    body = {"scope": {"level": "project", "ref": lib.pk}, **body}
    if (body["scope"] or {}).get("ref") == 999999:
        body["scope"]["ref"] = lib.pk + 1000
    _error(basic_client("padmin").post(BASE, body, format="json"), status, code, text)
    assert not RetentionPolicy.objects.exists()


def test_one_policy_per_project_and_scope_is_fixed(lib):
    admin = basic_client("padmin")
    policy_id = create(admin, lib.pk)
    _error(admin.post(BASE, policy_body(lib.pk), format="json"), 400, "BAD_REQUEST", "already has retention policy")
    other = project_create(name="other")
    # The stored policy names the project (the body can't move it elsewhere).
    _error(admin.put(f"{BASE}/{policy_id}", policy_body(other.pk), format="json"), 400, "BAD_REQUEST", "can't change")
    assert admin.put(f"{BASE}/{policy_id}", {"rules": [rule()]}, format="json").status_code == 200
    _error(admin.get(f"{BASE}/abc"), 400, "BAD_REQUEST")


@pytest.mark.parametrize(
    ("user", "status"),
    [("padmin", 201), ("maintainer", 201), ("developer", 201), ("guest", 403), ("limited", 403), ("outsider", 404)],
)
def test_who_may_create(lib, user, status):
    response = basic_client(user).post(BASE, policy_body(lib.pk), format="json")
    assert response.status_code == status, response.content


@pytest.fixture
def app(lib):
    repo = builders.repository("lib/app")
    for n in range(1, 5):
        artifact = builders.image(repo, tag=f"v{n}", seed=f"v{n}")
        when = timezone.now() - timedelta(hours=10 - n)
        Artifact.objects.filter(pk=artifact.pk).update(push_time=when)
        Tag.objects.filter(artifact=artifact).update(push_time=when)
    return repo


def test_trigger_list_tasks_log_and_stop(lib, app, django_capture_on_commit_callbacks, django_assert_max_num_queries):
    admin = basic_client("maintainer")
    policy_id = create(admin, lib.pk)
    executions = f"{BASE}/{policy_id}/executions"
    with django_capture_on_commit_callbacks() as enqueued:
        response = admin.post(executions, {"dry_run": True}, format="json")
    assert response.status_code == 201, response.content
    assert len(enqueued) == 1
    eid = int(response["Location"].rsplit("/", 1)[1])
    assert response["Location"] == f"{executions}/{eid}"
    _error(admin.post(executions, {"dry_run": False}, format="json"), 409, "CONFLICT", "stop it first")
    listed = admin.get(executions)
    assert listed["X-Total-Count"] == "1"
    [row] = listed.json()
    assert (row["id"], row["policy_id"], row["status"], row["trigger"], row["dry_run"]) == (
        eid,
        policy_id,
        "Pending",
        "MANUAL",
        True,
    )
    assert set(row) == {"id", "policy_id", "start_time", "end_time", "status", "trigger", "dry_run"}
    retention_execute(execution_id=eid)
    assert admin.get(executions).json()[0]["status"] == "Success"
    tasks = admin.get(f"{executions}/{eid}/tasks")
    assert tasks["X-Total-Count"] == "1"
    [task] = tasks.json()
    assert (task["repository"], task["status"], task["status_code"], task["total"], task["retained"]) == (
        "app",
        "Success",
        3,
        4,
        2,
    )
    log = admin.get(f"{executions}/{eid}/tasks/{task['id']}")
    assert log["Content-Type"].startswith("text/plain")
    text = log.content.decode()
    assert text.startswith("Run retention process. Repository: lib/app")
    assert text.count("(dry run: kept)") == 2
    _error(admin.get(f"{executions}/{eid}/tasks/{task['id'] + 100}"), 404, "NOT_FOUND")
    # A real run, then stop requests: a finished run stays as it ended; a pending one stops.
    real = int(admin.post(executions, {}, format="json")["Location"].rsplit("/", 1)[1])
    assert admin.patch(f"{executions}/{real}", {"action": "stop"}, format="json").status_code == 200
    assert Execution.objects.get(pk=real).status == ExecutionStatus.STOPPED
    assert retention_execute(execution_id=real) is None
    assert Tag.objects.filter(repository=app).count() == 4
    assert admin.patch(f"{executions}/{eid}", {"action": "stop"}, format="json").status_code == 200
    assert Execution.objects.get(pk=eid).status == ExecutionStatus.SUCCEEDED
    _error(admin.patch(f"{executions}/{eid}", {"action": "pause"}, format="json"), 400, "BAD_REQUEST", "stop")
    for _ in range(8):
        Execution.objects.create(kind="RETENTION", vendor_id=policy_id, status=ExecutionStatus.SUCCEEDED)
    admin.get(executions)  # warm the credentials cache
    with django_assert_max_num_queries(8):
        page = admin.get(f"{executions}?page=2&page_size=4")
    assert page["X-Total-Count"] == "10"
    assert len(page.json()) == 4


def test_runs_of_another_policy_are_not_found(lib, app):
    admin = basic_client("root")
    mine = create(admin, lib.pk)
    other = project_create(name="other")
    theirs = create(admin, other.pk)
    eid = int(admin.post(f"{BASE}/{theirs}/executions", {}, format="json")["Location"].rsplit("/", 1)[1])
    _error(admin.get(f"{BASE}/{mine}/executions/{eid}/tasks"), 404, "NOT_FOUND")
    _error(admin.patch(f"{BASE}/{mine}/executions/{eid}", {"action": "stop"}, format="json"), 404, "NOT_FOUND")
    assert Execution.objects.get(pk=eid).status == ExecutionStatus.PENDING
