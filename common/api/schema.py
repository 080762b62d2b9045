"""The OpenAPI 3 document of `/api/v2.0/`, shaped like Harbor's swagger.

drf-spectacular builds it; this module adds what Harbor's swagger says about every operation:
- security: `basic` (HTTP Basic, Harbor's name) and `session` (the cookie), plus anonymous (`{}`)
  where the view's `permission_required` lets anonymous callers through;
- paginated lists: `page`/`page_size` (from HarborPagination) and the `X-Total-Count` and `Link`
  response headers on Harbor's paginated lists, `q` and `sort` where Harbor's list takes them
  (tables below, from harbor-swagger.yaml; a test keeps them equal to it);
- Harbor's error envelope (`Errors`) on 400/401/403/404/409/412/500 of every operation;
- explicit operationIds: every operation must name Harbor's operationId with
  `@extend_schema(operation_id=...)`; generation fails otherwise, so no client gets a made-up name;
- `X-Is-Resource-Name` wherever the path has `{project_name_or_id}`, as in every such Harbor operation;
- HEAD operations that a view maps explicitly (Harbor's `headProject`), never the implicit HEAD of a GET.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.generators import EndpointEnumerator, SchemaGenerator
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

BASIC = "basic"
SESSION = "session"
# Marks an operation whose id drf-spectacular made up; the postprocessing hook turns it into an error.
_AUTO_ID = "x-harbor-auto-operation-id"

ERROR_RESPONSES = {
    "400": "Bad request. The request body or query parameters are invalid.",
    "401": "Unauthorized. Authentication is required to access this resource.",
    "403": "Forbidden. The caller does not have sufficient permission to perform the requested operation.",
    "404": "Not found. The requested resource does not exist.",
    "409": "Conflict. The resource already exists or the current state prevents the operation.",
    "412": "Precondition failed. A dependency or policy check failed.",
    "500": "Internal server error.",
}
ERROR_SCHEMAS = {
    "Errors": {
        "type": "object",
        "description": "The error array that describe the errors got during the handling of request",
        "properties": {"errors": {"type": "array", "items": {"$ref": "#/components/schemas/Error"}}},
    },
    "Error": {
        "type": "object",
        "description": "a model for all the error response coming from harbor",
        "properties": {
            "code": {"type": "string", "description": "The error code"},
            "message": {"type": "string", "description": "The error message"},
        },
    },
}

# Harbor's paginated lists (`page`, `page_size`, `X-Total-Count`, `Link`), and those of them that take
# `q` and `sort`. A list view outside these (Harbor's getCurrentUserPermissions) documents no paging.
HARBOR_PAGINATED_LISTS = frozenset(
    {
        "ListExecutions", "ListExecutionsOfWebhookPolicy", "ListImmuRules", "ListInstances", "ListLabels",
        "ListPolicies", "ListRobot", "ListTasks", "ListTasksOfWebhookExecution", "ListVulnerabilities",
        "ListWebhookJobs", "ListWebhookPoliciesOfProject", "getGCHistory", "getLogExts", "getLogs",
        "getPurgeHistory", "listAccessories", "listAllRepositories", "listArtifacts", "listArtifactsOfProject",
        "listAuditLogExts", "listAuditLogs", "listProjectMembers", "listProjects", "listQuotas", "listRegistries",
        "listReplicationExecutions", "listReplicationPolicies", "listReplicationTasks", "listRepositories",
        "listRetentionExecutions", "listRetentionTasks", "listScannerCandidatesOfProject", "listScanners",
        "listSchedules", "listTags", "listUserGroups", "listUsers", "searchUserGroups", "searchUsers",
    }
)  # fmt: skip
HARBOR_SORTED_LISTS = HARBOR_PAGINATED_LISTS - {
    "ListVulnerabilities", "listProjectMembers", "listRetentionExecutions", "listRetentionTasks",
    "listSchedules", "listUserGroups", "searchUserGroups", "searchUsers",
}  # fmt: skip
HARBOR_QUERIED_LISTS = (HARBOR_SORTED_LISTS | {"ListVulnerabilities"}) - {
    "listQuotas", "listReplicationExecutions", "listReplicationTasks",
}  # fmt: skip

# Harbor's wording (parameters `query` and `sort`, and the list response headers).
Q_PARAMETER, SORT_PARAMETER = "q", "sort"
LIST_PARAMETERS = [
    OpenApiParameter(
        "q",
        OpenApiTypes.STR,
        description=(
            'Query string to query resources. Supported query patterns are "exact match(k=v)", '
            '"fuzzy match(k=~v)", "range(k=[min~max])", "list with union releationship(k={v1 v2 v3})" and '
            '"list with intersetion relationship(k=(v1 v2 v3))".'
        ),
    ),
    OpenApiParameter(
        "sort",
        OpenApiTypes.STR,
        description='Sort the resource list in ascending or descending order, e.g. "sort=field1,-field2"',
    ),
    OpenApiParameter(
        "X-Total-Count",
        OpenApiTypes.INT64,
        OpenApiParameter.HEADER,
        response=[200],
        description="The total count of the resources",
    ),
    OpenApiParameter(
        "Link",
        OpenApiTypes.STR,
        OpenApiParameter.HEADER,
        response=[200],
        description="Link refers to the previous page and next page",
    ),
]


# Harbor pairs every `{project_name_or_id}` path parameter with this header (projects.selectors.project_get).
IS_RESOURCE_NAME = OpenApiParameter(
    "X-Is-Resource-Name",
    OpenApiTypes.BOOL,
    OpenApiParameter.HEADER,
    default=False,
    description=(
        "The flag to indicate whether the parameter which supports both name and id in the path is the name of "
        "the resource. When the X-Is-Resource-Name is false and the parameter can be converted to an integer, "
        "the parameter will be as an id, otherwise, it will be as a name."
    ),
)


class BasicScheme(OpenApiAuthenticationExtension):
    target_class = "projects.api.authentication.BasicAuthentication"
    name = BASIC

    def get_security_definition(self, auto_schema: AutoSchema) -> dict:
        return {"type": "http", "scheme": "basic"}


class SessionScheme(OpenApiAuthenticationExtension):
    target_class = "projects.api.authentication.SessionAuthentication"
    name = SESSION

    def get_security_definition(self, auto_schema: AutoSchema) -> dict:
        return {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "The browser session; unsafe methods also need the CSRF token header.",
        }


def _anonymous_allowed(view: object, rule: object) -> bool:
    if rule == "anyone":
        return True
    # The view's permission classes know which of their rules anonymous callers pass (for the API's
    # Authorized, those public projects grant), so the kernel needs no import of the oracle.
    return any(
        getattr(permission, "anonymous_allowed", lambda _rule: False)(rule) for permission in view.get_permissions()
    )


class HarborAutoSchema(AutoSchema):
    """drf-spectacular's AutoSchema with Harbor's list conventions, anonymous access and id check."""

    def _harbor_list(self) -> str | None:
        """The operationId when this operation is one of Harbor's paginated lists."""
        if self.method != "GET" or not self._is_list_view() or self._get_paginator() is None:
            return None
        operation_id = self.get_operation_id()
        return operation_id if operation_id in HARBOR_PAGINATED_LISTS else None

    def _get_pagination_parameters(self) -> list[dict]:
        return super()._get_pagination_parameters() if self._harbor_list() else []

    def get_override_parameters(self) -> list:
        operation_id = self._harbor_list()
        ours = [
            parameter
            for parameter in LIST_PARAMETERS
            if operation_id
            and (parameter.name != Q_PARAMETER or operation_id in HARBOR_QUERIED_LISTS)
            and (parameter.name != SORT_PARAMETER or operation_id in HARBOR_SORTED_LISTS)
        ]
        if "{project_name_or_id}" in self.path:
            ours.append(IS_RESOURCE_NAME)
        # Ours first: a view's own @extend_schema parameters come after and win (or exclude).
        return [*ours, *super().get_override_parameters()]

    def get_auth(self) -> list[dict]:
        auth = super().get_auth()
        rules = getattr(self.view, "permission_required", None) or {}
        rule = rules.get(getattr(self.view, "action", None) or self.method.lower())
        if auth and _anonymous_allowed(self.view, rule):
            auth.append({})
        return auth

    def get_operation_id(self) -> str:
        # Only reached when no @extend_schema(operation_id=...) applies to this operation.
        self._auto_operation_id = True
        if self.method.lower() not in self.method_mapping:  # HEAD has no DRF action name
            return f"{self.method.lower()}_{'_'.join(self._tokenize_path()) or 'root'}"
        return super().get_operation_id()

    def get_operation(self, path, path_regex, path_prefix, method, registry):  # noqa: ANN001, ANN201
        self._auto_operation_id = False
        operation = super().get_operation(path, path_regex, path_prefix, method, registry)
        if operation is not None and self._auto_operation_id:
            action = getattr(self.view, "action", None) or method.lower()
            operation[_AUTO_ID] = f"{method} {path} ({type(self.view).__name__}.{action})"
        return operation


class HarborEndpointEnumerator(EndpointEnumerator):
    def get_allowed_methods(self, callback) -> list[str]:  # noqa: ANN001
        methods = super().get_allowed_methods(callback)
        actions = getattr(callback, "actions", None)
        if actions is not None:
            # DRF copies the GET action to HEAD at request time; only a HEAD mapped elsewhere is an operation.
            explicit_head = "head" in actions and actions["head"] != actions.get("get")
        else:
            explicit_head = callable(getattr(callback.cls, "head", None))
        return [*methods, "HEAD"] if explicit_head else methods


class HarborSchemaGenerator(SchemaGenerator):
    endpoint_inspector_cls = HarborEndpointEnumerator


class SchemaError(Exception):
    """The API cannot be described the way Harbor's clients expect."""


def harbor_preprocess(endpoints: list[tuple]) -> list[tuple]:
    """Only `/api/v2.0/` routes, and each view once: an alias with(out) a trailing slash is left out.

    The first routed path is documented; its alias (clients differ on Harbor's `/metadatas/`)
    would be a second operation with the same operationId.
    """
    prefix = spectacular_settings.SCHEMA_PATH_PREFIX.rstrip("/") + "/"
    seen: set[tuple] = set()
    kept = []
    for endpoint in endpoints:
        route, _, method, callback = endpoint
        key = (route.rstrip("/"), method, id(callback))
        if route.startswith(prefix) and key not in seen:
            seen.add(key)
            kept.append(endpoint)
    return kept


def _inline_paginated_lists(result: dict) -> None:
    # drf-spectacular registers `Paginated<Name>List` (a bare array, as HarborPagination wraps nothing);
    # Harbor's swagger has the array inline.
    schemas = result.get("components", {}).get("schemas", {})
    arrays = {
        f"#/components/schemas/{name}": schema
        for name, schema in schemas.items()
        if name.startswith("Paginated") and name.endswith("List") and schema.get("type") == "array"
    }

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            if node.get("$ref") in arrays:
                return dict(arrays[node["$ref"]])
            return {key: walk(value) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(item) for item in node]
        return node

    result["paths"] = walk(result["paths"])
    for ref in arrays:
        del schemas[ref.rsplit("/", 1)[1]]


def _add_error_responses(method: str, operation: dict) -> None:
    responses = operation.setdefault("responses", {})
    if method == "head":  # HEAD responses never have a body
        for code, description in ERROR_RESPONSES.items():
            responses.setdefault(code, {"description": description})
        return
    body = {"application/json": {"schema": {"$ref": "#/components/schemas/Errors"}}}
    for code, description in ERROR_RESPONSES.items():
        response = responses.setdefault(code, {"description": description})
        response.setdefault("content", body)
        if not response.get("description"):
            response["description"] = description


def harbor_postprocess(result: dict, generator: SchemaGenerator, request: Any, public: bool) -> dict:
    """Check operationIds, add Harbor's error envelope, inline paginated arrays."""
    missing = []
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if _AUTO_ID in operation:
                missing.append(operation.pop(_AUTO_ID))
            _add_error_responses(method, operation)
            if method == "head":
                for response in operation["responses"].values():
                    response.pop("content", None)
    if missing:
        raise SchemaError(
            "operations without Harbor's operationId (add @extend_schema(operation_id=...)): " + "; ".join(missing)
        )
    result.setdefault("components", {}).setdefault("schemas", {}).update(ERROR_SCHEMAS)
    _inline_paginated_lists(result)
    return result
