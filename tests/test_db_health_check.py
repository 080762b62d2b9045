"""The PostgreSQL backend's health check of a reused connection: nothing sent, and a dead session still seen.

Django's own check sends `SELECT 1` at the start of every request (harbor_site/db/postgresql/base.py)."""

from __future__ import annotations

import time

import pytest
from django.db import connection, connections

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the PostgreSQL backend's check"),
]


@pytest.fixture
def reused():
    """A second connection of the configured backend, as a gunicorn thread holds one between requests."""
    wrapper = connections.create_connection("default")
    wrapper.ensure_connection()
    yield wrapper
    wrapper.close()


def _pid(wrapper) -> int:  # noqa: ANN001
    with wrapper.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        return cursor.fetchone()[0]


def _last_statement(pid: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT query FROM pg_stat_activity WHERE pid = %s", [pid])
        return cursor.fetchone()[0]


def test_the_backend_is_ours(reused):
    assert type(reused).__module__ == "harbor_site.db.postgresql.base"


def test_a_live_connection_is_usable_without_a_statement(reused):
    pid = _pid(reused)
    with reused.cursor() as cursor:
        cursor.execute("SELECT 'health-check marker'")
    for _request in range(3):
        reused.health_check_done = False  # what the start of each request does
        reused.close_if_health_check_failed()
        assert reused.connection is not None
    assert _last_statement(pid) == "SELECT 'health-check marker'"  # no SELECT 1 went out
    assert _pid(reused) == pid  # the same session, kept


def test_a_terminated_session_is_replaced_before_the_request_uses_it(reused):
    pid = _pid(reused)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(%s)", [pid])
    deadline = time.monotonic() + 30
    while reused.is_usable():  # the server's FATAL message and close arrive asynchronously
        assert time.monotonic() < deadline, "the terminated session still looks usable"
        time.sleep(0.01)
    reused.health_check_done = False
    reused.close_if_health_check_failed()
    assert reused.connection is None
    assert _pid(reused) != pid  # the request gets a new session, not an error
