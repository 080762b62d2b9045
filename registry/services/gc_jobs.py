"""Garbage collection as a system job (Harbor's /system/gc): manual runs, the schedule, stop, execution.

One collection at a time: a manual run is refused (Conflict, 409) while another is pending or
running, and a scheduled run that finds one is skipped (logged, no execution row). The check and
the new row are made under one transaction-level advisory lock, so two requests can't both pass.
A stuck run (its worker lost) is cleared by stopping it (`gc_stop`).
Sweeping twice at once would be safe (registry.services.gc locks per digest and per row); the rule
is for the operator: one history line per run and no duplicated work.
"""

from __future__ import annotations

import json
import logging

from django.db import connection, transaction

from audit.services import audit_record
from common.api.errors import BadRequest, Conflict
from common.jobs import job_enqueue
from common.models import Execution, ExecutionStatus
from common.schedules import CUSTOM, NONE, PRESETS, schedule_get, schedule_set
from common.services import execution_begin, execution_create, execution_finish, execution_stop
from registry.services.gc import GC_BATCH_SIZE, GCStopped, gc_run

logger = logging.getLogger(__name__)

GC_KIND = "gc"
GC_TASK = "registry.gc"  # the task registry.tasks.gc, enqueued by name (tasks import this module)
GC_SCHEDULE_NAME = "Garbage collection"  # the beat entry
GC_JOB_NAME = "GARBAGE_COLLECTION"  # Harbor's vendor type, shown as job_name
MANUAL = "Manual"
ACTIVE = (ExecutionStatus.PENDING, ExecutionStatus.RUNNING)
_LOCK_KEY = 0x6C0  # advisory lock class of "one GC at a time" (blob digests use 0x0B10B)


def gc_parameters(*, delete_untagged: bool = False, dry_run: bool = False, workers: int = 1) -> dict:
    """Harbor's GC job parameters, validated (workers 1 to 5, as Harbor's UI offers)."""
    if not isinstance(workers, int) or isinstance(workers, bool) or not 1 <= workers <= 5:
        raise BadRequest("workers must be an integer from 1 to 5")
    return {"delete_untagged": bool(delete_untagged), "dry_run": bool(dry_run), "workers": workers}


def _one_at_a_time() -> None:
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [_LOCK_KEY])


def gc_active() -> Execution | None:
    """The pending or running collection, if any."""
    return Execution.objects.filter(kind=GC_KIND, status__in=ACTIVE).order_by("-pk").first()


def gc_start(
    *,
    delete_untagged: bool = False,
    dry_run: bool = False,
    workers: int = 1,
    trigger: str = "MANUAL",
    enqueue: bool = True,
) -> Execution:
    """Record a pending collection (enqueued on commit unless told not to); Conflict while another is active."""
    parameters = gc_parameters(delete_untagged=delete_untagged, dry_run=dry_run, workers=workers)
    with transaction.atomic():
        _one_at_a_time()
        active = gc_active()
        if active is not None:
            raise Conflict(f"garbage collection {active.pk} is already {active.status.lower()}")
        execution = execution_create(kind=GC_KIND, trigger=trigger, dry_run=dry_run, parameters=parameters)
        if trigger == "MANUAL":
            audit_record(
                operation="create",
                resource_type="gc",
                resource=f"gc/{execution.pk}",
                description=f"run garbage collection {json.dumps(parameters, sort_keys=True)}",
            )
        if enqueue:
            transaction.on_commit(lambda: job_enqueue(GC_TASK, execution_id=execution.pk))
    return execution


def gc_execute(*, execution_id: int, batch_size: int = GC_BATCH_SIZE) -> Execution | None:
    """Run a pending collection and record its outcome; None when it was stopped before it began."""
    execution = execution_begin(execution_id=execution_id)
    if execution is None:
        return None
    parameters = execution.parameters or {}
    try:
        counts = gc_run(
            delete_untagged=bool(parameters.get("delete_untagged")),
            dry_run=execution.dry_run,
            batch_size=batch_size,
            execution=execution,
        )
    except GCStopped:
        return execution_finish(
            execution=execution, status=ExecutionStatus.STOPPED, counts=execution.counts, log="stopped\n"
        )
    except Exception as exc:
        execution_finish(execution=execution, status=ExecutionStatus.FAILED, counts=execution.counts, log=f"{exc!r}\n")
        raise
    verb = "would free" if execution.dry_run else "freed"
    summary = (
        f"{verb} {counts['bytes_freed']} bytes: {counts['blobs_deleted']} blob(s) of {counts['blobs_examined']} "
        f"unreferenced, {counts['artifacts_deleted']} untagged artifact(s), {counts['uploads_purged']} upload(s), "
        f"{counts['orphan_files']} orphan file(s)\n"
    )
    return execution_finish(execution=execution, status=ExecutionStatus.SUCCEEDED, counts=counts, log=summary)


def gc_scheduled(*, delete_untagged: bool = False, dry_run: bool = False, workers: int = 1) -> Execution | None:
    """A run fired by beat: start and execute it now; None (skipped) while another collection is active."""
    try:
        execution = gc_start(
            delete_untagged=delete_untagged, dry_run=dry_run, workers=workers, trigger="SCHEDULE", enqueue=False
        )
    except Conflict as exc:
        logger.info("gc: scheduled run skipped: %s", exc)
        return None
    return gc_execute(execution_id=execution.pk)


def gc_stop(*, execution: Execution) -> Execution:
    """Stop a pending or running collection (it ends after its current batch); audited."""
    with transaction.atomic():
        stopped = execution_stop(execution=execution)
        audit_record(operation="update", resource_type="gc", resource=f"gc/{execution.pk}", description="stop")
    return stopped


def gc_schedule_get() -> dict | None:
    """The GC schedule ({type, cron, next_scheduled_time, kwargs, update_time, ...}), None when none is set."""
    return schedule_get(name=GC_SCHEDULE_NAME)


def gc_schedule_set(*, type: str, cron: str = "", parameters: dict | None = None) -> Execution | None:  # noqa: A002
    """Harbor's createGCSchedule/updateGCSchedule: Manual runs now (the execution), None removes, else schedules."""
    parameters = parameters or {}
    values = gc_parameters(
        delete_untagged=parameters.get("delete_untagged", False),
        dry_run=parameters.get("dry_run", False),
        workers=parameters.get("workers", 1),
    )
    if type == MANUAL:
        return gc_start(**values)
    if type == NONE:
        cron = ""
    elif type in PRESETS:
        cron = PRESETS[type]
    elif type not in (CUSTOM, "Schedule"):
        raise BadRequest(f"schedule type {type!r} is not one of Hourly, Daily, Weekly, Custom, Manual, None")
    elif not cron:
        raise BadRequest("a Custom schedule needs a cron")
    with transaction.atomic():
        schedule_set(name=GC_SCHEDULE_NAME, task=GC_TASK, cron=cron, kwargs=values)
        audit_record(
            operation="update" if cron else "delete",
            resource_type="gc",
            resource="gc/schedule",
            description=f"schedule {type} {cron} {json.dumps(values, sort_keys=True)}".replace("  ", " "),
        )
    return None
