"""The audit app's reactions to domain events (registered once, from AuditConfig.ready)."""

from __future__ import annotations

from django.db import connection

from audit.webhooks import tasks
from audit.webhooks.payloads import HARBOR_EVENT_TYPES, event_serialize
from audit.webhooks.selectors import webhook_policies_for_event
from audit.webhooks.services import webhook_event_fan_out
from common.events import QUOTA_EXCEEDED, Event, event_subscribe


def webhook_event_handle(event: Event) -> None:
    """Cheap on the request path: one query for the subscribed policies, then rows and an on-commit enqueue."""
    if event.project_id is None:
        return
    harbor_type = HARBOR_EVENT_TYPES[event.type]
    policies = webhook_policies_for_event(project_id=event.project_id, harbor_type=harbor_type)
    if not policies:
        return
    if event.type == QUOTA_EXCEEDED and connection.in_atomic_block:
        # quota.exceeded is dispatched inside the refused push's transaction, which rolls back with
        # any row written here: the worker writes them instead, from the event itself.
        tasks.webhook_fan_out.delay(event_serialize(event))
        return
    webhook_event_fan_out(event=event_serialize(event), policies=policies)


def subscribe() -> None:
    """Register the audit app's event handlers (webhook delivery, ...)."""
    for event_type in HARBOR_EVENT_TYPES:
        event_subscribe(event_type, webhook_event_handle)
