"""Label writes: create, update, delete (removing it from every artifact)."""

from __future__ import annotations

from django.db import IntegrityError, transaction

from common.api.errors import BadRequest, Conflict
from projects.models import Project
from registry.models import Label

MAX_NAME = 128


def _validate(*, name: str, scope: str, project: Project | None) -> None:
    # Harbor: label.Valid()
    if not name:
        raise BadRequest("label name cannot be empty")
    if len(name) > MAX_NAME:
        raise BadRequest(f"label name is longer than {MAX_NAME} characters")
    if scope not in (Label.GLOBAL, Label.PROJECT):
        raise BadRequest(f"invalid label scope {scope!r}: use g or p")
    if scope == Label.PROJECT and project is None:
        raise BadRequest("a project label needs a valid project_id")


def label_create(*, name: str, scope: str, project: Project | None, description: str = "", color: str = "") -> Label:
    """Create a global (scope g) or project (scope p) label; CONFLICT if the name is taken there."""
    _validate(name=name, scope=scope, project=project)
    try:
        with transaction.atomic():
            return Label.objects.create(
                name=name,
                scope=scope,
                project=project if scope == Label.PROJECT else None,
                description=description,
                color=color,
            )
    except IntegrityError as exc:
        raise Conflict(f"label {name} already exists") from exc


def label_update(*, label: Label, name: str, description: str, color: str) -> Label:
    """Rename or recolour a label (its scope and project never change)."""
    _validate(name=name, scope=label.scope, project=label.project)
    label.name, label.description, label.color = name, description, color
    try:
        with transaction.atomic():
            label.save(update_fields=["name", "description", "color", "updated"])
    except IntegrityError as exc:
        raise Conflict(f"label {name} already exists") from exc
    return label


def label_delete(*, label: Label) -> None:
    """Delete a label; it leaves every artifact it was added to."""
    label.delete()
