"""Writes on projects and members."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F

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


def project_policies_changed(*, project_id: int) -> None:
    """Bump the project's policy revision, in the transaction of a write to a policy the push path consults.

    Immutability rules and webhook policies are answered on the push path from per-process caches
    keyed on (project, revision) (policies/selectors.py, audit/subscribers.py): every write to them
    calls this, or another process keeps serving the old answer. The row is locked FOR UPDATE first,
    which conflicts with the key-share lock a manifest push holds on it from its first statement to
    its commit: a push either reads the new revision, or commits before this write does.
    (A plain UPDATE takes FOR NO KEY UPDATE, which a key-share lock does not wait for.)
    """
    with transaction.atomic(savepoint=False):  # the caller's transaction (its own when it has none)
        list(Project.objects.select_for_update().filter(pk=project_id).values_list("pk"))
        Project.objects.filter(pk=project_id).update(policy_revision=F("policy_revision") + 1)
