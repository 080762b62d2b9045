"""registry/services/uploads.py on the real filesystem blob store, in a temporary directory."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from datetime import timedelta

import pytest
from django.utils import timezone

from registry.digest import Digest
from registry.errors import BlobUploadUnknown, DigestInvalid, RangeInvalid, SizeInvalid
from registry.models import Blob, RepositoryBlob, Upload
from registry.services import uploads
from registry.services.uploads import (
    blob_push_monolithic,
    upload_append,
    upload_cancel,
    upload_complete,
    upload_get,
    upload_purge,
    upload_range,
    upload_start,
)
from registry.storage import FilesystemBlobStore, blob_name, blob_store
from registry.tests.factories import RepositoryFactory

pytestmark = pytest.mark.django_db

DATA = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(4096))  # 128 KiB, not periodic


@pytest.fixture
def store(settings, tmp_path):
    """The filesystem blob store rooted in a fresh temporary directory."""
    settings.STORAGES = {
        **settings.STORAGES,
        "blobs": {"BACKEND": "django.core.files.storage.FileSystemStorage", "OPTIONS": {"location": str(tmp_path)}},
    }
    blob_store.cache_clear()
    uploads._HASHERS.clear()
    current = blob_store()
    assert isinstance(current, FilesystemBlobStore)
    assert current.path("x").startswith(str(tmp_path))
    yield current
    blob_store.cache_clear()
    uploads._HASHERS.clear()


@pytest.fixture
def repository():
    return RepositoryFactory()


@pytest.fixture
def upload(store, repository):
    return upload_start(repository=repository, owner="alice")


@pytest.fixture
def reads(store, monkeypatch):
    """Records every re-read of upload data (the path the common flows must not take)."""
    calls = []
    original = store.upload_iter

    def spy(*args, **kwargs):
        calls.append(kwargs.get("size"))
        return original(*args, **kwargs)

    monkeypatch.setattr(store, "upload_iter", spy)
    return calls


def pieces(data: bytes, size: int = 4096):
    for offset in range(0, len(data), size):
        yield data[offset : offset + size]


def append(upload, data: bytes, *, start: int | None = -1, length: int | None = -1):
    start = upload.size if start == -1 else start
    length = len(data) if length == -1 else length
    return upload_append(upload=upload, chunks=pieces(data), start=start, length=length)


def data_file(store, upload) -> str:
    return store.path(f"uploads/{upload.pk}/data")


def upload_dir(store, upload_id) -> str:
    return store.path(f"uploads/{upload_id}")


def stored(store, digest: Digest) -> bytes:
    with open(store.path(blob_name(digest)), "rb") as handle:
        return handle.read()


def assert_committed(store, repository, digest: Digest, data: bytes, upload) -> None:
    assert stored(store, digest) == data
    blob = Blob.objects.get(digest=str(digest))
    assert blob.size == len(data)
    assert RepositoryBlob.objects.filter(repository=repository, blob=blob).exists()
    assert not Upload.objects.filter(pk=upload.pk).exists()
    assert not os.path.exists(upload_dir(store, upload.pk))


# --- appending -------------------------------------------------------------------


def test_chunks_at_correct_offsets_complete_without_rereading(store, repository, upload, reads):
    parts = [DATA[:1000], DATA[1000:70_000], DATA[70_000:]]
    for part in parts:
        before = upload.size
        upload = append(upload, part, start=before)
        assert upload.size == before + len(part)
        assert upload_range(upload) == f"0-{upload.size - 1}"
        assert Upload.objects.get(pk=upload.pk).size == upload.size
        assert os.path.getsize(data_file(store, upload)) == upload.size
    digest = Digest.of(DATA)
    blob = upload_complete(upload=upload, digest=digest, chunks=None, length=None)
    assert blob.digest == str(digest)
    assert_committed(store, repository, digest, DATA, upload)
    assert reads == []  # each byte was read once, while it arrived


def test_stored_running_digest_matches_the_bytes_so_far(upload):
    upload = append(upload, DATA[:5000])
    assert Upload.objects.get(pk=upload.pk).sha256_so_far == hashlib.sha256(DATA[:5000]).hexdigest()
    upload = append(upload, DATA[5000:9000])
    assert Upload.objects.get(pk=upload.pk).sha256_so_far == hashlib.sha256(DATA[:9000]).hexdigest()


def test_streamed_append_without_content_range(store, repository, upload):
    upload = append(upload, DATA[:100], start=None, length=None)
    upload = append(upload, DATA[100:], start=None, length=None)
    assert upload.size == len(DATA)
    upload_complete(upload=upload, digest=Digest.of(DATA), chunks=None, length=None)
    assert stored(store, Digest.of(DATA)) == DATA


@pytest.mark.parametrize("start", [0, 1, 99, 101, 10_000])
def test_append_at_wrong_offset_is_range_invalid(store, repository, upload, start):
    upload = append(upload, DATA[:100])
    with pytest.raises(RangeInvalid) as excinfo:
        append(upload, DATA[100:200], start=start)
    assert excinfo.value.status == 416
    assert excinfo.value.code == "BLOB_UPLOAD_INVALID"
    assert excinfo.value.headers["Range"] == "0-99"
    assert Upload.objects.get(pk=upload.pk).size == 100
    with open(data_file(store, upload), "rb") as handle:
        assert handle.read() == DATA[:100]
    # The session is intact: the right offset still works.
    upload = append(upload, DATA[100:], start=100)
    upload_complete(upload=upload, digest=Digest.of(DATA), chunks=None, length=None)
    assert stored(store, Digest.of(DATA)) == DATA


def test_first_chunk_must_start_at_zero(upload):
    with pytest.raises(RangeInvalid):
        append(upload, DATA[:10], start=5)
    assert Upload.objects.get(pk=upload.pk).size == 0


def test_stale_session_object_cannot_append_twice_at_the_same_offset(store, upload):
    stale = Upload.objects.get(pk=upload.pk)
    append(upload, DATA[:10], start=0)
    with pytest.raises(RangeInvalid):
        append(stale, DATA[:10], start=0)
    assert Upload.objects.get(pk=upload.pk).size == 10


@pytest.mark.parametrize(("body", "length"), [(DATA[:50], 60), (DATA[:60], 50)], ids=["short", "long"])
def test_body_not_matching_content_length_is_size_invalid(store, repository, upload, body, length):
    upload = append(upload, DATA[:10])
    with pytest.raises(SizeInvalid):
        upload_append(upload=upload, chunks=pieces(body, 7), start=10, length=length)
    assert Upload.objects.get(pk=upload.pk).size == 10
    assert os.path.getsize(data_file(store, upload)) == 10
    upload = upload_get(upload_id=str(upload.pk), repository_name=repository.name, owner="alice")
    upload = append(upload, DATA[10:])
    upload_complete(upload=upload, digest=Digest.of(DATA), chunks=None, length=None)
    assert stored(store, Digest.of(DATA)) == DATA


def test_empty_append_changes_nothing_and_keeps_the_running_hash(store, repository, upload, reads):
    upload = append(upload, DATA[:10])
    upload = upload_append(upload=upload, chunks=iter(()), start=10, length=0)
    assert upload.size == 10
    upload = append(upload, DATA[10:])
    upload_complete(upload=upload, digest=Digest.of(DATA), chunks=None, length=None)
    assert reads == []


def test_append_to_a_deleted_session_is_upload_unknown(upload):
    Upload.objects.filter(pk=upload.pk).delete()
    with pytest.raises(BlobUploadUnknown):
        append(upload, DATA[:10])


# --- interrupted appends ---------------------------------------------------------


class ClientGone(Exception):
    pass


def failing(data: bytes, fail_after: int):
    """A request body that delivers `fail_after` pieces, then the connection drops."""
    for number, piece in enumerate(pieces(data, 1000)):
        if number == fail_after:
            raise ClientGone("connection reset by peer")
        yield piece


@pytest.mark.parametrize("previous", [0, 3000], ids=["first-chunk", "later-chunk"])
@pytest.mark.parametrize("declared_length", [True, False], ids=["content-length", "chunked"])
def test_interrupted_append_leaves_the_previous_size(store, repository, upload, previous, declared_length):
    if previous:
        upload = append(upload, DATA[:previous])
    rest = DATA[previous:]
    with pytest.raises(ClientGone):
        upload_append(
            upload=upload,
            chunks=failing(rest, fail_after=5),
            start=previous,
            length=len(rest) if declared_length else None,
        )
    row = Upload.objects.get(pk=upload.pk)
    assert row.size == previous
    assert os.path.getsize(data_file(store, upload)) == previous
    # The client resumes at the size the registry reports, and the result is exact.
    upload = append(row, rest, start=previous)
    assert upload.size == len(DATA)
    upload_complete(upload=upload, digest=Digest.of(DATA), chunks=None, length=None)
    assert_committed(store, repository, Digest.of(DATA), DATA, upload)


def test_leftover_bytes_past_the_recorded_size_are_ignored(store, repository, upload):
    """A process killed mid-append leaves bytes the database never recorded; they must not count."""
    upload = append(upload, DATA[:100])
    with open(data_file(store, upload), "ab") as handle:
        handle.write(b"garbage from a killed request")
    upload = append(upload, DATA[100:])
    upload_complete(upload=upload, digest=Digest.of(DATA), chunks=None, length=None)
    assert stored(store, Digest.of(DATA)) == DATA


# --- completing ----------------------------------------------------------------------


def test_complete_with_sha512(store, repository, upload):
    upload = append(upload, DATA[:60_000])
    upload = append(upload, DATA[60_000:])
    digest = Digest.of(DATA, "sha512")
    blob = upload_complete(upload=upload, digest=digest, chunks=None, length=None)
    assert blob.digest == f"sha512:{hashlib.sha512(DATA).hexdigest()}"
    assert store.path(blob_name(digest)).endswith(f"blobs/sha512/{digest.hex[:2]}/{digest.hex}")
    assert_committed(store, repository, digest, DATA, upload)


def test_complete_with_a_final_chunk(store, repository, upload, reads):
    upload = append(upload, DATA[:500])
    rest = DATA[500:]
    upload_complete(upload=upload, digest=Digest.of(DATA), chunks=pieces(rest), length=len(rest))
    assert_committed(store, repository, Digest.of(DATA), DATA, upload)
    assert reads == []


def test_complete_in_one_put(store, repository, upload):
    upload_complete(upload=upload, digest=Digest.of(DATA), chunks=pieces(DATA), length=len(DATA))
    assert_committed(store, repository, Digest.of(DATA), DATA, upload)


def test_complete_an_empty_blob(store, repository, upload):
    digest = Digest.of(b"")
    upload_complete(upload=upload, digest=digest, chunks=None, length=None)
    assert_committed(store, repository, digest, b"", upload)


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
@pytest.mark.parametrize("hasher_lost", [False, True], ids=["same-node", "other-node"])
def test_digest_mismatch_destroys_session_and_data(store, repository, upload, algorithm, hasher_lost):
    upload = append(upload, DATA[:1000])
    if hasher_lost:
        uploads._HASHERS.clear()
    upload = append(upload, DATA[1000:])
    wrong = Digest.of(DATA + b"x", algorithm)
    with pytest.raises(DigestInvalid) as excinfo:
        upload_complete(upload=upload, digest=wrong, chunks=None, length=None)
    assert excinfo.value.status == 400
    assert excinfo.value.detail == {"expected": str(wrong), "actual": str(Digest.of(DATA, algorithm))}
    assert not Upload.objects.filter(pk=upload.pk).exists()
    assert not os.path.exists(upload_dir(store, upload.pk))
    assert not os.path.exists(store.path(blob_name(wrong)))
    assert not os.path.exists(store.path(blob_name(Digest.of(DATA, algorithm))))
    assert not Blob.objects.exists()
    with pytest.raises(BlobUploadUnknown):
        upload_get(upload_id=str(upload.pk), repository_name=repository.name, owner="alice")


def test_mismatch_with_a_final_chunk_keeps_nothing(store, upload):
    with pytest.raises(DigestInvalid):
        upload_complete(upload=upload, digest=Digest.of(b"other"), chunks=pieces(DATA), length=len(DATA))
    assert not Upload.objects.exists()
    assert store.upload_names() == []


def test_complete_when_the_blob_already_exists(store, upload):
    first = append(upload, DATA)
    upload_complete(upload=first, digest=Digest.of(DATA), chunks=None, length=None)
    other_repository = RepositoryFactory()
    second = upload_start(repository=other_repository, owner="bob")
    second = append(second, DATA)
    blob = upload_complete(upload=second, digest=Digest.of(DATA), chunks=None, length=None)
    assert Blob.objects.count() == 1
    assert RepositoryBlob.objects.filter(blob=blob).count() == 2
    assert stored(store, Digest.of(DATA)) == DATA
    assert not os.path.exists(upload_dir(store, second.pk))


# --- chunks on different nodes -------------------------------------------------------------


def test_rehash_when_the_hasher_is_not_in_this_process(store, repository, upload, reads):
    upload = append(upload, DATA[:1000])
    uploads._HASHERS.clear()  # the next chunk reaches another node
    upload = append(upload, DATA[1000:50_000])
    assert Upload.objects.get(pk=upload.pk).sha256_so_far == ""  # never a digest of only part of the data
    upload = append(upload, DATA[50_000:])
    upload_complete(upload=upload, digest=Digest.of(DATA), chunks=None, length=None)
    assert_committed(store, repository, Digest.of(DATA), DATA, upload)
    assert reads == [len(DATA)]  # the rare case: the data is read again, once


def test_completion_on_another_node_uses_the_stored_digest(store, repository, upload, reads):
    upload = append(upload, DATA)
    uploads._HASHERS.clear()  # the empty closing PUT reaches another node
    upload_complete(upload=upload, digest=Digest.of(DATA), chunks=None, length=None)
    assert_committed(store, repository, Digest.of(DATA), DATA, upload)
    assert reads == []


def test_a_stale_hasher_left_on_a_node_is_never_resumed(store, repository, upload):
    upload = append(upload, DATA[:1000])  # node A
    node_a = dict(uploads._HASHERS)
    uploads._HASHERS.clear()
    upload = append(upload, DATA[1000:2000])  # node B
    uploads._HASHERS.clear()
    uploads._HASHERS.update(node_a)  # back on node A, whose hasher stopped at 1000 bytes
    upload = append(upload, DATA[2000:])
    upload_complete(upload=upload, digest=Digest.of(DATA), chunks=None, length=None)
    assert stored(store, Digest.of(DATA)) == DATA


def test_a_chunk_interrupted_after_hashing_started_does_not_poison_the_digest(store, repository, upload):
    upload = append(upload, DATA[:3000])
    with pytest.raises(ClientGone):
        upload_append(upload=upload, chunks=failing(DATA[3000:], 2), start=3000, length=None)
    upload = append(Upload.objects.get(pk=upload.pk), DATA[3000:])
    upload_complete(upload=upload, digest=Digest.of(DATA), chunks=None, length=None)
    assert stored(store, Digest.of(DATA)) == DATA


# --- session lookup and cancel ------------------------------------------------------------


def test_upload_get_is_bound_to_repository_and_owner(upload, repository):
    assert upload_get(upload_id=str(upload.pk), repository_name=repository.name, owner="alice") == upload
    for upload_id, name, owner in [
        (str(upload.pk), repository.name, "mallory"),
        (str(upload.pk), RepositoryFactory().name, "alice"),
        (str(uuid.uuid4()), repository.name, "alice"),
        ("not-a-uuid", repository.name, "alice"),
        ("", repository.name, "alice"),
    ]:
        with pytest.raises(BlobUploadUnknown):
            upload_get(upload_id=upload_id, repository_name=name, owner=owner)


def test_cancel_drops_session_and_data(store, upload):
    upload = append(upload, DATA[:100])
    upload_cancel(upload=upload)
    assert not Upload.objects.filter(pk=upload.pk).exists()
    assert not os.path.exists(upload_dir(store, upload.pk))
    assert upload.pk not in uploads._HASHERS


# --- monolithic push ---------------------------------------------------------------------


def test_monolithic_push(store, repository):
    blob = blob_push_monolithic(repository=repository, digest=Digest.of(DATA), chunks=pieces(DATA), length=len(DATA))
    assert blob.size == len(DATA)
    assert stored(store, Digest.of(DATA)) == DATA
    assert store.upload_names() == []
    assert not Upload.objects.exists()


@pytest.mark.parametrize("algorithm", ["sha256", "sha512"])
def test_monolithic_push_mismatch_leaves_nothing(store, repository, algorithm):
    wrong = Digest.of(b"something else", algorithm)
    with pytest.raises(DigestInvalid):
        blob_push_monolithic(repository=repository, digest=wrong, chunks=pieces(DATA), length=len(DATA))
    assert store.upload_names() == []
    assert not os.path.exists(store.path("blobs"))
    assert not Blob.objects.exists()


def test_monolithic_push_interrupted_leaves_nothing(store, repository):
    with pytest.raises(ClientGone):
        blob_push_monolithic(repository=repository, digest=Digest.of(DATA), chunks=failing(DATA, 3), length=None)
    assert store.upload_names() == []
    assert not Blob.objects.exists()


# --- purge -------------------------------------------------------------------------------------


def _age(path: str, seconds: float) -> None:
    stamp = time.time() - seconds
    for root, _dirs, files in os.walk(path):
        for name in files:
            os.utime(os.path.join(root, name), (stamp, stamp))
    os.utime(path, (stamp, stamp))


def _orphan(store, name: str) -> str:
    directory = store.path(f"uploads/{name}")
    os.makedirs(directory)
    with open(os.path.join(directory, "data"), "wb") as handle:
        handle.write(b"left behind")
    return directory


def test_purge_removes_old_sessions_and_orphans_and_keeps_fresh_ones(store, repository):
    old = append(upload_start(repository=repository, owner="a"), DATA[:100])
    fresh = append(upload_start(repository=repository, owner="b"), DATA[:100])
    # A live session whose files are old but whose row was touched recently is not an orphan.
    quiet = append(upload_start(repository=repository, owner="c"), DATA[:100])
    _age(upload_dir(store, quiet.pk), 3 * 3600)
    Upload.objects.filter(pk=old.pk).update(updated=timezone.now() - timedelta(hours=2))
    old_orphan = _orphan(store, str(uuid.uuid4()))
    _age(old_orphan, 3 * 3600)
    fresh_orphan = _orphan(store, str(uuid.uuid4()))
    not_an_upload = _orphan(store, "not-a-uuid")
    _age(not_an_upload, 3 * 3600)

    counts = upload_purge(older_than=timedelta(hours=1))

    assert counts == {"sessions": 1, "orphans": 1}
    assert set(Upload.objects.values_list("pk", flat=True)) == {fresh.pk, quiet.pk}
    assert not os.path.exists(upload_dir(store, old.pk))
    assert not os.path.exists(old_orphan)
    assert os.path.exists(fresh_orphan)
    assert os.path.exists(not_an_upload)
    assert os.path.getsize(data_file(store, fresh)) == 100
    assert os.path.getsize(data_file(store, quiet)) == 100
    # The kept sessions still complete.
    for upload in (fresh, quiet):
        upload = append(Upload.objects.get(pk=upload.pk), DATA[100:])
        upload_complete(upload=upload, digest=Digest.of(DATA), chunks=None, length=None)
    assert Blob.objects.get().digest == str(Digest.of(DATA))


def test_purge_with_nothing_to_do(store):
    assert upload_purge(older_than=timedelta(hours=1)) == {"sessions": 0, "orphans": 0}


def test_purge_of_a_session_that_never_wrote_data(store, repository):
    upload = upload_start(repository=repository, owner="a")
    Upload.objects.filter(pk=upload.pk).update(updated=timezone.now() - timedelta(days=2))
    assert upload_purge(older_than=timedelta(hours=24)) == {"sessions": 1, "orphans": 0}
    assert not Upload.objects.exists()
