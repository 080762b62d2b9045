"""The audit log in the operator console: read-only, filterable, searchable, exportable."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from audit.models import AuditLog

pytestmark = pytest.mark.django_db
CHANGELIST = "admin:audit_auditlog_changelist"


@pytest.fixture
def records(db):
    AuditLog.objects.all().purge()
    return AuditLog.objects.bulk_create(
        [
            AuditLog(username="alice", source_ip="10.0.0.1", resource_type="artifact", resource="lib/app:v1",
                     operation="create"),
            AuditLog(username="bob", resource_type="project", resource="lib", operation="delete",
                     operation_result=False),
            AuditLog(username="carol", resource_type="artifact", resource="web/site:v2", operation="pull"),
        ]
    )  # fmt: skip


def test_changelist_filters_and_search(admin_client, records):
    url = reverse(CHANGELIST)
    page = admin_client.get(url)
    assert page.status_code == 200
    text = page.content.decode()
    for name in ("alice", "bob", "carol"):
        assert name in text
    assert 'href="?operation=create"' in text  # the operation filter
    assert "resource_type" in text
    assert "operation_result" in text
    filtered = admin_client.get(url, {"operation": "delete"}).content.decode()
    assert "bob" in filtered
    assert "alice" not in filtered
    found = admin_client.get(url, {"q": "web/site"}).content.decode()
    assert "carol" in found
    assert "alice" not in found
    by_user = admin_client.get(url, {"q": "alice"}).content.decode()
    assert "lib/app:v1" in by_user
    assert "web/site:v2" not in by_user


def test_records_cannot_be_added_changed_or_deleted(admin_client, records):
    record = records[0]
    assert admin_client.get(reverse("admin:audit_auditlog_add")).status_code == 403
    change = reverse("admin:audit_auditlog_change", args=[record.pk])
    page = admin_client.get(change)  # view-only page
    assert page.status_code == 200
    assert 'name="_save"' not in page.content.decode()
    admin_client.post(change, {"username": "mallory"})
    assert admin_client.get(reverse("admin:audit_auditlog_delete", args=[record.pk])).status_code == 403
    record.refresh_from_db()
    assert record.username == "alice"
    actions = admin_client.get(reverse(CHANGELIST)).content.decode()
    assert "delete_selected" not in actions
    assert "export_csv" in actions
    assert AuditLog.objects.count() == 3


def test_export_actions_stream_the_selected_records(admin_client, records):
    url = reverse(CHANGELIST)
    chosen = [str(records[0].pk), str(records[2].pk)]
    response = admin_client.post(url, {"action": "export_csv", "_selected_action": chosen})
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Disposition"].endswith('.csv"')
    table = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert sorted(row["username"] for row in table) == ["alice", "carol"]
    assert table[-1]["source_ip"] == "10.0.0.1"
    response = admin_client.post(url, {"action": "export_json", "_selected_action": [str(records[1].pk)]})
    assert [item["username"] for item in json.loads(b"".join(response.streaming_content))] == ["bob"]


def test_staff_without_the_audit_log_right_see_nothing(client, records):
    staff = get_user_model().objects.create_user("staff", password="pw-Secret-1", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse(CHANGELIST)).status_code == 403
