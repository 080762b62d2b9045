"""Repositories as the API lists them: scoped to visible projects, with Harbor's artifact count."""

from __future__ import annotations

from django.db.models import Count, Exists, IntegerField, OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce

from common.api.errors import NotFound
from projects.models import Project
from projects.permissions import Principal
from projects.selectors import project_visible
from registry.artifact_types import COSIGN_TAG
from registry.models import Artifact, ArtifactReference, Repository, Tag


def artifact_listable(queryset: QuerySet[Artifact], *, base: bool = False) -> QuerySet[Artifact]:
    """Harbor's listing base: tagged or not in an index (all when `base`), never accessories."""
    if not base:
        tagged = Exists(Tag.objects.filter(artifact_id=OuterRef("pk")))
        in_index = Exists(ArtifactReference.objects.filter(child_id=OuterRef("pk")))
        queryset = queryset.filter(tagged | ~in_index)
    return artifact_not_accessory(queryset)


def artifact_not_accessory(queryset: QuerySet[Artifact]) -> QuerySet[Artifact]:
    """Without the artifacts attached to another one (a `subject`, or cosign's `sha256-<hex>.sig` tag)."""
    cosign = Exists(Tag.objects.filter(artifact_id=OuterRef("pk"), name__regex=COSIGN_TAG.pattern))
    return queryset.exclude(subject_digest__gt="").exclude(cosign)


def _with_counts(queryset: QuerySet[Repository]) -> QuerySet[Repository]:
    counted = (
        artifact_listable(Artifact.objects.filter(repository_id=OuterRef("pk")))
        .order_by()
        .values("repository_id")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return queryset.annotate(
        artifact_count=Coalesce(Subquery(counted, output_field=IntegerField()), Value(0)),
    )


def repository_list_visible(*, principal: Principal) -> QuerySet[Repository]:
    """Repositories of every project the principal may read (listAllRepositories)."""
    visible = project_visible(principal=principal).values("pk")
    return _with_counts(Repository.objects.filter(project__in=visible))


def repository_list(*, project: Project) -> QuerySet[Repository]:
    """Repositories of one project, with their artifact counts."""
    return _with_counts(Repository.objects.filter(project=project))


def repository_get(*, project: Project, name: str, counted: bool = False) -> Repository:
    """The repository `<project>/<name>` (`counted`: with its artifact count); NOT_FOUND otherwise."""
    queryset = repository_list(project=project) if counted else Repository.objects.filter(project=project)
    repository = queryset.filter(name=f"{project.name}/{name}").first()
    if repository is None:
        raise NotFound(f"repository {project.name}/{name} not found")
    return repository
