"""Storage quotas of projects: the limit (`hard`), set by admins, and the reads behind the /quotas API.

What fills a quota (`used`: blobs charged and released by pushes and deletes, the reconcile job)
is the registry's accounting, `registry/quotas.py`: the blobs live there.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import BigIntegerField, Case, F, QuerySet, Value, When

from audit.services import audit_record
from common.api.errors import BadRequest, NotFound
from common.api.params import is_int64
from projects.models import Quota

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


# --- selectors for the /quotas API ------------------------------------------------------------

QUOTA_SORT_FIELDS = {
    "hard.storage": "hard_order",
    "used.storage": "used",
    "creation_time": "created",
    "update_time": "updated",
}


def quota_list(*, reference: str | None = None, reference_id: str | None = None) -> QuerySet[Quota]:
    """Quotas with their project and owner; `reference` other than "project" matches nothing."""
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
    quota = Quota.objects.select_related("project__owner").filter(pk=quota_id).first()
    if quota is None:
        raise NotFound(f"quota {quota_id} not found")
    return quota
