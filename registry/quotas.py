"""Storage quota accounting: each blob counts once per project, charged in the push transaction, refused past `hard`.

The accounting rule: a project's usage is the sum of the sizes of the distinct blobs linked
(RepositoryBlob) to any of its repositories. Linking a blob into a project for the first time
charges it; removing its last link there releases it. Whether a link is the first (or the last)
is decided under the blob digest's lock (registry/services/blobs.py), so it is exact.

Where the bytes are counted: usage = `Quota.used` + the sum of the project's pending QuotaDelta
rows. A charge in a project without a limit, and every release, appends a delta in the push's
transaction: no row is updated, so concurrent pushes into one project never wait on each other.
A charge in a project with a limit must know the exact usage before it commits, so it locks the
Quota row (`quota_charge_limited`) and updates `used` itself; only limited projects serialize,
and only from that statement to commit. `quota_fold` (beat, every minute; and before usage is
read) moves deltas into `used`; `quota_reconcile` recomputes usage from the links and fixes drift.

The Quota row is the projects app's (its limit, `projects/quotas.py`); what fills it is blobs, so
the accounting lives with them, in the registry core.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection, transaction
from django.db.models import BigIntegerField, F, Func, OuterRef, Subquery, Sum
from django.db.models.functions import Coalesce

from common.actor import actor_current
from common.events import QUOTA_EXCEEDED, QUOTA_WARNING, Event, event_dispatch, event_publish
from projects.models import Project, Quota, QuotaDelta
from projects.quotas import UNLIMITED, quota_pending
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
    """Add `size` bytes to a locked quota; QuotaExceeded (nothing changed) when usage would pass `hard`."""
    pending = quota_pending(project_id=quota.project_id)
    if _over(quota.used + pending, size, quota.hard):
        raise _exceeded(Quota(project_id=quota.project_id, hard=quota.hard, used=quota.used + pending), size)
    before = quota.used + pending
    quota.used += size
    quota.save(update_fields=["used", "updated"])
    if quota.hard > 0 and before * 100 < WARNING_PERCENT * quota.hard <= (before + size) * 100:
        now = Quota(project_id=quota.project_id, hard=quota.hard, used=before + size)
        event_publish(_quota_event(QUOTA_WARNING, now, size))
    return quota


def quota_charge_limited(*, project_id: int, size: int) -> Quota:
    """Charge a project whose quota may have a limit: under its row lock, against the exact usage."""
    return quota_charge(quota=quota_lock(project_id=project_id), size=size)


def quota_release_unlinked(*, project_id: int, blob_ids: Iterable[int]) -> int:
    """After removing blob links (same transaction, their digests locked): release those no longer in the project."""
    candidates = set(blob_ids)
    if not candidates:
        return 0
    still = RepositoryBlob.objects.filter(blob_id__in=candidates, repository__project_id=project_id)
    gone = candidates - set(still.values_list("blob_id", flat=True))
    size = sum(Blob.objects.filter(pk__in=gone).values_list("size", flat=True)) if gone else 0
    if size:
        # A delta, not an update: a release never waits for pushes into the project. A project without a
        # quota row gets one from its links (which no longer include these), so needs no delta.
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO projects_quotadelta (project_id, size) "
                "SELECT %s, %s WHERE EXISTS (SELECT 1 FROM projects_quota WHERE project_id = %s)",
                [project_id, -size, project_id],
            )
            if not cursor.rowcount:
                quota_lock(project_id=project_id)
    return size


def quota_check(*, project_id: int, digest: str, size: int, hard: int | None = None) -> None:
    """Refuse early (before the bytes are committed) a blob that can't fit; blob_record decides for good.

    `hard`: the project's limit when the caller already read it (UNLIMITED: nothing to check, no query)."""
    if hard == UNLIMITED:
        return
    row = Quota.objects.filter(project_id=project_id).values_list("hard", "used").first()
    if row is None or row[0] == UNLIMITED:
        return
    used = row[1] + quota_pending(project_id=project_id)
    if not _over(used, size, row[0]):
        return
    if RepositoryBlob.objects.filter(blob__digest=digest, repository__project_id=project_id).exists():
        return  # already counted in this project: linking it again costs nothing
    raise _exceeded(Quota(project_id=project_id, hard=row[0], used=used), size, digest)


def _usage_subquery() -> Subquery:
    linked = RepositoryBlob.objects.filter(repository__project_id=OuterRef(OuterRef("pk"))).values("blob_id")
    total = Blob.objects.filter(pk__in=linked).order_by().annotate(total=Func(F("size"), function="SUM"))
    return Subquery(total.values("total")[:1], output_field=BigIntegerField())


def _pending_subquery() -> Coalesce:
    deltas = QuotaDelta.objects.filter(project_id=OuterRef("pk")).order_by().values("project_id")
    total = deltas.annotate(total=Func(F("size"), function="SUM")).values("total")[:1]
    return Coalesce(Subquery(total, output_field=BigIntegerField()), 0, output_field=BigIntegerField())


def _actual() -> Coalesce:
    return Coalesce(_usage_subquery(), 0, output_field=BigIntegerField())


def quota_reconcile(*, dry_run: bool) -> list[QuotaDrift]:
    """Recompute every project's used bytes from its blob links; fix the drifted ones unless `dry_run`."""
    rows = (
        Project.objects.order_by("pk")
        .annotate(actual=_actual(), recorded=F("quota__used") + _pending_subquery())
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
            # Under the lock (limited pushes wait), recount. Unlimited pushes commit their link and their
            # delta together, so the links and the pending deltas are read in one statement (one snapshot):
            # `used` is then what the links add up to less what is still pending.
            existed = Quota.objects.filter(project_id=project_id).exists()
            quota = quota_lock(project_id=project_id)
            exact, pending = (
                Project.objects.filter(pk=project_id)
                .annotate(actual=_actual(), pending=_pending_subquery())
                .values_list("actual", "pending")
                .get()
            )
            if existed and quota.used + pending == exact:
                continue
            drifts.append(QuotaDrift(project_id, name, quota.used + pending if existed else None, exact))
            quota.used = exact - pending
            quota.save(update_fields=["used", "updated"])
    if drifts:
        logger.warning("quota reconcile (%s): %d projects drifted", "dry run" if dry_run else "fixed", len(drifts))
    return drifts
