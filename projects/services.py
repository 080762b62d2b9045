"""Writes on projects and members."""

from __future__ import annotations

from django.db import transaction

from projects.models import Member, Project, Role
from registry.names import is_valid_project_name


def project_create(*, name: str, public: bool = False, owner=None, metadata: dict | None = None) -> Project:  # noqa: ANN001
    """Create a project; its owner becomes project admin."""
    if not is_valid_project_name(name):
        raise ValueError(f"invalid project name {name!r}")
    with transaction.atomic():
        project = Project.objects.create(name=name, public=public, owner=owner, metadata=metadata or {})
        if owner is not None:
            Member.objects.create(project=project, user=owner, role=Role.PROJECT_ADMIN)
    return project


def member_set(*, project: Project, user, role: int) -> Member:  # noqa: ANN001
    """Give a user a role in a project (replacing any previous role)."""
    member, _ = Member.objects.update_or_create(project=project, user=user, defaults={"role": role})
    return member
