"""Reads of tag retention: policies, their runs (Execution rows of kind RETENTION) and the runs' tasks."""

from __future__ import annotations

from django.db.models import QuerySet

from common.api.errors import NotFound
from common.models import Execution, ExecutionStatus, Task
from policies.models import RetentionPolicy
from policies.retention import rules
from policies.retention.services import KIND

# Harbor's job statuses (jobservice) for ours: only success is spelled differently.
HARBOR_STATUS = {ExecutionStatus.SUCCEEDED: "Success"}
# Harbor's job status codes (jobservice job.Status.Code): every final status shares 3.
STATUS_CODES = {ExecutionStatus.PENDING: 0, ExecutionStatus.RUNNING: 2}


# GET /retentions/metadatas: Harbor's payload (the templates its UI offers), plus the two templates
# Harbor's engine knows but its UI hides (latestActiveK, lastXDays): clients list what they can use.
def _template(template: str, text: str, unit: str | None) -> dict:
    params = [{"type": "int", "unit": unit, "required": True}] if unit else []
    return {"rule_template": template, "display_text": text, "action": rules.ACTION, "params": params}


METADATA = {
    "templates": [
        _template(rules.LATEST_PUSHED_K, "the most recently pushed # artifacts", "COUNT"),
        _template(rules.LATEST_PULLED_N, "the most recently pulled # artifacts", "COUNT"),
        _template(rules.DAYS_SINCE_LAST_PUSH, "pushed within the last # days", "DAYS"),
        _template(rules.DAYS_SINCE_LAST_PULL, "pulled within the last # days", "DAYS"),
        _template(rules.LATEST_ACTIVE_K, "the most recently pushed or pulled # artifacts", "COUNT"),
        _template(rules.LAST_X_DAYS, "pushed within the last # days (strictly)", "DAYS"),
        _template(rules.ALWAYS, "always", None),
    ],
    "scope_selectors": [
        {"display_text": "Repositories", "kind": "doublestar", "decorations": ["repoMatches", "repoExcludes"]}
    ],
    "tag_selectors": [{"display_text": "Tags", "kind": "doublestar", "decorations": ["matches", "excludes"]}],
}


def harbor_status(status: str) -> str:
    """Harbor's name of an execution or task status."""
    return HARBOR_STATUS.get(status, status)


def status_code(status: str) -> int:
    """Harbor's job status code of a task status."""
    return STATUS_CODES.get(status, 3)


def retention_metadata() -> dict:
    """What rules, scope selectors and tag selectors a policy may use (Harbor's RetentionMetadata)."""
    return METADATA


def retention_policy_find(*, policy_id: int) -> RetentionPolicy | None:
    """The policy with its project, or None."""
    return RetentionPolicy.objects.select_related("project").filter(pk=policy_id).first()


def retention_policy_of(*, project_id: int) -> RetentionPolicy | None:
    """The project's policy, if it has one."""
    return RetentionPolicy.objects.filter(project_id=project_id).first()


def retention_execution_list(*, policy: RetentionPolicy) -> QuerySet[Execution]:
    """The policy's runs, newest first."""
    return Execution.objects.filter(kind=KIND, vendor_id=policy.pk).order_by("-started", "-pk")


def retention_execution_get(*, policy: RetentionPolicy, execution_id: int) -> Execution:
    """A run of this policy, or NotFound (a run of another policy is not found)."""
    execution = Execution.objects.filter(kind=KIND, vendor_id=policy.pk, pk=execution_id).first()
    if execution is None:
        raise NotFound(f"retention execution {execution_id} not found")
    return execution


def retention_task_list(*, execution: Execution) -> QuerySet[Task]:
    """The run's tasks (one per repository), in the order they ran."""
    return Task.objects.filter(execution=execution).order_by("pk")


def retention_task_get(*, execution: Execution, task_id: int) -> Task:
    """A task of this run, or NotFound."""
    task = Task.objects.filter(execution=execution, pk=task_id).first()
    if task is None:
        raise NotFound(f"retention task {task_id} not found")
    return task
