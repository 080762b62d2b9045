"""The domain event dispatcher: services publish after commit, subscribers react.

Explicit on purpose (not Django signals): `event_publish` is called by the service that made
the change, and only once its transaction commits (`transaction.on_commit`), so a rolled back
operation never notifies anyone; subscribers are registered by name in their app's
`AppConfig.ready()` with `event_subscribe`, so the publisher never knows who listens.

A subscriber failing is logged and does not stop the others nor the publisher: reactions
(webhooks, scan on push, replication triggers) must not break the operation that caused them.
Subscribers are expected to be cheap (enqueue a Celery task, append to a buffer).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.db import transaction
from django.utils import timezone

logger = logging.getLogger(__name__)

# The event types of ARCHITECTURE.md, plus the ones the audit log and webhooks need.
ARTIFACT_PUSHED = "artifact.pushed"
ARTIFACT_PULLED = "artifact.pulled"
ARTIFACT_DELETED = "artifact.deleted"
TAG_DELETED = "tag.deleted"
SCAN_COMPLETED = "scan.completed"
SCAN_FAILED = "scan.failed"
SCAN_STOPPED = "scan.stopped"
QUOTA_WARNING = "quota.warning"
QUOTA_EXCEEDED = "quota.exceeded"
REPLICATION_COMPLETED = "replication.completed"
RETENTION_COMPLETED = "retention.completed"

EVENT_TYPES = frozenset(
    {
        ARTIFACT_PUSHED,
        ARTIFACT_PULLED,
        ARTIFACT_DELETED,
        TAG_DELETED,
        SCAN_COMPLETED,
        SCAN_FAILED,
        SCAN_STOPPED,
        QUOTA_WARNING,
        QUOTA_EXCEEDED,
        REPLICATION_COMPLETED,
        RETENTION_COMPLETED,
    }
)


@dataclass(frozen=True, slots=True)
class Event:
    """Something that happened: its type, the project it belongs to, who did it and the details.

    `data` holds plain JSON-able values only (names, digests, sizes, ids), never model instances:
    a subscriber may run after the rows are gone, or hand the event to a Celery task.
    """

    type: str
    project_id: int | None
    operator: str
    data: dict[str, Any] = field(default_factory=dict)
    occurred: datetime = field(default_factory=timezone.now)
    # The project's policy revision (projects' `Project.policy_revision`) as read in the publishing
    # transaction, under a lock that orders it with policy writes, until its commit; None when not
    # read. A subscriber may answer "which policies hear this?" from a per-process cache keyed on it.
    policy_revision: int | None = None

    def __post_init__(self) -> None:
        if self.type not in EVENT_TYPES:
            raise ValueError(f"unknown event type {self.type!r}")


Handler = Callable[[Event], None]

_handlers: dict[str, list[Handler]] = {}
_lock = threading.Lock()


def event_subscribe(event_type: str, handler: Handler) -> None:
    """Call `handler(event)` for every committed event of `event_type` (idempotent per handler)."""
    if event_type not in EVENT_TYPES:
        raise ValueError(f"unknown event type {event_type!r}")
    with _lock:
        handlers = _handlers.setdefault(event_type, [])
        if handler not in handlers:
            handlers.append(handler)


def event_unsubscribe(event_type: str, handler: Handler) -> None:
    """Stop calling `handler` for `event_type` (tests)."""
    with _lock:
        handlers = _handlers.get(event_type, [])
        if handler in handlers:
            handlers.remove(handler)


def event_publish(event: Event) -> None:
    """Deliver `event` to its subscribers once the current transaction commits (now if none is open)."""
    transaction.on_commit(lambda: event_dispatch(event), robust=True)


def event_dispatch(event: Event) -> None:
    """Call every subscriber of the event's type now; a failing subscriber is logged and skipped."""
    with _lock:
        handlers = list(_handlers.get(event.type, ()))
    for handler in handlers:
        try:
            handler(event)
        except Exception:
            logger.exception("event subscriber %r failed on %s", handler, event.type)


@contextmanager
def events_captured(*event_types: str) -> Iterator[list[Event]]:
    """Collect the events dispatched inside the block (all types unless some are named); for tests."""
    seen: list[Event] = []
    types = event_types or tuple(EVENT_TYPES)
    for event_type in types:
        event_subscribe(event_type, seen.append)
    try:
        yield seen
    finally:
        for event_type in types:
            event_unsubscribe(event_type, seen.append)
