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

from rest_framework.permissions import SAFE_METHODS, BasePermission

from common.api.errors import Denied, Forbidden, NotFound, Unauthorized
from common.configuration import READ_ONLY_MESSAGE, config_get
from projects.models import Project
from projects.permissions import PUBLIC_PERMISSIONS, Principal, can, project_permissions
from projects.selectors import project_get


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
    # Visible when the principal holds anything there: for users that is exactly project read (every
    # role and public access include it); a robot may hold e.g. repository pull without project read.
    if project is None or not project_permissions(principal, project):
        if project is not None and principal.is_anonymous:
            raise Unauthorized("authentication required")
        raise NotFound("project not found")
    if not can(principal, action, resource, project=project):
        _deny(principal)


class Authorized(BasePermission):
    @staticmethod
    def anonymous_allowed(rule: object) -> bool:
        """Does `rule` let anonymous callers through (on public projects)? For the OpenAPI document's `{}` security."""
        return rule == "anyone" or (isinstance(rule, tuple) and rule in PUBLIC_PERMISSIONS)

    def has_permission(self, request, view) -> bool:  # noqa: ANN001
        # Read-only mode refuses every write (cached setting, no query per request) except on
        # views that must keep working, such as PUT /configurations that switches it off.
        writes = request.method not in SAFE_METHODS and not getattr(view, "read_only_exempt", False)
        if writes and config_get("read_only"):
            raise Denied(READ_ONLY_MESSAGE)
        rules = getattr(view, "permission_required", None) or {}
        action = _action(request, view)
        # HEAD asks what GET would answer: never stricter, never looser.
        rule = rules.get(action) or (rules.get("get") if action == "head" else None)
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


class ProjectScopedMixin:
    """The project named in the path (cached: the permission check and the handler share it).

    `{project_name_or_id}` by default (a number is an id unless `X-Is-Resource-Name: true`); a route
    whose parameter is always a name sets `project_kwarg` to it and `project_is_name`."""

    project_kwarg = "project_name_or_id"
    project_is_name = False

    def get_permission_project(self) -> Project | None:
        if not hasattr(self, "_project"):
            is_name: bool | None = True
            if not self.project_is_name:
                header = self.request.headers.get("X-Is-Resource-Name")
                is_name = None if header is None else header.lower() == "true"
            self._project = project_get(name_or_id=self.kwargs[self.project_kwarg], is_name=is_name)
        return self._project

    @property
    def project(self) -> Project:
        project = self.get_permission_project()
        if project is None:
            raise NotFound("project not found")
        return project
