"""Manifest push and delete: validation against the repository, artifacts, tags."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.db import connection, models, transaction
from django.db.models import DEFERRED, Value
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from projects.models import Project
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
from registry.names import RepositoryName, tag_validate
from registry.services.records import artifact_deleted_record, artifact_pushed_record, tag_deleted_record
from registry.services.repositories import repository_ensure


@dataclass(frozen=True)
class PushedManifest:
    artifact: Artifact
    digest: Digest
    manifest: Manifest


# The push is a handful of statements, one round trip each, in one transaction (the query budgets of
# tests/test_push_path_queries.py): lock (shared) and look the repository up, look up the blobs,
# children and artifact, insert the artifact (and, on PostgreSQL, its blob links in the same
# statement), upsert the tags, write the audit record; after the commit, the repository's `updated`.
# Raw SQL where the ORM has no single statement for it (SELECT ... FOR KEY SHARE OF, INSERT ... ON
# CONFLICT DO NOTHING RETURNING, data-modifying CTEs); it is portable between PostgreSQL and
# SQLite >= 3.35 except where `_postgresql()` says otherwise.


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


def _row(model: type[models.Model], **values: object) -> tuple[str, str, list]:
    """Columns, placeholders and parameters of one row of `model` for a raw INSERT (values prepared by the fields)."""
    fields = [model._meta.get_field(name) for name in values]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    params = [f.get_db_prep_save(value, connection) for f, value in zip(fields, values.values(), strict=True)]
    return columns, ", ".join(["%s"] * len(fields)), params


def _loaded(model: type[models.Model], **values: object) -> models.Model:
    """An instance of a row this push read or wrote; the fields not given load on first access."""
    fields = model._meta.concrete_fields
    return model.from_db(
        connection.alias, [f.attname for f in fields], [values.get(f.attname, DEFERRED) for f in fields]
    )


def _datetime(value: datetime | str) -> datetime:
    # SQLite hands a raw cursor the stored value as naive UTC (text, or a datetime by its converter).
    parsed = value if isinstance(value, datetime) else parse_datetime(value)
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, UTC)


def _repository_lock(*, name: str) -> tuple[Repository, int] | None:
    """Lock the repository (shared) and read it with its project's policy revision, in one statement.

    FOR KEY SHARE: pushes into the repository do not wait for each other (their writes meet only on
    unique indexes: artifact, tag), while the writers that remove what a push refers to take the row
    FOR UPDATE first (GC deleting an untagged artifact or index child, artifact and repository
    deletion), so they and a push run one after the other, in the lock order repository, then its
    artifacts. The lookups are later statements, with snapshots taken once the lock is held: the
    subqueries of this one would see the rows as they were when it started, before it waited for
    the lock. SQLite has no row locks: its IMMEDIATE transactions already run one writer at a time.

    The project's policy revision keys the gates' and webhook subscribers' caches (GateRequest,
    Event.policy_revision). On PostgreSQL it is read FOR KEY SHARE: a policy write locks the project
    FOR UPDATE before it bumps the revision (projects.services.project_policies_changed), so it
    either commits before this read (which then waits for it and reads the new revision) or waits
    for this push to commit. The push's gates and events thus see every policy committed before it.
    """
    key_share = " FOR KEY SHARE" if _postgresql() else ""
    project = "FROM projects_project WHERE projects_project.id = registry_repository.project_id"
    sql = (
        "SELECT id, project_id, created, updated,"
        f" (SELECT policy_revision {project}{key_share}),"
        # The project's visibility, for the event's repo_type (else the webhook fan-out looks it up).
        f" (SELECT public {project})"
        f" FROM registry_repository WHERE name = %s{' FOR KEY SHARE OF registry_repository' if key_share else ''}"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [name])
        row = cursor.fetchone()
    if row is None:
        return None
    pk, project_id, created, updated, revision, public = row
    repository = _loaded(
        Repository, id=pk, project_id=project_id, name=name, created=_datetime(created), updated=_datetime(updated)
    )
    repository.project = _loaded(Project, id=project_id, public=bool(public))
    return repository, revision


def _repository_touch(*, repository: Repository, now: datetime) -> None:
    """Move the repository's `updated` on to this push, after its commit, unless a later push did already.

    Not in the push's transaction: updating the row there would upgrade the push's shared lock, and
    two pushes upgrading while GC waits for the row could deadlock. One statement of its own (the row
    is locked only while it runs); a process that dies before it leaves a stale time, never data."""
    with connection.cursor() as cursor:
        value = connection.ops.adapt_datetimefield_value(now)
        cursor.execute(
            "UPDATE registry_repository SET updated = %s WHERE id = %s AND updated < %s", [value, repository.pk, value]
        )
    repository.updated = max(repository.updated, now)


@dataclass(frozen=True)
class _Known:
    """What the manifest refers to, as the repository holds it: blobs, index children, and the artifact itself."""

    blobs: list[tuple[int, int]]  # (id, size) of every blob the manifest needs
    children: list[tuple[Artifact, dict | None]]  # index children, with their platform
    artifact: Artifact | None  # the manifest's own artifact, if the repository has it already


def _known(repository: Repository, digest: Digest, manifest: Manifest) -> _Known:
    """Look up the manifest's blobs (linked to the repository), index children and own artifact: one query."""
    wanted_blobs = {str(d.digest): d for d in manifest.blobs}
    wanted_children = {str(d.digest): d for d in manifest.manifests}
    rows = Artifact.objects.filter(repository=repository, digest__in=[str(digest), *wanted_children]).values_list(
        Value("a"), "pk", "digest", "size", "media_type"
    )
    if wanted_blobs:
        blobs = Blob.objects.filter(digest__in=list(wanted_blobs), repository_links__repository=repository)
        rows = blobs.values_list(Value("b"), "pk", "digest", "size", Value("")).union(rows, all=True)
    found_blobs: dict[str, tuple[int, int]] = {}
    found_artifacts: dict[str, Artifact] = {}
    for kind, pk, found, size, media_type in rows:
        if kind == "b":
            found_blobs[found] = (pk, size)
        else:
            found_artifacts[found] = _loaded(
                Artifact, id=pk, repository_id=repository.pk, digest=found, size=size, media_type=media_type
            )
    for blob, descriptor in wanted_blobs.items():
        if blob not in found_blobs:
            raise ManifestBlobUnknown(f"blob {blob} is not in {repository.name}", detail={"digest": blob})
        if found_blobs[blob][1] != descriptor.size:
            raise ManifestInvalid(
                f"descriptor size {descriptor.size} of {blob} does not match the blob ({found_blobs[blob][1]})"
            )
    missing = [child for child in wanted_children if child not in found_artifacts]
    if missing:
        raise ManifestBlobUnknown(f"manifest {missing[0]} is not in {repository.name}", detail={"digest": missing[0]})
    return _Known(
        blobs=list(found_blobs.values()),
        children=[(found_artifacts[child], d.platform) for child, d in wanted_children.items()],
        artifact=found_artifacts.get(str(digest)),
    )


def _artifact_insert(
    *,
    repository: Repository,
    digest: Digest,
    manifest: Manifest,
    body: bytes,
    subject: str,
    known: _Known,
    now: datetime,
) -> Artifact:
    """Insert the artifact with its blob and child links; the existing row if the same manifest won a race."""
    size = len(body) + sum(size for _pk, size in known.blobs) + sum(child.size for child, _p in known.children)
    values = {
        "repository_id": repository.pk,
        "digest": str(digest),
        "media_type": manifest.media_type,
        "artifact_type": manifest.effective_artifact_type,
        "manifest": body,
        "manifest_size": len(body),
        "size": size,
        "subject_digest": subject,
        "annotations": manifest.annotations,
        "push_time": now,
    }
    columns, placeholders, params = _row(Artifact, **values)
    # ON CONFLICT: an artifact is only created under the repository lock we hold, but the API's copy
    # inserts without it; the same manifest pushed meanwhile is the same content, so keep that row.
    insert = (
        f"INSERT INTO registry_artifact ({columns}) VALUES ({placeholders})"
        " ON CONFLICT (repository_id, digest) DO NOTHING RETURNING id"
    )
    blob_ids = [pk for pk, _size in known.blobs]
    with connection.cursor() as cursor:
        if _postgresql():
            # The blob links in the same statement (a data-modifying CTE: PostgreSQL only).
            cursor.execute(
                f"WITH artifact AS ({insert}),"
                " links AS (INSERT INTO registry_artifactblob (artifact_id, blob_id)"
                " SELECT artifact.id, blob.id FROM artifact, unnest(%s::bigint[]) AS blob(id))"
                " SELECT id FROM artifact",
                [*params, blob_ids],
            )
            row = cursor.fetchone()
        else:
            cursor.execute(insert, params)
            row = cursor.fetchone()
            if row is not None:
                ArtifactBlob.objects.bulk_create([ArtifactBlob(artifact_id=row[0], blob_id=pk) for pk in blob_ids])
    if row is None:  # the same manifest, inserted by a concurrent copy
        existing = Artifact.objects.filter(repository=repository, digest=str(digest)).first()
        if existing is None:  # ... which is gone again: nothing was written, the client pushes again
            raise ManifestBlobUnknown(f"{digest} changed in {repository.name} during the push; push it again")
        return existing
    artifact = _loaded(Artifact, id=row[0], **values, pull_time=None, extra_attrs=None)
    if known.children:
        ArtifactReference.objects.bulk_create(
            [ArtifactReference(parent=artifact, child=child, platform=p) for child, p in known.children]
        )
    return artifact


def _tags_point(
    *, repository: Repository, tags: list[str], protected: frozenset[str], artifact: Artifact, now: datetime
) -> None:
    """Point the tags at the artifact in one upsert (two with protected tags); a protected tag is only created.

    A protected tag is one a push gate holds. The gates' check cannot see such a tag created meanwhile
    by a writer that does not take the repository lock (the API's tag create): the upsert of
    protected tags leaves an existing row as it is (waiting on the unique (repository, name) index for
    a concurrent insert to commit) and returns where it points, and a row pointing elsewhere refuses
    this push (rolling it back).
    """
    movable = [tag for tag in tags if tag not in protected]
    if movable:
        Tag.objects.bulk_create(
            [Tag(repository_id=repository.pk, name=tag, artifact_id=artifact.pk) for tag in movable],
            update_conflicts=True,
            unique_fields=["repository", "name"],
            update_fields=["artifact", "push_time"],
        )
    kept = [tag for tag in tags if tag in protected]
    if not kept:
        return
    rows = [_row(Tag, repository=repository.pk, name=tag, artifact=artifact.pk, push_time=now) for tag in kept]
    values = ", ".join(f"({placeholders})" for _columns, placeholders, _params in rows)
    # The no-op update (not DO NOTHING) makes the statement return the existing row too.
    sql = (
        f"INSERT INTO registry_tag ({rows[0][0]}) VALUES {values}"
        " ON CONFLICT (repository_id, name) DO UPDATE SET artifact_id = registry_tag.artifact_id"
        " RETURNING name, artifact_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [param for _columns, _placeholders, params in rows for param in params])
        pointed = dict(cursor.fetchall())
    for tag in kept:
        if pointed[tag] != artifact.pk:
            raise TagImmutable(
                f"the tag {tag} is immutable and cannot be overwritten in {repository.name}", detail={"tag": tag}
            )


def manifest_push(
    *,
    repository: Repository | RepositoryName,
    reference: str,
    body: bytes,
    content_type: str | None,
    tags: list[str],
) -> PushedManifest:
    """Validate and store a manifest under a tag or digest, plus any extra `?tag=` tags.

    `repository` may be a name (the /v2/ view): the lookup is then the push's first statement, and a
    repository that does not exist yet is created in its project (NAME_UNKNOWN without one).
    """
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
    subject = str(manifest.subject.digest) if manifest.subject else ""
    name = repository.full if isinstance(repository, RepositoryName) else repository.name

    with transaction.atomic():
        now = timezone.now()
        locked = _repository_lock(name=name)
        if locked is None:  # the first push into it (blob uploads usually made it already)
            repository_ensure(name=repository if isinstance(repository, RepositoryName) else RepositoryName.parse(name))
            locked = _repository_lock(name=name)
        repo, revision = locked
        # The push gates (tag immutability: no query for a project that never had a rule, the rules
        # remembered per process and policy revision otherwise) refuse moving a protected tag, and
        # name the tags that must be created without moving (see `_tags_point`).
        protected = gates_check(
            action=PUSH,
            project_id=repo.project_id,
            repository_name=name,
            tags=tags,
            digest=str(digest),
            operation="overwrite tags",
            policy_revision=revision,
        )
        known = _known(repo, digest, manifest)
        artifact = known.artifact or _artifact_insert(
            repository=repo, digest=digest, manifest=manifest, body=body, subject=subject, known=known, now=now
        )
        _tags_point(repository=repo, tags=tags, protected=protected, artifact=artifact, now=now)
        artifact_pushed_record(repository=repo, artifact=artifact, tags=tags, policy_revision=revision)
    _repository_touch(repository=repo, now=now)
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
