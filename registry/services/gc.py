"""Online mark-and-sweep garbage collection of blobs, untagged artifacts and upload leftovers.

Mark: a blob is kept when an artifact references it (ArtifactBlob), a repository links it
(RepositoryBlob; removing a blob from a repository drops the link), or its row is younger than
the safety window. The mark is a query, not a set in memory: the sweep walks the unmarked rows
in primary-key batches of GC_BATCH_SIZE, with a constant number of queries per batch.

Why a concurrent push never loses its blob. Both sides take the same two locks, in the same
order: the digest's advisory lock (`blob_digest_lock`, transaction-scoped) and then the Blob row
(SELECT ... FOR UPDATE).
- Push (blob_record / blob_mount, in one transaction): lock the digest, lock the Blob row if
  there is one, then — for an upload — check `store.blob_exists` and commit the upload data
  when the bytes are absent (or drop it when present), create the row if it is missing, link it
  to the repository, commit.
- Sweep (one transaction per batch): try-lock the batch's digests without waiting (a digest
  held by a push is skipped: it is being linked), lock the still-unreferenced, still-old rows
  with SKIP LOCKED, re-checked after the locks are held, delete their bytes, then their rows,
  commit, release the digests (session-level locks, so that a sweep run inside an outer
  transaction doesn't hold one lock per blob; should one be released before the outer commit,
  the row lock still makes a push wait for the deletion to commit).
So either the push holds the digest first — the sweep skips it, and once the push commits, the
link keeps the blob — or the sweep holds it first — the push waits, then finds no row and no
bytes, commits its own upload data and re-creates the row. The existence check moved under the
lock for exactly this reason: checked before it, a push could see bytes that the sweep deletes
before the link is made. The sweep never waits on a push, so it can't deadlock with one.
Files in the store without a row (a push refused by the quota after committing, a crash) are
removed under the same digest lock, re-checking that no row appeared, once older than the
window. Upload sessions in progress live under uploads/ and are only purged when idle for
longer than both the window and UPLOAD_PURGE_AGE_HOURS (registry.services.uploads.upload_purge).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from datetime import datetime, timedelta
from itertools import islice

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from common.api.errors import NotFound, Precondition
from registry.digest import Digest
from registry.errors import DigestInvalid
from registry.models import Artifact, ArtifactBlob, ArtifactReference, Blob, RepositoryBlob, Tag, Upload
from registry.services.artifacts import artifact_delete
from registry.services.blobs import blob_digests_try_lock, blob_digests_unlock
from registry.services.uploads import upload_purge
from registry.storage import blob_store

logger = logging.getLogger(__name__)

GC_BATCH_SIZE = 500
GC_SAFETY_WINDOW = timedelta(hours=1)


def _unreferenced_blobs(cutoff: datetime) -> QuerySet[Blob]:
    return (
        Blob.objects.filter(created__lt=cutoff)
        .exclude(Exists(RepositoryBlob.objects.filter(blob=OuterRef("pk"))))
        .exclude(Exists(ArtifactBlob.objects.filter(blob=OuterRef("pk"))))
    )


def _untagged_artifacts(cutoff: datetime) -> QuerySet[Artifact]:
    """Untagged artifacts older than the window that are neither index children nor accessories."""
    return (
        Artifact.objects.filter(push_time__lt=cutoff, subject_digest="")
        .exclude(Exists(Tag.objects.filter(artifact=OuterRef("pk"))))
        .exclude(Exists(ArtifactReference.objects.filter(child=OuterRef("pk"))))
    )


def _pk_batches(queryset: QuerySet, fields: tuple[str, ...], size: int) -> Iterator[list[tuple]]:
    """Rows of the queryset in primary-key order, `size` at a time (flat memory, no open cursor)."""
    last = 0
    while True:
        batch = list(queryset.filter(pk__gt=last).order_by("pk").values_list("pk", *fields)[:size])
        if not batch:
            return
        yield batch
        last = batch[-1][0]


def _chunks(items: Iterable, size: int) -> Iterator[list]:
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


def _untagged_delete(*, cutoff: datetime, dry_run: bool, batch_size: int) -> int:
    deleted = 0
    for batch in _pk_batches(_untagged_artifacts(cutoff), (), batch_size):
        if dry_run:
            deleted += len(batch)
            continue
        for (pk,) in batch:
            with transaction.atomic():
                # Lock, then re-check: a tag or index added since the batch was read keeps it.
                artifact = Artifact.objects.select_for_update().filter(pk=pk).first()
                if artifact is None or not _untagged_artifacts(cutoff).filter(pk=pk).exists():
                    continue
                try:
                    artifact_delete(artifact=artifact)
                except (NotFound, Precondition) as exc:  # gone meanwhile, or an immutable accessory tag
                    logger.info("gc: keeping artifact %s: %s", pk, exc)
                    continue
            deleted += 1
    return deleted


def _blobs_sweep(*, cutoff: datetime, dry_run: bool, batch_size: int) -> tuple[int, int]:
    store = blob_store()
    deleted = freed = 0
    for batch in _pk_batches(_unreferenced_blobs(cutoff), ("digest", "size"), batch_size):
        if dry_run:
            deleted += len(batch)
            freed += sum(size for _pk, _digest, size in batch)
            continue
        held: set[str] = set()
        try:
            with transaction.atomic():
                held = blob_digests_try_lock([digest for _pk, digest, _size in batch])
                rows = list(
                    _unreferenced_blobs(cutoff)
                    .filter(pk__in=[pk for pk, digest, _size in batch if digest in held])
                    .select_for_update(skip_locked=True)
                    .values_list("pk", "digest", "size")
                )
                for _pk, digest, _size in rows:
                    store.blob_delete(Digest.parse(digest))  # under both locks: no push can look in between
                Blob.objects.filter(pk__in=[pk for pk, _digest, _size in rows]).delete()
        finally:
            blob_digests_unlock(held)
        deleted += len(rows)
        freed += sum(size for _pk, _digest, size in rows)
    return deleted, freed


def _is_digest(value: str) -> bool:
    try:
        Digest.parse(value)
    except DigestInvalid:
        return False  # not a blob name: not ours to delete
    return True


def _orphan_files_sweep(*, window: timedelta, dry_run: bool, batch_size: int) -> int:
    """Delete blob files with no Blob row, older than the window."""
    store = blob_store()
    removed = 0
    aged = (d for d, age in store.blob_listing() if age > window.total_seconds() and _is_digest(d))
    for batch in _chunks(aged, batch_size):
        known = set(Blob.objects.filter(digest__in=batch).values_list("digest", flat=True))
        candidates = [digest for digest in batch if digest not in known]
        if dry_run or not candidates:
            removed += len(candidates)
            continue
        held: set[str] = set()
        try:
            with transaction.atomic():
                held = blob_digests_try_lock(candidates)
                recorded = set(Blob.objects.filter(digest__in=held).values_list("digest", flat=True))
                for digest in held - recorded:
                    store.blob_delete(Digest.parse(digest))
                    removed += 1
        finally:
            blob_digests_unlock(held)
    return removed


def _uploads_purge(*, window: timedelta, dry_run: bool) -> int:
    older_than = max(window, timedelta(hours=settings.UPLOAD_PURGE_AGE_HOURS))
    if dry_run:
        return Upload.objects.filter(updated__lt=timezone.now() - older_than).count()
    counts = upload_purge(older_than=older_than)
    return counts["sessions"] + counts["orphans"]


def gc_run(
    *,
    delete_untagged: bool = False,
    dry_run: bool = False,
    safety_window: timedelta = GC_SAFETY_WINDOW,
    batch_size: int = GC_BATCH_SIZE,
) -> dict[str, int]:
    """Collect garbage (untagged artifacts if asked, unused blobs, orphan files and uploads); return the counts."""
    cutoff = timezone.now() - safety_window
    artifacts = _untagged_delete(cutoff=cutoff, dry_run=dry_run, batch_size=batch_size) if delete_untagged else 0
    blobs, freed = _blobs_sweep(cutoff=cutoff, dry_run=dry_run, batch_size=batch_size)
    return {
        "blobs_deleted": blobs,
        "bytes_freed": freed,
        "artifacts_deleted": artifacts,
        "uploads_purged": _uploads_purge(window=safety_window, dry_run=dry_run),
        "orphan_files": _orphan_files_sweep(window=safety_window, dry_run=dry_run, batch_size=batch_size),
    }
