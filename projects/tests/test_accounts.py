"""Services and selectors of projects.accounts, and the Basic credential cache they clear."""

from __future__ import annotations

import threading
import time

import pytest
from django.contrib.auth import get_user_model

from common.api.errors import BadRequest, Conflict, Forbidden, NotFound, Unauthorized
from projects import accounts
from projects.authentication import _BASIC_CACHE, _BASIC_KEYS_BY_USER, basic_cache_forget, user_authenticate
from projects.models import Role, UserGroup, UserProfile
from projects.permissions import Principal
from projects.services import member_set, project_create
from system.configuration import config_update

PW = "pw-Secret-1"


@pytest.mark.parametrize("password", ["Abcdefg1", "Passw0rd-long", "xY9xxxxx"])
def test_password_policy_accepts(password):
    accounts.password_validate(password)


@pytest.mark.parametrize("password", ["", "Abcdef1", "abcdefg1", "ABCDEFG1", "Abcdefgh", "12345678"])
def test_password_policy_refuses(password):
    with pytest.raises(BadRequest, match="at least 1 uppercase"):
        accounts.password_validate(password)


@pytest.mark.parametrize(
    ("email", "realname", "comment", "ok"),
    [
        ("a@example.com", "A", "", True),
        ("first.last@sub.example.org", "Ann Smith", "x" * 30, True),
        ("", "A", "", False),
        ("a@b", "A", "", False),
        ("a b@example.com", "A", "", False),
        ("a@example.com", "", "", False),
        ("a@example.com", "x" * 256, "", False),
        ("a@example.com", "A~B", "", False),
        ("a@example.com", "A", "x" * 31, False),
    ],
)
def test_profile_rules(email, realname, comment, ok):
    if ok:
        accounts.profile_validate(email=email, realname=realname, comment=comment)
    else:
        with pytest.raises(BadRequest):
            accounts.profile_validate(email=email, realname=realname, comment=comment)


@pytest.fixture
def people(db):
    model = get_user_model()
    return {
        "root": model.objects.create_superuser("root", "root@example.com", PW),
        "alice": model.objects.create_user("alice", "alice@example.com", PW),
    }


def test_user_create_stores_a_hash_and_profile(people):
    user = accounts.user_create(
        principal=Principal(people["root"]),
        carries_session=False,
        username="carol",
        email="carol@example.com",
        password="Carol-pass1",
        realname="Carol",
        comment="c",
    )
    assert user.password != "Carol-pass1"
    assert user.check_password("Carol-pass1")
    assert (user.harbor_profile.realname, user.harbor_profile.comment) == ("Carol", "c")
    assert not user.is_superuser
    with pytest.raises(Conflict):
        accounts.user_create(
            principal=Principal(people["root"]),
            carries_session=False,
            username="carol",
            email="other@example.com",
            password="Carol-pass1",
            realname="Carol",
        )


def test_user_create_authorization(people, settings):
    values = {"username": "dave", "email": "dave@example.com", "password": "Dave-pass1", "realname": "Dave"}
    with pytest.raises(Unauthorized):
        accounts.user_create(principal=Principal.anonymous(), carries_session=True, **values)
    with pytest.raises(Forbidden):
        accounts.user_create(principal=Principal(people["alice"]), carries_session=True, **values)
    config_update(changes={"self_registration": True}, user=None)
    with pytest.raises(Forbidden, match="self-registration"):
        accounts.user_create(principal=Principal.anonymous(), carries_session=False, **values)
    assert accounts.user_create(principal=Principal.anonymous(), carries_session=True, **values).username == "dave"


def test_user_permissions_shapes(people):
    project = project_create(name="p", owner=people["root"])
    member_set(project=project, user=people["alice"], role=Role.GUEST)
    alice = Principal(people["alice"])
    scope = f"/project/{project.pk}"
    relative = accounts.user_permissions(principal=alice, scope=scope, relative=True)
    assert {"resource": "repository", "action": "pull"} in relative
    assert {"resource": ".", "action": "read"} in relative
    assert {"resource": "repository", "action": "push"} not in relative
    absolute = accounts.user_permissions(principal=alice, scope=scope + "/", relative=False)
    assert {"resource": f"{scope}/repository", "action": "pull"} in absolute
    assert {"resource": scope, "action": "read"} in absolute
    # Relative to a deeper scope: only what lies under it, cut at path boundaries.
    assert accounts.user_permissions(principal=alice, scope=f"{scope}/repo", relative=True) == []
    under = accounts.user_permissions(principal=alice, scope=f"{scope}/repository", relative=True)
    assert {p["resource"] for p in under} == {"."}
    assert accounts.user_permissions(principal=alice, scope="/system", relative=True) == []
    root = Principal(people["root"])
    system = accounts.user_permissions(principal=root, scope="/system", relative=True)
    assert {"resource": "user", "action": "list"} in system
    assert {"resource": "user-group", "action": "create"} in system
    assert {"resource": "/system/user", "action": "delete"} in accounts.user_permissions(
        principal=root, scope="/system/", relative=False
    )
    assert accounts.user_permissions(principal=root, scope="/systemx", relative=True) == []
    assert accounts.user_permissions(principal=root, scope=f"{scope}x", relative=True) == []
    assert accounts.user_permissions(principal=alice, scope="", relative=False) == []


def test_password_update_rules(people):
    alice_id = people["alice"].pk
    alice = Principal(people["alice"])
    with pytest.raises(Forbidden, match="Current password is incorrect"):
        accounts.user_password_update(principal=alice, user_id=alice_id, old_password="nope", new_password="New-pw-123")
    with pytest.raises(BadRequest, match="identical"):
        accounts.user_password_update(principal=alice, user_id=alice_id, old_password=PW, new_password=PW)
    with pytest.raises(Forbidden):
        accounts.user_password_update(
            principal=alice, user_id=people["root"].pk, old_password=PW, new_password="New-pw-123"
        )
    with pytest.raises(NotFound):
        accounts.user_password_update(
            principal=Principal(people["root"]), user_id=999999, old_password=None, new_password="New-pw-123"
        )
    accounts.user_password_update(principal=alice, user_id=alice_id, old_password=PW, new_password="New-pw-123")
    assert get_user_model().objects.get(pk=alice_id).check_password("New-pw-123")
    assert UserProfile.objects.get(user_id=alice_id).password_changed is not None


def test_basic_cache_forget_drops_only_that_user(people):
    assert user_authenticate(username="alice", password=PW) == people["alice"]
    assert user_authenticate(username="root", password=PW) == people["root"]
    alice_keys = set(_BASIC_KEYS_BY_USER[people["alice"].pk])
    assert alice_keys
    assert alice_keys <= set(_BASIC_CACHE)
    basic_cache_forget(user_id=people["alice"].pk)
    assert not alice_keys & set(_BASIC_CACHE)
    assert people["alice"].pk not in _BASIC_KEYS_BY_USER
    assert _BASIC_KEYS_BY_USER[people["root"].pk] <= set(_BASIC_CACHE)


def test_cached_credentials_die_with_a_password_changed_elsewhere(people):
    # Another node changed the password: this process's cache was not told, the stored hash tells it.
    assert user_authenticate(username="alice", password=PW) is not None
    alice = get_user_model().objects.get(pk=people["alice"].pk)
    alice.set_password("Elsewhere-1")
    alice.save()
    assert user_authenticate(username="alice", password=PW) is None
    assert user_authenticate(username="alice", password="Elsewhere-1") is not None


@pytest.mark.django_db(transaction=True)
def test_concurrent_requests_with_the_same_credentials_hash_the_password_once(monkeypatch):
    """The cache entry is missing (first use, or expired): N requests at once wait for one check."""
    from django.db import connections

    from projects import authentication

    get_user_model().objects.create_user(username="ci", password=PW)
    calls, release, results = [], threading.Event(), []
    real = authentication.authenticate

    def slow_authenticate(**credentials):  # noqa: ANN003, ANN202
        calls.append(credentials["username"])
        assert release.wait(30)  # hold the first check until every other request is waiting for it
        return real(**credentials)

    monkeypatch.setattr(authentication, "authenticate", slow_authenticate)

    def request() -> None:
        try:
            results.append(user_authenticate(username="ci", password=PW))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=request) for _ in range(8)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 30
    while sum(entry[1] for entry in authentication._BASIC_CHECKING.values()) < 8:
        assert time.monotonic() < deadline, "the requests never met at the credential's check"
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join()
    assert calls == ["ci"]
    assert len(results) == 8
    assert all(user is not None and user.get_username() == "ci" for user in results)
    assert not authentication._BASIC_CHECKING


def test_sysadmin_set_keeps_one_sysadmin(people):
    root_id, alice_id = people["root"].pk, people["alice"].pk
    root = Principal(people["root"])
    with pytest.raises(Forbidden):
        accounts.user_sysadmin_set(principal=Principal(people["alice"]), user_id=alice_id, sysadmin=True)
    with pytest.raises(Forbidden):
        accounts.user_sysadmin_set(principal=root, user_id=root_id, sysadmin=False)
    accounts.user_sysadmin_set(principal=root, user_id=alice_id, sysadmin=True)
    accounts.user_sysadmin_set(principal=root, user_id=root_id, sysadmin=False)
    root = get_user_model().objects.get(pk=root_id)
    assert not root.is_superuser
    assert not root.is_staff
    promoted = get_user_model().objects.get(pk=alice_id)
    with pytest.raises(NotFound):
        accounts.user_sysadmin_set(principal=Principal(promoted), user_id=999999, sysadmin=True)


def test_user_delete(people):
    with pytest.raises(Forbidden):
        accounts.user_delete(principal=Principal(people["root"]), user_id=people["root"].pk)
    group = UserGroup.objects.create(name="g", group_type=2)
    group.users.add(people["alice"])
    accounts.user_delete(principal=Principal(people["root"]), user_id=people["alice"].pk)
    assert not group.users.exists()
    with pytest.raises(NotFound):
        accounts.user_delete(principal=Principal(people["root"]), user_id=people["alice"].pk)


def test_usergroup_services(people):
    root = Principal(people["root"])
    group = accounts.usergroup_create(principal=root, name="g", group_type=1, ldap_group_dn="CN=G,DC=X")
    assert group.ldap_group_dn == "cn=g,dc=x"
    with pytest.raises(Conflict):
        accounts.usergroup_create(principal=root, name="g", group_type=1, ldap_group_dn="cn=other")
    with pytest.raises(BadRequest):
        accounts.usergroup_create(principal=root, name="h", group_type=9)
    assert accounts.usergroup_update(principal=root, group_id=group.pk, name="renamed").name == "renamed"
    with pytest.raises(NotFound):
        accounts.usergroup_get(principal=root, group_id=group.pk + 1000)
    assert list(accounts.usergroup_list(principal=root, ldap_group_dn="CN=G,DC=X")) == [group]
    assert list(accounts.usergroup_search(group_name="REN")) == [group]
    alice = Principal(people["alice"])
    for call in (
        lambda: accounts.usergroup_list(principal=alice),
        lambda: accounts.usergroup_get(principal=alice, group_id=group.pk),
        lambda: accounts.usergroup_create(principal=alice, name="x", group_type=2),
        lambda: accounts.usergroup_update(principal=alice, group_id=group.pk, name="x"),
        lambda: accounts.usergroup_delete(principal=alice, group_id=group.pk),
    ):
        with pytest.raises(Forbidden):
            call()
    with pytest.raises(Unauthorized):
        accounts.usergroup_list(principal=Principal.anonymous())
    accounts.usergroup_delete(principal=root, group_id=group.pk)
    accounts.usergroup_delete(principal=root, group_id=group.pk)  # idempotent
    assert not UserGroup.objects.exists()


def test_a_robot_is_never_a_user_with_the_same_id(people):
    from projects.models import Robot

    twin = Robot(pk=people["alice"].pk, name="twin", level="system", permissions=[])
    principal = Principal(twin)
    with pytest.raises(Forbidden):
        accounts.user_get_for(principal=principal, user_id=people["alice"].pk)
    with pytest.raises(Forbidden):
        accounts.user_password_update(
            principal=principal, user_id=people["alice"].pk, old_password=None, new_password="Robot-set-1"
        )
    with pytest.raises(Forbidden):
        accounts.user_profile_update(
            principal=principal, user_id=people["alice"].pk, email="x@example.com", realname="X", comment=""
        )
