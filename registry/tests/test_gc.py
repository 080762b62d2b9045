"""registry/services/gc.py and the `registry.gc` task: mark and sweep, untagged artifacts, batching, races."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection, connections
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from common.models import Execution, ExecutionStatus
from projects.services import project_create
from registry.digest import Digest
from registry.models import Artifact, Blob, RepositoryBlob, Tag
from registry.services.artifacts import repository_delete
from registry.services.blobs import blob_record, blob_unlink
from registry.services.gc import gc_run
from registry.services.uploads import blob_push_monolithic, upload_complete, upload_start
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


@pytest.fixture
def repo(db, store):
    project_create(name="lib", public=False)
    return builders.repository("lib/app")


def _age_everything() -> None:
    Blob.objects.update(created=LONG_AGO)
    Artifact.objects.update(push_time=LONG_AGO)


def _loose_blob(repo, data: bytes) -> Digest:
    """A blob with a row and bytes that no repository links and no artifact references."""
    digest = Digest.of(data)
    blob_store().blob_write(digest, data)
    blob_record(digest=digest, size=len(data), repository=repo)
    blob_unlink(digest=digest, repository_name=repo.name)
    return digest


def _alive(digest: str | Digest) -> bool:
    return Blob.objects.filter(digest=str(digest)).exists() and blob_store().blob_exists(Digest.parse(str(digest)))


@pytest.mark.django_db
def test_unreferenced_blobs_are_swept_with_their_bytes_and_referenced_ones_kept(repo, store):
    image = builders.image(repo, tag="1", seed="kept")
    linked = Digest.of(b"linked only")
    store.blob_write(linked, b"linked only")
    blob_record(digest=linked, size=11, repository=repo)
    loose = _loose_blob(repo, b"nobody wants me")
    _age_everything()

    counts = gc_run()

    assert counts == {
        "blobs_examined": 1,
        "blobs_deleted": 1,
        "bytes_freed": len(b"nobody wants me"),
        "artifacts_deleted": 0,
        "uploads_purged": 0,
        "orphan_files": 0,
    }
    assert not Blob.objects.filter(digest=str(loose)).exists()
    assert not store.blob_exists(loose)
    assert _alive(linked)
    for blob in Blob.objects.filter(artifact_refs__artifact=image):
        assert _alive(blob.digest)


@pytest.mark.django_db
def test_young_blobs_are_kept_for_the_configured_window(repo, store, settings):
    loose = _loose_blob(repo, b"just pushed")
    assert settings.GC_TIME_WINDOW_HOURS == 1  # the default
    assert gc_run()["blobs_deleted"] == 0
    assert _alive(loose)
    Blob.objects.update(created=timezone.now() - timedelta(minutes=61))
    assert gc_run()["blobs_deleted"] == 1
    assert not store.blob_exists(loose)
    settings.GC_TIME_WINDOW_HOURS = 3
    loose = _loose_blob(repo, b"two hours old")
    Blob.objects.update(created=timezone.now() - timedelta(hours=2))
    assert gc_run()["blobs_deleted"] == 0
    assert gc_run(safety_window=timedelta(0))["blobs_deleted"] == 1  # a caller's window wins


def _window_setting(value: str | None, tmp_path) -> subprocess.CompletedProcess:  # noqa: ANN001
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HARBOR_", "DJANGO_"))}
    env.update({"DJANGO_SETTINGS_MODULE": "harbor_site.settings.base", "HARBOR_VAR_DIR": str(tmp_path)})
    if value is not None:
        env["HARBOR_GC_TIME_WINDOW_HOURS"] = value
    code = "from django.conf import settings; print(settings.GC_TIME_WINDOW_HOURS)"
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=False)


@pytest.mark.parametrize(("value", "hours"), [(None, 1), ("0", 0), ("6", 6), (" 2 ", 2)])
def test_the_window_is_a_setting_in_whole_hours(value, hours, tmp_path):
    done = _window_setting(value, tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == [str(hours)]


@pytest.mark.parametrize("value", ["-1", "1.5", "an hour", ""])
def test_a_window_that_is_not_a_whole_number_of_hours_stops_the_start(value, tmp_path):
    done = _window_setting(value, tmp_path)
    assert done.returncode != 0
    assert "ImproperlyConfigured: HARBOR_GC_TIME_WINDOW_HOURS must be a whole number of hours, 0 or more" in done.stderr


@pytest.mark.django_db
def test_with_a_window_of_zero_a_deleted_image_is_freed_by_the_next_run(repo, store, settings):
    """HARBOR_GC_TIME_WINDOW_HOURS=0: delete an image, run GC (the worker's task), the space is back."""
    settings.GC_TIME_WINDOW_HOURS = 0
    image = builders.image(repo, tag="1", seed="freed at once")
    blobs = dict(Blob.objects.filter(artifact_refs__artifact=image).values_list("digest", "size"))
    repository_delete(repository=repo)

    execution = Execution.objects.get(pk=gc(delete_untagged=False))  # as the worker runs it, nothing aged

    assert execution.status == ExecutionStatus.SUCCEEDED, execution.log
    assert execution.counts["blobs_deleted"] == len(blobs) >= 2
    assert execution.counts["bytes_freed"] == sum(blobs.values())
    assert not any(Blob.objects.filter(digest=d).exists() or store.blob_exists(Digest.parse(d)) for d in blobs)


@pytest.mark.django_db
def test_dry_run_reports_and_deletes_nothing(repo, store):
    loose = _loose_blob(repo, b"would go")
    untagged = builders.image(repo, seed="untagged")
    orphan = Digest.of(b"orphan file")
    store.blob_write(orphan, b"orphan file")
    os.utime(store.blob_path(orphan), (time.time() - 7200, time.time() - 7200))
    _age_everything()

    counts = gc_run(dry_run=True, delete_untagged=True)

    assert counts["blobs_deleted"] == 1
    assert counts["bytes_freed"] == len(b"would go")
    assert counts["artifacts_deleted"] == 1
    assert counts["orphan_files"] == 1
    assert _alive(loose)
    assert store.blob_exists(orphan)
    assert Artifact.objects.filter(pk=untagged.pk).exists()


@pytest.mark.django_db
def test_deleting_a_repository_frees_its_blobs_but_not_shared_ones(repo, store):
    image = builders.image(repo, tag="1", seed="mine")
    other = builders.repository("lib/other")
    shared = Blob.objects.filter(artifact_refs__artifact=image).order_by("pk").first()
    blob_record(digest=Digest.parse(shared.digest), size=shared.size, repository=other)
    own = set(Blob.objects.filter(artifact_refs__artifact=image).values_list("digest", flat=True)) - {shared.digest}
    repository_delete(repository=repo)
    _age_everything()

    counts = gc_run()

    assert counts["blobs_deleted"] == len(own) >= 1
    assert not any(Blob.objects.filter(digest=d).exists() or store.blob_exists(Digest.parse(d)) for d in own)
    assert _alive(shared.digest)


@pytest.mark.django_db
def test_delete_untagged_keeps_index_children_accessories_and_young_artifacts(repo, store):
    tagged = builders.image(repo, tag="1", seed="tagged")
    signature = builders.signature(repo, tagged)
    child = builders.image(repo, seed="child")
    builders.index(repo, [(child, {"architecture": "amd64", "os": "linux"})], tag="multi")
    lone_child = builders.image(repo, seed="lone child")
    untagged_index = builders.index(repo, [(lone_child, {"architecture": "arm64", "os": "linux"})])
    untagged = builders.image(repo, seed="untagged")
    _age_everything()
    young = builders.image(repo, seed="young")
    assert not Tag.objects.filter(artifact__in=[signature, child, untagged, young, untagged_index]).exists()

    counts = gc_run(delete_untagged=True)

    remaining = set(Artifact.objects.values_list("pk", flat=True))
    assert {tagged.pk, signature.pk, child.pk, young.pk} <= remaining
    assert not remaining & {untagged.pk, untagged_index.pk, lone_child.pk}  # the index went deeply
    assert counts["artifacts_deleted"] == 2  # roots: `untagged` and `untagged_index`
    # Their blobs stay linked to the repository, so they are kept; nothing referenced went.
    for blob in Blob.objects.filter(artifact_refs__artifact__pk__in=remaining):
        assert _alive(blob.digest)


@pytest.mark.django_db
def test_orphan_files_older_than_the_window_are_removed(repo, store):
    old, young = Digest.of(b"old orphan"), Digest.of(b"young orphan")
    store.blob_write(old, b"old orphan")
    store.blob_write(young, b"young orphan")
    os.utime(store.blob_path(old), (time.time() - 7200, time.time() - 7200))
    stray = os.path.join(store.path("blobs"), "sha256", "zz", "not-a-digest")
    os.makedirs(os.path.dirname(stray))
    open(stray, "wb").close()
    os.utime(stray, (time.time() - 7200, time.time() - 7200))

    assert gc_run()["orphan_files"] == 1
    assert not store.blob_exists(old)
    assert store.blob_exists(young)
    assert os.path.exists(stray)


@pytest.mark.django_db
def test_sweep_runs_in_batches_with_a_constant_number_of_queries(repo, store):
    def sweep(count: int) -> int:
        start = Blob.objects.count()
        Blob.objects.bulk_create(
            [Blob(digest=str(Digest.of(f"{count} {i}".encode())), size=i) for i in range(start, start + count)]
        )
        Blob.objects.update(created=LONG_AGO)
        with CaptureQueriesContext(connection) as captured:
            assert gc_run(batch_size=100)["blobs_deleted"] == count
        return len(captured.captured_queries)

    base, three, seven = sweep(0), sweep(300), sweep(700)
    per_batch = (three - base) / 3
    assert per_batch == (seven - base) / 7  # each batch costs the same, whatever the total
    assert per_batch <= 10  # read, lock digests, lock rows, protect checks, delete, savepoint, unlock
    assert not Blob.objects.exists()


@pytest.mark.django_db
def test_scheduled_task_records_an_execution_with_counts_and_log(repo, store):
    loose = _loose_blob(repo, b"for the task")
    _age_everything()
    pk = gc(delete_untagged=True)  # as beat calls it: the schedule's kwargs, no execution id
    execution = Execution.objects.get(pk=pk)
    assert (execution.kind, execution.trigger, execution.status) == ("gc", "SCHEDULE", ExecutionStatus.SUCCEEDED)
    assert execution.parameters == {"delete_untagged": True, "dry_run": False, "workers": 1}
    assert execution.counts["blobs_deleted"] == 1
    assert execution.counts["bytes_freed"] == len(b"for the task")
    assert f"deleted blob {loose} (12 bytes)" in execution.log
    assert "freed 12 bytes" in execution.log
    dry = Execution.objects.get(pk=gc(dry_run=True))
    assert dry.dry_run
    assert dry.counts["blobs_deleted"] == 0


@pytest.mark.django_db
def test_a_push_after_the_sweep_recreates_row_and_bytes(repo, store):
    data = b"swept then pushed again"
    digest = _loose_blob(repo, data)
    _age_everything()
    gc_run()
    assert not store.blob_exists(digest)
    blob_push_monolithic(repository=repo, digest=digest, chunks=[data], length=len(data))
    assert _alive(digest)
    assert RepositoryBlob.objects.filter(repository=repo, blob__digest=str(digest)).exists()


GC_ITERATIONS = 200


@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row and advisory locks")
@pytest.mark.django_db(transaction=True)
def test_concurrent_pushes_never_lose_a_blob_to_gc(store, settings):
    """Pushers link, check and unlink blobs (shared and new digests) while GC sweeps with no safety window."""
    settings.GC_TIME_WINDOW_HOURS = 0  # HARBOR_GC_TIME_WINDOW_HOURS=0: the locks alone keep pushes safe
    project_create(name="lib", public=False)
    repos = [builders.repository(f"lib/r{i}") for i in range(4)]  # one per pusher: unlinks stay its own
    shared = [f"shared {i}".encode() for i in range(6)]
    stop = threading.Event()
    failures: list[str] = []
    pushed: set[bytes] = set()
    pushes: list[int] = []

    def pusher(index: int) -> None:
        rng = random.Random(index)
        repo = repos[index]
        try:
            n = 0
            while not stop.is_set():
                n += 1
                data = rng.choice(shared) if rng.random() < 0.7 else f"new {index} {n}".encode()
                digest = Digest.of(data)
                if rng.random() < 0.5:
                    blob_push_monolithic(repository=repo, digest=digest, chunks=[data], length=len(data))
                else:  # a session, completed with its last chunk
                    upload = upload_start(repository=repo, owner="alice")
                    upload_complete(upload=upload, digest=digest, chunks=[data], length=len(data))
                pushed.add(data)
                pushes.append(1)
                # Linked now: whatever GC does, row and bytes must be there.
                if not _alive(digest):
                    failures.append(f"{digest} lost right after its push")
                if rng.random() < 0.8:
                    blob_unlink(digest=digest, repository_name=repo.name)
        except Exception as exc:  # noqa: BLE001 - reported below
            failures.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=pusher, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    swept = 0
    try:
        for _ in range(GC_ITERATIONS):
            swept += gc_run(batch_size=7)["blobs_deleted"]
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert not failures, failures[:5]
    assert swept > 0  # the sweep did race with the pushes
    assert len(pushes) >= 50  # 227 to 607 pushes against 88 to 274 sweeps over five runs here
    # Push everything once more: every blob comes back whole.
    for data in pushed:
        digest = Digest.of(data)
        blob_push_monolithic(repository=repos[0], digest=digest, chunks=[data], length=len(data))
        assert _alive(digest), digest
        assert store.blob_size(digest) == len(data)


@pytest.fixture
def s3_store(settings, monkeypatch):
    """The object store on moto's in-process S3, keys under a prefix."""
    moto = pytest.importorskip("moto")
    import boto3

    for name, value in {
        "AWS_ACCESS_KEY_ID": "x",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    with moto.mock_aws():
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="gc-test")
        settings.STORAGES = {
            **settings.STORAGES,
            "blobs": {
                "BACKEND": "storages.backends.s3.S3Storage",
                "OPTIONS": {"bucket_name": "gc-test", "region_name": "us-east-1", "location": "reg"},
            },
        }
        from django.core.files.storage import storages

        storages._storages.pop("blobs", None)
        blob_store.cache_clear()
        yield blob_store()
        storages._storages.pop("blobs", None)
        blob_store.cache_clear()


@pytest.mark.django_db
def test_object_store_sweep_and_orphans(s3_store, settings):
    project_create(name="lib", public=False)
    repo = builders.repository("lib/app")
    assert type(s3_store).__name__ == "ObjectBlobStore"
    loose = _loose_blob(repo, b"s3 loose")
    kept = Digest.of(b"s3 kept")
    s3_store.blob_write(kept, b"s3 kept")
    blob_record(digest=kept, size=7, repository=repo)
    orphan = Digest.of(b"s3 orphan")
    s3_store.blob_write(orphan, b"s3 orphan")
    assert {d for d, _age in s3_store.blob_listing()} == {str(loose), str(kept), str(orphan)}
    _age_everything()

    assert gc_run()["orphan_files"] == 0  # the orphan object is younger than the window
    assert not s3_store.blob_exists(loose)
    settings.GC_TIME_WINDOW_HOURS = 0
    counts = gc_run()
    assert counts["orphan_files"] == 1
    assert not s3_store.blob_exists(orphan)
    assert _alive(kept)
