"""The OpenAPI 3 document of /api/v2.0/: valid, public, and Harbor's names for whatever routes exist."""

from __future__ import annotations

import os
import re
from functools import cache
from pathlib import Path

import pytest
import yaml
from django.conf import settings
from django.contrib.staticfiles import finders
from django.urls import path
from drf_spectacular.drainage import GENERATOR_STATS
from drf_spectacular.utils import OpenApiParameter, extend_schema
from openapi_spec_validator import validate
from rest_framework import mixins, serializers, viewsets
from rest_framework.response import Response
from rest_framework.views import APIView

from common.api import schema
from common.api.schema import ERROR_RESPONSES, HarborSchemaGenerator, SchemaError
from common.testing.api import basic_client

REFERENCE = Path(
    os.environ.get("HARBOR_REFERENCE_SWAGGER")
    or Path(settings.BASE_DIR).parent / "shared" / "reference" / "harbor-swagger.yaml"
)
METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@cache
def _reference() -> dict:
    if not REFERENCE.exists():
        pytest.skip(f"Harbor's swagger is not at {REFERENCE} (set HARBOR_REFERENCE_SWAGGER)")
    return yaml.safe_load(REFERENCE.read_text())


@cache
def harbor_operations() -> dict[str, dict]:
    """Harbor's operations by operationId: method, path, parameter names, responses, body schema."""
    doc = _reference()

    def resolve(parameter: dict) -> dict:
        ref = parameter.get("$ref")
        return doc["parameters"][ref.rsplit("/", 1)[1]] if ref else parameter

    operations = {}
    for route, item in doc["paths"].items():
        shared = [resolve(p) for p in item.get("parameters", [])]
        for method, operation in item.items():
            if method not in METHODS:
                continue
            parameters = shared + [resolve(p) for p in operation.get("parameters", [])]
            body = next((p["schema"] for p in parameters if p["in"] == "body"), None)
            operations[operation["operationId"]] = {
                "method": method,
                "path": route,
                "parameters": {(p["name"], p["in"]) for p in parameters if p["in"] != "body"},
                "responses": {str(code): response for code, response in operation["responses"].items()},
                "body": body,
            }
    return operations


def _properties(schema: dict | None, lookup) -> set[str] | None:  # noqa: ANN001
    """Top-level JSON field names of an object schema (arrays unwrapped), None when not knowable."""
    if not schema:
        return None
    if "$ref" in schema:
        return _properties(lookup(schema["$ref"]), lookup)
    if schema.get("type") == "array":
        return _properties(schema.get("items"), lookup)
    if "allOf" in schema:
        parts = [_properties(part, lookup) for part in schema["allOf"]]
        return None if None in parts else set().union(*parts)
    return set(schema["properties"]) if schema.get("properties") else None


def harbor_properties(schema: dict | None) -> set[str] | None:
    definitions = _reference().get("definitions", {})
    return _properties(schema, lambda ref: definitions.get(ref.rsplit("/", 1)[1]))


def our_operations(document: dict):  # noqa: ANN201
    for route, item in document["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield route, method, operation


@pytest.fixture(scope="module")
def generated(django_db_setup, django_db_blocker) -> tuple[dict, dict, dict]:
    """The document as served to an anonymous caller, and drf-spectacular's errors and warnings."""
    with django_db_blocker.unblock():  # a serializer may look at the database while being described
        response = basic_client(None).get("/api/v2.0/openapi.json")
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("application/vnd.oai.openapi+json")
    return response.json(), dict(GENERATOR_STATS._error_cache), dict(GENERATOR_STATS._warn_cache)


@pytest.fixture(scope="module")
def document(generated) -> dict:
    return generated[0]


def test_document_is_public_and_valid_openapi_3(document):
    assert document["openapi"].startswith("3.")
    validate(document)  # openapi-spec-validator: raises on any violation
    assert document["servers"] == [{"url": "/api/v2.0"}]
    assert document["paths"], "no operation at all"


def test_generation_has_no_errors_or_warnings(generated):
    # A warning is a type drf-spectacular had to guess: generated clients would get it wrong.
    _, errors, warnings = generated
    assert not errors, errors
    assert not warnings, warnings


def test_every_operation_id_is_harbors_and_unique(document):
    ids = [operation["operationId"] for _, _, operation in our_operations(document)]
    assert len(ids) == len(set(ids))
    unknown = sorted(set(ids) - set(harbor_operations()))
    assert not unknown, f"operationIds that Harbor's swagger does not have: {unknown}"


def test_every_operation_has_harbors_method_and_path(document):
    wrong = []
    for route, method, operation in our_operations(document):
        harbor = harbor_operations().get(operation["operationId"])
        if harbor and (harbor["method"], harbor["path"]) != (method, route):
            wrong.append(
                f"{operation['operationId']}: ours {method} {route}, Harbor's {harbor['method']} {harbor['path']}"
            )
    assert not wrong, wrong


def test_parameters_are_harbors(document):
    extra = []
    for _, _, operation in our_operations(document):
        harbor = harbor_operations().get(operation["operationId"])
        if harbor is None:
            continue
        for parameter in operation.get("parameters", []):
            if (parameter["name"], parameter["in"]) not in harbor["parameters"]:
                extra.append(f"{operation['operationId']}: {parameter['in']} parameter {parameter['name']}")
    assert not extra, f"parameters Harbor does not have: {extra}"


def test_success_codes_and_json_field_names_are_harbors(document):
    schemas = document["components"]["schemas"]

    def ours(schema: dict | None) -> set[str] | None:
        return _properties(schema, lambda ref: schemas[ref.rsplit("/", 1)[1]])

    wrong = []
    for _, _, operation in our_operations(document):
        op_id = operation["operationId"]
        harbor = harbor_operations().get(op_id)
        if harbor is None:
            continue
        for code, response in operation["responses"].items():
            if not code.startswith("2"):
                continue
            if code not in harbor["responses"]:
                wrong.append(f"{op_id}: status {code}, Harbor's {sorted(harbor['responses'])}")
                continue
            mine = ours(response.get("content", {}).get("application/json", {}).get("schema"))
            theirs = harbor_properties(harbor["responses"][code].get("schema"))
            if mine and theirs is not None and not mine <= theirs:
                wrong.append(f"{op_id} {code}: fields {sorted(mine - theirs)} are not in Harbor's response")
        body = operation.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema")
        mine, theirs = ours(body), harbor_properties(harbor["body"])
        if mine and theirs is not None and not mine <= theirs:
            wrong.append(f"{op_id}: request fields {sorted(mine - theirs)} are not in Harbor's body")
    assert not wrong, wrong


def _kind(schema: dict | None, lookup) -> str | None:  # noqa: ANN001
    """array, typed (an object with named fields), free (any JSON object), scalar; None: no body."""
    if not schema:
        return None
    if "$ref" in schema:
        return _kind(lookup(schema["$ref"]), lookup)
    if schema.get("type") == "array":
        return "array"
    if schema.get("properties") or "allOf" in schema:
        return "typed"
    if schema.get("type", "object") == "object":
        return "free"
    return "scalar"


def _response_kinds(document: dict):  # noqa: ANN201
    """(operationId, code, our kind, Harbor's kind) of every 2xx response Harbor also documents."""
    schemas = document["components"]["schemas"]
    definitions = _reference().get("definitions", {})
    for _, _, operation in our_operations(document):
        harbor = harbor_operations().get(operation["operationId"])
        for code, response in operation["responses"].items():
            if harbor is None or not code.startswith("2") or code not in harbor["responses"]:
                continue
            mine = response.get("content", {}).get("application/json", {}).get("schema")
            theirs = harbor["responses"][code].get("schema")
            yield (
                operation["operationId"],
                code,
                _kind(mine, lambda ref: schemas[ref.rsplit("/", 1)[1]]),
                _kind(theirs, lambda ref: definitions.get(ref.rsplit("/", 1)[1], {})),
            )


def test_lists_are_arrays_exactly_where_harbors_are(document):
    # A generated client parses the body by this: an array documented as an object crashes it.
    wrong = [
        f"{op_id} {code}: ours {mine}, Harbor's {theirs}"
        for op_id, code, mine, theirs in _response_kinds(document)
        if mine is not None and theirs is not None and (mine == "array") != (theirs == "array")
    ]
    assert not wrong, wrong


def test_bodies_are_typed_where_harbors_are(document):
    # `responses={200: dict}` documents "any object": a generated client then has no fields to offer.
    wrong = [
        f"{op_id} {code}: ours {mine or 'no body'}, Harbor's {theirs} (give the view a serializer)"
        for op_id, code, mine, theirs in _response_kinds(document)
        if theirs in ("typed", "array") and mine in (None, "free")
    ]
    assert not wrong, wrong


def test_our_own_endpoints_are_not_in_the_document(document):
    assert not [route for route in document["paths"] if "openapi" in route or "swagger" in route]
    assert not [route for route in document["paths"] if route.startswith("/api/")], "prefix not trimmed"


def test_security_schemes_and_anonymous_access(document):
    assert document["components"]["securitySchemes"] == {
        "basic": {"type": "http", "scheme": "basic"},
        "session": {
            "type": "apiKey",
            "in": "cookie",
            "name": settings.SESSION_COOKIE_NAME,
            "description": "The browser session; unsafe methods also need the CSRF token header.",
        },
    }
    for _, _, operation in our_operations(document):
        assert {"basic": []} in operation["security"], operation["operationId"]
        assert {"session": []} in operation["security"], operation["operationId"]
    projects = document["paths"]["/projects"]
    assert {} in projects["get"]["security"]  # anyone may list (public projects)
    assert {} not in projects["post"]["security"]  # creating needs a user
    assert {} in document["paths"]["/projects/{project_name_or_id}"]["get"]["security"]  # public projects
    assert {} not in document["paths"]["/projects/{project_name_or_id}"]["delete"]["security"]


def test_every_operation_has_harbors_error_responses(document):
    for _, method, operation in our_operations(document):
        for code in ERROR_RESPONSES:
            response = operation["responses"][code]
            assert response["description"]
            if method == "head":
                assert "content" not in response
            else:
                assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Errors"}
    errors = document["components"]["schemas"]["Errors"]
    assert errors["properties"]["errors"]["items"] == {"$ref": "#/components/schemas/Error"}
    assert set(document["components"]["schemas"]["Error"]["properties"]) == {"code", "message"}


def test_paginated_lists_document_paging_query_and_headers(document):
    listing = document["paths"]["/projects"]["get"]
    names = {p["name"] for p in listing["parameters"] if p["in"] == "query"}
    assert {"page", "page_size", "q", "sort"} <= names
    ok = listing["responses"]["200"]
    assert set(ok["headers"]) == {"X-Total-Count", "Link"}
    assert ok["content"]["application/json"]["schema"] == {
        "type": "array",
        "items": {"$ref": "#/components/schemas/Project"},
    }
    assert not [name for name in document["components"]["schemas"] if name.startswith("Paginated")]
    wrong = []
    for _, _, operation in our_operations(document):
        op_id = operation["operationId"]
        query = {p["name"] for p in operation.get("parameters", []) if p["in"] == "query"}
        ok = operation["responses"].get("200", {})
        if op_id in schema.HARBOR_PAGINATED_LISTS:
            expected = {"page", "page_size"}
            expected |= {"q"} if op_id in schema.HARBOR_QUERIED_LISTS else set()
            expected |= {"sort"} if op_id in schema.HARBOR_SORTED_LISTS else set()
            if not expected <= query or set(ok.get("headers", {})) != {"X-Total-Count", "Link"}:
                wrong.append(f"{op_id}: query {sorted(query)}, headers {sorted(ok.get('headers', {}))}")
        elif "page" in query or "X-Total-Count" in ok.get("headers", {}):
            wrong.append(f"{op_id} is not one of Harbor's paginated lists")
    assert not wrong, f"paging not as Harbor's (is the 200 response a list serializer?): {wrong}"


def test_name_or_id_paths_take_the_is_resource_name_header(document):
    for route, _, operation in our_operations(document):
        headers = {p["name"] for p in operation.get("parameters", []) if p["in"] == "header"}
        assert ("X-Is-Resource-Name" in headers) == ("{project_name_or_id}" in route), operation["operationId"]


def test_head_is_documented_only_where_a_view_maps_it(document):
    assert document["paths"]["/projects"]["head"]["operationId"] == "headProject"
    heads = [route for route, item in document["paths"].items() if "head" in item]
    harbor_heads = {op["path"] for op in harbor_operations().values() if op["method"] == "head"}
    assert set(heads) <= harbor_heads


# --- the generator's rules, on views made for the purpose ---------------------------------------


class _ThingSerializer(serializers.Serializer):
    name = serializers.CharField()


class _Things(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = _ThingSerializer
    permission_required = {"list": "anyone"}

    def get_queryset(self):  # noqa: ANN201
        return []


class _Quotas(_Things):
    @extend_schema(operation_id="listQuotas")  # Harbor's listQuotas pages and sorts, without `q`
    def list(self, request, *args, **kwargs):  # noqa: ANN001, ANN201
        return super().list(request, *args, **kwargs)


class _Projects(_Things):
    @extend_schema(operation_id="listProjects", parameters=[OpenApiParameter("sort", exclude=True)])
    def list(self, request, *args, **kwargs):  # noqa: ANN001, ANN201
        return super().list(request, *args, **kwargs)


class _Permissions(_Things):
    @extend_schema(operation_id="getCurrentUserPermissions")  # a list, but not one Harbor pages
    def list(self, request, *args, **kwargs):  # noqa: ANN001, ANN201
        return super().list(request, *args, **kwargs)


class _Ping(APIView):
    permission_required = {"get": "anyone"}

    @extend_schema(operation_id="getPing", responses={200: None})
    def get(self, request):  # noqa: ANN001, ANN201
        return Response()


def _generate(*patterns) -> dict:  # noqa: ANN002
    return HarborSchemaGenerator(patterns=[path(f"api/v2.0/{route}", view) for route, view in patterns]).get_schema(
        public=True
    )


def test_an_operation_without_an_explicit_id_fails_generation():
    with pytest.raises(SchemaError, match=re.escape("GET /api/v2.0/things (_Things.list)")):
        _generate(("things", _Things.as_view({"get": "list"})))


def test_paging_q_and_sort_follow_harbors_list_and_an_implicit_head_is_not_an_operation():
    document = _generate(
        ("quotas", _Quotas.as_view({"get": "list"})),
        ("projects", _Projects.as_view({"get": "list"})),
        ("users/current/permissions", _Permissions.as_view({"get": "list"})),
        ("ping", _Ping.as_view()),
    )
    paths = document["paths"]
    assert {p["name"] for p in paths["/quotas"]["get"]["parameters"]} == {"page", "page_size", "sort"}
    assert set(paths["/quotas"]["get"]["responses"]["200"]["headers"]) == {"X-Total-Count", "Link"}
    assert {} in paths["/quotas"]["get"]["security"]  # permission_required "anyone"
    assert {p["name"] for p in paths["/projects"]["get"]["parameters"]} == {"page", "page_size", "q"}
    permissions = paths["/users/current/permissions"]["get"]
    assert "parameters" not in permissions
    assert "headers" not in permissions["responses"]["200"]
    assert permissions["responses"]["200"]["content"]["application/json"]["schema"]["type"] == "array"
    assert set(paths["/ping"]) == {"get"}  # Django answers HEAD for GET: not an operation


def test_a_view_routed_with_and_without_a_trailing_slash_is_documented_once():
    ping = _Ping.as_view()
    document = _generate(("ping/", ping), ("ping", ping))
    assert list(document["paths"]) == ["/ping/"]


def test_harbors_list_tables_match_the_reference():
    paginated, queried, sorted_ = set(), set(), set()
    for operation_id, operation in harbor_operations().items():
        ok = operation["responses"].get("200", {})
        if "X-Total-Count" in ok.get("headers", {}):
            paginated.add(operation_id)
            queried |= {operation_id} if ("q", "query") in operation["parameters"] else set()
            sorted_ |= {operation_id} if ("sort", "query") in operation["parameters"] else set()
    assert paginated == schema.HARBOR_PAGINATED_LISTS
    assert queried == schema.HARBOR_QUERIED_LISTS
    assert sorted_ == schema.HARBOR_SORTED_LISTS


def test_routes_outside_the_api_prefix_are_left_out():
    generator = HarborSchemaGenerator(
        patterns=[path("elsewhere", _Ping.as_view()), path("api/v2.0/ping", _Ping.as_view())]
    )
    assert set(generator.get_schema(public=True)["paths"]) == {"/ping"}


# --- Swagger UI ------------------------------------------------------------------------------------


def test_swagger_ui_is_self_hosted():
    response = basic_client(None).get("/api/v2.0/swagger-ui/")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    html = response.content.decode()
    assert "/api/v2.0/openapi.json" in html
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert assets
    for url in assets:
        assert url.startswith("/static/drf_spectacular_sidecar/swagger-ui-dist/"), url
        assert finders.find(url.removeprefix("/static/")), url
    assert "cdn" not in html.lower()
