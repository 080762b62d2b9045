"""/api/v2.0/health against a real server and a real Celery worker: jobservice is healthy only while a
worker answers, on the embedded filesystem broker and on Redis."""

from __future__ import annotations

import contextlib
import os
import signal
import time

import httpx
import pytest
from django.conf import settings

from common.testing.server import RegistryServer

pytestmark = pytest.mark.e2e


def _brokers() -> list:
    # A Redis database of its own: workers of other test runs on the shared one would answer our pings.
    redis_url = getattr(settings, "TEST_REDIS_URL", "")
    redis_url = redis_url and redis_url.rsplit("/", 1)[0] + "/13"
    skip = pytest.mark.skipif(not redis_url, reason="Redis is not answering on 127.0.0.1:6379")
    return [pytest.param(None, id="filesystem"), pytest.param(redis_url, id="redis", marks=skip)]


@pytest.fixture(scope="module", params=_brokers())
def server(request):
    server = RegistryServer.create(broker_url=request.param)
    with server.serving():
        yield server


def components(server: RegistryServer) -> dict[str, dict]:
    body = httpx.get(f"{server.url}/api/v2.0/health", timeout=30).json()
    found = {c["name"]: c for c in body["components"]}
    assert body["status"] == ("healthy" if all(c["status"] == "healthy" for c in found.values()) else "unhealthy")
    return found


def wait_for(server: RegistryServer, status: str, seconds: float = 60) -> dict[str, dict]:
    deadline = time.monotonic() + seconds
    while True:
        found = components(server)
        if found["jobservice"]["status"] == status or time.monotonic() > deadline:
            return found
        time.sleep(0.5)


def test_jobservice_health_follows_the_worker(server):
    found = components(server)
    assert {name: c["status"] for name, c in found.items()} == {
        "broker": "healthy",
        "core": "healthy",
        "database": "healthy",
        "jobservice": "unhealthy",
        "storage": "healthy",
    }
    assert "no Celery worker answered" in found["jobservice"]["error"]

    worker = server.start_worker()
    try:
        found = wait_for(server, "healthy")
        assert found["jobservice"] == {"name": "jobservice", "status": "healthy"}, server.log_tail("worker.log")
        assert {c["status"] for c in found.values()} == {"healthy"}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(timeout=30)
        server.processes.remove(worker)

    assert wait_for(server, "unhealthy", seconds=20)["jobservice"]["status"] == "unhealthy"
