"""Writes on projects and members."""

from __future__ import annotations

from django.db import transaction

from audit.services import audit_record
from projects.models import Member, Project, Quota, Role
from projects.names import is_valid_project_name


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
        audit_record(operation="create", resource_type="project", resource=name, project_id=project.pk)
    return project


def member_set(*, project: Project, user, role: int) -> Member:  # noqa: ANN001
    """Give a user a role in a project (replacing any previous role)."""
    with transaction.atomic():
        member, created = Member.objects.update_or_create(project=project, user=user, defaults={"role": role})
        audit_record(
            operation="create" if created else "update",
            resource_type="member",
            resource=user.get_username(),
            project_id=project.pk,
            description=f"role {Role(role).label}",
        )
    return member


def project_delete(*, project: Project) -> None:
    """Delete an empty project; refused (PRECONDITION) while it holds repositories."""
    from common.api.errors import Precondition

    with transaction.atomic():
        locked = Project.objects.select_for_update().get(pk=project.pk)
        if locked.repositories.exists():
            raise Precondition(f"project {project.name} still has repositories; delete them first")
        audit_record(operation="delete", resource_type="project", resource=locked.name, project_id=locked.pk)
        locked.delete()


def project_update(*, project: Project, public: bool | None = None, metadata: dict | None = None) -> Project:
    """Change a project's visibility and metadata keys (values are strings, as in Harbor)."""
    fields = ["updated"]
    # The audit description names what actually changed (keys only: values may be long or private).
    changed = ["public"] if public is not None and public != project.public else []
    changed += sorted(key for key, value in (metadata or {}).items() if project.metadata.get(key) != value)
    if public is not None:
        project.public = public
        fields.append("public")
    if metadata:
        project.metadata = {**project.metadata, **metadata}
        fields.append("metadata")
    with transaction.atomic():
        project.save(update_fields=fields)
        audit_record(
            operation="update",
            resource_type="project",
            resource=project.name,
            project_id=project.pk,
            description=f"changed: {', '.join(changed)}" if changed else "",
        )
    return project
