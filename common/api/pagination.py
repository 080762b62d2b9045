"""Harbor's paging: `page` / `page_size` (default 10, max 100), `X-Total-Count` and `Link`."""

from __future__ import annotations

from urllib.parse import urlencode

from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from common.api.errors import BadRequest
from common.api.params import is_int64

DEFAULT_PAGE_SIZE = 10
MAX_PAGE_SIZE = 100


def _positive(value: str | None, default: int, name: str) -> int:
    if value in (None, ""):
        return default
    if value.startswith("-") and is_int64(value[1:]):
        raise BadRequest(f"{name} must not be negative")
    if not is_int64(value):  # Harbor reads it as an int64
        raise BadRequest(f"{name} must be an integer")
    return int(value)


class HarborPagination(BasePagination):
    def paginate_queryset(self, queryset, request, view=None):  # noqa: ANN001, ANN201
        self.request = request
        self.page = max(_positive(request.query_params.get("page"), 1, "page"), 1)
        self.page_size = min(
            _positive(request.query_params.get("page_size"), DEFAULT_PAGE_SIZE, "page_size"), MAX_PAGE_SIZE
        )
        if self.page_size == 0:
            self.page_size = DEFAULT_PAGE_SIZE
        self.total = queryset.count()
        start = (self.page - 1) * self.page_size
        if start >= self.total:  # past the end: an empty page (and no OFFSET beyond the database's integers)
            return []
        return list(queryset[start : start + self.page_size])

    def _link(self, page: int) -> str:
        params = self.request.query_params.copy()
        params["page"] = str(page)
        params["page_size"] = str(self.page_size)
        return f"<{self.request.path}?{urlencode(sorted(params.items()))}>"

    def get_paginated_response(self, data) -> Response:  # noqa: ANN001
        response = Response(data)
        response["X-Total-Count"] = str(self.total)
        links = []
        if self.page > 1:
            links.append(f'{self._link(self.page - 1)}; rel="prev"')
        if self.page * self.page_size < self.total:
            links.append(f'{self._link(self.page + 1)}; rel="next"')
        if links:
            response["Link"] = " , ".join(links)
        return response

    def get_paginated_response_schema(self, schema: dict) -> dict:
        return schema

    def get_schema_operation_parameters(self, view) -> list[dict]:  # noqa: ANN001
        return [
            {"name": "page", "in": "query", "required": False, "schema": {"type": "integer", "default": 1}},
            {
                "name": "page_size",
                "in": "query",
                "required": False,
                "schema": {"type": "integer", "default": DEFAULT_PAGE_SIZE, "maximum": MAX_PAGE_SIZE},
            },
        ]
