"""Robot accounts: the catalogue and grants (pure), the principal and authentication of robots, the
services' bounds, and a property test that no sequence of creations and edits escalates."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from common.api.errors import Forbidden
from common.testing.api import basic_client
from projects.authentication import _BASIC_CACHE, user_authenticate
from projects.models import Member, Project, Robot, Role
from projects.permissions import (
    PUBLIC_PERMISSIONS,
    ROLE_PERMISSIONS,
    Principal,
    can,
    can_system,
    project_permissions,
    registry_actions_allowed,
)
from projects.robots import services
from projects.robots.catalogue import (
    PROJECT_CATALOGUE,
    PROJECT_PERMISSIONS,
    SYSTEM_CATALOGUE,
    SYSTEM_PERMISSIONS,
    RobotInvalid,
    catalogue_document,
    permissions_parse,
    robot_full_name,
    robot_grants,
    robot_name_parse,
    secret_generate,
    secret_is_strong,
)
from projects.selectors import project_visible
from projects.services import member_set, project_create
from projects.tests.factories import ProjectFactory, SysadminFactory, UserFactory

PW = "pw-Secret-1"


def perm(namespace: str, *pairs: str, kind: str = "project") -> dict:
    access = [{"resource": p.split(":")[0], "action": p.split(":")[1], "effect": "allow"} for p in pairs]
    return {"kind": kind, "namespace": namespace, "access": access}


# --- the catalogue, names and secrets (pure) -------------------------------------------------------------
def test_the_project_catalogue_is_what_a_project_admin_holds():
    # A project admin can grant a project robot anything the catalogue offers, nothing more.
    assert ROLE_PERMISSIONS[Role.PROJECT_ADMIN] >= PROJECT_CATALOGUE
    assert ("robot", "create") in PROJECT_CATALOGUE
    assert ("repository", "pull") in PROJECT_CATALOGUE
    assert ("configuration", "update") not in PROJECT_CATALOGUE | SYSTEM_CATALOGUE  # Harbor: never for robots
    assert len(PROJECT_PERMISSIONS) == len(PROJECT_CATALOGUE)  # no duplicates
    assert len(SYSTEM_PERMISSIONS) == len(SYSTEM_CATALOGUE)


def test_catalogue_document_is_harbors_shape():
    document = catalogue_document()
    assert set(document) == {"system", "project"}
    assert {"resource": "robot", "action": "create"} in document["system"]
    assert {"resource": "repository", "action": "push"} in document["project"]
    assert all(set(item) == {"resource", "action"} for item in document["system"] + document["project"])


@pytest.mark.parametrize(
    ("full", "parsed"),
    [
        ("robot$alpha+ci", ("alpha", "ci")),
        ("robot$sync", (None, "sync")),
        ("robot$", None),
        ("robot$+ci", None),
        ("robot$alpha+", None),
        ("alice", None),
        ("ROBOT$x", None),
    ],
)
def test_robot_names_parse(full, parsed):
    assert robot_name_parse(full) == parsed
    if parsed is not None:
        assert robot_full_name(name=parsed[1], project_name=parsed[0]) == full


@pytest.mark.parametrize(
    ("secret", "strong"),
    [
        ("Abcdefg1", True),
        ("Abcdef1", False),
        ("abcdefg1", False),
        ("ABCDEFG1", False),
        ("Abcdefgh", False),
        ("", False),
    ],
)
def test_secret_policy(secret, strong):
    assert secret_is_strong(secret) is strong


def test_generated_secrets_are_strong_and_distinct():
    generated = {secret_generate() for _ in range(50)}
    assert len(generated) == 50
    assert all(secret_is_strong(s) and len(s) == 32 for s in generated)


def test_permissions_parse_merges_and_refuses():
    entries = permissions_parse(
        [perm("alpha", "repository:pull"), perm("alpha", "repository:push", "repository:pull")], level="project"
    )
    assert len(entries) == 1
    assert entries[0].pairs == {("repository", "pull"), ("repository", "push")}
    for raw, level in [
        ("nope", "project"),
        ([{"kind": "galaxy", "namespace": "x", "access": [{"resource": "repository", "action": "pull"}]}], "system"),
        ([perm("/", "robot:create", kind="system")], "project"),
        ([perm("alpha", "robot:create", kind="system")], "system"),  # system namespace is "/"
        ([perm("alpha", "registry:create")], "system"),  # a system pair in a project entry
        ([perm("*", "repository:pull")], "project"),
        ([{"kind": "project", "namespace": "alpha", "access": "pull"}], "project"),
        ([perm("alpha", "repository:pull")], "galaxy"),
    ]:
        with pytest.raises(RobotInvalid):
            permissions_parse(raw, level=level)


def test_robot_grants_within_level_and_catalogue():
    stored = [
        {
            "kind": "project",
            "namespace": "alpha",
            "project_id": 1,
            "access": [{"resource": "repository", "action": "pull"}],
        },
        {
            "kind": "project",
            "namespace": "beta",
            "project_id": 2,
            "access": [{"resource": "repository", "action": "push"}],
        },
        {"kind": "project", "namespace": "*", "access": [{"resource": "artifact", "action": "read"}]},
        {"kind": "system", "namespace": "/", "access": [{"resource": "robot", "action": "create"}]},
        {
            "kind": "project",
            "namespace": "alpha",
            "project_id": 1,
            "access": [{"resource": "configuration", "action": "update"}],
        },
        {
            "kind": "project",
            "namespace": "alpha",
            "project_id": 1,
            "access": [{"resource": "tag", "action": "create", "effect": "deny"}],
        },
    ]
    system = robot_grants(level="system", project_id=None, permissions=stored)
    assert system.system == {("robot", "create")}
    assert system.every == {("artifact", "read")}
    assert system.in_project(1) == {("repository", "pull"), ("artifact", "read")}  # not configuration, not deny
    assert system.in_project(2) == {("repository", "push"), ("artifact", "read")}
    assert system.in_project(3) == {("artifact", "read")}
    # a project robot acts in its own project only, and never at system level or in every project
    project = robot_grants(level="project", project_id=7, permissions=stored)
    assert project.system == frozenset()
    assert project.every == frozenset()
    assert project.in_project(7) >= {("repository", "pull"), ("repository", "push")}
    assert project.in_project(1) == frozenset()
    assert robot_grants(level="project", project_id=7, permissions="junk").is_empty


# --- robots as principals --------------------------------------------------------------------------------
def _robot(project: Project | None, permissions: list[dict], **fields) -> Robot:
    name = fields.pop("name", "bot")
    level = "project" if project is not None else "system"
    entries = permissions_parse(permissions, level=level)
    ids = {p.name: p.pk for p in Project.objects.filter(name__in={e.namespace for e in entries})}
    from projects.robots.catalogue import permissions_document

    return Robot.objects.create(
        name=name,
        level=level,
        project=project,
        secret_hash="x",
        permissions=permissions_document(entries, ids),
        **fields,
    )


@pytest.mark.django_db
def test_principal_of_a_robot_holds_exactly_its_permissions():
    alpha, beta = ProjectFactory(name="alpha"), ProjectFactory(name="beta", public=True)
    robot = _robot(alpha, [perm("alpha", "repository:pull", "repository:push")])
    principal = Principal(robot)
    assert principal.robot == robot
    assert principal.user is None  # a robot's id is never taken for a user's
    assert not principal.is_anonymous
    assert not principal.is_sysadmin
    assert principal.name == "robot$alpha+bot"
    assert project_permissions(principal, alpha) == {("repository", "pull"), ("repository", "push")}
    assert can(principal, "push", "repository", project=alpha)
    assert not can(principal, "delete", "repository", project=alpha)
    assert not can(principal, "read", "project", project=alpha)  # not granted, so not held
    assert can(principal, "pull", "repository", project=beta)  # public: what anyone may do
    assert not can(principal, "push", "repository", project=beta)
    assert registry_actions_allowed(principal, alpha, {"*"}) == {"pull", "push"}
    assert registry_actions_allowed(principal, beta, {"pull", "push"}) == {"pull"}
    assert not can_system(principal, "create", "robot")
    assert sorted(p.name for p in project_visible(principal=principal)) == ["alpha", "beta"]  # beta is public


@pytest.mark.django_db
def test_system_robot_principal_and_visibility():
    alpha, beta = ProjectFactory(name="alpha"), ProjectFactory(name="beta")
    robot = _robot(None, [perm("/", "robot:list", kind="system"), perm("beta", "repository:pull")], name="sys")
    principal = Principal(robot)
    assert can_system(principal, "list", "robot")
    assert not can_system(principal, "create", "robot")
    assert not can(principal, "pull", "repository", project=alpha)
    assert can(principal, "pull", "repository", project=beta)
    assert list(project_visible(principal=principal)) == [beta]
    everywhere = _robot(None, [perm("*", "repository:pull")], name="every")
    assert set(project_visible(principal=Principal(everywhere))) == {alpha, beta}


@pytest.mark.django_db
def test_disabled_or_expired_robots_hold_nothing():
    alpha = ProjectFactory(name="alpha")
    disabled = _robot(alpha, [perm("alpha", "repository:pull")], disabled=True)
    assert not can(Principal(disabled), "pull", "repository", project=alpha)
    expired = _robot(alpha, [perm("alpha", "repository:pull")], name="old", expires_at=timezone.now() - timedelta(1))
    assert not can(Principal(expired), "pull", "repository", project=alpha)
    system = _robot(None, [perm("/", "robot:list", kind="system")], name="sys", disabled=True)
    assert not can_system(Principal(system), "list", "robot")


@pytest.mark.django_db
def test_grants_bind_to_the_project_row_not_its_name():
    gamma = ProjectFactory(name="gamma")
    robot = _robot(None, [perm("gamma", "repository:pull")], name="sys")
    assert can(Principal(robot), "pull", "repository", project=gamma)
    gamma.delete()
    reborn = ProjectFactory(name="gamma")
    robot.refresh_from_db()
    assert not can(Principal(robot), "pull", "repository", project=reborn)


@pytest.mark.django_db
def test_project_robots_go_with_their_project():
    alpha = ProjectFactory(name="alpha")
    _robot(alpha, [perm("alpha", "repository:pull")])
    alpha.delete()
    assert not Robot.objects.exists()


# --- authentication ------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_robot_basic_credentials():
    admin = SysadminFactory()
    alpha = ProjectFactory(name="alpha")
    robot, secret = services.robot_create(
        principal=Principal(admin), name="ci", level="project", permissions=[perm("alpha", "repository:pull")]
    )
    assert user_authenticate(username="robot$alpha+ci", password=secret) == robot
    assert user_authenticate(username="robot$alpha+ci", password=secret) == robot  # from the cache
    assert user_authenticate(username="robot$alpha+ci", password=secret + "x") is None
    assert user_authenticate(username="robot$beta+ci", password=secret) is None
    assert user_authenticate(username="robot$ci", password=secret) is None  # a system robot of that name
    # refreshed: the old secret is refused at once although it was cached
    new = services.robot_secret_refresh(principal=Principal(admin), robot_id=robot.pk)
    assert user_authenticate(username="robot$alpha+ci", password=secret) is None
    assert user_authenticate(username="robot$alpha+ci", password=new) == robot
    # disabled, then expired: refused, cache or not
    Robot.objects.filter(pk=robot.pk).update(disabled=True)
    assert user_authenticate(username="robot$alpha+ci", password=new) is None
    Robot.objects.filter(pk=robot.pk).update(disabled=False, expires_at=timezone.now() - timedelta(seconds=1))
    assert user_authenticate(username="robot$alpha+ci", password=new) is None
    Robot.objects.filter(pk=robot.pk).update(expires_at=None)
    assert user_authenticate(username="robot$alpha+ci", password=new) == robot
    robot.delete()
    assert user_authenticate(username="robot$alpha+ci", password=new) is None
    assert alpha.pk


@pytest.mark.django_db
def test_a_user_named_like_a_robot_never_authenticates_as_one():
    get_user_model().objects.create_user("robot$x", password=PW)
    assert user_authenticate(username="robot$x", password=PW) is None
    assert not [key for key, value in _BASIC_CACHE.items() if value[0] is None]


# --- service bounds ------------------------------------------------------------------------------------
@pytest.mark.django_db
def test_users_are_bounded_by_their_roles():
    alpha = ProjectFactory(name="alpha")
    maintainer = UserFactory()
    member_set(project=alpha, user=maintainer, role=Role.MAINTAINER)
    with pytest.raises(Forbidden):
        services.robot_create(
            principal=Principal(maintainer), name="x", level="project", permissions=[perm("alpha", "repository:pull")]
        )
    project_admin = UserFactory()
    member_set(project=alpha, user=project_admin, role=Role.PROJECT_ADMIN)
    everything = [perm("alpha", *(f"{r}:{a}" for r, a in PROJECT_PERMISSIONS))]
    robot, _ = services.robot_create(
        principal=Principal(project_admin), name="all", level="project", permissions=everything
    )
    assert (
        robot_grants(level="project", project_id=alpha.pk, permissions=robot.permissions).in_project(alpha.pk)
        == PROJECT_CATALOGUE
    )
    # a project admin is no sysadmin: no system robots, and no `*` even through a system-level request
    with pytest.raises(Forbidden):
        services.robot_create(
            principal=Principal(project_admin), name="sys", level="system", permissions=[perm("*", "repository:pull")]
        )


# --- the property: no sequence of creations and edits escalates ------------------------------------------
PROJECT_POOL = [
    ("repository", "pull"),
    ("repository", "push"),
    ("repository", "delete"),
    ("artifact", "read"),
    ("project", "read"),
    ("robot", "create"),
    ("robot", "update"),
    ("robot", "read"),
    ("robot", "list"),
]
SYSTEM_POOL = [("robot", "create"), ("robot", "update"), ("robot", "read"), ("robot", "list"), ("registry", "read")]
USERS = ("root", "padmin", "maint", "dev", "nobody")

pairs_of = st.sets(st.sampled_from(PROJECT_POOL), min_size=1, max_size=4)
project_entry = st.tuples(st.sampled_from(["alpha", "beta"]), pairs_of)
system_entries = st.tuples(
    st.sets(st.sampled_from(SYSTEM_POOL), max_size=3),
    st.lists(st.tuples(st.sampled_from(["alpha", "beta", "*"]), pairs_of), min_size=0, max_size=2),
)
permissions_spec = st.one_of(
    st.tuples(st.just("project"), project_entry),
    st.tuples(st.just("system"), system_entries),
)
durations = st.sampled_from([0, -1, 1, 3, 60])
actor = st.integers(min_value=0, max_value=30)
target = st.integers(min_value=0, max_value=30)
step = st.one_of(
    st.tuples(st.just("create"), actor, permissions_spec, durations),
    st.tuples(st.just("update"), actor, target, permissions_spec, st.booleans(), st.one_of(st.none(), durations)),
    st.tuples(st.just("refresh"), actor, target),
    st.tuples(st.just("delete"), actor, target),
)


def _document(spec) -> tuple[str, list[dict]]:  # noqa: ANN001
    level, body = spec
    if level == "project":
        namespace, pairs = body
        return level, [perm(namespace, *(f"{r}:{a}" for r, a in sorted(pairs)))]
    system_pairs, projects = body
    document = [perm(ns, *(f"{r}:{a}" for r, a in sorted(pairs))) for ns, pairs in projects]
    if system_pairs:
        document.append(perm("/", *(f"{r}:{a}" for r, a in sorted(system_pairs)), kind="system"))
    return level, document


class Held:
    """Rights as sets, computed here from the rows (not by the code under test)."""

    def __init__(self) -> None:
        self.system: set = set()
        self.every: set = set()
        self.projects: dict[int, set] = defaultdict(set)

    def in_project(self, project_id: int) -> set:
        return self.projects[project_id] | self.every


def held_by_robot(robot: Robot, *, only_if_usable: bool) -> Held:
    held = Held()
    usable = not robot.disabled and (robot.expires_at is None or robot.expires_at > timezone.now())
    if only_if_usable and not usable:
        return held
    ids = dict(Project.objects.values_list("name", "pk"))
    for entry in robot.permissions:
        pairs = {(a["resource"], a["action"]) for a in entry["access"] if a.get("effect", "allow") == "allow"}
        if entry["kind"] == "system":
            held.system |= pairs & set(SYSTEM_PERMISSIONS) if robot.level == "system" else set()
        elif robot.level == "project":
            held.projects[robot.project_id] |= pairs & set(PROJECT_PERMISSIONS)
        elif entry["namespace"] == "*":
            held.every |= pairs & set(PROJECT_PERMISSIONS)
        elif entry["namespace"] in ids:
            held.projects[ids[entry["namespace"]]] |= pairs & set(PROJECT_PERMISSIONS)
    return held


def held_by_user(user) -> Held:  # noqa: ANN001
    held = Held()
    if user.is_superuser:
        held.system, held.every = set(SYSTEM_PERMISSIONS), set(PROJECT_PERMISSIONS)
        return held
    for project in Project.objects.filter(public=True):
        held.projects[project.pk] |= PUBLIC_PERMISSIONS
    for project_id, role in Member.objects.filter(user=user).values_list("project_id", "role"):
        held.projects[project_id] |= ROLE_PERMISSIONS[role]
    return held


class NoEscalationTest(TestCase):
    """Users of every role, and robots acting through the API with their secrets, create, edit, refresh
    and delete robots in random sequences. After every successful write, the robot written holds no
    permission that its creator or editor did not hold at that moment (a refresh hands over the robot's
    credentials, so it counts as granting them); a robot's robot never outlives it; nothing is a 500."""

    def _world(self) -> None:
        # Per example, inside its transaction: hypothesis runs unittest's setUp once, outside of them.
        _BASIC_CACHE.clear()
        model = get_user_model()
        self.users = {"root": model.objects.create_superuser("root", "root@x", PW)}
        for name in USERS[1:]:
            self.users[name] = model.objects.create_user(name, password=PW)
        alpha = project_create(name="alpha")
        beta = project_create(name="beta", public=True)
        member_set(project=alpha, user=self.users["padmin"], role=Role.PROJECT_ADMIN)
        member_set(project=alpha, user=self.users["maint"], role=Role.MAINTAINER)
        member_set(project=alpha, user=self.users["dev"], role=Role.DEVELOPER)
        member_set(project=beta, user=self.users["dev"], role=Role.PROJECT_ADMIN)
        # Seed robots that may themselves manage robots, so robot actors act from the first step.
        self.actors: list[tuple[str, str, int | None]] = [(name, PW, None) for name in USERS]
        self.writes = 0
        # They hold most of the pool, not all of it (no repository delete, no project read, no registry
        # read): generated requests within their bounds succeed and the others must be refused.
        managing = ("robot:create", "robot:update", "robot:read", "robot:list")
        held = ("repository:pull", "repository:push", "artifact:read", *managing)
        system = [perm("/", *managing, kind="system"), perm("*", *held), perm("alpha", "repository:delete")]
        self._as("root", system, "system", 0)
        self._as("padmin", [perm("alpha", *held)], "project", 5)

    def _client(self, index: int):  # noqa: ANN202
        name, secret, _ = self.actors[index % len(self.actors)]
        return basic_client(name, secret)

    def _held(self, index: int) -> tuple[Held, Robot | None]:
        name, _, robot_id = self.actors[index % len(self.actors)]
        if robot_id is None:
            return held_by_user(self.users[name]), None
        robot = Robot.objects.filter(pk=robot_id).first()
        return (held_by_robot(robot, only_if_usable=True) if robot else Held()), robot

    def _targets(self) -> list[int]:
        return list(Robot.objects.order_by("pk").values_list("pk", flat=True))

    def _check_within(self, robot_id: int, held: Held, acting: Robot | None, what: str) -> None:
        robot = Robot.objects.get(pk=robot_id)
        got = held_by_robot(robot, only_if_usable=False)
        assert got.system <= held.system, (what, got.system - held.system)
        assert got.every <= held.every, (what, got.every - held.every)
        for project_id in set(got.projects) | set(Project.objects.values_list("pk", flat=True)):
            extra = got.in_project(project_id) - held.in_project(project_id)
            assert not extra, (what, project_id, extra)
        if acting is not None and acting.expires_at is not None:
            assert robot.expires_at is not None, what
            assert robot.expires_at <= acting.expires_at, what

    def _as(self, who: str, permissions: list[dict], level: str, duration: int) -> None:
        index = USERS.index(who)
        created = self._client(index).post(
            "/api/v2.0/robots",
            {"name": f"seed{len(self.actors)}", "level": level, "permissions": permissions, "duration": duration},
            format="json",
        )
        assert created.status_code == 201, created.content
        self.actors.append((created.json()["name"], created.json()["secret"], created.json()["id"]))

    def _run(self, step) -> None:  # noqa: ANN001, C901
        kind, actor_index = step[0], step[1]
        held, acting = self._held(actor_index)
        client = self._client(actor_index)
        targets = self._targets()
        if kind == "create":
            level, document = _document(step[2])
            response = client.post(
                "/api/v2.0/robots",
                {"name": f"r{len(self.actors)}", "level": level, "permissions": document, "duration": step[3]},
                format="json",
            )
            assert response.status_code in (201, 400, 401, 403, 404, 409), response.content
            event(f"create by {'a robot' if acting is not None else 'a user'}: {response.status_code}")
            if response.status_code == 201:
                body = response.json()
                self.actors.append((body["name"], body["secret"], body["id"]))
                self._check_within(body["id"], held, acting, f"create by {self.actors[actor_index % len(self.actors)]}")
                self.writes += 1
            return
        if not targets:
            return
        robot_id = targets[step[2] % len(targets)]
        before = Robot.objects.get(pk=robot_id)
        if kind == "update":
            level, document = _document(step[3])
            body = {"name": before.full_name, "level": before.level, "permissions": document, "disable": step[4]}
            if step[5] is not None:
                body["duration"] = step[5]
            response = client.put(f"/api/v2.0/robots/{robot_id}", body, format="json")
            assert response.status_code in (200, 400, 401, 403, 404), response.content
            if response.status_code == 200:
                self._check_within(robot_id, held, acting, f"update of {before.full_name}")
                if acting is not None and acting.pk == robot_id:
                    assert Robot.objects.get(pk=robot_id).permissions == before.permissions
                self.writes += 1
        elif kind == "refresh":
            response = client.patch(f"/api/v2.0/robots/{robot_id}", {}, format="json")
            assert response.status_code in (200, 401, 403, 404), response.content
            if response.status_code == 200:
                self._check_within(robot_id, held, acting, f"refresh of {before.full_name}")
                self.actors = [
                    (n, response.json()["secret"] if rid == robot_id else s, rid) for n, s, rid in self.actors
                ]
                self.writes += 1
        else:
            response = client.delete(f"/api/v2.0/robots/{robot_id}")
            assert response.status_code in (200, 401, 403, 404), response.content
        event(f"{kind} by {'a robot' if acting is not None else 'a user'}: {response.status_code}")
        if acting is not None and (acting.disabled or (acting.expires_at and acting.expires_at <= timezone.now())):
            assert response.status_code == 401  # a disabled or expired robot is refused outright

    @settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(steps=st.lists(step, min_size=1, max_size=12))
    def test_no_robot_ever_holds_more_than_its_creator_or_editor(self, steps) -> None:  # noqa: ANN001
        self._world()
        for item in steps:
            self._run(item)
        # every robot stored, whatever happened, stays inside its level's catalogue
        for robot in Robot.objects.all():
            for entry in robot.permissions:
                pairs = {(a["resource"], a["action"]) for a in entry["access"]}
                assert pairs <= (SYSTEM_CATALOGUE if entry["kind"] == "system" else PROJECT_CATALOGUE)
