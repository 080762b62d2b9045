"""The audit log end to end: a real gunicorn and Celery worker purge on request, export and forward to syslog."""

from __future__ import annotations

import csv
import io
import json
import socket
import time

import httpx
import pytest

from common.testing.server import RegistryServer

SEED_OLD = """
from datetime import timedelta
from django.utils import timezone
from audit.models import AuditLog
old = timezone.now() - timedelta(days=30)
AuditLog.objects.bulk_create(
    AuditLog(op_time=old, username="ci", resource_type="artifact", resource=f"library/app:{i}", operation="pull")
    for i in range(25)
)
AuditLog.objects.create(op_time=old, username="ci", resource_type="artifact", resource="library/app:1",
                        operation="delete")
"""
COUNT = (
    "from audit.models import AuditLog; "
    "print(AuditLog.objects.filter(operation='pull', resource_type='artifact').count(), "
    "AuditLog.objects.filter(operation='delete', resource_type='artifact').count())"
)


@pytest.fixture(scope="module")
def audit_server():
    server = RegistryServer.create()
    try:
        server.python(SEED_OLD)
        server.start()
        server.start_worker()
        yield server
    finally:
        server.destroy()


@pytest.fixture
def api(audit_server):
    with httpx.Client(
        base_url=f"{audit_server.url}/api/v2.0", auth=("admin", audit_server.admin_password), timeout=30
    ) as client:
        yield client


def _counts(server: RegistryServer) -> tuple[int, int]:
    pulls, deletes = server.python(COUNT).split()[-2:]
    return int(pulls), int(deletes)


def test_a_manual_purge_runs_on_the_worker_until_success(audit_server, api):
    assert _counts(audit_server) == (25, 1)
    body = {
        "schedule": {"type": "Manual"},
        "parameters": {"audit_retention_hour": 24, "include_event_types": "pull_artifact", "dry_run": False},
    }
    created = api.post("/system/purgeaudit/schedule", json=body)
    assert created.status_code == 201, created.text
    job_url = created.headers["Location"].removeprefix("/api/v2.0")
    deadline = time.monotonic() + 90
    job: dict = {}
    while time.monotonic() < deadline:
        job = api.get(job_url).json()
        if job["job_status"] in ("Success", "Error", "Stopped"):
            break
        time.sleep(0.5)
    assert job["job_status"] == "Success", (job, audit_server.log_tail("worker.log"))
    assert _counts(audit_server) == (0, 1)  # pulls older than a day went; the delete was not asked for
    log = api.get(f"{job_url}/log")
    assert "25 record(s) purged" in log.text
    history = api.get("/system/purgeaudit")
    assert history.headers["X-Total-Count"] == "1"


def test_export_streams_through_gunicorn(audit_server, api):
    response = api.get("/auditlog-exts/export", params={"format": "csv", "q": "operation=delete"})
    assert response.status_code == 200, response.text
    assert response.headers["Content-Disposition"].startswith("attachment;")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [row["resource"] for row in rows] == ["library/app:1"]
    listed = api.get("/auditlog-exts", params={"q": "operation=delete"})
    assert listed.headers["X-Total-Count"] == "1"


def test_records_are_forwarded_to_syslog_from_the_server(audit_server, api):
    listener = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    listener.bind(("127.0.0.1", 0))
    listener.settimeout(10)
    try:
        endpoint = f"udp://127.0.0.1:{listener.getsockname()[1]}"
        assert api.put("/configurations", json={"audit_log_forward_endpoint": endpoint}).status_code == 200
        time.sleep(2.5)  # each web worker re-reads the configuration within its cache period
        assert api.post("/projects", json={"project_name": "forwarded", "public": False}).status_code == 201
        messages = []
        while not any(b'"resource":"forwarded"' in m for m in messages):
            messages.append(listener.recvfrom(65535)[0])  # a timeout here fails the test
        message = next(m for m in messages if b'"resource":"forwarded"' in m)
        assert message.startswith(b"<110>1 ")
        document = json.loads(message.split(b" - ", 1)[1])
        assert (document["operation"], document["resource_type"], document["username"]) == (
            "create",
            "project",
            "admin",
        )
    finally:
        listener.close()
        api.put("/configurations", json={"audit_log_forward_endpoint": ""})
