"""Registry jobs. Thin: they call services and record an Execution."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from common.models import ExecutionStatus
from common.services import execution_finish, execution_start
from registry.services.gc import gc_run
from registry.services.uploads import upload_purge

PURGE_UPLOADS = "registry.purge_uploads"
GC = "registry.gc"


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
def gc(*, delete_untagged: bool = False, dry_run: bool = False, trigger: str = "MANUAL") -> int:
    """Garbage-collect unused blobs (and untagged artifacts if asked), recording an Execution."""
    execution = execution_start(kind="gc", trigger=trigger, dry_run=dry_run)
    try:
        counts = gc_run(delete_untagged=delete_untagged, dry_run=dry_run)
    except Exception as exc:
        execution_finish(execution=execution, status=ExecutionStatus.FAILED, counts={}, log=f"{exc!r}\n")
        raise
    log = "".join(f"{key}: {value}\n" for key, value in counts.items())
    execution_finish(execution=execution, status=ExecutionStatus.SUCCEEDED, counts=counts, log=log)
    return execution.pk
