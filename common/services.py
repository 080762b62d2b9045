"""Execution bookkeeping shared by every job: create, start, progress, stop, finish; tasks likewise.

A user-visible job's life: the API (or beat, or an event) creates a PENDING execution and
enqueues a task with its id on commit; the worker `execution_begin`s it (None if it was stopped
meanwhile), reports progress with `execution_progress`, polls `execution_stop_requested` between
batches, and ends with `execution_finish`, which never overwrites a stop.
"""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from common.actor import actor_current
from common.models import Execution, ExecutionStatus, Task

FINAL = frozenset({ExecutionStatus.SUCCEEDED, ExecutionStatus.FAILED, ExecutionStatus.STOPPED})
LOG_LIMIT = 100_000  # characters kept per execution/task log (the newest)


def _execution_new(
    *, kind: str, trigger: str, dry_run: bool, vendor_id: int | None, parameters: dict | None, status: str
) -> Execution:
    return Execution.objects.create(
        kind=kind,
        trigger=trigger,
        dry_run=dry_run,
        vendor_id=vendor_id,
        parameters=parameters or {},
        operator=actor_current().username,
        status=status,
    )


def execution_create(
    *,
    kind: str,
    trigger: str = "MANUAL",
    dry_run: bool = False,
    vendor_id: int | None = None,
    parameters: dict | None = None,
) -> Execution:
    """Record a PENDING run of a job (the caller enqueues the work on commit)."""
    return _execution_new(
        kind=kind,
        trigger=trigger,
        dry_run=dry_run,
        vendor_id=vendor_id,
        parameters=parameters,
        status=ExecutionStatus.PENDING,
    )


def execution_start(
    *,
    kind: str,
    trigger: str = "MANUAL",
    dry_run: bool = False,
    vendor_id: int | None = None,
    parameters: dict | None = None,
) -> Execution:
    """Create a RUNNING Execution row for a job that starts now (scheduled runs)."""
    return _execution_new(
        kind=kind,
        trigger=trigger,
        dry_run=dry_run,
        vendor_id=vendor_id,
        parameters=parameters,
        status=ExecutionStatus.RUNNING,
    )


def execution_begin(*, execution_id: int) -> Execution | None:
    """Mark a PENDING execution RUNNING; None when it is gone or already final (stopped before it ran)."""
    with transaction.atomic():
        execution = Execution.objects.select_for_update().filter(pk=execution_id).first()
        if execution is None or execution.status in FINAL:
            return None
        execution.status = ExecutionStatus.RUNNING
        execution.save(update_fields=["status", "updated"])
    return execution


def execution_progress(*, execution: Execution, counts: dict, log: str = "") -> None:
    """Publish counts (and append log lines) while the job runs, without touching its status."""
    execution.counts = counts
    if log:
        execution.log = (execution.log + log)[-LOG_LIMIT:]
    Execution.objects.filter(pk=execution.pk).update(counts=counts, log=execution.log, updated=timezone.now())


def execution_stop_requested(*, execution_id: int) -> bool:
    """Has someone stopped this execution? (One indexed query; jobs poll it between batches.)"""
    return Execution.objects.filter(pk=execution_id, status=ExecutionStatus.STOPPED).exists()


def execution_stop(*, execution: Execution) -> Execution:
    """Ask a pending or running execution to stop; final executions are left as they are."""
    with transaction.atomic():
        locked = Execution.objects.select_for_update().get(pk=execution.pk)
        if locked.status not in FINAL:
            locked.status = ExecutionStatus.STOPPED
            locked.ended = timezone.now()
            locked.log = (locked.log + f"stop requested by {actor_current().username}\n")[-LOG_LIMIT:]
            locked.save(update_fields=["status", "ended", "log", "updated"])
            Task.objects.filter(execution=locked, status__in=[ExecutionStatus.PENDING, ExecutionStatus.RUNNING]).update(
                status=ExecutionStatus.STOPPED, ended=locked.ended
            )
    return locked


def execution_finish(*, execution: Execution, status: str, counts: dict, log: str = "") -> Execution:
    """Record the outcome of a job run (a run stopped meanwhile stays Stopped, with its counts)."""
    with transaction.atomic():
        current = Execution.objects.select_for_update().filter(pk=execution.pk).values_list("status", "log").first()
        if current is not None:
            execution.log = current[1]
            if current[0] == ExecutionStatus.STOPPED:
                status = ExecutionStatus.STOPPED
        execution.status = status
        execution.counts = counts
        execution.log = (execution.log + log)[-LOG_LIMIT:]
        execution.ended = execution.ended if status == ExecutionStatus.STOPPED and execution.ended else timezone.now()
        execution.save(update_fields=["status", "counts", "log", "ended", "updated"])
    return execution


def task_create(*, execution: Execution, name: str) -> Task:
    """Record a PENDING unit of an execution (one repository, one delivery...)."""
    return Task.objects.create(execution=execution, name=name[:255])


def task_begin(*, task: Task) -> Task:
    """Mark a task RUNNING."""
    task.status = ExecutionStatus.RUNNING
    task.started = timezone.now()
    task.save(update_fields=["status", "started"])
    return task


def task_finish(*, task: Task, status: str, counts: dict | None = None, log: str = "") -> Task:
    """Record the outcome of a task."""
    task.status = status
    if counts is not None:
        task.counts = counts
    task.log = (task.log + log)[-LOG_LIMIT:]
    task.ended = timezone.now()
    task.started = task.started or task.ended
    task.save(update_fields=["status", "counts", "log", "ended", "started"])
    return task
