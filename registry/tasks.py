"""Registry jobs. Thin: they call services and record an Execution."""

from __future__ import annotations

from datetime import timedelta

from celery import shared_task
from django.conf import settings

from common.models import ExecutionStatus
from common.services import execution_finish, execution_start
from registry.services.uploads import upload_purge

PURGE_UPLOADS = "registry.purge_uploads"


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
