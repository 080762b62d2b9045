"""What each principal should get from each operation: requirements, and the outcome the tables predict.

Project-scoped operations need exactly the (resource, action) pair their view declares (a guard test
holds that pair to the REST shape of the route). Operations outside a project carry Harbor's
system-level policy, written here per operationId because several views declare only
"authenticated" and let a service decide (users, groups, robots, labels): the matrix proves the
service does decide as below. Predictions come from projects.permissions' data tables
(ROLE_PERMISSIONS, PUBLIC_PERMISSIONS), themselves pinned to Harbor's RBAC by a guard test.
"""

from __future__ import annotations

from dataclasses import dataclass

from projects.models import Role
from projects.permissions import ALL_PROJECT_PERMISSIONS, PUBLIC_PERMISSIONS, ROLE_PERMISSIONS
from tests.security.world import Who

Pair = tuple[str, str]
OK = frozenset({200, 201})


@dataclass(frozen=True)
class Expect:
    """The acceptable statuses of one call, and a word for the failure message."""

    statuses: frozenset[int]
    word: str

    @property
    def allowed(self) -> bool:
        return self.word == "allowed"


def allowed(statuses: frozenset[int] = OK) -> Expect:
    return Expect(frozenset(statuses), "allowed")


UNAUTHORIZED = Expect(frozenset({401}), "401")
FORBIDDEN = Expect(frozenset({403}), "403")
HIDDEN = Expect(frozenset({404}), "404")


def _refused(who: Who) -> Expect:
    return UNAUTHORIZED if who.kind == "anonymous" else FORBIDDEN


@dataclass(frozen=True)
class Target:
    """What a variant points at: a project of the world (or none) and whether the object is the caller."""

    project_key: str | None = None
    public: bool = False
    is_self: bool = False


def project_pairs(who: Who, target: Target) -> frozenset[Pair]:
    """The pairs the tables give `who` in the target project (members and robots belong to `private`)."""
    if who.kind == "sysadmin":
        return ALL_PROJECT_PERMISSIONS
    pairs = set(PUBLIC_PERMISSIONS) if target.public else set()
    if target.project_key is not None:
        pairs |= who.every
    if target.project_key == "private":
        if who.kind == "robot":
            pairs |= who.grants
        elif who.role is not None:
            pairs |= ROLE_PERMISSIONS[who.role]
    return frozenset(pairs)


class Requirement:
    def expect(self, who: Who, target: Target) -> Expect:
        raise NotImplementedError


@dataclass(frozen=True)
class Anyone(Requirement):
    def expect(self, who: Who, target: Target) -> Expect:
        return allowed()


@dataclass(frozen=True)
class Authenticated(Requirement):
    robot_statuses: frozenset[int] = OK  # getCurrentUserInfo: a robot has no user (412)

    def expect(self, who: Who, target: Target) -> Expect:
        if who.kind == "anonymous":
            return UNAUTHORIZED
        return allowed(self.robot_statuses if who.kind == "robot" else OK)


@dataclass(frozen=True)
class Sysadmin(Requirement):
    """Sysadmins only, whatever a robot holds (quotas, volumes, configuration, global labels here)."""

    def expect(self, who: Who, target: Target) -> Expect:
        return allowed() if who.kind == "sysadmin" else _refused(who)


@dataclass(frozen=True)
class System(Requirement):
    """A system resource (Harbor's RequireSystemAccess): sysadmins, and system robots granted the pair;
    with `users`, every user too (createProject); with `self`, the user the object is (users' own profile)."""

    resource: str
    action: str
    users: bool = False
    self_ok: bool = False

    def expect(self, who: Who, target: Target) -> Expect:
        if who.kind == "sysadmin" or (self.resource, self.action) in who.system:
            return allowed()
        if who.kind == "user" and (self.users or (self.self_ok and target.is_self)):
            return allowed()
        return _refused(who)


@dataclass(frozen=True)
class AnyProjectAdmin(Requirement):
    """getPermissions: sysadmins, and users who administer some project."""

    def expect(self, who: Who, target: Target) -> Expect:
        if who.kind == "sysadmin" or who.role == Role.PROJECT_ADMIN:
            return allowed()
        return _refused(who)


@dataclass(frozen=True)
class ProjectPairs(Requirement):
    """Every pair in the target project; 404 (401 for anonymous) where the caller holds nothing there."""

    pairs: tuple[Pair, ...]
    statuses: frozenset[int] = OK

    def expect(self, who: Who, target: Target) -> Expect:
        held = project_pairs(who, target)
        if not held:
            return UNAUTHORIZED if who.kind == "anonymous" else HIDDEN
        if all(pair in held for pair in self.pairs):
            return allowed(self.statuses)
        return _refused(who)


ANYONE, AUTHENTICATED, SYSADMIN = Anyone(), Authenticated(), Sysadmin()
PROJECT_TARGETS = {"private": Target("private"), "public": Target("public", public=True)}
ONE = {"-": Target()}


def pair(resource: str, action: str) -> ProjectPairs:
    return ProjectPairs(((resource, action),))


def user(action: str) -> System:
    return System("user", action)


def self_or_user(action: str) -> System:
    return System("user", action, self_ok=True)


def group(action: str) -> System:
    return System("user-group", action)


def by_project(resource: str, action: str, *, global_rule: Requirement | None = None) -> dict:
    """Variants private / public (and global) of an operation whose object decides the rule."""
    variants = {name: (target, pair(resource, action)) for name, target in PROJECT_TARGETS.items()}
    if global_rule is not None:
        variants["global"] = (Target(), global_rule)
    return variants


def _system(rule: Requirement) -> dict:
    return {"-": (Target(), rule)}


def _users(rule: Requirement) -> dict:
    return {"self": (Target(is_self=True), rule), "other": (Target(), rule)}


# Operations outside a project: Harbor's policy (server/v2.0/handler/*.go), variant -> (target, requirement).
SYSTEM_POLICY: dict[str, dict[str, tuple[Target, Requirement]]] = {
    "listProjects": _system(ANYONE),
    "headProject": _system(ANYONE),
    "createProject": _system(System("project", "create", users=True)),
    "listAllRepositories": _system(ANYONE),
    "getSystemInfo": _system(ANYONE),
    "getHealth": _system(ANYONE),
    "getPing": _system(ANYONE),
    "search": _system(ANYONE),
    "getStatistic": _system(AUTHENTICATED),
    "getVolumes": _system(SYSADMIN),
    "getConfigurations": _system(SYSADMIN),
    "updateConfigurations": _system(SYSADMIN),
    "listQuotas": _system(SYSADMIN),
    "getQuota": {k: (t, SYSADMIN) for k, t in PROJECT_TARGETS.items()},
    "updateQuota": {k: (t, SYSADMIN) for k, t in PROJECT_TARGETS.items()},
    "listUsers": _system(user("list")),
    "createUser": _system(user("create")),  # self-registration is off, and only from a browser session
    "getCurrentUserInfo": _system(Authenticated(robot_statuses=frozenset({412}))),
    "getCurrentUserPermissions": _system(AUTHENTICATED),
    "searchUsers": _system(AUTHENTICATED),
    "getUser": _users(self_or_user("read")),
    "updateUserProfile": _users(self_or_user("update")),
    "updateUserPassword": _users(self_or_user("update")),
    "deleteUser": {"other": (Target(), user("delete"))},
    "setUserSysAdmin": {"other": (Target(), user("update"))},
    "listUserGroups": _system(group("list")),
    "createUserGroup": _system(group("create")),
    "getUserGroup": _system(group("read")),
    "updateUserGroup": _system(group("update")),
    "deleteUserGroup": _system(group("delete")),
    "searchUserGroups": _system(AUTHENTICATED),
    "getPermissions": _system(AnyProjectAdmin()),
    "ListRobot": by_project("robot", "list", global_rule=System("robot", "list")),
    "CreateRobot": by_project("robot", "create", global_rule=System("robot", "create")),
    "GetRobotByID": by_project("robot", "read", global_rule=System("robot", "read")),
    "UpdateRobot": by_project("robot", "update", global_rule=System("robot", "update")),
    "RefreshSec": by_project("robot", "update", global_rule=System("robot", "update")),
    "DeleteRobot": by_project("robot", "delete", global_rule=System("robot", "delete")),
    "ListLabels": by_project("label", "list", global_rule=ANYONE),
    "CreateLabel": by_project("label", "create", global_rule=SYSADMIN),
    "GetLabelByID": by_project("label", "read", global_rule=SYSADMIN),
    "UpdateLabel": by_project("label", "update", global_rule=SYSADMIN),
    "DeleteLabel": by_project("label", "delete", global_rule=SYSADMIN),
    "getGCHistory": _system(System("garbage-collection", "list")),
    "getGC": _system(System("garbage-collection", "read")),
    "getGCLog": _system(System("garbage-collection", "read")),
    "stopGC": _system(System("garbage-collection", "stop")),
    "getGCSchedule": _system(System("garbage-collection", "read")),
    "createGCSchedule": _system(System("garbage-collection", "create")),
    "updateGCSchedule": _system(System("garbage-collection", "update")),
    # Harbor lists to every signed-in caller the logs of the projects it administers (all for sysadmins).
    "listAuditLogExts": _system(AUTHENTICATED),
    "listAuditLogs": _system(AUTHENTICATED),  # Harbor's older route: the same rule
    "listAuditLogEventTypes": _system(AUTHENTICATED),
    "exportAuditLogExts": _system(AUTHENTICATED),
    "getPurgeHistory": _system(System("purge-audit", "list")),
    "getPurgeJob": _system(System("purge-audit", "read")),
    "getPurgeJobLog": _system(System("purge-audit", "read")),
    "stopPurge": _system(System("purge-audit", "stop")),
    "getPurgeSchedule": _system(System("purge-audit", "read")),
    "createPurgeSchedule": _system(System("purge-audit", "create")),
    "updatePurgeSchedule": _system(System("purge-audit", "update")),
    "getRentenitionMetadata": _system(AUTHENTICATED),  # Harbor's spelling; its handler asks for a login only
}

# Project-scoped operations needing more than their declared pair (Harbor's CopyArtifact: artifact read
# and repository pull on the source, repository push on the target; source and target share a project here).
EXTRA_PAIRS: dict[str, tuple[Pair, ...]] = {
    "CopyArtifact": (("repository", "push"), ("artifact", "read"), ("repository", "pull")),
}
# Allowed outcomes other than 200/201, because of the world rather than the caller.
ALLOWED_STATUSES: dict[str, frozenset[int]] = {
    "deleteProject": frozenset({412}),  # every project of the world holds a repository: PRECONDITION
    "createRetention": frozenset({400}),  # every project of the world has its one retention policy already
}

# The REST shape of project-scoped routes: the collection segment names the resource.
SEGMENT_RESOURCES = {
    "projects": "project",
    "members": "member",
    "metadatas": "metadata",
    "repositories": "repository",
    "artifacts": "artifact",
    "tags": "tag",
    "accessories": "accessory",
    "additions": "artifact-addition",
    "labels": "artifact-label",
    "immutabletagrules": "immutable-tag",
    "retentions": "tag-retention",
    "auditlog-exts": "log",
    "logs": "log",  # Harbor's older /projects/{project_name}/logs
}
# Our download routes (`<collection>/export`): they need what listing the collection needs.
EXPORTS = {"auditlog-exts": ("log", "list")}
# Routes whose Harbor pair is not their REST shape (Harbor's retention handler: trigger and stop need update).
HARBOR_PAIRS: dict[tuple[str, str], Pair] = {
    ("/api/v2.0/retentions/{id}/executions", "GET"): ("tag-retention", "list"),
    ("/api/v2.0/retentions/{id}/executions", "POST"): ("tag-retention", "update"),
    ("/api/v2.0/retentions/{id}/executions/{eid}", "PATCH"): ("tag-retention", "update"),
    ("/api/v2.0/retentions/{id}/executions/{eid}/tasks", "GET"): ("tag-retention", "list"),
    ("/api/v2.0/retentions/{id}/executions/{eid}/tasks/{tid}", "GET"): ("tag-retention", "read"),
    **{
        (f"/api/v2.0/projects/{{project_name_or_id}}/webhook/{route}", method): ("notification-policy", action)
        for route, method, action in (
            ("policies", "GET", "list"),
            ("policies", "POST", "create"),
            ("policies/{webhook_policy_id}", "GET", "read"),
            ("policies/{webhook_policy_id}", "PUT", "update"),
            ("policies/{webhook_policy_id}", "DELETE", "delete"),
            ("policies/{webhook_policy_id}/executions", "GET", "list"),
            ("policies/{webhook_policy_id}/executions/{execution_id}/tasks", "GET", "list"),
            ("policies/{webhook_policy_id}/executions/{execution_id}/tasks/{task_id}/log", "GET", "read"),
            # Ours: sending a delivery again changes what the policy did, as an update does.
            ("policies/{webhook_policy_id}/executions/{execution_id}/tasks/{task_id}/redeliver", "POST", "update"),
            ("lasttrigger", "GET", "read"),
            ("events", "GET", "read"),
        )
    },
}
# Sub-resources of a project that are views of the project itself.
PROJECT_VIEWS = {"summary": ("project", "read"), "_deletable": ("project", "delete")}


def rest_pair(template: str, method: str) -> Pair | None:
    """The pair a project-scoped route needs by its shape: GET collection -> list, GET item -> read, ..."""
    if (template, method) in HARBOR_PAIRS:
        return HARBOR_PAIRS[(template, method)]
    parts = [p for p in template.removeprefix("/api/v2.0/").strip("/").split("/") if p]
    if parts[-1] in PROJECT_VIEWS:
        return PROJECT_VIEWS[parts[-1]]
    if parts[-1] == "export" and method == "GET":
        return EXPORTS.get(parts[-2])
    is_item = parts[-1].startswith("{")
    segment = parts[-2] if is_item else parts[-1]
    resource = SEGMENT_RESOURCES.get(segment)
    if resource is None:
        return None
    action = {"GET": "read" if is_item else "list", "POST": "create", "PUT": "update", "DELETE": "delete"}
    return resource, action.get(method, "?")
