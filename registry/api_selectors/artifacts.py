"""Artifacts, tags and accessories of one repository, looked up the way Harbor's API does."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import QuerySet

from common.api.errors import BadRequest, NotFound
from registry.api_selectors.repositories import artifact_listable
from registry.digest import Digest
from registry.errors import DigestInvalid, ManifestInvalid
from registry.gates import DELETE, gates_held
from registry.models import Artifact, Repository, Tag
from registry.names import tag_validate


def artifact_list(*, repository: Repository, base: bool = False) -> QuerySet[Artifact]:
    """The repository's artifacts as listArtifacts shows them (`base`: index children too)."""
    queryset = Artifact.objects.filter(repository=repository).select_related("repository")
    return artifact_listable(queryset, base=base)


def reference_parse(reference: str) -> tuple[str, str]:
    """("digest", value) or ("tag", value); BAD_REQUEST for anything that is neither."""
    try:
        if Digest.is_digest(reference):
            return "digest", str(Digest.parse(reference))
        return "tag", tag_validate(reference)
    except (DigestInvalid, ManifestInvalid) as exc:
        raise BadRequest(f"invalid reference {reference[:200]!r}: {exc.message}") from exc


def artifact_get(*, repository: Repository, reference: str) -> Artifact:
    """The artifact a tag or digest names in the repository; NOT_FOUND otherwise."""
    kind, value = reference_parse(reference)
    queryset = Artifact.objects.select_related("repository")
    if kind == "digest":
        artifact = queryset.filter(repository=repository, digest=value).first()
    else:
        artifact = queryset.filter(repository=repository, tags__name=value).first()
    if artifact is None:
        raise NotFound(f"artifact {repository.name}:{reference[:200]} not found")
    return artifact


def tag_list(*, artifact: Artifact) -> QuerySet[Tag]:
    """The tags attached to the artifact."""
    return Tag.objects.filter(artifact=artifact)


def tags_immutable(*, repository: Repository, names: Iterable[str]) -> frozenset[str]:
    """The names among `names` that the delete gates hold in the repository: the API's `immutable` flag.

    The tag immutability rules plug in as a gate (policies/gates.py): one query for the project's
    enabled rules, none when `names` is empty or no gate is registered.
    """
    return gates_held(action=DELETE, project_id=repository.project_id, repository_name=repository.name, tags=names)
