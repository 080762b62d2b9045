"""The token service's decision: requested scopes intersected with what the principal may do."""

from __future__ import annotations

from projects.models import Project
from projects.permissions import Principal, registry_actions_allowed
from registry.auth.scopes import Scope
from registry.errors import NameInvalid
from registry.names import RepositoryName


def token_grant(*, principal: Principal, scopes: list[Scope]) -> list[Scope]:
    """Downscope each requested scope; never refuse a well-formed request (grant nothing instead)."""
    names: dict[Scope, RepositoryName] = {}
    for scope in scopes:
        if scope.type == "repository":
            try:
                names[scope] = RepositoryName.parse(scope.name)
            except NameInvalid:
                continue
    projects = {p.name: p for p in Project.objects.filter(name__in={n.project for n in names.values()})}
    granted: list[Scope] = []
    for scope in scopes:
        if scope.type == "repository" and scope in names:
            project = projects.get(names[scope].project)
            actions = registry_actions_allowed(principal, project, set(scope.actions))
        elif scope.type == "registry" and scope.name == "catalog":
            # The catalog itself is filtered to what the caller may see.
            actions = {"*"} if "*" in scope.actions else set()
        else:
            actions = set()
        granted.append(Scope(scope.type, scope.name, frozenset(actions)))
    return granted
