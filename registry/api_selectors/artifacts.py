"""Artifacts, tags and accessories of one repository, looked up the way Harbor's API does."""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import Case, CharField, Exists, OuterRef, Q, QuerySet, Value, When

from common.api.errors import BadRequest, NotFound
from policies.selectors import immutable_tags
from registry import artifact_types as types
from registry.api_selectors.repositories import artifact_listable
from registry.artifact_types import cosign_tag
from registry.digest import Digest
from registry.errors import DigestInvalid, ManifestInvalid
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


COSIGN_TYPES = [types.COSIGN_SIGNATURE, types.SIGSTORE_BUNDLE]


def accessory_list(*, artifact: Artifact) -> QuerySet[Artifact]:
    """Artifacts attached to `artifact` (its referrers, and a cosign signature tagged after its digest).

    Each carries `accessory_type`, Harbor's accessory type as far as the columns tell it (so that
    `q=type=...` can filter in SQL).
    """
    signature = Exists(Tag.objects.filter(artifact_id=OuterRef("pk"), name=cosign_tag(artifact.digest)))
    return (
        Artifact.objects.filter(repository_id=artifact.repository_id)
        .filter(Q(subject_digest=artifact.digest) | Q(signature))
        .exclude(pk=artifact.pk)
        .select_related("repository")
        .annotate(
            accessory_type=Case(
                When(artifact_type=types.NOTATION_SIGNATURE, then=Value(types.ACCESSORY_NOTATION)),
                When(
                    artifact_type__in=[types.COSIGN_SIGNATURE, types.SIGSTORE_BUNDLE],
                    then=Value(types.ACCESSORY_COSIGN),
                ),
                When(signature, then=Value(types.ACCESSORY_COSIGN)),
                When(artifact_type=types.HARBOR_SBOM, then=Value(types.ACCESSORY_HARBOR_SBOM)),
                default=Value(types.ACCESSORY_SUBJECT),
                output_field=CharField(),
            )
        )
    )


def tag_list(*, artifact: Artifact) -> QuerySet[Tag]:
    """The tags attached to the artifact."""
    return Tag.objects.filter(artifact=artifact)


def tags_immutable(*, repository: Repository, names: Iterable[str]) -> frozenset[str]:
    """The names among `names` that a tag immutability rule protects in the repository.

    The single seam for tag immutability: every API write that moves or removes a tag asks this
    (through registry.services.artifacts.immutability_check) and listings show its answer. The rules
    live in the policies app (one query for the project's enabled rules; none when `names` is empty).
    """
    return frozenset(immutable_tags(repository=repository, names=names))
