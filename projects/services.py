"""Writes on projects and members."""

from __future__ import annotations

from django.db import transaction

from projects.models import Member, Project, Quota, Role
from registry.names import is_valid_project_name


def project_create(
    *,
    name: str,
    public: bool = False,
    owner=None,  # noqa: ANN001 - a user or None
    metadata: dict | None = None,
    storage_limit: int | None = None,
) -> Project:
    """Create a project with its quota (-1: unlimited); its owner becomes project admin."""
    if not is_valid_project_name(name):
        raise ValueError(f"invalid project name {name!r}")
    with transaction.atomic():
        project = Project.objects.create(name=name, public=public, owner=owner, metadata=metadata or {})
        Quota.objects.create(project=project, hard=-1 if storage_limit is None else storage_limit)
        if owner is not None:
            Member.objects.create(project=project, user=owner, role=Role.PROJECT_ADMIN)
    return project


def member_set(*, project: Project, user, role: int) -> Member:  # noqa: ANN001
    """Give a user a role in a project (replacing any previous role)."""
    member, _ = Member.objects.update_or_create(project=project, user=user, defaults={"role": role})
    return member


def project_delete(*, project: Project) -> None:
    """Delete an empty project; refused (PRECONDITION) while it holds repositories."""
    from common.api.errors import Precondition

    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        if locked.repositories.exists():
            raise Precondition(f"project {project.name} still has repositories; delete them first")
        locked.delete()


def project_update(*, project: Project, public: bool | None = None, metadata: dict | None = None) -> Project:
    """Change a project's visibility and metadata keys (values are strings, as in Harbor)."""
    fields = ["updated"]
    if public is not None:
        project.public = public
        fields.append("public")
    if metadata:
        project.metadata = {**project.metadata, **metadata}
        fields.append("metadata")
    project.save(update_fields=fields)
    return project
