"""Manifest push and delete: validation against the repository, artifacts, tags."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.conf import settings
from django.db import IntegrityError, connection, transaction

from registry.digest import Digest
from registry.errors import (
    Denied,
    DigestInvalid,
    ManifestBlobUnknown,
    ManifestInvalid,
    ManifestUnknown,
    TagImmutable,
)
from registry.gates import DELETE, PUSH, gates_check
from registry.manifests import Manifest, manifest_parse
from registry.models import Artifact, ArtifactBlob, ArtifactReference, Blob, Repository, Tag
from registry.names import tag_validate
from registry.services.records import artifact_deleted_record, artifact_pushed_record, tag_deleted_record


@dataclass(frozen=True)
class PushedManifest:
    artifact: Artifact
    digest: Digest
    manifest: Manifest


def _referenced_blobs(repository: Repository, manifest: Manifest) -> list[tuple[int, int]]:
    """(id, size) of every blob the manifest needs, all linked to the repository."""
    wanted = {str(d.digest): d for d in manifest.blobs}
    if not wanted:
        return []
    found = {
        digest: (pk, size)
        for pk, digest, size in Blob.objects.filter(
            digest__in=list(wanted), repository_links__repository=repository
        ).values_list("pk", "digest", "size")
    }
    for digest, descriptor in wanted.items():
        if digest not in found:
            raise ManifestBlobUnknown(f"blob {digest} is not in {repository.name}", detail={"digest": digest})
        if found[digest][1] != descriptor.size:
            raise ManifestInvalid(
                f"descriptor size {descriptor.size} of {digest} does not match the blob ({found[digest][1]})"
            )
    return list(found.values())


def _referenced_children(repository: Repository, manifest: Manifest) -> list[tuple[Artifact, dict | None]]:
    wanted = {str(d.digest): d for d in manifest.manifests}
    if not wanted:
        return []
    found = {
        a.digest: a
        for a in Artifact.objects.filter(repository=repository, digest__in=list(wanted)).only("pk", "digest", "size")
    }
    missing = [d for d in wanted if d not in found]
    if missing:
        raise ManifestBlobUnknown(f"manifest {missing[0]} is not in {repository.name}", detail={"digest": missing[0]})
    return [(found[d], wanted[d].platform) for d in wanted]


def _tags_point(repository: Repository, tags: list[str], protected: frozenset[str], artifact: Artifact) -> None:
    """Point the tags at the artifact; a protected tag (held by a push gate) is only ever created, never moved.

    The gates' check before the transaction cannot see a concurrent push creating the same protected
    tag: get_or_create waits on the unique (repository, name) index for that push to commit,
    then finds its row, and a row pointing elsewhere refuses this push (rolling it back).
    """
    for tag in tags:
        if tag in protected:
            row, _created = Tag.objects.get_or_create(repository=repository, name=tag, defaults={"artifact": artifact})
            if row.artifact_id != artifact.pk:
                raise TagImmutable(
                    f"the tag {tag} is immutable and cannot be overwritten in {repository.name}", detail={"tag": tag}
                )
        else:
            Tag.objects.update_or_create(repository=repository, name=tag, defaults={"artifact": artifact})


def _artifact_create(
    *,
    repository: Repository,
    digest: Digest,
    manifest: Manifest,
    body: bytes,
    size: int,
    subject: str,
    blobs: list[tuple[int, int]],
    children: list[tuple[Artifact, dict | None]],
) -> Artifact:
    """Create the artifact with its blob and child links (in a savepoint of the push's transaction)."""
    try:
        with transaction.atomic():
            artifact = Artifact.objects.create(
                repository=repository,
                digest=str(digest),
                media_type=manifest.media_type,
                artifact_type=manifest.effective_artifact_type,
                manifest=body,
                manifest_size=len(body),
                size=size,
                subject_digest=subject,
                annotations=manifest.annotations,
            )
            ArtifactBlob.objects.bulk_create(
                [ArtifactBlob(artifact=artifact, blob_id=pk) for pk, _size in blobs], ignore_conflicts=True
            )
            ArtifactReference.objects.bulk_create(
                [ArtifactReference(parent=artifact, child=child, platform=p) for child, p in children],
                ignore_conflicts=True,
            )
    except IntegrityError:
        existing = Artifact.objects.filter(repository=repository, digest=str(digest)).first()
        if existing is not None:  # the same manifest pushed concurrently
            return existing
        # A blob was deleted from the repository and swept between our check and our insert:
        # the client pushes it again (dist-spec: MANIFEST_BLOB_UNKNOWN), nothing was written.
        raise ManifestBlobUnknown(f"a blob of {digest} left {repository.name} during the push") from None
    return artifact


def manifest_push(
    *, repository: Repository, reference: str, body: bytes, content_type: str | None, tags: list[str]
) -> PushedManifest:
    """Validate and store a manifest under a tag or digest, plus any extra `?tag=` tags."""
    manifest = manifest_parse(body, content_type=content_type, max_size=settings.MAX_MANIFEST_SIZE)
    if Digest.is_digest(reference):
        expected = Digest.parse(reference)
        actual = Digest(expected.algorithm, hashlib.new(expected.algorithm, body).hexdigest())
        if actual != expected:
            raise DigestInvalid(detail={"expected": str(expected), "actual": str(actual)})
        digest = expected
    else:
        tags = [reference, *tags]
        digest = Digest.of(body)
    tags = list(dict.fromkeys(tag_validate(t) for t in tags))
    # The push gates (tag immutability: one query for a tagged push) refuse moving a protected tag,
    # and name the tags that must be created without moving (see `_tags_point`).
    protected = gates_check(
        action=PUSH,
        project_id=repository.project_id,
        repository_name=repository.name,
        tags=tags,
        digest=str(digest),
        operation="overwrite tags",
    )

    subject = str(manifest.subject.digest) if manifest.subject else ""

    with transaction.atomic():
        # Lock order repository -> artifacts, as GC and repository deletion take them: GC cannot
        # delete an untagged artifact we are tagging, or an index child we reference, between our
        # lookups below and our commit.
        # (SQLite has no row locks: its IMMEDIATE transactions already run one writer at a time.)
        if connection.features.has_select_for_update:
            list(Repository.objects.select_for_update(no_key=True).filter(pk=repository.pk).values_list("pk"))
        blobs = _referenced_blobs(repository, manifest)
        children = _referenced_children(repository, manifest)
        size = len(body) + sum(size for _pk, size in blobs) + sum(child.size for child, _p in children)
        artifact = Artifact.objects.filter(repository=repository, digest=str(digest)).first()
        if artifact is None:
            artifact = _artifact_create(
                repository=repository,
                digest=digest,
                manifest=manifest,
                body=body,
                size=size,
                subject=subject,
                blobs=blobs,
                children=children,
            )
        _tags_point(repository, tags, protected, artifact)
        Repository.objects.filter(pk=repository.pk).update(updated=artifact.push_time)
        artifact_pushed_record(repository=repository, artifact=artifact, tags=tags)
    return PushedManifest(artifact=artifact, digest=digest, manifest=manifest)


def manifest_delete(*, repository_name: str, reference: str) -> None:
    """By digest: delete the artifact and its tags. By tag: delete only the tag."""
    if Digest.is_digest(reference):
        digest = Digest.parse(reference)
        with transaction.atomic():
            artifact = (
                Artifact.objects.select_related("repository__project")
                .filter(repository__name=repository_name, digest=str(digest))
                .first()
            )
            if artifact is None:
                raise ManifestUnknown(detail={"digest": str(digest)})
            if artifact.parents.exists():
                raise Denied(f"{digest} is referenced by an index in {repository_name}; delete the index first")
            tags = list(artifact.tags.values_list("name", flat=True))
            gates_check(
                action=DELETE,
                project_id=artifact.repository.project_id,
                repository_name=repository_name,
                tags=tags,
                digest=str(digest),
                operation=f"delete {digest}",
            )
            artifact_deleted_record(artifact=artifact, tags=tags)
            artifact.delete()
        return
    with transaction.atomic():
        tag = (
            Tag.objects.select_related("repository__project", "artifact")
            .filter(repository__name=repository_name, name=reference)
            .first()
        )
        if tag is None:
            raise ManifestUnknown(detail={"tag": reference})
        gates_check(
            action=DELETE,
            project_id=tag.repository.project_id,
            repository_name=repository_name,
            tags=[reference],
            digest=tag.artifact.digest,
            operation="delete it",
        )
        tag_deleted_record(tag=tag, repository=tag.repository, artifact=tag.artifact)
        tag.delete()
