"""Robot accounts, the pure part: names, secrets, the grantable permission catalogue and a robot's grants.

No ORM here: `projects.permissions` evaluates a robot through `robot_grants`, and the services
validate request bodies through `permissions_parse` before resolving namespaces to projects.
"""

from __future__ import annotations

import re
import secrets
import string
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

Pair = tuple[str, str]

ROBOT_PREFIX = "robot$"
LEVEL_SYSTEM = "system"
LEVEL_PROJECT = "project"
LEVELS = (LEVEL_SYSTEM, LEVEL_PROJECT)
KIND_SYSTEM = "system"
KIND_PROJECT = "project"
SYSTEM_NAMESPACE = "/"
EVERY_PROJECT = "*"  # a system robot's project namespace covering every project, present and future
EFFECT_ALLOW = "allow"

# Harbor's robot name rule (handler/robot.go validateName): no `+`, which separates project and name.
_NAME_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")
_SECRET_ALPHABET = string.ascii_letters + string.digits
SECRET_LENGTH = 32


def _ordered(spec: dict[str, str]) -> tuple[Pair, ...]:
    return tuple((resource, action) for resource, actions in spec.items() for action in actions.split())


# What a system-level robot may be granted at system level: Harbor's PoliciesMap["System"]
# (src/common/rbac/const.go) plus the NolimitProvider additions (robot, user, user-group, ldap-user,
# export-cve, quota update) of the robot permission enhancement. Configuration stays excluded.
SYSTEM_PERMISSIONS: tuple[Pair, ...] = _ordered(
    {
        "audit-log": "list",
        "preheat-instance": "read create delete list update",
        "project": "list create",
        "replication-policy": "read create delete list update",
        "replication": "read create list",
        "replication-adapter": "list",
        "registry": "read create delete list update",
        "scan-all": "read update stop create",
        "system-volumes": "read",
        "garbage-collection": "read create list update stop",
        "purge-audit": "read create list update stop",
        "jobservice-monitor": "list stop",
        "scanner": "read create delete list update",
        "label": "read create delete update",
        "security-hub": "read list",
        "catalog": "read",
        "quota": "read list update",
        "robot": "create read update list delete",
        "user": "create read update list delete",
        "user-group": "create read update list delete",
        "ldap-user": "create list",
        "export-cve": "create read",
    }
)
# What any robot may be granted inside a project: Harbor's PoliciesMap["Project"] plus member and robot.
PROJECT_PERMISSIONS: tuple[Pair, ...] = _ordered(
    {
        "log": "list",
        "project": "read delete update",
        "metadata": "read create delete list update",
        "repository": "read update delete list pull push",
        "artifact": "read create list delete",
        "scan": "create read stop",
        "tag": "create list delete",
        "accessory": "list",
        "artifact-addition": "read",
        "artifact-label": "create delete",
        "scanner": "create read",
        "preheat-policy": "read create delete list update",
        "immutable-tag": "create delete list update",
        "notification-policy": "read create delete list update",
        "tag-retention": "read create delete list update",
        "label": "read create delete list update",
        "quota": "read",
        "member": "create read update delete list",
        "robot": "create read update delete list",
    }
)
SYSTEM_CATALOGUE: frozenset[Pair] = frozenset(SYSTEM_PERMISSIONS)
PROJECT_CATALOGUE: frozenset[Pair] = frozenset(PROJECT_PERMISSIONS)
CATALOGUE_BY_KIND: dict[str, frozenset[Pair]] = {KIND_SYSTEM: SYSTEM_CATALOGUE, KIND_PROJECT: PROJECT_CATALOGUE}


class RobotInvalid(ValueError):
    """A robot request that breaks a rule of its own (name, level, duration, permissions, secret)."""


# --- names and secrets ---------------------------------------------------------------------------
def robot_name_validate(name: str) -> str:
    """The short name, if it is lower case letters and digits with . _ - separators (255 at most)."""
    if not isinstance(name, str) or len(name) > 255 or not _NAME_RE.fullmatch(name):
        raise RobotInvalid("robot name is not in lower case or contains illegal characters")
    return name


def robot_full_name(*, name: str, project_name: str | None) -> str:
    """`robot$<project>+<name>` for project robots, `robot$<name>` for system robots."""
    return f"{ROBOT_PREFIX}{project_name}+{name}" if project_name else f"{ROBOT_PREFIX}{name}"


def robot_name_parse(full_name: str) -> tuple[str | None, str] | None:
    """(project name or None, short name) of a full robot name; None when it is not one."""
    if not full_name.startswith(ROBOT_PREFIX):
        return None
    rest = full_name[len(ROBOT_PREFIX) :]
    project, plus, name = rest.partition("+")
    if not plus:
        return (None, rest) if rest else None
    return (project, name) if project and name else None


def secret_is_strong(secret: str) -> bool:
    """Harbor's robot secret policy: at least 8 characters with an upper, a lower case letter and a digit."""
    return (
        isinstance(secret, str)
        and len(secret) >= 8
        and any(c.isupper() for c in secret)
        and any(c.islower() for c in secret)
        and any(c.isdigit() for c in secret)
    )


def secret_generate() -> str:
    """A random secret that itself meets the policy (32 letters and digits from `secrets`)."""
    while True:
        secret = "".join(secrets.choice(_SECRET_ALPHABET) for _ in range(SECRET_LENGTH))
        if secret_is_strong(secret):
            return secret


# --- permissions ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PermissionEntry:
    """One validated `{kind, namespace, access}` item; `pairs` are (resource, action)."""

    kind: str
    namespace: str
    pairs: frozenset[Pair]


def _access_pairs(kind: str, access: object) -> frozenset[Pair]:
    if not isinstance(access, list) or not access:
        raise RobotInvalid("bad request empty access")
    pairs: set[Pair] = set()
    for item in access:
        if not isinstance(item, Mapping):
            raise RobotInvalid("each access must be an object with resource and action")
        resource, action = item.get("resource"), item.get("action")
        effect = item.get("effect") or EFFECT_ALLOW
        if not isinstance(resource, str) or not isinstance(action, str):
            raise RobotInvalid("each access needs a resource and an action")
        if effect != EFFECT_ALLOW:
            # Only grants exist; a "deny" would make bounds depend on evaluation order.
            raise RobotInvalid(f"unsupported access effect {str(effect)[:40]!r}; only allow")
        if (resource, action) not in CATALOGUE_BY_KIND[kind]:
            raise RobotInvalid(f"{kind} robots cannot be granted {action!r} on {resource!r}"[:300])
        pairs.add((resource, action))
    return frozenset(pairs)


def permissions_parse(raw: object, *, level: str) -> list[PermissionEntry]:
    """Validate a request's permissions for a level; entries with the same kind and namespace merge."""
    if level not in LEVELS:
        raise RobotInvalid(f"bad request error level input: {str(level)[:40]}")
    if not isinstance(raw, list) or not raw:
        raise RobotInvalid("bad request empty permission")
    merged: dict[tuple[str, str], set[Pair]] = {}
    for item in raw:
        if not isinstance(item, Mapping):
            raise RobotInvalid("each permission must be an object with kind, namespace and access")
        kind, namespace = item.get("kind"), item.get("namespace")
        if kind not in CATALOGUE_BY_KIND or not isinstance(namespace, str) or not namespace:
            raise RobotInvalid('a permission needs kind "system" or "project" and a namespace')
        if kind == KIND_SYSTEM and (level != LEVEL_SYSTEM or namespace != SYSTEM_NAMESPACE):
            raise RobotInvalid('system permissions are for system robots, with namespace "/"')
        if kind == KIND_PROJECT and namespace == EVERY_PROJECT and level != LEVEL_SYSTEM:
            raise RobotInvalid('only system robots can cover every project ("*")')
        merged.setdefault((kind, namespace), set()).update(_access_pairs(kind, item.get("access")))
    if level == LEVEL_PROJECT and len(merged) != 1:
        # Harbor: a project robot holds exactly one project's permissions.
        raise RobotInvalid("bad request permission: a project robot covers exactly one project")
    return [PermissionEntry(kind, ns, frozenset(pairs)) for (kind, ns), pairs in merged.items()]


def permissions_document(entries: Iterable[PermissionEntry], project_ids: Mapping[str, int]) -> list[dict]:
    """The stored JSON: Harbor's shape, plus the project id a named namespace resolved to."""
    document = []
    for entry in sorted(entries, key=lambda e: (e.kind, e.namespace)):
        item: dict = {
            "kind": entry.kind,
            "namespace": entry.namespace,
            "access": [{"resource": r, "action": a, "effect": EFFECT_ALLOW} for r, a in sorted(entry.pairs)],
        }
        if entry.kind == KIND_PROJECT and entry.namespace != EVERY_PROJECT:
            # Grants bind to the project row, not its name: a later project of the same name gets nothing.
            item["project_id"] = project_ids[entry.namespace]
        document.append(item)
    return document


@dataclass(frozen=True)
class RobotGrants:
    """What a robot holds: system pairs, pairs per project id, and pairs in every project."""

    system: frozenset[Pair] = frozenset()
    projects: Mapping[int, frozenset[Pair]] = field(default_factory=dict)
    every: frozenset[Pair] = frozenset()

    def in_project(self, project_id: int) -> frozenset[Pair]:
        return self.projects.get(project_id, frozenset()) | self.every

    @property
    def is_empty(self) -> bool:
        return not (self.system or self.every or any(self.projects.values()))


NO_GRANTS = RobotGrants()


def _stored_pairs(entry: Mapping, kind: str) -> frozenset[Pair]:
    access = entry.get("access") or []
    pairs = {
        (a.get("resource"), a.get("action"))
        for a in access
        if isinstance(a, Mapping) and (a.get("effect") or EFFECT_ALLOW) == EFFECT_ALLOW
    }
    # Whatever was stored, a robot never holds more than its level's catalogue.
    return frozenset(pairs) & CATALOGUE_BY_KIND[kind]


def robot_grants(*, level: str, project_id: int | None, permissions: object) -> RobotGrants:
    """Evaluate a robot's stored permissions, intersected with what its level allows."""
    if not isinstance(permissions, list):
        return NO_GRANTS
    system: set[Pair] = set()
    every: set[Pair] = set()
    projects: dict[int, set[Pair]] = {}
    for entry in permissions:
        if not isinstance(entry, Mapping) or entry.get("kind") not in CATALOGUE_BY_KIND:
            continue
        kind = entry["kind"]
        pairs = _stored_pairs(entry, kind)
        if level == LEVEL_PROJECT:
            # A project robot acts in its own project only, whatever its entries name.
            if kind == KIND_PROJECT and project_id is not None:
                projects.setdefault(project_id, set()).update(pairs)
        elif level == LEVEL_SYSTEM:
            if kind == KIND_SYSTEM:
                system |= pairs
            elif entry.get("namespace") == EVERY_PROJECT:
                every |= pairs
            elif isinstance(entry.get("project_id"), int):
                projects.setdefault(entry["project_id"], set()).update(pairs)
    return RobotGrants(
        system=frozenset(system),
        projects={pk: frozenset(pairs) for pk, pairs in projects.items()},
        every=frozenset(every),
    )


def catalogue_document() -> dict[str, list[dict[str, str]]]:
    """`GET /permissions`: Harbor's {"system": [...], "project": [...]} of (resource, action) pairs."""
    return {
        "system": [{"resource": r, "action": a} for r, a in SYSTEM_PERMISSIONS],
        "project": [{"resource": r, "action": a} for r, a in PROJECT_PERMISSIONS],
    }
