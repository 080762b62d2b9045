"""/api/v2.0/projects/{p}/members and /metadatas through the API, with Basic credentials."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from common.testing.api import basic_client
from projects.models import GroupType, Member, Project, Role, UserGroup
from projects.services import member_set, project_create

pytestmark = pytest.mark.django_db
PW = "pw-Secret-1"
ENTITY_KEYS = {"id", "project_id", "entity_name", "role_name", "role_id", "entity_id", "entity_type"}


@pytest.fixture
def world():
    model = get_user_model()
    users = {"root": model.objects.create_superuser("root", "root@x", PW)}
    for name in ("alice", "bob", "carol", "dave", "erin", "frank", "gina"):
        users[name] = model.objects.create_user(name, password=PW)
    alpha = project_create(name="alpha", owner=users["alice"])  # alice: project admin
    for name, role in (("bob", Role.MAINTAINER), ("carol", Role.DEVELOPER), ("dave", Role.GUEST)):
        member_set(project=alpha, user=users[name], role=role)
    member_set(project=alpha, user=users["erin"], role=Role.LIMITED_GUEST)
    beta = project_create(name="beta", owner=users["gina"])
    devs = UserGroup.objects.create(name="devs", group_type=GroupType.HTTP)
    ldap = UserGroup.objects.create(name="ops", group_type=GroupType.LDAP, ldap_group_dn="cn=ops,dc=example,dc=org")
    return {"users": users, "alpha": alpha, "beta": beta, "devs": devs, "ldap": ldap}


def _url(project: str = "alpha", mid: int | str | None = None) -> str:
    base = f"/api/v2.0/projects/{project}/members"
    return base if mid is None else f"{base}/{mid}"


def _member(project: Project, username: str) -> Member:
    return Member.objects.get(project=project, user__username=username)


def _code(response) -> str:  # noqa: ANN001
    return response.json()["errors"][0]["code"]


# --- list -----------------------------------------------------------------------------------


def test_list_members_shape_order_and_filter(world):
    alice = basic_client("alice")
    Member.objects.create(project=world["alpha"], group=world["devs"], role=Role.DEVELOPER)
    response = alice.get(_url())
    assert response.status_code == 200
    body = response.json()
    assert response["X-Total-Count"] == "6"
    assert [m["entity_name"] for m in body] == ["alice", "bob", "carol", "dave", "devs", "erin"]
    alice_entry = body[0]
    assert set(alice_entry) == ENTITY_KEYS
    assert alice_entry == {
        "id": _member(world["alpha"], "alice").pk,
        "project_id": world["alpha"].pk,
        "entity_name": "alice",
        "role_name": "projectAdmin",
        "role_id": 1,
        "entity_id": world["users"]["alice"].pk,
        "entity_type": "u",
    }
    group_entry = body[4]
    assert (group_entry["entity_type"], group_entry["entity_id"], group_entry["role_name"]) == (
        "g",
        world["devs"].pk,
        "developer",
    )
    assert [m["entity_name"] for m in alice.get(_url() + "?entityname=DEV").json()] == ["devs"]
    assert [m["entity_name"] for m in alice.get(_url() + "?entityname=a").json()] == ["alice", "carol", "dave"]
    by_id = alice.get(_url(str(world["alpha"].pk)))
    assert by_id["X-Total-Count"] == "6"
    paged = alice.get(_url() + "?page=2&page_size=4")
    assert [m["entity_name"] for m in paged.json()] == ["devs", "erin"]
    assert 'rel="prev"' in paged["Link"]


def test_list_members_by_role(world):
    assert basic_client("dave").get(_url()).status_code == 200  # a guest may list members (Harbor's matrix)
    limited = basic_client("erin").get(_url())
    assert limited.status_code == 403
    assert _code(limited) == "FORBIDDEN"
    outsider = basic_client("frank").get(_url())
    assert outsider.status_code == 404
    assert _code(outsider) == "NOT_FOUND"
    anonymous = basic_client(None).get(_url())
    assert anonymous.status_code == 401
    assert _code(anonymous) == "UNAUTHORIZED"
    assert basic_client("root").get(_url()).status_code == 200
    assert basic_client("alice").get(_url("nope")).status_code == 404


def test_list_members_query_budget(world, django_assert_max_num_queries):
    model = get_user_model()
    for i in range(25):
        user = model.objects.create_user(f"user{i:02d}", password=PW)
        member_set(project=world["alpha"], user=user, role=Role.DEVELOPER)
        group = UserGroup.objects.create(name=f"group{i:02d}", group_type=GroupType.HTTP)
        Member.objects.create(project=world["alpha"], group=group, role=Role.GUEST)
    alice = basic_client("alice")
    with django_assert_max_num_queries(6):
        response = alice.get(_url() + "?page_size=100")
    assert len(response.json()) == 55
    with django_assert_max_num_queries(6):
        assert len(alice.get(_url() + "?entityname=group&page_size=100").json()) == 25


# --- create ---------------------------------------------------------------------------------


def test_create_user_members_by_name_and_id(world):
    alice = basic_client("alice")
    created = alice.post(_url(), {"role_id": 2, "member_user": {"username": "frank"}}, format="json")
    assert created.status_code == 201, created.content
    member = _member(world["alpha"], "frank")
    assert created["Location"] == f"/api/v2.0/projects/alpha/members/{member.pk}"
    assert member.role == Role.DEVELOPER
    assert alice.get(created["Location"]).json()["entity_name"] == "frank"
    by_id = alice.post(
        _url(str(world["alpha"].pk)),
        {"role_id": 4, "member_user": {"user_id": world["users"]["gina"].pk}},
        format="json",
    )
    assert by_id.status_code == 201
    assert _member(world["alpha"], "gina").role == Role.MAINTAINER
    assert basic_client("gina").get("/api/v2.0/projects/alpha").status_code == 200


def test_create_group_members(world):
    alice = basic_client("alice")
    by_id = alice.post(_url(), {"role_id": 3, "member_group": {"id": world["devs"].pk}}, format="json")
    assert by_id.status_code == 201
    by_dn = alice.post(
        _url(), {"role_id": 2, "member_group": {"ldap_group_dn": "cn=ops,dc=example,dc=org"}}, format="json"
    )
    assert by_dn.status_code == 201
    assert Member.objects.get(project=world["alpha"], group=world["ldap"]).role == Role.DEVELOPER
    beta_admin = basic_client("gina")
    by_name = beta_admin.post(
        _url("beta"), {"role_id": 2, "member_group": {"group_name": "devs", "group_type": 2}}, format="json"
    )
    assert by_name.status_code == 201
    entry = beta_admin.get(by_name["Location"]).json()
    assert (entry["entity_type"], entry["entity_name"], entry["entity_id"]) == ("g", "devs", world["devs"].pk)


def test_group_member_grants_its_users_the_role(world):
    world["devs"].users.add(world["users"]["frank"])
    assert basic_client("frank").get("/api/v2.0/projects/alpha").status_code == 404
    basic_client("alice").post(_url(), {"role_id": 2, "member_group": {"id": world["devs"].pk}}, format="json")
    assert basic_client("frank").get("/api/v2.0/projects/alpha").status_code == 200


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"role_id": 9, "member_user": {"username": "frank"}}, "BAD_REQUEST"),
        ({"member_user": {"username": "frank"}}, "BAD_REQUEST"),
        ({"role_id": "admin", "member_user": {"username": "frank"}}, "BAD_REQUEST"),
        ({"role_id": 2}, "BAD_REQUEST"),
        ({"role_id": 2, "member_user": {}}, "BAD_REQUEST"),
        ({"role_id": 2, "member_user": {"username": "nobody"}}, "BAD_REQUEST"),
        ({"role_id": 2, "member_user": {"user_id": 999999}}, "BAD_REQUEST"),
        ({"role_id": 2, "member_group": {"id": 999999}}, "BAD_REQUEST"),
        ({"role_id": 2, "member_group": {"ldap_group_dn": "cn=none"}}, "BAD_REQUEST"),
        ({"role_id": 2, "member_group": {"group_name": "nope"}}, "BAD_REQUEST"),
        ({"role_id": 2, "member_user": "frank"}, "BAD_REQUEST"),
    ],
)
def test_create_bad_input(world, body, code):
    response = basic_client("alice").post(_url(), body, format="json")
    assert response.status_code == 400, response.content
    assert _code(response) == code
    assert not Member.objects.filter(project=world["alpha"], user__username="frank").exists()


def test_create_duplicate_is_conflict(world):
    response = basic_client("alice").post(_url(), {"role_id": 3, "member_user": {"username": "bob"}}, format="json")
    assert response.status_code == 409
    assert _code(response) == "CONFLICT"
    assert _member(world["alpha"], "bob").role == Role.MAINTAINER


@pytest.mark.parametrize(("username", "status"), [("bob", 403), ("carol", 403), ("dave", 403), ("frank", 404)])
def test_create_refused_below_project_admin(world, username, status):
    response = basic_client(username).post(_url(), {"role_id": 1, "member_user": {"username": "gina"}}, format="json")
    assert response.status_code == status
    assert not Member.objects.filter(project=world["alpha"], user__username="gina").exists()


def test_create_ignores_mass_assigned_fields(world):
    body = {
        "role_id": 2,
        "member_user": {"username": "frank"},
        "project_id": world["beta"].pk,
        "owner": "frank",
        "owner_id": world["users"]["frank"].pk,
        "id": 4242,
        "entity_type": "g",
    }
    response = basic_client("alice").post(_url(), body, format="json")
    assert response.status_code == 201
    member = _member(world["alpha"], "frank")
    assert member.pk != 4242
    assert member.role == Role.DEVELOPER
    assert not Member.objects.filter(project=world["beta"], user__username="frank").exists()
    world["alpha"].refresh_from_db()
    assert world["alpha"].owner == world["users"]["alice"]


# --- get / update / delete ------------------------------------------------------------------


def test_get_update_delete_member(world):
    alice = basic_client("alice")
    carol = _member(world["alpha"], "carol")
    got = alice.get(_url(mid=carol.pk))
    assert got.status_code == 200
    assert got.json()["role_name"] == "developer"
    updated = alice.put(_url(mid=carol.pk), {"role_id": 4}, format="json")
    assert updated.status_code == 200
    carol.refresh_from_db()
    assert carol.role == Role.MAINTAINER
    assert alice.delete(_url(mid=carol.pk)).status_code == 200
    gone = alice.get(_url(mid=carol.pk))
    assert gone.status_code == 404
    assert _code(gone) == "NOT_FOUND"
    assert alice.put(_url(mid=carol.pk), {"role_id": 2}, format="json").status_code == 404
    assert alice.delete(_url(mid=carol.pk)).status_code == 404
    assert alice.get(_url(mid="abc")).status_code == 400


def test_update_bad_role_and_mass_assignment(world):
    alice = basic_client("alice")
    carol = _member(world["alpha"], "carol")
    for body in ({"role_id": 0}, {"role_id": 6}, {}, {"role_id": None}):
        response = alice.put(_url(mid=carol.pk), body, format="json")
        assert response.status_code == 400, body
        assert _code(response) == "BAD_REQUEST"
    body = {"role_id": 3, "project_id": world["beta"].pk, "entity_id": world["users"]["frank"].pk, "entity_type": "g"}
    assert alice.put(_url(mid=carol.pk), body, format="json").status_code == 200
    carol.refresh_from_db()
    assert (carol.project_id, carol.user_id, carol.group_id, carol.role) == (
        world["alpha"].pk,
        world["users"]["carol"].pk,
        None,
        Role.GUEST,
    )


@pytest.mark.parametrize(("username", "status"), [("bob", 403), ("carol", 403), ("dave", 403), ("erin", 403)])
def test_update_and_delete_refused_below_project_admin(world, username, status):
    carol = _member(world["alpha"], "carol")
    client = basic_client(username)
    assert client.put(_url(mid=carol.pk), {"role_id": 1}, format="json").status_code == status
    assert client.delete(_url(mid=carol.pk)).status_code == status
    carol.refresh_from_db()
    assert carol.role == Role.DEVELOPER


def test_get_refusals(world):
    carol = _member(world["alpha"], "carol")
    assert basic_client("dave").get(_url(mid=carol.pk)).status_code == 200  # guests read members
    assert basic_client("erin").get(_url(mid=carol.pk)).status_code == 403
    assert basic_client("frank").get(_url(mid=carol.pk)).status_code == 404
    assert basic_client(None).get(_url(mid=carol.pk)).status_code == 401


def test_member_of_another_project_is_not_found_through_this_path(world):
    gina = _member(world["beta"], "gina")
    alice = basic_client("alice")  # admin of alpha, not a member of beta
    for response in (
        alice.get(_url("alpha", gina.pk)),
        alice.put(_url("alpha", gina.pk), {"role_id": 3}, format="json"),
        alice.delete(_url("alpha", gina.pk)),
    ):
        assert response.status_code == 404
        assert _code(response) == "NOT_FOUND"
    # Even a system admin, who may see both, gets nothing from the wrong project's path.
    assert basic_client("root").get(_url("alpha", gina.pk)).status_code == 404
    gina.refresh_from_db()
    assert gina.role == Role.PROJECT_ADMIN


# --- the last project admin ------------------------------------------------------------------


def test_last_admin_cannot_demote_or_remove_themselves(world):
    alice = basic_client("alice")
    own = _member(world["alpha"], "alice")
    demote = alice.put(_url(mid=own.pk), {"role_id": 2}, format="json")
    assert demote.status_code == 400
    assert _code(demote) == "BAD_REQUEST"
    assert "last project admin" in demote.json()["errors"][0]["message"]
    remove = alice.delete(_url(mid=own.pk))
    assert remove.status_code == 400
    own.refresh_from_db()
    assert own.role == Role.PROJECT_ADMIN
    # Re-asserting the admin role is fine.
    assert alice.put(_url(mid=own.pk), {"role_id": 1}, format="json").status_code == 200
    # The invariant holds for a system admin too: the project keeps one admin.
    assert basic_client("root").delete(_url(mid=own.pk)).status_code == 400
    # With a second admin, she may step down.
    bob = _member(world["alpha"], "bob")
    assert alice.put(_url(mid=bob.pk), {"role_id": 1}, format="json").status_code == 200
    assert alice.put(_url(mid=own.pk), {"role_id": 3}, format="json").status_code == 200
    own.refresh_from_db()
    assert own.role == Role.GUEST
    # bob is now the last admin; alice (a guest) can't touch him anyway, bob can't remove himself.
    assert basic_client("bob").delete(_url(mid=bob.pk)).status_code == 400


def test_an_admin_group_counts_as_an_admin(world):
    Member.objects.create(project=world["alpha"], group=world["devs"], role=Role.PROJECT_ADMIN)
    own = _member(world["alpha"], "alice")
    assert basic_client("alice").delete(_url(mid=own.pk)).status_code == 200
    assert not Member.objects.filter(project=world["alpha"], user=world["users"]["alice"]).exists()


# --- metadata -------------------------------------------------------------------------------


def _meta(project: str = "alpha", name: str | None = None) -> str:
    base = f"/api/v2.0/projects/{project}/metadatas/"
    return base if name is None else f"{base}{name}"


def test_metadata_crud(world):
    alice = basic_client("alice")
    assert alice.get(_meta()).json() == {"public": "false"}
    added = alice.post(_meta(), {"auto_scan": True, "severity": "high"}, format="json")
    assert added.status_code == 200, added.content
    assert alice.get(_meta()).json() == {"public": "false", "auto_scan": "true", "severity": "high"}
    assert alice.get(_meta(name="severity")).json() == {"severity": "high"}
    assert alice.get(_meta(name="public")).json() == {"public": "false"}
    assert alice.put(_meta(name="severity"), {"severity": "low"}, format="json").status_code == 200
    assert alice.put(_meta(name="public"), {"public": "true"}, format="json").status_code == 200
    world["alpha"].refresh_from_db()
    assert world["alpha"].public is True
    assert world["alpha"].metadata == {"auto_scan": "true", "severity": "low"}
    assert "public" not in world["alpha"].metadata
    assert alice.delete(_meta(name="auto_scan")).status_code == 200
    assert alice.get(_meta(name="auto_scan")).status_code == 404
    assert alice.get(f"/api/v2.0/projects/{world['alpha'].pk}/metadatas").json() == {
        "public": "true",
        "severity": "low",
    }
    # The project endpoint shows the same metadata.
    assert alice.get("/api/v2.0/projects/alpha").json()["metadata"] == {"public": "true", "severity": "low"}


@pytest.mark.parametrize(
    "body",
    [{"owner": "root"}, {"auto_scan": "yes"}, {"severity": "urgent"}, ["auto_scan"], "auto_scan", {}],
)
def test_metadata_add_bad_input(world, body):
    response = basic_client("alice").post(_meta(), body, format="json")
    assert response.status_code == 400
    assert _code(response) == "BAD_REQUEST"
    world["alpha"].refresh_from_db()
    assert world["alpha"].metadata == {}


def test_metadata_add_existing_key_is_conflict(world):
    alice = basic_client("alice")
    alice.post(_meta(), {"auto_scan": "true"}, format="json")
    for body in ({"auto_scan": "false"}, {"public": "true"}, {"prevent_vul": "true", "auto_scan": "false"}):
        response = alice.post(_meta(), body, format="json")
        assert response.status_code == 409
        assert _code(response) == "CONFLICT"
    world["alpha"].refresh_from_db()
    assert (world["alpha"].metadata, world["alpha"].public) == ({"auto_scan": "true"}, False)


def test_metadata_update_and_delete_errors(world):
    alice = basic_client("alice")
    alice.post(_meta(), {"auto_scan": "true"}, format="json")
    cases = [
        (alice.put(_meta(name="auto_scan"), {"severity": "low"}, format="json"), 400),
        (alice.put(_meta(name="auto_scan"), {"auto_scan": "true", "severity": "low"}, format="json"), 400),
        (alice.put(_meta(name="auto_scan"), {"auto_scan": "maybe"}, format="json"), 400),
        (alice.put(_meta(name="prevent_vul"), {"prevent_vul": "true"}, format="json"), 404),
        (alice.put(_meta(name="nonsense"), {"nonsense": "x"}, format="json"), 400),
        (alice.delete(_meta(name="public")), 400),
        (alice.delete(_meta(name="prevent_vul")), 404),
        (alice.get(_meta(name="prevent_vul")), 404),
    ]
    for response, status in cases:
        assert response.status_code == status, response.content
    world["alpha"].refresh_from_db()
    assert world["alpha"].metadata == {"auto_scan": "true"}


def test_metadata_permissions(world):
    basic_client("alice").post(_meta(), {"auto_scan": "true"}, format="json")
    bob, carol = basic_client("bob"), basic_client("carol")
    # Harbor's matrix: a maintainer reads one key but may not list or change; developers and guests get nothing.
    assert bob.get(_meta(name="auto_scan")).status_code == 200
    assert bob.get(_meta()).status_code == 403
    assert bob.put(_meta(name="auto_scan"), {"auto_scan": "false"}, format="json").status_code == 403
    assert bob.delete(_meta(name="auto_scan")).status_code == 403
    assert carol.get(_meta()).status_code == 403
    assert carol.post(_meta(), {"prevent_vul": "true"}, format="json").status_code == 403
    assert basic_client("dave").get(_meta(name="auto_scan")).status_code == 403
    assert basic_client("frank").get(_meta()).status_code == 404
    assert basic_client(None).get(_meta()).status_code == 401
    assert basic_client("root").delete(_meta(name="auto_scan")).status_code == 200
