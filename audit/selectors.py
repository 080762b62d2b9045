"""Reading the audit log: Harbor's `q`/`sort` over a whitelist, scoped by the permission oracle."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from django.db.models import Q, QuerySet

from audit.models import AuditLog
from audit.syslog import RECORD_FIELDS
from common.api.errors import NotFound
from common.api.filters import Field, queryset_query, queryset_sort
from common.api.query import Match, QueryError, Term, sort_parse
from common.models import Execution
from projects.models import Member, Project
from projects.permissions import ROLE_PERMISSIONS, Principal, can_system

LOG_LIST: tuple[str, str] = ("log", "list")
# Harbor's auditlog-exts query keys (q=operation=create,resource=~app,op_time=[a~b]).
QUERY_FIELDS = {
    "operation": Field("operation"),
    "resource": Field("resource"),
    "resource_type": Field("resource_type"),
    "username": Field("username"),
}
SORT_FIELDS = {
    "op_time": "op_time",
    "id": "id",
    "username": "username",
    "resource": "resource",
    "resource_type": "resource_type",
    "operation": "operation",
}
DEFAULT_ORDER = ("-op_time", "-id")
EXPORT_BATCH = 1000  # rows per keyset page of an export: one query each, memory bounded by it
PURGE_KIND = "purge_audit"


def _time(raw: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise QueryError(f"{raw[:50]!r} is not a time (2024-01-01 00:00:00)") from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)  # Harbor's times are UTC


def _op_time(records: QuerySet[AuditLog], term: Term) -> QuerySet[AuditLog]:
    """`op_time=[from~to]` (either end may be empty) or an exact time."""
    if term.match is Match.EXACT:
        return records.filter(op_time=_time(term.values[0]))
    if term.match is not Match.RANGE:
        raise QueryError("op_time takes a time or a range [from~to]")
    low, high = term.values
    if low:
        records = records.filter(op_time__gte=_time(low))
    if high:
        records = records.filter(op_time__lte=_time(high))
    return records


QUERY_HANDLERS = {"op_time": _op_time}
_LOG_ROLES = tuple(role for role, pairs in ROLE_PERMISSIONS.items() if LOG_LIST in pairs)


def audit_log_visible(*, principal: Principal) -> QuerySet[AuditLog]:
    """Every record the principal may list outside a project route.

    Sysadmins (and system robots granted audit-log list) see everything; users see the records of
    projects where a role of theirs holds ("log", "list"); robots those of the projects their grants
    give it in; system-level records (no project) only the former.
    """
    records = AuditLog.objects.all()
    if can_system(principal, "list", "audit-log"):
        return records
    if principal.robot is not None:
        grants = principal.robot_grants()
        if LOG_LIST in grants.every:
            return records.filter(project_id__isnull=False)
        ids = [pid for pid, pairs in grants.projects.items() if LOG_LIST in pairs]
        return records.filter(project_id__in=ids)
    if principal.user is None:
        return records.none()
    # One subquery, not a query per project: the user's (or their groups') projects with an admin-like role.
    projects = (
        Member.objects.filter(role__in=_LOG_ROLES)
        .filter(Q(user_id=principal.user.pk) | Q(group__users=principal.user.pk))
        .values("project_id")
    )
    return records.filter(project_id__in=projects)


def audit_log_list(
    *, principal: Principal, project: Project | None = None, q: str | None = None, sort: str | None = None
) -> QuerySet[AuditLog]:
    """Records filtered by Harbor's `q` and ordered by `sort` (newest first by default).

    With `project`, the caller's right to list that project's logs was checked by the view.
    """
    records = AuditLog.objects.filter(project_id=project.pk) if project else audit_log_visible(principal=principal)
    records = queryset_query(records, q=q, fields=QUERY_FIELDS, handlers=QUERY_HANDLERS)
    return queryset_sort(records, sort=sort, fields=SORT_FIELDS, default=DEFAULT_ORDER)


# Harbor's older audit log (listAuditLogs, getLogs) held what its event handler wrote before the
# auditlog-exts: successful project, repository, artifact and tag events, in the vocabulary we store
# them in (push = create artifact). Logins, users, members, robots, policies, configuration, jobs and
# failed attempts never appeared there, so those older routes leave them out.
LEGACY_EVENTS = (
    ("create", "project"),
    ("delete", "project"),
    ("delete", "repository"),
    ("create", "artifact"),
    ("delete", "artifact"),
    ("pull", "artifact"),
    ("create", "tag"),
    ("delete", "tag"),
)
_LEGACY_Q = Q(operation_result=True) & Q(
    *(Q(operation=operation, resource_type=resource_type) for operation, resource_type in LEGACY_EVENTS),
    _connector=Q.OR,
)


def audit_log_legacy_list(
    *, principal: Principal, project: Project | None = None, q: str | None = None, sort: str | None = None
) -> QuerySet[AuditLog]:
    """Harbor's older audit log: the records of LEGACY_EVENTS among audit_log_list's (same `q`, sort, scope)."""
    return audit_log_list(principal=principal, project=project, q=q, sort=sort).filter(_LEGACY_Q)


def export_order(sort: str | None) -> bool:
    """Whether an export runs newest first (the default) or oldest first (`sort=op_time`).

    Exports page by (op_time, id), so no other sort key can keep their memory bounded.
    """
    keys = sort_parse(sort)
    if not keys:
        return True
    if len(keys) > 1 or keys[0][0] != "op_time":
        raise QueryError("an export is sorted by op_time or -op_time only")
    return keys[0][1]


def audit_log_batches(
    records: QuerySet[AuditLog], *, descending: bool = True, batch_size: int = EXPORT_BATCH
) -> Iterator[list[dict]]:
    """Yield the records' field values in (op_time, id) keyset pages: one query per page, never all rows at once.

    Keyset rather than OFFSET: each page costs the same however deep the export is, and rows
    appended meanwhile cannot shift a page boundary. Plain values, not model instances: an
    export of millions of rows spends its time on bytes, not on objects.
    """
    order = ("-op_time", "-id") if descending else ("op_time", "id")
    records = records.order_by(*order).values(*RECORD_FIELDS)
    last: tuple[datetime, int] | None = None
    while True:
        page = records
        if last is not None:
            at, pk = last
            # (op_time, id) < (at, pk), spelled so the bound on op_time alone can ride its index: an
            # OR of both would make every page scan and sort all the remaining rows.
            if descending:
                page = page.filter(Q(op_time__lte=at) & (Q(op_time__lt=at) | Q(id__lt=pk)))
            else:
                page = page.filter(Q(op_time__gte=at) & (Q(op_time__gt=at) | Q(id__gt=pk)))
        rows = list(page[:batch_size])
        if not rows:
            return
        yield rows
        if len(rows) < batch_size:
            return
        last = (rows[-1]["op_time"], rows[-1]["id"])


def event_types() -> list[str]:
    """The event types this registry records (Harbor's names, `<operation>_<resource_type>`)."""
    from audit.services import EVENT_TYPES

    return list(EVENT_TYPES)


# --- purge runs --------------------------------------------------------------------------------------

PURGE_QUERY_FIELDS = {"status": Field("status"), "trigger": Field("trigger"), "id": Field("id", "int")}
PURGE_SORT_FIELDS = {"id": "id", "creation_time": "started", "update_time": "updated", "status": "status"}


def purge_execution_list(*, q: str | None = None, sort: str | None = None) -> QuerySet[Execution]:
    """The audit purge runs, newest first."""
    runs = queryset_query(Execution.objects.filter(kind=PURGE_KIND), q=q, fields=PURGE_QUERY_FIELDS)
    return queryset_sort(runs, sort=sort, fields=PURGE_SORT_FIELDS, default=("-started", "-id"))


def purge_execution_get(*, execution_id: int) -> Execution:
    """One audit purge run, or NotFound."""
    execution = Execution.objects.filter(kind=PURGE_KIND, pk=execution_id).first()
    if execution is None:
        raise NotFound(f"purge job with id {execution_id} not found")
    return execution
