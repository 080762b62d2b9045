"""Labels: global ones, a project's, and the ones an artifact of a project may carry."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from common.api.errors import NotFound
from projects.models import Project
from registry.models import Label


def label_list(*, scope: str, project: Project | None = None) -> QuerySet[Label]:
    """Global labels (scope "g") or the labels of `project` (scope "p")."""
    if scope == Label.GLOBAL:
        return Label.objects.filter(scope=Label.GLOBAL)
    return Label.objects.filter(scope=Label.PROJECT, project=project)


def label_get(*, label_id: int) -> Label:
    """A label by id; NOT_FOUND otherwise."""
    label = Label.objects.select_related("project").filter(pk=label_id).first()
    if label is None:
        raise NotFound(f"label {label_id} not found")
    return label


def label_usable(*, label_id: int, project: Project) -> Label:
    """A label that artifacts of `project` may carry (global, or the project's own); NOT_FOUND otherwise."""
    label = Label.objects.filter(Q(scope=Label.GLOBAL) | Q(scope=Label.PROJECT, project=project), pk=label_id).first()
    if label is None:
        raise NotFound(f"label {label_id} not found in project {project.name}")
    return label
