"""Reads on robot accounts, scoped by what the principal may manage."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from common.api.errors import Forbidden, NotFound, Unauthorized
from projects.models import Member, Project, Robot, Role
from projects.permissions import Principal, can, can_system, project_permissions
from projects.robots.catalogue import LEVEL_PROJECT, LEVEL_SYSTEM, catalogue_document, robot_name_parse


def robot_authorize(principal: Principal, *, level: str, project: Project | None, action: str) -> None:
    """Raise 401/404/403 unless the principal holds ("robot", action) at the level (in the project)."""
    if principal.is_anonymous:
        raise Unauthorized("authentication required")
    if level == LEVEL_SYSTEM:
        if not can_system(principal, action, "robot"):
            raise Forbidden(f"you are not allowed to {action} system robots")
        return
    # As for every project resource: a project the caller holds nothing in might as well not exist.
    if project is None or not project_permissions(principal, project):
        raise NotFound("project not found")
    if not can(principal, action, "robot", project=project):
        raise Forbidden(f"you are not allowed to {action} robots of project {project.name}")


def robot_by_full_name(*, full_name: str) -> Robot | None:
    """The robot a `robot$<project>+<name>` or `robot$<name>` login names, if any."""
    parsed = robot_name_parse(full_name)
    if parsed is None:
        return None
    project_name, name = parsed
    queryset = Robot.objects.select_related("project")
    if project_name is None:
        return queryset.filter(level=LEVEL_SYSTEM, project__isnull=True, name=name).first()
    return queryset.filter(level=LEVEL_PROJECT, project__name=project_name, name=name).first()


def robot_by_pk(*, robot_id: int) -> Robot | None:
    """A robot by id, with its project (for its full name)."""
    return Robot.objects.select_related("project").filter(pk=robot_id).first()


def robot_get(*, principal: Principal, robot_id: int, action: str = "read") -> Robot:
    """A robot the principal may `action` (404 when missing or its project is hidden, 403 when refused)."""
    robot = robot_by_pk(robot_id=robot_id)
    if robot is None:
        raise NotFound(f"robot {robot_id} not found")
    robot_authorize(principal, level=robot.level, project=robot.project, action=action)
    return robot


def robot_list(*, principal: Principal, level: str, project_id: int | None) -> QuerySet[Robot]:
    """Robots of one level (and project) that the principal may list; unordered, unfiltered beyond that."""
    project = None
    if level == LEVEL_PROJECT:
        project = Project.objects.filter(pk=project_id).first() if project_id is not None else None
    robot_authorize(principal, level=level, project=project, action="list")
    queryset = Robot.objects.select_related("project").filter(level=level)
    return queryset.filter(project=project) if project is not None else queryset.filter(project__isnull=True)


def robot_catalogue(*, principal: Principal) -> dict[str, list[dict[str, str]]]:
    """The grantable (resource, action) pairs: both levels for sysadmins, the project level for project admins."""
    if principal.is_sysadmin:
        return catalogue_document()
    user = principal.user
    if user is not None:
        admin_of = Member.objects.filter(role=Role.PROJECT_ADMIN).filter(Q(user_id=user.pk) | Q(group__users=user.pk))
        if admin_of.exists():
            return {"system": [], "project": catalogue_document()["project"]}
    raise Forbidden("only admins(system and project) can access permissions")
