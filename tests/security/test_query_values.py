"""Odd query values on every list and read route: a 4xx or a correct 200, never a 500.

Every GET operation of /api/v2.0/ (discovered from the URL resolver, as in the matrix), with each
query parameter that our OpenAPI document or Harbor's swagger declares for it, is called with zero,
negative, non-integer, huge, empty, non-ASCII and control-character values, by a sysadmin (who
reaches every code path) and by a project developer (whose reads go through the scoped selectors).
The /v2/ routes with query parameters get the same values.
"""

from __future__ import annotations

import base64
import json
import os
from functools import cache
from pathlib import Path
from urllib.parse import quote, urlencode

import pytest
import yaml
from django.conf import settings
from django.db import transaction
from django.test import Client

from common.api.schema import HarborSchemaGenerator
from tests.security.requests import call_for
from tests.security.routes import API_PREFIX, Operation, harbor_operations
from tests.security.world import PRINCIPAL, PW

pytestmark = pytest.mark.django_db

HARBOR_SWAGGER = Path(
    os.environ.get("HARBOR_REFERENCE_SWAGGER")
    or Path(settings.BASE_DIR).parent / "shared" / "reference" / "harbor-swagger.yaml"
)
# One value of each kind that has broken a parser or a query somewhere: zero, negative, non-integer,
# beyond int64, beyond Python's int() digit limit, empty, padded, non-ASCII digits and letters, NUL.
ODD_VALUES = (
    "0",
    "-1",
    "abc",
    "1.5",
    "99999999999999999999999999",
    "9" * 5000,
    "",
    " 1",
    "１",  # a fullwidth digit: int() accepts it
    "\u2603",
    "a\x00b",
    "'\";--=~,()[]{}",
)
# Harbor's `q` language, with values out of range, NUL and broken ranges.
Q_VALUES = (
    "id=99999999999999999999999",
    "project_id=-99999999999999999999999",
    "name=~\x00",
    "name={a\x00 b}",
    "op_time=[2020-01-01T00:00:00~not-a-time]",
    "creation_time=[~]",
    "x" * 4096,
)
# An operation that declares no query parameter gets one it doesn't know, which it must ignore.
UNDECLARED = ("page",)


@cache
def _declared() -> dict[str, set[str]]:
    """operationId -> the query parameters our document and Harbor's swagger declare for it."""
    found: dict[str, set[str]] = {}
    ours = HarborSchemaGenerator().get_schema(request=None, public=True)
    harbor = yaml.safe_load(HARBOR_SWAGGER.read_text()) if HARBOR_SWAGGER.exists() else {"paths": {}}
    shared = harbor.get("parameters", {})
    for document in (ours, harbor):
        for item in document["paths"].values():
            for operation in item.values():
                if not isinstance(operation, dict) or "operationId" not in operation:
                    continue
                names = found.setdefault(operation["operationId"], set())
                for parameter in operation.get("parameters", []):
                    if "$ref" in parameter:
                        parameter = shared.get(parameter["$ref"].rsplit("/", 1)[-1], {})
                    if parameter.get("in") == "query":
                        names.add(parameter["name"])
    return found


@cache
def _integer_path_parameters() -> dict[str, set[str]]:
    """operationId -> its path parameters our document types as integers (ids)."""
    found: dict[str, set[str]] = {}
    document = HarborSchemaGenerator().get_schema(request=None, public=True)
    for item in document["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "operationId" in operation:
                found[operation["operationId"]] = {
                    p["name"]
                    for p in operation.get("parameters", [])
                    if p.get("in") == "path" and p.get("schema", {}).get("type") == "integer"
                }
    return found


def _reads() -> list[Operation]:
    return [op for op in harbor_operations() if op.method == "GET" and not op.alias]


def _client(username: str) -> Client:
    token = base64.b64encode(f"{username}:{PW}".encode()).decode()
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Basic {token}")


def _get(client: Client, url: str):  # noqa: ANN202
    """One request in its own savepoint: on PostgreSQL a failed statement aborts the transaction,
    and the test's transaction must not poison the next request (a server runs in autocommit)."""
    with transaction.atomic():
        response = client.get(url)
        if response.status_code >= 500:
            transaction.set_rollback(True)
        return response


def _with(url: str, name: str, value: str) -> str:
    """The URL with `name` set to `value` (replacing what the matrix's call put there)."""
    path, _, query = url.partition("?")
    pairs = [pair for pair in query.split("&") if pair and not pair.startswith(f"{quote(name)}=")]
    pairs.append(urlencode({name: value}))
    return f"{path}?{'&'.join(pairs)}"


def _check(response, what: str) -> str | None:  # noqa: ANN001
    if response.status_code >= 500:
        return f"{what}: {response.status_code}"
    if response.status_code == 200 and response.get("Content-Type", "").startswith("application/json"):
        body = b"".join(response.streaming_content) if response.streaming else response.content
        try:
            json.loads(body)
        except ValueError:
            return f"{what}: 200 with a body that is not JSON"
    elif 400 <= response.status_code < 500 and response.get("Content-Type", "").startswith("application/json"):
        errors = json.loads(response.content).get("errors")
        if not errors or not all(e.get("code") and "message" in e for e in errors):
            return f"{what}: {response.status_code} without Harbor's error envelope"
    return None


def test_every_read_operation_is_covered():
    """The sweep walks the same operations as the matrix: a new GET route is swept with no edit here."""
    reads = _reads()
    assert len(reads) > 60
    assert all(op.operation_id for op in reads), [op.template for op in reads if not op.operation_id]


@pytest.mark.parametrize("op", _reads(), ids=lambda op: op.name)
def test_odd_query_values_never_500(op: Operation, world) -> None:
    declared = _declared().get(op.operation_id)
    names = sorted(declared or UNDECLARED)
    values = ODD_VALUES if declared else ("abc", "a\x00b")
    failures = []
    for who in (PRINCIPAL["sysadmin"], PRINCIPAL["developer"]):
        variant = "private" if "{project_name_or_id}" in op.template or "{project_name}" in op.template else "global"
        try:
            base = call_for(op, variant, world, who).url
        except Exception:  # noqa: BLE001 - an operation the matrix fills per variant only
            base = call_for(op, "private", world, who).url
        client = _client(who.username)
        for name in names:
            for value in values + (Q_VALUES if name == "q" else ()):
                url = _with(base, name, value)
                problem = _check(_get(client, url), f"{who.name} GET {url[:160]!r}")
                if problem:
                    failures.append(problem)
    assert not failures, "\n".join(failures[:40])


ODD_IDS = ("0", "-1", "1.5", "²", "١", "99999999999999999999", "9" * 5000, "1_0", " 1", "%00", "abc")


def _with_ids() -> list[Operation]:
    return [op for op in harbor_operations() if not op.alias and _integer_path_parameters().get(op.operation_id)]


@pytest.mark.parametrize("op", _with_ids(), ids=lambda op: f"{op.name}-{op.method}")
def test_odd_path_ids_are_4xx(op: Operation, world) -> None:
    """Integer path parameters (ids) with values no Harbor id has: 4xx, never a 500."""
    who, failures = PRINCIPAL["sysadmin"], []
    client = _client(who.username)
    for name in sorted(_integer_path_parameters()[op.operation_id]):
        for value in ODD_IDS:
            call = call_for(op, "private", world, who, path={name: value})
            with transaction.atomic():
                response = call.send(client)
                transaction.set_rollback(True)  # a write that went through must not change the next case
            if response.status_code >= 500 or response.status_code < 400:
                failures.append(f"{op.method} {call.url[:120]!r}: {response.status_code}")
    assert not failures, "\n".join(failures)


V2_READS = (
    ("/v2/_catalog", ("n", "last")),
    ("/v2/{repo}/tags/list", ("n", "last")),
    ("/v2/{repo}/referrers/{digest}", ("artifactType",)),
)


def _v2_client() -> Client:
    token = base64.b64encode(f"root:{PW}".encode()).decode()
    return Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Basic {token}")


def _v2_check(response, what: str) -> str | None:  # noqa: ANN001
    if response.status_code >= 500:
        return f"{what}: {response.status_code}"
    if response.status_code >= 400:
        errors = json.loads(response.content).get("errors")
        if not errors or not all(e.get("code") for e in errors):
            return f"{what}: {response.status_code} without the OCI error envelope"
    return None


@pytest.mark.parametrize(("template", "names"), V2_READS, ids=[t for t, _ in V2_READS])
def test_v2_odd_query_values_never_500(template: str, names: tuple[str, ...], world) -> None:
    project = world.projects["private"]
    url = template.format(repo=f"{project.name}/{project.repository}", digest=project.digest)
    client, failures = _v2_client(), []
    for name in names:
        for value in ODD_VALUES:
            response = _get(client, f"{url}?{urlencode({name: value})}")
            problem = _v2_check(response, f"GET {url}?{name}={value[:20]!r}")
            if problem:
                failures.append(problem)
    assert not failures, "\n".join(failures)


V2_WRITES = (
    ("post", "/v2/{repo}/blobs/uploads/", ("digest", "mount", "from")),
    ("put", "/v2/{repo}/manifests/v1", ("tag",)),
)


@pytest.mark.parametrize(("method", "template", "names"), V2_WRITES, ids=[t for _, t, _ in V2_WRITES])
def test_v2_odd_write_query_values_never_500(method: str, template: str, names: tuple[str, ...], world) -> None:
    project = world.projects["private"]
    url = template.format(repo=f"{project.name}/{project.repository}")
    client, failures = _v2_client(), []
    for name in names:
        for value in ODD_VALUES:
            query = {name: value}
            if name == "mount":
                query["from"] = f"{project.name}/{project.repository}"
            if name == "from":
                query["mount"] = project.digest
            response = getattr(client, method)(
                f"{url}?{urlencode(query)}", data=b"{}", content_type="application/vnd.oci.image.manifest.v1+json"
            )
            problem = _v2_check(response, f"{method.upper()} {url}?{name}={value[:20]!r}")
            if problem:
                failures.append(problem)
    assert not failures, "\n".join(failures)


def test_tags_list_n_zero_is_an_empty_page_without_link(world) -> None:
    """dist-spec: `n=0` is a valid page size: 200, an empty list, no Link (it was an IndexError)."""
    project = world.projects["private"]
    response = _v2_client().get(f"/v2/{project.name}/{project.repository}/tags/list?n=0")
    assert response.status_code == 200
    assert response.json() == {"name": f"{project.name}/{project.repository}", "tags": []}
    assert "Link" not in response


def test_catalog_n_zero_is_an_empty_page_without_link(world) -> None:
    response = _v2_client().get("/v2/_catalog?n=0")
    assert response.status_code == 200
    assert response.json() == {"repositories": []}
    assert "Link" not in response


def test_tags_list_n_zero_of_an_unknown_repository_is_name_unknown(world) -> None:
    project = world.projects["private"]
    response = _v2_client().get(f"/v2/{project.name}/nothing-here/tags/list?n=0")
    assert response.status_code == 404
    assert response.json()["errors"][0]["code"] == "NAME_UNKNOWN"


def test_api_prefix_is_the_one_swept():
    assert all(op.template.startswith(API_PREFIX) for op in _reads())


def test_upload_completion_and_token_odd_query_values_never_500(world) -> None:
    project = world.projects["private"]
    repo = f"{project.name}/{project.repository}"
    client, failures = _v2_client(), []
    for value in ODD_VALUES:
        with transaction.atomic():
            started = client.post(f"/v2/{repo}/blobs/uploads/")
            assert started.status_code == 202
            response = client.put(f"{started['Location']}?{urlencode({'digest': value})}", data=b"")
            transaction.set_rollback(True)
        problem = _v2_check(response, f"PUT upload?digest={value[:20]!r}")
        if problem:
            failures.append(problem)
        for name in ("scope", "service", "account"):
            response = _get(client, f"/service/token?{urlencode({name: value})}")
            if response.status_code >= 500:
                failures.append(f"GET /service/token?{name}={value[:20]!r}: {response.status_code}")
    assert not failures, "\n".join(failures)
