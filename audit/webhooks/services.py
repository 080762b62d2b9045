"""Webhook policies (create, update, delete, audited) and the fan-out of events into deliveries.

One event and one subscribed policy make one Execution (kind WEBHOOK, vendor_id the policy,
trigger EVENT) with one Task per target; each task has a WebhookDelivery row holding the exact
body, so retries and redeliveries send the same bytes. The Celery task is enqueued on commit
with the task id only.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from audit.models import PayloadFormat, WebhookDelivery, WebhookPolicy
from audit.services import audit_record
from audit.webhooks import payloads
from audit.webhooks.selectors import EXECUTION_KIND
from common.actor import actor_current
from common.api.errors import BadRequest, Conflict
from common.egress import EgressDenied, egress_url_check
from common.jobs import job_enqueue
from common.models import Execution, Task
from common.services import execution_create, task_create
from projects.models import Project
from projects.services import project_policies_changed

# The delivery tasks (audit.tasks), enqueued by name: the task module imports these services.
DELIVER_TASK = "audit.webhook_deliver"
FAN_OUT_TASK = "audit.webhook_fan_out"

AUTH_HEADER_MASK = "******"  # what the API shows for a set auth header; sent back, it keeps the stored one
MAX_TARGETS = 10
MAX_NAME = 256


def _event_types_clean(event_types: Any) -> list[str]:
    if not isinstance(event_types, list) or not event_types:
        raise BadRequest("event_types: at least one event type is required")
    unknown = [t for t in event_types if t not in payloads.EVENT_TYPES]
    if unknown:
        raise BadRequest(f"event_types: unsupported {unknown[:5]!r}; supported: {', '.join(payloads.EVENT_TYPES)}")
    return list(dict.fromkeys(event_types))


def _target_clean(raw: Any, previous: dict[str, dict]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise BadRequest("targets: each target is an object")
    notify_type = raw.get("type") or "http"
    if notify_type not in payloads.NOTIFY_TYPES:
        raise BadRequest(f"targets: unsupported type {str(notify_type)[:20]!r}; supported: http")
    address = str(raw.get("address") or "").strip()
    if not address:
        raise BadRequest("targets: address is required")
    if len(address) > 2048:
        raise BadRequest("targets: address is longer than 2048 characters")
    try:
        egress_url_check(url=address)
    except EgressDenied as exc:
        raise BadRequest(f"targets: address {address[:200]!r} refused: {exc}") from exc
    payload_format = raw.get("payload_format") or PayloadFormat.DEFAULT
    if payload_format not in payloads.PAYLOAD_FORMATS:
        raise BadRequest(f"targets: unsupported payload_format {str(payload_format)[:20]!r}")
    auth_header = raw.get("auth_header")
    if auth_header is None or auth_header == AUTH_HEADER_MASK:
        auth_header = previous.get(address, {}).get("auth_header", "")
    if not isinstance(auth_header, str) or any(c in auth_header for c in "\r\n\0"):
        raise BadRequest("targets: auth_header must be a single-line string")
    return {
        "type": notify_type,
        "address": address,
        "auth_header": auth_header,
        "skip_cert_verify": bool(raw.get("skip_cert_verify", False)),
        "payload_format": payload_format,
    }


def _targets_clean(targets: Any, previous: list[dict] | None = None) -> list[dict[str, Any]]:
    if not isinstance(targets, list) or not targets:
        raise BadRequest("targets: at least one target is required")
    if len(targets) > MAX_TARGETS:
        raise BadRequest(f"targets: at most {MAX_TARGETS} targets per policy")
    by_address = {t["address"]: t for t in previous or []}
    return [_target_clean(raw, by_address) for raw in targets]


def _name_clean(name: Any) -> str:
    name = str(name or "").strip()
    if not name:
        raise BadRequest("name is required")
    if len(name) > MAX_NAME:
        raise BadRequest(f"name is longer than {MAX_NAME} characters")
    return name


def _save(policy: WebhookPolicy) -> None:
    try:
        with transaction.atomic():
            policy.save()
    except IntegrityError as exc:
        raise Conflict(f"a webhook policy named {policy.name!r} already exists in the project") from exc


def webhook_policy_create(
    *,
    project: Project,
    name: str,
    event_types: list[str],
    targets: list[dict],
    description: str = "",
    enabled: bool = True,
    creator: str | None = None,
) -> tuple[WebhookPolicy, str]:
    """Create a policy; returns it with its signing secret (shown to the caller once, stored encrypted)."""
    signing_secret = secrets.token_urlsafe(32)
    policy = WebhookPolicy(
        project=project,
        name=_name_clean(name),
        description=str(description or ""),
        enabled=bool(enabled),
        event_types=_event_types_clean(event_types),
        targets=_targets_clean(targets),
        signing_secret=signing_secret,
        creator=actor_current().username if creator is None else creator,
    )
    with transaction.atomic():
        project_policies_changed(project_id=project.pk)  # the push path's per-process answers see it
        _save(policy)
        audit_record(operation="create", resource_type="webhook_policy", resource=policy.name, project_id=project.pk)
    return policy, signing_secret


def webhook_policy_update(
    *,
    policy: WebhookPolicy,
    name: str | None = None,
    description: str | None = None,
    enabled: bool | None = None,
    event_types: list[str] | None = None,
    targets: list[dict] | None = None,
) -> WebhookPolicy:
    """Change a policy (None leaves a field as it is; a masked or absent auth header keeps the stored one)."""
    if name is not None:
        policy.name = _name_clean(name)
    if description is not None:
        policy.description = str(description)
    if enabled is not None:
        policy.enabled = bool(enabled)
    if event_types is not None:
        policy.event_types = _event_types_clean(event_types)
    if targets is not None:
        policy.targets = _targets_clean(targets, previous=policy.targets)
    with transaction.atomic():
        project_policies_changed(project_id=policy.project_id)
        _save(policy)
        audit_record(
            operation="update", resource_type="webhook_policy", resource=policy.name, project_id=policy.project_id
        )
    return policy


def webhook_policy_delete(*, policy: WebhookPolicy) -> None:
    """Delete a policy with its delivery history."""
    with transaction.atomic():
        project_policies_changed(project_id=policy.project_id)
        Execution.objects.filter(kind=EXECUTION_KIND, vendor_id=policy.pk).delete()
        audit_record(
            operation="delete", resource_type="webhook_policy", resource=policy.name, project_id=policy.project_id
        )
        policy.delete()


def _body(
    *, target: dict, policy: WebhookPolicy, harbor_type: str, event: dict[str, Any], event_id: str
) -> tuple[str, str]:
    occurred = datetime.fromisoformat(event["occurred"])
    common = {"harbor_type": harbor_type, "operator": event["operator"], "occurred": occurred, "data": event["data"]}
    if target.get("payload_format") == PayloadFormat.CLOUD_EVENTS:
        body = payloads.payload_cloudevents(
            **common, event_id=event_id, project_id=policy.project_id, policy_id=policy.pk
        )
        return PayloadFormat.CLOUD_EVENTS, payloads.payload_render(body)
    return PayloadFormat.DEFAULT, payloads.payload_render(payloads.payload_default(**common))


def _enqueue(task_ids: list[int]) -> None:
    def send() -> None:
        for task_id in task_ids:
            job_enqueue(DELIVER_TASK, task_id)

    transaction.on_commit(send, robust=True)


def _repo_type(public: bool) -> str:
    return "public" if public else "private"


def webhook_event_fan_out(*, event: dict[str, Any], policies: list[WebhookPolicy]) -> list[int]:
    """One execution per policy, one task and delivery per target; deliveries enqueued on commit.

    `event` is common.events.Event as plain JSON (payloads.event_serialize). Returns the task ids.
    """
    harbor_type = payloads.HARBOR_EVENT_TYPES[event["type"]]
    task_ids: list[int] = []
    repository = (event.get("data") or {}).get("repository")
    if policies and isinstance(repository, dict) and repository.get("repo_type") == "":
        # Publishers leave the project's visibility out when it would cost them a query.
        public = Project.objects.filter(pk=policies[0].project_id).values_list("public", flat=True).first()
        if public is not None:
            event = {**event, "data": {**event["data"], "repository": {**repository, "repo_type": _repo_type(public)}}}
    with transaction.atomic():
        for policy in policies:
            execution = execution_create(
                kind=EXECUTION_KIND,
                trigger="EVENT",
                vendor_id=policy.pk,
                parameters={"event_type": harbor_type, "project_id": policy.project_id},
            )
            event_id = str(uuid.uuid4())  # one CloudEvents id per event and policy; redeliveries keep it
            for target in policy.targets:
                payload_format, body = _body(
                    target=target, policy=policy, harbor_type=harbor_type, event=event, event_id=event_id
                )
                task = task_create(execution=execution, name=target["address"])
                WebhookDelivery.objects.create(
                    task=task,
                    policy=policy,
                    event_type=harbor_type,
                    address=target["address"],
                    payload_format=payload_format,
                    payload=body,
                )
                task_ids.append(task.pk)
        _enqueue(task_ids)
    return task_ids


def webhook_delivery_redeliver(*, task: Task) -> Execution:
    """Send a past delivery again, as a new MANUAL execution of the same policy with the same body."""
    original = WebhookDelivery.objects.select_related("policy").filter(task=task).first()
    if original is None:
        raise BadRequest(f"task {task.pk} has no recorded delivery to send again")
    with transaction.atomic():
        execution = execution_create(
            kind=EXECUTION_KIND,
            trigger="MANUAL",
            vendor_id=original.policy_id,
            parameters={
                "event_type": original.event_type,
                "project_id": original.policy.project_id,
                "redelivery_of": task.pk,
            },
        )
        copy = task_create(execution=execution, name=original.address)
        WebhookDelivery.objects.create(
            task=copy,
            policy=original.policy,
            event_type=original.event_type,
            address=original.address,
            payload_format=original.payload_format,
            payload=original.payload,
        )
        _enqueue([copy.pk])
    return execution
