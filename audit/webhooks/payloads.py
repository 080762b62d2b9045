"""Webhook payloads (pure: no ORM): Harbor's Default JSON and CloudEvents 1.0, and the signature.

Event types map from our domain events (common.events) to Harbor's names; the bodies follow
Harbor's documented notification payloads (`type`, `occur_at`, `operator`, `event_data` with
`resources` and `repository`, or `custom_attributes` for quotas, `replication`, `retention`).

Signature: every delivery carries `X-Harbor-Signature-Timestamp: <unix seconds>` and
`X-Harbor-Signature: sha256=<hex HMAC-SHA256(secret, "<timestamp>." + body)>`. The timestamp is
inside the signed material so a captured delivery cannot be replayed later with a fresh
timestamp; receivers recompute the HMAC over the raw body and reject old timestamps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import UTC, datetime
from typing import Any

from common import events

# common.events type -> Harbor's event type (the names policies subscribe to).
HARBOR_EVENT_TYPES: dict[str, str] = {
    events.ARTIFACT_PUSHED: "PUSH_ARTIFACT",
    events.ARTIFACT_PULLED: "PULL_ARTIFACT",
    events.ARTIFACT_DELETED: "DELETE_ARTIFACT",
    events.QUOTA_EXCEEDED: "QUOTA_EXCEED",
    events.QUOTA_WARNING: "QUOTA_WARNING",
    events.SCAN_FAILED: "SCANNING_FAILED",
    events.SCAN_STOPPED: "SCANNING_STOPPED",
    events.SCAN_COMPLETED: "SCANNING_COMPLETED",
    events.REPLICATION_COMPLETED: "REPLICATION",
    events.RETENTION_COMPLETED: "TAG_RETENTION",
}
# Harbor's event type -> its CloudEvents `type`.
CLOUDEVENT_TYPES: dict[str, str] = {
    "PUSH_ARTIFACT": "harbor.artifact.pushed",
    "PULL_ARTIFACT": "harbor.artifact.pulled",
    "DELETE_ARTIFACT": "harbor.artifact.deleted",
    "QUOTA_EXCEED": "harbor.quota.exceeded",
    "QUOTA_WARNING": "harbor.quota.warned",
    "SCANNING_FAILED": "harbor.scan.failed",
    "SCANNING_STOPPED": "harbor.scan.stopped",
    "SCANNING_COMPLETED": "harbor.scan.completed",
    "REPLICATION": "harbor.replication.status.changed",
    "TAG_RETENTION": "harbor.tag_retention.finished",
}
EVENT_TYPES: tuple[str, ...] = tuple(CLOUDEVENT_TYPES)
NOTIFY_TYPES: tuple[str, ...] = ("http",)
PAYLOAD_FORMATS: tuple[str, ...] = ("Default", "CloudEvents")
SIGNATURE_HEADER = "X-Harbor-Signature"
TIMESTAMP_HEADER = "X-Harbor-Signature-Timestamp"
_QUOTA = frozenset({"QUOTA_EXCEED", "QUOTA_WARNING"})
_SCAN = frozenset({"SCANNING_FAILED", "SCANNING_STOPPED", "SCANNING_COMPLETED"})


def event_serialize(event: events.Event) -> dict[str, Any]:
    """An Event as plain JSON (what a Celery message or a stored row can carry)."""
    return {
        "type": event.type,
        "project_id": event.project_id,
        "operator": event.operator,
        "data": event.data,
        "occurred": event.occurred.isoformat(),
    }


def _repository(data: dict[str, Any], occurred: datetime, *, dated: bool) -> dict[str, Any]:
    repo = dict(data.get("repository") or {})
    if not repo and data.get("project"):
        repo = {"name": "", "namespace": data["project"], "repo_full_name": "", "repo_type": ""}
    if dated:
        repo.setdefault("date_created", int(data.get("repository_created") or occurred.timestamp()))
    return repo


def _resources(data: dict[str, Any], *, scan: bool) -> list[dict[str, Any]]:
    resources = [dict(r) for r in data.get("resources") or []]
    if scan and data.get("scan_overview") is not None:
        for resource in resources:
            resource.setdefault("scan_overview", data["scan_overview"])
    return resources


_RESULTS = {"Succeeded": "SUCCESS", "Error": "ERROR", "Stopped": "STOPPED"}


def _retention(data: dict[str, Any]) -> dict[str, Any]:
    """Harbor's `retention` object, from a retention.completed event (policies.retention.runs)."""
    if "retention" in data:
        return data["retention"]
    deleted = []
    for item in data.get("deleted") or []:
        short = str(item.get("repository", "")).split("/", 1)[-1]
        names = [f"{short}:{tag}" for tag in item.get("tags") or []] or [f"{short}@{item.get('digest', '')}"]
        deleted += [{"type": "image", "status": "SUCCESS", "name_tag": name} for name in names]
    return {
        "total": data.get("total", 0),
        "retained": data.get("retained", 0),
        "harbor_hostname": data.get("harbor_hostname", ""),
        "project_name": data.get("project_name", ""),
        "retention_policy_id": data.get("retention_id"),
        "result": _RESULTS.get(data.get("status", ""), str(data.get("status", "")).upper()),
        "deleted_artifact": deleted,
    }


def event_data_build(harbor_type: str, data: dict[str, Any], occurred: datetime) -> dict[str, Any]:
    """Harbor's `event_data` for an event type, from the event's plain data."""
    if harbor_type == "REPLICATION":
        return {"replication": data.get("replication", data)}
    if harbor_type == "TAG_RETENTION":
        return {"retention": _retention(data)}
    if harbor_type in _QUOTA:
        return {
            "resources": _resources(data, scan=False),
            "repository": _repository(data, occurred, dated=False),
            "custom_attributes": {"Details": data.get("details", "")},
        }
    scan = harbor_type in _SCAN
    return {"resources": _resources(data, scan=scan), "repository": _repository(data, occurred, dated=not scan)}


def payload_default(*, harbor_type: str, operator: str, occurred: datetime, data: dict[str, Any]) -> dict[str, Any]:
    """Harbor's Default payload."""
    return {
        "type": harbor_type,
        "occur_at": int(occurred.timestamp()),
        "operator": operator,
        "event_data": event_data_build(harbor_type, data, occurred),
    }


def payload_cloudevents(
    *,
    harbor_type: str,
    operator: str,
    occurred: datetime,
    data: dict[str, Any],
    event_id: str,
    project_id: int,
    policy_id: int,
) -> dict[str, Any]:
    """A CloudEvents 1.0 structured-mode event (Harbor's: `operator` is an extension attribute)."""
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": f"/projects/{project_id}/webhook/policies/{policy_id}",
        "type": CLOUDEVENT_TYPES[harbor_type],
        "datacontenttype": "application/json",
        "time": occurred.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "data": event_data_build(harbor_type, data, occurred),
        "operator": operator,
    }


def payload_render(payload: dict[str, Any]) -> str:
    """The body as sent (compact, stable key order)."""
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def content_type(payload_format: str) -> str:
    # CloudEvents structured mode over HTTP: application/cloudevents+json (HTTP binding, section 3.2).
    return "application/cloudevents+json" if payload_format == "CloudEvents" else "application/json"


def signature_compute(*, secret: str, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>` of HMAC-SHA256(secret, b"<timestamp>." + body)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def signature_verify(*, secret: str, timestamp: int, body: bytes, signature: str) -> bool:
    """Constant-time check of a signature header (what a receiver does; used by the tests)."""
    return hmac.compare_digest(signature_compute(secret=secret, timestamp=timestamp, body=body), signature)
