"""The operator console's permission glue: admin pages ask the permission oracle, as the API does."""

from __future__ import annotations

from django.http import HttpRequest

from projects.permissions import Principal, can_system


def principal_of_admin(request: HttpRequest) -> Principal:
    """The principal of an admin request (a session user)."""
    return Principal(request.user)


class SystemResourceAdminMixin:
    """Admin permissions from the oracle: the system `(oracle_resource, action)` pairs, not Django's model perms."""

    oracle_resource = ""
    oracle_view_action = "read"

    def _can(self, request: HttpRequest, action: str) -> bool:
        return can_system(principal_of_admin(request), action, self.oracle_resource)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return self._can(request, self.oracle_view_action)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return self._can(request, self.oracle_view_action)

    def has_add_permission(self, request: HttpRequest, *args) -> bool:  # inlines pass obj
        return self._can(request, "create")

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return self._can(request, "update")

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:  # noqa: ANN001
        return self._can(request, "delete")
