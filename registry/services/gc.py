"""Online mark-and-sweep garbage collection of blobs, untagged artifacts and upload leftovers.

Mark: a blob is kept when an artifact references it (ArtifactBlob), a repository links it
(RepositoryBlob; removing a blob from a repository drops the link), or its row is younger than
the safety window (HARBOR_GC_TIME_WINDOW_HOURS, default 1, may be 0: the locks below are what make
GC safe, the window only keeps recent garbage a while longer). The mark is a query, not a set in
memory: the sweep walks the unmarked rows in primary-key batches of GC_BATCH_SIZE, with a constant
number of queries per batch.

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

Untagged artifacts (delete_untagged) go one per transaction: the repository row is locked, then the
artifact, then it is re-checked untagged (a tag or an index pushed meanwhile keeps it). Repository
first is the order of repository_delete and of manifest pushes (which update the repository row).

An open upload session holds no Blob row and no digest until it completes: its data lives under
uploads/, and its completion (upload_complete -> blob_record) takes the digest lock above, so a
session finishing while the sweep runs is the "push holds the digest first / sweep first" case.

When run for an Execution (registry.services.gc_jobs), the counts are published after every batch,
a stop is honoured between batches, and the log lists what was (dry run: would be) deleted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import islice

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from common.api.errors import NotFound, Precondition
from common.models import Execution
from common.services import execution_progress, execution_stop_requested
from registry.digest import Digest
from registry.errors import DigestInvalid
from registry.models import (
    Artifact,
    ArtifactBlob,
    ArtifactReference,
    Blob,
    Repository,
    RepositoryBlob,
    Tag,
    Upload,
)
from registry.services.artifacts import artifact_delete
from registry.services.blobs import blob_digests_try_lock, blob_digests_unlock
from registry.services.uploads import upload_purge
from registry.storage import blob_store

logger = logging.getLogger(__name__)

GC_BATCH_SIZE = 500
COUNT_KEYS = ("blobs_examined", "blobs_deleted", "bytes_freed", "artifacts_deleted", "uploads_purged", "orphan_files")


class GCStopped(Exception):
    """The run's execution was stopped; raised between batches, after the last batch's work committed."""


@dataclass
class _Run:
    """The counts and log of one collection, published to its execution (if any) after every batch."""

    dry_run: bool
    execution: Execution | None = None
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    lines: list[str] = field(default_factory=list)

    @property
    def verb(self) -> str:
        return "would delete" if self.dry_run else "deleted"

    def note(self, line: str) -> None:
        self.lines.append(line + "\n")

    def batch_done(self) -> None:
        """Publish counts and the batch's log lines; GCStopped if someone stopped the execution."""
        if self.execution is None:
            self.lines.clear()
            return
        execution_progress(execution=self.execution, counts=dict(self.counts), log="".join(self.lines))
        self.lines.clear()
        if execution_stop_requested(execution_id=self.execution.pk):
            raise GCStopped


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


def _untagged_delete(*, cutoff: datetime, run: _Run, batch_size: int) -> None:
    fields = ("repository_id", "repository__name", "digest")
    for batch in _pk_batches(_untagged_artifacts(cutoff), fields, batch_size):
        for pk, repository_id, repository, digest in batch:
            if not run.dry_run:
                with transaction.atomic():
                    # Lock order of every writer: repository, then its artifacts (repository_delete, and
                    # manifest_push's repository update); artifact first would deadlock with them.
                    list(Repository.objects.select_for_update().filter(pk=repository_id).values_list("pk"))
                    # Then re-check: a tag or index added since the batch was read keeps it.
                    artifact = Artifact.objects.select_for_update().filter(pk=pk).first()
                    if artifact is None or not _untagged_artifacts(cutoff).filter(pk=pk).exists():
                        continue
                    try:
                        artifact_delete(artifact=artifact)
                    except (NotFound, Precondition) as exc:  # gone meanwhile, or an immutable accessory tag
                        logger.info("gc: keeping artifact %s: %s", pk, exc)
                        continue
            run.counts["artifacts_deleted"] += 1
            run.note(f"{run.verb} untagged artifact {repository}@{digest}")
        run.batch_done()


def _blobs_sweep(*, cutoff: datetime, run: _Run, batch_size: int) -> None:
    store = blob_store()
    for batch in _pk_batches(_unreferenced_blobs(cutoff), ("digest", "size"), batch_size):
        run.counts["blobs_examined"] += len(batch)
        if run.dry_run:
            rows = batch
        else:
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
                    # Rows re-checked unreferenced under their locks: no Python-side PROTECT collection
                    # (it loads every row and queries each relation again); the FKs still hold in the DB.
                    doomed = Blob.objects.filter(pk__in=[pk for pk, _digest, _size in rows])
                    doomed._raw_delete(doomed.db)
            finally:
                blob_digests_unlock(held)
        for _pk, digest, size in rows:
            run.note(f"{run.verb} blob {digest} ({size} bytes)")
        run.counts["blobs_deleted"] += len(rows)
        run.counts["bytes_freed"] += sum(size for _pk, _digest, size in rows)
        run.batch_done()


def _is_digest(value: str) -> bool:
    try:
        Digest.parse(value)
    except DigestInvalid:
        return False  # not a blob name: not ours to delete
    return True


def _orphan_files_sweep(*, window: timedelta, run: _Run, batch_size: int) -> None:
    """Delete blob files with no Blob row, older than the window."""
    store = blob_store()
    aged = (d for d, age in store.blob_listing() if age > window.total_seconds() and _is_digest(d))
    for batch in _chunks(aged, batch_size):
        known = set(Blob.objects.filter(digest__in=batch).values_list("digest", flat=True))
        candidates = [digest for digest in batch if digest not in known]
        if not candidates:
            continue
        removed = candidates
        if not run.dry_run:
            held: set[str] = set()
            try:
                with transaction.atomic():
                    held = blob_digests_try_lock(candidates)
                    recorded = set(Blob.objects.filter(digest__in=held).values_list("digest", flat=True))
                    removed = sorted(held - recorded)
                    for digest in removed:
                        store.blob_delete(Digest.parse(digest))
            finally:
                blob_digests_unlock(held)
        for digest in removed:
            run.note(f"{run.verb} orphan file {digest}")
        run.counts["orphan_files"] += len(removed)
        run.batch_done()


def _uploads_purge(*, window: timedelta, run: _Run) -> None:
    older_than = max(window, timedelta(hours=settings.UPLOAD_PURGE_AGE_HOURS))
    if run.dry_run:
        purged = Upload.objects.filter(updated__lt=timezone.now() - older_than).count()
    else:
        counts = upload_purge(older_than=older_than)
        purged = counts["sessions"] + counts["orphans"]
    run.counts["uploads_purged"] = purged
    if purged:
        run.note(f"{run.verb} {purged} upload session(s) idle for more than {older_than}")
    run.batch_done()


def gc_safety_window() -> timedelta:
    """How long new blobs, untagged artifacts and orphan files are kept (HARBOR_GC_TIME_WINDOW_HOURS)."""
    return timedelta(hours=settings.GC_TIME_WINDOW_HOURS)


def gc_run(
    *,
    delete_untagged: bool = False,
    dry_run: bool = False,
    safety_window: timedelta | None = None,
    batch_size: int = GC_BATCH_SIZE,
    execution: Execution | None = None,
) -> dict[str, int]:
    """Collect garbage (untagged artifacts if asked, unused blobs, uploads, orphan files); return the counts.

    With an execution: progress and log after every batch; GCStopped between batches once it is stopped.
    The safety window is settings.GC_TIME_WINDOW_HOURS unless given.
    """
    if safety_window is None:
        safety_window = gc_safety_window()
    run = _Run(dry_run=dry_run, execution=execution)
    cutoff = timezone.now() - safety_window
    if delete_untagged:
        _untagged_delete(cutoff=cutoff, run=run, batch_size=batch_size)
    _blobs_sweep(cutoff=cutoff, run=run, batch_size=batch_size)
    _uploads_purge(window=safety_window, run=run)
    _orphan_files_sweep(window=safety_window, run=run, batch_size=batch_size)
    return run.counts
