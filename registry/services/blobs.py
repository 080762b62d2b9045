"""Blob records: linking committed content to repositories, mounting, unlinking.

Every write that makes a blob's bytes or row live (record, mount), and every removal of a blob's
link (unlink, repository delete), first takes the digest's lock (`blob_digest_lock`, a
transaction-scoped advisory lock on PostgreSQL; SQLite serializes writers by itself). Garbage
collection (registry/services/gc.py) only deletes a blob's bytes and row while holding it, so a
push and a sweep of the same digest are serialized; and whether a link is a blob's first in its
project (what the quota charges) can't change under a push that is deciding it.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import connection, transaction
from django.utils import timezone

from projects.models import QuotaDelta
from projects.quotas import UNLIMITED
from registry.digest import Digest
from registry.errors import BlobUnknown
from registry.models import Blob, Repository, RepositoryBlob
from registry.quotas import (
    quota_charge_limited,
    quota_lock,
    quota_release_unlinked,
)

# Class id of the advisory locks on blob digests (the other key is hashtext(digest)).
BLOB_LOCK_CLASS = 0x0B10B


def blob_digest_lock(digest: str) -> None:
    """Lock a digest until the end of the current transaction (a no-op where writes are serialized anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [BLOB_LOCK_CLASS, digest])


def blob_digests_lock(digests: list[str]) -> None:
    """Lock digests until the end of the current transaction, in one order (sorted) so two callers can't deadlock."""
    if connection.vendor != "postgresql" or not digests:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_advisory_xact_lock(%s, hashtext(d))) FROM (SELECT DISTINCT unnest(%s::text[]) AS d "
            "ORDER BY 1) AS ordered",
            [BLOB_LOCK_CLASS, digests],
        )


def blob_digests_try_lock(digests: list[str]) -> set[str]:
    """Lock, without waiting, those of the digests nobody else holds; release them with blob_digests_unlock.

    Session-level (not transaction-level) locks: a sweep of many batches inside one outer transaction
    would otherwise pile up one lock per blob until PostgreSQL runs out of lock memory.
    """
    if connection.vendor != "postgresql" or not digests:
        return set(digests)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT d FROM unnest(%s::text[]) AS d WHERE pg_try_advisory_lock(%s, hashtext(d))",
            [digests, BLOB_LOCK_CLASS],
        )
        return {row[0] for row in cursor.fetchall()}


def blob_digests_unlock(digests: set[str]) -> None:
    """Release locks taken by blob_digests_try_lock."""
    if connection.vendor != "postgresql" or not digests:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_advisory_unlock(%s, hashtext(d)) FROM unnest(%s::text[]) AS d", [BLOB_LOCK_CLASS, list(digests)]
        )


# One round trip links a blob into a repository and, when that is its first link in the project,
# charges it: as a QuotaDelta row when the project has no limit (no lock, nothing to wait for), or
# reports that the limit must be checked (quota_charge_limited, under the Quota row's lock). The
# "first in the project" test is exact because every writer of links holds the digest's lock.
_LINK_SQL = {
    "postgresql": """
        WITH link AS (
            INSERT INTO registry_repositoryblob (repository_id, blob_id, created) VALUES (%(r)s, %(b)s, %(now)s)
            ON CONFLICT (repository_id, blob_id) DO NOTHING RETURNING 1
        ), counted AS (
            SELECT EXISTS (
                SELECT 1 FROM registry_repositoryblob rb JOIN registry_repository r ON r.id = rb.repository_id
                WHERE rb.blob_id = %(b)s AND r.project_id = %(p)s AND rb.repository_id <> %(r)s
            ) AS yes
        ), charge AS (
            INSERT INTO projects_quotadelta (project_id, size)
            SELECT %(p)s, %(size)s WHERE %(size)s > 0 AND EXISTS (SELECT 1 FROM link)
                AND NOT (SELECT yes FROM counted)
                AND (SELECT hard FROM projects_quota WHERE project_id = %(p)s) < 0
            RETURNING 1
        )
        SELECT EXISTS (SELECT 1 FROM link), (SELECT yes FROM counted), EXISTS (SELECT 1 FROM charge),
            EXISTS (SELECT 1 FROM projects_quota WHERE project_id = %(p)s)
    """,
}


def _link(*, repository: Repository, blob: Blob) -> None:
    """Link a blob to a repository (inside the caller's transaction, digest locked), charging the project."""
    project_id = repository.project_id
    sql = _LINK_SQL.get(connection.vendor)
    if sql is not None:
        with connection.cursor() as cursor:
            cursor.execute(
                sql, {"r": repository.pk, "b": blob.pk, "p": project_id, "size": blob.size, "now": timezone.now()}
            )
            linked, counted, charged, has_quota = cursor.fetchone()
    else:  # SQLite: writers are serialized by the database, so the steps need not be one statement
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO registry_repositoryblob (repository_id, blob_id, created) VALUES (%s, %s, %s) "
                "ON CONFLICT (repository_id, blob_id) DO NOTHING RETURNING 1",
                [repository.pk, blob.pk, timezone.now()],
            )
            linked = cursor.fetchone() is not None
            cursor.execute(
                "SELECT EXISTS (SELECT 1 FROM registry_repositoryblob rb JOIN registry_repository r "
                "ON r.id = rb.repository_id WHERE rb.blob_id = %s AND r.project_id = %s AND rb.repository_id <> %s), "
                "(SELECT hard FROM projects_quota WHERE project_id = %s)",
                [blob.pk, project_id, repository.pk, project_id],
            )
            counted, hard = cursor.fetchone()
            has_quota, charged = hard is not None, False
            if linked and not counted and blob.size and hard == UNLIMITED:
                QuotaDelta.objects.create(project_id=project_id, size=blob.size)
                charged = True
    if not has_quota:
        # Projects made outside project_create (fixtures, old data) get an unlimited quota on first use,
        # counted from their links: this one included, so there is nothing more to charge.
        quota_lock(project_id=project_id)
    elif linked and not counted and not charged and blob.size:
        quota_charge_limited(project_id=project_id, size=blob.size)  # QuotaExceeded (DENIED) rolls the link back


def _blob_upsert(digest: str, size: int) -> Blob:
    """The Blob row of a digest, created if new; on PostgreSQL the digest's lock is taken in the same statement."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            # The lock comes first (FROM is evaluated before the row is inserted), so garbage
            # collection can't sweep this digest from here to commit.
            cursor.execute(
                "INSERT INTO registry_blob (digest, size, created) SELECT %s, %s, %s "
                "FROM (SELECT pg_advisory_xact_lock(%s, hashtext(%s))) AS digest_lock "
                "ON CONFLICT (digest) DO NOTHING RETURNING id",
                [digest, size, timezone.now(), BLOB_LOCK_CLASS, digest],
            )
        else:
            cursor.execute(
                "INSERT INTO registry_blob (digest, size, created) VALUES (%s, %s, %s) "
                "ON CONFLICT (digest) DO NOTHING RETURNING id",
                [digest, size, timezone.now()],
            )
        row = cursor.fetchone()
        if row is not None:
            return Blob(pk=row[0], digest=digest, size=size)
    return Blob.objects.only("pk", "digest", "size").get(digest=digest)


def blob_record(
    *,
    digest: Digest,
    size: int,
    repository: Repository,
    commit: Callable[[], None] | None = None,
    also: Callable[[], object] | None = None,
) -> Blob:
    """Record a verified blob (`commit` stores its bytes under the digest lock) and link it; DENIED past quota.

    `also`: more writes of the same transaction (the finished upload session's delete)."""
    with transaction.atomic():
        blob = _blob_upsert(str(digest), size)
        if commit is not None:
            commit()  # under the lock: garbage collection can't remove the bytes between this and the link
        _link(repository=repository, blob=blob)
        if also is not None:
            also()
    return blob


def blob_mount(*, digest: Digest, source: str, repository: Repository) -> Blob | None:
    """Link a blob readable in `source` into `repository`; None when the source doesn't have it."""
    with transaction.atomic():
        blob_digest_lock(str(digest))
        blob = (
            Blob.objects.select_for_update(of=("self",))
            .filter(digest=str(digest), repository_links__repository__name=source)
            .first()
        )
        if blob is None:
            return None
        _link(repository=repository, blob=blob)
    return blob


def blob_unlink(*, digest: Digest, repository_name: str) -> None:
    """Remove a blob from a repository (the bytes go when garbage collection finds them unused)."""
    with transaction.atomic():
        # The digest's lock first: a push linking the same blob elsewhere in the project decides
        # whether to charge it by looking at this link, so the two must not interleave.
        blob_digest_lock(str(digest))
        link = (
            RepositoryBlob.objects.filter(repository__name=repository_name, blob__digest=str(digest))
            .values_list("pk", "blob_id", "repository__project_id")
            .first()
        )
        if link is None:
            raise BlobUnknown(detail={"digest": str(digest)})
        deleted, _ = RepositoryBlob.objects.filter(pk=link[0]).delete()
        if not deleted:
            raise BlobUnknown(detail={"digest": str(digest)})
        quota_release_unlinked(project_id=link[2], blob_ids=[link[1]])
