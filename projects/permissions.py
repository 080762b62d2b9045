"""The one permission oracle: `can(principal, action, resource)`.

Roles are data (role -> allowed (resource, action) pairs), mirroring Harbor's
project RBAC matrix. The token service, the /v2/ views, admin and selectors all
ask this module; nothing else decides who may do what.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from django.db.models import Q

from projects.models import Member, Project, Robot, Role
from projects.robots.catalogue import NO_GRANTS, SYSTEM_CATALOGUE, RobotGrants, robot_grants

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser

Pair = tuple[str, str]


def _pairs(spec: dict[str, str]) -> frozenset[Pair]:
    return frozenset((resource, action) for resource, actions in spec.items() for action in actions.split())


# Harbor's project role matrix (resource -> actions), kept as data.
_READ_SET = {
    "project": "read",
    "member": "read list",
    "label": "read list",
    "quota": "read",
    "repository": "read list pull",
    "configuration": "read",
    "robot": "read list",
    "scan": "read",
    "sbom": "read",
    "scanner": "read",
    "artifact": "read list",
    "artifact-addition": "read",
    "tag": "list",
    "accessory": "list",
}
ROLE_PERMISSIONS: dict[int, frozenset[Pair]] = {
    Role.PROJECT_ADMIN: _pairs(
        {
            "project": "read update delete",
            "member": "create read update delete list",
            "metadata": "create read update delete list",
            "log": "list",
            "label": "create read update delete list",
            "quota": "read",
            "repository": "create read update delete list pull push",
            "tag-retention": "create read update delete list operate",
            "immutable-tag": "create update delete list",
            "configuration": "read update",
            "robot": "create read update delete list",
            "notification-policy": "create read update delete list",
            "scan": "create stop read",
            "sbom": "create stop read",
            "scanner": "create read",
            "artifact": "create read delete list",
            "artifact-addition": "read",
            "tag": "create delete list",
            "accessory": "list",
            "artifact-label": "create delete",
            "preheat-policy": "create read update delete list",
            "export-cve": "create read list",
        }
    ),
    Role.MAINTAINER: _pairs(
        {
            "project": "read",
            "member": "read list",
            "metadata": "read",
            "label": "create read update delete list",
            "quota": "read",
            "repository": "create read update delete list pull push",
            "tag-retention": "create read update delete list operate",
            "immutable-tag": "create update delete list",
            "configuration": "read",
            "robot": "read list",
            "notification-policy": "read list",
            "scan": "create stop read",
            "sbom": "create stop read",
            "scanner": "read",
            "artifact": "create read delete list",
            "artifact-addition": "read",
            "tag": "create delete list",
            "accessory": "list",
            "artifact-label": "create delete",
            "export-cve": "create read list",
        }
    ),
    Role.DEVELOPER: _pairs(
        {
            **_READ_SET,
            "repository": "create read update list pull push",
            "tag-retention": "create read update delete list operate",
            "artifact": "create read list",
            "tag": "create list",
            "artifact-label": "create delete",
            "export-cve": "create read list",
        }
    ),
    Role.GUEST: _pairs(_READ_SET),
    Role.LIMITED_GUEST: _pairs(
        {
            "project": "read",
            "quota": "read",
            "repository": "read list pull",
            "configuration": "read",
            "scan": "read",
            "sbom": "read",
            "scanner": "read",
            "artifact": "read list",
            "artifact-addition": "read",
            "tag": "list",
            "accessory": "list",
        }
    ),
}
# What everyone, anonymous included, may do in a public project.
PUBLIC_PERMISSIONS: frozenset[Pair] = _pairs(
    {
        "project": "read",
        "repository": "list pull",
        "artifact": "read list",
        "artifact-addition": "read",
        "tag": "list",
        "accessory": "list",
        "label": "read list",
        "scan": "read",
        "scanner": "read",
    }
)


@dataclass
class Principal:
    """Who is asking: a user, a robot, or anonymous. Caches project roles (or robot grants) per request.

    `Principal(x)` takes whatever authentication resolved: a user, a Robot (moved to `robot`; `user`
    stays None so nothing mistakes a robot's id for a user's), or None.
    """

    user: AbstractBaseUser | None = None
    robot: Robot | None = None
    _roles: dict[int, frozenset[int]] = field(default_factory=dict, repr=False)
    _grants: RobotGrants | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.user, Robot):
            self.robot, self.user = self.user, None

    @classmethod
    def anonymous(cls) -> Principal:
        return cls(None)

    @property
    def is_anonymous(self) -> bool:
        return self.user is None and self.robot is None

    @property
    def is_sysadmin(self) -> bool:
        return self.user is not None and bool(getattr(self.user, "is_superuser", False))

    @property
    def name(self) -> str:
        if self.robot is not None:
            return self.robot.full_name
        return "" if self.user is None else self.user.get_username()

    def robot_grants(self) -> RobotGrants:
        """A robot's rights: exactly its permissions within its level; nothing once disabled or expired."""
        if self.robot is None or not self.robot.is_active:
            return NO_GRANTS
        if self._grants is None:
            robot = self.robot
            self._grants = robot_grants(level=robot.level, project_id=robot.project_id, permissions=robot.permissions)
        return self._grants

    def roles_in(self, project: Project) -> frozenset[int]:
        """The principal's roles in a project (one query, then cached)."""
        if self.user is None:
            return frozenset()
        if project.pk not in self._roles:
            roles = (
                Member.objects.filter(project_id=project.pk)
                .filter(Q(user_id=self.user.pk) | Q(group__users=self.user.pk))
                .values_list("role", flat=True)
            )
            self._roles[project.pk] = frozenset(roles)
        return self._roles[project.pk]

    def preload_roles(self, projects: list[Project]) -> None:
        """Fetch roles for many projects in one query (lists would otherwise query per row)."""
        missing = [p.pk for p in projects if p.pk not in self._roles]
        if self.user is None or not missing:
            return
        found: dict[int, set[int]] = {pk: set() for pk in missing}
        rows = (
            Member.objects.filter(project_id__in=missing)
            .filter(Q(user_id=self.user.pk) | Q(group__users=self.user.pk))
            .values_list("project_id", "role")
        )
        for project_id, role in rows:
            found[project_id].add(role)
        self._roles.update({pk: frozenset(roles) for pk, roles in found.items()})


def project_permissions(principal: Principal, project: Project) -> frozenset[Pair]:
    """Every (resource, action) pair the principal holds in the project."""
    if principal.is_sysadmin:
        return ALL_PROJECT_PERMISSIONS
    granted: set[Pair] = set(PUBLIC_PERMISSIONS) if project.public else set()
    if principal.robot is not None:
        # A robot holds its grants, plus what anyone may do in a public project (as in Harbor:
        # a CI robot can pull public base images it was never granted).
        return principal.robot_grants().in_project(project.pk) | frozenset(granted)
    for role in principal.roles_in(project):
        granted |= ROLE_PERMISSIONS[role]
    return frozenset(granted)


def can(principal: Principal, action: str, resource: str, *, project: Project | None) -> bool:
    """May `principal` perform `action` on a `resource` of `project`? (None: project does not exist.)"""
    if project is None:
        return False
    return (resource, action) in project_permissions(principal, project)


ALL_PROJECT_PERMISSIONS: frozenset[Pair] = frozenset().union(*ROLE_PERMISSIONS.values())


def system_permissions(principal: Principal) -> frozenset[Pair]:
    """System-level (resource, action) pairs: the whole robot catalogue for sysadmins, a robot's own."""
    if principal.is_sysadmin:
        return SYSTEM_CATALOGUE
    if principal.robot is not None:
        return principal.robot_grants().system
    return frozenset()


def can_system(principal: Principal, action: str, resource: str) -> bool:
    """May `principal` perform a system-level `action` on `resource` (e.g. create system robots)?"""
    return (resource, action) in system_permissions(principal)


# Registry token actions -> the (resource, action) pair they need.
REGISTRY_ACTIONS: dict[str, Pair] = {
    "pull": ("repository", "pull"),
    "push": ("repository", "push"),
    "delete": ("repository", "delete"),
}


def registry_actions_allowed(principal: Principal, project: Project | None, requested: set[str]) -> set[str]:
    """Downscope a registry scope's actions to what the principal may do (`*` expands to all)."""
    if project is None:
        return set()
    held = project_permissions(principal, project)
    wanted = set(REGISTRY_ACTIONS) if "*" in requested else requested & set(REGISTRY_ACTIONS)
    allowed = {a for a in wanted if REGISTRY_ACTIONS[a] in held}
    if "*" in requested and allowed == set(REGISTRY_ACTIONS):
        allowed.add("*")
    return allowed
