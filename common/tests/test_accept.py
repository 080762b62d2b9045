"""Content negotiation as Harbor clients exercise it: every GET operation answers (never 406) to the
Accept headers they send: `application/json`, `*/*`, none, and `text/plain` (what swagger-generated
clients send to getPing; on the JSON operations it falls back to JSON, as no client parses text there)."""

from __future__ import annotations

import re

import pytest

from common.testing.api import basic_client
from projects.tests.factories import PASSWORD, ProjectFactory, SysadminFactory

pytestmark = pytest.mark.django_db

ACCEPTS = ("application/json", "*/*", None, "text/plain")


@pytest.fixture(scope="module")
def get_operations(django_db_setup, django_db_blocker) -> list[tuple[str, str]]:
    """(operationId, route) of every GET operation in our OpenAPI document."""
    with django_db_blocker.unblock():
        document = basic_client(None).get("/api/v2.0/openapi.json").json()
    return sorted((item["get"]["operationId"], route) for route, item in document["paths"].items() if "get" in item)


def _url(route: str) -> str:
    # Path parameters get plausible values: negotiation happens before the object is looked up, so a
    # 404 answer is as telling as a 200 (it must still be JSON, not a 406).
    values = {"project_name_or_id": "accept", "project_name": "accept", "repository_name": "app"}
    return "/api/v2.0" + re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), "1"), route)


@pytest.mark.parametrize("accept", ACCEPTS, ids=lambda a: a or "none")
def test_every_get_operation_answers_every_accept_header_clients_send(get_operations, accept):
    SysadminFactory(username="root")
    ProjectFactory(name="accept")
    client = basic_client("root", PASSWORD)
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    wrong = []
    for operation_id, route in get_operations:
        response = client.get(_url(route), **headers)
        expected = "text/plain" if operation_id == "getPing" else "application/json"
        ctype = response.get("Content-Type", "")
        if response.status_code == 406 or (response.content and not ctype.startswith(expected)):
            wrong.append(f"{operation_id}: {response.status_code} {ctype}")
    assert not wrong, f"Accept: {accept}: {wrong}"


@pytest.mark.parametrize("accept", ACCEPTS, ids=lambda a: a or "none")
def test_ping_answers_pong_as_text_whatever_the_accept_header(accept):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = basic_client(None).get("/api/v2.0/ping", **headers)
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    assert response.content == b"Pong"


def test_an_error_under_accept_text_plain_is_harbors_json_envelope():
    response = basic_client(None).get("/api/v2.0/projects/missing", HTTP_ACCEPT="text/plain")
    assert response.status_code in (401, 404)
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["errors"][0]["code"]
