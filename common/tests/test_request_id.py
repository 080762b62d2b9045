"""X-Request-Id on every response, as Harbor's swagger declares it: echoed when a plain token, else new."""

from __future__ import annotations

import uuid

import pytest

from common.testing.api import basic_client

pytestmark = pytest.mark.django_db


def test_a_request_id_is_generated_on_api_errors_and_on_v2():
    for path in ("/api/v2.0/ping", "/api/v2.0/users", "/api/v2.0/projects/nope", "/v2/"):
        response = basic_client(None).get(path)
        assert uuid.UUID(response["X-Request-Id"]), path


def test_the_callers_request_id_is_echoed():
    response = basic_client(None).get("/api/v2.0/ping", HTTP_X_REQUEST_ID="client-42.a:b")
    assert response["X-Request-Id"] == "client-42.a:b"


@pytest.mark.parametrize("given", ["", "has space", "x" * 129, 'quote"', "new\\nline"])
def test_an_odd_request_id_is_replaced(given):
    response = basic_client(None).get("/api/v2.0/ping", HTTP_X_REQUEST_ID=given)
    assert uuid.UUID(response["X-Request-Id"])
