"""Blob records: linking committed content to repositories, mounting, unlinking."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from projects.quotas import quota_blob_counted, quota_charge, quota_lock, quota_release_unlinked
from registry.digest import Digest
from registry.errors import BlobUnknown
from registry.models import Blob, Repository, RepositoryBlob


def _link(*, repository: Repository, blob: Blob) -> None:
    """Link a blob to a repository (inside the caller's transaction), charging the project's quota."""
    if RepositoryBlob.objects.filter(repository=repository, blob=blob).exists():
        return
    # A blob counts once per project: charged on its first link there, under the project's quota lock.
    quota = quota_lock(project_id=repository.project_id)
    if not quota_blob_counted(project_id=repository.project_id, blob_id=blob.pk):
        quota_charge(quota=quota, size=blob.size)  # QuotaExceeded (DENIED) rolls the link back
    RepositoryBlob.objects.get_or_create(repository=repository, blob=blob)


def blob_record(*, digest: Digest, size: int, repository: Repository) -> Blob:
    """Record a verified, stored blob and link it to the repository (idempotent); DENIED past the quota."""
    with transaction.atomic():
        blob = Blob.objects.filter(digest=str(digest)).first()
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
    blob = Blob.objects.filter(digest=str(digest), repository_links__repository__name=source).first()
    if blob is None:
        return None
    with transaction.atomic():
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
