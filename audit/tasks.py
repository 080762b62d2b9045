"""Audit jobs: the purge and webhook delivery. Thin: they take ids (or a schedule's parameters) and call services."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from audit.services import PURGE_TASK, audit_purge_run, audit_purge_scheduled
from audit.webhooks.delivery import webhook_delivery_attempt
from audit.webhooks.payloads import HARBOR_EVENT_TYPES
from audit.webhooks.selectors import webhook_policies_for_event
from audit.webhooks.services import DELIVER_TASK, FAN_OUT_TASK, webhook_event_fan_out


@shared_task(name=PURGE_TASK)
def purge(*, execution_id: int | None = None, parameters: dict | None = None) -> int | None:
    """Run the audit purge `execution_id`; from beat (no id), record a scheduled run with `parameters` first."""
    if execution_id is None:
        execution_id = audit_purge_scheduled(parameters=parameters or {}).pk
    execution = audit_purge_run(execution_id=execution_id)
    return None if execution is None else execution.pk


@shared_task(bind=True, name=DELIVER_TASK, max_retries=None, ignore_result=True)
def webhook_deliver(self, task_id: int) -> None:  # noqa: ANN001
    """Send one webhook delivery (Task id); retries itself with the delay the service asks for."""
    delay = webhook_delivery_attempt(task_id=task_id)
    if delay is not None:
        raise self.retry(countdown=delay)


@shared_task(name=FAN_OUT_TASK, ignore_result=True)
def webhook_fan_out(event: dict[str, Any]) -> None:
    """Turn an event (as plain JSON) into deliveries: for events raised inside a transaction that rolls back."""
    if event.get("project_id") is None:
        return
    policies = webhook_policies_for_event(project_id=event["project_id"], harbor_type=HARBOR_EVENT_TYPES[event["type"]])
    if policies:
        webhook_event_fan_out(event=event, policies=policies)
