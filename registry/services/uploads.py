"""Blob upload sessions: start, append, complete, cancel, monolithic push, purge.

The sha256 of an upload is computed while its bytes arrive. The running hasher
lives in this process (keyed by upload id and offset); after every chunk the
digest of the bytes so far is also stored on the row, so a session completed
on another node with an empty PUT needs no re-read. Only when consecutive
chunks land on different nodes (or the digest is sha512) is the data re-read.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterable
from datetime import timedelta
from typing import Any

from django.db import connection
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from projects.models import Quota
from registry.digest import Digest
from registry.errors import BlobUploadUnknown, Denied, DigestInvalid, RangeInvalid, SizeInvalid
from registry.models import Blob, Repository, Upload
from registry.names import RepositoryName
from registry.quotas import quota_check
from registry.services.blobs import blob_record
from registry.services.repositories import repository_ensure
from registry.storage import BlobStore, BodyReader, BodyTooLong, blob_store, sha256_of

logger = logging.getLogger(__name__)

_HASHERS: OrderedDict[uuid.UUID, tuple[int, Any]] = OrderedDict()
_HASHERS_LOCK = threading.Lock()
_HASHERS_MAX = 1024


def _hasher_take(upload_id: uuid.UUID, offset: int) -> Any | None:
    with _HASHERS_LOCK:
        entry = _HASHERS.pop(upload_id, None)
    if offset == 0:
        return hashlib.sha256()
    if entry is not None and entry[0] == offset:
        return entry[1]
    return None


def _hasher_put(upload_id: uuid.UUID, offset: int, hasher: Any) -> None:
    with _HASHERS_LOCK:
        _HASHERS[upload_id] = (offset, hasher)
        while len(_HASHERS) > _HASHERS_MAX:
            _HASHERS.popitem(last=False)


def _hasher_drop(upload_id: uuid.UUID) -> None:
    with _HASHERS_LOCK:
        _HASHERS.pop(upload_id, None)


def upload_start(*, repository: Repository, owner: str) -> Upload:
    """Open an upload session bound to the repository and the principal."""
    return Upload.objects.create(repository=repository, owner=owner)


def upload_open(*, name: RepositoryName, owner: str) -> Upload:
    """Open a session in the named repository: one statement when it exists, else it is created first."""
    upload = Upload(owner=owner, created=timezone.now())
    upload.updated = upload.created
    fields = {f.attname: f for f in Upload._meta.concrete_fields}
    values = [
        fields[key].get_db_prep_save(getattr(upload, key), connection)
        for key in ("id", "owner", "size", "parts", "sha256_so_far", "created", "updated")
    ]
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO registry_upload (id, owner, size, parts, sha256_so_far, created, updated, repository_id) "
            "SELECT %s, %s, %s, %s, %s, %s, %s, id FROM registry_repository WHERE name = %s RETURNING repository_id",
            [*values, name.full],
        )
        row = cursor.fetchone()
    if row is None:
        return upload_start(repository=repository_ensure(name=name), owner=owner)
    upload.repository_id = row[0]
    return upload


_quota_hard = Subquery(Quota.objects.filter(project_id=OuterRef("repository__project_id")).values("hard")[:1])


def upload_get(*, upload_id: str, repository_name: str, owner: str) -> Upload:
    """The session, if it belongs to this repository and principal; BLOB_UPLOAD_UNKNOWN otherwise."""
    try:
        key = uuid.UUID(upload_id)
    except ValueError as exc:
        raise BlobUploadUnknown() from exc
    upload = (
        Upload.objects.filter(pk=key, repository__name=repository_name, owner=owner)
        .select_related("repository")
        .annotate(quota_hard=_quota_hard)  # completion's early quota check needs no query of its own
        .first()
    )
    if upload is None:
        raise BlobUploadUnknown()
    return upload


def upload_append(*, upload: Upload, chunks: Iterable[bytes], start: int | None, length: int | None) -> Upload:
    """Append a chunk; `start` (from Content-Range) must equal the bytes received so far."""
    store = blob_store()
    with store.upload_lock(upload.id):
        current = Upload.objects.filter(pk=upload.pk).first()
        if current is None:
            raise BlobUploadUnknown()
        if start is not None and start != current.size:
            # dist-spec: 416 when a chunk does not start where the last one ended.
            raise RangeInvalid(
                f"chunk starts at {start}, upload has {current.size} bytes",
                headers={"Range": _range(current.size)},
            )
        hasher = _hasher_take(current.pk, current.size) if current.sha256_so_far or current.size == 0 else None
        body = BodyReader(chunks, hasher, limit=length)
        part = ""
        try:
            part = store.upload_append(current.pk, start=current.size, body=body)
            if length is not None and body.count != length:
                raise SizeInvalid(f"received {body.count} bytes, Content-Length said {length}")
        except BodyTooLong as exc:
            store.upload_discard_part(current.pk, part=part, start=current.size)
            raise SizeInvalid("body is longer than Content-Length") from exc
        except BaseException:
            # Client gone or bad length: the session stays at its last good offset and can resume.
            store.upload_discard_part(current.pk, part=part, start=current.size)
            raise
        if body.count == 0:
            if hasher is not None:
                _hasher_put(current.pk, current.size, hasher)
            return current
        new_size = current.size + body.count
        parts = [*current.parts, [part, body.count]] if part else current.parts
        sofar = hasher.hexdigest() if hasher is not None else ""
        won = Upload.objects.filter(pk=current.pk, size=current.size).update(
            size=new_size, parts=parts, sha256_so_far=sofar, updated=timezone.now()
        )
        if not won:
            store.upload_discard_part(current.pk, part=part, start=current.size)
            raise RangeInvalid("a concurrent chunk was written first")
        if hasher is not None:
            _hasher_put(current.pk, new_size, hasher)
        current.size, current.parts, current.sha256_so_far = new_size, parts, sofar
        return current


def _range(size: int) -> str:
    return f"0-{max(size - 1, 0)}"


def upload_range(upload: Upload) -> str:
    """The `Range` header value for an upload's status."""
    return _range(upload.size)


def upload_complete(*, upload: Upload, digest: Digest, chunks: Iterable[bytes] | None, length: int | None) -> Blob:
    """Take an optional last chunk, verify the digest, commit the blob; the session is gone after."""
    if upload.size == 0 and chunks is not None and length != 0:
        # The whole blob in the completing PUT (what docker and containerd send): stored and verified
        # while it streams, as a monolithic push is, with the session's row deleted in the same commit.
        return _blob_push(repository=upload.repository, digest=digest, chunks=chunks, length=length, session=upload)
    if chunks is not None and length != 0:
        upload = upload_append(upload=upload, chunks=chunks, start=None, length=length)
    store = blob_store()
    with store.upload_lock(upload.id):
        current = Upload.objects.filter(pk=upload.pk).select_related("repository").annotate(quota_hard=_quota_hard)
        current = current.first()
        if current is None:
            raise BlobUploadUnknown()
        if digest.algorithm == "sha256" and (current.sha256_so_far or current.size == 0):
            actual = current.sha256_so_far or hashlib.sha256().hexdigest()
        else:
            actual = sha256_of(store.upload_iter(current.pk, parts=current.parts, size=current.size), digest.algorithm)
        _hasher_drop(current.pk)
        if actual != digest.hex:
            # dist-spec: a mismatch fails the upload; nothing of it is kept.
            _upload_destroy(current)
            raise DigestInvalid(detail={"expected": str(digest), "actual": f"{digest.algorithm}:{actual}"})
        try:
            quota_check(
                project_id=current.repository.project_id, digest=str(digest), size=current.size, hard=current.quota_hard
            )
        except Denied:
            _upload_destroy(current)  # refused before commit: none of its bytes remain
            raise
        try:
            blob = blob_record(
                digest=digest,
                size=current.size,
                repository=current.repository,
                commit=lambda: _commit(store, current.pk, parts=current.parts, size=current.size, digest=digest),
                also=lambda: Upload.objects.filter(pk=current.pk).delete(),  # in the blob's transaction
            )
        except Denied:
            # The quota filled up since the check: the session is over either way. The committed
            # blob has no row and no link now; garbage collection removes its bytes.
            Upload.objects.filter(pk=current.pk).delete()
            raise
    return blob


def blob_push_monolithic(
    *, repository: Repository, digest: Digest, chunks: Iterable[bytes], length: int | None
) -> Blob:
    """`POST ?digest=`: the whole blob in one request, without a session row."""
    return _blob_push(repository=repository, digest=digest, chunks=chunks, length=length, session=None)


def _blob_push(
    *, repository: Repository, digest: Digest, chunks: Iterable[bytes], length: int | None, session: Upload | None
) -> Blob:
    """Store a whole blob from one body: hashed while written, verified, charged, committed with its link.

    With a `session` (a completing PUT into an empty one), its data file is written and its row is
    deleted in the blob's transaction; a digest mismatch or a quota refusal ends the session too
    (dist-spec), an interrupted or short body leaves it empty and resumable."""
    store = blob_store()
    upload_id = session.pk if session is not None else uuid.uuid4()
    hasher = digest.hasher()
    body = BodyReader(chunks, hasher, limit=length)
    parts: list = []
    try:
        with store.upload_lock(upload_id):
            part = store.upload_append(upload_id, start=0, body=body)
            if part:
                parts.append([part, body.count])
            if length is not None and body.count != length:
                raise SizeInvalid(f"received {body.count} bytes, Content-Length said {length}")
            if hasher.hexdigest() != digest.hex:
                raise DigestInvalid(
                    detail={"expected": str(digest), "actual": f"{digest.algorithm}:{hasher.hexdigest()}"}
                )
            quota_check(
                project_id=repository.project_id,
                digest=str(digest),
                size=body.count,
                hard=getattr(session, "quota_hard", None),
            )
            return blob_record(
                digest=digest,
                size=body.count,
                repository=repository,
                commit=lambda: _commit(store, upload_id, parts=parts, size=body.count, digest=digest),
                also=None if session is None else lambda: Upload.objects.filter(pk=upload_id).delete(),
            )
    except BodyTooLong as exc:
        store.upload_delete(upload_id, parts=parts)
        raise SizeInvalid("body is longer than Content-Length") from exc
    except (DigestInvalid, Denied):
        store.upload_delete(upload_id, parts=parts)
        if session is not None:
            Upload.objects.filter(pk=upload_id).delete()
        raise
    except BaseException:
        store.upload_delete(upload_id, parts=parts)
        raise


def _commit(store: BlobStore, upload_id: uuid.UUID, *, parts: list, size: int, digest: Digest) -> None:
    """Put verified upload data at the blob's place, or drop it when the blob is already stored.

    Called by blob_record under the digest's lock, so the existence check and the link that follows
    can't interleave with garbage collection removing the same blob (see registry/services/gc.py).
    """
    if store.blob_exists(digest):
        store.upload_delete(upload_id, parts=parts)
    else:
        store.upload_commit(upload_id, parts=parts, size=size, digest=digest)


def upload_cancel(*, upload: Upload) -> None:
    """Cancel a session and drop its data."""
    _hasher_drop(upload.pk)
    _upload_destroy(upload)


def _upload_destroy(upload: Upload) -> None:
    blob_store().upload_delete(upload.pk, parts=upload.parts)
    Upload.objects.filter(pk=upload.pk).delete()


def upload_purge(*, older_than: timedelta) -> dict[str, int]:
    """Delete sessions idle for longer than `older_than` and upload data that has no session."""
    cutoff = timezone.now() - older_than
    store = blob_store()
    purged = 0
    for upload in Upload.objects.filter(updated__lt=cutoff).iterator(chunk_size=500):
        _upload_destroy(upload)
        purged += 1
    live = {str(pk) for pk in Upload.objects.values_list("pk", flat=True)}
    orphans = 0
    for name in store.upload_names():
        if name in live:
            continue
        try:
            upload_id = uuid.UUID(name)
        except ValueError:
            continue
        if store.upload_age_seconds(upload_id) > older_than.total_seconds():
            store.upload_delete(upload_id, parts=[])
            orphans += 1
    return {"sessions": purged, "orphans": orphans}
