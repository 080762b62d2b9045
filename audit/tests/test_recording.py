"""Every audited operation writes exactly one row in its own transaction; a rolled-back one writes none."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from django.db import transaction

from audit.models import AuditLog
from common.actor import Actor, acting_as
from common.api.errors import BadRequest, Precondition
from policies.services import immutability_rule_create, immutability_rule_delete, immutability_rule_update
from projects import accounts
from projects.authentication import user_authenticate
from projects.members import member_create, member_delete, member_update, project_metadata_add
from projects.models import Quota, Role
from projects.permissions import Principal
from projects.quotas import quota_update
from projects.robots import services as robots
from projects.services import project_create, project_delete, project_update
from projects.tests.factories import PASSWORD, SysadminFactory, UserFactory
from registry.names import RepositoryName
from registry.services.artifacts import artifact_copy, artifact_delete, repository_delete, tag_create, tag_delete
from registry.services.manifests import manifest_delete
from registry.tests.api import builders
from system.configuration import config_update

pytestmark = pytest.mark.django_db

ALICE = Actor("alice", "10.1.2.3")
FIELDS = ("username", "source_ip", "project_id", "operation", "resource_type", "resource", "operation_result")


@contextmanager
def recorded() -> Iterator[list[AuditLog]]:
    """The audit rows written inside the block, oldest first."""
    last = AuditLog.objects.order_by("-id").values_list("id", flat=True).first() or 0
    rows: list[AuditLog] = []
    try:
        yield rows
    finally:
        rows.extend(AuditLog.objects.filter(id__gt=last).order_by("id"))


def _one(rows: list[AuditLog]) -> tuple:
    assert len(rows) == 1, [str(r) for r in rows]
    return tuple(getattr(rows[0], name) for name in FIELDS)


def _no_secret_anywhere(secret: str) -> None:
    for row in AuditLog.objects.all():
        assert secret not in f"{row.username} {row.resource} {row.operation_description}"


@pytest.fixture
def lib():
    return project_create(name="lib")


# --- projects ---------------------------------------------------------------------------------------


def test_project_create_update_delete():
    with acting_as(ALICE), recorded() as rows:
        project = project_create(name="alpha")
    assert _one(rows) == ("alice", "10.1.2.3", project.pk, "create", "project", "alpha", True)
    with acting_as(ALICE), recorded() as rows:
        project_update(project=project, public=True)
    assert _one(rows)[3:6] == ("update", "project", "alpha")
    assert rows[0].operation_description == "changed: public"
    with acting_as(ALICE), recorded() as rows:
        project_metadata_add(project=project, values={"auto_scan": "true"})
    assert _one(rows)[2:6] == (project.pk, "update", "project", "alpha")
    assert rows[0].operation_description == "metadata: auto_scan"
    with acting_as(ALICE), recorded() as rows:
        project_delete(project=project)
    assert _one(rows) == ("alice", "10.1.2.3", project.pk, "delete", "project", "alpha", True)


def test_a_refused_project_delete_and_a_rolled_back_create_leave_no_row(lib):
    repository = builders.repository("lib/app")
    builders.image(repository, tag="v1")
    with recorded() as rows, pytest.raises(Precondition):
        project_delete(project=lib)
    assert rows == []
    with recorded() as rows, pytest.raises(RuntimeError):
        _create_then_fail()
    assert rows == []


def _create_then_fail() -> None:
    with transaction.atomic():
        project_create(name="ghost")
        raise RuntimeError("the caller's transaction fails after the service")


# --- artifacts and tags ------------------------------------------------------------------------------


def test_push_by_tag_and_by_digest(lib):
    repository = builders.repository("lib/app")
    with acting_as(ALICE), recorded() as rows:
        artifact = builders.image(repository, tag="v1")
    # Blob records are not audited: exactly one row for the push.
    assert _one(rows) == ("alice", "10.1.2.3", lib.pk, "create", "artifact", "lib/app:v1", True)
    with recorded() as rows:
        by_digest = builders.image(repository, seed="other")
    assert _one(rows) == ("system", "", lib.pk, "create", "artifact", f"lib/app@{by_digest.digest}", True)
    assert artifact.digest != by_digest.digest


def test_v2_deletes_of_a_tag_and_of_an_artifact(lib):
    repository = builders.repository("lib/app")
    artifact = builders.image(repository, tag="v1")
    with acting_as(ALICE), recorded() as rows:
        manifest_delete(repository_name="lib/app", reference="v1")
    assert _one(rows) == ("alice", "10.1.2.3", lib.pk, "delete", "tag", "lib/app:v1", True)
    with acting_as(ALICE), recorded() as rows:
        manifest_delete(repository_name="lib/app", reference=artifact.digest)
    assert _one(rows) == ("alice", "10.1.2.3", lib.pk, "delete", "artifact", f"lib/app@{artifact.digest}", True)


def test_api_tag_create_and_delete_and_artifact_delete(lib):
    repository = builders.repository("lib/app")
    artifact = builders.image(repository, tag="v1")
    with acting_as(ALICE), recorded() as rows:
        tag_create(artifact=artifact, name="v2")
    assert _one(rows) == ("alice", "10.1.2.3", lib.pk, "create", "tag", "lib/app:v2", True)
    with acting_as(ALICE), recorded() as rows:
        tag_delete(artifact=artifact, name="v2")
    assert _one(rows) == ("alice", "10.1.2.3", lib.pk, "delete", "tag", "lib/app:v2", True)
    with acting_as(ALICE), recorded() as rows:
        artifact_delete(artifact=artifact)
    assert _one(rows) == ("alice", "10.1.2.3", lib.pk, "delete", "artifact", f"lib/app@{artifact.digest}", True)
    with recorded() as rows:
        repository_delete(repository=repository)
    assert _one(rows)[2:6] == (lib.pk, "delete", "repository", "lib/app")


def test_a_copy_is_recorded_as_a_push_into_the_target(lib):
    target = project_create(name="copies")
    artifact = builders.image(builders.repository("lib/app"), tag="v1")
    with acting_as(ALICE), recorded() as rows:
        artifact_copy(source=artifact, target=RepositoryName.parse("copies/app"))
    assert _one(rows) == ("alice", "10.1.2.3", target.pk, "create", "artifact", "copies/app:v1", True)


def test_an_artifact_delete_refused_by_an_immutable_tag_rolls_its_record_back(lib):
    repository = builders.repository("lib/app")
    artifact = builders.image(repository, tag="v1")
    immutability_rule_create(
        project=lib,
        scope_selectors={"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
        tag_selectors=[{"kind": "doublestar", "decoration": "matches", "pattern": "v1"}],
    )
    # artifact_delete writes its record before deleting; the refusal below must take it back.
    with recorded() as rows, pytest.raises(Precondition):
        artifact_delete(artifact=artifact)
    assert rows == []


# --- robots, members, immutability rules, quotas ----------------------------------------------------------


def test_robot_create_update_refresh_delete_never_store_the_secret(lib):
    admin = Principal(SysadminFactory())
    permissions = [{"kind": "project", "namespace": "lib", "access": [{"resource": "repository", "action": "pull"}]}]
    with acting_as(ALICE), recorded() as rows:
        robot, secret = robots.robot_create(principal=admin, name="ci", level="project", permissions=permissions)
    assert _one(rows) == ("alice", "10.1.2.3", lib.pk, "create", "robot", "robot$lib+ci", True)
    with recorded() as rows:
        robots.robot_update(
            principal=admin, robot_id=robot.pk, name="ci", level="project", permissions=permissions, disabled=True
        )
    assert _one(rows)[2:6] == (lib.pk, "update", "robot", "robot$lib+ci")
    with recorded() as rows:
        chosen = robots.robot_secret_refresh(principal=admin, robot_id=robot.pk, secret="Chosen-Secret-42")
    assert _one(rows)[2:6] == (lib.pk, "update", "robot", "robot$lib+ci")
    assert chosen == ""
    with recorded() as rows:
        robots.robot_delete(principal=admin, robot_id=robot.pk)
    assert _one(rows)[2:6] == (lib.pk, "delete", "robot", "robot$lib+ci")
    _no_secret_anywhere(secret)
    _no_secret_anywhere("Chosen-Secret-42")


def test_member_create_update_delete_and_the_refused_removal_of_the_last_admin(lib):
    bob = UserFactory(username="bob")
    with acting_as(ALICE), recorded() as rows:
        member = member_create(project=lib, role_id=int(Role.PROJECT_ADMIN), member_user={"username": "bob"})
    assert _one(rows) == ("alice", "10.1.2.3", lib.pk, "create", "member", "bob", True)
    assert rows[0].operation_description == "role projectAdmin"
    with recorded() as rows, pytest.raises(BadRequest):
        member_update(member=member, role_id=int(Role.GUEST))  # the last project admin
    assert rows == []
    other = member_create(project=lib, role_id=int(Role.PROJECT_ADMIN), member_user={"user_id": UserFactory().pk})
    with recorded() as rows:
        member_update(member=member, role_id=int(Role.GUEST))
    assert _one(rows)[2:6] == (lib.pk, "update", "member", "bob")
    with recorded() as rows:
        member_delete(member=member)
    assert _one(rows)[2:6] == (lib.pk, "delete", "member", "bob")
    assert other.role == Role.PROJECT_ADMIN
    assert bob.username == "bob"


def test_immutability_rule_create_update_delete(lib):
    with acting_as(ALICE), recorded() as rows:
        rule = immutability_rule_create(
            project=lib,
            scope_selectors={"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
            tag_selectors=[{"kind": "doublestar", "decoration": "matches", "pattern": "release-*"}],
        )
    assert _one(rows) == ("alice", "10.1.2.3", lib.pk, "create", "immutable_rule", str(rule.pk), True)
    assert "release-*" in rows[0].operation_description
    with recorded() as rows:
        immutability_rule_update(rule=rule, disabled=True)
    assert _one(rows)[2:6] == (lib.pk, "update", "immutable_rule", str(rule.pk))
    assert rows[0].operation_description.endswith("(disabled)")
    rule_id = rule.pk
    with recorded() as rows:
        immutability_rule_delete(rule=rule)
    assert _one(rows)[2:6] == (lib.pk, "delete", "immutable_rule", str(rule_id))


def test_quota_update(lib):
    with acting_as(ALICE), recorded() as rows:
        quota_update(quota=Quota.objects.get(project=lib), hard=1000)
    assert _one(rows) == ("alice", "10.1.2.3", lib.pk, "update", "quota", "lib", True)
    with recorded() as rows, pytest.raises(BadRequest):
        quota_update(quota=Quota.objects.get(project=lib), hard=-5)
    assert rows == []


# --- users and configuration ----------------------------------------------------------------------------


def test_user_lifecycle_never_stores_a_password():
    admin = Principal(SysadminFactory())
    with acting_as(ALICE), recorded() as rows:
        user = accounts.user_create(
            principal=admin,
            carries_session=False,
            username="carol",
            email="carol@example.test",
            password="First-Pass-1",
            realname="Carol",
        )
    assert _one(rows) == ("alice", "10.1.2.3", None, "create", "user", "carol", True)
    with recorded() as rows:
        accounts.user_profile_update(
            principal=admin, user_id=user.pk, email="c@example.test", realname="Carol C", comment=""
        )
    assert _one(rows)[3:6] == ("update", "user", "carol")
    with recorded() as rows:
        accounts.user_password_update(principal=admin, user_id=user.pk, old_password=None, new_password="Second-Pass-2")
    assert _one(rows)[3:6] == ("update", "user", "carol")
    assert rows[0].operation_description == "password"
    with recorded() as rows:
        accounts.user_sysadmin_set(principal=admin, user_id=user.pk, sysadmin=True)
    assert _one(rows)[3:6] == ("update", "user", "carol")
    assert rows[0].operation_description == "sysadmin granted"
    with recorded() as rows:
        accounts.user_delete(principal=admin, user_id=user.pk)
    assert _one(rows)[3:6] == ("delete", "user", "carol")
    _no_secret_anywhere("First-Pass-1")
    _no_secret_anywhere("Second-Pass-2")


def test_configuration_changes_name_the_keys_never_the_values():
    admin = SysadminFactory()
    with acting_as(ALICE), recorded() as rows:
        config_update(changes={"banner_message": "classified-banner", "self_registration": True}, user=admin)
    assert _one(rows) == ("alice", "10.1.2.3", None, "update", "configuration", "configuration", True)
    assert rows[0].operation_description == "changed: banner_message, self_registration"
    _no_secret_anywhere("classified-banner")


# --- logins ---------------------------------------------------------------------------------------------


def test_logins_record_checks_not_cache_hits_and_every_failure():
    UserFactory(username="dave")
    with recorded() as rows:
        assert user_authenticate(username="dave", password=PASSWORD, source_ip="192.0.2.7") is not None
        assert user_authenticate(username="dave", password=PASSWORD, source_ip="192.0.2.7") is not None  # cached
    assert _one(rows) == ("dave", "192.0.2.7", None, "login", "user", "dave", True)
    with recorded() as rows:
        for _ in range(2):
            assert user_authenticate(username="dave", password="Wrong-Pass-9", source_ip="192.0.2.8") is None
        assert user_authenticate(username="nobody", password="Wrong-Pass-9", source_ip="192.0.2.8") is None
    assert [(r.username, r.source_ip, r.operation, r.resource, r.operation_result) for r in rows] == [
        ("dave", "192.0.2.8", "login", "dave", False),
        ("dave", "192.0.2.8", "login", "dave", False),
        ("nobody", "192.0.2.8", "login", "nobody", False),
    ]
    _no_secret_anywhere(PASSWORD)
    _no_secret_anywhere("Wrong-Pass-9")


def test_robot_logins_are_recorded_with_the_robot_name(lib):
    admin = Principal(SysadminFactory())
    permissions = [{"kind": "project", "namespace": "lib", "access": [{"resource": "repository", "action": "pull"}]}]
    _robot, secret = robots.robot_create(principal=admin, name="ci", level="project", permissions=permissions)
    with recorded() as rows:
        assert user_authenticate(username="robot$lib+ci", password=secret, source_ip="192.0.2.9") is not None
        assert user_authenticate(username="robot$lib+ci", password="nope", source_ip="192.0.2.9") is None
    assert [(r.username, r.is_robot, r.resource, r.operation_result) for r in rows] == [
        ("robot$lib+ci", True, "robot$lib+ci", True),
        ("robot$lib+ci", True, "robot$lib+ci", False),
    ]
    _no_secret_anywhere(secret)


def test_token_service_and_basic_auth_failures_are_recorded_with_the_client_address(client):
    UserFactory(username="erin")
    with recorded() as rows:
        assert client.get("/service/token", HTTP_AUTHORIZATION=_basic("erin", "bad")).status_code == 401
        assert (
            client.post("/service/token", {"grant_type": "password", "username": "erin", "password": "bad"}).status_code
            == 401
        )
        assert client.get("/v2/", HTTP_AUTHORIZATION=_basic("erin", "bad")).status_code == 401
        assert client.get("/api/v2.0/users/current", HTTP_AUTHORIZATION=_basic("erin", "bad")).status_code == 401
        assert client.get("/service/token", HTTP_AUTHORIZATION=_basic("erin", PASSWORD)).status_code == 200
    assert [(r.username, r.source_ip, r.operation, r.operation_result) for r in rows] == [
        ("erin", "127.0.0.1", "login", False),
        ("erin", "127.0.0.1", "login", False),
        ("erin", "127.0.0.1", "login", False),
        ("erin", "127.0.0.1", "login", False),
        ("erin", "127.0.0.1", "login", True),
    ]


def _basic(username: str, password: str) -> str:
    import base64

    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()
