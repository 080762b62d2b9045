"""Small helpers for /v2/ responses: pagination parameters and Link headers."""

from __future__ import annotations

from urllib.parse import urlencode

from django.http import HttpRequest

from registry.errors import RegistryError

MAX_PAGE = 10_000


class PaginationNumberInvalid(RegistryError):
    code, status, default_message = "PAGINATION_NUMBER_INVALID", 400, "invalid number of results requested"


def page_size(request: HttpRequest) -> int | None:
    """`n`: how many results to return (None: all); capped so one request stays bounded."""
    raw = request.GET.get("n")
    if raw in (None, ""):
        return None
    try:
        value = int(raw)
    except ValueError as exc:
        raise PaginationNumberInvalid() from exc
    if value < 0:
        raise PaginationNumberInvalid()
    return min(value, MAX_PAGE)


def link_header(path: str, *, n: int, last: str) -> str:
    # dist-spec: the next page is announced with `Link: <url?n=&last=>; rel="next"`.
    return f'<{path}?{urlencode({"n": n, "last": last})}>; rel="next"'
