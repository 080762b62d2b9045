"""The retention console: policies saved, run and deleted through the services; runs listed with their tasks."""

from __future__ import annotations

import json

import pytest
from django.urls import reverse

from common.models import Execution, ExecutionStatus
from policies.admin_retention import EXAMPLE_RULES
from policies.models import RetentionPolicy
from policies.retention import services
from policies.retention.runs import retention_execute
from projects.tests.factories import ProjectFactory
from registry.tests.api import builders

pytestmark = pytest.mark.django_db


def _form(project=None, rules=None, cron: str = "") -> dict:  # noqa: ANN001
    data = {"rules_json": json.dumps(EXAMPLE_RULES if rules is None else rules), "cron": cron}
    if project is not None:
        data["project"] = str(project.pk)
    return data


def test_add_change_delete_through_the_services(admin_client):
    project = ProjectFactory(name="console")
    add = reverse("admin:policies_retentionpolicy_add")
    assert admin_client.get(add).status_code == 200
    response = admin_client.post(add, _form(project, cron="0 0 1 * * *"))
    assert response.status_code == 302, response.content.decode()[:3000]
    policy = RetentionPolicy.objects.get()
    assert (policy.cron, policy.rules[0]["params"]) == ("0 0 1 * * *", {"latestPushedK": 10})
    project.refresh_from_db()
    assert project.metadata["retention_id"] == str(policy.pk)
    change = reverse("admin:policies_retentionpolicy_change", args=[policy.pk])
    page = admin_client.get(change).content.decode()
    assert "latestPushedK=10 of tags matches ** (untagged) in repositories repoMatches **" in page
    # A refusal from the service comes back as a form error, and nothing changes.
    bad = admin_client.post(change, _form(rules=[{**EXAMPLE_RULES[0], "template": "nope"}]))
    assert bad.status_code == 200
    assert "is not registered" in bad.content.decode()
    assert admin_client.post(change, _form(rules=[], cron="")).status_code == 302
    policy.refresh_from_db()
    assert (policy.rules, policy.cron) == ([], "")
    delete = reverse("admin:policies_retentionpolicy_delete", args=[policy.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not RetentionPolicy.objects.exists()
    project.refresh_from_db()
    assert "retention_id" not in project.metadata


def test_run_now_and_dry_run_actions_then_the_runs_page(admin_client, django_capture_on_commit_callbacks):
    project = ProjectFactory(name="console")
    repo = builders.repository("console/app")
    for n in range(3):
        builders.image(repo, tag=f"v{n}", seed=str(n))
    policy = services.retention_policy_create(project=project, rules=EXAMPLE_RULES)
    changelist = reverse("admin:policies_retentionpolicy_changelist")
    with django_capture_on_commit_callbacks() as enqueued:
        response = admin_client.post(changelist, {"action": "dry_run", "_selected_action": [policy.pk]})
    assert response.status_code == 302
    assert len(enqueued) == 1
    execution = Execution.objects.get(kind="RETENTION")
    assert (execution.dry_run, execution.vendor_id, execution.status) == (True, policy.pk, ExecutionStatus.PENDING)
    # A second start while one is pending is refused, and said so.
    refused = admin_client.post(changelist, {"action": "run_now", "_selected_action": [policy.pk]}, follow=True)
    assert "stop it first" in refused.content.decode()
    retention_execute(execution_id=execution.pk)
    Execution.objects.create(kind="gc", status=ExecutionStatus.SUCCEEDED)
    runs = admin_client.get(reverse("admin:policies_retentionexecution_changelist")).content.decode()
    assert "total: 3" in runs
    assert runs.count('class="action-checkbox"') == 1  # gc runs are not retention runs
    detail = admin_client.get(reverse("admin:policies_retentionexecution_change", args=[execution.pk])).content.decode()
    assert "console/app" in detail
    assert "Run retention process. Repository: console/app" in detail


def test_stop_action_stops_pending_runs(admin_client):
    project = ProjectFactory(name="console")
    policy = services.retention_policy_create(project=project, rules=EXAMPLE_RULES)
    execution = services.retention_trigger(policy=policy)
    response = admin_client.post(
        reverse("admin:policies_retentionexecution_changelist"),
        {"action": "stop_runs", "_selected_action": [execution.pk]},
    )
    assert response.status_code == 302
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.STOPPED
