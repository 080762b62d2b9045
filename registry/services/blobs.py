"""Blob records: linking committed content to repositories, mounting, unlinking."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from registry.digest import Digest
from registry.errors import BlobUnknown
from registry.models import Blob, Repository, RepositoryBlob


def blob_record(*, digest: Digest, size: int, repository: Repository) -> Blob:
    """Record a verified, stored blob and link it to the repository (idempotent)."""
    with transaction.atomic():
        blob = Blob.objects.filter(digest=str(digest)).first()
        if blob is None:
            try:
                with transaction.atomic():
                    blob = Blob.objects.create(digest=str(digest), size=size)
            except IntegrityError:
                blob = Blob.objects.get(digest=str(digest))
        RepositoryBlob.objects.get_or_create(repository=repository, blob=blob)
    return blob


def blob_mount(*, digest: Digest, source: str, repository: Repository) -> Blob | None:
    """Link a blob readable in `source` into `repository`; None when the source doesn't have it."""
    blob = Blob.objects.filter(digest=str(digest), repository_links__repository__name=source).first()
    if blob is None:
        return None
    RepositoryBlob.objects.get_or_create(repository=repository, blob=blob)
    return blob


def blob_unlink(*, digest: Digest, repository_name: str) -> None:
    """Remove a blob from a repository (the bytes go when garbage collection finds them unused)."""
    deleted, _ = RepositoryBlob.objects.filter(repository__name=repository_name, blob__digest=str(digest)).delete()
    if not deleted:
        raise BlobUnknown(detail={"digest": str(digest)})
