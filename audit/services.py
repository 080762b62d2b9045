"""Writing the audit log. Services call `audit_record` inside their own transaction."""

from __future__ import annotations

from collections.abc import Iterable

from audit.models import AuditLog
from common.actor import Actor, actor_current

# Operations and resource types written by this codebase (Harbor's vocabulary where it has one).
OPERATIONS = ("create", "update", "delete", "pull", "login", "logout")
RESOURCE_TYPES = (
    "artifact",
    "tag",
    "project",
    "repository",
    "robot",
    "member",
    "user",
    "user_group",
    "label",
    "quota",
    "configuration",
    "immutable_rule",
    "retention",
    "webhook_policy",
    "gc",
    "purge_audit",
)


def audit_record(
    *,
    operation: str,
    resource_type: str,
    resource: str,
    project_id: int | None = None,
    result: bool = True,
    description: str = "",
    actor: Actor | None = None,
) -> AuditLog:
    """Append one audit record (in the caller's transaction: it commits or rolls back with the change)."""
    who = actor or actor_current()
    return AuditLog.objects.create(
        username=who.username[:255],
        is_robot=who.is_robot,
        source_ip=who.source_ip[:64],
        project_id=project_id,
        resource_type=resource_type,
        resource=resource[:1024],
        operation=operation,
        operation_description=description,
        operation_result=result,
    )


def audit_record_many(records: Iterable[AuditLog]) -> int:
    """Append prepared records in one statement (the pull write-behind); returns how many."""
    rows = list(records)
    AuditLog.objects.bulk_create(rows, batch_size=500)
    return len(rows)
