"""The OCI Distribution v1.1 routes. Each handler parses, calls a service or selector, renders."""

from __future__ import annotations

import re

from django.conf import settings
from django.http import (
    FileResponse,
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)

from registry import selectors
from registry.auth.authentication import challenge
from registry.digest import Digest
from registry.errors import (
    BlobUploadInvalid,
    NameUnknown,
    PayloadTooLarge,
    RangeInvalid,
    RegistryError,
    Unauthorized,
)
from registry.gates import PULL, gates_check
from registry.names import RepositoryName
from registry.oci.base import RegistryView, body_chunks, body_length
from registry.oci.responses import link_header, page_size
from registry.pulls import pull_record
from registry.services import blobs as blob_services
from registry.services import manifests as manifest_services
from registry.services import uploads as upload_services
from registry.services.repositories import repository_ensure
from registry.storage import blob_store

_CONTENT_RANGE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/\d+|/\*)?$")
_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


class ApiVersionView(RegistryView):
    """`GET /v2/`: 200 when authenticated, 401 with the token challenge otherwise."""

    needs_name = False

    def get(self, request: HttpRequest) -> HttpResponse:
        if self.auth.is_anonymous:
            raise Unauthorized(headers=challenge(request))
        return JsonResponse({})


class CatalogView(RegistryView):
    needs_name = False

    def get(self, request: HttpRequest) -> HttpResponse:
        limit, last = page_size(request), request.GET.get("last") or None
        names, more = selectors.catalog_names(principal=self.auth.full_principal(), last=last, limit=limit)
        response = JsonResponse({"repositories": names})
        if more:
            response["Link"] = link_header("/v2/_catalog", n=limit, last=names[-1])
        return response


class TagsListView(RegistryView):
    def get(self, request: HttpRequest) -> HttpResponse:
        self.require("pull")
        limit, last = page_size(request), request.GET.get("last") or None
        tags, more = selectors.tag_names(repository_name=self.name.full, last=last, limit=limit)
        response = JsonResponse({"name": self.name.full, "tags": tags})
        if more:
            response["Link"] = link_header(f"/v2/{self.name.full}/tags/list", n=limit, last=tags[-1])
        return response


class ManifestView(RegistryView):
    def get(self, request: HttpRequest, reference: str) -> HttpResponse:
        self.require("pull")
        stored = selectors.manifest_get(repository_name=self.name.full, reference=reference)
        if request.method == "GET":  # Harbor counts a manifest GET as a pull; HEAD is a probe
            tag = None if Digest.is_digest(reference) else reference
            # The pull gates (none registered today: no cost) may refuse it, e.g. a vulnerability policy.
            gates_check(
                action=PULL,
                project_id=stored.project_id,
                repository_name=self.name.full,
                tags=() if tag is None else (tag,),
                digest=stored.digest,
                operation="pull",
            )
            pull_record(
                repository_id=stored.repository_id,
                artifact_id=stored.artifact_id,
                tag=tag,
                repository_name=self.name.full,
                project_id=stored.project_id,
                digest=stored.digest,
            )
        body = b"" if request.method == "HEAD" else stored.content
        response = HttpResponse(body, content_type=stored.media_type)
        response["Content-Length"] = str(len(stored.content))
        response["Docker-Content-Digest"] = stored.digest
        response["ETag"] = f'"{stored.digest}"'
        return response

    head = get

    def put(self, request: HttpRequest, reference: str) -> HttpResponse:
        self.require("push")
        length = body_length(request)
        if length is not None and length > settings.MAX_MANIFEST_SIZE:
            # dist-spec: refuse an oversized manifest before parsing it. A body up to twice the
            # limit is drained unparsed so the client reads the 413 instead of a reset connection.
            if length <= 2 * settings.MAX_MANIFEST_SIZE:
                for _piece in body_chunks(request, length):
                    pass
            raise PayloadTooLarge(f"manifest is larger than {settings.MAX_MANIFEST_SIZE} bytes")
        body = b""
        for piece in body_chunks(request, length):
            body += piece
            if len(body) > settings.MAX_MANIFEST_SIZE:
                raise PayloadTooLarge(f"manifest is larger than {settings.MAX_MANIFEST_SIZE} bytes")
        pushed = manifest_services.manifest_push(
            repository=self.name,  # looked up (or created) in the push's first statement
            reference=reference,
            body=body,
            content_type=request.META.get("CONTENT_TYPE"),
            tags=request.GET.getlist("tag"),
        )
        response = HttpResponse(status=201)
        response["Location"] = f"/v2/{self.name.full}/manifests/{pushed.digest}"
        response["Docker-Content-Digest"] = str(pushed.digest)
        if pushed.manifest.subject is not None:
            response["OCI-Subject"] = str(pushed.manifest.subject.digest)
        return response

    def delete(self, request: HttpRequest, reference: str) -> HttpResponse:
        self.require("delete")
        manifest_services.manifest_delete(repository_name=self.name.full, reference=reference)
        return HttpResponse(status=202)


class BlobView(RegistryView):
    def get(self, request: HttpRequest, digest: str) -> HttpResponse:
        self.require("pull")
        parsed = Digest.parse(digest)
        size = selectors.blob_size_get(repository_name=self.name.full, digest=parsed)
        headers = {"Docker-Content-Digest": str(parsed), "Accept-Ranges": "bytes", "ETag": f'"{parsed}"'}
        if request.method == "HEAD":
            response = HttpResponse(b"", content_type="application/octet-stream", headers=headers)
            response["Content-Length"] = str(size)
            return response
        store = blob_store()
        byte_range = _parse_range(request.META.get("HTTP_RANGE", ""), size)
        if byte_range is None:
            url = store.blob_url(parsed)
            if url:
                return HttpResponseRedirect(url, status=307, headers=headers)
            if store.supports_sendfile:
                handle = open(store.blob_path(parsed), "rb")  # noqa: SIM115 - FileResponse closes it
                response = FileResponse(handle, content_type="application/octet-stream")
            else:
                response = StreamingHttpResponse(store.blob_iter(parsed), content_type="application/octet-stream")
            response["Content-Length"] = str(size)
        else:
            start, end = byte_range
            response = StreamingHttpResponse(
                store.blob_iter(parsed, start, end), status=206, content_type="application/octet-stream"
            )
            response["Content-Range"] = f"bytes {start}-{end}/{size}"
            response["Content-Length"] = str(end - start + 1)
        for key, value in headers.items():
            response[key] = value
        return response

    head = get

    def delete(self, request: HttpRequest, digest: str) -> HttpResponse:
        self.require("delete")
        blob_services.blob_unlink(digest=Digest.parse(digest), repository_name=self.name.full)
        return HttpResponse(status=202)


def _parse_range(value: str, size: int) -> tuple[int, int] | None:
    """A single `bytes=a-b` range clipped to the blob; RangeInvalid (416) when unsatisfiable."""
    if not value:
        return None
    match = _RANGE.match(value.strip())
    if not match or match.groups() == ("", ""):
        return None  # RFC 9110: an unparseable Range is ignored
    first, last = match.groups()
    if first == "":
        length = int(last)
        start, end = max(size - length, 0), size - 1
    else:
        start = int(first)
        end = min(int(last), size - 1) if last else size - 1
    if start >= size or start > end:
        raise RangeInvalid(headers={"Content-Range": f"bytes */{size}"})
    return start, end


def _upload_headers(name: RepositoryName, upload) -> dict[str, str]:  # noqa: ANN001
    return {
        "Location": f"/v2/{name.full}/blobs/uploads/{upload.pk}",
        "Range": upload_services.upload_range(upload),
        "Docker-Upload-UUID": str(upload.pk),
    }


def _blob_created(name: RepositoryName, digest: Digest) -> HttpResponse:
    response = HttpResponse(status=201)
    response["Location"] = f"/v2/{name.full}/blobs/{digest}"
    response["Docker-Content-Digest"] = str(digest)
    return response


class UploadStartView(RegistryView):
    """`POST /v2/<name>/blobs/uploads/`: a session, a monolithic upload, or a mount."""

    def post(self, request: HttpRequest) -> HttpResponse:
        mount, source = request.GET.get("mount"), request.GET.get("from")
        source_name = _source_name(source) if mount else None
        # distribution: a mount's challenge also names pull on the source, so a client that asks
        # for what the challenge lists gets a token that allows the mount (not a re-upload).
        self.require("push", also=(f"repository:{source_name.full}:pull",) if source_name else ())
        if not (mount and source) and not request.GET.get("digest"):  # a session: what clients do most
            return self._session()
        repository = repository_ensure(name=self.name)
        if mount and source:
            blob = self._mount(Digest.parse(mount), source_name, repository) if source_name else None
            if blob is not None:
                return _blob_created(self.name, Digest.parse(blob.digest))
        elif request.GET.get("digest"):
            digest = Digest.parse(request.GET["digest"])
            length = body_length(request)
            upload_services.blob_push_monolithic(
                repository=repository, digest=digest, chunks=body_chunks(request, length), length=length
            )
            return _blob_created(self.name, digest)
        upload = upload_services.upload_start(repository=repository, owner=self.auth.subject)
        return _session_started(self.name, upload)

    def _session(self) -> HttpResponse:
        return _session_started(self.name, upload_services.upload_open(name=self.name, owner=self.auth.subject))

    def _mount(self, digest: Digest, source_name: RepositoryName, repository):  # noqa: ANN001, ANN202
        # dist-spec: mounting needs pull on the source; without it, or with a `from` that names no
        # repository, fall back to a plain session.
        try:
            self.require("pull", source_name)
        except RegistryError:
            return None
        return blob_services.blob_mount(digest=digest, source=source_name.full, repository=repository)


def _session_started(name: RepositoryName, upload) -> HttpResponse:  # noqa: ANN001
    response = HttpResponse(status=202, headers=_upload_headers(name, upload))
    response["Content-Length"] = "0"
    return response


def _source_name(value: str | None) -> RepositoryName | None:
    """A mount's `from`; None when absent or not a repository name (the request is then a plain upload)."""
    if not value:
        return None
    try:
        return RepositoryName.parse(value)
    except RegistryError:
        return None


class UploadView(RegistryView):
    """`/v2/<name>/blobs/uploads/<id>`: status, chunks, completion, cancel."""

    def _upload(self, upload_id: str):  # noqa: ANN202
        self.require("push")
        return upload_services.upload_get(upload_id=upload_id, repository_name=self.name.full, owner=self.auth.subject)

    def get(self, request: HttpRequest, upload_id: str) -> HttpResponse:
        upload = self._upload(upload_id)
        return HttpResponse(status=204, headers=_upload_headers(self.name, upload))

    def patch(self, request: HttpRequest, upload_id: str) -> HttpResponse:
        upload = self._upload(upload_id)
        length = body_length(request)
        start = None
        content_range = request.META.get("HTTP_CONTENT_RANGE")
        if content_range:
            match = _CONTENT_RANGE.match(content_range.strip())
            if not match:
                raise RangeInvalid(f"malformed Content-Range {content_range[:100]!r}")
            start, end = int(match.group(1)), int(match.group(2))
            if end < start or (length is not None and end - start + 1 != length):
                raise RangeInvalid("Content-Range does not match Content-Length")
            length = end - start + 1 if length is None else length
        upload = upload_services.upload_append(
            upload=upload, chunks=body_chunks(request, length), start=start, length=length
        )
        response = HttpResponse(status=202, headers=_upload_headers(self.name, upload))
        response["Content-Length"] = "0"
        return response

    def put(self, request: HttpRequest, upload_id: str) -> HttpResponse:
        upload = self._upload(upload_id)
        raw = request.GET.get("digest")
        if not raw:
            raise BlobUploadInvalid("digest parameter is required to complete an upload")
        digest = Digest.parse(raw)
        length = body_length(request)
        upload_services.upload_complete(
            upload=upload, digest=digest, chunks=body_chunks(request, length), length=length
        )
        return _blob_created(self.name, digest)

    def delete(self, request: HttpRequest, upload_id: str) -> HttpResponse:
        upload = self._upload(upload_id)
        upload_services.upload_cancel(upload=upload)
        return HttpResponse(status=204)


class ReferrersView(RegistryView):
    def get(self, request: HttpRequest, digest: str) -> HttpResponse:
        self.require("pull")
        artifact_type = request.GET.get("artifactType") or None
        descriptors = selectors.referrers(
            repository_name=self.name.full, digest=Digest.parse(digest), artifact_type=artifact_type
        )
        body = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": descriptors}
        response = JsonResponse(body, content_type="application/vnd.oci.image.index.v1+json")
        if artifact_type:
            response["OCI-Filters-Applied"] = "artifactType"
        return response


class NotFoundView(RegistryView):
    needs_name = False

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        kwargs.clear()
        return super().dispatch(request)

    def get(self, request: HttpRequest) -> HttpResponse:
        raise NameUnknown("unknown registry endpoint")

    head = post = put = patch = delete = get
