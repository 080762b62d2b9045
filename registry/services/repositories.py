"""Repository lifecycle: created on first push into an existing project."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from projects.models import Project
from registry.errors import NameUnknown
from registry.models import Repository
from registry.names import RepositoryName


def repository_ensure(*, name: RepositoryName) -> Repository:
    """Return the repository, creating it inside its project; NAME_UNKNOWN if the project is absent."""
    repository = Repository.objects.filter(name=name.full).first()
    if repository is not None:
        return repository
    project = Project.objects.filter(name=name.project).first()
    if project is None:
        raise NameUnknown(f"project {name.project!r} does not exist")
    try:
        with transaction.atomic():
            return Repository.objects.create(name=name.full, project=project)
    except IntegrityError:
        return Repository.objects.get(name=name.full)
