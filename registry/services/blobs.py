"""Blob records: linking committed content to repositories, mounting, unlinking.

Every write that makes a blob's bytes or row live (record, mount) first takes the digest's lock
(`blob_digest_lock`, a transaction-scoped advisory lock on PostgreSQL) and then the Blob row's
lock; garbage collection (registry/services/gc.py) only deletes a blob's bytes and row while
holding both, so a push and a sweep of the same digest are serialized.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import IntegrityError, connection, transaction

from registry.digest import Digest
from registry.errors import BlobUnknown
from registry.models import Blob, Repository, RepositoryBlob
from registry.quotas import quota_blob_counted, quota_charge, quota_lock, quota_release_unlinked

# Class id of the advisory locks on blob digests (the other key is hashtext(digest)).
BLOB_LOCK_CLASS = 0x0B10B


def blob_digest_lock(digest: str) -> None:
    """Lock a digest until the end of the current transaction (a no-op where writes are serialized anyway)."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, hashtext(%s))", [BLOB_LOCK_CLASS, digest])


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


def _link(*, repository: Repository, blob: Blob) -> None:
    """Link a blob to a repository (inside the caller's transaction), charging the project's quota."""
    if RepositoryBlob.objects.filter(repository=repository, blob=blob).exists():
        return
    # A blob counts once per project: charged on its first link there, under the project's quota lock.
    quota = quota_lock(project_id=repository.project_id)
    if not quota_blob_counted(project_id=repository.project_id, blob_id=blob.pk):
        quota_charge(quota=quota, size=blob.size)  # QuotaExceeded (DENIED) rolls the link back
    RepositoryBlob.objects.get_or_create(repository=repository, blob=blob)


def blob_record(*, digest: Digest, size: int, repository: Repository, commit: Callable[[], None] | None = None) -> Blob:
    """Record a verified blob (`commit` stores its bytes under the digest lock) and link it; DENIED past quota."""
    with transaction.atomic():
        blob_digest_lock(str(digest))
        blob = Blob.objects.select_for_update().filter(digest=str(digest)).first()
        if commit is not None:
            commit()  # after the lock: garbage collection can't remove the bytes between this and the link
        if blob is None:
            try:
                with transaction.atomic():
                    blob = Blob.objects.create(digest=str(digest), size=size)
            except IntegrityError:
                blob = Blob.objects.get(digest=str(digest))
        _link(repository=repository, blob=blob)
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
        link = (
            RepositoryBlob.objects.filter(repository__name=repository_name, blob__digest=str(digest))
            .values_list("pk", "blob_id", "repository__project_id")
            .first()
        )
        if link is None:
            raise BlobUnknown(detail={"digest": str(digest)})
        quota = quota_lock(project_id=link[2])
        deleted, _ = RepositoryBlob.objects.filter(pk=link[0]).delete()
        if not deleted:
            raise BlobUnknown(detail={"digest": str(digest)})
        quota_release_unlinked(quota=quota, blob_ids=[link[1]])
