"""Reads of webhook policies and their deliveries (executions of kind WEBHOOK, one task per target)."""

from __future__ import annotations

from django.db.models import Count, Max, Q, QuerySet

from audit.models import WebhookPolicy
from common.api.errors import NotFound
from common.api.filters import Field, queryset_query, queryset_sort
from common.models import Execution, ExecutionStatus, Task
from projects.models import Project

EXECUTION_KIND = "WEBHOOK"
POLICY_QUERY_FIELDS = {
    "id": Field("pk", "int"),
    "name": Field("name"),
    "enabled": Field("enabled", "bool"),
    "creator": Field("creator"),
}
POLICY_SORT_FIELDS = {"id": "pk", "name": "name", "creation_time": "creation_time", "update_time": "update_time"}
EXECUTION_QUERY_FIELDS = {"id": Field("pk", "int"), "status": Field("status"), "trigger": Field("trigger")}
EXECUTION_SORT_FIELDS = {"id": "pk", "start_time": "started", "end_time": "ended", "status": "status"}
TASK_QUERY_FIELDS = {"id": Field("pk", "int"), "status": Field("status")}
TASK_SORT_FIELDS = {"id": "pk", "start_time": "started", "end_time": "ended", "status": "status"}


# Harbor's execution metrics, counted in the list query itself (no query per execution).
_TASK_COUNTS = {
    "task_count": Count("tasks"),
    "success_task_count": Count("tasks", filter=Q(tasks__status=ExecutionStatus.SUCCEEDED)),
    "error_task_count": Count("tasks", filter=Q(tasks__status=ExecutionStatus.FAILED)),
    "pending_task_count": Count("tasks", filter=Q(tasks__status=ExecutionStatus.PENDING)),
    "running_task_count": Count("tasks", filter=Q(tasks__status=ExecutionStatus.RUNNING)),
    "stopped_task_count": Count("tasks", filter=Q(tasks__status=ExecutionStatus.STOPPED)),
}


def webhook_policy_list(*, project: Project, q: str | None = None, sort: str | None = None) -> QuerySet:
    """The project's policies, filtered by Harbor's `q` and ordered by `sort` (default: newest first)."""
    queryset = queryset_query(WebhookPolicy.objects.filter(project=project), q=q, fields=POLICY_QUERY_FIELDS)
    return queryset_sort(queryset, sort=sort, fields=POLICY_SORT_FIELDS, default=("-creation_time", "-pk"))


def webhook_policy_get(*, project: Project, policy_id: int) -> WebhookPolicy:
    """The project's policy, or NotFound (a policy of another project is not found)."""
    policy = WebhookPolicy.objects.filter(project=project, pk=policy_id).first()
    if policy is None:
        raise NotFound(f"webhook policy {policy_id} not found in project {project.name}")
    return policy


def webhook_policies_enabled(*, project_id: int) -> list[WebhookPolicy]:
    """Enabled policies of the project, oldest first (one query)."""
    return list(WebhookPolicy.objects.filter(project_id=project_id, enabled=True).order_by("pk"))


def webhook_policies_for_event(*, project_id: int, harbor_type: str) -> list[WebhookPolicy]:
    """Enabled policies of the project subscribed to the type (one query; filtered in Python because
    JSON containment is not portable to SQLite, and a project holds a handful of policies)."""
    policies = webhook_policies_enabled(project_id=project_id)
    return [policy for policy in policies if harbor_type in (policy.event_types or [])]


def webhook_execution_list(*, policy: WebhookPolicy, q: str | None = None, sort: str | None = None) -> QuerySet:
    """The policy's deliveries, one execution per event (default: newest first)."""
    queryset = Execution.objects.filter(kind=EXECUTION_KIND, vendor_id=policy.pk).annotate(**_TASK_COUNTS)
    queryset = queryset_query(queryset, q=q, fields=EXECUTION_QUERY_FIELDS)
    return queryset_sort(queryset, sort=sort, fields=EXECUTION_SORT_FIELDS, default=("-started", "-pk"))


def webhook_execution_get(*, policy: WebhookPolicy, execution_id: int) -> Execution:
    execution = Execution.objects.filter(kind=EXECUTION_KIND, vendor_id=policy.pk, pk=execution_id).first()
    if execution is None:
        raise NotFound(f"execution {execution_id} not found for webhook policy {policy.pk}")
    return execution


def webhook_task_list(*, execution: Execution, q: str | None = None, sort: str | None = None) -> QuerySet:
    tasks = Task.objects.filter(execution=execution).select_related("webhook_delivery")
    queryset = queryset_query(tasks, q=q, fields=TASK_QUERY_FIELDS)
    return queryset_sort(queryset, sort=sort, fields=TASK_SORT_FIELDS, default=("pk",))


def webhook_task_get(*, execution: Execution, task_id: int) -> Task:
    task = Task.objects.filter(execution=execution, pk=task_id).select_related("webhook_delivery").first()
    if task is None:
        raise NotFound(f"task {task_id} not found in execution {execution.pk}")
    return task


def webhook_last_triggers(*, project: Project) -> list[dict]:
    """Harbor's WebhookLastTrigger rows: per policy and subscribed event type, when it last fired (two queries)."""
    policies = list(WebhookPolicy.objects.filter(project=project).order_by("pk"))
    last = {
        (row["vendor_id"], row["parameters__event_type"]): row["last"]
        for row in Execution.objects.filter(kind=EXECUTION_KIND, vendor_id__in=[p.pk for p in policies])
        .values("vendor_id", "parameters__event_type")
        .annotate(last=Max("started"))
    }
    return [
        {
            "policy_name": policy.name,
            "event_type": event_type,
            "enabled": policy.enabled,
            "creation_time": policy.creation_time,
            "last_trigger_time": last.get((policy.pk, event_type)),
        }
        for policy in policies
        for event_type in policy.event_types
    ]
