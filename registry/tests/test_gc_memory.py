"""The sweep's memory stays flat: ten times the blobs cost no more memory (batches, a capped log).

The whole run (batches, progress, log) is measured over 10,000 and 100,000 blobs in a dry run, and
the deleting path over 5,000 and 25,000 (under tracemalloc each deletion costs ~0.5 ms of Python;
bench/gc_sweep.py measures a real sweep of 100,000 and more).
"""

from __future__ import annotations

import tracemalloc
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from common.models import ExecutionStatus
from registry.digest import Digest
from registry.models import Blob
from registry.services.gc_jobs import gc_execute, gc_start
from registry.storage import blob_store

BATCH = 1000


@pytest.fixture
def store(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "blobs": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    blob_store.cache_clear()
    yield blob_store()
    blob_store.cache_clear()


def _rows(count: int, tag: str) -> None:
    """`count` old Blob rows nothing references (rows only, no bytes: the sweep's own cost is measured)."""
    old = timezone.now() - timedelta(days=2)
    if connection.vendor == "postgresql":  # one statement instead of 100,000 Python objects
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO registry_blob (digest, size, created) SELECT 'sha256:' || "
                "encode(sha256(convert_to(%s || i::text, 'UTF8')), 'hex'), i, %s FROM generate_series(1, %s) AS i",
                [f"{tag} ", old, count],
            )
            cursor.execute("ANALYZE registry_blob")  # as autovacuum would: the sweep's plan walks the pk index
        return
    for start in range(0, count, 10_000):
        Blob.objects.bulk_create(
            [
                Blob(digest=str(Digest.of(f"{tag} {i}".encode())), size=i)
                for i in range(start, min(start + 10_000, count))
            ]
        )
    Blob.objects.update(created=old)  # auto_now_add overrides a value given to bulk_create


def _sweep_peak(count: int, *, dry_run: bool) -> int:
    _rows(count, f"{'dry' if dry_run else 'real'} {count}")
    execution = gc_start(enqueue=False, dry_run=dry_run)
    tracemalloc.start()
    try:
        done = gc_execute(execution_id=execution.pk, batch_size=BATCH)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert done.status == ExecutionStatus.SUCCEEDED
    assert done.counts["blobs_deleted"] == count  # every one was also logged (the log keeps the newest lines)
    Blob.objects.all()._raw_delete(Blob.objects.db)  # the dry run's rows: the next measure starts empty
    return peak


@pytest.mark.django_db(transaction=True)  # each batch commits, as in production
@pytest.mark.parametrize(("dry_run", "small", "large"), [(True, 10_000, 100_000), (False, 5_000, 25_000)])
def test_sweep_memory_does_not_grow_with_the_number_of_blobs(store, dry_run, small, large):
    low = _sweep_peak(small, dry_run=dry_run)
    high = _sweep_peak(large, dry_run=dry_run)
    # O(n) state would multiply the peak by large/small; batches keep both at one batch plus the capped log.
    assert high < low * 1.5, (low, high)
    assert high < 16 * 1024 * 1024, high
