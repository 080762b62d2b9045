"""Garbage collection against a manifest push, interleaved deterministically with row locks (PostgreSQL).

A third connection holds the repository row; GC (which locks the repository before an untagged
artifact) and the push queue up behind it in a chosen order, and the holder lets go. Waiting is
on PostgreSQL's own lock table (`pg_locks`), never on the clock.
"""

from __future__ import annotations

import json
import threading
import time

import pytest
from django.db import connection, connections, transaction

from projects.services import project_create
from registry.errors import ManifestBlobUnknown
from registry.models import Artifact, Repository, Tag
from registry.services.gc import gc_run
from registry.services.manifests import manifest_push
from registry.storage import blob_store
from registry.tests.api import builders

pytestmark = pytest.mark.skipif(connection.vendor != "postgresql", reason="needs row locks")


@pytest.fixture
def store(settings, tmp_path):
    settings.GC_TIME_WINDOW_HOURS = 0  # HARBOR_GC_TIME_WINDOW_HOURS=0: locks, not time, must keep these safe
    settings.STORAGES = {
        **settings.STORAGES,
        "blobs": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    blob_store.cache_clear()
    yield blob_store()
    blob_store.cache_clear()


def _waiting(count: int) -> None:
    """Return once `count` other sessions wait on a lock (pg_locks is live: no snapshot to refresh)."""
    deadline = time.monotonic() + 30
    with connection.cursor() as cursor:
        while True:
            cursor.execute("SELECT count(DISTINCT pid) FROM pg_locks WHERE NOT granted")
            if cursor.fetchone()[0] >= count:
                return
            assert time.monotonic() < deadline, "the threads never queued on the lock"
            time.sleep(0.01)


def _thread(target, results: dict, key: str) -> threading.Thread:  # noqa: ANN001
    def run() -> None:
        try:
            results[key] = target()
        except Exception as exc:  # noqa: BLE001 - the outcome under test
            results[key] = exc
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def _interleave(push) -> dict:  # noqa: ANN001
    """Hold the repository row; queue GC then the push on it (each waits in pg_locks); let go; outcomes."""
    results: dict = {}
    with transaction.atomic():
        list(Repository.objects.select_for_update().filter(pk=Repository.objects.get().pk).values_list("pk"))
        gc = _thread(lambda: gc_run(delete_untagged=True), results, "gc")
        _waiting(1)  # GC queued first on the repository
        pusher = _thread(push, results, "push")
        _waiting(2)  # the push waits on the repository too, before it looks anything up
    gc.join()
    pusher.join()
    assert not isinstance(results["gc"], Exception), results["gc"]
    return results


@pytest.mark.django_db(transaction=True)
def test_tagging_an_untagged_manifest_while_gc_deletes_it(store):
    project_create(name="lib", public=False)
    repo = builders.repository("lib/app")
    untagged = builders.image(repo, seed="tag me later")
    body, media_type = bytes(untagged.manifest), untagged.media_type

    results = _interleave(
        lambda: manifest_push(repository=repo, reference="v1", body=body, content_type=media_type, tags=[])
    )
    # GC went first, so the artifact is gone; the push must re-create it rather than fail.
    assert not isinstance(results["push"], Exception), results["push"]
    tag = Tag.objects.select_related("artifact").get(repository=repo, name="v1")
    assert tag.artifact.digest == untagged.digest


@pytest.mark.django_db(transaction=True)
def test_pushing_an_index_while_gc_deletes_its_untagged_child(store):
    project_create(name="lib", public=False)
    repo = builders.repository("lib/app")
    child = builders.image(repo, seed="child pushed first")
    index = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": child.media_type, "digest": child.digest, "size": child.manifest_size},
        ],
    }
    body = json.dumps(index).encode()

    results = _interleave(
        lambda: manifest_push(repository=repo, reference="multi", body=body, content_type=None, tags=[])
    )
    # GC went first, so the child is gone: a clean MANIFEST_BLOB_UNKNOWN the client can retry, or success.
    if isinstance(results["push"], Exception):
        assert isinstance(results["push"], ManifestBlobUnknown), results["push"]
        assert not Tag.objects.filter(name="multi").exists()
    else:
        assert Artifact.objects.filter(digest=child.digest).exists()
