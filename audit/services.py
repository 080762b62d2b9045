"""Writing the audit log (services call `audit_record` inside their own transaction), its retention purge
and its forwarding to syslog."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import timedelta
from functools import partial

from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from audit import syslog
from audit.models import AuditLog
from common.actor import Actor, actor_current
from common.api.errors import BadRequest
from common.jobs import job_enqueue
from common.models import Execution, ExecutionStatus
from common.services import (
    execution_begin,
    execution_create,
    execution_finish,
    execution_progress,
    execution_stop,
    execution_stop_requested,
)

logger = logging.getLogger(__name__)

# Operations and resource types written by this codebase (Harbor's vocabulary where it has one).
OPERATIONS = ("create", "update", "delete", "pull", "login", "logout")
RESOURCE_TYPES = (
    "artifact",
    "tag",
    "project",
    "repository",
    "robot",
    "member",
    "user",
    "user_group",
    "label",
    "quota",
    "configuration",
    "immutable_rule",
    "retention",
    "webhook_policy",
    "gc",
    "purge_audit",
)
# Harbor's event types (src/pkg/auditext/model EventTypes, with our resource names), then ours; a purge's
# `include_event_types` names these, and `other` stands for every event type outside Harbor's list.
HARBOR_EVENT_TYPES = (
    "create_artifact",
    "delete_artifact",
    "pull_artifact",
    "create_project",
    "delete_project",
    "delete_repository",
    "login_user",
    "logout_user",
    "create_user",
    "delete_user",
    "update_user",
    "create_robot",
    "delete_robot",
    "update_configuration",
)
EVENT_TYPES = (
    *HARBOR_EVENT_TYPES,
    "update_project",
    "update_repository",
    "create_tag",
    "delete_tag",
    "update_robot",
    "create_member",
    "update_member",
    "delete_member",
    "create_user_group",
    "update_user_group",
    "delete_user_group",
    "create_label",
    "update_label",
    "delete_label",
    "update_quota",
    "create_immutable_rule",
    "update_immutable_rule",
    "delete_immutable_rule",
    "create_retention",
    "update_retention",
    "delete_retention",
    "create_webhook_policy",
    "update_webhook_policy",
    "delete_webhook_policy",
    "create_gc",
    "create_purge_audit",
    "update_purge_audit",
)
OTHER_EVENTS = "other"


def audit_record(
    *,
    operation: str,
    resource_type: str,
    resource: str,
    project_id: int | None = None,
    result: bool = True,
    description: str = "",
    actor: Actor | None = None,
) -> AuditLog:
    """Append one audit record (in the caller's transaction: it commits or rolls back with the change)."""
    who = actor or actor_current()
    record = AuditLog.objects.create(
        username=who.username[:255],
        is_robot=who.is_robot,
        source_ip=who.source_ip[:64],
        project_id=project_id,
        resource_type=resource_type,
        resource=resource[:1024],
        operation=operation,
        operation_description=description,
        operation_result=result,
    )
    _forward_on_commit([record])
    return record


def audit_record_many(records: Iterable[AuditLog]) -> int:
    """Append prepared records in one statement (the pull write-behind); returns how many."""
    rows = list(records)
    AuditLog.objects.bulk_create(rows, batch_size=500)
    _forward_on_commit(rows)
    return len(rows)


def _forward_on_commit(records: list[AuditLog]) -> None:
    # After commit only: a record whose transaction rolls back never happened, so it is never sent.
    # Robust: a forwarding failure must not surface in the request whose change is already committed.
    # (The configuration read is the process's cached snapshot: no query per record.)
    if records and syslog.forwarding_enabled():
        transaction.on_commit(partial(syslog.audit_forward, records), robust=True)


# --- retention purge (Harbor's /system/purgeaudit) -------------------------------------------------

PURGE_KIND = "purge_audit"
PURGE_TASK = "audit.purge"
PURGE_SCHEDULE = "Purge audit logs"  # the django-celery-beat entry (shown in admin under Periodic tasks)
PURGE_BATCH = 5000  # rows deleted per statement: short transactions, stop requests honoured between them
SCHEDULE_MANUAL, SCHEDULE_NONE = "Manual", "None"
SCHEDULE_TYPES = ("Hourly", "Daily", "Weekly", "Custom", "Schedule")


def _split(value: object, name: str) -> list[str]:
    if isinstance(value, list):
        value = ",".join(str(item) for item in value)
    if not isinstance(value, str):
        raise BadRequest(f"{name} must be a comma separated string")
    return [item.strip().lower() for item in value.split(",") if item.strip()]


def purge_parameters_clean(raw: object) -> dict:
    """Harbor's purge parameters, checked: audit_retention_hour (>= 1), include_event_types, dry_run.

    Harbor's older `include_operations` (create,delete,pull) is accepted in place of the event types.
    """
    if not isinstance(raw, dict) or not raw:
        raise BadRequest("schedule parameter can't be empty")
    hours = raw.get("audit_retention_hour")
    if isinstance(hours, str) and hours.strip().isdigit():
        hours = int(hours)
    if type(hours) is not int or hours < 1:
        raise BadRequest("audit_retention_hour should be provided as a positive integer")
    if "include_event_types" not in raw and "include_operations" not in raw:
        raise BadRequest("include_event_types should be provided")
    dry_run = raw.get("dry_run", False)
    if not isinstance(dry_run, bool):
        raise BadRequest("dry_run must be a boolean")
    cleaned: dict = {"audit_retention_hour": hours, "dry_run": dry_run}
    if "include_event_types" in raw:
        cleaned["include_event_types"] = ",".join(_split(raw["include_event_types"], "include_event_types"))
    else:
        cleaned["include_operations"] = ",".join(_split(raw["include_operations"], "include_operations"))
    return cleaned


def purge_selection(*, parameters: dict, now=None) -> QuerySet[AuditLog]:  # noqa: ANN001 - a datetime
    """The records a purge with these (clean) parameters removes: older than the retention, of the event types.

    No event type (or operation) named means nothing is purged, as in Harbor.
    """
    cutoff = (now or timezone.now()) - timedelta(hours=parameters["audit_retention_hour"])
    records = AuditLog.objects.filter(op_time__lt=cutoff)
    if "include_operations" in parameters:
        operations = [op for op in parameters["include_operations"].split(",") if op]
        return records.filter(operation__in=operations) if operations else records.none()
    wanted = [event for event in parameters.get("include_event_types", "").split(",") if event]
    condition = Q(pk__in=[])
    for event in wanted:
        if event == OTHER_EVENTS:
            condition |= ~_event_types_q(HARBOR_EVENT_TYPES)
        else:
            condition |= _event_types_q((event,))
    return records.filter(condition)


def _event_types_q(events: Iterable[str]) -> Q:
    # Operations hold no underscore: `create_immutable_rule` is (create, immutable_rule).
    condition = Q(pk__in=[])
    for event in events:
        operation, _, resource_type = event.partition("_")
        condition |= Q(operation=operation, resource_type=resource_type)
    return condition


def audit_purge_start(*, parameters: dict) -> Execution:
    """Record a manual purge run and enqueue it on commit; returns the PENDING execution."""
    cleaned = purge_parameters_clean(parameters)
    with transaction.atomic():
        execution = execution_create(kind=PURGE_KIND, trigger="MANUAL", dry_run=cleaned["dry_run"], parameters=cleaned)
        audit_record(
            operation="create",
            resource_type="purge_audit",
            resource=f"purge_audit/{execution.pk}",
            description=_describe(cleaned),
        )
        transaction.on_commit(lambda: job_enqueue(PURGE_TASK, execution_id=execution.pk))
    return execution


def _describe(parameters: dict) -> str:
    return ", ".join(f"{key}={value}" for key, value in sorted(parameters.items()))


def audit_purge_schedule_set(*, schedule_type: str, cron: str | None, parameters: object) -> None:
    """Create, change or (type None) remove the purge schedule (Harbor's Hourly/Daily/Weekly/Custom)."""
    from common.schedules import PRESETS, schedule_set

    with transaction.atomic():
        if schedule_type == SCHEDULE_NONE:
            schedule_set(name=PURGE_SCHEDULE, task=PURGE_TASK, cron=None)
            description = "schedule removed"
        elif schedule_type in SCHEDULE_TYPES:
            cron = cron or PRESETS.get(schedule_type)
            if not cron:
                raise BadRequest("empty cron string for schedule")
            cleaned = purge_parameters_clean(parameters)
            schedule_set(name=PURGE_SCHEDULE, task=PURGE_TASK, cron=cron, kwargs={"parameters": cleaned})
            description = f"cron={cron}, {_describe(cleaned)}"
        else:
            raise BadRequest(f"unsupported schedule type: {schedule_type}")
        audit_record(operation="update", resource_type="purge_audit", resource="schedule", description=description)


def audit_purge_stop(*, execution: Execution) -> Execution:
    """Ask a purge run to stop (it stops between batches); a finished run is left as it is."""
    return execution_stop(execution=execution)


def audit_purge_scheduled(*, parameters: dict) -> Execution:
    """Record a PENDING run for beat's trigger (its parameters are the schedule's)."""
    cleaned = purge_parameters_clean(parameters)
    return execution_create(kind=PURGE_KIND, trigger="SCHEDULE", dry_run=cleaned["dry_run"], parameters=cleaned)


def audit_purge_run(*, execution_id: int, batch_size: int = PURGE_BATCH) -> Execution | None:
    """Run a purge: delete (or, dry run, count) the selected records in batches; None if it was stopped first."""
    execution = execution_begin(execution_id=execution_id)
    if execution is None:
        return None
    try:
        parameters = purge_parameters_clean(execution.parameters)
        selection = purge_selection(parameters=parameters)
        hours = parameters["audit_retention_hour"]
        log = [f"purge of audit records older than {hours} hour(s): {_describe(parameters)}"]
        if parameters["dry_run"]:
            counts = {"purged": 0, "would_purge": selection.count()}
            log.append(f"dry run: {counts['would_purge']} record(s) would be purged")
            return execution_finish(
                execution=execution, status=ExecutionStatus.SUCCEEDED, counts=counts, log="\n".join(log) + "\n"
            )
        purged = 0
        ids = selection.order_by("id").values_list("id", flat=True)
        while not execution_stop_requested(execution_id=execution.pk):
            batch = list(ids[:batch_size])
            if not batch:
                break
            purged += AuditLog.objects.filter(pk__in=batch).purge()
            execution_progress(execution=execution, counts={"purged": purged})
        else:
            log.append("stopped on request")
        log.append(f"{purged} record(s) purged")
        return execution_finish(
            execution=execution, status=ExecutionStatus.SUCCEEDED, counts={"purged": purged}, log="\n".join(log) + "\n"
        )
    except Exception as exc:
        logger.exception("audit purge %s failed", execution_id)
        execution_finish(execution=execution, status=ExecutionStatus.FAILED, counts=execution.counts, log=f"{exc!r}\n")
        raise
