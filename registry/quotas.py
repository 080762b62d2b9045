"""Storage quota accounting: each blob counts once per project, charged in the push transaction, refused past `hard`.

The accounting rule: a project's `used` is the sum of the sizes of the distinct blobs linked
(RepositoryBlob) to any of its repositories. Linking a blob into a project for the first time
charges it; removing its last link there releases it. Every change happens with the project's
Quota row locked (`select_for_update`), so concurrent pushes into one project serialize on it
and `used` stays exact; `quota_reconcile` recomputes it from the links and fixes any drift.

The Quota row is the projects app's (its limit, `projects/quotas.py`); what fills it is blobs, so
the accounting lives with them, in the registry core.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction
from django.db.models import BigIntegerField, F, Func, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from common.actor import actor_current
from common.events import QUOTA_EXCEEDED, QUOTA_WARNING, Event, event_dispatch, event_publish
from projects.models import Project, Quota
from projects.quotas import UNLIMITED
from registry.errors import Denied
from registry.models import Blob, RepositoryBlob

logger = logging.getLogger(__name__)

WARNING_PERCENT = 85  # Harbor's default quota warning threshold


class QuotaExceeded(Denied):
    """A push that would take a project past its storage limit (DENIED, 403 on /v2/)."""


@dataclass(frozen=True, slots=True)
class QuotaDrift:
    """A project whose recorded usage differed from the bytes its blob links add up to."""

    project_id: int
    project_name: str
    recorded: int | None  # None: the project had no Quota row
    actual: int


def _quota_event(event_type: str, quota: Quota, size: int, digest: str = "") -> Event:
    """A quota.warning or quota.exceeded event, with Harbor's details message and plain values."""
    name = Project.objects.filter(pk=quota.project_id).values_list("name", flat=True).first() or ""
    if event_type == QUOTA_EXCEEDED:
        details = f"quota exceeded: project {name} storage {quota.used}+{size} > {quota.hard} bytes"
    else:
        details = f"quota warning: project {name} uses {quota.used} of {quota.hard} bytes ({WARNING_PERCENT}%+)"
    logger.warning("%s (%s)", details, event_type)
    data = {"project": name, "used": quota.used, "hard": quota.hard, "size": size, "details": details}
    if digest:
        data["resources"] = [{"digest": digest}]
    return Event(type=event_type, project_id=quota.project_id, operator=actor_current().username, data=data)


def project_usage(*, project_id: int) -> int:
    """Bytes of the distinct blobs linked to any repository of the project."""
    linked = RepositoryBlob.objects.filter(repository__project_id=project_id).values("blob_id")
    total = Blob.objects.filter(pk__in=linked).aggregate(total=Sum("size"))["total"]
    return int(total or 0)


def quota_blob_counted(*, project_id: int, blob_id: int) -> bool:
    """Is the blob linked to some repository of the project (and so already counted)?"""
    return RepositoryBlob.objects.filter(blob_id=blob_id, repository__project_id=project_id).exists()


def quota_lock(*, project_id: int) -> Quota:
    """The project's Quota row, locked until the caller's transaction ends (created if missing)."""
    quota = Quota.objects.select_for_update().filter(project_id=project_id).first()
    if quota is None:
        # Projects made outside project_create (fixtures, old data) get an unlimited quota on first use.
        Quota.objects.get_or_create(project_id=project_id, defaults={"used": project_usage(project_id=project_id)})
        quota = Quota.objects.select_for_update().get(project_id=project_id)
    return quota


def _exceeded(quota: Quota, size: int, digest: str = "") -> QuotaExceeded:
    # Dispatched now, not on commit: the refused push's transaction rolls back.
    event_dispatch(_quota_event(QUOTA_EXCEEDED, quota, size, digest))
    return QuotaExceeded(f"quota exceeded: storage {quota.used}+{size} > {quota.hard}")


def _over(used: int, size: int, hard: int) -> bool:
    return hard != UNLIMITED and used + size > hard


def quota_charge(*, quota: Quota, size: int) -> Quota:
    """Add `size` bytes to a locked quota; QuotaExceeded (nothing changed) when that passes `hard`."""
    if _over(quota.used, size, quota.hard):
        raise _exceeded(quota, size)
    before = quota.used
    quota.used = before + size
    quota.save(update_fields=["used", "updated"])
    if quota.hard > 0 and before * 100 < WARNING_PERCENT * quota.hard <= quota.used * 100:
        event_publish(_quota_event(QUOTA_WARNING, quota, size))
    return quota


def quota_release(*, quota: Quota, size: int) -> Quota:
    """Subtract `size` bytes from a locked quota (never below zero)."""
    if size:
        quota.used = max(quota.used - size, 0)
        quota.save(update_fields=["used", "updated"])
    return quota


def quota_release_unlinked(*, quota: Quota, blob_ids: Iterable[int]) -> int:
    """After removing blob links (same transaction, quota locked): release the blobs no longer in the project."""
    candidates = set(blob_ids)
    if not candidates:
        return 0
    still = RepositoryBlob.objects.filter(blob_id__in=candidates, repository__project_id=quota.project_id)
    gone = candidates - set(still.values_list("blob_id", flat=True))
    size = sum(Blob.objects.filter(pk__in=gone).values_list("size", flat=True)) if gone else 0
    quota_release(quota=quota, size=size)
    return size


def quota_check(*, project_id: int, digest: str, size: int) -> None:
    """Refuse early (before the bytes are committed) a blob that can't fit; blob_record decides for good."""
    row = Quota.objects.filter(project_id=project_id).values_list("hard", "used").first()
    if row is None or not _over(row[1], size, row[0]):
        return
    if RepositoryBlob.objects.filter(blob__digest=digest, repository__project_id=project_id).exists():
        return  # already counted in this project: linking it again costs nothing
    raise _exceeded(Quota(project_id=project_id, hard=row[0], used=row[1]), size, digest)


def _usage_subquery() -> Subquery:
    linked = RepositoryBlob.objects.filter(repository__project_id=OuterRef(OuterRef("pk"))).values("blob_id")
    total = Blob.objects.filter(pk__in=linked).order_by().annotate(total=Func(F("size"), function="SUM"))
    return Subquery(total.values("total")[:1], output_field=BigIntegerField())


def quota_reconcile(*, dry_run: bool) -> list[QuotaDrift]:
    """Recompute every project's used bytes from its blob links; fix the drifted ones unless `dry_run`."""
    rows = (
        Project.objects.order_by("pk")
        .annotate(actual=Coalesce(_usage_subquery(), 0, output_field=BigIntegerField()), recorded=F("quota__used"))
        .values_list("pk", "name", "recorded", "actual")
    )
    drifts: list[QuotaDrift] = []
    for project_id, name, recorded, actual in rows.iterator(chunk_size=500):
        if recorded == actual:
            continue
        if dry_run:
            drifts.append(QuotaDrift(project_id, name, recorded, int(actual)))
            continue
        with transaction.atomic():
            # Under the lock, recount: a push may have moved both numbers since the scan.
            existed = Quota.objects.filter(project_id=project_id).exists()
            quota = quota_lock(project_id=project_id)
            exact = project_usage(project_id=project_id)
            if existed and quota.used == exact:
                continue
            drifts.append(QuotaDrift(project_id, name, quota.used if existed else None, exact))
            quota.used = exact
            quota.save(update_fields=["used", "updated"])
    if drifts:
        logger.warning("quota reconcile (%s): %d projects drifted", "dry run" if dry_run else "fixed", len(drifts))
    return drifts
