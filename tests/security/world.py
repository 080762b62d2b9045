"""A seeded world in which every path parameter of the API names a real object, and the principals who call.

Three projects: `priv` (private; a member in each of the five roles, a group member, a project robot
that is itself a principal), `pub` (public) and `tenantb` (private; nobody above belongs to it: the
"project B" of the cross-tenant tests). Each holds a repository with an image artifact (tags `v1`
and `v2`, a cosign signature as accessory, the project's label added), a spare member, a robot, a
metadata key and its quota row. Besides: a global label, a group (a guest of `priv`, with one user),
a system robot as target and another, `robot$sysreader`, as a principal.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib.auth import get_user_model

from audit.models import WebhookDelivery
from audit.webhooks.services import webhook_policy_create
from common.models import Execution, Task
from common.testing.api import basic_client
from policies.retention.services import retention_policy_create
from policies.services import immutability_rule_create
from projects.models import GroupType, Member, Project, Quota, Role, UserGroup
from projects.permissions import Principal
from projects.robots.catalogue import PROJECT_PERMISSIONS
from projects.robots.services import robot_create
from projects.services import member_set, project_create
from registry.models import Artifact, Label, Repository
from registry.services.artifacts import artifact_label_add, tag_create
from registry.tests.api import builders

PW = "pw-Secret-1"
ROBOT_SECRET = "Robot-Secret-9x"
FULL_ROBOT_SECRET = "Full-Robot-Secret-9x"

# What the principal robot `robot$priv+ci` holds in `priv`: reads and pushes, no project read, no writes on
# members, robots, labels or metadata; enough to see 403 (not 404) where it lacks a pair.
ROBOT_GRANTS: frozenset[tuple[str, str]] = frozenset(
    {
        ("repository", "list"),
        ("repository", "read"),
        ("repository", "pull"),
        ("repository", "push"),
        ("artifact", "list"),
        ("artifact", "read"),
        ("artifact", "create"),
        ("tag", "list"),
        ("tag", "create"),
        ("accessory", "list"),
        ("artifact-addition", "read"),
        ("member", "list"),
        ("metadata", "list"),
        ("label", "list"),
        ("label", "read"),
        ("robot", "list"),
        ("robot", "read"),
    }
)
TARGET_ROBOT_GRANTS = frozenset({("repository", "pull")})
SYSTEM_ROBOT_SECRET = "System-Robot-Secret-9x"
# The system robot `robot$sysreader`: system reads of users, groups and robots, project creation, and
# reads in every project (`*`).
SYSTEM_ROBOT_SYSTEM: frozenset[tuple[str, str]] = frozenset(
    {
        ("user", "list"),
        ("user", "read"),
        ("user-group", "list"),
        ("user-group", "read"),
        ("robot", "list"),
        ("robot", "read"),
        ("project", "create"),
    }
)
SYSTEM_ROBOT_EVERY: frozenset[tuple[str, str]] = frozenset(
    {
        ("project", "read"),
        ("repository", "list"),
        ("repository", "read"),
        ("repository", "pull"),
        ("artifact", "list"),
        ("artifact", "read"),
        ("tag", "list"),
        ("member", "list"),
    }
)

ROLE_USERS = {
    "projectAdmin": ("padmin", Role.PROJECT_ADMIN),
    "maintainer": ("maintainer", Role.MAINTAINER),
    "developer": ("developer", Role.DEVELOPER),
    "guest": ("guest", Role.GUEST),
    "limitedGuest": ("limited", Role.LIMITED_GUEST),
}
# Project key -> (name, public, repository short name, admin, spare member).
PROJECTS = {
    "private": ("priv", False, "app", "padmin", "extra"),
    "public": ("pub", True, "app", "qadmin", "qextra"),
    "tenantb": ("tenantb", False, "hidden", "badmin", "bextra"),
}


@dataclass(frozen=True)
class Who:
    """A principal of the matrix: how it authenticates and what the permission tables say it is."""

    name: str
    kind: str  # anonymous | user | sysadmin | robot
    username: str | None = None
    password: str = PW
    role: int | None = None  # its role in the private project
    grants: frozenset[tuple[str, str]] = frozenset()  # a project robot's pairs in the private project
    system: frozenset[tuple[str, str]] = frozenset()  # a system robot's system-level pairs
    every: frozenset[tuple[str, str]] = frozenset()  # a system robot's pairs in every project

    def client(self):  # noqa: ANN201
        return basic_client(self.username, self.password)


PRINCIPALS: tuple[Who, ...] = (
    Who("anonymous", "anonymous"),
    Who("outsider", "user", "outsider"),
    *(Who(name, "user", username, role=role) for name, (username, role) in ROLE_USERS.items()),
    Who("groupGuest", "user", "grouped", role=Role.GUEST),  # a guest only through the group `devs`
    Who("sysadmin", "sysadmin", "root"),
    Who("robot", "robot", "robot$priv+ci", ROBOT_SECRET, grants=ROBOT_GRANTS),
    Who(
        "systemRobot",
        "robot",
        "robot$sysreader",
        SYSTEM_ROBOT_SECRET,
        system=SYSTEM_ROBOT_SYSTEM,
        every=SYSTEM_ROBOT_EVERY,
    ),
)
PRINCIPAL = {who.name: who for who in PRINCIPALS}


@dataclass(frozen=True)
class ProjectData:
    key: str
    id: int
    name: str
    public: bool
    repository: str  # the short name (the path's repository_name)
    repository_id: int
    digest: str
    artifact_id: int
    accessory_digest: str
    label_id: int  # the project's label, added to the artifact
    member_id: int  # a spare developer: the target of member reads and writes
    robot_id: int  # a project robot holding repository pull: the target of robot operations
    quota_id: int
    immutable_rule_id: int  # a rule protecting `release-*` tags only: v1 and v2 stay mutable
    tag: str = "v1"
    spare_tag: str = "v2"
    meta_name: str = "auto_scan"


@dataclass(frozen=True)
class World:
    users: dict[str, int]
    projects: dict[str, ProjectData]
    global_label_id: int
    group_id: int
    group_member_id: int  # the group's membership in the private project
    system_robot_id: int  # `robot$sysbot`: the target of system-level robot operations
    principal_robot_id: int
    full_robot_id: int  # `robot$priv+full`: every project permission in priv (cross-tenant caller)
    system_reader_id: int  # `robot$sysreader`: the system robot principal
    extra: dict = field(default_factory=dict)

    def user_id(self, who: Who) -> int | None:
        return self.users.get(who.username) if who.kind in ("user", "sysadmin") else None


def _access(pairs) -> list[dict]:  # noqa: ANN001
    return [{"resource": r, "action": a} for r, a in sorted(pairs)]


def _robot(root, project: str | None, name: str, pairs, secret: str | None = None, every=()) -> int:  # noqa: ANN001
    kind, level = ("project", "project") if project else ("system", "system")
    permissions = [{"kind": kind, "namespace": project or "/", "access": _access(pairs)}]
    if every:
        permissions.append({"kind": "project", "namespace": "*", "access": _access(every)})
    robot, _ = robot_create(
        principal=Principal(root), name=name, level=level, permissions=permissions, duration=-1, secret=secret
    )
    return robot.pk


def _project(key: str, users: dict, root) -> ProjectData:  # noqa: ANN001
    name, public, repo_name, admin, spare = PROJECTS[key]
    project = project_create(name=name, public=public, metadata={"auto_scan": "false"})
    member_set(project=project, user=users[admin], role=Role.PROJECT_ADMIN)
    spare_member = member_set(project=project, user=users[spare], role=Role.DEVELOPER)
    repo = builders.repository(f"{name}/{repo_name}")
    artifact = builders.image(repo, tag="v1", seed=name)
    tag_create(artifact=artifact, name="v2")
    accessory = builders.signature(repo, artifact)
    label = Label.objects.create(name=f"{name}-label", scope=Label.PROJECT, project=project)
    artifact_label_add(artifact=artifact, label=label)
    return ProjectData(
        key=key,
        id=project.pk,
        name=name,
        public=public,
        repository=repo_name,
        repository_id=repo.pk,
        digest=artifact.digest,
        artifact_id=artifact.pk,
        accessory_digest=accessory.digest,
        label_id=label.pk,
        member_id=spare_member.pk,
        robot_id=_robot(root, name, "target", TARGET_ROBOT_GRANTS),
        quota_id=Quota.objects.get(project=project).pk,
        immutable_rule_id=immutability_rule_create(
            project=project,
            scope_selectors={"repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]},
            tag_selectors=[{"kind": "doublestar", "decoration": "matches", "pattern": "release-*"}],
        ).pk,
    )


def _retention(data: ProjectData) -> dict[str, int]:
    """The project's retention policy (keep the 10 latest) and a finished dry run of it, with one task."""
    policy = retention_policy_create(
        project=Project.objects.get(pk=data.id),
        rules=[
            {
                "template": "latestPushedK",
                "params": {"latestPushedK": 10},
                "tag_selectors": [{"kind": "doublestar", "decoration": "matches", "pattern": "**"}],
                "scope_selectors": {
                    "repository": [{"kind": "doublestar", "decoration": "repoMatches", "pattern": "**"}]
                },
            }
        ],
    )
    execution = Execution.objects.create(kind="RETENTION", vendor_id=policy.pk, dry_run=True, status="Succeeded")
    task = Task.objects.create(
        execution=execution, name=f"{data.name}/{data.repository}", status="Succeeded", log="RETAIN all\n"
    )
    return {"id": policy.pk, "eid": execution.pk, "tid": task.pk}


def _webhook(data: ProjectData) -> dict[str, int]:
    """The project's webhook policy and one finished delivery of it (an execution with one task)."""
    policy, _ = webhook_policy_create(
        project=Project.objects.get(pk=data.id),
        name="hook",
        event_types=["PUSH_ARTIFACT"],
        targets=[{"address": f"https://hooks.example.test/{data.name}", "auth_header": "Bearer world"}],
    )
    execution = Execution.objects.create(kind="WEBHOOK", vendor_id=policy.pk, trigger="EVENT", status="Succeeded")
    task = Task.objects.create(execution=execution, name=policy.targets[0]["address"], status="Succeeded", log="200\n")
    WebhookDelivery.objects.create(
        task=task, policy=policy, event_type="PUSH_ARTIFACT", address=policy.targets[0]["address"], payload="{}"
    )
    return {"policy": policy.pk, "execution": execution.pk, "task": task.pk}


def world_build() -> World:
    """Create the world's rows (and blobs); the caller owns the transaction."""
    model = get_user_model()
    root = model.objects.create_superuser("root", "root@example.test", PW)
    names = [u for u, _ in ROLE_USERS.values()]
    names += ["outsider", "grouped", "target", "extra", "qadmin", "qextra", "badmin", "bextra"]
    users = {name: model.objects.create_user(name, f"{name}@example.test", PW) for name in names}
    users["root"] = root
    projects = {key: _project(key, users, root) for key in PROJECTS}
    private = Project.objects.get(pk=projects["private"].id)
    for username, role in ROLE_USERS.values():
        member_set(project=private, user=users[username], role=role)
    group = UserGroup.objects.create(name="devs", group_type=GroupType.HTTP)
    group.users.add(users["grouped"])
    group_member = Member.objects.create(project=private, group=group, role=Role.GUEST)
    glob = Label.objects.create(name="glob", scope=Label.GLOBAL)
    # B holds A's image byte for byte (same digest) and a referrer naming A's digest: digests are global,
    # rows are not; nothing of these may surface through A.
    b_repo = Repository.objects.get(pk=projects["tenantb"].repository_id)
    builders.image(b_repo, tag="twin", seed="priv")
    spy = builders.signature(b_repo, Artifact.objects.get(pk=projects["private"].artifact_id), kind="notation")
    return World(
        users={name: user.pk for name, user in users.items()},
        projects=projects,
        global_label_id=glob.pk,
        group_id=group.pk,
        group_member_id=group_member.pk,
        system_robot_id=_robot(root, None, "sysbot", {("project", "list")}),
        principal_robot_id=_robot(root, "priv", "ci", ROBOT_GRANTS, ROBOT_SECRET),
        full_robot_id=_robot(root, "priv", "full", PROJECT_PERMISSIONS, FULL_ROBOT_SECRET),
        system_reader_id=_robot(root, None, "sysreader", SYSTEM_ROBOT_SYSTEM, SYSTEM_ROBOT_SECRET, SYSTEM_ROBOT_EVERY),
        extra={
            "spy_digest": spy.digest,
            "twin_tag": "twin",
            "gc_id": Execution.objects.create(kind="gc", status="Succeeded", log="a finished collection\n").pk,
            "purge_id": Execution.objects.create(kind="purge_audit", status="Succeeded", log="a finished purge\n").pk,
            "retention": {key: _retention(data) for key, data in projects.items()},
            "webhook": {key: _webhook(data) for key, data in projects.items()},
        },
    )


# Callers with every right in `priv` (project A) and none in `tenantb` (project B).
TENANT_A_CALLERS: tuple[Who, ...] = (
    Who("projectAdmin", "user", "padmin", role=Role.PROJECT_ADMIN),
    Who("fullRobot", "robot", "robot$priv+full", FULL_ROBOT_SECRET, grants=frozenset(PROJECT_PERMISSIONS)),
)
