"""The audit app's reactions to domain events (registered once, from AuditConfig.ready)."""

from __future__ import annotations

import threading
import time

from django.db import connection

from audit.webhooks.payloads import HARBOR_EVENT_TYPES, event_serialize
from audit.webhooks.selectors import webhook_policies_enabled, webhook_policies_for_event
from audit.webhooks.services import FAN_OUT_TASK, webhook_event_fan_out
from common.events import ARTIFACT_PULLED, QUOTA_EXCEEDED, Event, event_subscribe
from common.jobs import job_enqueue

# Pull events come from the write-behind flush (registry/pulls.py), a burst per flush, every
# pull its own event: looking the project's policies up for each would be one query per pull,
# almost always to learn that the project has none. That answer ("no policy hears pulls here")
# is remembered for PULL_POLICY_SECONDS: pull events are already up to 2 s late by design, so a
# policy created a moment ago starts hearing pulls as late. Projects with policies, and every
# other event type, look them up (at most once per process and policy revision when the event
# carries one, below).
PULL_POLICY_SECONDS = 2.0
_pull_silent: dict[int, float] = {}  # project id -> until when it is known to have no pull policy
_pull_lock = threading.Lock()


# Events published with the project's policy revision (`Event.policy_revision`: the manifest push
# reads it in its transaction, under a lock that orders it with policy writes) are answered without
# a query when nothing can hear them: revision 0 means the project never had a policy, and the event
# types its enabled policies hear are remembered per process for a revision (every webhook policy
# write moves it on, in every process at once: projects.services.project_policies_changed). Read
# after the publishing commit, the remembered answer may already include a policy written after that
# revision: such a policy then hears the event, as it did when every event looked policies up.
_heard: dict[int, tuple[int, frozenset[str]]] = {}  # project id -> (revision, event types heard)
_heard_lock = threading.Lock()
_HEARD_MAX = 10_000


def _policies_at_revision(project_id: int, revision: int, harbor_type: str) -> list:
    if revision == 0:
        return []
    remembered = _heard.get(project_id)
    if remembered is not None and remembered[0] == revision and harbor_type not in remembered[1]:
        return []
    enabled = webhook_policies_enabled(project_id=project_id)
    with _heard_lock:
        if len(_heard) >= _HEARD_MAX:
            _heard.clear()
        _heard[project_id] = (revision, frozenset(t for policy in enabled for t in policy.event_types or []))
    return [policy for policy in enabled if harbor_type in (policy.event_types or [])]


def _policies(event: Event, harbor_type: str) -> list:
    project_id = event.project_id
    if event.policy_revision is not None:
        return _policies_at_revision(project_id, event.policy_revision, harbor_type)
    if event.type != ARTIFACT_PULLED:
        return webhook_policies_for_event(project_id=project_id, harbor_type=harbor_type)
    now = time.monotonic()
    with _pull_lock:
        if _pull_silent.get(project_id, 0.0) > now:
            return []
    policies = webhook_policies_for_event(project_id=project_id, harbor_type=harbor_type)
    if not policies:
        with _pull_lock:
            if len(_pull_silent) > 10_000:
                _pull_silent.clear()
            _pull_silent[project_id] = now + PULL_POLICY_SECONDS
    return policies


def pull_policies_forget() -> None:
    """Forget which projects were found without pull policies, and what each revision's policies hear (tests)."""
    with _pull_lock:
        _pull_silent.clear()
    with _heard_lock:
        _heard.clear()


def webhook_event_handle(event: Event) -> None:
    """Cheap on the request path: at most one query for the subscribed policies, then rows and an on-commit enqueue."""
    if event.project_id is None:
        return
    harbor_type = HARBOR_EVENT_TYPES[event.type]
    policies = _policies(event, harbor_type)
    if not policies:
        return
    if event.type == QUOTA_EXCEEDED and connection.in_atomic_block:
        # quota.exceeded is dispatched inside the refused push's transaction, which rolls back with
        # any row written here: the worker writes them instead, from the event itself.
        job_enqueue(FAN_OUT_TASK, event_serialize(event))
        return
    webhook_event_fan_out(event=event_serialize(event), policies=policies)


def subscribe() -> None:
    """Register the audit app's event handlers (webhook delivery, ...)."""
    for event_type in HARBOR_EVENT_TYPES:
        event_subscribe(event_type, webhook_event_handle)
