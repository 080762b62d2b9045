"""The operator console for jobs and garbage collection: read-only executions, stop, run now / dry run."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditLog
from common.models import Execution, ExecutionStatus, Task
from registry.services.gc_jobs import gc_schedule_set

pytestmark = pytest.mark.django_db
GC_PAGE = "admin:common_execution_gc"


@pytest.fixture
def runs():
    done = Execution.objects.create(
        kind="gc",
        status=ExecutionStatus.SUCCEEDED,
        counts={"blobs_deleted": 3, "bytes_freed": 2048, "artifacts_deleted": 1, "uploads_purged": 0},
        log="deleted blob sha256:aa (1024 bytes)\n<script>",
    )
    Task.objects.create(execution=done, name="sweep", status=ExecutionStatus.SUCCEEDED)
    running = Execution.objects.create(kind="gc", status=ExecutionStatus.RUNNING)
    other = Execution.objects.create(kind="purge_uploads", status=ExecutionStatus.RUNNING, counts={"sessions": 2})
    return {"done": done, "running": running, "other": other}


def test_execution_pages_show_progress_log_and_tasks_read_only(admin_client, runs):
    listing = admin_client.get(reverse("admin:common_execution_changelist"), {"kind__exact": "gc"})
    assert listing.status_code == 200
    text = listing.content.decode()
    assert "3 blob(s), 2.0\xa0KB, 1 artifact(s), 0 upload(s)" in text
    assert reverse(GC_PAGE) in text  # the link to the GC page
    assert f">{runs['other'].pk}<" not in text  # filtered on kind
    page = admin_client.get(reverse("admin:common_execution_change", args=[runs["done"].pk]))
    body = page.content.decode()
    assert page.status_code == 200
    assert "deleted blob sha256:aa (1024 bytes)" in body
    assert "&lt;script&gt;" in body  # the log is escaped
    assert "sweep" in body
    assert 'name="status"' not in body
    assert admin_client.post(reverse("admin:common_execution_change", args=[runs["done"].pk]), {}).status_code == 403
    assert admin_client.get(reverse("admin:common_execution_delete", args=[runs["done"].pk])).status_code == 403


def test_stop_action_calls_the_services(admin_client, runs):
    selected = [runs["done"].pk, runs["running"].pk, runs["other"].pk]
    response = admin_client.post(
        reverse("admin:common_execution_changelist"), {"action": "stop_executions", "_selected_action": selected}
    )
    assert response.status_code == 302
    statuses = dict(Execution.objects.values_list("pk", "status"))
    assert statuses[runs["done"].pk] == ExecutionStatus.SUCCEEDED  # final: untouched
    assert statuses[runs["running"].pk] == ExecutionStatus.STOPPED
    assert statuses[runs["other"].pk] == ExecutionStatus.STOPPED
    audit = AuditLog.objects.get(resource_type="gc")
    assert (audit.operation, audit.resource, audit.username) == ("update", f"gc/{runs['running'].pk}", "admin")


def test_gc_page_runs_now_dry_runs_and_refuses_a_second(admin_client, django_capture_on_commit_callbacks):
    gc_schedule_set(type="Daily", parameters={"delete_untagged": True})
    page = admin_client.get(reverse(GC_PAGE))
    assert page.status_code == 200
    assert "0 0 0 * * *" in page.content.decode()
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(reverse(GC_PAGE), {"dry_run": "Dry run", "delete_untagged": "on"})
    assert len(callbacks) == 1
    run = Execution.objects.get(kind="gc")
    assert response.url == reverse("admin:common_execution_change", args=[run.pk])
    assert (run.dry_run, run.parameters["delete_untagged"], run.operator) == (True, True, "admin")
    again = admin_client.post(reverse(GC_PAGE), {"run": "Run"}, follow=True)
    assert "already pending" in again.content.decode()
    assert Execution.objects.filter(kind="gc").count() == 1
    assert AuditLog.objects.filter(resource_type="gc", operation="create").count() == 1
    assert (
        f'href="{reverse("admin:common_execution_change", args=[run.pk])}"'
        in admin_client.get(reverse(GC_PAGE)).content.decode()
    )


def test_gc_page_needs_the_garbage_collection_rights(client, django_user_model):
    staff = django_user_model.objects.create_user("staff", password="pw-Secret-1", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse(GC_PAGE)).status_code == 403
    assert client.post(reverse(GC_PAGE), {"run": "Run"}).status_code == 403
    assert not Execution.objects.exists()
