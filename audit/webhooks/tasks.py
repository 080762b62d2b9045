"""Celery tasks of webhook delivery (thin: ids in, services do the work)."""

from __future__ import annotations

from typing import Any

from celery import shared_task

from audit.webhooks.delivery import webhook_delivery_attempt
from audit.webhooks.payloads import HARBOR_EVENT_TYPES
from audit.webhooks.selectors import webhook_policies_for_event
from audit.webhooks.services import webhook_event_fan_out


@shared_task(bind=True, name="audit.webhook_deliver", max_retries=None, ignore_result=True)
def webhook_deliver(self, task_id: int) -> None:  # noqa: ANN001
    """Send one webhook delivery (Task id); retries itself with the delay the service asks for."""
    delay = webhook_delivery_attempt(task_id=task_id)
    if delay is not None:
        raise self.retry(countdown=delay)


@shared_task(name="audit.webhook_fan_out", ignore_result=True)
def webhook_fan_out(event: dict[str, Any]) -> None:
    """Turn an event (as plain JSON) into deliveries: for events raised inside a transaction that rolls back."""
    if event.get("project_id") is None:
        return
    policies = webhook_policies_for_event(project_id=event["project_id"], harbor_type=HARBOR_EVENT_TYPES[event["type"]])
    if policies:
        webhook_event_fan_out(event=event, policies=policies)
