"""The audit retention purge: parameters, selection, the task (called directly), Harbor's /system/purgeaudit API."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from audit.models import AuditLog
from audit.services import (
    PURGE_SCHEDULE,
    audit_purge_run,
    audit_purge_scheduled,
    audit_purge_start,
    purge_parameters_clean,
    purge_selection,
)
from audit.tasks import purge
from common.api.errors import BadRequest
from common.models import Execution, ExecutionStatus
from common.testing.api import basic_client

pytestmark = pytest.mark.django_db
PURGES = "/api/v2.0/system/purgeaudit"
SCHEDULE = f"{PURGES}/schedule"
WEEK = {"audit_retention_hour": 168, "include_event_types": "create_artifact,pull_artifact", "dry_run": False}


def aged(hours: float, operation: str = "pull", resource_type: str = "artifact", n: int = 1) -> list[AuditLog]:
    when = timezone.now() - timedelta(hours=hours)
    return AuditLog.objects.bulk_create(
        AuditLog(op_time=when, username="u", resource_type=resource_type, resource="r", operation=operation)
        for _ in range(n)
    )


def selected(**parameters) -> set[int]:  # noqa: ANN003
    cleaned = purge_parameters_clean({"audit_retention_hour": 168, **parameters})
    return set(purge_selection(parameters=cleaned).values_list("id", flat=True))


@pytest.fixture
def clean(users):
    basic_client("root").get("/api/v2.0/auditlog-exts/events")  # audit root's login before the slate is wiped
    basic_client("padmin").get("/api/v2.0/auditlog-exts/events")
    AuditLog.objects.all().purge()


@pytest.mark.parametrize(
    "raw",
    [
        None,
        {},
        {"include_event_types": "pull_artifact"},
        {"audit_retention_hour": 0, "include_event_types": "pull_artifact"},
        {"audit_retention_hour": "soon", "include_event_types": "pull_artifact"},
        {"audit_retention_hour": True, "include_event_types": "pull_artifact"},
        {"audit_retention_hour": 24},
        {"audit_retention_hour": 24, "include_event_types": 7},
        {"audit_retention_hour": 24, "include_event_types": "", "dry_run": "yes"},
    ],
)
def test_bad_parameters_are_refused(raw):
    with pytest.raises(BadRequest):
        purge_parameters_clean(raw)


def test_parameters_are_normalised():
    assert purge_parameters_clean({"audit_retention_hour": "24", "include_event_types": " Pull_Artifact, ,x "}) == {
        "audit_retention_hour": 24,
        "dry_run": False,
        "include_event_types": "pull_artifact,x",
    }
    assert purge_parameters_clean(
        {"audit_retention_hour": 1, "include_operations": "create,pull", "dry_run": True}
    ) == {
        "audit_retention_hour": 1,
        "dry_run": True,
        "include_operations": "create,pull",
    }


def test_selection_by_age_and_event_type(clean):
    old_pull, old_create, old_login = aged(200), aged(200, "create"), aged(200, "login", "user")
    old_tag = aged(200, "create", "tag")
    aged(100)  # inside the retention
    assert selected(include_event_types="pull_artifact") == {old_pull[0].pk}
    assert selected(include_event_types="pull_artifact,create_artifact") == {old_pull[0].pk, old_create[0].pk}
    assert selected(include_event_types="login_user") == {old_login[0].pk}
    assert selected(include_event_types="other") == {old_tag[0].pk}  # everything outside Harbor's event types
    assert selected(include_event_types="") == set()  # Harbor: nothing named, nothing purged
    assert selected(include_operations="create") == {old_create[0].pk, old_tag[0].pk}


def test_manual_run_through_the_api_then_the_task(clean, django_capture_on_commit_callbacks):
    old = aged(200, n=7)
    kept = [*aged(1), *aged(200, "delete")]
    with django_capture_on_commit_callbacks() as callbacks:
        response = basic_client("root").post(
            SCHEDULE, {"schedule": {"type": "Manual"}, "parameters": WEEK}, format="json"
        )
    assert response.status_code == 201, response.content
    execution = Execution.objects.get(kind="purge_audit")
    assert response["Location"] == f"{PURGES}/{execution.pk}"
    assert (execution.status, execution.trigger, execution.operator) == ("Pending", "MANUAL", "root")
    assert execution.parameters == WEEK
    assert len(callbacks) == 1  # the task is enqueued on commit, not before (not executed here: no broker)
    assert AuditLog.objects.filter(operation="create", resource_type="purge_audit", username="root").exists()

    assert purge(execution_id=execution.pk) == execution.pk
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.SUCCEEDED
    assert execution.counts == {"purged": 7}
    assert "7 record(s) purged" in execution.log
    assert not AuditLog.objects.filter(pk__in=[r.pk for r in old]).exists()
    assert AuditLog.objects.filter(pk__in=[r.pk for r in kept]).count() == 2

    root = basic_client("root")
    job = root.get(f"{PURGES}/{execution.pk}").json()
    assert job["job_status"] == "Success"
    assert job["job_name"] == "PURGE_AUDIT_LOG"
    assert job["job_kind"] == "MANUAL"
    assert job["schedule"] == {"type": "Manual"}
    assert json.loads(job["job_parameters"]) == WEEK
    assert set(job) == {
        "id", "job_name", "job_kind", "job_parameters", "schedule", "job_status", "deleted", "creation_time",
        "update_time",
    }  # fmt: skip
    log = root.get(f"{PURGES}/{execution.pk}/log")
    assert log["Content-Type"].startswith("text/plain")
    assert b"7 record(s) purged" in log.content
    history = root.get(PURGES)
    assert history["X-Total-Count"] == "1"
    assert [item["id"] for item in history.json()] == [execution.pk]


def test_batches_and_dry_run(clean):
    aged(300, n=12)
    dry = audit_purge_start(parameters={**WEEK, "dry_run": True})
    purge(execution_id=dry.pk)
    dry.refresh_from_db()
    assert dry.status == ExecutionStatus.SUCCEEDED
    assert dry.counts == {"purged": 0, "would_purge": 12}
    assert AuditLog.objects.filter(operation="pull").count() == 12
    real = audit_purge_start(parameters=WEEK)
    audit_purge_run(execution_id=real.pk, batch_size=5)  # 5 + 5 + 2
    real.refresh_from_db()
    assert real.counts == {"purged": 12}
    assert not AuditLog.objects.filter(operation="pull").exists()


def test_a_run_stopped_before_it_starts_deletes_nothing(clean):
    aged(300, n=3)
    execution = audit_purge_start(parameters=WEEK)
    response = basic_client("root").put(f"{PURGES}/{execution.pk}")
    assert response.status_code == 200
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.STOPPED
    assert purge(execution_id=execution.pk) is None
    assert AuditLog.objects.filter(operation="pull").count() == 3
    assert basic_client("root").put(f"{PURGES}/{execution.pk}").status_code == 200  # stopping again: no-op


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the stop arrives through a PostgreSQL trigger")
def test_a_stop_requested_while_running_ends_between_batches(clean):
    aged(300, n=10)
    execution = audit_purge_start(parameters=WEEK)
    # Another process stops the run once its first batch is gone: a trigger plays that process, so the
    # stop lands between two batches deterministically.
    with connection.cursor() as cursor:
        cursor.execute(
            f"""CREATE FUNCTION test_stop_purge() RETURNS trigger AS $$
                BEGIN UPDATE {Execution._meta.db_table} SET status = 'Stopped' WHERE id = {execution.pk};
                RETURN NULL; END $$ LANGUAGE plpgsql;
            CREATE TRIGGER test_stop_purge AFTER DELETE ON {AuditLog._meta.db_table}
                FOR EACH STATEMENT EXECUTE FUNCTION test_stop_purge();"""
        )
    audit_purge_run(execution_id=execution.pk, batch_size=3)
    execution.refresh_from_db()
    assert execution.status == ExecutionStatus.STOPPED
    assert execution.counts == {"purged": 3}
    assert "stopped on request" in execution.log
    assert AuditLog.objects.filter(operation="pull").count() == 7


def test_scheduled_runs_record_their_own_execution(clean):
    aged(300, n=2)
    assert purge(parameters=WEEK) is not None
    execution = Execution.objects.get(kind="purge_audit")
    assert (execution.trigger, execution.status, execution.counts) == ("SCHEDULE", "Succeeded", {"purged": 2})
    with pytest.raises(BadRequest):
        audit_purge_scheduled(parameters={})


def test_schedule_create_read_update_remove(clean):
    root = basic_client("root")
    assert root.get(SCHEDULE).status_code == 200
    assert root.get(SCHEDULE).json() == {}  # no schedule: an empty ExecHistory (as getGCSchedule)
    body = {"schedule": {"type": "Hourly", "cron": "0 0 * * * *"}, "parameters": WEEK}
    assert root.post(SCHEDULE, body, format="json").status_code == 201
    task = PeriodicTask.objects.get(name=PURGE_SCHEDULE)
    assert task.task == "audit.purge"
    assert json.loads(task.kwargs) == {"parameters": WEEK}
    got = root.get(SCHEDULE).json()
    assert got["schedule"]["type"] == "Hourly"
    assert got["schedule"]["cron"] == "0 0 * * * *"
    assert got["schedule"]["next_scheduled_time"]
    assert json.loads(got["job_parameters"]) == WEEK
    daily = {"schedule": {"type": "Custom", "cron": "0 30 2 * * *"}, "parameters": {**WEEK, "dry_run": True}}
    assert root.put(SCHEDULE, daily, format="json").status_code == 200
    got = root.get(SCHEDULE).json()
    assert (got["schedule"]["type"], got["schedule"]["cron"]) == ("Custom", "0 30 2 * * *")
    assert json.loads(got["job_parameters"])["dry_run"] is True
    assert AuditLog.objects.filter(resource_type="purge_audit", operation="update").count() == 2
    assert root.put(SCHEDULE, {"schedule": {"type": "None"}}, format="json").status_code == 200
    assert not PeriodicTask.objects.filter(name=PURGE_SCHEDULE).exists()
    assert root.get(SCHEDULE).json() == {}


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("post", {"schedule": {"type": "Custom", "cron": "every day"}, "parameters": WEEK}),
        ("post", {"schedule": {"type": "Custom", "cron": "30 0 * * * *"}, "parameters": WEEK}),  # seconds != 0
        ("post", {"schedule": {"type": "Custom"}, "parameters": WEEK}),
        ("post", {"schedule": {"type": "Hourly"}, "parameters": {"audit_retention_hour": 1}}),
        ("post", {"schedule": {"type": "Manual"}}),
        ("post", {"parameters": WEEK}),
        ("post", {"schedule": {"type": "Yearly"}, "parameters": WEEK}),
        ("put", {"schedule": {"type": "Manual"}, "parameters": WEEK}),
    ],
)
def test_bad_schedules_are_400s_and_change_nothing(clean, method, body):
    response = getattr(basic_client("root"), method)(SCHEDULE, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["errors"][0]["code"] == "BAD_REQUEST"
    assert not PeriodicTask.objects.filter(name=PURGE_SCHEDULE).exists()
    assert not Execution.objects.filter(kind="purge_audit").exists()


def test_only_holders_of_purge_audit_reach_it(clean):
    execution = audit_purge_start(parameters=WEEK)
    for url in (PURGES, f"{PURGES}/{execution.pk}", f"{PURGES}/{execution.pk}/log", SCHEDULE):
        assert basic_client("padmin").get(url).status_code == 403, url
        assert basic_client(None).get(url).status_code == 401, url
    body = {"schedule": {"type": "Manual"}, "parameters": WEEK}
    assert basic_client("padmin").post(SCHEDULE, body, format="json").status_code == 403
    assert basic_client("padmin").put(f"{PURGES}/{execution.pk}").status_code == 403
    assert Execution.objects.filter(kind="purge_audit").count() == 1


def test_ids_that_are_not_purge_runs(clean):
    gc = Execution.objects.create(kind="gc")
    root = basic_client("root")
    assert root.get(f"{PURGES}/{gc.pk}").status_code == 404
    assert root.get(f"{PURGES}/{gc.pk}/log").status_code == 404
    assert root.put(f"{PURGES}/{gc.pk}").status_code == 404
    assert root.get(f"{PURGES}/nope").status_code == 400
    gc.refresh_from_db()
    assert gc.status == "Pending"
