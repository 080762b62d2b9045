"""Reads for the /v2/ routes: few queries, plain values."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import connection
from django.db.models import Case, CharField, Exists, F, OuterRef, Q, QuerySet, Value, When
from django.db.models.functions import Collate

from projects.permissions import Principal
from projects.selectors import project_visible
from registry import artifact_types as types
from registry.artifact_types import cosign_tag
from registry.digest import Digest
from registry.errors import BlobUnknown, ManifestUnknown, NameUnknown
from registry.models import Artifact, Repository, Tag


@dataclass(frozen=True, slots=True)
class StoredManifest:
    digest: str
    media_type: str
    content: bytes
    artifact_id: int
    repository_id: int
    project_id: int


def _bytewise(field: str) -> Collate | F:
    # dist-spec: tags and catalog are in lexical (byte) order; PostgreSQL's default collation isn't.
    return Collate(field, "C") if connection.vendor == "postgresql" else F(field)


def repository_exists(*, name: str) -> bool:
    return Repository.objects.filter(name=name).exists()


def _require_repository(name: str) -> None:
    if not repository_exists(name=name):
        raise NameUnknown(detail={"name": name})


# The hottest reads are written as fixed SQL: building the equivalent ORM query costs more
# than running it (about 1 ms per request), and these run on every pull.
_MANIFEST_BY_TAG = (
    "SELECT a.digest, a.media_type, a.manifest, a.id, a.repository_id, r.project_id FROM registry_tag t"
    " JOIN registry_repository r ON r.id = t.repository_id"
    " JOIN registry_artifact a ON a.id = t.artifact_id"
    " WHERE r.name = %s AND t.name = %s"
)
_MANIFEST_BY_DIGEST = (
    "SELECT a.digest, a.media_type, a.manifest, a.id, a.repository_id, r.project_id FROM registry_artifact a"
    " JOIN registry_repository r ON r.id = a.repository_id"
    " WHERE r.name = %s AND a.digest = %s"
)
_BLOB_SIZE = (
    "SELECT b.size FROM registry_blob b"
    " JOIN registry_repositoryblob rb ON rb.blob_id = b.id"
    " JOIN registry_repository r ON r.id = rb.repository_id"
    " WHERE r.name = %s AND b.digest = %s"
)


def _one_row(sql: str, params: tuple) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def manifest_get(*, repository_name: str, reference: str) -> StoredManifest:
    """The stored manifest for a tag or digest (one query on a hit)."""
    if Digest.is_digest(reference):
        row = _one_row(_MANIFEST_BY_DIGEST, (repository_name, str(Digest.parse(reference))))
    else:
        row = _one_row(_MANIFEST_BY_TAG, (repository_name, reference))
    if row is None:
        _require_repository(repository_name)
        raise ManifestUnknown(detail={"reference": reference[:200]})
    return StoredManifest(row[0], row[1], bytes(row[2]), row[3], row[4], row[5])


def blob_size_get(*, repository_name: str, digest: Digest) -> int:
    """Size of a blob readable in the repository; BLOB_UNKNOWN otherwise."""
    row = _one_row(_BLOB_SIZE, (repository_name, str(digest)))
    if row is None:
        raise BlobUnknown(detail={"digest": str(digest)})
    return int(row[0])


def _comparable(last: str | None) -> str | None:
    """`last` cut at its first NUL, which PostgreSQL text can't hold. Names and tags never contain
    NUL (their grammars start above it), so `name > last` selects exactly the same rows after the cut."""
    return last.split("\x00", 1)[0] if last else last


def _page(names, limit: int | None) -> tuple[list[str], bool]:  # noqa: ANN001 - a values_list queryset
    """One page of names and whether more follow (one extra row fetched, never a second query)."""
    if limit is None:
        return list(names), False
    if limit == 0:  # dist-spec: `n=0` is an empty page, with no next page announced
        return [], False
    rows = list(names[: limit + 1])
    return rows[:limit], len(rows) > limit


def tag_names(*, repository_name: str, last: str | None, limit: int | None) -> tuple[list[str], bool]:
    """Tag names after `last` in lexical order, at most `limit`; and whether more follow."""
    queryset = Tag.objects.filter(repository__name=repository_name).alias(key=_bytewise("name"))
    if last := _comparable(last):
        queryset = queryset.filter(key__gt=last)
    result, more = _page(queryset.order_by("key").values_list("name", flat=True), limit)
    if not result:
        # dist-spec: an unknown repository is NAME_UNKNOWN on every page, `last` or not.
        _require_repository(repository_name)
    return result, more


def visible_repositories(*, principal: Principal):  # noqa: ANN201 - a queryset
    """Repositories the principal may see: all for sysadmins, else public and member projects."""
    queryset = Repository.objects.all()
    if principal.is_sysadmin:
        return queryset
    return queryset.filter(project__in=project_visible(principal=principal).values("pk"))


def catalog_names(*, principal: Principal, last: str | None, limit: int | None) -> tuple[list[str], bool]:
    """Repository names the principal may see after `last`, at most `limit`; and whether more follow."""
    queryset = visible_repositories(principal=principal).alias(key=_bytewise("name"))
    if last := _comparable(last):
        queryset = queryset.filter(key__gt=last)
    return _page(queryset.order_by("key").values_list("name", flat=True), limit)


def referrers(*, repository_name: str, digest: Digest, artifact_type: str | None) -> list[dict]:
    """Descriptors of the manifests in the repository whose subject is `digest`."""
    _require_repository(repository_name)
    if artifact_type and "\x00" in artifact_type:
        return []  # no stored artifactType holds NUL (manifests carrying one are refused)
    queryset = Artifact.objects.filter(repository__name=repository_name, subject_digest=str(digest))
    if artifact_type:
        queryset = queryset.filter(artifact_type=artifact_type)
    result = []
    for row in queryset.order_by("push_time", "pk").values(
        "digest", "media_type", "manifest_size", "artifact_type", "annotations"
    ):
        descriptor = {"mediaType": row["media_type"], "digest": row["digest"], "size": row["manifest_size"]}
        if row["artifact_type"]:
            descriptor["artifactType"] = row["artifact_type"]
        if row["annotations"]:
            descriptor["annotations"] = row["annotations"]
        result.append(descriptor)
    return result


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
