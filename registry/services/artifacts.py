"""API writes on repositories, artifacts and tags: update, delete (deeply), copy across projects, tag, label.

Every write that moves or removes tags asks the registry's gates (`registry/gates.py`, through
`_gates_ask`): the tag immutability rules (policies app) plug in there, and a refusal is PRECONDITION.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from audit.services import audit_record
from common.api.errors import BadRequest, Conflict, Forbidden, NotFound, Precondition
from registry.digest import Digest
from registry.errors import GateRefusal, ManifestInvalid
from registry.gates import DELETE, PUSH, gates_check, gates_held
from registry.models import (
    Artifact,
    ArtifactBlob,
    ArtifactLabel,
    ArtifactReference,
    Label,
    Repository,
    RepositoryBlob,
    Tag,
)
from registry.names import RepositoryName, tag_validate
from registry.quotas import quota_release_unlinked
from registry.selectors import accessory_list
from registry.services.blobs import blob_digests_lock, blob_mount
from registry.services.records import (
    artifact_deleted_record,
    artifact_pushed_record,
    artifacts_deleted_record,
    tag_created_record,
    tag_deleted_record,
)
from registry.services.repositories import repository_ensure

# Harbor stores descriptions HTML-escaped (Go's template.HTMLEscapeString).
_HTML_ESCAPES = str.maketrans({"&": "&amp;", "'": "&#39;", '"': "&#34;", "<": "&lt;", ">": "&gt;", "\0": "\ufffd"})


def _gates_ask(
    *, action: str, repository: Repository, names: Iterable[str], operation: str, digest: str = ""
) -> frozenset[str]:
    """Ask the gates of `action` (a tag move is a push); a refusal is PRECONDITION with the gate's reason."""
    try:
        return gates_check(
            action=action,
            project_id=repository.project_id,
            repository_name=repository.name,
            tags=names,
            digest=digest,
            operation=operation,
        )
    except GateRefusal as exc:
        raise Precondition(exc.message) from exc


def repository_update(*, repository: Repository, description: str) -> Repository:
    """Set a repository's description (stored HTML-escaped, as Harbor does)."""
    repository.description = description.translate(_HTML_ESCAPES)
    repository.save(update_fields=["description", "updated"])
    return repository


def repository_delete(*, repository: Repository) -> None:
    """Delete a repository with all its artifacts and tags, releasing its blobs from the project's quota."""
    with transaction.atomic():
        locked = _repository_lock_with_digests(repository)
        names = Tag.objects.filter(repository=locked).values_list("name", flat=True)
        _gates_ask(action=DELETE, repository=locked, names=names, operation=f"delete repository {locked.name}")
        blob_ids = list(RepositoryBlob.objects.filter(repository=locked).values_list("blob_id", flat=True))
        # Index children are protected while referenced: drop the references first.
        ArtifactReference.objects.filter(parent__repository=locked).delete()
        Artifact.objects.filter(repository=locked).delete()  # tags, blob refs and labels go with them
        locked.delete()
        quota_release_unlinked(project_id=locked.project_id, blob_ids=blob_ids)
        audit_record(operation="delete", resource_type="repository", resource=locked.name, project_id=locked.project_id)


def _linked_digests(repository_id: int) -> set[str]:
    return set(RepositoryBlob.objects.filter(repository_id=repository_id).values_list("blob__digest", flat=True))


def _repository_lock_with_digests(repository: Repository) -> Repository:
    """Lock the digests of the repository's blobs, then its row (in the caller's transaction).

    The digests first: a push holds its digest's lock and then needs the repository row to link the
    blob, so the other order could deadlock. Links made between the first read and the row lock
    (their pushes have committed; none can start now) are locked after it: their holders are pushes
    into other repositories, which never wait for this row."""
    digests = _linked_digests(repository.pk)
    blob_digests_lock(sorted(digests))
    locked = Repository.objects.select_for_update().filter(pk=repository.pk).first()
    if locked is None:
        raise NotFound(f"repository {repository.name} not found")
    blob_digests_lock(sorted(_linked_digests(locked.pk) - digests))
    return locked


def _delete_deeply(artifact: Artifact, *, root: bool, seen: set[int]) -> None:
    """Harbor's deleteDeeply: the artifact, its accessories, and index children nothing else holds."""
    if artifact.pk in seen:
        return
    seen.add(artifact.pk)
    tags = list(artifact.tags.values_list("name", flat=True))
    if not root and (tags or artifact.parents.exists()):
        return  # a child still tagged or in another index stays
    _gates_ask(
        action=DELETE,
        repository=artifact.repository,
        names=tags,
        operation=f"delete {artifact.digest}",
        digest=artifact.digest,
    )
    for accessory in accessory_list(artifact=artifact):
        if not accessory.parents.exists():
            _delete_deeply(accessory, root=True, seen=seen)
    children = [ref.child for ref in ArtifactReference.objects.filter(parent=artifact).select_related("child")]
    ArtifactReference.objects.filter(parent=artifact).delete()
    for child in children:
        child.repository = artifact.repository
        _delete_deeply(child, root=False, seen=seen)
    artifact.delete()


def artifact_delete(*, artifact: Artifact) -> None:
    """Delete an artifact with its tags, accessories and unshared index children; PRECONDITION if in an index."""
    with transaction.atomic():
        locked = (
            Artifact.objects.select_for_update(of=("self", "repository"))
            .select_related("repository__project")
            .filter(pk=artifact.pk)
            .first()
        )
        if locked is None:
            raise NotFound(f"artifact {artifact.digest} not found")
        if locked.parents.exists():
            raise Precondition(f"{locked.digest} is referenced by an index; delete the index first")
        # Recorded first: deleting clears the instance's pk; an immutable tag below rolls both back.
        artifact_deleted_record(artifact=locked, tags=list(locked.tags.values_list("name", flat=True)))
        _delete_deeply(locked, root=True, seen=set())
        Repository.objects.filter(pk=locked.repository_id).update(updated=timezone.now())


def artifacts_delete_simple(*, repository: Repository, artifact_ids: list[int]) -> set[int]:
    """Delete, set-wise, the artifacts among `artifact_ids` that stand alone; returns the ids deleted.

    Standing alone: in no index, with no index children, no accessories (referrers or cosign
    signature tags) and no immutable tag. Those are exactly the cases `artifact_delete` walks
    one by one; the caller deletes whatever is not returned through it (retention: thousands of
    plain image manifests in a few statements instead of ~18 queries each).
    """
    from registry.artifact_types import cosign_tag

    with transaction.atomic():
        # Lock order repository -> artifacts, as pushes and GC take them.
        list(Repository.objects.select_for_update().filter(pk=repository.pk).values_list("pk"))
        artifacts = list(
            Artifact.objects.filter(repository=repository, pk__in=artifact_ids).only(
                "pk", "digest", "media_type", "size", "repository_id"
            )
        )
        ids = {a.pk for a in artifacts}
        linked = set(
            ArtifactReference.objects.filter(Q(parent_id__in=ids) | Q(child_id__in=ids))
            .values_list("parent_id", "child_id")
            .distinct()
        )
        busy = {pk for pair in linked for pk in pair} & ids
        digests = {a.digest: a.pk for a in artifacts}
        busy |= {
            digests[d]
            for d in Artifact.objects.filter(repository=repository, subject_digest__in=list(digests)).values_list(
                "subject_digest", flat=True
            )
            if d in digests
        }
        tags: dict[int, list[str]] = {pk: [] for pk in ids}
        for artifact_id, name in Tag.objects.filter(artifact_id__in=ids).values_list("artifact_id", "name"):
            tags[artifact_id].append(name)
        signatures = {cosign_tag(d): pk for d, pk in digests.items()}
        busy |= {
            signatures[n]
            for n in Tag.objects.filter(repository=repository, name__in=list(signatures)).values_list("name", flat=True)
        }
        protected = gates_held(
            action=DELETE,
            project_id=repository.project_id,
            repository_name=repository.name,
            tags={n for pk in ids - busy for n in tags[pk]},
        )
        busy |= {pk for pk in ids if protected.intersection(tags[pk])}
        doomed = [a for a in artifacts if a.pk not in busy]
        if not doomed:
            return set()
        artifacts_deleted_record(repository=repository, deleted=[(a, sorted(tags[a.pk])) for a in doomed])
        Artifact.objects.filter(pk__in=[a.pk for a in doomed]).delete()
        Repository.objects.filter(pk=repository.pk).update(updated=timezone.now())
    return {a.pk for a in doomed}


def _tags_move(*, repository: Repository, artifact: Artifact, names: list[str]) -> None:
    """Point tags of the repository at the artifact (creating them), unless one is immutable."""
    moving = set(
        Tag.objects.filter(repository=repository, name__in=names)
        .exclude(artifact=artifact)
        .values_list("name", flat=True)
    )
    held = _gates_ask(
        action=PUSH, repository=repository, names=moving, operation="overwrite tags", digest=artifact.digest
    )
    if held:  # a held tag is never moved
        first = min(held)
        raise Precondition(f"the tag {first} is immutable and cannot be overwritten in {repository.name}")
    for name in names:
        Tag.objects.update_or_create(repository=repository, name=name, defaults={"artifact": artifact})


def _copy_deeply(source: Artifact, target: Repository, *, seen: dict[int, Artifact]) -> Artifact:
    """Copy one artifact (children and accessories first) into the target repository, with its tags."""
    if source.pk in seen:
        return seen[source.pk]
    copied = Artifact.objects.filter(repository=target, digest=source.digest).first()
    if copied is None:
        children = list(ArtifactReference.objects.filter(parent=source).select_related("child__repository"))
        copies = [(_copy_deeply(ref.child, target, seen=seen), ref.platform) for ref in children]
        blobs = list(ArtifactBlob.objects.filter(artifact=source).values_list("blob_id", "blob__digest"))
        for _pk, digest in blobs:
            # Through the blob service, so the target project's quota is charged like a cross-repository mount.
            if blob_mount(digest=Digest.parse(digest), source=source.repository.name, repository=target) is None:
                raise NotFound(f"blob {digest} of {source.digest} is missing from {source.repository.name}")
        try:
            with transaction.atomic():
                copied = Artifact.objects.create(
                    repository=target,
                    digest=source.digest,
                    media_type=source.media_type,
                    artifact_type=source.artifact_type,
                    manifest=bytes(source.manifest),
                    manifest_size=source.manifest_size,
                    size=source.size,
                    subject_digest=source.subject_digest,
                    annotations=source.annotations,
                    extra_attrs=source.extra_attrs,
                )
        except IntegrityError:  # pushed or copied there concurrently: the same content, keep theirs
            copied = Artifact.objects.get(repository=target, digest=source.digest)
        else:
            ArtifactBlob.objects.bulk_create([ArtifactBlob(artifact=copied, blob_id=pk) for pk, _d in blobs])
            ArtifactReference.objects.bulk_create(
                [ArtifactReference(parent=copied, child=child, platform=platform) for child, platform in copies]
            )
    seen[source.pk] = copied
    _tags_move(repository=target, artifact=copied, names=list(source.tags.values_list("name", flat=True)))
    for accessory in accessory_list(artifact=source):
        _copy_deeply(accessory, target, seen=seen)
    return copied


def artifact_copy(*, source: Artifact, target: RepositoryName) -> Artifact:
    """Copy an artifact (its index children, accessories and tags) into another repository, creating it."""
    if source.subject_digest:
        raise Forbidden("the operation isn't supported for an artifact accessory")
    with transaction.atomic():
        repository = repository_ensure(name=target)
        copied = _copy_deeply(source, repository, seen={})
        Repository.objects.filter(pk=repository.pk).update(updated=timezone.now())
        # Harbor fires a push event for the copied root (so audit, webhooks and replication see it).
        tags = list(source.tags.values_list("name", flat=True))
        artifact_pushed_record(repository=repository, artifact=copied, tags=tags)
    return copied


def tag_create(*, artifact: Artifact, name: str) -> Tag:
    """Attach a new tag to the artifact; CONFLICT if the repository already has that tag."""
    try:
        tag_validate(name)
    except ManifestInvalid as exc:
        raise BadRequest(f"invalid tag name {name[:200]!r}") from exc
    try:
        with transaction.atomic():
            tag = Tag.objects.create(repository_id=artifact.repository_id, artifact=artifact, name=name)
            tag_created_record(tag=tag, repository=artifact.repository, artifact=artifact)
            return tag
    except IntegrityError as exc:
        raise Conflict(f"tag {name} already exists in {artifact.repository.name}") from exc


def tag_delete(*, artifact: Artifact, name: str) -> None:
    """Remove a tag attached to the artifact; NOT_FOUND when the artifact has no such tag."""
    with transaction.atomic():
        tag = Tag.objects.select_for_update().filter(artifact=artifact, name=name).first()
        if tag is None:
            raise NotFound(f"tag {name} attached to artifact {artifact.pk} not found")
        _gates_ask(
            action=DELETE,
            repository=artifact.repository,
            names=[name],
            operation=f"delete tag {name}",
            digest=artifact.digest,
        )
        tag_deleted_record(tag=tag, repository=artifact.repository, artifact=artifact)
        tag.delete()


def artifact_label_add(*, artifact: Artifact, label: Label) -> None:
    """Add a label to an artifact; CONFLICT if it is already there."""
    try:
        with transaction.atomic():
            ArtifactLabel.objects.create(artifact=artifact, label=label)
    except IntegrityError as exc:
        raise Conflict(f"label {label.pk} is already added to the artifact {artifact.pk}") from exc


def artifact_label_remove(*, artifact: Artifact, label_id: int) -> None:
    """Remove a label from an artifact; NOT_FOUND if it isn't there."""
    deleted, _ = ArtifactLabel.objects.filter(artifact=artifact, label_id=label_id).delete()
    if not deleted:
        raise NotFound(f"label {label_id} is not added to the artifact {artifact.pk}")
