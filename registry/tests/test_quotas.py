"""Quota accounting in the registry services, the 85% warning, reconcile and its task and schedule."""

from __future__ import annotations

import logging
import os
import threading

import pytest
from django.db import connection, connections, transaction
from django_celery_beat.models import PeriodicTask

from common.events import QUOTA_EXCEEDED, QUOTA_WARNING, events_captured
from common.models import Execution, ExecutionStatus
from common.testing.sessions import finishes_while_held, lock_waiters, session_thread, until
from projects.models import Quota, QuotaDelta
from projects.quotas import quota_fold, quota_pending
from projects.services import project_create
from projects.tests.factories import ProjectFactory
from registry import tasks
from registry.digest import Digest
from registry.errors import Denied
from registry.models import Blob, RepositoryBlob, Upload
from registry.quotas import (
    QuotaDrift,
    QuotaExceeded,
    project_usage,
    quota_reconcile,
    quota_release_unlinked,
)
from registry.services import uploads
from registry.services.artifacts import repository_delete
from registry.services.blobs import BLOB_LOCK_CLASS, blob_mount, blob_record, blob_unlink
from registry.services.uploads import blob_push_monolithic, upload_append, upload_complete, upload_start
from registry.storage import FilesystemBlobStore, blob_name, blob_store
from registry.tests.factories import BlobFactory, RepositoryBlobFactory, RepositoryFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def quota_events():
    """The quota events dispatched during the test, as (type, project id, used, hard, size)."""
    with events_captured(QUOTA_WARNING, QUOTA_EXCEEDED) as seen:
        yield lambda: [(e.type, e.project_id, e.data["used"], e.data["hard"], e.data["size"]) for e in seen]


@pytest.fixture
def store(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "blobs": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    blob_store.cache_clear()
    current = blob_store()
    assert isinstance(current, FilesystemBlobStore)
    yield current
    blob_store.cache_clear()


def _project(name: str, limit: int | None = None):  # noqa: ANN202
    project = project_create(name=name, storage_limit=limit)
    return project, [RepositoryFactory(project=project, name=f"{name}/r{i}") for i in range(3)]


def _used(project) -> int:  # noqa: ANN001
    quota_fold(project_id=project.pk)  # pending deltas of pushes into `used`
    return Quota.objects.get(project=project).used


def _drift(project, used: int) -> None:  # noqa: ANN001
    """Make the recorded usage wrong: `used` set to a value, with no delta pending."""
    quota_fold(project_id=project.pk)
    Quota.objects.filter(project=project).update(used=used)


def _record(data: bytes, repository):  # noqa: ANN001, ANN202
    return blob_record(digest=Digest.of(data), size=len(data), repository=repository)


# --- accounting ------------------------------------------------------------------------------


def test_a_blob_counts_once_per_project():
    alpha, (a1, a2, _a3) = _project("alpha")
    beta, (b1, _b2, _b3) = _project("beta")
    _record(b"x" * 100, a1)
    _record(b"x" * 100, a2)  # the same blob in a second repository of the project
    _record(b"x" * 100, a1)  # and again in the first (idempotent)
    assert _used(alpha) == 100
    _record(b"y" * 30, a2)
    assert _used(alpha) == 130
    _record(b"x" * 100, b1)  # another project pays for it too
    assert (_used(alpha), _used(beta)) == (130, 100)
    assert _used(alpha) == project_usage(project_id=alpha.pk)


def test_mount_within_a_project_is_free_and_across_projects_is_charged():
    alpha, (a1, a2, _a3) = _project("alpha")
    beta, (b1, _b2, _b3) = _project("beta", limit=1000)
    blob = _record(b"m" * 64, a1)
    assert blob_mount(digest=Digest.parse(blob.digest), source=a1.name, repository=a2) == blob
    assert _used(alpha) == 64
    assert blob_mount(digest=Digest.parse(blob.digest), source=a1.name, repository=b1) == blob
    assert (_used(alpha), _used(beta)) == (64, 64)
    assert blob_mount(digest=Digest.of(b"unknown"), source=a1.name, repository=b1) is None
    assert _used(beta) == 64


def test_a_push_over_the_limit_is_denied_and_changes_nothing(caplog, quota_events):
    alpha, (a1, a2, _a3) = _project("alpha", limit=100)
    _record(b"a" * 90, a1)
    with pytest.raises(QuotaExceeded) as refused, caplog.at_level(logging.WARNING, logger="registry.quotas"):
        _record(b"b" * 20, a2)
    assert isinstance(refused.value, Denied)
    assert (refused.value.code, refused.value.status) == ("DENIED", 403)
    assert refused.value.message == "quota exceeded: storage 90+20 > 100"
    assert _used(alpha) == 90
    assert not Blob.objects.filter(digest=str(Digest.of(b"b" * 20))).exists()
    assert RepositoryBlob.objects.filter(repository=a2).count() == 0
    assert quota_events() == [("quota.exceeded", alpha.pk, 90, 100, 20)]
    assert "quota.exceeded" in caplog.text
    # Exactly filling the quota is allowed; a blob already in the project costs nothing even when full.
    _record(b"c" * 10, a2)
    assert _used(alpha) == 100
    _record(b"a" * 90, a2)
    blob_mount(digest=Digest.of(b"c" * 10), source=a2.name, repository=a1)
    assert _used(alpha) == 100
    with pytest.raises(QuotaExceeded):
        _record(b"d", a1)


def test_a_mount_over_the_limit_is_denied():
    _alpha, (a1, _a2, _a3) = _project("alpha")
    beta, (b1, _b2, _b3) = _project("beta", limit=10)
    blob = _record(b"z" * 11, a1)
    with pytest.raises(QuotaExceeded):
        blob_mount(digest=Digest.parse(blob.digest), source=a1.name, repository=b1)
    assert _used(beta) == 0
    assert not RepositoryBlob.objects.filter(repository=b1).exists()


def test_unlinking_releases_only_the_last_link_in_the_project():
    alpha, (a1, a2, _a3) = _project("alpha")
    beta, (b1, _b2, _b3) = _project("beta")
    data = b"u" * 50
    for repository in (a1, a2, b1):
        _record(data, repository)
    blob_unlink(digest=Digest.of(data), repository_name=a1.name)
    assert (_used(alpha), _used(beta)) == (50, 50)
    blob_unlink(digest=Digest.of(data), repository_name=a2.name)
    assert (_used(alpha), _used(beta)) == (0, 50)


def test_unknown_unlink_changes_nothing():
    from registry.errors import BlobUnknown

    alpha, (a1, _a2, _a3) = _project("alpha")
    _record(b"k" * 5, a1)
    with pytest.raises(BlobUnknown):
        blob_unlink(digest=Digest.of(b"nothing"), repository_name=a1.name)
    assert _used(alpha) == 5


def test_release_after_a_repository_delete():
    """What a repository delete does: lock, drop its links, release what left the project."""
    alpha, (a1, a2, _a3) = _project("alpha")
    _record(b"shared" * 10, a1)
    _record(b"shared" * 10, a2)
    _record(b"only-a1" * 10, a1)
    assert _used(alpha) == 130
    from django.db import transaction

    with transaction.atomic():
        blob_ids = list(RepositoryBlob.objects.filter(repository=a1).values_list("blob_id", flat=True))
        a1.delete()
        assert quota_release_unlinked(project_id=alpha.pk, blob_ids=blob_ids) == 70
    assert _used(alpha) == 60 == project_usage(project_id=alpha.pk)


def test_a_project_without_a_quota_row_gets_an_unlimited_one():
    project = ProjectFactory(name="bare")
    repository = RepositoryFactory(project=project, name="bare/app")
    RepositoryBlobFactory(repository=repository, blob=BlobFactory(content=b"old" * 7))  # linked outside services
    _record(b"new" * 5, repository)
    quota = Quota.objects.get(project=project)
    assert (quota.hard, quota.used) == (-1, 36)


# --- the 85% warning -------------------------------------------------------------------------


def test_warning_when_usage_crosses_85_percent(django_capture_on_commit_callbacks, caplog, quota_events):
    alpha, (a1, _a2, _a3) = _project("alpha", limit=100)
    with django_capture_on_commit_callbacks(execute=True):
        _record(b"a" * 80, a1)
    assert quota_events() == []
    with django_capture_on_commit_callbacks(execute=True) as callbacks, caplog.at_level(logging.WARNING):
        _record(b"b" * 5, a1)  # 85 of 100: at the threshold
    assert len(callbacks) == 1
    assert quota_events() == [("quota.warning", alpha.pk, 85, 100, 5)]
    assert "quota.warning" in caplog.text
    with django_capture_on_commit_callbacks(execute=True):
        _record(b"c" * 5, a1)  # already past it: no second warning
    assert len(quota_events()) == 1
    unlimited, (u1, _u2, _u3) = _project("free")
    with django_capture_on_commit_callbacks(execute=True):
        _record(b"d" * 1000, u1)
    assert len(quota_events()) == 1


def test_warning_is_not_published_when_the_push_rolls_back(django_capture_on_commit_callbacks, quota_events):
    from django.db import transaction

    _alpha, (a1, _a2, _a3) = _project("alpha", limit=100)
    with django_capture_on_commit_callbacks(execute=True):
        try:
            with transaction.atomic():
                _record(b"a" * 90, a1)
                raise RuntimeError("the manifest push failed after the blob")
        except RuntimeError:
            pass
    assert quota_events() == []


# --- uploads: a refused blob leaves no session and no bytes ----------------------------------


def _stored(store, data: bytes) -> bool:  # noqa: ANN001
    return os.path.exists(store.path(blob_name(Digest.of(data))))


def test_refused_session_upload_leaves_nothing(store):
    alpha, (a1, _a2, _a3) = _project("alpha", limit=100)
    data = os.urandom(150)
    upload = upload_start(repository=a1, owner="alice")
    upload = upload_append(upload=upload, chunks=[data], start=0, length=len(data))
    with pytest.raises(QuotaExceeded):
        upload_complete(upload=upload, digest=Digest.of(data), chunks=None, length=None)
    assert not Upload.objects.filter(pk=upload.pk).exists()
    assert not os.path.exists(store.path(f"uploads/{upload.pk}"))
    assert not _stored(store, data)
    assert not Blob.objects.exists()
    assert _used(alpha) == 0


def test_refused_monolithic_upload_leaves_nothing(store):
    alpha, (a1, _a2, _a3) = _project("alpha", limit=100)
    data = os.urandom(101)
    with pytest.raises(QuotaExceeded):
        blob_push_monolithic(repository=a1, digest=Digest.of(data), chunks=[data], length=len(data))
    assert not _stored(store, data)
    uploads_dir = store.path("uploads")
    assert not os.path.exists(uploads_dir) or os.listdir(uploads_dir) == []
    assert not Blob.objects.exists()
    fits = os.urandom(100)
    blob_push_monolithic(repository=a1, digest=Digest.of(fits), chunks=[fits], length=len(fits))
    assert _used(alpha) == 100


def test_quota_filled_between_check_and_record_still_ends_the_session(store, monkeypatch):
    """The early check passed, then a concurrent push used the room: blob_record refuses for good."""
    alpha, (a1, _a2, _a3) = _project("alpha", limit=100)
    monkeypatch.setattr(uploads, "quota_check", lambda **kwargs: None)
    data = os.urandom(150)
    upload = upload_start(repository=a1, owner="alice")
    upload = upload_append(upload=upload, chunks=[data], start=0, length=len(data))
    with pytest.raises(QuotaExceeded):
        upload_complete(upload=upload, digest=Digest.of(data), chunks=None, length=None)
    assert not Upload.objects.filter(pk=upload.pk).exists()
    assert not Blob.objects.exists()  # the committed bytes are unreferenced: GC's to collect
    assert _used(alpha) == 0


def test_reupload_of_a_blob_already_in_the_project_passes_a_full_quota(store):
    alpha, (a1, a2, _a3) = _project("alpha", limit=100)
    data = os.urandom(100)
    blob_push_monolithic(repository=a1, digest=Digest.of(data), chunks=[data], length=len(data))
    blob_push_monolithic(repository=a2, digest=Digest.of(data), chunks=[data], length=len(data))
    assert _used(alpha) == 100
    assert RepositoryBlob.objects.filter(repository=a2).count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_concurrent_pushes_cannot_both_fit():
    alpha, (a1, a2, _a3) = _project("alpha", limit=100)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def push(repository, data: bytes) -> None:  # noqa: ANN001
        try:
            barrier.wait()
            _record(data, repository)
            outcomes.append("ok")
        except QuotaExceeded:
            outcomes.append("denied")
        finally:
            connections.close_all()

    threads = [threading.Thread(target=push, args=(r, bytes([i]) * 60)) for i, r in enumerate((a1, a2))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["denied", "ok"]
    assert _used(alpha) == 60 == project_usage(project_id=alpha.pk)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks need PostgreSQL")
def test_pushes_into_a_project_without_a_limit_do_not_wait_for_each_other():
    """A push whose transaction is still open doesn't hold up another push into the same project."""
    alpha, (a1, a2, _a3) = _project("alpha")
    charged, finish = threading.Event(), threading.Event()

    def slow_push() -> None:
        with transaction.atomic():
            _record(b"slow" * 10, a1)
            charged.set()  # linked and charged; the transaction stays open until told
            finish.wait(30)

    finishes_while_held(slow_push, lambda: _record(b"fast" * 5, a2), ready=charged, release=finish)
    assert _used(alpha) == 60 == project_usage(project_id=alpha.pk)


def _unlink(repository, data: bytes):  # noqa: ANN001, ANN202
    return lambda: blob_unlink(digest=Digest.of(data), repository_name=repository.name)


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="advisory locks need PostgreSQL")
@pytest.mark.parametrize("remover", ["unlink", "repository delete"])
@pytest.mark.parametrize("first", ["remove", "push"])
def test_removing_the_last_link_while_pushing_the_blob_elsewhere_keeps_usage_exact(remover, first):
    """The last link of a blob in a project goes while a push links it in another repository: in
    either order, the project pays for the blob exactly while it is linked (both wait on its digest)."""
    alpha, (a1, a2, _a3) = _project("alpha")
    data = b"shared" * 20
    _record(data, a1)
    assert _used(alpha) == 120
    remove = _unlink(a1, data) if remover == "unlink" else (lambda: repository_delete(repository=a1))
    push = lambda: _record(data, a2)  # noqa: E731
    holder = connections.create_connection("default")
    try:
        with holder.cursor() as cursor:  # hold the digest so both queue behind it, in the chosen order
            cursor.execute("SELECT pg_advisory_lock(%s, hashtext(%s))", [BLOB_LOCK_CLASS, str(Digest.of(data))])
        results: dict = {}
        pids: dict = {}
        order = [("remove", remove), ("push", push)] if first == "remove" else [("push", push), ("remove", remove)]
        threads = []
        for waiting, (key, target) in enumerate(order, start=1):
            threads.append(session_thread(target, results, key, pids))
            until(lambda n=waiting: lock_waiters(pids) >= n, f"{key} never queued on the digest")
        with holder.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_unlock_all()")
        for thread in threads:
            thread.join()
    finally:
        holder.close()
    assert not any(isinstance(r, Exception) for r in results.values()), results
    assert RepositoryBlob.objects.filter(repository=a2).count() == 1
    assert _used(alpha) == 120 == project_usage(project_id=alpha.pk)


def test_fold_moves_pending_deltas_into_used_and_keeps_usage():
    alpha, (a1, a2, _a3) = _project("alpha")
    beta, (b1, _b2, _b3) = _project("beta")
    _record(b"a" * 10, a1)
    _record(b"b" * 20, a2)
    _record(b"c" * 40, b1)
    blob_unlink(digest=Digest.of(b"a" * 10), repository_name=a1.name)
    assert QuotaDelta.objects.count() == 4  # three charges and a release, no Quota row touched
    assert Quota.objects.get(project=alpha).used == Quota.objects.get(project=beta).used == 0
    assert (quota_pending(project_id=alpha.pk), quota_pending(project_id=beta.pk)) == (20, 40)
    assert quota_fold() == 2
    assert not QuotaDelta.objects.exists()
    assert (Quota.objects.get(project=alpha).used, Quota.objects.get(project=beta).used) == (20, 40)
    assert quota_fold() == 0


def test_fold_runs_every_minute_from_beat():
    task = PeriodicTask.objects.get(name="Fold pending quota changes")
    assert task.task == tasks.QUOTA_FOLD == tasks.quota_fold_run.name
    assert (task.interval.every, task.interval.period) == (1, "minutes")
    assert task.enabled
    alpha, (a1, _a2, _a3) = _project("alpha")
    _record(b"z" * 9, a1)
    assert tasks.quota_fold_run() == 1
    assert Quota.objects.get(project=alpha).used == 9


# --- reconcile -------------------------------------------------------------------------------


def test_reconcile_dry_run_reports_and_fix_repairs():
    alpha, (a1, a2, _a3) = _project("alpha")
    beta, (b1, _b2, _b3) = _project("beta")
    _record(b"1" * 40, a1)
    _record(b"1" * 40, a2)
    _record(b"2" * 5, b1)
    RepositoryBlobFactory(repository=a2, blob=BlobFactory(content=b"3" * 7))  # linked behind the services' back
    _drift(beta, 999)
    bare = ProjectFactory(name="bare")  # no Quota row at all
    expected = [
        QuotaDrift(alpha.pk, "alpha", 40, 47),
        QuotaDrift(beta.pk, "beta", 999, 5),
        QuotaDrift(bare.pk, "bare", None, 0),
    ]
    assert quota_reconcile(dry_run=True) == expected
    assert (_used(alpha), _used(beta)) == (40, 999)
    assert not Quota.objects.filter(project=bare).exists()
    assert quota_reconcile(dry_run=False) == expected
    assert (_used(alpha), _used(beta), _used(bare)) == (47, 5, 0)
    assert quota_reconcile(dry_run=True) == []


def test_reconcile_scan_is_one_query_whatever_the_number_of_projects(django_assert_max_num_queries):
    for i in range(20):
        _project_i, repositories = _project(f"p{i:02d}")
        _record(f"blob {i}".encode(), repositories[0])
        _record(f"blob {i}".encode(), repositories[1])
    with django_assert_max_num_queries(1):
        assert quota_reconcile(dry_run=True) == []


def test_reconcile_task_records_an_execution(monkeypatch):
    alpha, (a1, _a2, _a3) = _project("alpha")
    _record(b"t" * 12, a1)
    _drift(alpha, 1)
    execution = Execution.objects.get(pk=tasks.quota_reconcile_run(trigger="MANUAL", dry_run=True))
    assert (execution.kind, execution.trigger, execution.dry_run) == ("quota_reconcile", "MANUAL", True)
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.counts == {"drifted": 1, "fixed": 0}
    assert "alpha" in execution.log
    assert "recorded 1, actual 12" in execution.log
    assert _used(alpha) == 1
    execution = Execution.objects.get(pk=tasks.quota_reconcile_run())
    assert (execution.trigger, execution.counts) == ("SCHEDULE", {"drifted": 1, "fixed": 1})
    assert _used(alpha) == 12

    def broken(**kwargs):  # noqa: ANN003, ANN202
        raise RuntimeError("database went away")

    monkeypatch.setattr(tasks, "quota_reconcile", broken)
    with pytest.raises(RuntimeError):
        tasks.quota_reconcile_run()
    failed = Execution.objects.filter(kind="quota_reconcile").first()
    assert failed.status == ExecutionStatus.FAILED
    assert "database went away" in failed.log


def test_reconcile_runs_daily_from_beat():
    task = PeriodicTask.objects.get(name="Reconcile project storage quotas")
    assert task.task == tasks.QUOTA_RECONCILE == tasks.quota_reconcile_run.name
    assert (task.interval.every, task.interval.period) == (1, "days")
    assert task.enabled
