"""The operator console for users, robots, labels, configuration and quotas: pages render, every write
goes through its service (refusals shown, nothing saved), secrets show once, hashes never."""

from __future__ import annotations

import json
import re

import pytest
from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.urls import NoReverseMatch, reverse

from common.configuration import config_get
from common.models import Setting
from projects import authentication
from projects.accounts import PASSWORD_RULE
from projects.models import Member, Project, Quota, Robot, Role, UserGroup, UserProfile
from projects.services import project_create
from projects.tests.factories import PASSWORD, SysadminFactory, UserFactory
from registry.models import Label
from registry.tests.factories import RepositoryFactory

pytestmark = pytest.mark.django_db

User = get_user_model()
STRONG = "Str0ng-Passw0rd"
ROBOT_PERMISSIONS = [
    {"kind": "project", "namespace": "console", "access": [{"resource": "repository", "action": "pull"}]}
]


# --- helpers -----------------------------------------------------------------------------------------


def changeform_data(response) -> dict:
    """The POST body a browser would send back from an admin change page, inlines included."""
    data: dict = {}

    def add(form: forms.BaseForm) -> None:
        for bound in form:
            if bound.field.disabled:
                continue
            value = bound.value()
            if isinstance(bound.field, forms.BooleanField):
                if value:
                    data[bound.html_name] = "on"
            elif value is not None:
                data[bound.html_name] = value

    add(response.context["adminform"].form)
    for inline in response.context["inline_admin_formsets"]:
        add(inline.formset.management_form)
        for form in inline.formset.forms:
            add(form)
    return data


def action(client, changelist: str, name: str, objects, **extra):
    """Run an admin action on some objects and follow to the page showing its messages."""
    body = {"action": name, "_selected_action": [o.pk for o in objects], **extra}
    return client.post(reverse(changelist), body, follow=True)


def text(response) -> str:
    return response.content.decode()


def shown(response) -> str:
    """The messages a (followed) admin response displayed."""
    return " | ".join(str(m) for m in response.context["messages"])


@pytest.fixture
def project():
    return project_create(name="console")


@pytest.fixture
def robot_with_secret(admin_client, project):
    """A robot created through the console, with the secret its creation page showed."""
    response = admin_client.post(
        reverse("admin:projects_robot_add"),
        {
            "name": "ci",
            "level": "project",
            "description": "builds",
            "duration": "-1",
            "permissions": json.dumps(ROBOT_PERMISSIONS),
        },
    )
    assert response.status_code == 200, text(response)[:3000]
    secret = re.search(r'<code class="robot-secret">([A-Za-z0-9]+)</code>', text(response)).group(1)
    return Robot.objects.get(name="ci"), secret, response


# --- pages render ---------------------------------------------------------------------------------------


@pytest.fixture
def seeded(admin_user, project):
    user = UserFactory(username="console-user")
    UserProfile.objects.create(user=user, realname="Console User", comment="hi")
    robot = Robot.objects.create(name="bot", level="project", project=project, secret_hash="x", permissions=[])
    label = Label.objects.create(name="console-label", scope=Label.GLOBAL)
    group = UserGroup.objects.create(name="console-group", group_type=2)
    return {"user": user, "robot": robot, "label": label, "group": group, "project": project}


@pytest.mark.parametrize(
    ("name", "obj"),
    [
        ("admin:index", None),
        ("admin:auth_user_changelist", None),
        ("admin:auth_user_add", None),
        ("admin:auth_user_change", "user"),
        ("admin:auth_user_password_change", "user"),
        ("admin:auth_user_history", "user"),
        ("admin:projects_robot_changelist", None),
        ("admin:projects_robot_add", None),
        ("admin:projects_robot_change", "robot"),
        ("admin:registry_label_changelist", None),
        ("admin:registry_label_add", None),
        ("admin:registry_label_change", "label"),
        ("admin:common_setting_changelist", None),
        ("admin:projects_project_change", "project"),
        ("admin:projects_project_changelist", None),
        ("admin:projects_usergroup_changelist", None),
        ("admin:projects_usergroup_add", None),
        ("admin:projects_usergroup_change", "group"),
        ("admin:projects_member_changelist", None),
        ("admin:common_execution_changelist", None),
    ],
)
def test_every_console_page_renders_for_a_sysadmin(admin_client, seeded, name, obj):
    url = reverse(name, args=[seeded[obj].pk] if obj else [])
    response = admin_client.get(url)
    assert response.status_code == 200, text(response)[:2000]
    if name.endswith("_changelist"):
        assert admin_client.get(url, {"q": "console"}).status_code == 200


def test_index_links_the_new_pages(admin_client):
    page = text(admin_client.get(reverse("admin:index")))
    for name in ("auth_user", "projects_robot", "registry_label", "common_setting"):
        assert reverse(f"admin:{name}_changelist") in page


@pytest.mark.parametrize(
    ("changelist", "make"),
    [
        ("admin:auth_user_changelist", lambda i, p: UserProfile.objects.create(user=UserFactory(), realname=f"U {i}")),
        (
            "admin:projects_robot_changelist",
            lambda i, p: Robot.objects.create(
                name=f"r{i}", level="project", project=p, secret_hash="x", creator_type="local", creator_ref=1
            ),
        ),
        (
            "admin:registry_label_changelist",
            lambda i, p: Label.objects.create(name=f"l{i}", scope=Label.PROJECT, project=p),
        ),
        ("admin:projects_project_changelist", lambda i, p: project_create(name=f"p{i}")),
        ("admin:projects_member_changelist", lambda i, p: Member.objects.create(project=p, user=UserFactory(), role=2)),
    ],
)
def test_changelists_cost_a_fixed_number_of_queries(
    admin_client, project, django_assert_max_num_queries, changelist, make
):
    for i in range(30):
        make(i, project)
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse(changelist), {"o": "1"})
    assert response.status_code == 200


@pytest.mark.parametrize(
    ("changelist", "columns"),
    [
        ("admin:auth_user_changelist", 8),
        ("admin:projects_robot_changelist", 7),
        ("admin:registry_label_changelist", 7),
        ("admin:projects_project_changelist", 7),
        ("admin:projects_member_changelist", 4),
        ("admin:projects_usergroup_changelist", 5),
    ],
)
def test_every_column_sorts(admin_client, seeded, changelist, columns):
    for column in range(1, columns + 1):
        for order in (str(column), f"-{column}"):
            response = admin_client.get(reverse(changelist), {"o": order})
            assert response.status_code == 200
            cl = response.context["cl"]
            assert cl.get_ordering_field(cl.list_display[column]) is not None, cl.list_display[column]


# --- who may enter -------------------------------------------------------------------------------------


def test_non_staff_users_cannot_reach_the_console(client):
    client.force_login(UserFactory())
    for name in (
        "admin:index",
        "admin:auth_user_changelist",
        "admin:projects_robot_changelist",
        "admin:common_setting_changelist",
    ):
        response = client.get(reverse(name))
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


def test_staff_without_sysadmin_is_refused_by_the_oracle(client):
    client.force_login(UserFactory(is_staff=True))
    for name in ("admin:auth_user_changelist", "admin:projects_robot_changelist", "admin:registry_label_changelist"):
        assert client.get(reverse(name)).status_code == 403
    assert client.get(reverse("admin:common_setting_changelist")).status_code == 403
    assert client.post(reverse("admin:common_setting_changelist"), {"read_only": "on"}).status_code == 403
    assert config_get("read_only") is False


# --- users ---------------------------------------------------------------------------------------------


def _new_user(**overrides) -> dict:
    return {
        "username": "alice",
        "email": "alice@example.test",
        "realname": "Alice",
        "comment": "ops",
        "password1": STRONG,
        "password2": STRONG,
        **overrides,
    }


def test_creating_a_user_goes_through_user_create(admin_client):
    response = admin_client.post(reverse("admin:auth_user_add"), _new_user())
    assert response.status_code == 302
    user = User.objects.get(username="alice")
    assert user.check_password(STRONG)
    assert not user.is_superuser
    assert (user.harbor_profile.realname, user.harbor_profile.comment) == ("Alice", "ops")


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"password1": "weakpass", "password2": "weakpass"}, PASSWORD_RULE),
        ({"password2": "Other-Passw0rd"}, "The two passwords differ."),
        # valid for Django's email field, not for Harbor's rule (the service's)
        ({"email": "alice@localhost"}, "email with illegal format"),
        ({"username": "bad:name"}, "username contains illegal characters"),
    ],
)
def test_user_creation_refusals_are_shown_and_nothing_is_saved(admin_client, overrides, message):
    response = admin_client.post(reverse("admin:auth_user_add"), _new_user(**overrides))
    assert response.status_code == 200
    assert message in text(response)
    assert not User.objects.filter(email=_new_user(**overrides)["email"]).exists()


def test_a_taken_username_is_a_conflict_shown_on_the_form(admin_client):
    UserFactory(username="alice")
    response = admin_client.post(reverse("admin:auth_user_add"), _new_user())
    assert response.status_code == 200
    assert "already exists" in text(response)
    assert User.objects.filter(username="alice").count() == 1


def test_password_hashes_are_never_rendered(admin_client, admin_user, seeded):
    user = seeded["user"]
    pages = [
        reverse("admin:auth_user_changelist"),
        reverse("admin:auth_user_change", args=[user.pk]),
        reverse("admin:auth_user_change", args=[admin_user.pk]),
        reverse("admin:auth_user_password_change", args=[user.pk]),
        reverse("admin:auth_user_delete", args=[user.pk]),
        reverse("admin:auth_user_history", args=[user.pk]),
    ]
    algorithm, salt, _ = user.password.split("$", 2)
    for url in pages:
        page = text(admin_client.get(url))
        assert user.password not in page
        assert admin_user.password not in page
        assert salt not in page
        assert "algorithm" not in page.lower()
        assert f"{algorithm}$" not in page
        assert 'name="password"' not in page


def test_profile_change_goes_through_the_service(admin_client, seeded):
    user = seeded["user"]
    url = reverse("admin:auth_user_change", args=[user.pk])
    data = changeform_data(admin_client.get(url))
    assert data["realname"] == "Console User"
    refused = admin_client.post(url, {**data, "email": "x@localhost"})
    assert refused.status_code == 200
    assert "email with illegal format" in text(refused)
    response = admin_client.post(url, {**data, "email": "new@example.test", "realname": "New Name", "comment": "c"})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.email == "new@example.test"
    assert user.harbor_profile.realname == "New Name"
    # username, sysadmin and active are not editable there
    assert not User.objects.filter(username="renamed").exists()


def test_an_administrator_resets_a_password_through_the_service(admin_client, seeded):
    user = seeded["user"]
    url = reverse("admin:auth_user_password_change", args=[user.pk])
    assert authentication.user_authenticate(username=user.username, password=PASSWORD) == user
    assert user.pk in authentication._BASIC_KEYS_BY_USER  # a remembered Basic credential check

    weak = admin_client.post(url, {"password1": "weakpass", "password2": "weakpass"})
    assert weak.status_code == 200
    assert PASSWORD_RULE in text(weak)
    same = admin_client.post(url, {"password1": PASSWORD, "password2": PASSWORD})
    assert "New password is identical to old password" in text(same)
    user.refresh_from_db()
    assert user.check_password(PASSWORD)

    response = admin_client.post(url, {"password1": STRONG, "password2": STRONG})
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.check_password(STRONG)
    assert user.harbor_profile.password_changed is not None
    assert user.pk not in authentication._BASIC_KEYS_BY_USER  # forgotten at once
    assert authentication.user_authenticate(username=user.username, password=PASSWORD) is None


def test_your_own_password_needs_the_current_one_and_keeps_you_signed_in(client):
    me = SysadminFactory()
    client.force_login(me)
    url = reverse("admin:auth_user_password_change", args=[me.pk])
    wrong = client.post(url, {"old_password": "Wrong-passw0rd", "password1": STRONG, "password2": STRONG})
    assert "Current password is incorrect" in text(wrong)
    response = client.post(url, {"old_password": PASSWORD, "password1": STRONG, "password2": STRONG})
    assert response.status_code == 302
    me.refresh_from_db()
    assert me.check_password(STRONG)
    assert client.get(reverse("admin:index")).status_code == 200


def test_the_console_own_password_link_leads_to_the_service_backed_page(admin_client, admin_user):
    own = reverse("admin:auth_user_password_change", args=[admin_user.pk])
    assert admin_client.get(reverse("admin:password_change"))["Location"] == own
    # Django's own form (which would save any password directly) is not reachable.
    body = {"old_password": "password", "new_password1": "weak", "new_password2": "weak"}
    assert admin_client.post(reverse("admin:password_change"), body).status_code == 302
    admin_user.refresh_from_db()
    assert admin_user.check_password("password")


def test_sysadmin_flag_goes_through_the_service_and_the_last_one_stays(admin_client, admin_user, seeded):
    user = seeded["user"]
    changelist = "admin:auth_user_changelist"
    # admin_user is the only system administrator: demoting them is refused, with the service's message.
    refused = action(admin_client, changelist, "revoke_sysadmin", [admin_user])
    assert "the last system administrator can't be demoted" in shown(refused)
    admin_user.refresh_from_db()
    assert admin_user.is_superuser

    action(admin_client, changelist, "grant_sysadmin", [user])
    user.refresh_from_db()
    assert user.is_superuser
    assert user.is_staff
    action(admin_client, changelist, "revoke_sysadmin", [user])
    user.refresh_from_db()
    assert not user.is_superuser
    assert not user.is_staff
    # Both at once: one goes, the last stays.
    other = SysadminFactory()
    response = action(admin_client, changelist, "revoke_sysadmin", [admin_user, other])
    assert "can't be demoted" in shown(response)
    assert User.objects.filter(is_superuser=True).count() == 1


def test_deleting_users_goes_through_the_service(admin_client, admin_user, seeded):
    user = seeded["user"]
    changelist = "admin:auth_user_changelist"
    confirm = admin_client.post(
        reverse(changelist), {"action": "delete_selected", "_selected_action": [user.pk, admin_user.pk]}
    )
    assert confirm.status_code == 200  # Django's confirmation page first
    assert User.objects.filter(pk=user.pk).exists()
    response = action(admin_client, changelist, "delete_selected", [user, admin_user], post="yes")
    assert f"User with ID {admin_user.pk} cannot be deleted" in shown(response)
    assert not User.objects.filter(pk=user.pk).exists()
    assert User.objects.filter(pk=admin_user.pk).exists()
    own = admin_client.post(reverse("admin:auth_user_delete", args=[admin_user.pk]), {"post": "yes"}, follow=True)
    assert "cannot be deleted" in shown(own)
    assert User.objects.filter(pk=admin_user.pk).exists()


# --- robots --------------------------------------------------------------------------------------------


def test_a_new_robot_secret_is_shown_once_and_never_again(admin_client, admin_user, robot_with_secret):
    robot, secret, response = robot_with_secret
    assert robot.full_name == "robot$console+ci"
    assert robot.expires_at is None
    assert (robot.creator_type, robot.creator_ref) == ("local", admin_user.pk)
    assert check_password(secret, robot.secret_hash)
    assert authentication.user_authenticate(username=robot.full_name, password=secret) == robot
    assert "no-store" in response["Cache-Control"]
    # Nowhere but that response: not in the session, not in a cookie, not in any page afterwards.
    assert secret not in json.dumps(dict(admin_client.session.items()), default=str)
    assert all(secret not in morsel.value for morsel in response.cookies.values())
    assert all(secret not in morsel.value for morsel in admin_client.cookies.values())
    for url in (
        reverse("admin:projects_robot_change", args=[robot.pk]),
        reverse("admin:projects_robot_changelist"),
        reverse("admin:projects_robot_history", args=[robot.pk]),
        reverse("admin:index"),
    ):
        page = text(admin_client.get(url))
        assert secret not in page
        assert robot.secret_hash not in page
        assert "secret_hash" not in page
    listing = text(admin_client.get(reverse("admin:projects_robot_changelist")))
    assert "robot$console+ci" in listing
    assert f"{admin_user.username} (local)" in listing


def test_robot_creation_refusals_are_shown(admin_client, project):
    url = reverse("admin:projects_robot_add")
    base = {"name": "ci", "level": "project", "duration": "-1"}
    bad_access = [{"kind": "project", "namespace": "console", "access": [{"resource": "nope", "action": "pull"}]}]
    response = admin_client.post(url, {**base, "permissions": json.dumps(bad_access)})
    assert response.status_code == 200
    assert "cannot be granted" in text(response)
    response = admin_client.post(url, {**base, "name": "Bad Name", "permissions": json.dumps(ROBOT_PERMISSIONS)})
    assert "robot name is not in lower case" in text(response)
    assert not Robot.objects.exists()


def test_robot_changes_and_actions_go_through_the_services(admin_client, robot_with_secret):
    robot, secret, _ = robot_with_secret
    url = reverse("admin:projects_robot_change", args=[robot.pk])
    data = changeform_data(admin_client.get(url))
    assert "secret_hash" not in data
    response = admin_client.post(url, {**data, "description": "nightly", "duration": "7"})
    assert response.status_code == 302
    robot.refresh_from_db()
    assert robot.description == "nightly"
    assert robot.duration == 7
    assert robot.expires_at is not None
    elsewhere = [{**ROBOT_PERMISSIONS[0], "namespace": "other"}]
    refused = admin_client.post(url, {**data, "permissions": json.dumps(elsewhere)})
    assert "holds permissions in that project only" in text(refused)

    changelist = "admin:projects_robot_changelist"
    action(admin_client, changelist, "disable_robots", [robot])
    robot.refresh_from_db()
    assert robot.disabled
    assert authentication.user_authenticate(username=robot.full_name, password=secret) is None
    action(admin_client, changelist, "enable_robots", [robot])
    robot.refresh_from_db()
    assert not robot.disabled


def test_refreshing_a_secret_shows_the_new_one_once(admin_client, robot_with_secret):
    robot, old, _ = robot_with_secret
    response = admin_client.post(
        reverse("admin:projects_robot_changelist"), {"action": "refresh_secrets", "_selected_action": [robot.pk]}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    new = re.search(r'<code class="robot-secret">([A-Za-z0-9]+)</code>', text(response)).group(1)
    assert new != old
    robot.refresh_from_db()
    assert check_password(new, robot.secret_hash)
    assert not check_password(old, robot.secret_hash)
    assert new not in text(admin_client.get(reverse("admin:projects_robot_changelist")))
    assert new not in text(admin_client.get(reverse("admin:projects_robot_change", args=[robot.pk])))


def test_deleting_robots_goes_through_the_service(admin_client, robot_with_secret):
    robot, secret, _ = robot_with_secret
    action(admin_client, "admin:projects_robot_changelist", "delete_selected", [robot], post="yes")
    assert not Robot.objects.filter(pk=robot.pk).exists()
    assert authentication.user_authenticate(username=robot.full_name, password=secret) is None


# --- labels --------------------------------------------------------------------------------------------


def test_labels_are_created_changed_and_deleted_through_the_services(admin_client, project):
    add = reverse("admin:registry_label_add")
    assert admin_client.post(add, {"name": "prod", "scope": "g", "color": "#ff0000"}).status_code == 302
    assert admin_client.post(add, {"name": "prod", "scope": "p", "project": project.pk}).status_code == 302
    duplicate = admin_client.post(add, {"name": "prod", "scope": "g"})
    assert "label prod already exists" in text(duplicate)
    orphan = admin_client.post(add, {"name": "orphan", "scope": "p"})
    assert "a project label needs a valid project_id" in text(orphan)
    assert Label.objects.count() == 2

    label = Label.objects.get(scope="p")
    url = reverse("admin:registry_label_change", args=[label.pk])
    data = changeform_data(admin_client.get(url))
    assert "scope" not in data  # fixed once created
    assert "project" not in data
    assert admin_client.post(url, {**data, "name": "staging", "description": "d"}).status_code == 302
    label.refresh_from_db()
    assert (label.name, label.description, label.project) == ("staging", "d", project)
    too_long = admin_client.post(url, {**data, "name": ""})
    assert too_long.status_code == 200

    action(admin_client, "admin:registry_label_changelist", "delete_selected", [label], post="yes")
    assert not Label.objects.filter(pk=label.pk).exists()


# --- configuration ---------------------------------------------------------------------------------------


def test_configuration_changes_are_validated_by_the_service(admin_client):
    url = reverse("admin:common_setting_changelist")
    data = changeform_data_for_config(admin_client.get(url))
    assert data["token_expiration"]
    assert data["robot_token_duration"] == 30

    refused = admin_client.post(url, {**data, "token_expiration": "0"})
    assert refused.status_code == 200
    assert "the token_expiration value must be at least 1" in text(refused)
    over = admin_client.post(url, {**data, "robot_token_duration": "99999999999"})
    assert "over the limit" in text(over)
    assert not Setting.objects.exists()

    response = admin_client.post(url, {**data, "token_expiration": "45", "read_only": "on", "auth_mode": "ldap_auth"})
    assert response.status_code == 302
    assert config_get("token_expiration") == 45
    assert config_get("read_only") is True
    assert config_get("auth_mode") == "db_auth"  # not editable: the posted value is ignored
    assert set(Setting.objects.values_list("key", flat=True)) == {"token_expiration", "read_only"}
    assert re.search(r'<select name="auth_mode"[^>]* disabled', text(admin_client.get(url)))


def changeform_data_for_config(response) -> dict:
    form = response.context["form"]
    data = {}
    for bound in form:
        value = bound.value()
        if isinstance(bound.field, forms.BooleanField):
            if value:
                data[bound.html_name] = "on"
        elif value is not None:
            data[bound.html_name] = value
    return data


def test_setting_rows_have_no_edit_pages(admin_client):
    Setting.objects.create(key="read_only", value=False, updated="2024-01-01T00:00:00Z")
    with pytest.raises(NoReverseMatch):
        reverse("admin:common_setting_change", args=[1])
    assert admin_client.get("/admin/common/setting/1/change/").status_code == 404


# --- quotas ----------------------------------------------------------------------------------------------


def test_quota_limit_is_edited_through_the_quota_service(admin_client, project):
    url = reverse("admin:projects_project_change", args=[project.pk])
    data = changeform_data(admin_client.get(url))
    assert data["quota-0-hard"] == -1
    refused = admin_client.post(url, {**data, "quota-0-hard": "-5"}, follow=True)
    assert "hard.storage must be -1 (unlimited) or a number of bytes >= 0" in shown(refused)
    assert Quota.objects.get(project=project).hard == -1
    response = admin_client.post(url, {**data, "quota-0-hard": str(10 * 1024**3)})
    assert response.status_code == 302
    assert Quota.objects.get(project=project).hard == 10 * 1024**3


def test_a_refused_inline_change_rolls_back_the_whole_page(admin_client, admin_user):
    project = project_create(name="owned", owner=admin_user)
    url = reverse("admin:projects_project_change", args=[project.pk])
    data = changeform_data(admin_client.get(url))
    # Demoting the only project admin is refused by member_update; the quota change on the same page is undone.
    response = admin_client.post(
        url, {**data, "quota-0-hard": "1000", "members-0-role": str(Role.DEVELOPER)}, follow=True
    )
    assert "last project admin" in shown(response)
    assert Member.objects.get(project=project).role == Role.PROJECT_ADMIN
    assert Quota.objects.get(project=project).hard == -1


def test_reconcile_quotas_action_dry_run_then_fix(admin_client, project):
    Quota.objects.filter(project=project).update(used=999)
    changelist = "admin:projects_project_changelist"
    dry = action(admin_client, changelist, "reconcile_quotas_dry_run", [project])
    assert "1 project(s) drifted, nothing changed: console: recorded 999, actual 0" in shown(dry)
    assert Quota.objects.get(project=project).used == 999
    fixed = action(admin_client, changelist, "reconcile_quotas_fix", [project])
    assert "Fixed the usage of 1 project(s)" in shown(fixed)
    assert Quota.objects.get(project=project).used == 0
    clean = action(admin_client, changelist, "reconcile_quotas_dry_run", [project])
    assert "matches its blobs" in shown(clean)


# --- groups and members ----------------------------------------------------------------------------------


def test_user_groups_go_through_the_services(admin_client):
    add = reverse("admin:projects_usergroup_add")
    refused = admin_client.post(add, {"name": "ldap-devs", "group_type": "1"}, follow=True)
    assert "ldap_group_dn is required" in shown(refused)
    assert not UserGroup.objects.exists()
    response = admin_client.post(add, {"name": "ldap-devs", "group_type": "1", "ldap_group_dn": " CN=Devs,DC=x "})
    assert response.status_code == 302
    assert UserGroup.objects.get().ldap_group_dn == "cn=devs,dc=x"  # normalized by the service


def test_member_admin_keeps_the_last_project_admin(admin_client, admin_user):
    project = project_create(name="solo", owner=admin_user)
    member = Member.objects.get(project=project)
    url = reverse("admin:projects_member_change", args=[member.pk])
    response = admin_client.post(url, {"role": str(Role.GUEST)}, follow=True)
    assert "last project admin" in shown(response)
    member.refresh_from_db()
    assert member.role == Role.PROJECT_ADMIN


def test_project_metadata_and_deletes_go_through_the_services(admin_client, project):
    url = reverse("admin:projects_project_change", args=[project.pk])
    data = changeform_data(admin_client.get(url))
    assert admin_client.post(url, {**data, "metadata": '{"auto_scan": "true"}', "public": "on"}).status_code == 302
    project.refresh_from_db()
    assert project.metadata == {"auto_scan": "true"}
    assert project.public
    assert admin_client.post(url, {**data, "metadata": "{}"}).status_code == 302
    project.refresh_from_db()
    assert project.metadata == {}
    assert not project.public

    busy = project_create(name="busy")
    RepositoryFactory(name="busy/app", project=busy)
    response = action(admin_client, "admin:projects_project_changelist", "delete_selected", [project, busy], post="yes")
    assert "still has repositories" in shown(response)
    assert list(Project.objects.values_list("name", flat=True)) == ["busy"]
