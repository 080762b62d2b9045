"""Webhook policy API (Harbor's webhook tag) through real Basic auth: CRUD, validation, masking, audit."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import override_settings

from audit.models import AuditLog, WebhookPolicy
from audit.webhooks.services import webhook_policy_create
from common.crypto import secret_decrypt
from common.testing.api import basic_client
from projects.services import project_create

pytestmark = pytest.mark.django_db
POLICIES = "/api/v2.0/projects/lib/webhook/policies"
TARGET = {"type": "http", "address": "https://hooks.example.test/harbor", "auth_header": "Bearer canary-7Q"}


def body(**overrides) -> dict:  # noqa: ANN003
    return {"name": "ci", "event_types": ["PUSH_ARTIFACT"], "targets": [TARGET], "enabled": True, **overrides}


def _error(response, status: int, needle: str = "") -> None:  # noqa: ANN001
    assert response.status_code == status, response.content
    message = response.json()["errors"][0]["message"]
    assert needle in message, message


def test_create_shows_the_secret_once_and_get_masks_the_auth_header(lib):
    admin = basic_client("padmin")
    created = admin.post(POLICIES, {**body(), "project_id": 999, "creator": "x", "id": 7}, format="json")
    assert created.status_code == 201, created.content
    policy = WebhookPolicy.objects.get()
    assert created["Location"] == f"{POLICIES}/{policy.pk}"
    assert created["Cache-Control"] == "no-store"
    assert created.json() == {"id": policy.pk, "signing_secret": policy.signing_secret}
    assert (policy.project, policy.creator) == (lib, "padmin")

    shown = admin.get(f"{POLICIES}/{policy.pk}")
    assert shown.status_code == 200
    data = shown.json()
    assert data["targets"] == [
        {"type": "http", "address": TARGET["address"], "auth_header": "******", "skip_cert_verify": False,
         "payload_format": "Default"}
    ]  # fmt: skip
    assert data["event_types"] == ["PUSH_ARTIFACT"]
    assert data["project_id"] == lib.pk
    assert data["enabled"] is True
    assert "canary-7Q" not in shown.content.decode()
    assert policy.signing_secret not in shown.content.decode()
    listed = admin.get(POLICIES)
    assert listed["X-Total-Count"] == "1"
    assert "canary-7Q" not in listed.content.decode()
    assert policy.signing_secret not in listed.content.decode()


def test_secrets_are_encrypted_in_the_row(lib):
    policy, signing_secret = webhook_policy_create(
        project=lib, name="raw", event_types=["PUSH_ARTIFACT"], targets=[TARGET]
    )
    with connection.cursor() as cursor:
        cursor.execute("SELECT targets, signing_secret FROM audit_webhookpolicy WHERE id = %s", [policy.pk])
        targets, stored_secret = cursor.fetchone()
    assert "canary-7Q" not in targets
    assert "hooks.example.test" not in targets  # the whole target list is encrypted
    assert signing_secret not in stored_secret
    assert secret_decrypt(stored_secret) == signing_secret
    fresh = WebhookPolicy.objects.get(pk=policy.pk)
    assert fresh.targets[0]["auth_header"] == "Bearer canary-7Q"
    assert fresh.signing_secret == signing_secret


def test_update_keeps_a_masked_header_replaces_a_new_one_and_clears_an_empty_one(lib):
    admin = basic_client("padmin")
    admin.post(POLICIES, body(), format="json")
    policy = WebhookPolicy.objects.get()
    url = f"{POLICIES}/{policy.pk}"
    shown = admin.get(url).json()
    updated = admin.put(url, {**shown, "description": "nightly", "event_types": ["PUSH_ARTIFACT", "QUOTA_EXCEED"]},
                        format="json")  # fmt: skip
    assert updated.status_code == 200, updated.content
    policy.refresh_from_db()
    assert policy.targets[0]["auth_header"] == "Bearer canary-7Q"
    assert (policy.description, policy.event_types) == ("nightly", ["PUSH_ARTIFACT", "QUOTA_EXCEED"])
    admin.put(url, {**shown, "targets": [{**TARGET, "auth_header": "Token new"}]}, format="json")
    policy.refresh_from_db()
    assert policy.targets[0]["auth_header"] == "Token new"
    admin.put(url, {**shown, "targets": [{**TARGET, "auth_header": ""}]}, format="json")
    policy.refresh_from_db()
    assert policy.targets[0]["auth_header"] == ""
    assert "auth_header" not in admin.get(url).json()["targets"][0]
    signing_secret = policy.signing_secret
    admin.put(url, {**shown, "enabled": False}, format="json")
    policy.refresh_from_db()
    assert policy.enabled is False
    assert policy.signing_secret == signing_secret  # never changes, never shown again


def test_delete_removes_policy_and_history(lib):
    admin = basic_client("padmin")
    admin.post(POLICIES, body(), format="json")
    policy = WebhookPolicy.objects.get()
    assert admin.delete(f"{POLICIES}/{policy.pk}").status_code == 200
    assert not WebhookPolicy.objects.exists()
    assert admin.get(f"{POLICIES}/{policy.pk}").status_code == 404


def test_every_change_is_audited(lib):
    admin = basic_client("padmin")
    admin.post(POLICIES, body(), format="json")
    policy = WebhookPolicy.objects.get()
    admin.put(f"{POLICIES}/{policy.pk}", {"enabled": False}, format="json")
    admin.delete(f"{POLICIES}/{policy.pk}")
    rows = list(
        AuditLog.objects.filter(resource_type="webhook_policy").order_by("id").values_list("operation", "username")
    )
    assert rows == [("create", "padmin"), ("update", "padmin"), ("delete", "padmin")]
    assert set(AuditLog.objects.filter(resource_type="webhook_policy").values_list("project_id", flat=True)) == {lib.pk}


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"name": ""}, "name is required"),
        ({"event_types": []}, "event_types"),
        ({"event_types": ["PUSH_IMAGE"]}, "unsupported"),
        ({"targets": []}, "at least one target"),
        ({"targets": [{"address": ""}]}, "address is required"),
        ({"targets": [{"address": "ftp://example.com/x"}]}, "only http and https"),
        ({"targets": [{"address": "http://127.0.0.1:8080/hook"}]}, "not a public address"),
        ({"targets": [{"address": "http://169.254.169.254/latest/meta-data/"}]}, "not a public address"),
        ({"targets": [{"address": "http://10.1.2.3/"}]}, "not a public address"),
        ({"targets": [{"address": "http://[::1]/"}]}, "not a public address"),
        ({"targets": [{"address": "http://localhost:9000/"}]}, "not a public address"),
        ({"targets": [{**TARGET, "type": "email"}]}, "unsupported type"),
        ({"targets": [{**TARGET, "payload_format": "XML"}]}, "payload_format"),
        ({"targets": [{**TARGET, "auth_header": "a\r\nX-Injected: 1"}]}, "single-line"),
        ({"targets": "https://x"}, ""),
    ],
)
def test_invalid_bodies_are_harbor_400s(lib, overrides, needle):
    response = basic_client("padmin").post(POLICIES, body(**overrides), format="json")
    _error(response, 400, needle)
    assert response.json()["errors"][0]["code"] == "BAD_REQUEST"
    assert not WebhookPolicy.objects.exists()


def test_allowlisted_private_targets_are_accepted(lib):
    with override_settings(HARBOR_EGRESS_ALLOW=["127.0.0.1:8080"]):
        ok = basic_client("padmin").post(
            POLICIES, body(targets=[{"address": "http://127.0.0.1:8080/hook"}]), format="json"
        )
        assert ok.status_code == 201, ok.content
        refused = basic_client("padmin").post(
            POLICIES, body(name="other", targets=[{"address": "http://127.0.0.1:8081/"}]), format="json"
        )
        _error(refused, 400, "not a public address")


def test_duplicate_names_conflict_but_other_projects_may_reuse_them(lib):
    admin = basic_client("padmin")
    assert admin.post(POLICIES, body(), format="json").status_code == 201
    _error(admin.post(POLICIES, body(), format="json"), 409, "already exists")
    other = project_create(name="other")
    webhook_policy_create(project=other, name="ci", event_types=["PUSH_ARTIFACT"], targets=[TARGET])


def test_bad_policy_ids(lib):
    admin = basic_client("padmin")
    _error(admin.get(f"{POLICIES}/abc"), 400, "not an integer")
    _error(admin.get(f"{POLICIES}/999"), 404)
    other = project_create(name="other")
    foreign, _ = webhook_policy_create(project=other, name="x", event_types=["PUSH_ARTIFACT"], targets=[TARGET])
    _error(admin.get(f"{POLICIES}/{foreign.pk}"), 404)
    _error(admin.delete(f"{POLICIES}/{foreign.pk}"), 404)
    assert WebhookPolicy.objects.filter(pk=foreign.pk).exists()


def test_roles(lib):
    policy, _ = webhook_policy_create(project=lib, name="ci", event_types=["PUSH_ARTIFACT"], targets=[TARGET])
    url = f"{POLICIES}/{policy.pk}"
    assert basic_client("maintainer").get(POLICIES).status_code == 200
    assert basic_client("maintainer").get(url).status_code == 200
    assert basic_client("maintainer").post(POLICIES, body(name="m"), format="json").status_code == 403
    assert basic_client("maintainer").delete(url).status_code == 403
    assert basic_client("developer").get(POLICIES).status_code == 403
    assert basic_client("outsider").get(POLICIES).status_code == 404
    assert basic_client(None).get(POLICIES).status_code == 401


def test_list_filters_sorts_and_pages(lib):
    for name in ("b", "a", "c"):
        webhook_policy_create(project=lib, name=name, event_types=["PUSH_ARTIFACT"], targets=[TARGET])
    admin = basic_client("padmin")
    assert [p["name"] for p in admin.get(POLICIES, {"sort": "name"}).json()] == ["a", "b", "c"]
    assert [p["name"] for p in admin.get(POLICIES, {"q": "name=b"}).json()] == ["b"]
    page = admin.get(POLICIES, {"sort": "name", "page": 2, "page_size": 2})
    assert [p["name"] for p in page.json()] == ["c"]
    assert page["X-Total-Count"] == "3"


def test_list_has_a_query_budget(lib, django_assert_max_num_queries):
    for name in "abcdef":
        webhook_policy_create(project=lib, name=name, event_types=["PUSH_ARTIFACT"], targets=[TARGET])
    admin = basic_client("padmin")
    admin.get(POLICIES)  # warm the Basic credential cache
    with django_assert_max_num_queries(8):
        assert len(admin.get(POLICIES).json()) == 6


def test_supported_event_types(lib):
    response = basic_client("maintainer").get("/api/v2.0/projects/lib/webhook/events")
    assert response.status_code == 200
    data = response.json()
    assert len(data["event_type"]) == 10
    assert "PUSH_ARTIFACT" in data["event_type"]
    assert data["notify_type"] == ["http"]
    assert data["payload_formats"] == [{"notify_type": "http", "formats": ["Default", "CloudEvents"]}]
    assert basic_client("developer").get("/api/v2.0/projects/lib/webhook/events").status_code == 403
