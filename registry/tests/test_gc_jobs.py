"""registry/services/gc_jobs.py and the `registry.gc` task: one run at a time, progress, stop, log, schedule, audit."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from audit.models import AuditLog
from common.api.errors import BadRequest, Conflict
from common.models import Execution, ExecutionStatus
from common.services import execution_begin, execution_stop
from harbor_site.celery import app as celery_app
from projects.services import project_create
from registry.digest import Digest
from registry.models import Artifact, Blob
from registry.services.gc import GCStopped, gc_run
from registry.services.gc_jobs import (
    GC_SCHEDULE_NAME,
    gc_execute,
    gc_schedule_get,
    gc_schedule_set,
    gc_start,
    gc_stop,
)
from registry.storage import blob_store
from registry.tasks import gc
from registry.tests.api import builders

LONG_AGO = timezone.now() - timedelta(days=2)


@pytest.fixture
def store(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "blobs": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    blob_store.cache_clear()
    yield blob_store()
    blob_store.cache_clear()


def _loose_blobs(count: int, tag: str = "") -> list[str]:
    """Old Blob rows nothing references (no bytes: deleting a missing file is a no-op)."""
    digests = [str(Digest.of(f"loose {tag} {i}".encode())) for i in range(count)]
    Blob.objects.bulk_create([Blob(digest=d, size=10) for d in digests])
    Blob.objects.filter(digest__in=digests).update(created=LONG_AGO)
    return digests


def _gc_audits() -> list[tuple[str, str, str]]:
    return list(
        AuditLog.objects.filter(resource_type="gc").order_by("pk").values_list("operation", "resource", "username")
    )


@pytest.mark.django_db
def test_manual_run_is_pending_audited_enqueued_on_commit_and_one_at_a_time(store, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        execution = gc_start(delete_untagged=True, workers=2)
    assert len(callbacks) == 1  # the task, enqueued once the row is committed
    assert (execution.kind, execution.status, execution.trigger) == ("gc", ExecutionStatus.PENDING, "MANUAL")
    assert execution.parameters == {"delete_untagged": True, "dry_run": False, "workers": 2}
    assert _gc_audits() == [("create", f"gc/{execution.pk}", "system")]

    with pytest.raises(Conflict, match=f"{execution.pk} is already pending"):
        gc_start()
    execution_begin(execution_id=execution.pk)
    with pytest.raises(Conflict, match="already running"):
        gc_start(dry_run=True)
    assert Execution.objects.filter(kind="gc").count() == 1

    gc(execution.pk)  # what the worker runs
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert gc_start(dry_run=True).dry_run  # free again once it ended


@pytest.mark.django_db
def test_workers_are_validated():
    for workers in (0, 6, "2", True):
        with pytest.raises(BadRequest, match="workers"):
            gc_start(workers=workers)
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_a_run_reports_progress_per_batch_and_logs_what_went(store):
    digests = _loose_blobs(5)
    execution = gc_start(enqueue=False)
    done = gc_execute(execution_id=execution.pk)
    assert done.status == ExecutionStatus.SUCCEEDED
    assert done.counts == {
        "blobs_examined": 5,
        "blobs_deleted": 5,
        "bytes_freed": 50,
        "artifacts_deleted": 0,
        "uploads_purged": 0,
        "orphan_files": 0,
    }
    for digest in digests:
        assert f"deleted blob {digest} (10 bytes)\n" in done.log
    assert done.log.endswith(
        "freed 50 bytes: 5 blob(s) of 5 unreferenced, 0 untagged artifact(s), 0 upload(s), 0 orphan file(s)\n"
    )
    assert not Blob.objects.exists()


@pytest.mark.django_db
def test_dry_run_logs_what_would_go_and_keeps_it(store):
    project_create(name="lib", public=False)
    repo = builders.repository("lib/app")
    untagged = builders.image(repo, seed="untagged")
    digests = _loose_blobs(2)
    Artifact.objects.update(push_time=LONG_AGO)
    execution = gc_start(dry_run=True, delete_untagged=True, enqueue=False)
    done = gc_execute(execution_id=execution.pk)
    assert done.counts["blobs_deleted"] == 2
    assert done.counts["artifacts_deleted"] == 1
    assert f"would delete untagged artifact lib/app@{untagged.digest}\n" in done.log
    assert f"would delete blob {digests[0]} (10 bytes)\n" in done.log
    assert "would free 20 bytes" in done.log
    assert Blob.objects.filter(digest__in=digests).count() == 2
    assert Artifact.objects.filter(pk=untagged.pk).exists()


@pytest.mark.django_db
def test_stop_is_honoured_between_batches(store):
    digests = _loose_blobs(6)
    execution = gc_start(enqueue=False)
    execution = execution_begin(execution_id=execution.pk)
    execution_stop(execution=execution)
    with pytest.raises(GCStopped):
        gc_run(execution=execution, batch_size=2)
    # The first batch committed, then the run saw the stop: the rest is untouched.
    assert Blob.objects.filter(digest__in=digests).count() == 4
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.STOPPED
    assert execution.counts["blobs_deleted"] == 2


@pytest.mark.django_db
def test_a_run_stopped_before_it_began_does_nothing(store):
    digests = _loose_blobs(3)
    execution = gc_start(enqueue=False)
    gc_stop(execution=execution)
    assert gc(execution.pk) is None
    assert Blob.objects.filter(digest__in=digests).count() == 3
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.STOPPED
    assert "stop requested by system" in execution.log
    assert _gc_audits()[-1] == ("update", f"gc/{execution.pk}", "system")
    assert gc_start(enqueue=False)  # a stop clears the way for the next run


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs concurrent connections")
@pytest.mark.django_db(transaction=True)
def test_stopping_a_running_collection_from_another_connection(store):
    digests = _loose_blobs(300)
    execution = gc_start(enqueue=False)
    outcome: list[Execution | None] = []

    def worker() -> None:
        try:
            outcome.append(gc_execute(execution_id=execution.pk, batch_size=1))
        finally:
            connections.close_all()

    thread = threading.Thread(target=worker)
    thread.start()
    try:
        while not Execution.objects.filter(pk=execution.pk, counts__blobs_deleted__gte=1).exists():
            time.sleep(0.005)
        gc_stop(execution=Execution.objects.get(pk=execution.pk))
    finally:
        thread.join()
    done = outcome[0]
    assert done.status == ExecutionStatus.STOPPED
    left = Blob.objects.filter(digest__in=digests).count()
    assert left > 0
    assert done.counts["blobs_deleted"] == 300 - left  # the counts are those of the batches that committed
    assert done.log.endswith("stopped\n")


@pytest.mark.django_db
def test_a_scheduled_run_is_skipped_while_another_is_active(store):
    digests = _loose_blobs(2)
    manual = gc_start(enqueue=False)
    assert gc(delete_untagged=True) is None  # beat's call: no execution id
    assert list(Execution.objects.values_list("pk", flat=True)) == [manual.pk]
    assert Blob.objects.filter(digest__in=digests).count() == 2
    gc(manual.pk)
    scheduled = Execution.objects.get(pk=gc(dry_run=True))
    assert (scheduled.trigger, scheduled.dry_run, scheduled.status) == ("SCHEDULE", True, ExecutionStatus.SUCCEEDED)
    assert [op for op, _r, _u in _gc_audits()] == ["create"]  # only the manual run is an operator's act


@pytest.mark.django_db
def test_schedule_types_set_change_and_remove_the_beat_entry_with_audit():
    assert gc_schedule_get() is None
    gc_schedule_set(type="Hourly", parameters={"delete_untagged": True})
    schedule = gc_schedule_get()
    assert (schedule["type"], schedule["cron"]) == ("Hourly", "0 0 * * * *")
    assert schedule["kwargs"] == {"delete_untagged": True, "dry_run": False, "workers": 1}
    gc_schedule_set(type="Custom", cron="0 30 2 * * 1-5", parameters={"dry_run": True, "workers": 3})
    schedule = gc_schedule_get()
    assert (schedule["type"], schedule["cron"]) == ("Custom", "0 30 2 * * 1-5")
    assert schedule["kwargs"] == {"delete_untagged": False, "dry_run": True, "workers": 3}
    with pytest.raises(BadRequest, match="invalid cron"):
        gc_schedule_set(type="Custom", cron="0 99 * * * *")
    with pytest.raises(BadRequest, match="needs a cron"):
        gc_schedule_set(type="Custom")
    with pytest.raises(BadRequest, match="schedule type"):
        gc_schedule_set(type="Monthly")
    assert gc_schedule_get()["cron"] == "0 30 2 * * 1-5"  # refused changes leave it as it was
    gc_schedule_set(type="None")
    assert gc_schedule_get() is None
    audits = _gc_audits()
    assert [(op, resource) for op, resource, _u in audits] == [
        ("update", "gc/schedule"),
        ("update", "gc/schedule"),
        ("delete", "gc/schedule"),
    ]
    assert not Execution.objects.exists()


@pytest.mark.django_db
def test_manual_schedule_type_runs_now(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        execution = gc_schedule_set(type="Manual", parameters={"dry_run": True})
    assert len(callbacks) == 1
    assert execution.status == ExecutionStatus.PENDING
    assert execution.dry_run
    assert gc_schedule_get() is None  # a manual run is not a schedule


@pytest.mark.django_db
def test_the_beat_entry_calls_the_task_with_the_parameters():
    gc_schedule_set(type="Daily", parameters={"delete_untagged": True, "workers": 2})
    entry = PeriodicTask.objects.get(name=GC_SCHEDULE_NAME)
    assert entry.task == "registry.gc"
    assert entry.task in celery_app.tasks
    assert entry.kwargs == '{"delete_untagged": true, "dry_run": false, "workers": 2}'
