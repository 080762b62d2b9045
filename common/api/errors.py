"""Harbor's API error envelope `{"errors":[{"code":...,"message":...}]}`, mapped in one place."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.db import DataError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response

from common.api.query import QueryError
from common.errors import DomainError

logger = logging.getLogger(__name__)


class ApiError(exceptions.APIException):
    """Base for errors raised by API views and services with a Harbor code."""

    status_code = status.HTTP_400_BAD_REQUEST
    code = "BAD_REQUEST"
    default_detail = "bad request"

    def __init__(self, message: str | None = None):
        super().__init__(message or self.default_detail)


class BadRequest(ApiError):
    pass


class Unauthorized(ApiError):
    status_code, code, default_detail = 401, "UNAUTHORIZED", "unauthorized"


class Forbidden(ApiError):
    status_code, code, default_detail = 403, "FORBIDDEN", "forbidden"


class NotFound(ApiError):
    status_code, code, default_detail = 404, "NOT_FOUND", "not found"


class Denied(ApiError):
    # Harbor: refusals by policy rather than by role (read-only mode, ...) carry the DENIED code.
    status_code, code, default_detail = 403, "DENIED", "denied"


class Conflict(ApiError):
    status_code, code, default_detail = 409, "CONFLICT", "conflict"


class Precondition(ApiError):
    status_code, code, default_detail = 412, "PRECONDITION", "precondition failed"


class Unprocessable(ApiError):
    # Harbor (go-swagger): a missing required parameter is 422.
    status_code, code, default_detail = 422, "UNPROCESSABLE_ENTITY", "unprocessable entity"


_DRF_CODES = {
    400: "BAD_REQUEST",
    401: "UNAUTHORIZED",
    403: "FORBIDDEN",
    404: "NOT_FOUND",
    405: "METHOD_NOT_ALLOWED",
    406: "NOT_ACCEPTABLE",
    409: "CONFLICT",
    412: "PRECONDITION",
    415: "UNSUPPORTED_MEDIA_TYPE",
    422: "UNPROCESSABLE_ENTITY",
    429: "TOO_MANY_REQUEST",
}


def _flatten(detail, prefix: str = "") -> list[str]:  # noqa: ANN001
    if isinstance(detail, dict):
        return [m for key, value in detail.items() for m in _flatten(value, f"{prefix}{key}: ")]
    if isinstance(detail, list):
        return [m for item in detail for m in _flatten(item, prefix)]
    return [f"{prefix}{detail}"]


def errors_body(code: str, message: str) -> dict:
    return {"errors": [{"code": code, "message": message}]}


def exception_handler(exc: Exception, context: dict) -> Response | None:
    """DRF exception handler: every API error leaves in Harbor's envelope."""
    if isinstance(exc, Http404):
        exc = NotFound(str(exc) or None)
    elif isinstance(exc, DjangoPermissionDenied):
        exc = Forbidden(str(exc) or None)
    elif isinstance(exc, QueryError):
        exc = BadRequest(str(exc))
    elif isinstance(exc, DataError):
        # The database refused a value the request carried (NUL in text, an integer beyond its
        # column): the client's input, not a server fault. The statement failed before any write.
        logger.info("value refused by the database: %s", exc)
        exc = BadRequest(f"invalid value: {str(exc).splitlines()[0] if str(exc) else 'refused by the database'}")
    elif isinstance(exc, DomainError):  # e.g. the registry services' OCI errors
        exc = _from_domain(exc)
    if not isinstance(exc, exceptions.APIException):
        return None  # a bug: Django's 500 handling logs it
    code = getattr(exc, "code", None) or _DRF_CODES.get(exc.status_code, "INTERNAL_SERVER_ERROR")
    message = "; ".join(_flatten(exc.detail)) if not isinstance(exc, ApiError) else str(exc.detail)
    response = Response(errors_body(code, message), status=exc.status_code)
    if isinstance(exc, exceptions.NotAuthenticated | exceptions.AuthenticationFailed | Unauthorized):
        response["WWW-Authenticate"] = 'Basic realm="harbor"'
    return response


def _from_domain(exc: DomainError) -> ApiError:
    by_status = {400: BadRequest, 401: Unauthorized, 403: Forbidden, 404: NotFound, 409: Conflict, 412: Precondition}
    return by_status.get(exc.status, BadRequest)(exc.message)
