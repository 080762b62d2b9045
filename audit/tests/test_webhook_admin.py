"""The operator console for webhooks: secrets never in clear, writes through the services, redeliver."""

from __future__ import annotations

import pytest
from django.urls import reverse

from audit.models import AuditLog, WebhookDelivery, WebhookPolicy
from audit.webhooks.services import webhook_event_fan_out, webhook_policy_create
from common.models import Execution
from projects.tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db
TARGET = {"address": "https://hooks.example.test/console", "auth_header": "Bearer console-canary"}


def _form(project=None, **overrides) -> dict:  # noqa: ANN001
    data = {
        "name": "console",
        "description": "",
        "enabled": "on",
        "event_types": ["PUSH_ARTIFACT", "QUOTA_EXCEED"],
        "address": TARGET["address"],
        "auth_header": "",
        "payload_format": "Default",
    }
    if project is not None:
        data["project"] = str(project.pk)
    return {**data, **overrides}


def test_add_shows_the_secret_once_and_change_keeps_the_header(admin_client):
    project = ProjectFactory(name="console")
    add = reverse("admin:audit_webhookpolicy_add")
    assert admin_client.get(add).status_code == 200
    response = admin_client.post(add, _form(project, auth_header="Bearer console-canary"))
    assert response.status_code == 302, response.content.decode()[:2000]
    policy = WebhookPolicy.objects.get()
    assert policy.targets[0]["auth_header"] == "Bearer console-canary"
    assert policy.signing_secret in admin_client.get(response.url).content.decode()  # the next page, once
    assert AuditLog.objects.filter(resource_type="webhook_policy", operation="create").count() == 1

    change = reverse("admin:audit_webhookpolicy_change", args=[policy.pk])
    page = admin_client.get(change).content.decode()
    assert "console-canary" not in page
    assert policy.signing_secret not in page
    assert "auth header set" in page
    listing = admin_client.get(reverse("admin:audit_webhookpolicy_changelist")).content.decode()
    assert "console-canary" not in listing
    assert policy.signing_secret not in listing

    assert admin_client.post(change, _form(description="edited", payload_format="CloudEvents")).status_code == 302
    policy.refresh_from_db()
    assert policy.description == "edited"
    assert policy.targets[0] == {
        **policy.targets[0],
        "auth_header": "Bearer console-canary",
        "payload_format": "CloudEvents",
    }
    admin_client.post(change, _form(clear_auth_header="on"))
    policy.refresh_from_db()
    assert policy.targets[0]["auth_header"] == ""


def test_a_forbidden_address_is_a_form_error(admin_client):
    project = ProjectFactory(name="console")
    response = admin_client.post(reverse("admin:audit_webhookpolicy_add"), _form(project, address="http://10.0.0.1/"))
    assert response.status_code == 200
    assert "not a public address" in response.content.decode()
    assert not WebhookPolicy.objects.exists()


def test_deliveries_page_and_redeliver_action(admin_client):
    project = ProjectFactory(name="console")
    policy, secret = webhook_policy_create(project=project, name="c", event_types=["PUSH_ARTIFACT"], targets=[TARGET])
    event = {"type": "artifact.pushed", "project_id": project.pk, "operator": "x", "data": {},
             "occurred": "2024-01-01T00:00:00+00:00"}  # fmt: skip
    (task_id,) = webhook_event_fan_out(event=event, policies=[policy])
    delivery = WebhookDelivery.objects.get(task_id=task_id)
    listing = admin_client.get(reverse("admin:audit_webhookdelivery_changelist"))
    assert listing.status_code == 200
    assert "PUSH_ARTIFACT" in listing.content.decode()
    detail = admin_client.get(reverse("admin:audit_webhookdelivery_change", args=[delivery.pk])).content.decode()
    assert "console-canary" not in detail
    assert secret not in detail
    response = admin_client.post(
        reverse("admin:audit_webhookdelivery_changelist"),
        {"action": "redeliver", "_selected_action": [str(delivery.pk)]},
    )
    assert response.status_code == 302
    redelivery = Execution.objects.get(trigger="MANUAL", kind="WEBHOOK")
    assert redelivery.parameters["redelivery_of"] == task_id
    assert WebhookDelivery.objects.get(task__execution=redelivery).payload == delivery.payload


def test_delete_goes_through_the_service(admin_client):
    project = ProjectFactory(name="console")
    policy, _ = webhook_policy_create(project=project, name="c", event_types=["PUSH_ARTIFACT"], targets=[TARGET])
    delete = reverse("admin:audit_webhookpolicy_delete", args=[policy.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not WebhookPolicy.objects.exists()
    assert AuditLog.objects.filter(resource_type="webhook_policy", operation="delete").count() == 1
