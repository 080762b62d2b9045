"""Writes on robot accounts. Every write is bounded by what the acting principal holds.

No escalation: after any create or update, and before any secret refresh (which hands the caller the
robot's credentials), each permission the robot has must be one the actor holds, in the same project,
in every project (`*`) or at system level; and a robot acting never outlives itself through another.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.contrib.auth.hashers import make_password
from django.db import IntegrityError, transaction
from django.utils import timezone

from audit.services import audit_record
from common.api.errors import BadRequest, Conflict, Forbidden, NotFound
from common.configuration import config_get
from projects.models import Project, Robot
from projects.permissions import Principal, project_permissions, system_permissions
from projects.robots.catalogue import (
    EVERY_PROJECT,
    KIND_PROJECT,
    LEVEL_PROJECT,
    PROJECT_CATALOGUE,
    PermissionEntry,
    RobotGrants,
    RobotInvalid,
    permissions_document,
    permissions_parse,
    robot_grants,
    robot_name_validate,
    secret_generate,
    secret_is_strong,
)
from projects.robots.selectors import robot_authorize

SECRET_POLICY = "the secret must longer than 8 chars with at least 1 uppercase letter, 1 lowercase letter and 1 number"
_MAX_DURATION = 2**31 - 1


def _robot_record(robot: Robot, operation: str, *, description: str = "") -> None:
    """Audit a robot write in the caller's transaction (resource: the robot's full name; never its secret)."""
    audit_record(
        operation=operation,
        resource_type="robot",
        resource=robot.full_name,
        project_id=robot.project_id,
        description=description,
    )


def _invalid(exc: RobotInvalid) -> BadRequest:
    return BadRequest(str(exc))


def _duration_validate(duration: object) -> int:
    # Harbor: -1 (never) or a positive number of days; 0 means the configured `robot_token_duration`.
    if isinstance(duration, bool) or not isinstance(duration, int) or not -1 <= duration < _MAX_DURATION:
        raise BadRequest(f"bad request error duration input: {str(duration)[:40]}")
    return int(config_get("robot_token_duration")) if duration == 0 else duration


def _expiry(duration: int, start: datetime) -> datetime | None:
    if duration == -1:
        return None
    try:
        return start + timedelta(days=duration)
    except OverflowError as exc:
        raise BadRequest(f"bad request error duration input: {duration}") from exc


def _namespace_projects(entries: list[PermissionEntry]) -> dict[str, Project]:
    names = {e.namespace for e in entries if e.kind == KIND_PROJECT and e.namespace != EVERY_PROJECT}
    found = {p.name: p for p in Project.objects.filter(name__in=names)}
    missing = sorted(names - set(found))
    if missing:
        raise NotFound(f"project {missing[0]} not found")
    return found


def _held_everywhere(principal: Principal) -> frozenset:
    if principal.is_sysadmin:
        return PROJECT_CATALOGUE
    if principal.robot is not None:
        return principal.robot_grants().every
    return frozenset()  # a user's roles say nothing about projects that do not exist yet


def _held_in(principal: Principal, project_id: int, project: Project | None) -> frozenset:
    if principal.robot is not None:
        # A robot passes on only what it was granted: what it may do in a public project
        # (like anyone) is not its to hand out, or a grant would outlive the project going private.
        # (Also covers a project deleted since: robots hold their grants by its id.)
        return principal.robot_grants().in_project(project_id)
    if project is not None:
        return project_permissions(principal, project)
    return PROJECT_CATALOGUE if principal.is_sysadmin else frozenset()


def _excess(wanted: frozenset, held: frozenset) -> str:
    resource, action = sorted(wanted - held)[0]
    return f"{action} on {resource}"


def robot_bound(
    *, principal: Principal, grants: RobotGrants, projects: dict[int, Project], expires_at: datetime | None
) -> None:
    """Raise FORBIDDEN unless the principal holds every grant (and, for robots, outlives the expiry)."""
    if not grants.system <= system_permissions(principal):
        raise Forbidden(f"cannot grant system {_excess(grants.system, system_permissions(principal))}")
    if not grants.every <= _held_everywhere(principal):
        raise Forbidden(f"cannot grant {_excess(grants.every, _held_everywhere(principal))} in every project")
    principal.preload_roles(list(projects.values()))
    for project_id in grants.projects:
        project = projects.get(project_id)
        wanted = grants.in_project(project_id)
        held = _held_in(principal, project_id, project)
        if not wanted <= held:
            name = project.name if project is not None else project_id
            raise Forbidden(f"cannot grant {_excess(wanted, held)} in project {name}")
    actor = principal.robot
    if actor is not None and actor.expires_at is not None and (expires_at is None or expires_at > actor.expires_at):
        raise Forbidden("a robot cannot give a robot a longer life than its own")


def _creator(principal: Principal) -> tuple[str, int | None]:
    if principal.robot is not None:
        return "robot", principal.robot.pk
    return "local", principal.user.pk if principal.user is not None else None


def _stored_projects(document: list[dict]) -> dict[int, Project]:
    ids = {e["project_id"] for e in document if isinstance(e.get("project_id"), int)}
    return {p.pk: p for p in Project.objects.filter(pk__in=ids)}


def robot_create(
    *,
    principal: Principal,
    name: str,
    level: str,
    permissions: list,
    description: str = "",
    duration: int = 0,
    disabled: bool = False,
    secret: str | None = None,
) -> tuple[Robot, str]:
    """Create a robot no stronger than its creator; returns it with its secret ("" when the caller chose it)."""
    try:
        robot_name_validate(name)
        entries = permissions_parse(permissions, level=level)
    except RobotInvalid as exc:
        raise _invalid(exc) from exc
    defaulted = duration == 0
    duration = _duration_validate(duration)
    if secret and not secret_is_strong(secret):
        raise BadRequest(SECRET_POLICY)
    projects = _namespace_projects(entries)
    project = projects[entries[0].namespace] if level == LEVEL_PROJECT else None
    robot_authorize(principal, level=level, project=project, action="create")
    now = timezone.now()
    expires_at = _expiry(duration, now)
    actor_expiry = principal.robot.expires_at if principal.robot is not None else None
    if defaulted and actor_expiry is not None and expires_at > actor_expiry:
        # The default life of a robot's robot ends with its creator's; an explicit longer one is refused.
        expires_at = actor_expiry
        duration = max(1, math.ceil((actor_expiry - now) / timedelta(days=1)))
    document = permissions_document(entries, {n: p.pk for n, p in projects.items()})
    grants = robot_grants(level=level, project_id=project.pk if project else None, permissions=document)
    robot_bound(
        principal=principal, grants=grants, projects={p.pk: p for p in projects.values()}, expires_at=expires_at
    )
    plain = secret or secret_generate()
    creator_type, creator_ref = _creator(principal)
    try:
        with transaction.atomic():
            robot = Robot.objects.create(
                name=name,
                description=description or "",
                level=level,
                project=project,
                secret_hash=make_password(plain),
                disabled=bool(disabled),
                duration=duration,
                expires_at=expires_at,
                permissions=document,
                creator_type=creator_type,
                creator_ref=creator_ref,
            )
            _robot_record(robot, "create")
    except IntegrityError as exc:
        raise Conflict(f"robot {name} already exists") from exc
    return robot, "" if secret else plain


def robot_update(
    *,
    principal: Principal,
    robot_id: int,
    name: str,
    level: str,
    permissions: list,
    description: str = "",
    duration: int | None = None,
    disabled: bool = False,
) -> Robot:
    """Change a robot's description, disable flag, duration and permissions; never its name or level."""
    with transaction.atomic():
        robot = Robot.objects.select_for_update(of=("self",)).select_related("project").filter(pk=robot_id).first()
        if robot is None:
            raise NotFound(f"robot {robot_id} not found")
        robot_authorize(principal, level=robot.level, project=robot.project, action="update")
        if level != robot.level or name not in (robot.name, robot.full_name):
            raise BadRequest("cannot update the level or name of robot")
        try:
            entries = permissions_parse(permissions, level=level)
        except RobotInvalid as exc:
            raise _invalid(exc) from exc
        if robot.project is not None and entries[0].namespace != robot.project.name:
            raise BadRequest(f"a robot of project {robot.project.name} holds permissions in that project only")
        projects = _namespace_projects(entries)
        document = permissions_document(entries, {n: p.pk for n, p in projects.items()})
        if principal.robot is not None and principal.robot.pk == robot.pk and document != robot.permissions:
            raise Forbidden("a robot cannot change its own permissions")
        if duration is not None and _duration_validate(duration) != robot.duration:
            robot.duration = _duration_validate(duration)
            robot.expires_at = _expiry(robot.duration, robot.created)
        grants = robot_grants(level=robot.level, project_id=robot.project_id, permissions=document)
        robot_bound(
            principal=principal,
            grants=grants,
            projects={p.pk: p for p in projects.values()},
            expires_at=robot.expires_at,
        )
        robot.description = description or ""
        robot.disabled = bool(disabled)
        robot.permissions = document
        robot.save()
        _robot_record(robot, "update")
    return robot


def robot_delete(*, principal: Principal, robot_id: int) -> None:
    """Delete a robot (its secret stops working at once)."""
    with transaction.atomic():
        robot = Robot.objects.select_for_update(of=("self",)).select_related("project").filter(pk=robot_id).first()
        if robot is None:
            raise NotFound(f"robot {robot_id} not found")
        robot_authorize(principal, level=robot.level, project=robot.project, action="delete")
        _robot_record(robot, "delete")
        robot.delete()


def robot_secret_refresh(*, principal: Principal, robot_id: int, secret: str | None = None) -> str:
    """Set the caller's secret (returns "") or a new random one (returned once); only by who could be this robot."""
    with transaction.atomic():
        robot = Robot.objects.select_for_update(of=("self",)).select_related("project").filter(pk=robot_id).first()
        if robot is None:
            raise NotFound(f"robot {robot_id} not found")
        robot_authorize(principal, level=robot.level, project=robot.project, action="update")
        if secret and not secret_is_strong(secret):
            raise BadRequest(SECRET_POLICY)
        # Whoever learns a secret can act as the robot: refreshing is granting the robot's rights.
        grants = robot_grants(level=robot.level, project_id=robot.project_id, permissions=robot.permissions)
        projects = _stored_projects(robot.permissions)
        if robot.project is not None:
            projects[robot.project.pk] = robot.project
        robot_bound(principal=principal, grants=grants, projects=projects, expires_at=robot.expires_at)
        plain = secret or secret_generate()
        robot.secret_hash = make_password(plain)
        robot.save(update_fields=["secret_hash", "updated"])
        _robot_record(robot, "update", description="secret refreshed")
    return "" if secret else plain
