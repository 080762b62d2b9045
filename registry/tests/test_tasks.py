"""registry/tasks.py: the purge job, called directly (Celery is not eager), and its beat schedule."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from common.models import Execution, ExecutionStatus
from harbor_site.celery import app as celery_app
from registry import tasks
from registry.models import Upload
from registry.services.uploads import upload_append, upload_start
from registry.storage import blob_store
from registry.tasks import PURGE_UPLOADS, purge_uploads
from registry.tests.factories import RepositoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def store(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "blobs": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    blob_store.cache_clear()
    yield blob_store()
    blob_store.cache_clear()


def _session(repository, *, idle: timedelta) -> Upload:
    upload = upload_start(repository=repository, owner="alice")
    upload_append(upload=upload, chunks=[b"partial"], start=0, length=7)
    Upload.objects.filter(pk=upload.pk).update(updated=timezone.now() - idle)
    return upload


def test_celery_is_not_eager():
    assert not celery_app.conf.task_always_eager


def test_task_is_registered_under_its_name():
    assert celery_app.tasks[PURGE_UPLOADS].name == PURGE_UPLOADS


def test_purge_records_a_succeeded_execution_with_counts(store, settings):
    settings.UPLOAD_PURGE_AGE_HOURS = 1
    repository = RepositoryFactory()
    stale = _session(repository, idle=timedelta(hours=3))
    fresh = _session(repository, idle=timedelta(minutes=5))

    execution_id = purge_uploads()

    execution = Execution.objects.get(pk=execution_id)
    assert execution.kind == "purge_uploads"
    assert execution.trigger == "SCHEDULE"
    assert execution.status == ExecutionStatus.SUCCEEDED == "Succeeded"
    assert execution.counts == {"sessions": 1, "orphans": 0}
    assert execution.ended is not None
    assert execution.ended >= execution.started
    assert list(Upload.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not Upload.objects.filter(pk=stale.pk).exists()


def test_purge_age_comes_from_settings(store, settings):
    repository = RepositoryFactory()
    _session(repository, idle=timedelta(hours=3))
    settings.UPLOAD_PURGE_AGE_HOURS = 24
    assert Execution.objects.get(pk=purge_uploads()).counts == {"sessions": 0, "orphans": 0}
    settings.UPLOAD_PURGE_AGE_HOURS = 2
    assert Execution.objects.get(pk=purge_uploads()).counts == {"sessions": 1, "orphans": 0}


def test_purge_is_safe_to_rerun(store, settings):
    settings.UPLOAD_PURGE_AGE_HOURS = 1
    _session(RepositoryFactory(), idle=timedelta(hours=3))
    first, second = purge_uploads(trigger="MANUAL"), purge_uploads(trigger="MANUAL")
    assert first != second
    assert [
        (e.counts, e.status, e.trigger) for e in Execution.objects.filter(pk__in=[first, second]).order_by("pk")
    ] == [
        ({"sessions": 1, "orphans": 0}, ExecutionStatus.SUCCEEDED, "MANUAL"),
        ({"sessions": 0, "orphans": 0}, ExecutionStatus.SUCCEEDED, "MANUAL"),
    ]


def test_failed_purge_records_the_error_and_reraises(store, monkeypatch):
    def broken(**kwargs):
        raise OSError("storage unavailable")

    monkeypatch.setattr(tasks, "upload_purge", broken)
    with pytest.raises(OSError, match="storage unavailable"):
        purge_uploads()
    execution = Execution.objects.get(kind="purge_uploads")
    assert execution.status == ExecutionStatus.FAILED
    assert "storage unavailable" in execution.log
    assert execution.ended is not None


def test_beat_schedule_exists_after_migrations():
    task = PeriodicTask.objects.get(name="Purge stale upload sessions")
    assert task.task == PURGE_UPLOADS
    assert task.enabled
    assert task.interval is not None
    assert (task.interval.every, task.interval.period) == (1, "hours")
    assert json.loads(task.kwargs) == {"trigger": "SCHEDULE"}
    assert json.loads(task.args or "[]") == []


def test_beat_schedule_arguments_fit_the_task(store):
    """What beat would send is accepted by the task as it is written (called directly, not eagerly)."""
    task = PeriodicTask.objects.get(name="Purge stale upload sessions")
    execution_id = celery_app.tasks[task.task].run(*json.loads(task.args or "[]"), **json.loads(task.kwargs))
    assert Execution.objects.get(pk=execution_id).trigger == "SCHEDULE"
