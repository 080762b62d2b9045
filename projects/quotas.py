"""Storage quotas of projects: the limit (`hard`), set by admins, and the reads behind the /quotas API.

What fills a quota (`used`: blobs charged and released by pushes and deletes, the reconcile job)
is the registry's accounting, `registry/quotas.py`: the blobs live there.
"""

from __future__ import annotations

from django.db import connection, transaction
from django.db.models import BigIntegerField, Case, F, QuerySet, Sum, Value, When
from django.utils import timezone

from audit.services import audit_record
from common.api.errors import BadRequest, NotFound
from common.api.params import is_int64
from projects.models import Quota, QuotaDelta

UNLIMITED = -1
_BIGGEST = 2**63 - 1


def quota_update(*, quota: Quota, hard: int) -> Quota:
    """Set a quota's storage limit (-1: unlimited); usage above it only blocks further pushes."""
    if hard < UNLIMITED:
        raise BadRequest("hard.storage must be -1 (unlimited) or a number of bytes >= 0")
    with transaction.atomic():
        quota.hard = hard
        quota.save(update_fields=["hard", "updated"])
        audit_record(
            operation="update",
            resource_type="quota",
            resource=quota.project.name,
            project_id=quota.project_id,
            description=f"hard storage {hard}",
        )
    return quota


# --- pending changes (QuotaDelta, written by the registry's accounting, registry/quotas.py) ---

_FOLD_SQL = """
    WITH moved AS (
        DELETE FROM projects_quotadelta AS d USING projects_quota AS q
        WHERE d.project_id = q.project_id {only} RETURNING d.project_id, d.size
    ), totals AS (SELECT project_id, SUM(size) AS size FROM moved GROUP BY project_id)
    UPDATE projects_quota AS q SET used = GREATEST(q.used + totals.size, 0), updated = %s
    FROM totals WHERE q.project_id = totals.project_id
"""


def quota_pending(*, project_id: int) -> int:
    """Bytes charged (or released, negative) in the project and not yet folded into `Quota.used`."""
    return int(QuotaDelta.objects.filter(project_id=project_id).aggregate(total=Sum("size"))["total"] or 0)


def quota_usage(*, project_id: int) -> int:
    """A project's used bytes: `Quota.used` plus its pending deltas (0 without a quota row)."""
    used = Quota.objects.filter(project_id=project_id).values_list("used", flat=True).first() or 0
    return used + quota_pending(project_id=project_id)


def quota_fold(*, project_id: int | None = None) -> int:
    """Move pending deltas (of one project, or all) into `Quota.used`; the number of projects updated.

    Usage (`used` + pending) is the same before and after: the deltas are deleted and added in one
    statement on PostgreSQL, in one transaction on SQLite (whose writers are serialized)."""
    if connection.vendor == "postgresql":
        only = "" if project_id is None else "AND d.project_id = %s"
        params = [] if project_id is None else [project_id]
        with connection.cursor() as cursor:
            cursor.execute(_FOLD_SQL.format(only=only), [*params, timezone.now()])
            return cursor.rowcount
    deltas = QuotaDelta.objects.filter(project__quota__isnull=False)
    if project_id is not None:
        deltas = deltas.filter(project_id=project_id)
    last = deltas.order_by("-pk").values_list("pk", flat=True).first()
    if last is None:  # nothing pending: no transaction to open
        return 0
    with transaction.atomic():  # rows up to `last`, which no other writer can change meanwhile
        totals = deltas.filter(pk__lte=last).values_list("project_id").annotate(total=Sum("size")).order_by()
        for pid, total in totals:
            quota = Quota.objects.get(project_id=pid)
            quota.used = max(quota.used + total, 0)
            quota.save(update_fields=["used", "updated"])
        QuotaDelta.objects.filter(pk__in=deltas.filter(pk__lte=last).values("pk")).delete()
        return len(totals)


# --- selectors for the /quotas API ------------------------------------------------------------

QUOTA_SORT_FIELDS = {
    "hard.storage": "hard_order",
    "used.storage": "used",
    "creation_time": "created",
    "update_time": "updated",
}


def quota_list(*, reference: str | None = None, reference_id: str | None = None) -> QuerySet[Quota]:
    """Quotas with their project and owner; `reference` other than "project" matches nothing."""
    quota_fold()  # `used` then is the usage: no pending deltas to add per row (or to sort by)
    queryset = Quota.objects.select_related("project__owner").annotate(
        # Harbor sorts an unlimited (-1) hard limit as the largest.
        hard_order=Case(When(hard=UNLIMITED, then=Value(_BIGGEST)), default=F("hard"), output_field=BigIntegerField())
    )
    if reference not in (None, "", "project"):
        return queryset.none()
    if reference_id not in (None, ""):
        if not is_int64(reference_id):  # no project has such an id
            return queryset.none()
        queryset = queryset.filter(project_id=int(reference_id))
    return queryset


def quota_get(*, quota_id: int) -> Quota:
    """One quota with its project, or NOT_FOUND."""
    project_id = Quota.objects.filter(pk=quota_id).values_list("project_id", flat=True).first()
    if project_id is None:
        raise NotFound(f"quota {quota_id} not found")
    quota_fold(project_id=project_id)
    quota = Quota.objects.select_related("project__owner").filter(pk=quota_id).first()
    if quota is None:
        raise NotFound(f"quota {quota_id} not found")
    return quota
