"""Every /api/v2.0/ operation, discovered from the URL resolver and named from the OpenAPI document.

Nothing here is hand-listed: the resolver gives each route, its view and the HTTP methods it maps;
the view's `permission_required` gives the declared rule; drf-spectacular's generator (the same one
that serves /api/v2.0/openapi.json) gives Harbor's operationId.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.views import APIView

from common.api.schema import HarborSchemaGenerator
from projects.drf import Authorized

API_PREFIX = "/api/v2.0/"
METHODS = ("get", "post", "put", "patch", "delete", "head")
# Documentation views of drf-spectacular: public by design, outside Harbor's API and its permission glue.
DOCUMENTATION_ROUTES = frozenset({"/api/v2.0/openapi.json", "/api/v2.0/swagger-ui/"})
# Routes that are ours, not Harbor's (left out of Harbor's document), named here so the matrix covers them.
OWN_OPERATIONS = {
    ("/api/v2.0/auditlog-exts/export", "GET"): "exportAuditLogExts",
    ("/api/v2.0/projects/{project_name}/auditlog-exts/export", "GET"): "exportLogExts",
    (
        "/api/v2.0/projects/{project_name_or_id}/webhook/policies/{webhook_policy_id}"
        "/executions/{execution_id}/tasks/{task_id}/redeliver",
        "POST",
    ): "redeliverWebhookTask",
}
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


@dataclass(frozen=True)
class Operation:
    """One (route, method) of the API and what its view declares."""

    template: str  # "/api/v2.0/projects/{project_name_or_id}/members"
    method: str  # "GET"
    view: type
    action: str  # the viewset action, or the lower-case method for an APIView
    rule: object  # the `permission_required` entry (None: undeclared)
    operation_id: str | None
    alias: bool  # a second route to a view action already listed (Harbor's `metadatas/` spelling)

    @property
    def params(self) -> tuple[str, ...]:
        return tuple(re.findall(r"{(\w+)}", self.template))

    @property
    def name(self) -> str:
        label = self.operation_id or f"{self.method} {self.template}"
        return f"{label}(alias)" if self.alias else label

    @property
    def uses_authorized(self) -> bool:
        classes = getattr(self.view, "permission_classes", ())
        return any(issubclass(cls, Authorized) for cls in classes)


def _regex_template(regex: str) -> str:
    """`^a/(?P<x>(?!v$)[^/]+)/b$` -> `a/{x}/b`: named groups (with nested groups) become parameters."""
    out, i = [], 0
    while i < len(regex):
        if regex.startswith("(?P<", i):
            end = regex.index(">", i)
            out.append("{" + regex[i + 4 : end] + "}")
            depth, i = 1, end + 1
            while depth:
                if regex[i] == "\\":
                    i += 2
                    continue
                depth += {"(": 1, ")": -1}.get(regex[i], 0)
                i += 1
            continue
        out.append(regex[i])
        i += 1
    return "".join(out).lstrip("^").rstrip("$").replace("\\", "")


def _template(pattern) -> str:  # noqa: ANN001 - a RoutePattern or RegexPattern
    text = str(pattern)
    if hasattr(pattern, "_route"):
        return _CONVERTER.sub(r"{\1}", text)
    return _regex_template(text)


def _walk(patterns, prefix: str = "/"):  # noqa: ANN001, ANN202
    for entry in patterns:
        if isinstance(entry, URLResolver):
            yield from _walk(entry.url_patterns, prefix + _template(entry.pattern))
        elif isinstance(entry, URLPattern):
            yield prefix + _template(entry.pattern), entry.callback


def _methods(callback) -> list[tuple[str, str]]:  # noqa: ANN001
    """(METHOD, action) pairs the route serves; DRF's implicit HEAD of a GET is the GET."""
    actions = getattr(callback, "actions", None)
    if actions is not None:
        return [
            (method.upper(), action)
            for method, action in actions.items()
            if method != "head" or action != actions.get("get")
        ]
    view = getattr(callback, "view_class", None) or getattr(callback, "cls", None)
    return [(m.upper(), m) for m in METHODS if m != "head" and view is not None and hasattr(view, m)]


@cache
def _operation_ids() -> dict[tuple[str, str], str]:
    document = HarborSchemaGenerator().get_schema(request=None, public=True)
    return {
        (API_PREFIX.rstrip("/") + path, method.upper()): operation["operationId"]
        for path, item in document["paths"].items()
        for method, operation in item.items()
        if isinstance(operation, dict) and "operationId" in operation
    }


@cache
def api_operations() -> tuple[Operation, ...]:
    """Every (route, method) under /api/v2.0/, documentation routes included (callers filter them)."""
    ids = _operation_ids()
    found: list[Operation] = []
    seen: dict[tuple[type, str, str], str] = {}
    for template, callback in _walk(get_resolver().url_patterns):
        if not template.startswith(API_PREFIX):
            continue
        view = getattr(callback, "cls", None) or getattr(callback, "view_class", None)
        for method, action in _methods(callback):
            rules = getattr(view, "permission_required", None) or {}
            key = (view, action, method)
            operation_id = ids.get((template, method)) or OWN_OPERATIONS.get((template, method)) or seen.get(key)
            found.append(
                Operation(
                    template=template,
                    method=method,
                    view=view,
                    action=action,
                    rule=rules.get(action),
                    operation_id=operation_id,
                    alias=key in seen,
                )
            )
            if operation_id:
                seen.setdefault(key, operation_id)
    return tuple(found)


def harbor_operations() -> tuple[Operation, ...]:
    """The API operations behind the permission glue (documentation routes left out)."""
    return tuple(op for op in api_operations() if op.template not in DOCUMENTATION_ROUTES)


def is_api_view(view: type) -> bool:
    return isinstance(view, type) and issubclass(view, APIView)
