"""Project jobs. Thin: they call services and record an Execution."""

from __future__ import annotations

from celery import shared_task

from common.models import ExecutionStatus
from common.services import execution_finish, execution_start
from registry.quotas import quota_reconcile

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
