"""/api/v2.0/robots and /api/v2.0/permissions through the API, with real Basic credentials."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta

import jwt
import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import check_password
from django.db import connection
from django.test.utils import CaptureQueriesContext

from common.configuration import config_cache_clear
from common.testing.api import basic_client
from projects.models import Robot, Role
from projects.robots.catalogue import PROJECT_PERMISSIONS, SYSTEM_PERMISSIONS
from projects.services import member_set, project_create
from registry.tests.factories import RepositoryFactory
from system.configuration import config_update

pytestmark = pytest.mark.django_db
PW = "pw-Secret-1"


@pytest.fixture(autouse=True)
def fresh_configuration():
    # The configuration is cached per process; a duration of 0 reads robot_token_duration from it.
    config_cache_clear()
    yield
    config_cache_clear()


@pytest.fixture
def people():
    model = get_user_model()
    users = {"root": model.objects.create_superuser("root", "root@x", PW)}
    for name in ("padmin", "maint", "guest", "limited", "outsider"):
        users[name] = model.objects.create_user(name, password=PW)
    alpha = project_create(name="alpha")
    beta = project_create(name="beta")
    member_set(project=alpha, user=users["padmin"], role=Role.PROJECT_ADMIN)
    member_set(project=alpha, user=users["maint"], role=Role.MAINTAINER)
    member_set(project=alpha, user=users["guest"], role=Role.GUEST)
    member_set(project=alpha, user=users["limited"], role=Role.LIMITED_GUEST)
    member_set(project=beta, user=users["outsider"], role=Role.PROJECT_ADMIN)
    return {**users, "alpha": alpha, "beta": beta}


def perm(namespace: str, *pairs: str, kind: str = "project") -> dict:
    """`perm("alpha", "repository:pull")` -> one RobotPermission item."""
    access = [{"resource": p.split(":")[0], "action": p.split(":")[1], "effect": "allow"} for p in pairs]
    return {"kind": kind, "namespace": namespace, "access": access}


def create(client, name: str, permissions: list[dict], *, level: str = "project", **extra):  # noqa: ANN001, ANN201
    return client.post(
        "/api/v2.0/robots", {"name": name, "level": level, "permissions": permissions, **extra}, format="json"
    )


def robot_client(created) -> object:  # noqa: ANN001
    body = created.json()
    return basic_client(body["name"], body["secret"])


def code(response) -> str:  # noqa: ANN001
    return response.json()["errors"][0]["code"]


# --- CreateRobot -------------------------------------------------------------------------------------
def test_project_admin_creates_a_project_robot(people):
    created = create(basic_client("padmin"), "ci", [perm("alpha", "repository:pull", "repository:push")])
    assert created.status_code == 201, created.content
    body = created.json()
    robot = Robot.objects.get(name="ci")
    assert set(body) == {"id", "name", "secret", "creation_time", "expires_at"}
    assert body["id"] == robot.pk
    assert body["name"] == "robot$alpha+ci"
    assert created["Location"] == f"/api/v2.0/robots/{robot.pk}"
    assert created["Cache-Control"] == "no-store"
    assert len(body["secret"]) == 32
    assert body["secret"] not in robot.secret_hash  # only a hash is kept
    assert robot.secret_hash.startswith("md5$")  # a Django password hash (the test settings' hasher)
    assert robot.level == "project"
    assert robot.project == people["alpha"]
    assert (robot.creator_type, robot.creator_ref) == ("local", people["padmin"].pk)
    # duration 0 means Harbor's default, 30 days
    assert robot.duration == 30
    assert body["expires_at"] == int(robot.expires_at.timestamp())
    never = create(basic_client("padmin"), "forever", [perm("alpha", "repository:pull")], duration=-1)
    assert never.json()["expires_at"] == -1


def test_duration_zero_is_the_configured_robot_token_duration(people):
    config_update(changes={"robot_token_duration": 7}, user=None)
    created = create(basic_client("padmin"), "weekly", [perm("alpha", "repository:pull")], duration=0)
    assert created.status_code == 201, created.content
    robot = Robot.objects.get(name="weekly")
    assert robot.duration == 7
    assert abs(robot.expires_at - robot.created - timedelta(days=7)) < timedelta(seconds=30)
    assert created.json()["expires_at"] == int(robot.expires_at.timestamp())


def test_sysadmin_creates_a_system_robot(people):
    permissions = [
        perm("/", "project:create", "registry:list", kind="system"),
        perm("*", "repository:pull"),
        perm("beta", "repository:push"),
    ]
    created = create(basic_client("root"), "sync", permissions, level="system", duration=7)
    assert created.status_code == 201, created.content
    assert created.json()["name"] == "robot$sync"
    robot = Robot.objects.get(name="sync")
    assert robot.project is None
    assert robot.duration == 7
    got = basic_client("root").get(f"/api/v2.0/robots/{robot.pk}").json()
    assert sorted((p["kind"], p["namespace"]) for p in got["permissions"]) == [
        ("project", "*"),
        ("project", "beta"),
        ("system", "/"),
    ]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"name": "Bad Name"}, 400, "robot name is not in lower case"),
        ({"name": "a+b"}, 400, "robot name"),
        ({"duration": -2}, 400, "duration"),
        ({"duration": 2**31}, 400, "duration"),
        ({"level": "galaxy"}, 400, "level"),
        ({"permissions": []}, 400, "empty permission"),
        ({"permissions": [perm("alpha")]}, 400, "empty access"),
        ({"permissions": [perm("alpha", "repository:fly")]}, 400, "cannot be granted"),
        ({"permissions": [perm("alpha", "configuration:update")]}, 400, "cannot be granted"),
        ({"permissions": [perm("/", "registry:list", kind="system")]}, 400, "system permissions"),
        ({"permissions": [perm("*", "repository:pull")]}, 400, "every project"),
        ({"permissions": [perm("alpha", "repository:pull"), perm("beta", "repository:pull")]}, 400, "exactly one"),
        ({"permissions": [{"kind": "project", "namespace": "alpha", "access": [{"resource": "repository"}]}]}, 400, ""),
        (
            {
                "permissions": [
                    {
                        "kind": "project",
                        "namespace": "alpha",
                        "access": [{"resource": "repository", "action": "pull", "effect": "deny"}],
                    }
                ]
            },
            400,
            "only allow",
        ),
        ({"permissions": [perm("nowhere", "repository:pull")]}, 404, "project"),
        ({"secret": "weakweak"}, 400, "8 chars"),
    ],
)
def test_create_rejects_bad_input(people, body, status, message):
    payload = {"name": "bot", "level": "project", "permissions": [perm("alpha", "repository:pull")], **body}
    response = basic_client("root").post("/api/v2.0/robots", payload, format="json")
    assert response.status_code == status, response.content
    assert code(response) == {400: "BAD_REQUEST", 404: "NOT_FOUND"}[status]
    assert message in response.json()["errors"][0]["message"]
    assert not Robot.objects.exists()


def test_create_conflict_and_malformed_body(people):
    admin = basic_client("padmin")
    assert create(admin, "dup", [perm("alpha", "repository:pull")]).status_code == 201
    again = create(admin, "dup", [perm("alpha", "repository:pull")])
    assert again.status_code == 409
    assert code(again) == "CONFLICT"
    # The same short name in another project, or at system level, is another robot.
    assert create(basic_client("outsider"), "dup", [perm("beta", "repository:pull")]).status_code == 201
    assert create(basic_client("root"), "dup", [perm("alpha", "repository:pull")], level="system").status_code == 201
    assert create(basic_client("root"), "dup", [perm("beta", "repository:pull")], level="system").status_code == 409
    missing = basic_client("root").post("/api/v2.0/robots", {"level": "project"}, format="json")
    assert missing.status_code == 400
    assert code(missing) == "BAD_REQUEST"


def test_create_refusals(people):
    pulls = [perm("alpha", "repository:pull")]
    anonymous = create(basic_client(None), "x", pulls)
    assert anonymous.status_code == 401
    assert code(anonymous) == "UNAUTHORIZED"
    # a maintainer reads robots but does not create them
    maintainer = create(basic_client("maint"), "x", pulls)
    assert maintainer.status_code == 403
    assert code(maintainer) == "FORBIDDEN"
    # a project the caller holds nothing in is hidden
    hidden = create(basic_client("outsider"), "x", pulls)
    assert hidden.status_code == 404
    assert code(hidden) == "NOT_FOUND"
    # system robots are for sysadmins
    system = create(basic_client("padmin"), "x", pulls, level="system")
    assert system.status_code == 403
    wrong_password = create(basic_client("padmin", "nope"), "x", pulls)
    assert wrong_password.status_code == 401
    assert not Robot.objects.exists()


# --- ListRobot -------------------------------------------------------------------------------------
def test_list_project_robots_paged_filtered_with_query_budget(people, django_assert_max_num_queries):
    admin = basic_client("padmin")
    for i in range(15):
        assert create(admin, f"bot{i:02d}", [perm("alpha", "repository:pull")]).status_code == 201
    create(basic_client("outsider"), "other", [perm("beta", "repository:pull")])
    alpha = people["alpha"].pk
    with django_assert_max_num_queries(6):
        page = admin.get(f"/api/v2.0/robots?q=Level=project,ProjectID={alpha}&page=1&page_size=10&sort=name")
    assert page.status_code == 200, page.content
    assert page["X-Total-Count"] == "15"
    assert 'rel="next"' in page["Link"]
    rows = page.json()
    assert [r["name"] for r in rows] == [f"robot$alpha+bot{i:02d}" for i in range(10)]
    assert set(rows[0]) == {
        "id",
        "name",
        "description",
        "level",
        "duration",
        "editable",
        "disable",
        "expires_at",
        "permissions",
        "creator_type",
        "creator_ref",
        "creation_time",
        "update_time",
    }
    assert rows[0]["permissions"] == [
        {
            "kind": "project",
            "namespace": "alpha",
            "access": [{"resource": "repository", "action": "pull", "effect": "allow"}],
        }
    ]
    assert rows[0]["editable"] is True
    assert rows[0]["disable"] is False
    fuzzy = admin.get(f"/api/v2.0/robots?q=Level=project,ProjectID={alpha},name=~bot1")
    assert fuzzy["X-Total-Count"] == "5"
    newest = admin.get(f"/api/v2.0/robots?q=Level=project,ProjectID={alpha}&sort=-name&page_size=1")
    assert newest.json()[0]["name"] == "robot$alpha+bot14"
    # a guest holds robot read/list (Harbor's role matrix)
    assert basic_client("guest").get(f"/api/v2.0/robots?q=Level=project,ProjectID={alpha}").status_code == 200


def test_list_system_robots_and_errors(people):
    root = basic_client("root")
    create(root, "sys1", [perm("alpha", "repository:pull")], level="system")
    create(basic_client("padmin"), "proj1", [perm("alpha", "repository:pull")])
    listed = root.get("/api/v2.0/robots")  # no Level: system robots, as Harbor
    assert [r["name"] for r in listed.json()] == ["robot$sys1"]
    assert root.get("/api/v2.0/robots?q=Level=system").json()[0]["level"] == "system"
    alpha = people["alpha"].pk
    cases = {
        "/api/v2.0/robots?q=Level=project": 400,  # project robots need a ProjectID
        "/api/v2.0/robots?q=Level=project,ProjectID=abc": 400,
        "/api/v2.0/robots?q=Level=galaxy": 400,
        f"/api/v2.0/robots?q=Level=project,ProjectID={alpha},secret_hash=x": 400,  # not a whitelisted key
        f"/api/v2.0/robots?q=Level=project,ProjectID={alpha}&sort=secret_hash": 400,
        "/api/v2.0/robots?q=Level=project,ProjectID=99999": 404,
    }
    for url, status in cases.items():
        response = root.get(url)
        assert response.status_code == status, (url, response.content)
        assert code(response) == {400: "BAD_REQUEST", 404: "NOT_FOUND"}[status]
    assert basic_client("padmin").get("/api/v2.0/robots").status_code == 403  # system robots: sysadmins
    assert basic_client(None).get("/api/v2.0/robots").status_code == 401
    limited = basic_client("limited").get(f"/api/v2.0/robots?q=Level=project,ProjectID={alpha}")
    assert limited.status_code == 403
    outsider = basic_client("outsider").get(f"/api/v2.0/robots?q=Level=project,ProjectID={alpha}")
    assert outsider.status_code == 404


# --- GetRobotByID, UpdateRobot, DeleteRobot -------------------------------------------------------
def test_get_update_delete(people):
    admin = basic_client("padmin")
    created = create(admin, "ci", [perm("alpha", "repository:pull")], description="first")
    robot_id = created.json()["id"]
    got = admin.get(f"/api/v2.0/robots/{robot_id}")
    assert got.status_code == 200
    body = got.json()
    assert body["description"] == "first"
    update = {
        **body,
        "description": "second",
        "disable": True,
        "duration": 10,
        "permissions": [perm("alpha", "repository:pull", "repository:push", "artifact:read")],
    }
    updated = admin.put(f"/api/v2.0/robots/{robot_id}", update, format="json")
    assert updated.status_code == 200, updated.content
    robot = Robot.objects.get(pk=robot_id)
    assert robot.description == "second"
    assert robot.disabled
    assert robot.duration == 10
    assert (robot.expires_at - robot.created).days == 10  # Harbor: from the creation time
    again = admin.get(f"/api/v2.0/robots/{robot_id}").json()
    assert again["disable"] is True
    assert {(a["resource"], a["action"]) for a in again["permissions"][0]["access"]} == {
        ("repository", "pull"),
        ("repository", "push"),
        ("artifact", "read"),
    }
    # the short name is accepted as well as the full one
    assert admin.put(f"/api/v2.0/robots/{robot_id}", {**update, "name": "ci"}, format="json").status_code == 200
    deleted = admin.delete(f"/api/v2.0/robots/{robot_id}")
    assert deleted.status_code == 200
    assert admin.get(f"/api/v2.0/robots/{robot_id}").status_code == 404


def test_update_rejects_bad_input_and_refusals(people):
    admin = basic_client("padmin")
    robot_id = create(admin, "ci", [perm("alpha", "repository:pull")]).json()["id"]
    base = admin.get(f"/api/v2.0/robots/{robot_id}").json()
    cases = [
        ({"name": "robot$alpha+other"}, 400),
        ({"level": "system"}, 400),
        ({"permissions": []}, 400),
        ({"permissions": [perm("beta", "repository:pull")]}, 400),  # a project robot stays in its project
        ({"permissions": [perm("alpha", "repository:fly")]}, 400),
        ({"duration": -5}, 400),
    ]
    for change, status in cases:
        response = admin.put(f"/api/v2.0/robots/{robot_id}", {**base, **change}, format="json")
        assert response.status_code == status, (change, response.content)
        assert code(response) == "BAD_REQUEST"
    assert admin.put("/api/v2.0/robots/abc", base, format="json").status_code == 400
    assert admin.put("/api/v2.0/robots/999999", base, format="json").status_code == 404
    assert basic_client("maint").put(f"/api/v2.0/robots/{robot_id}", base, format="json").status_code == 403
    assert basic_client("outsider").put(f"/api/v2.0/robots/{robot_id}", base, format="json").status_code == 404
    assert basic_client(None).put(f"/api/v2.0/robots/{robot_id}", base, format="json").status_code == 401
    assert basic_client("maint").delete(f"/api/v2.0/robots/{robot_id}").status_code == 403
    assert basic_client("guest").get(f"/api/v2.0/robots/{robot_id}").status_code == 200
    assert basic_client("limited").get(f"/api/v2.0/robots/{robot_id}").status_code == 403
    assert basic_client("outsider").get(f"/api/v2.0/robots/{robot_id}").status_code == 404
    assert basic_client("outsider").delete(f"/api/v2.0/robots/{robot_id}").status_code == 404
    assert admin.get("/api/v2.0/robots/abc").status_code == 400
    assert admin.delete("/api/v2.0/robots/999999").status_code == 404
    assert Robot.objects.filter(pk=robot_id).exists()


def test_system_robot_management_is_for_sysadmins(people):
    robot_id = create(basic_client("root"), "sys", [perm("alpha", "repository:pull")], level="system").json()["id"]
    for name in ("padmin", "outsider"):
        assert basic_client(name).get(f"/api/v2.0/robots/{robot_id}").status_code == 403
        assert basic_client(name).delete(f"/api/v2.0/robots/{robot_id}").status_code == 403
        assert basic_client(name).patch(f"/api/v2.0/robots/{robot_id}", {}, format="json").status_code == 403
    assert basic_client("root").delete(f"/api/v2.0/robots/{robot_id}").status_code == 200


# --- RefreshSec --------------------------------------------------------------------------------------
def test_refresh_generates_a_new_secret_and_retires_the_old(people):
    admin = basic_client("padmin")
    created = create(admin, "ci", [perm("alpha", "robot:read", "robot:list")])
    old = robot_client(created)
    robot_id = created.json()["id"]
    assert old.get(f"/api/v2.0/robots/{robot_id}").status_code == 200  # also fills the credential cache
    refreshed = admin.patch(f"/api/v2.0/robots/{robot_id}", {}, format="json")
    assert refreshed.status_code == 200
    assert refreshed["Cache-Control"] == "no-store"
    secret = refreshed.json()["secret"]
    assert len(secret) == 32
    assert secret != created.json()["secret"]
    assert old.get(f"/api/v2.0/robots/{robot_id}").status_code == 401  # at once, cache or not
    new = basic_client(created.json()["name"], secret)
    assert new.get(f"/api/v2.0/robots/{robot_id}").status_code == 200


def test_refresh_with_a_chosen_secret(people):
    admin = basic_client("padmin")
    created = create(admin, "ci", [perm("alpha", "robot:read")])
    robot_id = created.json()["id"]
    weak = admin.patch(f"/api/v2.0/robots/{robot_id}", {"secret": "alllowercase1"}, format="json")
    assert weak.status_code == 400
    assert code(weak) == "BAD_REQUEST"
    assert "alllowercase1" not in weak.content.decode()
    chosen = admin.patch(f"/api/v2.0/robots/{robot_id}", {"secret": "Chosen-Secret-42"}, format="json")
    assert chosen.status_code == 200
    assert chosen.json() == {"secret": ""}  # Harbor returns nothing for a secret the caller chose
    assert basic_client("robot$alpha+ci", "Chosen-Secret-42").get(f"/api/v2.0/robots/{robot_id}").status_code == 200
    assert basic_client("maint").patch(f"/api/v2.0/robots/{robot_id}", {}, format="json").status_code == 403
    assert admin.patch("/api/v2.0/robots/999999", {}, format="json").status_code == 404


# --- robots acting through the API ------------------------------------------------------------------
def test_a_robot_manages_robots_within_its_own_permissions(people):
    manager = create(
        basic_client("padmin"),
        "manager",
        [perm("alpha", "robot:create", "robot:read", "robot:update", "robot:list", "repository:pull")],
    )
    bot = robot_client(manager)
    within = create(bot, "child", [perm("alpha", "repository:pull")])
    assert within.status_code == 201, within.content
    child = Robot.objects.get(name="child")
    assert (child.creator_type, child.creator_ref) == ("robot", manager.json()["id"])
    beyond = create(bot, "greedy", [perm("alpha", "repository:pull", "repository:push")])
    assert beyond.status_code == 403
    assert code(beyond) == "FORBIDDEN"
    assert "push on repository" in beyond.json()["errors"][0]["message"]
    other_project = create(bot, "elsewhere", [perm("beta", "repository:pull")])
    assert other_project.status_code == 404
    system = create(bot, "sys", [perm("alpha", "repository:pull")], level="system")
    assert system.status_code == 403
    # editing the child to more than the manager holds is refused; within bounds is fine
    child_body = bot.get(f"/api/v2.0/robots/{child.pk}").json()
    more = {**child_body, "permissions": [perm("alpha", "repository:push")]}
    assert bot.put(f"/api/v2.0/robots/{child.pk}", more, format="json").status_code == 403
    assert bot.put(f"/api/v2.0/robots/{child.pk}", {**child_body, "description": "x"}, format="json").status_code == 200
    # the manager cannot widen (or narrow) its own permissions, even to what it holds
    me = bot.get(f"/api/v2.0/robots/{manager.json()['id']}").json()
    narrower = {**me, "permissions": [perm("alpha", "robot:update", "robot:read")]}
    self_edit = bot.put(f"/api/v2.0/robots/{me['id']}", narrower, format="json")
    assert self_edit.status_code == 403
    assert "own permissions" in self_edit.json()["errors"][0]["message"]
    # a robot created by an admin with push cannot be taken over through a secret refresh
    pusher = create(basic_client("padmin"), "pusher", [perm("alpha", "repository:push")]).json()["id"]
    assert bot.patch(f"/api/v2.0/robots/{pusher}", {}, format="json").status_code == 403
    assert bot.patch(f"/api/v2.0/robots/{child.pk}", {}, format="json").status_code == 200
    # nor re-enabled by a robot that does not hold all its permissions
    padmin = basic_client("padmin")
    pusher_body = padmin.get(f"/api/v2.0/robots/{pusher}").json()
    assert padmin.put(f"/api/v2.0/robots/{pusher}", {**pusher_body, "disable": True}, format="json").status_code == 200


def test_a_robot_cannot_outlive_itself_through_another(people):
    manager = create(basic_client("padmin"), "short", [perm("alpha", "robot:create", "repository:pull")], duration=2)
    bot = robot_client(manager)
    forever = create(bot, "forever", [perm("alpha", "repository:pull")], duration=-1)
    assert forever.status_code == 403
    assert create(bot, "longer", [perm("alpha", "repository:pull")], duration=30).status_code == 403
    assert create(bot, "shorter", [perm("alpha", "repository:pull")], duration=1).status_code == 201
    # the default (0) life of a robot's robot ends with its creator's
    defaulted = create(bot, "defaulted", [perm("alpha", "repository:pull")])
    assert defaulted.status_code == 201, defaulted.content
    assert defaulted.json()["expires_at"] == manager.json()["expires_at"]
    assert Robot.objects.get(name="defaulted").duration == 2


def test_system_robot_with_robot_permissions_manages_system_robots_bounded(people):
    admin = create(
        basic_client("root"),
        "operator",
        [perm("/", "robot:create", "robot:list", "robot:read", kind="system"), perm("*", "repository:pull")],
        level="system",
    )
    bot = robot_client(admin)
    assert bot.get("/api/v2.0/robots").status_code == 200
    ok = create(bot, "puller", [perm("*", "repository:pull"), perm("beta", "repository:pull")], level="system")
    assert ok.status_code == 201, ok.content
    too_much = create(bot, "greedy", [perm("/", "registry:create", kind="system")], level="system")
    assert too_much.status_code == 403
    # it holds no project robot permissions, so project robots are out of reach
    assert create(bot, "proj", [perm("alpha", "repository:pull")]).status_code == 403


def test_disabled_and_expired_robots_are_refused(people):
    admin = basic_client("padmin")
    created = create(admin, "ci", [perm("alpha", "robot:read")])
    bot = robot_client(created)
    robot_id = created.json()["id"]
    assert bot.get(f"/api/v2.0/robots/{robot_id}").status_code == 200
    body = admin.get(f"/api/v2.0/robots/{robot_id}").json()
    assert admin.put(f"/api/v2.0/robots/{robot_id}", {**body, "disable": True}, format="json").status_code == 200
    refused = bot.get(f"/api/v2.0/robots/{robot_id}")
    assert refused.status_code == 401
    assert code(refused) == "UNAUTHORIZED"
    assert admin.put(f"/api/v2.0/robots/{robot_id}", {**body, "disable": False}, format="json").status_code == 200
    assert bot.get(f"/api/v2.0/robots/{robot_id}").status_code == 200
    Robot.objects.filter(pk=robot_id).update(expires_at="2000-01-01T00:00:00Z")
    assert bot.get(f"/api/v2.0/robots/{robot_id}").status_code == 401


def test_robot_sees_only_its_projects(people):
    created = create(basic_client("padmin"), "reader", [perm("alpha", "project:read", "repository:list")])
    bot = robot_client(created)
    assert [p["name"] for p in bot.get("/api/v2.0/projects").json()] == ["alpha"]
    assert bot.get("/api/v2.0/projects/alpha").status_code == 200
    assert bot.get("/api/v2.0/projects/beta").status_code == 404
    assert bot.delete("/api/v2.0/projects/alpha").status_code == 403


# --- getPermissions ----------------------------------------------------------------------------------
def test_permissions_catalogue(people):
    full = basic_client("root").get("/api/v2.0/permissions")
    assert full.status_code == 200
    body = full.json()
    assert set(body) == {"system", "project"}
    assert [(p["resource"], p["action"]) for p in body["system"]] == list(SYSTEM_PERMISSIONS)
    assert [(p["resource"], p["action"]) for p in body["project"]] == list(PROJECT_PERMISSIONS)
    project_admin = basic_client("padmin").get("/api/v2.0/permissions").json()
    assert project_admin == {"system": [], "project": body["project"]}
    developer = basic_client("maint").get("/api/v2.0/permissions")
    assert developer.status_code == 403
    assert code(developer) == "FORBIDDEN"
    assert basic_client(None).get("/api/v2.0/permissions").status_code == 401
    bot = robot_client(create(basic_client("padmin"), "ci", [perm("alpha", "robot:create")]))
    assert bot.get("/api/v2.0/permissions").status_code == 403


# --- robots on /v2/ and /service/token ---------------------------------------------------------------
def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_robot_credentials_on_token_service_and_v2(people, client):
    created = create(basic_client("padmin"), "puller", [perm("alpha", "repository:pull")]).json()
    auth = _basic(created["name"], created["secret"])
    token = client.get(
        "/service/token",
        {"service": "harbor-registry", "scope": ["repository:alpha/app:pull,push", "repository:beta/app:pull"]},
        HTTP_AUTHORIZATION=auth,
    )
    assert token.status_code == 200, token.content
    claims = jwt.decode(token.json()["token"], options={"verify_signature": False})
    granted = {(a["name"], tuple(a["actions"])) for a in claims["access"]}
    assert granted == {("alpha/app", ("pull",)), ("beta/app", ())}
    assert claims["sub"] == "robot$alpha+puller"
    assert client.get("/v2/", HTTP_AUTHORIZATION=auth).status_code == 200
    bad = client.get(
        "/service/token", {"scope": "repository:alpha/app:pull"}, HTTP_AUTHORIZATION=_basic(created["name"], "x")
    )
    assert bad.status_code == 401
    assert client.get("/v2/", HTTP_AUTHORIZATION=_basic(created["name"], "Wrong-Secret-1")).status_code == 401
    # the catalog lists exactly the robot's projects, by Basic credentials or by its token
    RepositoryFactory(project=people["alpha"], name="alpha/app")
    RepositoryFactory(project=people["beta"], name="beta/app")
    assert client.get("/v2/_catalog", HTTP_AUTHORIZATION=auth).json()["repositories"] == ["alpha/app"]
    catalog_token = client.get("/service/token", {"scope": "registry:catalog:*"}, HTTP_AUTHORIZATION=auth).json()
    bearer = f"Bearer {catalog_token['token']}"
    assert client.get("/v2/_catalog", HTTP_AUTHORIZATION=bearer).json()["repositories"] == ["alpha/app"]
    Robot.objects.filter(pk=created["id"]).update(disabled=True)
    assert client.get("/v2/_catalog", HTTP_AUTHORIZATION=bearer).json()["repositories"] == []
    assert (
        client.get("/service/token", {"scope": "repository:alpha/app:pull"}, HTTP_AUTHORIZATION=auth).status_code == 401
    )
    assert client.get("/v2/", HTTP_AUTHORIZATION=auth).status_code == 401


# --- the canary: a secret leaves only in its create/refresh response, and never in a log ------------
def test_secrets_never_appear_elsewhere(people, caplog, client):
    for name in ("", "django", "django.request", "django.db.backends", "projects", "registry", "common"):
        caplog.set_level(logging.DEBUG, logger=name)
    with CaptureQueriesContext(connection) as queries:  # SQL and its parameters are logged too
        _canary(people, caplog, client, queries)


def _canary(people, caplog, client, queries):  # noqa: ANN001
    admin = basic_client("padmin")
    created = create(admin, "canary", [perm("alpha", "robot:read", "robot:list", "repository:pull")])
    robot_id = created.json()["id"]
    secrets = [created.json()["secret"]]
    bot = basic_client("robot$alpha+canary", secrets[0])
    seen = [
        admin.get(f"/api/v2.0/robots/{robot_id}"),
        admin.get(f"/api/v2.0/robots?q=Level=project,ProjectID={people['alpha'].pk}"),
        bot.get(f"/api/v2.0/robots/{robot_id}"),
        bot.get(f"/api/v2.0/robots?q=Level=project,ProjectID={people['alpha'].pk}"),
        basic_client("robot$alpha+canary", secrets[0] + "x").get(f"/api/v2.0/robots/{robot_id}"),
        client.get("/v2/", HTTP_AUTHORIZATION=_basic("robot$alpha+canary", secrets[0])),
        client.get(
            "/service/token",
            {"scope": "repository:alpha/x:pull"},
            HTTP_AUTHORIZATION=_basic("robot$alpha+canary", secrets[0]),
        ),
    ]
    body = admin.get(f"/api/v2.0/robots/{robot_id}").json()
    seen.append(admin.put(f"/api/v2.0/robots/{robot_id}", {**body, "secret": "Sneaky-Secret-9"}, format="json"))
    refreshed = admin.patch(f"/api/v2.0/robots/{robot_id}", {}, format="json")
    secrets.append(refreshed.json()["secret"])
    seen += [
        admin.get(f"/api/v2.0/robots/{robot_id}"),
        admin.patch(f"/api/v2.0/robots/{robot_id}", {"secret": "Chosen-Secret-77"}, format="json"),
        admin.patch(f"/api/v2.0/robots/{robot_id}", {"secret": "weak"}, format="json"),
        admin.get(f"/api/v2.0/robots/{robot_id}"),
        basic_client("root").get("/api/v2.0/robots?q=Level=project,ProjectID=" + str(people["alpha"].pk)),
    ]
    secrets += ["Chosen-Secret-77", "Sneaky-Secret-9"]
    hash_value = Robot.objects.get(pk=robot_id).secret_hash
    for response in seen:
        text = response.content.decode() + "".join(f"{k}: {v}" for k, v in response.items())
        for secret in secrets:
            assert secret not in text, response.request
        assert hash_value not in text
        assert "secret_hash" not in text
    assert "secret" not in body  # GET has no secret field at all
    logged = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert "Unauthorized: /api/v2.0/robots" in logged, "refusals were not logged: the canary would prove nothing"
    assert "INSERT INTO" in logged
    assert hash_value in " ".join(q["sql"] for q in queries.captured_queries)  # the hash is stored, and seen
    for secret in secrets:
        assert secret not in logged
    assert not Robot.objects.filter(secret_hash__contains=secrets[0]).exists()
    assert not check_password("Sneaky-Secret-9", hash_value)  # UpdateRobot never sets a secret


def test_robots_create_projects_only_with_the_system_permission_and_read_public_ones(people):
    from projects.models import Project

    maker = create(basic_client("root"), "maker", [perm("/", "project:create", kind="system")], level="system")
    plain = create(basic_client("root"), "plain", [perm("beta", "repository:pull")], level="system")
    made = robot_client(maker).post("/api/v2.0/projects", {"project_name": "robot-made"}, format="json")
    assert made.status_code == 201, made.content
    assert Project.objects.get(name="robot-made").owner is None  # a robot owns nothing
    refused = robot_client(plain).post("/api/v2.0/projects", {"project_name": "nope"}, format="json")
    assert refused.status_code == 403
    # Anyone may read a public project, robots too; a private one they hold nothing in stays hidden.
    project_create(name="open", public=True)
    assert robot_client(plain).get("/api/v2.0/projects/open").status_code == 200
    assert robot_client(plain).get("/api/v2.0/projects/alpha").status_code == 404
