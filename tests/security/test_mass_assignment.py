"""Mass assignment: privileged fields in request bodies change nothing; the database is the witness.

Each test sends what a low-privilege caller may send (so the request itself is accepted or refused
for its own reasons) padded with fields the caller must not control, then reads the rows back.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from common.configuration import config_cache_clear, config_get
from common.models import Setting
from projects.models import Member, Project, Quota, Robot, Role, UserGroup
from projects.quotas import quota_fold
from registry.models import Label, Repository, Tag
from tests.security.world import PRINCIPAL, PW, Who, World

pytestmark = pytest.mark.django_db
API = "/api/v2.0"
User = get_user_model()


def _client(name: str):  # noqa: ANN202
    return PRINCIPAL[name].client()


def _user(name: str):  # noqa: ANN202
    return User.objects.get(username=name)


def _metadata(world: World, key: str) -> dict[str, str]:
    """A world project's metadata as seeded (its retention policy sets `retention_id`)."""
    return {"auto_scan": "false", "retention_id": str(world.extra["retention"][key]["id"])}


def _flags(user) -> tuple:  # noqa: ANN001
    user.refresh_from_db()
    return user.is_superuser, user.is_staff, user.is_active, user.username


# --- users -----------------------------------------------------------------------------------------------


def test_profile_update_takes_only_email_realname_comment(world: World):
    guest, target = _user("guest"), _user("target")
    target_before = _flags(target), target.email, target.password
    body = {
        "email": "guest-new@example.test",
        "realname": "Guest",
        "comment": "",
        "sysadmin_flag": True,
        "admin_role_in_auth": True,
        "user_id": target.pk,
        "username": "root2",
        "password": "Hacked-Passw0rd",
        "creation_time": "2000-01-01T00:00:00Z",
    }
    assert _client("guest").put(f"{API}/users/{guest.pk}", body, format="json").status_code == 200
    assert _flags(guest) == (False, False, True, "guest")
    assert guest.email == "guest-new@example.test"
    assert guest.check_password(PW)
    assert not guest.check_password("Hacked-Passw0rd")
    assert (_flags(target), target.email, target.password) == target_before


def test_password_change_takes_only_the_password(world: World):
    guest, target = _user("guest"), _user("target")
    body = {"old_password": PW, "new_password": "N3w-Passw0rd", "sysadmin_flag": True, "user_id": target.pk}
    assert _client("guest").put(f"{API}/users/{guest.pk}/password", body, format="json").status_code == 200
    assert _flags(guest)[:2] == (False, False)
    target.refresh_from_db()
    assert target.check_password(PW)


@pytest.mark.parametrize("caller", ["guest", "projectAdmin", "robot"])
def test_nobody_but_a_sysadmin_sets_sysadmin(world: World, caller):
    who: Who = PRINCIPAL[caller]
    me = _user(who.username) if who.kind == "user" else _user("target")
    response = who.client().put(f"{API}/users/{me.pk}/sysadmin", {"sysadmin_flag": True}, format="json")
    assert response.status_code == 403
    assert _flags(me)[:2] == (False, False)


def test_user_creation_ignores_sysadmin_flag_and_ids(world: World):
    body = {
        "username": "fresh",
        "email": "fresh@example.test",
        "password": "Fr3sh-Passw0rd",
        "realname": "Fresh",
        "sysadmin_flag": True,
        "admin_role_in_auth": True,
        "user_id": 4242,
    }
    assert _client("anonymous").post(f"{API}/users", body, format="json").status_code == 401
    assert _client("guest").post(f"{API}/users", body, format="json").status_code == 403
    assert not User.objects.filter(username="fresh").exists()
    assert _client("sysadmin").post(f"{API}/users", body, format="json").status_code == 201
    fresh = _user("fresh")
    assert (fresh.is_superuser, fresh.is_staff) == (False, False)
    assert fresh.pk != 4242


# --- projects and members --------------------------------------------------------------------------------


def test_project_creation_ignores_owner_and_ids(world: World):
    outsider, root = _user("outsider"), _user("root")
    body = {
        "project_name": "mine",
        "owner_id": root.pk,
        "owner_name": "root",
        "project_id": 4242,
        "metadata": {"public": "false"},
        "current_user_role_id": Role.PROJECT_ADMIN,
        "repo_count": 99,
    }
    assert _client("outsider").post(f"{API}/projects", body, format="json").status_code == 201
    project = Project.objects.get(name="mine")
    assert project.owner_id == outsider.pk
    assert list(Member.objects.filter(project=project).values_list("user_id", "role")) == [
        (outsider.pk, Role.PROJECT_ADMIN)
    ]


def test_project_update_changes_no_name_owner_or_quota(world: World):
    """Harbor's updateProject never touches the quota: storage limits are the sysadmins' (/quotas)."""
    a, b = world.projects["private"], world.projects["tenantb"]
    Quota.objects.filter(project_id=a.id).update(hard=1000)
    body = {
        "project_name": "renamed",
        "owner_id": world.users["padmin"],
        "project_id": b.id,
        "storage_limit": -1,
        "metadata": {"auto_scan": "true"},
    }
    assert _client("projectAdmin").put(f"{API}/projects/{a.name}", body, format="json").status_code == 200
    project = Project.objects.get(pk=a.id)
    assert (project.name, project.owner_id) == ("priv", None)
    assert project.metadata["auto_scan"] == "true"
    assert Quota.objects.get(project_id=a.id).hard == 1000
    assert Project.objects.get(pk=b.id).metadata == _metadata(world, "tenantb")
    # and who may not update the project changes nothing at all
    assert _client("maintainer").put(f"{API}/projects/{a.name}", body, format="json").status_code == 403
    assert Project.objects.get(pk=a.id).metadata["auto_scan"] == "true"


def test_member_creation_stays_in_the_path_project(world: World):
    a, b = world.projects["private"], world.projects["tenantb"]
    body = {
        "role_id": Role.GUEST,
        "member_user": {"username": "target"},
        "project_id": b.id,
        "entity_type": "g",
        "entity_id": world.group_id,
        "entity_name": "devs",
        "id": 4242,
    }
    assert _client("projectAdmin").post(f"{API}/projects/{a.name}/members", body, format="json").status_code == 201
    created = Member.objects.get(user_id=world.users["target"])
    assert (created.project_id, created.group_id, created.role) == (a.id, None, Role.GUEST)
    assert not Member.objects.filter(project_id=b.id, user_id=world.users["target"]).exists()


def test_member_update_changes_only_the_role(world: World):
    a, b = world.projects["private"], world.projects["tenantb"]
    body = {
        "role_id": Role.GUEST,
        "project_id": b.id,
        "entity_id": world.users["root"],
        "entity_type": "g",
        "member_user": {"user_id": world.users["root"]},
        "member_group": {"id": world.group_id},
    }
    url = f"{API}/projects/{a.name}/members/{a.member_id}"
    assert _client("projectAdmin").put(url, body, format="json").status_code == 200
    member = Member.objects.get(pk=a.member_id)
    assert (member.project_id, member.user_id, member.group_id, member.role) == (
        a.id,
        world.users["extra"],
        None,
        Role.GUEST,
    )


@pytest.mark.parametrize("caller", ["maintainer", "developer", "guest", "limitedGuest"])
def test_members_cannot_promote_themselves(world: World, caller):
    who = PRINCIPAL[caller]
    a = world.projects["private"]
    mine = Member.objects.get(project_id=a.id, user__username=who.username)
    before = mine.role
    url = f"{API}/projects/{a.name}/members/{mine.pk}"
    assert who.client().put(url, {"role_id": Role.PROJECT_ADMIN}, format="json").status_code == 403
    add = {"role_id": Role.PROJECT_ADMIN, "member_user": {"username": who.username}}
    assert who.client().post(f"{API}/projects/{a.name}/members", add, format="json").status_code in (403, 404)
    assert Member.objects.get(pk=mine.pk).role == before


# --- robots ------------------------------------------------------------------------------------------------


def _perm(namespace: str, *pairs: str) -> list[dict]:
    access = [{"resource": p.split(":")[0], "action": p.split(":")[1]} for p in pairs]
    return [{"kind": "project", "namespace": namespace, "access": access}]


def _robot_client(name: str, secret: str):  # noqa: ANN202
    return Who(name, "robot", name, secret).client()


def test_robot_creation_ignores_creator_project_and_ids(world: World):
    b = world.projects["tenantb"]
    body = {
        "name": "made",
        "level": "project",
        "duration": -1,
        "permissions": _perm("priv", "repository:pull"),
        "creator_ref": world.users["root"],
        "creator_type": "robot",
        "id": 4242,
        "project_id": b.id,
        "editable": False,
        "expires_at": 1,
    }
    response = _client("projectAdmin").post(f"{API}/robots", body, format="json")
    assert response.status_code == 201, response.content
    robot = Robot.objects.get(name="made")
    assert (robot.creator_type, robot.creator_ref) == ("local", world.users["padmin"])
    assert (robot.project_id, robot.level, robot.expires_at) == (world.projects["private"].id, "project", None)


@pytest.fixture
def maker(world: World) -> tuple[Robot, object]:
    """A robot of priv that may create and update robots, holding only repository pull besides."""
    body = {
        "name": "maker",
        "level": "project",
        "duration": -1,
        "secret": "Maker-Secret-1x",
        "permissions": _perm("priv", "robot:create", "robot:update", "robot:read", "repository:pull"),
    }
    assert _client("projectAdmin").post(f"{API}/robots", body, format="json").status_code == 201
    return Robot.objects.get(name="maker"), _robot_client("robot$priv+maker", "Maker-Secret-1x")


def test_a_robot_grants_no_more_than_it_holds(world: World, maker):
    _, client = maker
    for pairs in (("repository:push",), ("member:create",), ("robot:delete",), ("repository:pull", "label:create")):
        body = {"name": "child", "level": "project", "duration": -1, "permissions": _perm("priv", *pairs)}
        assert client.post(f"{API}/robots", body, format="json").status_code == 403, pairs
    assert not Robot.objects.filter(name="child").exists()
    ok = {"name": "child", "level": "project", "duration": -1, "permissions": _perm("priv", "repository:pull")}
    assert client.post(f"{API}/robots", ok, format="json").status_code == 201
    # nor by updating another robot, nor by refreshing (learning) the secret of a stronger one
    target = Robot.objects.get(pk=world.projects["private"].robot_id)
    target_before = target.permissions
    stronger = {"name": "target", "level": "project", "duration": -1}
    stronger["permissions"] = _perm("priv", "repository:pull", "repository:delete")
    assert client.put(f"{API}/robots/{target.pk}", stronger, format="json").status_code == 403
    assert Robot.objects.get(pk=target.pk).permissions == target_before
    full = world.full_robot_id
    hash_before = Robot.objects.get(pk=full).secret_hash
    assert client.patch(f"{API}/robots/{full}", {}, format="json").status_code == 403
    assert Robot.objects.get(pk=full).secret_hash == hash_before


def test_a_robot_cannot_widen_its_own_permissions(world: World, maker):
    robot, client = maker
    body = {"name": "maker", "level": "project", "duration": -1}
    body["permissions"] = _perm(
        "priv", "robot:create", "robot:update", "robot:read", "repository:pull", "repository:push"
    )
    before = robot.permissions
    assert client.put(f"{API}/robots/{robot.pk}", body, format="json").status_code == 403
    robot.refresh_from_db()
    assert robot.permissions == before


def test_project_admins_make_no_system_or_foreign_robots(world: World):
    client = _client("projectAdmin")
    names_before = set(Robot.objects.values_list("name", flat=True))
    system = {"name": "sys", "level": "system", "duration": -1}
    system["permissions"] = [{"kind": "system", "namespace": "/", "access": [{"resource": "user", "action": "create"}]}]
    assert client.post(f"{API}/robots", system, format="json").status_code == 403
    mixed = {"name": "mixed", "level": "project", "duration": -1, "permissions": system["permissions"]}
    assert client.post(f"{API}/robots", mixed, format="json").status_code == 400
    every = {"name": "every", "level": "project", "duration": -1, "permissions": _perm("*", "repository:pull")}
    assert client.post(f"{API}/robots", every, format="json").status_code == 400
    two = _perm("priv", "repository:pull") + _perm("tenantb", "repository:pull")
    both = {"name": "both", "level": "project", "duration": -1, "permissions": two}
    assert client.post(f"{API}/robots", both, format="json").status_code == 400
    target = world.projects["private"].robot_id
    relevel = {"name": "target", "level": "system", "duration": -1, "permissions": system["permissions"]}
    assert client.put(f"{API}/robots/{target}", relevel, format="json").status_code == 400
    moved = {"name": "target", "level": "project", "duration": -1, "permissions": _perm("tenantb", "repository:pull")}
    assert client.put(f"{API}/robots/{target}", moved, format="json").status_code in (400, 404)
    assert set(Robot.objects.values_list("name", flat=True)) == names_before
    robot = Robot.objects.get(pk=target)
    assert (robot.level, robot.project_id) == ("project", world.projects["private"].id)
    assert robot.permissions[0]["namespace"] == "priv"


# --- quotas, labels, configuration -------------------------------------------------------------------------


def test_quota_update_sets_only_the_hard_limit(world: World):
    a = world.projects["private"]
    quota_fold(project_id=a.id)  # no pushes' deltas pending: `used` is all of the usage
    Quota.objects.filter(pk=a.quota_id).update(used=123, hard=-1)
    body = {"hard": {"storage": 5000}, "used": {"storage": 0}, "ref": {"id": world.projects["tenantb"].id}, "id": 1}
    assert _client("projectAdmin").put(f"{API}/quotas/{a.quota_id}", body, format="json").status_code == 403
    assert Quota.objects.get(pk=a.quota_id).hard == -1
    assert _client("sysadmin").put(f"{API}/quotas/{a.quota_id}", body, format="json").status_code == 200
    quota = Quota.objects.get(pk=a.quota_id)
    assert (quota.hard, quota.used, quota.project_id) == (5000, 123, a.id)


def test_labels_keep_their_scope_and_project(world: World):
    a, b = world.projects["private"], world.projects["tenantb"]
    client = _client("projectAdmin")
    assert (
        client.post(f"{API}/labels", {"name": "x", "scope": "p", "project_id": b.id}, format="json").status_code == 404
    )
    assert client.post(f"{API}/labels", {"name": "x", "scope": "g"}, format="json").status_code == 403
    assert not Label.objects.filter(name="x").exists()
    body = {"name": "renamed", "scope": "g", "project_id": b.id, "id": world.global_label_id}
    assert client.put(f"{API}/labels/{a.label_id}", body, format="json").status_code == 200
    label = Label.objects.get(pk=a.label_id)
    assert (label.name, label.scope, label.project_id) == ("renamed", "p", a.id)
    assert Label.objects.get(pk=world.global_label_id).name == "glob"


@pytest.mark.parametrize("caller", ["outsider", "projectAdmin", "robot"])
def test_configuration_is_the_sysadmins(world: World, caller):
    body = {"self_registration": True, "project_creation_restriction": "adminonly", "read_only": True}
    assert PRINCIPAL[caller].client().put(f"{API}/configurations", body, format="json").status_code == 403
    config_cache_clear()
    assert not Setting.objects.exists()
    assert (config_get("self_registration"), config_get("read_only")) == (False, False)


def test_not_editable_configuration_stays(world: World):
    response = _client("sysadmin").put(f"{API}/configurations", {"auth_mode": "ldap_auth"}, format="json")
    assert response.status_code == 400
    config_cache_clear()
    assert config_get("auth_mode") == "db_auth"


# --- registry objects ----------------------------------------------------------------------------------------


def test_repository_update_changes_only_the_description(world: World):
    a, b = world.projects["private"], world.projects["tenantb"]
    body = {"description": "mine", "project_id": b.id, "name": "tenantb/evil", "pull_count": 999, "id": b.repository_id}
    url = f"{API}/projects/{a.name}/repositories/{a.repository}"
    assert _client("developer").put(url, body, format="json").status_code == 200
    repo = Repository.objects.get(pk=a.repository_id)
    assert (repo.name, repo.project_id, repo.pull_count, repo.description) == ("priv/app", a.id, 0, "mine")
    assert Repository.objects.get(pk=b.repository_id).description == ""


def test_tag_creation_stays_on_the_path_artifact(world: World):
    a, b = world.projects["private"], world.projects["tenantb"]
    body = {"name": "v7", "repository_id": b.repository_id, "artifact_id": b.artifact_id, "id": 4242, "immutable": True}
    url = f"{API}/projects/{a.name}/repositories/{a.repository}/artifacts/{a.digest}/tags"
    assert _client("developer").post(url, body, format="json").status_code == 201
    tag = Tag.objects.get(name="v7")
    assert (tag.repository_id, tag.artifact_id) == (a.repository_id, a.artifact_id)
    assert not Tag.objects.filter(repository_id=b.repository_id, name="v7").exists()


def test_group_update_renames_only(world: World):
    body = {"group_name": "renamed", "group_type": 1, "ldap_group_dn": "cn=admins,dc=example"}
    url = f"{API}/usergroups/{world.group_id}"
    assert _client("projectAdmin").put(url, body, format="json").status_code == 403
    assert _client("sysadmin").put(url, body, format="json").status_code == 200
    group = UserGroup.objects.get(pk=world.group_id)
    assert (group.name, group.group_type, group.ldap_group_dn) == ("renamed", 2, "")


def test_metadata_takes_only_known_keys(world: World):
    a = world.projects["private"]
    url = f"{API}/projects/{a.name}/metadatas/"
    assert _client("maintainer").post(url, {"prevent_vul": "true"}, format="json").status_code == 403
    for body in ({"owner_id": "1"}, {"name": "renamed"}, {"project_id": str(world.projects["tenantb"].id)}):
        assert _client("projectAdmin").post(url, body, format="json").status_code == 400, body
    project = Project.objects.get(pk=a.id)
    assert (project.name, project.owner_id, project.metadata) == ("priv", None, _metadata(world, "private"))
