"""Calls to a live server, checked against Harbor's own swagger (Swagger 2.0) with bravado-core.

Harbor's clients are generated from Harbor's swagger, not from our document, so an answer must be what
*that* document promises: a status code it declares for the operation (the one the caller expected),
the response headers it declares, and a body valid against its schema, formats (date-time as RFC 3339,
int32/int64 ranges, ...) and `x-nullable` included. A test lists its requests as `Call`s (and `Step`s
for setup that is not an API operation) and hands them to `calls_run`.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import yaml
from bravado_core.spec import Spec
from bravado_core.swagger20_validator import get_validator_type
from django.contrib.admindocs.views import simplify_regex
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.resolvers import RegexPattern

from common.testing.server import REPO_ROOT

REFERENCE = Path(
    os.environ.get("HARBOR_REFERENCE_SWAGGER") or REPO_ROOT.parent / "shared" / "reference" / "harbor-swagger.yaml"
)
API = "/api/v2.0"
METHODS = ("get", "put", "post", "delete", "patch", "head")
Saver = Callable[[dict, httpx.Response], None]


class Ref:
    """A value saved by an earlier call (`ctx[key]`, optionally formatted), resolved when a call is made."""

    def __init__(self, key: str, fmt: Callable[[Any], Any] = lambda v: v) -> None:
        self.key, self.fmt = key, fmt

    def __call__(self, ctx: dict) -> Any:
        return self.fmt(ctx[self.key])


def resolve(value: Any, ctx: dict) -> Any:
    """`value` with every `Ref` in it replaced by its value."""
    if isinstance(value, Ref):
        return value(ctx)
    if isinstance(value, dict):
        return {k: resolve(v, ctx) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [resolve(v, ctx) for v in value]
    return value


def location(key: str) -> Saver:
    """Save the id at the end of the Location header as `ctx[key]`."""

    def save(ctx: dict, response: httpx.Response) -> None:
        ctx[key] = int(response.headers["Location"].rstrip("/").rsplit("/", 1)[1])

    return save


def first(key: str, field_name: str = "id") -> Saver:
    """Save a field of the first element of a list body as `ctx[key]`."""

    def save(ctx: dict, response: httpx.Response) -> None:
        ctx[key] = response.json()[0][field_name]

    return save


@dataclass
class Call:
    """One request: Harbor's operation, its parameters, the status expected, and who asks."""

    op: str  # Harbor's operationId: method and path come from Harbor's swagger
    params: dict = field(default_factory=dict)  # path parameters
    query: dict = field(default_factory=dict)
    body: Any = None
    status: int = 200
    user: str | None = "admin"  # a key of ctx["credentials"] (username, password), or None (anonymous)
    accept: str = "application/json"
    save: Saver | None = None  # called when the status is the expected one
    wait: Callable[[dict, httpx.Response], bool] | None = None  # repeat (60 s at most) until true


@dataclass
class Step:
    """Setup that is not an API operation (pushing images over /v2/)."""

    run: Callable[[dict], None]


def load_spec(path: Path = REFERENCE) -> Spec:
    """Harbor's swagger as a bravado-core Spec, every format checked."""
    document = yaml.safe_load(path.read_text())
    config = {"validate_responses": True, "validate_swagger_spec": False, "use_models": False}
    spec = Spec(document, origin_url=path.as_uri(), config=config)
    # bravado-core walks every document in its resolver's store, which jsonschema seeds with the
    # meta-schemas of all validators registered in the process (openapi-schema-validator's OAS 3.1 ones
    # refer to URLs it would then download): keep Harbor's document only.
    store = spec.resolver.store
    for uri in [uri for uri in store if uri != store.normalize(spec.origin_url)]:
        del store[uri]
    spec.build()
    # bravado-core leaves integer formats to jsonschema, which has none: check their ranges here
    # (date-time, uri and the rest are jsonschema's, with rfc3339-validator for RFC 3339).
    for name, bits, signed in (("int8", 8, True), ("int32", 32, True), ("int64", 64, True), ("uint64", 64, False)):
        low, high = (-(2 ** (bits - 1)), 2 ** (bits - 1)) if signed else (0, 2**bits)
        spec.format_checker.checks(name)(lambda v, low=low, high=high: not isinstance(v, int) or low <= v < high)
    return spec


def spec_operations(spec: Spec) -> dict[str, tuple[str, str, dict]]:
    """Harbor's operations by operationId: (method, path, operation)."""
    return {
        operation["operationId"]: (method, route, operation)
        for route, item in spec.spec_dict["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def validate(spec: Spec, schema: dict, value: Any) -> list[str]:
    """Every error of `value` against `schema` (Swagger 2.0: x-nullable, formats), as `path: message`."""
    validator = get_validator_type(spec)(schema, format_checker=spec.format_checker, resolver=spec.resolver)
    return [
        f"{'/'.join(str(p) for p in error.absolute_path) or '(body)'}: {error.message[:200]}"
        for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.absolute_path)))
    ]


def _more_pages(response: httpx.Response) -> bool:
    total = int(response.headers.get("X-Total-Count") or 0)
    page = int(response.request.url.params.get("page") or 1)
    size = int(response.request.url.params.get("page_size") or 10)
    return page > 1 or total > page * size


def _headers(spec: Spec, declared: dict, response: httpx.Response) -> list[tuple[str, str]]:
    problems = []
    for name, header in (spec.deref(declared.get("headers")) or {}).items():
        value = response.headers.get(name)
        if name == "Link":
            # Harbor sends Link only when there is another page (go-swagger leaves an empty header out).
            if (value is not None) != _more_pages(response):
                total = response.headers.get("X-Total-Count")
                problems.append(("header", f"Link {value!r} with X-Total-Count {total}"))
        elif value is None:
            problems.append(("header", f"{name} missing"))
        elif spec.deref(header).get("type") == "integer" and not value.lstrip("-").isdigit():
            problems.append(("header", f"{name}: {value!r} is not an integer"))
    return problems


def check(spec: Spec, operation: dict, expected: int, response: httpx.Response) -> list[tuple[str, str]]:
    """(kind, detail) of every way `response` is not what Harbor's swagger declares for `operation`."""
    responses = spec.deref(operation["responses"])
    code = response.status_code
    if str(code) not in responses:
        return [("status", f"{code} is not declared ({sorted(responses)}): {response.text[:200]}")]
    problems = []
    if code != expected:
        problems.append(("status", f"{code}, expected {expected}: {response.text[:200]}"))
    declared = spec.deref(responses[str(code)])
    problems += _headers(spec, declared, response)
    if response.request.method == "HEAD":  # no body, whatever the status
        return problems
    schema = spec.deref(declared.get("schema"))
    if schema is None:
        if response.content.strip() not in (b"", b"{}", b"null"):
            problems.append(("body", f"should be empty: {response.text[:200]}"))
        return problems
    content_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    produces = operation.get("produces") or spec.spec_dict.get("produces") or []
    if content_type not in produces:
        return [*problems, ("content-type", f"{content_type!r}, Harbor's {produces}")]
    if content_type == "application/json":
        try:
            body = response.json()
        except ValueError:
            return [*problems, ("body", f"not JSON: {response.text[:200]}")]
        problems += [("body", error) for error in validate(spec, schema, body)]
    return problems


def request_problems(spec: Spec, route: str, operation: dict, call: Call, ctx: dict) -> list[tuple[str, str]]:
    """The call's own body checked against Harbor's body parameter: the table must send what a client
    generated from Harbor's swagger can send (an error case may send a wrong value on purpose)."""
    parameters = [*spec.spec_dict["paths"][route].get("parameters", []), *operation.get("parameters", [])]
    schema = next((p["schema"] for p in map(spec.deref, parameters) if p["in"] == "body"), None)
    if call.body is None or schema is None or call.status >= 400:
        return []
    return [("request", error) for error in validate(spec, schema, resolve(call.body, ctx))]


def _send(http: httpx.Client, base_url: str, route: str, method: str, call: Call, ctx: dict) -> httpx.Response:
    params = resolve(call.params, ctx)
    url = base_url + API + route.format(**{k: str(v) for k, v in params.items()})
    auth = ctx["credentials"][call.user] if call.user else None
    kwargs: dict = {"params": resolve(call.query, ctx), "headers": {"Accept": call.accept}, "auth": auth}
    if call.body is not None:
        kwargs["json"] = resolve(call.body, ctx)
    return http.request(method.upper(), url, **kwargs)


def calls_run(
    *, base_url: str, calls: Iterable[Call | Step], spec: Spec, deviations: dict[str, str], ctx: dict
) -> tuple[list[str], set[str]]:
    """Make the calls in order; (mismatches not allowed by `deviations`, operationIds exercised).

    A mismatch is the line `<operationId> <METHOD> <path> -> <status> [<kind>] <detail>` (kind `request`
    when the call's own body is not one Harbor's swagger allows); a deviation
    is a regular expression that must match a whole line, and one that matched none is a mismatch too.
    `ctx["credentials"]` maps the `user` of the calls to (username, password).
    """
    operations = spec_operations(spec)
    mismatches, exercised, allowed_seen = [], set(), set()
    with httpx.Client(timeout=60) as http:
        for call in calls:
            if isinstance(call, Step):
                call.run(ctx)
                continue
            method, route, operation = operations[call.op]
            exercised.add(call.op)
            deadline = time.monotonic() + 60
            response = _send(http, base_url, route, method, call, ctx)
            while call.wait and response.status_code == 200 and not call.wait(ctx, response):
                assert time.monotonic() < deadline, f"{call.op}: never finished: {response.text[:300]}"
                time.sleep(0.5)
                response = _send(http, base_url, route, method, call, ctx)
            problems = request_problems(spec, route, operation, call, ctx)
            for kind, detail in problems + check(spec, operation, call.status, response):
                line = f"{call.op} {method.upper()} {route} -> {response.status_code} [{kind}] {detail}"
                allowed = {pattern for pattern in deviations if re.fullmatch(pattern, line, re.DOTALL)}
                allowed_seen |= allowed
                if not allowed:
                    mismatches.append(line)
            if call.save and response.status_code == call.status:
                call.save(ctx, response)
    unused = sorted(set(deviations) - allowed_seen)
    mismatches += [f"a deviation that matched nothing (remove it, and from the README): {p}" for p in unused]
    return mismatches, exercised


def _route(pattern: URLPattern | URLResolver) -> str:
    """A URL pattern as a document path: `<name>` / `(?P<name>...)` become `{name}`, anchors dropped."""
    if isinstance(pattern.pattern, RegexPattern):
        text = simplify_regex(pattern.pattern.regex.pattern).lstrip("/")
    else:
        text = str(pattern.pattern)
    return re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", text)


def api_routes() -> set[str]:
    """`METHOD /path` of every view routed under /api/v2.0/ by the URL conf, methods as the view maps them."""

    def walk(patterns, prefix: str):  # noqa: ANN001, ANN202
        for pattern in patterns:
            route = prefix + _route(pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            else:
                yield route, pattern.callback

    routes = set()
    for route, view in walk(get_resolver().url_patterns, ""):
        if not route.startswith("api/v2.0/"):
            continue
        path = "/" + route.removeprefix("api/v2.0/")
        cls = getattr(view, "cls", None) or getattr(view, "view_class", None)
        if getattr(view, "actions", None):
            methods = set(view.actions)
        elif cls is not None:
            methods = {m for m in METHODS if hasattr(cls, m)}
        else:
            methods = {"get"}
        # Every GET answers HEAD too (DRF even adds "head" to a viewset's actions once it served one):
        # not an operation of its own. Harbor's one HEAD operation, headProject, is in the document.
        routes |= {f"{method.upper()} {path}" for method in methods - {"head"}}
    return routes
