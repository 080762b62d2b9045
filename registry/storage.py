"""The content-addressed blob store: the only module that moves blob bytes.

Layout: `blobs/<alg>/<2 hex>/<hex>` for committed blobs, `uploads/<id>/...` for
upload data. Bytes stream in chunks and are hashed as they arrive; a blob only
reaches its content-addressed place after its digest has been verified.

Two implementations over Django's storage API:
- FilesystemBlobStore (FileSystemStorage): an upload is one file, appended under
  a per-upload lock and renamed into place; pulls use sendfile via FileResponse.
- ObjectBlobStore (S3 through django-storages): each chunk is an object; commit
  is a server-side copy (multipart copy for several chunks); pulls stream or
  redirect to a presigned URL.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import time
import uuid
from collections.abc import Iterable, Iterator
from functools import cache
from typing import Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages

from registry.digest import Digest

CHUNK_SIZE = 1024 * 1024
S3_MIN_PART = 5 * 1024 * 1024


def blob_name(digest: Digest) -> str:
    return f"blobs/{digest.algorithm}/{digest.hex[:2]}/{digest.hex}"


class BodyReader:
    """A file-like view of a request body stream that counts and hashes as it is read."""

    def __init__(self, chunks: Iterable[bytes], hasher: Any | None, limit: int | None = None):
        self._chunks = iter(chunks)
        self._buffer = b""
        self.hasher = hasher
        self.count = 0
        self.limit = limit

    def _take(self, data: bytes) -> bytes:
        self.count += len(data)
        if self.limit is not None and self.count > self.limit:
            raise BodyTooLong
        if self.hasher is not None:
            self.hasher.update(data)
        return data

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            data, self._buffer = self._buffer + b"".join(self._chunks), b""
            return self._take(data)
        while len(self._buffer) < size:
            piece = next(self._chunks, b"")
            if not piece:
                break
            self._buffer += piece
        data, self._buffer = self._buffer[:size], self._buffer[size:]
        return self._take(data)

    def __iter__(self) -> Iterator[bytes]:
        if self._buffer:
            yield self._take(self._buffer)
            self._buffer = b""
        for piece in self._chunks:
            if piece:
                yield self._take(piece)


class BodyTooLong(Exception):
    """The body carried more bytes than its declared length allows."""


class BlobStore:
    """Operations every backend provides."""

    supports_sendfile = False

    def __init__(self, storage: Any):
        self.storage = storage

    # --- committed blobs ---------------------------------------------------
    def blob_exists(self, digest: Digest) -> bool:
        return bool(self.storage.exists(blob_name(digest)))

    def blob_size(self, digest: Digest) -> int:
        return int(self.storage.size(blob_name(digest)))

    def blob_delete(self, digest: Digest) -> None:
        self.storage.delete(blob_name(digest))

    def blob_iter(self, digest: Digest, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        """Stream bytes [start, end] (inclusive) of a committed blob."""
        with self.storage.open(blob_name(digest), "rb") as handle:
            if start:
                handle.seek(start)
            remaining = None if end is None else end - start + 1
            while remaining is None or remaining > 0:
                piece = handle.read(CHUNK_SIZE if remaining is None else min(CHUNK_SIZE, remaining))
                if not piece:
                    break
                if remaining is not None:
                    remaining -= len(piece)
                yield piece

    def blob_url(self, digest: Digest) -> str | None:
        """A URL the client may fetch the blob from directly, when the backend has one."""
        return None

    def blob_write(self, digest: Digest, data: bytes) -> None:
        """Store small verified content (used for manifests mirrored as blobs and tests)."""
        from django.core.files.base import ContentFile

        if not self.blob_exists(digest):
            self.storage.save(blob_name(digest), ContentFile(data))

    # --- uploads -----------------------------------------------------------
    def upload_lock(self, upload_id: uuid.UUID) -> contextlib.AbstractContextManager[None]:
        return contextlib.nullcontext()

    def upload_append(self, upload_id: uuid.UUID, *, start: int, body: BodyReader) -> str:
        """Store the body as the data following byte `start`; return a part name ("" if none)."""
        raise NotImplementedError

    def upload_discard_part(self, upload_id: uuid.UUID, *, part: str, start: int) -> None:
        """Forget data written by an append that did not commit."""
        raise NotImplementedError

    def upload_iter(self, upload_id: uuid.UUID, *, parts: list, size: int) -> Iterator[bytes]:
        """Stream the first `size` bytes of an upload (used to re-hash in the rare cases)."""
        raise NotImplementedError

    def upload_commit(self, upload_id: uuid.UUID, *, parts: list, size: int, digest: Digest) -> None:
        """Move verified upload data to the blob's content-addressed place."""
        raise NotImplementedError

    def upload_delete(self, upload_id: uuid.UUID, *, parts: list) -> None:
        raise NotImplementedError

    def upload_age_seconds(self, upload_id: uuid.UUID) -> float:
        """Seconds since the upload's data last changed (large when it has none)."""
        raise NotImplementedError

    def upload_names(self) -> list[str]:
        """Upload ids that have data in the store (for purging orphans)."""
        try:
            dirs, _files = self.storage.listdir("uploads")
        except (FileNotFoundError, NotADirectoryError):
            return []
        return list(dirs)


class FilesystemBlobStore(BlobStore):
    """Uploads append to one file per session; commit is an atomic rename."""

    supports_sendfile = True

    def path(self, name: str) -> str:
        return self.storage.path(name)

    def _upload_file(self, upload_id: uuid.UUID) -> str:
        return self.path(f"uploads/{upload_id}/data")

    def blob_path(self, digest: Digest) -> str:
        return self.path(blob_name(digest))

    def blob_exists(self, digest: Digest) -> bool:
        return os.path.exists(self.blob_path(digest))

    def blob_size(self, digest: Digest) -> int:
        return os.path.getsize(self.blob_path(digest))

    def blob_delete(self, digest: Digest) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.blob_path(digest))

    def blob_write(self, digest: Digest, data: bytes) -> None:
        target = self.blob_path(digest)
        if os.path.exists(target):
            return
        os.makedirs(os.path.dirname(target), exist_ok=True)
        tmp = f"{target}.{uuid.uuid4().hex}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(data)
        os.replace(tmp, target)

    @contextlib.contextmanager
    def upload_lock(self, upload_id: uuid.UUID) -> Iterator[None]:
        path = self._upload_file(upload_id)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        fd = os.open(path + ".lock", os.O_CREAT | os.O_RDWR, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def upload_append(self, upload_id: uuid.UUID, *, start: int, body: BodyReader) -> str:
        path = self._upload_file(upload_id)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "ab") as handle:
            # Bytes past `start` are left over from an append that never committed
            # (client gone, process killed): the database's size is the truth.
            handle.truncate(start)
            handle.seek(start)
            for piece in body:
                handle.write(piece)
        return ""

    def upload_discard_part(self, upload_id: uuid.UUID, *, part: str, start: int) -> None:
        with contextlib.suppress(FileNotFoundError), open(self._upload_file(upload_id), "ab") as handle:
            handle.truncate(start)

    def upload_iter(self, upload_id: uuid.UUID, *, parts: list, size: int) -> Iterator[bytes]:
        if size == 0:
            return
        with open(self._upload_file(upload_id), "rb") as handle:
            remaining = size
            while remaining > 0:
                piece = handle.read(min(CHUNK_SIZE, remaining))
                if not piece:
                    raise OSError("upload data is shorter than recorded")
                remaining -= len(piece)
                yield piece

    def upload_commit(self, upload_id: uuid.UUID, *, parts: list, size: int, digest: Digest) -> None:
        source = self._upload_file(upload_id)
        target = self.blob_path(digest)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        if not os.path.exists(source):
            open(source, "wb").close()  # an empty blob never wrote a byte
        with open(source, "ab") as handle:
            handle.truncate(size)
        os.replace(source, target)
        self.upload_delete(upload_id, parts=parts)

    def upload_age_seconds(self, upload_id: uuid.UUID) -> float:
        directory = os.path.dirname(self._upload_file(upload_id))
        try:
            newest = max(os.stat(os.path.join(directory, n)).st_mtime for n in [".", *os.listdir(directory)])
        except (FileNotFoundError, ValueError):
            return float("inf")
        return time.time() - newest

    def upload_delete(self, upload_id: uuid.UUID, *, parts: list) -> None:
        directory = os.path.dirname(self._upload_file(upload_id))
        for name in ("data", "data.lock"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(os.path.join(directory, name))
        with contextlib.suppress(OSError):
            os.rmdir(directory)


class ObjectBlobStore(BlobStore):
    """Object stores (S3): one object per chunk; commit copies server-side."""

    def _key(self, name: str) -> str:
        return self.storage._normalize_name(self.storage._clean_name(name))

    @property
    def _client(self) -> Any:
        return self.storage.connection.meta.client

    def blob_iter(self, digest: Digest, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        params: dict[str, Any] = {"Bucket": self.storage.bucket_name, "Key": self._key(blob_name(digest))}
        if start or end is not None:
            params["Range"] = f"bytes={start}-{'' if end is None else end}"
        body = self._client.get_object(**params)["Body"]
        try:
            yield from body.iter_chunks(CHUNK_SIZE)
        finally:
            body.close()

    def blob_url(self, digest: Digest) -> str | None:
        if not settings.STORAGE_REDIRECT:
            return None
        return str(self.storage.url(blob_name(digest)))

    def _part_name(self, upload_id: uuid.UUID, start: int) -> str:
        return f"uploads/{upload_id}/{start:016d}-{uuid.uuid4().hex}"

    def upload_append(self, upload_id: uuid.UUID, *, start: int, body: BodyReader) -> str:
        name = self._part_name(upload_id, start)
        self._client.upload_fileobj(body, self.storage.bucket_name, self._key(name))
        return name

    def upload_discard_part(self, upload_id: uuid.UUID, *, part: str, start: int) -> None:
        if part:
            self.storage.delete(part)

    def upload_iter(self, upload_id: uuid.UUID, *, parts: list, size: int) -> Iterator[bytes]:
        for name, _part_size in parts:
            body = self._client.get_object(Bucket=self.storage.bucket_name, Key=self._key(name))["Body"]
            try:
                yield from body.iter_chunks(CHUNK_SIZE)
            finally:
                body.close()

    def upload_commit(self, upload_id: uuid.UUID, *, parts: list, size: int, digest: Digest) -> None:
        bucket, target = self.storage.bucket_name, self._key(blob_name(digest))
        client = self._client
        if not parts:
            client.put_object(Bucket=bucket, Key=target, Body=b"")
        elif len(parts) == 1:
            client.copy({"Bucket": bucket, "Key": self._key(parts[0][0])}, bucket, target)
        elif all(part_size >= S3_MIN_PART for _name, part_size in parts[:-1]):
            mpu = client.create_multipart_upload(Bucket=bucket, Key=target)
            try:
                done = []
                for number, (name, _part_size) in enumerate(parts, start=1):
                    result = client.upload_part_copy(
                        Bucket=bucket,
                        Key=target,
                        UploadId=mpu["UploadId"],
                        PartNumber=number,
                        CopySource={"Bucket": bucket, "Key": self._key(name)},
                    )
                    done.append({"PartNumber": number, "ETag": result["CopyPartResult"]["ETag"]})
                client.complete_multipart_upload(
                    Bucket=bucket, Key=target, UploadId=mpu["UploadId"], MultipartUpload={"Parts": done}
                )
            except Exception:
                client.abort_multipart_upload(Bucket=bucket, Key=target, UploadId=mpu["UploadId"])
                raise
        else:
            # Small chunks can't be multipart-copied (5 MiB minimum): stream them through once.
            reader = BodyReader(self.upload_iter(upload_id, parts=parts, size=size), None)
            client.upload_fileobj(reader, bucket, target)
        self.upload_delete(upload_id, parts=parts)

    def upload_age_seconds(self, upload_id: uuid.UUID) -> float:
        prefix = self._key(f"uploads/{upload_id}/")
        stamps = [obj.last_modified.timestamp() for obj in self.storage.bucket.objects.filter(Prefix=prefix)]
        return time.time() - max(stamps) if stamps else float("inf")

    def upload_delete(self, upload_id: uuid.UUID, *, parts: list) -> None:
        prefix = self._key(f"uploads/{upload_id}/")
        self.storage.bucket.objects.filter(Prefix=prefix).delete()


@cache
def blob_store() -> BlobStore:
    """The configured blob store (one per process)."""
    storage = storages["blobs"]
    if isinstance(storage, FileSystemStorage):
        return FilesystemBlobStore(storage)
    return ObjectBlobStore(storage)


def sha256_of(chunks: Iterable[bytes], algorithm: str = "sha256") -> str:
    hasher = hashlib.new(algorithm)
    for piece in chunks:
        hasher.update(piece)
    return hasher.hexdigest()
