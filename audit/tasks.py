"""Audit jobs. Thin: they take ids (or a schedule's parameters) and call services."""

from __future__ import annotations

from celery import shared_task

from audit.services import PURGE_TASK, audit_purge_run, audit_purge_scheduled


@shared_task(name=PURGE_TASK)
def purge(*, execution_id: int | None = None, parameters: dict | None = None) -> int | None:
    """Run the audit purge `execution_id`; from beat (no id), record a scheduled run with `parameters` first."""
    if execution_id is None:
        execution_id = audit_purge_scheduled(parameters=parameters or {}).pk
    execution = audit_purge_run(execution_id=execution_id)
    return None if execution is None else execution.pk
