"""/api/v2.0/users through the API, with real Basic credentials."""

from __future__ import annotations

import base64
import json

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.sessions.backends.db import SessionStore
from django.middleware.csrf import _get_new_csrf_string
from rest_framework.test import APIClient

from common.testing.api import basic_client
from projects.accounts import PASSWORD_RULE
from projects.models import Member, Role, UserGroup, UserProfile
from projects.services import member_set, project_create
from system.configuration import config_update

pytestmark = pytest.mark.django_db
PW = "pw-Secret-1"
USER_FIELDS = {
    "user_id",
    "username",
    "email",
    "realname",
    "comment",
    "sysadmin_flag",
    "admin_role_in_auth",
    "creation_time",
    "update_time",
}


@pytest.fixture
def users():
    model = get_user_model()
    root = model.objects.create_superuser("root", "root@example.com", PW)
    alice = model.objects.create_user("alice", "alice@example.com", PW)
    bob = model.objects.create_user("bob", "bob@example.com", PW)
    UserProfile.objects.create(user=alice, realname="Alice A", comment="team a")
    return {"root": root, "alice": alice, "bob": bob}


def _code(response) -> str:  # noqa: ANN001
    return response.json()["errors"][0]["code"]


def _new_user(**overrides) -> dict:
    return {"username": "carol", "email": "carol@example.com", "password": "Carol-pass1", "realname": "Carol C"} | (
        overrides
    )


# --- listUsers --------------------------------------------------------------------------------------


def test_list_users_is_for_sysadmins(users):
    listed = basic_client("root").get("/api/v2.0/users")
    assert listed.status_code == 200
    assert listed["X-Total-Count"] == "3"
    body = listed.json()
    assert [u["username"] for u in body] == ["bob", "alice", "root"]  # newest first, as Harbor
    alice = next(u for u in body if u["username"] == "alice")
    assert set(alice) == USER_FIELDS
    assert alice["user_id"] == users["alice"].pk
    assert alice["realname"] == "Alice A"
    assert alice["comment"] == "team a"
    assert alice["sysadmin_flag"] is False
    assert alice["admin_role_in_auth"] is False
    assert next(u for u in body if u["username"] == "root")["sysadmin_flag"] is True
    assert "pbkdf2" not in listed.content.decode()
    assert "md5$" not in listed.content.decode()
    refused = basic_client("alice").get("/api/v2.0/users")
    assert refused.status_code == 403
    assert _code(refused) == "FORBIDDEN"
    anonymous = basic_client(None).get("/api/v2.0/users")
    assert anonymous.status_code == 401
    assert _code(anonymous) == "UNAUTHORIZED"


def test_list_users_query_budget_and_paging(users, django_assert_max_num_queries):
    model = get_user_model()
    for i in range(50):
        user = model.objects.create_user(f"member{i:02d}", f"member{i:02d}@example.com", PW)
        if i % 2:
            UserProfile.objects.create(user=user, realname=f"Member {i}")
    root = basic_client("root")
    root.get("/api/v2.0/users/current")  # warm the Basic credential cache
    with django_assert_max_num_queries(3):
        page = root.get("/api/v2.0/users?page_size=100")
    assert page.status_code == 200
    assert len(page.json()) == 53
    assert {u["realname"] for u in page.json()} >= {"Member 1", "Member 49", ""}
    second = root.get("/api/v2.0/users?page=2&page_size=20")
    assert second["X-Total-Count"] == "53"
    assert len(second.json()) == 20
    assert 'rel="next"' in second["Link"]
    assert 'rel="prev"' in second["Link"]


def test_list_users_q_and_sort_whitelists(users):
    root = basic_client("root")

    def names(url: str) -> list[str]:
        response = root.get(url)
        assert response.status_code == 200, response.content
        return [u["username"] for u in response.json()]

    assert names("/api/v2.0/users?q=username=~ali") == ["alice"]
    assert names("/api/v2.0/users?q=sysadmin_flag=true") == ["root"]
    assert names("/api/v2.0/users?q=realname=~Alice") == ["alice"]
    assert names(f"/api/v2.0/users?q=user_id={users['bob'].pk}") == ["bob"]
    assert names("/api/v2.0/users?sort=username") == ["alice", "bob", "root"]
    assert names("/api/v2.0/users?sort=-username") == ["root", "bob", "alice"]
    assert names("/api/v2.0/users?username=o") == ["bob", "root"]
    assert names("/api/v2.0/users?email=alice@") == ["alice"]
    for bad in (
        "q=password=x",
        "q=password=~pbkdf2",
        "q=harbor_profile__user__password=~a",
        "q=is_superuser=true",
        "sort=password",
        "sort=-password",
        "q=user_id=abc",
    ):
        refused = root.get(f"/api/v2.0/users?{bad}")
        assert refused.status_code == 400, bad
        assert _code(refused) == "BAD_REQUEST"


# --- createUser -------------------------------------------------------------------------------------


def test_sysadmin_creates_a_user_who_can_log_in(users):
    created = basic_client("root").post("/api/v2.0/users", _new_user(comment="hi"), format="json")
    assert created.status_code == 201, created.content
    carol = get_user_model().objects.get(username="carol")
    assert created["Location"] == f"/api/v2.0/users/{carol.pk}"
    assert created.content == b""
    assert carol.password != "Carol-pass1"
    assert carol.check_password("Carol-pass1")
    me = basic_client("carol", "Carol-pass1").get("/api/v2.0/users/current")
    assert me.status_code == 200
    assert me.json()["email"] == "carol@example.com"
    assert me.json()["realname"] == "Carol C"
    assert me.json()["comment"] == "hi"
    assert me.json()["sysadmin_flag"] is False


def test_create_ignores_mass_assigned_fields(users):
    body = _new_user(sysadmin_flag=True, user_id=999999, admin_role_in_auth=True, is_superuser=True)
    assert basic_client("root").post("/api/v2.0/users", body, format="json").status_code == 201
    carol = get_user_model().objects.get(username="carol")
    assert not carol.is_superuser
    assert not carol.is_staff
    assert carol.pk != 999999


def test_create_refusals_without_self_registration(users):
    anonymous = basic_client(None).post("/api/v2.0/users", _new_user(), format="json")
    assert anonymous.status_code == 401
    assert _code(anonymous) == "UNAUTHORIZED"
    alice = basic_client("alice").post("/api/v2.0/users", _new_user(), format="json")
    assert alice.status_code == 403
    assert _code(alice) == "FORBIDDEN"
    assert not get_user_model().objects.filter(username="carol").exists()


def _browser(*, csrf: bool = True) -> APIClient:
    """An anonymous browser: a session cookie and (optionally) a CSRF token, as Harbor's sign-up page has."""
    session = SessionStore()
    session["visited"] = True
    session.save()
    client = APIClient(enforce_csrf_checks=True)
    client.cookies[settings.SESSION_COOKIE_NAME] = session.session_key
    if csrf:
        token = _get_new_csrf_string()
        client.cookies[settings.CSRF_COOKIE_NAME] = token
        client.credentials(HTTP_X_CSRFTOKEN=token)
    return client


def test_self_registration(users, settings):
    config_update(changes={"self_registration": True}, user=None)
    # Harbor: with self-registration on, sign-up comes from the UI session, never from a plain API call.
    api_call = basic_client(None).post("/api/v2.0/users", _new_user(), format="json")
    assert api_call.status_code == 403
    assert "self-registration" in api_call.json()["errors"][0]["message"]
    assert basic_client("alice").post("/api/v2.0/users", _new_user(), format="json").status_code == 403
    assert _browser(csrf=False).post("/api/v2.0/users", _new_user(), format="json").status_code == 403
    body = _new_user(sysadmin_flag=True, user_id=424242)
    registered = _browser().post("/api/v2.0/users", body, format="json")
    assert registered.status_code == 201, registered.content
    carol = get_user_model().objects.get(username="carol")
    assert not carol.is_superuser
    assert carol.pk != 424242
    config_update(changes={"self_registration": False}, user=None)
    assert _browser().post("/api/v2.0/users", _new_user(username="dave"), format="json").status_code == 401


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"password": "Short1a"}, PASSWORD_RULE),
        ({"password": "alllowercase1"}, PASSWORD_RULE),
        ({"password": "ALLUPPERCASE1"}, PASSWORD_RULE),
        ({"password": "NoDigitsHere"}, PASSWORD_RULE),
        ({"password": ""}, PASSWORD_RULE),
        ({"email": ""}, "email can't be empty"),
        ({"email": "not-an-email"}, "email with illegal format"),
        ({"realname": ""}, "realname with illegal length"),
        ({"realname": "C$rol"}, "realname contains illegal characters"),
        ({"comment": "x" * 31}, "comment with illegal length"),
        ({"username": ""}, "username with illegal length"),
        ({"username": "x" * 151}, "username with illegal length"),
        ({"username": "ca#rol"}, "username contains illegal characters"),
        ({"username": "ca:rol"}, "username contains illegal characters"),
    ],
)
def test_create_bad_input(users, overrides, message):
    refused = basic_client("root").post("/api/v2.0/users", _new_user(**overrides), format="json")
    assert refused.status_code == 400, overrides
    assert refused.json() == {"errors": [{"code": "BAD_REQUEST", "message": message}]}
    assert not get_user_model().objects.filter(email="carol@example.com").exists()


def test_create_conflicts(users):
    root = basic_client("root")
    duplicate = root.post("/api/v2.0/users", _new_user(username="alice"), format="json")
    assert duplicate.status_code == 409
    assert _code(duplicate) == "CONFLICT"
    same_email = root.post("/api/v2.0/users", _new_user(email="bob@example.com"), format="json")
    assert same_email.status_code == 409
    assert root.post("/api/v2.0/users", "[]", content_type="application/json").status_code == 400


# --- getUser / getCurrentUserInfo ---------------------------------------------------------------------


def test_get_user_self_or_sysadmin(users):
    alice_id, bob_id = users["alice"].pk, users["bob"].pk
    own = basic_client("alice").get(f"/api/v2.0/users/{alice_id}")
    assert own.status_code == 200
    assert set(own.json()) == USER_FIELDS
    assert own.json()["realname"] == "Alice A"
    other = basic_client("alice").get(f"/api/v2.0/users/{bob_id}")
    assert other.status_code == 403
    assert _code(other) == "FORBIDDEN"
    # A non-admin learns nothing about which ids exist: 403 before 404, as Harbor.
    assert basic_client("alice").get("/api/v2.0/users/999999").status_code == 403
    assert basic_client("root").get(f"/api/v2.0/users/{bob_id}").json()["username"] == "bob"
    missing = basic_client("root").get("/api/v2.0/users/999999")
    assert missing.status_code == 404
    assert _code(missing) == "NOT_FOUND"
    assert basic_client(None).get(f"/api/v2.0/users/{bob_id}").status_code == 401
    assert basic_client("root").get("/api/v2.0/users/abc").status_code == 400


def test_current_user(users):
    me = basic_client("alice").get("/api/v2.0/users/current")
    assert me.status_code == 200
    assert me.json()["user_id"] == users["alice"].pk
    assert me.json()["username"] == "alice"
    assert set(me.json()) == USER_FIELDS
    assert basic_client("root").get("/api/v2.0/users/current").json()["sysadmin_flag"] is True
    assert basic_client(None).get("/api/v2.0/users/current").status_code == 401
    assert basic_client("alice", "wrong-Pass1").get("/api/v2.0/users/current").status_code == 401


# --- updateUserProfile ------------------------------------------------------------------------------


def test_update_own_profile_ignores_other_fields(users):
    alice = users["alice"]
    body = {
        "email": "alice@new.example.com",
        "realname": "Alice B",
        "comment": "moved",
        "sysadmin_flag": True,
        "user_id": users["bob"].pk,
        "username": "mallory",
        "password": "Other-pass1",
    }
    assert basic_client("alice").put(f"/api/v2.0/users/{alice.pk}", body, format="json").status_code == 200
    alice.refresh_from_db()
    assert (alice.username, alice.email, alice.is_superuser) == ("alice", "alice@new.example.com", False)
    assert alice.check_password(PW)
    assert (alice.harbor_profile.realname, alice.harbor_profile.comment) == ("Alice B", "moved")
    bob = get_user_model().objects.get(pk=users["bob"].pk)
    assert bob.email == "bob@example.com"
    shown = basic_client("alice").get("/api/v2.0/users/current").json()
    assert shown["update_time"] >= shown["creation_time"]


def test_update_profile_refusals_and_bad_input(users):
    bob_id = users["bob"].pk
    profile = {"email": "bob@new.example.com", "realname": "Bob B", "comment": ""}
    refused = basic_client("alice").put(f"/api/v2.0/users/{bob_id}", profile, format="json")
    assert refused.status_code == 403
    assert _code(refused) == "FORBIDDEN"
    assert basic_client(None).put(f"/api/v2.0/users/{bob_id}", profile, format="json").status_code == 401
    assert basic_client("root").put("/api/v2.0/users/999999", profile, format="json").status_code == 404
    invalid = basic_client("bob").put(f"/api/v2.0/users/{bob_id}", {**profile, "email": "nope"}, format="json")
    assert invalid.status_code == 400
    assert _code(invalid) == "BAD_REQUEST"
    taken = basic_client("bob").put(
        f"/api/v2.0/users/{bob_id}", {**profile, "email": "alice@example.com"}, format="json"
    )
    assert taken.status_code == 409
    assert get_user_model().objects.get(pk=bob_id).email == "bob@example.com"
    # A sysadmin edits anyone's profile; a profile row is created on demand.
    assert basic_client("root").put(f"/api/v2.0/users/{bob_id}", profile, format="json").status_code == 200
    assert UserProfile.objects.get(user_id=bob_id).realname == "Bob B"


# --- deleteUser -------------------------------------------------------------------------------------


def test_delete_user(users):
    bob = users["bob"]
    project = project_create(name="shared", owner=users["alice"])
    member_set(project=project, user=bob, role=Role.DEVELOPER)
    group = UserGroup.objects.create(name="devs", group_type=2)
    group.users.add(bob)
    assert basic_client("bob").get("/api/v2.0/users/current").status_code == 200  # cached credentials
    assert basic_client("alice").delete(f"/api/v2.0/users/{bob.pk}").status_code == 403
    assert basic_client("bob").delete(f"/api/v2.0/users/{bob.pk}").status_code == 403
    assert basic_client(None).delete(f"/api/v2.0/users/{bob.pk}").status_code == 401
    assert basic_client("root").delete(f"/api/v2.0/users/{bob.pk}").status_code == 200
    assert not get_user_model().objects.filter(pk=bob.pk).exists()
    assert not Member.objects.filter(project=project, user_id=bob.pk).exists()
    assert basic_client("bob").get("/api/v2.0/users/current").status_code == 401
    assert basic_client("root").delete(f"/api/v2.0/users/{bob.pk}").status_code == 404


def test_nobody_deletes_themselves(users):
    refused = basic_client("root").delete(f"/api/v2.0/users/{users['root'].pk}")
    assert refused.status_code == 403
    assert _code(refused) == "FORBIDDEN"
    assert get_user_model().objects.filter(pk=users["root"].pk).exists()


# --- getCurrentUserPermissions ------------------------------------------------------------------------


def _pairs(response) -> set[tuple[str, str]]:  # noqa: ANN001
    assert response.status_code == 200, response.content
    return {(p["resource"], p["action"]) for p in response.json()}


def test_current_user_permissions(users):
    project = project_create(name="perm", owner=users["root"])
    member_set(project=project, user=users["alice"], role=Role.DEVELOPER)
    alice = basic_client("alice")
    scope = f"/project/{project.pk}"
    relative = _pairs(alice.get(f"/api/v2.0/users/current/permissions?scope={scope}&relative=true"))
    assert {("repository", "push"), ("repository", "pull"), ("artifact", "read"), (".", "read")} <= relative
    assert ("member", "create") not in relative
    assert ("repository", "delete") not in relative
    body = alice.get(f"/api/v2.0/users/current/permissions?scope={scope}&relative=true").json()
    assert set(body[0]) == {"resource", "action"}
    absolute = _pairs(alice.get(f"/api/v2.0/users/current/permissions?scope={scope}"))
    assert (f"{scope}/repository", "push") in absolute
    assert (scope, "read") in absolute
    assert len(absolute) == len(relative)
    narrowed = _pairs(alice.get(f"/api/v2.0/users/current/permissions?scope={scope}/repository&relative=true"))
    assert narrowed == {(".", "create"), (".", "read"), (".", "update"), (".", "list"), (".", "pull"), (".", "push")}
    admin = _pairs(basic_client("root").get(f"/api/v2.0/users/current/permissions?scope={scope}&relative=true"))
    assert {("member", "create"), ("repository", "delete"), (".", "delete")} <= admin
    # Not a member of a private project, an unknown project, no scope: nothing.
    assert _pairs(basic_client("bob").get(f"/api/v2.0/users/current/permissions?scope={scope}")) == set()
    assert _pairs(alice.get("/api/v2.0/users/current/permissions?scope=/project/999999")) == set()
    assert _pairs(alice.get("/api/v2.0/users/current/permissions")) == set()
    assert _pairs(alice.get("/api/v2.0/users/current/permissions?scope=/project/perm")) == set()
    assert _pairs(alice.get("/api/v2.0/users/current/permissions?scope=/system&relative=true")) == set()
    system = _pairs(basic_client("root").get("/api/v2.0/users/current/permissions?scope=/system&relative=true"))
    assert {("user", "create"), ("user-group", "delete"), ("project", "create")} <= system
    assert alice.get(f"/api/v2.0/users/current/permissions?scope={scope}&relative=maybe").status_code == 400
    assert basic_client(None).get(f"/api/v2.0/users/current/permissions?scope={scope}").status_code == 401


# --- searchUsers ------------------------------------------------------------------------------------


def test_search_users(users, django_assert_max_num_queries):
    model = get_user_model()
    for i in range(30):
        model.objects.create_user(f"bobby{i:02d}", f"bobby{i:02d}@example.com", PW)
    alice = basic_client("alice")
    alice.get("/api/v2.0/users/current")
    with django_assert_max_num_queries(3):
        found = alice.get("/api/v2.0/users/search?username=bob&page_size=50")
    assert found.status_code == 200
    assert found["X-Total-Count"] == "31"
    assert all(set(item) == {"user_id", "username"} for item in found.json())
    assert {"user_id": users["bob"].pk, "username": "bob"} in found.json()
    assert len(alice.get("/api/v2.0/users/search?username=bob&page_size=10").json()) == 10
    assert alice.get("/api/v2.0/users/search?username=nobody").json() == []
    missing = alice.get("/api/v2.0/users/search")
    assert missing.status_code == 400
    assert _code(missing) == "BAD_REQUEST"
    assert basic_client(None).get("/api/v2.0/users/search?username=bob").status_code == 401


# --- setUserSysAdmin --------------------------------------------------------------------------------


def test_set_sysadmin(users):
    alice_id = users["alice"].pk
    url = f"/api/v2.0/users/{alice_id}/sysadmin"
    refused = basic_client("alice").put(url, {"sysadmin_flag": True}, format="json")
    assert refused.status_code == 403
    assert _code(refused) == "FORBIDDEN"
    assert basic_client(None).put(url, {"sysadmin_flag": True}, format="json").status_code == 401
    assert basic_client("alice").get("/api/v2.0/users").status_code == 403
    assert basic_client("root").put(url, {"sysadmin_flag": True}, format="json").status_code == 200
    alice = get_user_model().objects.get(pk=alice_id)
    assert alice.is_superuser
    assert alice.is_staff
    assert basic_client("alice").get("/api/v2.0/users").status_code == 200
    assert basic_client("alice").get(f"/api/v2.0/users/{alice_id}").json()["sysadmin_flag"] is True
    assert basic_client("root").put(url, {"sysadmin_flag": False}, format="json").status_code == 200
    assert basic_client("alice").get("/api/v2.0/users").status_code == 403
    assert basic_client("root").put(url, {}, format="json").status_code == 400
    assert basic_client("root").put(url, {"sysadmin_flag": "maybe"}, format="json").status_code == 400
    missing = basic_client("root").put("/api/v2.0/users/999999/sysadmin", {"sysadmin_flag": True}, format="json")
    assert missing.status_code == 404


def test_last_sysadmin_is_not_demoted(users):
    root_id = users["root"].pk
    url = f"/api/v2.0/users/{root_id}/sysadmin"
    refused = basic_client("root").put(url, {"sysadmin_flag": False}, format="json")
    assert refused.status_code == 403
    assert get_user_model().objects.get(pk=root_id).is_superuser


# --- updateUserPassword -----------------------------------------------------------------------------


def test_change_own_password_invalidates_cached_credentials(users):
    url = f"/api/v2.0/users/{users['alice'].pk}/password"
    alice = basic_client("alice")
    assert alice.get("/api/v2.0/users/current").status_code == 200  # remembered by the Basic cache
    changed = alice.put(url, {"old_password": PW, "new_password": "New-pass-42"}, format="json")
    assert changed.status_code == 200, changed.content
    assert basic_client("alice").get("/api/v2.0/users/current").status_code == 401
    assert basic_client("alice", "New-pass-42").get("/api/v2.0/users/current").status_code == 200
    profile = UserProfile.objects.get(user=users["alice"])
    assert profile.password_changed is not None


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"old_password": "Wrong-pass1", "new_password": "New-pass-42"}, 403, "FORBIDDEN"),
        ({"new_password": "New-pass-42"}, 403, "FORBIDDEN"),
        ({"old_password": PW, "new_password": "weak"}, 400, "BAD_REQUEST"),
        ({"old_password": PW, "new_password": "nouppercase1"}, 400, "BAD_REQUEST"),
        ({"old_password": PW, "new_password": PW}, 400, "BAD_REQUEST"),
        ({"old_password": PW}, 400, "BAD_REQUEST"),
    ],
)
def test_change_own_password_refusals(users, body, status, code):
    response = basic_client("alice").put(f"/api/v2.0/users/{users['alice'].pk}/password", body, format="json")
    assert response.status_code == status
    assert _code(response) == code
    assert get_user_model().objects.get(pk=users["alice"].pk).check_password(PW)


def test_password_of_others(users):
    bob_url = f"/api/v2.0/users/{users['bob'].pk}/password"
    refused = basic_client("alice").put(bob_url, {"old_password": PW, "new_password": "New-pass-42"}, format="json")
    assert refused.status_code == 403
    assert basic_client(None).put(bob_url, {"new_password": "New-pass-42"}, format="json").status_code == 401
    # A sysadmin resets another user's password without the old one, under the same policy.
    assert basic_client("root").put(bob_url, {"new_password": "weak"}, format="json").status_code == 400
    assert basic_client("root").put(bob_url, {"new_password": "Reset-pass-7"}, format="json").status_code == 200
    assert basic_client("bob", "Reset-pass-7").get("/api/v2.0/users/current").status_code == 200
    assert basic_client("bob").get("/api/v2.0/users/current").status_code == 401
    missing = basic_client("root").put("/api/v2.0/users/999999/password", {"new_password": "X-pass-123"}, format="json")
    assert missing.status_code == 404
    # ... but their own needs the old one, like everyone's.
    root_url = f"/api/v2.0/users/{users['root'].pk}/password"
    assert basic_client("root").put(root_url, {"new_password": "Root-pass-99"}, format="json").status_code == 403


def test_no_endpoint_returns_a_password_hash(users):
    root = basic_client("root")
    project = project_create(name="p", owner=users["root"])
    responses = [
        root.get("/api/v2.0/users"),
        root.get("/api/v2.0/users/current"),
        root.get(f"/api/v2.0/users/{users['alice'].pk}"),
        root.get("/api/v2.0/users/search?username=a"),
        root.get(f"/api/v2.0/users/current/permissions?scope=/project/{project.pk}"),
    ]
    hashes = [u.password for u in get_user_model().objects.all()]
    for response in responses:
        text = json.dumps(response.json())
        assert "password" not in text
        assert not any(h in text for h in hashes)


# --- robots (Harbor: system robots may be granted the `user` and `user-group` resources) ---------------


def _system_robot(root, name: str, access: list[tuple[str, str]]) -> str:  # noqa: ANN001
    from projects.permissions import Principal
    from projects.robots.services import robot_create

    permissions = [{"kind": "system", "namespace": "/", "access": [{"resource": r, "action": a} for r, a in access]}]
    robot, _ = robot_create(
        principal=Principal(root), name=name, level="system", permissions=permissions, secret="Robot-Secret-1"
    )
    return robot.full_name


def test_robots_and_the_user_api(users):
    lister = _system_robot(users["root"], "lister", [("user", "list"), ("user-group", "create")])
    other = _system_robot(users["root"], "other", [("project", "list")])
    assert basic_client(lister, "Robot-Secret-1").get("/api/v2.0/users").status_code == 200
    refused = basic_client(other, "Robot-Secret-1").get("/api/v2.0/users")
    assert refused.status_code == 403
    # A robot has no profile of its own, nor anyone's to read or change without a grant.
    current = basic_client(lister, "Robot-Secret-1").get("/api/v2.0/users/current")
    assert current.status_code == 412
    assert _code(current) == "PRECONDITION"
    for user in users.values():
        assert basic_client(lister, "Robot-Secret-1").get(f"/api/v2.0/users/{user.pk}").status_code == 403
        password = {"new_password": "Robot-set-1"}
        url = f"/api/v2.0/users/{user.pk}/password"
        assert basic_client(lister, "Robot-Secret-1").put(url, password, format="json").status_code == 403
    assert basic_client(other, "Robot-Secret-1").get("/api/v2.0/users/search?username=a").status_code == 200
    group = {"group_name": "robots-made", "group_type": 2}
    assert basic_client(lister, "Robot-Secret-1").post("/api/v2.0/usergroups", group, format="json").status_code == 201
    assert basic_client(other, "Robot-Secret-1").post("/api/v2.0/usergroups", group, format="json").status_code == 403
    assert basic_client(lister, "Robot-Secret-1").get("/api/v2.0/usergroups").status_code == 403


def test_a_stray_session_cookie_does_not_hinder_a_sysadmin(users):
    client = _browser(csrf=False)
    token = base64.b64encode(f"root:{PW}".encode()).decode()
    client.credentials(HTTP_AUTHORIZATION=f"Basic {token}")
    assert client.post("/api/v2.0/users", _new_user(), format="json").status_code == 201
