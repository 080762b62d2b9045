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
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.files.storage import FileSystemStorage, storages

from registry.digest import Digest

if TYPE_CHECKING:
    from boto3.s3.transfer import TransferConfig

CHUNK_SIZE = 1024 * 1024
S3_MIN_PART = 5 * 1024 * 1024  # S3: every part of a multipart upload but the last
S3_MAX_PART = 5 * 1024**3  # S3: largest part (and largest single CopyObject)
S3_MAX_PARTS = 10_000
S3_COPY_STEP = 1024**3  # sub-ranges of a chunk larger than S3_MAX_PART
S3_UPLOAD_PART = 8 * 1024 * 1024  # parts of a streamed upload of known length (grown past 10,000 parts)
S3_STREAM_PART = 16 * 1024 * 1024  # parts of a streamed upload of unknown length
S3_MAX_BUFFERED = 2  # parts of a streamed upload held in memory (and sent) at once


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
        # Collect pieces and join once: `+=` on bytes would copy the buffer for every piece.
        pieces, have = [self._buffer], len(self._buffer)
        while have < size:
            piece = next(self._chunks, b"")
            if not piece:
                break
            pieces.append(piece)
            have += len(piece)
        joined = b"".join(pieces) if len(pieces) > 1 else self._buffer
        data, self._buffer = joined[:size], joined[size:]
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

    def blob_listing(self) -> Iterator[tuple[str, float]]:
        """(digest, age in seconds) of every committed blob in the store (for garbage collection)."""
        raise NotImplementedError

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

    def blob_listing(self) -> Iterator[tuple[str, float]]:
        root = self.path("blobs")
        now = time.time()
        for directory, _dirs, files in os.walk(root):
            algorithm = os.path.relpath(directory, root).split(os.sep)[0]
            for name in files:
                with contextlib.suppress(FileNotFoundError):
                    yield f"{algorithm}:{name}", now - os.stat(os.path.join(directory, name)).st_mtime

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
    """Object stores (S3): one object per chunk; commit copies server-side.

    All calls go through the boto3 client of the current thread (django-storages keeps one
    connection per thread; its cached `bucket` resource is shared and not thread-safe).
    """

    def _key(self, name: str) -> str:
        """The object key of a store name: cleaned, under the configured prefix (`location`)."""
        from storages.utils import clean_name

        return str(self.storage._normalize_name(clean_name(name)))

    def _prefix(self, upload_id: uuid.UUID) -> str:
        return self._key(f"uploads/{upload_id}") + "/"

    @property
    def _client(self) -> Any:
        return self.storage.connection.meta.client

    @property
    def _bucket(self) -> str:
        return str(self.storage.bucket_name)

    def _transfer(self, size: int | None) -> TransferConfig:
        """Bounded buffering: a non-seekable stream is held at most S3_MAX_BUFFERED parts at a time."""
        from boto3.s3.transfer import TransferConfig  # boto3 loads only on the object-store path

        # Known length: parts grow past S3_UPLOAD_PART only to stay within 10,000 parts; unknown
        # length (a chunked body): S3_STREAM_PART parts leave room for S3_STREAM_PART * 10,000 bytes.
        chunk = S3_STREAM_PART if size is None else max(S3_UPLOAD_PART, -(-size // S3_MAX_PARTS))
        config = TransferConfig(
            multipart_threshold=chunk,
            multipart_chunksize=chunk,
            max_concurrency=S3_MAX_BUFFERED,
            use_threads=True,
        )
        config.max_in_memory_upload_chunks = S3_MAX_BUFFERED
        return config

    def _head(self, name: str) -> dict | None:
        from botocore.exceptions import ClientError

        try:
            return dict(self._client.head_object(Bucket=self._bucket, Key=self._key(name)))
        except ClientError as exc:
            if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
                return None
            raise

    def _list(self, prefix: str) -> Iterator[dict]:
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
            yield from page.get("Contents", ())

    # --- committed blobs ---------------------------------------------------
    def blob_exists(self, digest: Digest) -> bool:
        return self._head(blob_name(digest)) is not None

    def blob_size(self, digest: Digest) -> int:
        head = self._head(blob_name(digest))
        if head is None:
            raise FileNotFoundError(blob_name(digest))
        return int(head["ContentLength"])

    def blob_delete(self, digest: Digest) -> None:
        self._client.delete_object(Bucket=self._bucket, Key=self._key(blob_name(digest)))

    def blob_listing(self) -> Iterator[tuple[str, float]]:
        prefix = self._key("blobs") + "/"
        now = time.time()
        for obj in self._list(prefix):
            parts = obj["Key"][len(prefix) :].split("/")  # <alg>/<2 hex>/<hex>
            if len(parts) == 3:
                yield f"{parts[0]}:{parts[2]}", now - obj["LastModified"].timestamp()

    def blob_write(self, digest: Digest, data: bytes) -> None:
        if not self.blob_exists(digest):
            self._client.put_object(Bucket=self._bucket, Key=self._key(blob_name(digest)), Body=data)

    def blob_iter(self, digest: Digest, start: int = 0, end: int | None = None) -> Iterator[bytes]:
        params: dict[str, Any] = {"Bucket": self._bucket, "Key": self._key(blob_name(digest))}
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

    # --- uploads -----------------------------------------------------------
    def _part_name(self, upload_id: uuid.UUID, start: int) -> str:
        return f"uploads/{upload_id}/{start:016d}-{uuid.uuid4().hex}"

    def upload_append(self, upload_id: uuid.UUID, *, start: int, body: BodyReader) -> str:
        name = self._part_name(upload_id, start)
        # s3transfer reads the non-seekable body part by part (put_object below the threshold,
        # a multipart upload above it, aborted if the body fails), so memory stays bounded.
        self._client.upload_fileobj(body, self._bucket, self._key(name), Config=self._transfer(body.limit))
        if body.count == 0:
            self.upload_discard_part(upload_id, part=name, start=start)
            return ""
        return name

    def upload_discard_part(self, upload_id: uuid.UUID, *, part: str, start: int) -> None:
        if part:
            self._client.delete_object(Bucket=self._bucket, Key=self._key(part))

    def upload_iter(self, upload_id: uuid.UUID, *, parts: list, size: int) -> Iterator[bytes]:
        remaining = size
        for name, _part_size in parts:
            if remaining <= 0:
                break
            body = self._client.get_object(Bucket=self._bucket, Key=self._key(name))["Body"]
            try:
                for piece in body.iter_chunks(CHUNK_SIZE):
                    piece = piece[:remaining]
                    remaining -= len(piece)
                    yield piece
                    if remaining <= 0:
                        break
            finally:
                body.close()
        if remaining > 0:
            raise OSError("upload data is shorter than recorded")

    def upload_commit(self, upload_id: uuid.UUID, *, parts: list, size: int, digest: Digest) -> None:
        bucket, target = self._bucket, self._key(blob_name(digest))
        client = self._client
        ranges = _copy_ranges(parts)
        if not parts:
            client.put_object(Bucket=bucket, Key=target, Body=b"")
        elif len(parts) == 1:
            # Managed copy: CopyObject, or a multipart copy for large objects; server-side either way.
            source = {"Bucket": bucket, "Key": self._key(parts[0][0])}
            client.copy(source, bucket, target, Config=self._transfer(size))
        elif ranges is not None:
            self._multipart_copy(target, ranges)
        else:
            # Chunks under S3's 5 MiB part minimum can't be multipart-copied: stream them through once.
            reader = BodyReader(self.upload_iter(upload_id, parts=parts, size=size), None)
            client.upload_fileobj(reader, bucket, target, Config=self._transfer(size))
        self.upload_delete(upload_id, parts=parts)

    def _multipart_copy(self, target: str, ranges: list[tuple[str, str | None]]) -> None:
        client, bucket = self._client, self._bucket
        upload_id = client.create_multipart_upload(Bucket=bucket, Key=target)["UploadId"]
        try:
            done = []
            for number, (name, byte_range) in enumerate(ranges, start=1):
                extra = {"CopySourceRange": byte_range} if byte_range else {}
                result = client.upload_part_copy(
                    Bucket=bucket,
                    Key=target,
                    UploadId=upload_id,
                    PartNumber=number,
                    CopySource={"Bucket": bucket, "Key": self._key(name)},
                    **extra,
                )
                done.append({"PartNumber": number, "ETag": result["CopyPartResult"]["ETag"]})
            client.complete_multipart_upload(
                Bucket=bucket, Key=target, UploadId=upload_id, MultipartUpload={"Parts": done}
            )
        except BaseException:
            with contextlib.suppress(Exception):
                client.abort_multipart_upload(Bucket=bucket, Key=target, UploadId=upload_id)
            raise

    def upload_age_seconds(self, upload_id: uuid.UUID) -> float:
        stamps = [obj["LastModified"].timestamp() for obj in self._list(self._prefix(upload_id))]
        return time.time() - max(stamps) if stamps else float("inf")

    def upload_delete(self, upload_id: uuid.UUID, *, parts: list) -> None:
        # Every part lives under the upload's prefix, with any stray part an interrupted append left.
        keys = [{"Key": obj["Key"]} for obj in self._list(self._prefix(upload_id))]
        for first in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            result = self._client.delete_objects(
                Bucket=self._bucket, Delete={"Objects": keys[first : first + 1000], "Quiet": True}
            )
            if result.get("Errors"):
                raise OSError(f"could not delete upload data: {result['Errors'][:3]}")

    def upload_names(self) -> list[str]:
        prefix = self._key("uploads") + "/"
        names: list[str] = []
        paginator = self._client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix, Delimiter="/"):
            names += [entry["Prefix"][len(prefix) :].rstrip("/") for entry in page.get("CommonPrefixes", ())]
        return names


def _copy_ranges(parts: list) -> list[tuple[str, str | None]] | None:
    """UploadPartCopy sources for the chunks, or None when S3's part rules can't be met."""
    ranges: list[tuple[str, str | None]] = []
    for index, (name, size) in enumerate(parts):
        if size < S3_MIN_PART and index < len(parts) - 1:
            return None  # every part but the last must be at least 5 MiB
        if size <= S3_MAX_PART:
            ranges.append((name, None))
            continue
        pieces = -(-size // S3_COPY_STEP)  # even split: no sub-range falls under the minimum
        bounds = [size * i // pieces for i in range(pieces + 1)]
        ranges += [(name, f"bytes={bounds[i]}-{bounds[i + 1] - 1}") for i in range(pieces)]
    return ranges if len(ranges) <= S3_MAX_PARTS else None


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
