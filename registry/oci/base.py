"""The one base view of /v2/: version header, name parsing, authentication, error envelope."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

from django.http import HttpRequest, HttpResponse, UnreadablePostError
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from common.actor import Actor, acting_as, client_ip
from common.configuration import READ_ONLY_MESSAGE, config_get
from projects.robots.catalogue import ROBOT_PREFIX
from registry.auth.authentication import RegistryAuth, registry_authenticate, registry_require
from registry.errors import BlobUploadInvalid, Denied, RegistryError, SizeInvalid
from registry.names import RepositoryName

logger = logging.getLogger(__name__)

API_VERSION_HEADER = ("Docker-Distribution-API-Version", "registry/2.0")
READ_SIZE = 1024 * 1024
READS = frozenset({"GET", "HEAD", "OPTIONS"})


def error_response(error: RegistryError, method: str) -> HttpResponse:
    body = json.dumps({"errors": [error.as_dict()]})
    response = HttpResponse(b"" if method == "HEAD" else body, status=error.status, content_type="application/json")
    if method == "HEAD":
        response["Content-Length"] = str(len(body))
    for key, value in error.headers.items():
        response[key] = value
    return response


def registry_actor(request: HttpRequest, auth: RegistryAuth) -> Actor:
    """The audit actor of a /v2/ request: the token subject or Basic user (no query on this path)."""
    if auth.is_anonymous or not auth.subject:
        return Actor("anonymous", client_ip(request))
    return Actor(auth.subject, client_ip(request), is_robot=auth.subject.startswith(ROBOT_PREFIX))


@method_decorator(csrf_exempt, name="dispatch")
class RegistryView(View):
    """Subclasses implement get/put/...; `self.name` and `self.auth` are ready when they run."""

    needs_name = True
    name: RepositoryName
    auth: RegistryAuth

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            if self.needs_name:
                # dist-spec: the name is validated before any permission check, and the
                # permission check below and the handler use this same parsed value.
                self.name = RepositoryName.parse(kwargs.pop("name"))
            # Harbor: in read-only mode every write is 403 DENIED, before authentication
            # (the setting is cached per process: no query on this path).
            if request.method not in READS and config_get("read_only"):
                raise Denied(READ_ONLY_MESSAGE)
            self.auth = registry_authenticate(request)
            with acting_as(registry_actor(request, self.auth)):
                response = super().dispatch(request, *args, **kwargs)
        except RegistryError as error:
            response = error_response(error, request.method or "GET")
        response[API_VERSION_HEADER[0]] = API_VERSION_HEADER[1]
        return response

    def http_method_not_allowed(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        from registry.errors import Unsupported

        raise Unsupported(f"{request.method} is not supported here")

    def require(self, action: str, name: RepositoryName | None = None, *, also: tuple[str, ...] = ()) -> None:
        target = name or self.name
        registry_require(
            self.request, self.auth, repository=target.full, project=target.project, action=action, also=also
        )


def body_length(request: HttpRequest) -> int | None:
    """Declared Content-Length; None for a chunked body; SIZE_INVALID when malformed."""
    raw = request.META.get("CONTENT_LENGTH")
    if raw in (None, ""):
        if "chunked" in request.META.get("HTTP_TRANSFER_ENCODING", "").lower():
            return None
        return 0
    try:
        length = int(raw)
    except ValueError as exc:
        raise SizeInvalid("invalid Content-Length") from exc
    if length < 0:
        raise SizeInvalid("invalid Content-Length")
    return length


def _gunicorn_body(request: HttpRequest, length: int) -> Iterator[bytes] | None:
    """Under gunicorn, a body of known length straight from the socket, or None if that isn't safe.

    gunicorn's body readers copy every byte through two BytesIO buffers (about six copies);
    for blob uploads that costs more than hashing them. We take what gunicorn already
    buffered, then recv() the rest ourselves and keep its LengthReader's count in step,
    so keep-alive and pipelining behave as if gunicorn had read the body.
    """
    sock = request.META.get("gunicorn.socket")
    body = request.META.get("wsgi.input")
    reader = getattr(body, "reader", None)
    unreader = getattr(reader, "unreader", None)
    if (
        sock is None
        or type(reader).__name__ != "LengthReader"
        or getattr(reader, "length", None) != length
        or not hasattr(unreader, "take_buffered")
        or body.buf.tell()
    ):
        return None

    def chunks() -> Iterator[bytes]:
        buffered = unreader.take_buffered()
        if len(buffered) > reader.length:  # a pipelined next request: give it back
            unreader.unread(buffered[reader.length :])
            buffered = buffered[: reader.length]
        if buffered:
            reader.length -= len(buffered)
            yield buffered
        while reader.length > 0:
            piece = sock.recv(min(READ_SIZE, reader.length))
            if not piece:
                return
            reader.length -= len(piece)
            yield piece

    return chunks()


def body_chunks(request: HttpRequest, length: int | None) -> Iterator[bytes]:
    """The request body in chunks, never buffered whole; a client that goes away mid-body is a 400."""
    try:
        yield from _body_chunks(request, length)
    except (OSError, UnreadablePostError) as exc:
        # Connection reset or closed early: the upload keeps its last good offset (the caller
        # discards the partial chunk); report it as the client's error, not a server fault.
        raise BlobUploadInvalid(f"the request body was interrupted: {exc}") from exc


def _body_chunks(request: HttpRequest, length: int | None) -> Iterator[bytes]:
    if length:
        direct = _gunicorn_body(request, length)
        if direct is not None:
            yield from direct
            return
    # Django caps reads at CONTENT_LENGTH (0 when absent), so chunked bodies come from the server's stream.
    stream = request.META["wsgi.input"] if length is None else request
    remaining = length
    while remaining is None or remaining > 0:
        piece = stream.read(READ_SIZE if remaining is None else min(READ_SIZE, remaining))
        if not piece:
            break
        if remaining is not None:
            remaining -= len(piece)
        yield piece
