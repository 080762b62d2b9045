"""DRF glue around the permission oracle: every API view declares what it needs, nothing more.

A view sets `permission_required`, keyed by viewset action (`list`, `retrieve`, `create`,
`update`, `partial_update`, `destroy`, custom actions) or, for plain APIViews, by lower-case
HTTP method. Each value is one of:

- `("<resource>", "<action>")`: a project resource; the view's `get_permission_project()`
  names the project (404 when the caller may not even read it, so existence doesn't leak)
- `"sysadmin"`, `"authenticated"`, `"anyone"`: system-level rules

A view without an entry for the current action is refused: forgetting to declare is denial.
"""

from __future__ import annotations

from rest_framework.permissions import BasePermission

from common.api.errors import Forbidden, NotFound, Unauthorized
from projects.models import Project
from projects.permissions import Principal, can


def principal_of(request) -> Principal:  # noqa: ANN001
    """The request's principal, built once per request."""
    principal = getattr(request, "_harbor_principal", None)
    if principal is None:
        user = request.user if request.user and request.user.is_authenticated else None
        principal = Principal(user)
        request._harbor_principal = principal
    return principal


def _action(request, view) -> str:  # noqa: ANN001
    return getattr(view, "action", None) or request.method.lower()


def _deny(principal: Principal) -> None:
    if principal.is_anonymous:
        raise Unauthorized("authentication required")
    raise Forbidden("you are not allowed to do this")


def project_authorize(principal: Principal, project: Project | None, resource: str, action: str) -> None:
    """Raise 404/401/403 unless the principal may perform `action` on `resource` in `project`."""
    if project is None or not can(principal, "read", "project", project=project):
        if project is not None and principal.is_anonymous:
            raise Unauthorized("authentication required")
        raise NotFound("project not found")
    if not can(principal, action, resource, project=project):
        _deny(principal)


class Authorized(BasePermission):
    def has_permission(self, request, view) -> bool:  # noqa: ANN001
        rules = getattr(view, "permission_required", None) or {}
        rule = rules.get(_action(request, view))
        principal = principal_of(request)
        if rule is None:
            _deny(principal)
        if rule == "anyone":
            return True
        if rule == "authenticated":
            if principal.is_anonymous:
                _deny(principal)
            return True
        if rule == "sysadmin":
            if not principal.is_sysadmin:
                _deny(principal)
            return True
        resource, action = rule
        project_authorize(principal, view.get_permission_project(), resource, action)
        return True
