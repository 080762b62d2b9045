"""Registry jobs. Thin: they call services and record an Execution."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from common.models import ExecutionStatus
from common.services import execution_finish, execution_start
from projects.quotas import quota_fold
from registry.quotas import quota_reconcile
from registry.services.gc_jobs import GC_TASK, gc_execute, gc_scheduled
from registry.services.uploads import upload_purge

PURGE_UPLOADS = "registry.purge_uploads"
GC = GC_TASK


@shared_task(name=PURGE_UPLOADS)
def purge_uploads(trigger: str = "SCHEDULE") -> int:
    """Purge upload sessions (and their data) idle for longer than HARBOR_UPLOAD_PURGE_AGE_HOURS."""
    execution = execution_start(kind="purge_uploads", trigger=trigger)
    try:
        counts = upload_purge(older_than=timedelta(hours=settings.UPLOAD_PURGE_AGE_HOURS))
    except Exception as exc:
        execution_finish(execution=execution, status=ExecutionStatus.FAILED, counts={}, log=f"{exc!r}\n")
        raise
    execution_finish(execution=execution, status=ExecutionStatus.SUCCEEDED, counts=counts)
    return execution.pk


@shared_task(name=GC)
def gc(
    execution_id: int | None = None,
    *,
    delete_untagged: bool = False,
    dry_run: bool = False,
    workers: int = 1,
    trigger: str = "SCHEDULE",
) -> int | None:
    """Run the garbage collection `execution_id` (API, admin) or, without one, a scheduled run (beat kwargs)."""
    if execution_id is not None:
        execution = gc_execute(execution_id=execution_id)
    else:  # beat passes the schedule's parameters; `trigger` is accepted from older schedule rows
        execution = gc_scheduled(delete_untagged=delete_untagged, dry_run=dry_run, workers=workers)
    return execution.pk if execution is not None else None


# The quota accounting's job; its name is the one beat rows hold since projects migration 0004.
QUOTA_RECONCILE = "projects.quota_reconcile"


@shared_task(name=QUOTA_RECONCILE)
def quota_reconcile_run(trigger: str = "SCHEDULE", dry_run: bool = False) -> int:
    """Recount every project's storage usage from its blob links and fix drift (report only on a dry run)."""
    execution = execution_start(kind="quota_reconcile", trigger=trigger, dry_run=dry_run)
    try:
        drifts = quota_reconcile(dry_run=dry_run)
    except Exception as exc:
        execution_finish(execution=execution, status=ExecutionStatus.FAILED, counts={}, log=f"{exc!r}\n")
        raise
    log = "".join(f"{d.project_name} (id {d.project_id}): recorded {d.recorded}, actual {d.actual}\n" for d in drifts)
    counts = {"drifted": len(drifts), "fixed": 0 if dry_run else len(drifts)}
    execution_finish(execution=execution, status=ExecutionStatus.SUCCEEDED, counts=counts, log=log)
    return execution.pk


QUOTA_FOLD = "registry.quota_fold"


@shared_task(name=QUOTA_FOLD)
def quota_fold_run() -> int:
    """Fold pending quota deltas into each project's `used` (beat, every minute): keeps the delta table short."""
    return quota_fold()
