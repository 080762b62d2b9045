"""`/api/v2.0/system/gc[...]` (Harbor's "gc" tag): shapes, paging and filters, stop, log, schedule, 409, rights."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from audit.models import AuditLog
from common.models import Execution, ExecutionStatus
from common.testing.api import basic_client

PW = "pw-Secret-1"
BASE = "/api/v2.0/system/gc"


@pytest.fixture
def root(db):
    get_user_model().objects.create_superuser("root", "root@example.test", PW)
    return basic_client("root", PW)


def _run(status: str = ExecutionStatus.SUCCEEDED, **fields) -> Execution:
    defaults = {
        "kind": "gc",
        "status": status,
        "parameters": {"delete_untagged": False, "dry_run": False, "workers": 1},
    }
    return Execution.objects.create(**{**defaults, **fields})


@pytest.mark.django_db
def test_history_is_harbors_gc_history_newest_first_paged_and_filtered(root):
    old = _run(trigger="SCHEDULE", log="x")
    Execution.objects.filter(pk=old.pk).update(started=timezone.now() - timedelta(days=1))
    failed = _run(ExecutionStatus.FAILED, parameters={"delete_untagged": True, "dry_run": True, "workers": 2})
    Execution.objects.create(kind="purge_uploads", status=ExecutionStatus.SUCCEEDED)  # not a GC

    response = root.get(BASE)
    assert response.status_code == 200
    assert response["X-Total-Count"] == "2"
    body = response.json()
    assert [row["id"] for row in body] == [failed.pk, old.pk]
    first = body[0]
    assert set(first) == {
        "id",
        "job_name",
        "job_kind",
        "job_parameters",
        "schedule",
        "job_status",
        "deleted",
        "creation_time",
        "update_time",
    }
    assert first["job_name"] == "GARBAGE_COLLECTION"
    assert first["job_kind"] == "MANUAL"
    assert json.loads(first["job_parameters"]) == {"delete_untagged": True, "dry_run": True, "workers": 2}
    assert first["schedule"] == {"type": "Manual", "cron": ""}  # a run has no next time: left out, not null
    assert first["job_status"] == "Error"
    assert first["deleted"] is False
    assert body[1]["job_status"] == "Success"  # Harbor's word for it
    assert body[1]["schedule"]["type"] == "Schedule"

    paged = root.get(BASE, {"page": 2, "page_size": 1})
    assert [row["id"] for row in paged.json()] == [old.pk]
    assert 'rel="prev"' in paged["Link"]
    assert [r["id"] for r in root.get(BASE, {"q": "job_status=Success"}).json()] == [old.pk]
    assert [r["id"] for r in root.get(BASE, {"q": "status={Error Running}"}).json()] == [failed.pk]
    assert [r["id"] for r in root.get(BASE, {"sort": "creation_time"}).json()] == [old.pk, failed.pk]
    assert root.get(BASE, {"q": "job_status=Done"}).status_code == 400
    assert root.get(BASE, {"q": "log=~x"}).status_code == 400  # not a filter
    assert root.get(BASE, {"sort": "log"}).status_code == 400


@pytest.mark.django_db
def test_get_one_its_log_and_other_kinds_are_not_found(root):
    run = _run(log="deleted blob sha256:abc (3 bytes)\n")
    other = Execution.objects.create(kind="purge_uploads", log="secret of another job")
    assert root.get(f"{BASE}/{run.pk}").json()["id"] == run.pk
    log = root.get(f"{BASE}/{run.pk}/log")
    assert log.status_code == 200
    assert log["Content-Type"].startswith("text/plain")
    assert log.content == b"deleted blob sha256:abc (3 bytes)\n"
    for url in (f"{BASE}/{other.pk}", f"{BASE}/{other.pk}/log", f"{BASE}/999999"):
        response = root.get(url)
        assert response.status_code == 404
        assert response.json()["errors"][0]["code"] == "NOT_FOUND"
    assert root.put(f"{BASE}/{other.pk}").status_code == 404


@pytest.mark.django_db
def test_stop_a_running_collection(root):
    run = _run(ExecutionStatus.RUNNING)
    assert root.put(f"{BASE}/{run.pk}").status_code == 200
    run.refresh_from_db()
    assert run.status == ExecutionStatus.STOPPED
    assert "stop requested by root" in run.log
    assert AuditLog.objects.filter(resource_type="gc", operation="update", resource=f"gc/{run.pk}").exists()
    finished = _run()
    assert root.put(f"{BASE}/{finished.pk}").status_code == 200  # a finished run stays as it was
    finished.refresh_from_db()
    assert finished.status == ExecutionStatus.SUCCEEDED


@pytest.mark.django_db
def test_schedule_create_read_update_and_remove(root):
    assert root.get(f"{BASE}/schedule").json() == {}
    body = {"schedule": {"type": "Custom", "cron": "0 30 2 * * *"}, "parameters": {"delete_untagged": True}}
    assert root.post(f"{BASE}/schedule", body, format="json").status_code == 201
    got = root.get(f"{BASE}/schedule").json()
    assert got["schedule"]["type"] == "Custom"
    assert got["schedule"]["cron"] == "0 30 2 * * *"
    assert got["schedule"]["next_scheduled_time"]
    assert json.loads(got["job_parameters"]) == {"delete_untagged": True, "dry_run": False, "workers": 1}
    assert got["creation_time"]
    assert got["update_time"]

    weekly = {"schedule": {"type": "Weekly"}, "parameters": {"dry_run": True, "workers": 3}}
    assert root.put(f"{BASE}/schedule", weekly, format="json").status_code == 200
    got = root.get(f"{BASE}/schedule").json()
    assert (got["schedule"]["type"], got["schedule"]["cron"]) == ("Weekly", "0 0 0 * * 0")
    assert json.loads(got["job_parameters"])["workers"] == 3

    assert root.put(f"{BASE}/schedule", {"schedule": {"type": "None"}}, format="json").status_code == 200
    assert root.get(f"{BASE}/schedule").json() == {}
    operations = AuditLog.objects.filter(resource_type="gc").order_by("pk").values_list("operation", flat=True)
    assert list(operations) == ["update", "update", "delete"]
    assert not Execution.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "schedule"),
        ({"schedule": {"type": "Monthly"}}, "type"),
        ({"schedule": {"type": "Custom", "cron": "0 0 * * *"}}, "6 fields"),
        ({"schedule": {"type": "Custom"}}, "needs a cron"),
        ({"schedule": {"type": "Hourly"}, "parameters": {"workers": 9}}, "workers"),
    ],
)
def test_bad_schedules_are_400(root, body, message):
    response = root.post(f"{BASE}/schedule", body, format="json")
    assert response.status_code == 400
    assert message in response.json()["errors"][0]["message"]
    assert root.get(f"{BASE}/schedule").json() == {}


@pytest.mark.django_db
def test_manual_runs_now_and_a_second_one_is_409(root, django_capture_on_commit_callbacks):
    manual = {"schedule": {"type": "Manual"}, "parameters": {"delete_untagged": True, "dry_run": True}}
    with django_capture_on_commit_callbacks() as callbacks:
        response = root.post(f"{BASE}/schedule", manual, format="json")
    assert response.status_code == 201
    assert len(callbacks) == 1
    run = Execution.objects.get(kind="gc")
    assert response["Location"] == f"{BASE}/{run.pk}"
    assert (run.status, run.trigger, run.dry_run, run.operator) == (ExecutionStatus.PENDING, "MANUAL", True, "root")
    audit = AuditLog.objects.get(resource_type="gc")
    assert (audit.operation, audit.resource, audit.username) == ("create", f"gc/{run.pk}", "root")

    second = root.post(f"{BASE}/schedule", manual, format="json")
    assert second.status_code == 409
    assert second.json()["errors"][0]["code"] == "CONFLICT"
    assert Execution.objects.filter(kind="gc").count() == 1
    assert root.get(BASE).json()[0]["job_status"] == "Pending"


@pytest.mark.django_db
def test_only_holders_of_garbage_collection_rights(root):
    get_user_model().objects.create_user("alice", password=PW)
    run = _run()
    alice, anonymous = basic_client("alice", PW), basic_client(None)
    for method, url in [
        ("get", BASE),
        ("get", f"{BASE}/{run.pk}"),
        ("get", f"{BASE}/{run.pk}/log"),
        ("put", f"{BASE}/{run.pk}"),
        ("get", f"{BASE}/schedule"),
        ("post", f"{BASE}/schedule"),
        ("put", f"{BASE}/schedule"),
    ]:
        body = {"schedule": {"type": "Manual"}} if url.endswith("schedule") and method != "get" else None
        assert getattr(alice, method)(url, body, format="json").status_code == 403, (method, url)
        assert getattr(anonymous, method)(url, body, format="json").status_code == 401, (method, url)
    assert Execution.objects.filter(kind="gc").count() == 1
    assert not AuditLog.objects.filter(resource_type="gc").exists()
