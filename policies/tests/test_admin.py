"""The operator console for immutability rules: pages render, saves and deletes go through the services."""

from __future__ import annotations

import pytest
from django.urls import reverse

from policies.models import ImmutabilityRule
from policies.services import immutability_rule_create
from projects.tests.factories import ProjectFactory

pytestmark = pytest.mark.django_db


def _form(project=None, **overrides) -> dict:  # noqa: ANN001
    data = {
        "priority": "0",
        "repository_decoration": "repoMatches",
        "repository_pattern": "**",
        "tag_decoration": "matches",
        "tag_pattern": "v*",
    }
    if project is not None:
        data["project"] = str(project.pk)
    return {**data, **overrides}


def test_add_change_delete_through_the_services(admin_client):
    project = ProjectFactory(name="console")
    add = reverse("admin:policies_immutabilityrule_add")
    assert admin_client.get(add).status_code == 200
    response = admin_client.post(add, _form(project))
    assert response.status_code == 302, response.content.decode()[:2000]
    rule = ImmutabilityRule.objects.get()
    assert rule.tag_selectors == [{"kind": "doublestar", "decoration": "matches", "pattern": "v*"}]
    change = reverse("admin:policies_immutabilityrule_change", args=[rule.pk])
    assert "v*" in admin_client.get(change).content.decode()
    assert admin_client.post(change, _form(tag_pattern="stable-*", disabled="on")).status_code == 302
    rule.refresh_from_db()
    assert (rule.disabled, rule.tag_selectors[0]["pattern"], rule.project) == (True, "stable-*", project)
    changelist = reverse("admin:policies_immutabilityrule_changelist")
    page = admin_client.get(changelist, {"q": "console"})
    assert page.status_code == 200
    assert "matches stable-*" in page.content.decode()
    delete = reverse("admin:policies_immutabilityrule_delete", args=[rule.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 302
    assert not ImmutabilityRule.objects.exists()


def test_refusals_come_back_as_form_errors(admin_client):
    project = ProjectFactory(name="console")
    immutability_rule_create(
        project=project,
        scope_selectors={"repository": [{"decoration": "repoMatches", "pattern": "**"}]},
        tag_selectors=[{"decoration": "matches", "pattern": "v*"}],
    )
    add = reverse("admin:policies_immutabilityrule_add")
    bad_pattern = admin_client.post(add, _form(project, tag_pattern="{v1"))
    assert bad_pattern.status_code == 200
    assert "unclosed" in bad_pattern.content.decode()
    duplicate = admin_client.post(add, _form(project))
    assert duplicate.status_code == 200
    assert "already exists" in duplicate.content.decode()
    assert ImmutabilityRule.objects.count() == 1
