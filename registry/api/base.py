"""What every registry API view shares: the project and repository in the path, and boolean flags."""

from __future__ import annotations

from urllib.parse import unquote

from rest_framework.request import Request

from common.api.errors import BadRequest, NotFound
from projects.drf import principal_of, project_authorize
from projects.models import Project
from registry.api_selectors.artifacts import artifact_get
from registry.api_selectors.repositories import repository_get
from registry.models import Artifact, Repository

_TRUE = ("true", "1", "t")
_FALSE = ("false", "0", "f")


def flag(request: Request, name: str, default: bool) -> bool:
    """A boolean query parameter (Harbor: `true`/`false`); BAD_REQUEST for anything else."""
    raw = request.query_params.get(name)
    if raw in (None, ""):
        return default
    lowered = raw.lower()
    if lowered not in _TRUE + _FALSE:
        raise BadRequest(f"{name} must be true or false")
    return lowered in _TRUE


def repository_name_decode(raw: str) -> str:
    """The repository name from the path: clients encode `a/b` twice (`a%252Fb`); Django decoded once."""
    return unquote(raw)


class RepositoryPathMixin:
    """For routes under /projects/{project_name}/repositories/{repository_name}[/artifacts/{reference}]."""

    kwargs: dict
    request: Request

    def get_permission_project(self) -> Project | None:
        if not hasattr(self, "_project"):
            self._project = Project.objects.filter(name=self.kwargs["project_name"]).first()
        return self._project

    def get_repository(self, *, counted: bool = False) -> Repository:
        project = self.get_permission_project()
        if project is None:  # the permission check has already answered; kept for views without one
            raise NotFound(f"project {self.kwargs['project_name']} not found")
        name = repository_name_decode(self.kwargs["repository_name"])
        return repository_get(project=project, name=name, counted=counted)

    def get_artifact(self) -> Artifact:
        return artifact_get(repository=self.get_repository(), reference=self.kwargs["reference"])

    def authorize(self, project: Project | None, resource: str, action: str) -> None:
        """A second permission check, on another project (the source of a copy)."""
        project_authorize(principal_of(self.request), project, resource, action)
