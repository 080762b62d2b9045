"""Keep-alive after a request whose body the application did not read.

A request refused before its body is read (401, 403, 404, 412, ...) leaves that body on the socket.
gunicorn drains at most 64 KiB of it after the response, then closes the connection; but by then the
response has gone out saying `Connection: keep-alive`, so a client that sends its next request on
that connection sees the server hang up. Here, before the response starts, what is left of the body
is read and discarded up to a bound (Go's net/http drains 256 KiB the same way); when more remains,
the request is marked to close, so the response says `Connection: close` and the client knows to
open a new connection. gunicorn then closes gracefully (half-close, linger), so the answer arrives.
"""

from __future__ import annotations

import contextlib
import threading
import time

DRAIN_MAX_BYTES = 256 * 1024
DRAIN_SECONDS = 2.0
DRAIN_STEP = 64 * 1024

_local = threading.local()


def request_bind(req) -> None:  # noqa: ANN001 - gunicorn's Request
    """gunicorn `pre_request` hook: the request this thread is about to serve."""
    _local.request = req


def body_settle(environ: dict) -> None:
    """Before the response starts: read off a bounded unread body, or make the response close the connection."""
    req = getattr(_local, "request", None)
    body = environ.get("wsgi.input")
    if req is None or body is None or getattr(req, "body", None) is not body or req.should_close():
        return  # not under gunicorn, or closing anyway
    if (
        environ.get("CONTENT_LENGTH") in (None, "", "0")
        and "chunked" not in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
    ):
        return  # no body
    if not _drain(body, environ.get("gunicorn.socket")):
        req.must_close = True


def _drain(body, sock) -> bool:  # noqa: ANN001
    """Read and discard the rest of the body; True when it ended within the byte and time bounds."""
    deadline = time.monotonic() + DRAIN_SECONDS
    prior = sock.gettimeout() if sock is not None else None
    drained = 0
    try:
        while drained <= DRAIN_MAX_BYTES:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            if sock is not None:
                sock.settimeout(remaining)
            piece = body.read(DRAIN_STEP)
            if not piece:
                return True
            drained += len(piece)
        return False
    except (TimeoutError, OSError, ValueError):
        return False  # a stalled or broken body: the connection can't be reused
    finally:
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.settimeout(prior)
