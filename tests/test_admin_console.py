"""The operator console: every registry page renders, read-only fields stay read-only, actions use services."""

from __future__ import annotations

import pytest
from django.template.defaultfilters import filesizeformat
from django.urls import reverse

from projects.models import Project
from projects.tests.factories import ProjectFactory
from registry.models import Artifact, Tag, Upload
from registry.tests.factories import ArtifactFactory, RepositoryBlobFactory, RepositoryFactory, TagFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def seeded():
    project = ProjectFactory(name="console")
    repository = RepositoryFactory(name="console/app", project=project)
    blob = RepositoryBlobFactory(repository=repository).blob
    artifact = ArtifactFactory(repository=repository)
    TagFactory(repository=repository, artifact=artifact, name="v1")
    upload = Upload.objects.create(repository=repository, owner="admin")
    return {"project": project, "repository": repository, "blob": blob, "artifact": artifact, "upload": upload}


@pytest.mark.parametrize(
    "model",
    [
        "projects.project",
        "projects.member",
        "registry.repository",
        "registry.artifact",
        "registry.tag",
        "registry.blob",
        "registry.upload",
        "common.execution",
    ],
)
def test_changelists_render_and_search(admin_client, seeded, model):
    app, name = model.split(".")
    url = reverse(f"admin:{app}_{name}_changelist")
    assert admin_client.get(url).status_code == 200
    assert admin_client.get(url, {"q": "console"}).status_code == 200


def test_artifact_page_shows_tags_size_and_type_read_only(admin_client, seeded):
    artifact = seeded["artifact"]
    page = admin_client.get(reverse("admin:registry_artifact_change", args=[artifact.pk]))
    assert page.status_code == 200
    text = page.content.decode()
    assert artifact.digest in text
    assert "v1" in text
    assert artifact.media_type in text
    assert 'name="digest"' not in text
    assert 'name="size"' not in text
    assert admin_client.get(reverse("admin:registry_blob_change", args=[seeded["blob"].pk])).status_code == 200


def test_delete_goes_through_services(admin_client, seeded):
    artifact = seeded["artifact"]
    # The generic delete view is closed; the action calls manifest_delete.
    assert admin_client.get(reverse("admin:registry_artifact_delete", args=[artifact.pk])).status_code == 403
    response = admin_client.post(
        reverse("admin:registry_artifact_changelist"), {"action": "delete_artifacts", "_selected_action": [artifact.pk]}
    )
    assert response.status_code == 302
    assert not Artifact.objects.filter(pk=artifact.pk).exists()
    assert not Tag.objects.filter(repository=seeded["repository"]).exists()
    upload = seeded["upload"]
    admin_client.post(
        reverse("admin:registry_upload_changelist"), {"action": "cancel_uploads", "_selected_action": [upload.pk]}
    )
    assert not Upload.objects.filter(pk=upload.pk).exists()


def test_project_creation_through_admin_validates_the_name(admin_client, admin_user):
    url = reverse("admin:projects_project_add")
    bad = admin_client.post(
        url, {"name": "Bad Name", "metadata": "{}", "members-TOTAL_FORMS": 0, "members-INITIAL_FORMS": 0}
    )
    assert bad.status_code == 200
    assert not Project.objects.filter(name="Bad Name").exists()
    good = admin_client.post(
        url,
        {
            "name": "fresh",
            "public": "on",
            "owner": admin_user.pk,
            "metadata": "{}",
            "members-TOTAL_FORMS": 0,
            "members-INITIAL_FORMS": 0,
        },
    )
    assert good.status_code == 302, good.content[:2000]
    project = Project.objects.get(name="fresh")
    assert project.public
    assert project.members.get().user == admin_user


def test_project_change_page_shows_quota_usage_and_group_admin(admin_client, seeded):
    from projects.models import Quota, UserGroup

    Quota.objects.create(project=seeded["project"], hard=10 * 1024**3, used=3 * 1024**2)
    page = admin_client.get(reverse("admin:projects_project_change", args=[seeded["project"].pk]))
    assert page.status_code == 200
    assert filesizeformat(3 * 1024**2) in page.content.decode()
    UserGroup.objects.create(name="devs", group_type=1)
    assert admin_client.get(reverse("admin:projects_usergroup_changelist"), {"q": "devs"}).status_code == 200


def test_console_logins_are_audited_success_and_failure(client, django_user_model):
    from audit.models import AuditLog

    django_user_model.objects.create_user("operator", password="Right-pw-1", is_staff=True)
    url = reverse("admin:login")
    client.post(url, {"username": "operator", "password": "wrong"}, REMOTE_ADDR="10.1.2.3")
    response = client.post(url, {"username": "operator", "password": "Right-pw-1"}, REMOTE_ADDR="10.1.2.3")
    assert response.status_code == 302
    rows = list(AuditLog.objects.filter(operation="login").order_by("id"))
    assert [(r.username, r.resource, r.operation_result, r.source_ip) for r in rows] == [
        ("operator", "operator", False, "10.1.2.3"),
        ("operator", "operator", True, "10.1.2.3"),
    ]
    assert not AuditLog.objects.filter(operation_description__contains="Right-pw-1").exists()
