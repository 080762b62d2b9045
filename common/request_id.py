"""`X-Request-Id` on every response, as Harbor sends it (its swagger declares it on every response).

A client's own id is echoed when it is a plain token, so a caller can match its logs with ours;
otherwise (absent, too long, odd characters) a fresh UUID is generated.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable

from django.http import HttpRequest, HttpResponse

HEADER = "X-Request-Id"
_TOKEN = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def request_id_of(request: HttpRequest) -> str:
    """The request's id: the client's `X-Request-Id` when it is a plain token, else a new UUID."""
    given = request.headers.get(HEADER, "")
    return given if _TOKEN.fullmatch(given) else str(uuid.uuid4())


class RequestIdMiddleware:
    """Sets `request.request_id` and the `X-Request-Id` response header."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        request.request_id = request_id_of(request)
        response = self.get_response(request)
        response.headers.setdefault(HEADER, request.request_id)
        return response
