"""Execution bookkeeping shared by every job."""

from __future__ import annotations

from django.utils import timezone

from common.models import Execution, ExecutionStatus


def execution_start(*, kind: str, trigger: str = "MANUAL", dry_run: bool = False) -> Execution:
    """Create a running Execution row for a job."""
    return Execution.objects.create(kind=kind, trigger=trigger, dry_run=dry_run, status=ExecutionStatus.RUNNING)


def execution_finish(*, execution: Execution, status: str, counts: dict, log: str = "") -> Execution:
    """Record the outcome of a job run."""
    execution.status = status
    execution.counts = counts
    execution.log = (execution.log + log)[-100_000:]
    execution.ended = timezone.now()
    execution.save(update_fields=["status", "counts", "log", "ended"])
    return execution
