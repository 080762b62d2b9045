"""Policy jobs. Thin: they take ids and call services."""

from __future__ import annotations

from celery import shared_task

from policies.retention.runs import retention_execute
from policies.retention.services import RUN_TASK, SCHEDULED_TASK
from policies.retention.services import retention_scheduled as _scheduled

RETENTION_RUN = RUN_TASK
RETENTION_SCHEDULED = SCHEDULED_TASK


@shared_task(name=RETENTION_RUN)
def retention_run(*, execution_id: int) -> int | None:
    """Run a pending retention execution (enqueued on commit by retention_trigger)."""
    execution = retention_execute(execution_id=execution_id)
    return execution.pk if execution is not None else None


@shared_task(name=RETENTION_SCHEDULED)
def retention_scheduled(*, policy_id: int) -> int | None:
    """Beat's entry for a retention policy's cron: start a run and execute it here."""
    execution = _scheduled(policy_id=policy_id)
    return execution.pk if execution is not None else None
