"""/api/v2.0/usergroups through the API, with real Basic credentials."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model

from common.testing.api import basic_client
from projects.models import GroupType, Member, Role, UserGroup
from projects.services import project_create

pytestmark = pytest.mark.django_db
PW = "pw-Secret-1"


@pytest.fixture
def users():
    model = get_user_model()
    return {
        "root": model.objects.create_superuser("root", "root@example.com", PW),
        "alice": model.objects.create_user("alice", "alice@example.com", PW),
    }


def _code(response) -> str:  # noqa: ANN001
    return response.json()["errors"][0]["code"]


def test_group_crud_by_sysadmin(users):
    root = basic_client("root")
    created = root.post("/api/v2.0/usergroups", {"group_name": "devs", "group_type": 2}, format="json")
    assert created.status_code == 201, created.content
    group = UserGroup.objects.get(name="devs")
    assert created["Location"] == f"/api/v2.0/usergroups/{group.pk}"
    shown = root.get(f"/api/v2.0/usergroups/{group.pk}")
    assert shown.json() == {"id": group.pk, "group_name": "devs", "group_type": 2, "ldap_group_dn": ""}
    renamed = root.put(f"/api/v2.0/usergroups/{group.pk}", {"group_name": "developers", "group_type": 1}, format="json")
    assert renamed.status_code == 200
    group.refresh_from_db()
    assert (group.name, group.group_type) == ("developers", GroupType.HTTP)  # only the name changes
    project = project_create(name="p", owner=users["root"])
    Member.objects.create(project=project, group=group, role=Role.GUEST)
    assert root.delete(f"/api/v2.0/usergroups/{group.pk}").status_code == 200
    assert not UserGroup.objects.filter(pk=group.pk).exists()
    assert not Member.objects.filter(project=project, group_id=group.pk).exists()
    assert root.get(f"/api/v2.0/usergroups/{group.pk}").status_code == 404
    assert root.delete(f"/api/v2.0/usergroups/{group.pk}").status_code == 200  # Harbor: unknown id is a no-op


def test_ldap_group_needs_its_dn(users):
    root = basic_client("root")
    missing = root.post("/api/v2.0/usergroups", {"group_name": "ops", "group_type": 1}, format="json")
    assert missing.status_code == 400
    assert _code(missing) == "BAD_REQUEST"
    body = {"group_name": "ops", "group_type": 1, "ldap_group_dn": " CN=Ops,OU=Groups,DC=example,DC=com "}
    assert root.post("/api/v2.0/usergroups", body, format="json").status_code == 201
    assert UserGroup.objects.get(name="ops").ldap_group_dn == "cn=ops,ou=groups,dc=example,dc=com"


def test_group_refusals_by_role(users):
    group = UserGroup.objects.create(name="devs", group_type=GroupType.OIDC)
    calls = [
        ("get", "/api/v2.0/usergroups", None),
        ("post", "/api/v2.0/usergroups", {"group_name": "x", "group_type": 2}),
        ("get", f"/api/v2.0/usergroups/{group.pk}", None),
        ("put", f"/api/v2.0/usergroups/{group.pk}", {"group_name": "renamed"}),
        ("delete", f"/api/v2.0/usergroups/{group.pk}", None),
    ]
    for method, url, body in calls:
        alice = getattr(basic_client("alice"), method)(url, body, format="json")
        assert alice.status_code == 403, (method, url)
        assert _code(alice) == "FORBIDDEN"
        anonymous = getattr(basic_client(None), method)(url, body, format="json")
        assert anonymous.status_code == 401, (method, url)
        assert _code(anonymous) == "UNAUTHORIZED"
    group.refresh_from_db()
    assert group.name == "devs"
    assert not UserGroup.objects.filter(name="x").exists()


@pytest.mark.parametrize(
    "body",
    [
        {"group_type": 2},
        {"group_name": "", "group_type": 2},
        {"group_name": "x"},
        {"group_name": "x", "group_type": 4},
        {"group_name": "x", "group_type": "http"},
        {"group_name": "x" * 256, "group_type": 2},
    ],
)
def test_create_group_bad_input(users, body):
    refused = basic_client("root").post("/api/v2.0/usergroups", body, format="json")
    assert refused.status_code == 400
    assert _code(refused) == "BAD_REQUEST"
    assert not UserGroup.objects.exists()


def test_group_conflicts_and_bad_ids(users):
    root = basic_client("root")
    UserGroup.objects.create(name="devs", group_type=GroupType.HTTP)
    other = UserGroup.objects.create(name="ops", group_type=GroupType.HTTP)
    duplicate = root.post("/api/v2.0/usergroups", {"group_name": "devs", "group_type": 2}, format="json")
    assert duplicate.status_code == 409
    assert _code(duplicate) == "CONFLICT"
    # The same name under another type is another group.
    assert root.post("/api/v2.0/usergroups", {"group_name": "devs", "group_type": 3}, format="json").status_code == 201
    clash = root.put(f"/api/v2.0/usergroups/{other.pk}", {"group_name": "devs"}, format="json")
    assert clash.status_code == 409
    assert root.put(f"/api/v2.0/usergroups/{other.pk}", {}, format="json").status_code == 400
    assert root.put("/api/v2.0/usergroups/999999", {"group_name": "z"}, format="json").status_code == 404
    assert root.get("/api/v2.0/usergroups/999999").status_code == 404
    assert root.get("/api/v2.0/usergroups/0").status_code == 400
    assert root.get("/api/v2.0/usergroups/abc").status_code == 400
    assert root.delete("/api/v2.0/usergroups/0").status_code == 400


def test_list_groups_filters_paging_and_budget(users, django_assert_max_num_queries):
    for i in range(50):
        UserGroup.objects.create(name=f"team{i:02d}", group_type=GroupType.HTTP)
    UserGroup.objects.create(name="ldap-ops", group_type=GroupType.LDAP, ldap_group_dn="cn=ops,dc=example,dc=com")
    root = basic_client("root")
    root.get("/api/v2.0/users/current")
    with django_assert_max_num_queries(3):
        listed = root.get("/api/v2.0/usergroups?page_size=100")
    assert listed.status_code == 200
    assert listed["X-Total-Count"] == "51"
    assert listed.json()[0]["group_name"] == "ldap-ops"  # newest first
    assert set(listed.json()[0]) == {"id", "group_name", "group_type", "ldap_group_dn"}
    page = root.get("/api/v2.0/usergroups?page=2&page_size=20")
    assert len(page.json()) == 20
    assert 'rel="next"' in page["Link"]
    assert [g["group_name"] for g in root.get("/api/v2.0/usergroups?group_name=team4").json()] == [
        f"team{i}" for i in range(49, 39, -1)
    ]
    by_dn = root.get("/api/v2.0/usergroups?ldap_group_dn=CN=ops,dc=example,dc=com").json()
    assert [g["group_name"] for g in by_dn] == ["ldap-ops"]


def test_search_groups_for_any_user(users, django_assert_max_num_queries):
    for i in range(30):
        UserGroup.objects.create(name=f"team{i:02d}", group_type=GroupType.OIDC)
    alice = basic_client("alice")
    alice.get("/api/v2.0/users/current")
    with django_assert_max_num_queries(3):
        found = alice.get("/api/v2.0/usergroups/search?groupname=team&page_size=50")
    assert found.status_code == 200
    assert found["X-Total-Count"] == "30"
    assert all(set(g) == {"id", "group_name", "group_type"} for g in found.json())
    assert alice.get("/api/v2.0/usergroups/search?groupname=nothing").json() == []
    missing = alice.get("/api/v2.0/usergroups/search")
    assert missing.status_code == 400
    assert _code(missing) == "BAD_REQUEST"
    assert basic_client(None).get("/api/v2.0/usergroups/search?groupname=team").status_code == 401
