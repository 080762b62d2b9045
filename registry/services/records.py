"""The audit records and domain events of artifact and tag writes, shared by the /v2/ and API services.

`*_record` functions run inside the caller's transaction: the audit row commits or rolls back
with the change, and the event is published on commit. Event data mirrors what Harbor's webhook
payload needs (event_data.resources[] with digest, tag and resource_url; repository with name,
namespace, repo_full_name and repo_type) as plain values, so a subscriber never reads rows that
may be gone by the time it runs.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from django.conf import settings

from audit.services import audit_record, audit_record_many
from common.actor import actor_current
from common.events import ARTIFACT_DELETED, ARTIFACT_PUSHED, TAG_DELETED, Event, event_publish
from registry.models import Artifact, Repository, Tag


def artifact_resource(*, repository_name: str, tag: str | None = None, digest: str = "") -> str:
    """Harbor's audit resource of an artifact: `project/repo:tag`, else `project/repo@sha256:...`."""
    return f"{repository_name}:{tag}" if tag else f"{repository_name}@{digest}"


def _registry_host() -> str:
    # Harbor's resource_url is host/repository:tag; without an external URL only the path is known.
    return urlsplit(settings.EXTERNAL_URL).netloc if settings.EXTERNAL_URL else ""


def artifact_event_data(
    *,
    repository_name: str,
    digest: str,
    tags: list[str],
    media_type: str = "",
    size: int | None = None,
    public: bool | None = None,
    artifact_id: int | None = None,
    repository_created: int | None = None,
) -> dict[str, Any]:
    """The data of an artifact or tag event: repository, digest, tags, and Harbor's resources list."""
    namespace, _, short = repository_name.partition("/")
    host = _registry_host()
    prefix = f"{host}/{repository_name}" if host else repository_name
    data: dict[str, Any] = {
        "project": namespace,
        "repository": {
            "name": short,
            "namespace": namespace,
            "repo_full_name": repository_name,
            "repo_type": "" if public is None else ("public" if public else "private"),
        },
        "digest": digest,
        "tags": list(tags),
        "media_type": media_type,
        "resources": [
            {"digest": digest, "tag": tag or "", "resource_url": f"{prefix}:{tag}" if tag else f"{prefix}@{digest}"}
            for tag in (tags or [None])
        ],
    }
    if size is not None:
        data["size"] = size
    if artifact_id is not None:
        data["artifact_id"] = artifact_id
    if repository_created is not None:
        data["repository_created"] = repository_created  # Harbor's repository.date_created (unix seconds)
    return data


def _publish(event_type: str, project_id: int | None, data: dict[str, Any], policy_revision: int | None = None) -> None:
    event_publish(
        Event(
            type=event_type,
            project_id=project_id,
            operator=actor_current().username,
            data=data,
            policy_revision=policy_revision,
        )
    )


def _created(repository: Repository) -> int | None:
    return int(repository.created.timestamp()) if repository.created else None


def _public(repository: Repository) -> bool | None:
    # Known for free when the project is loaded; otherwise left to the webhook fan-out, which
    # looks it up only when a policy will actually send the event (not a query on every push).
    if Repository.project.is_cached(repository):
        return repository.project.public
    return None


def _artifact_data(repository: Repository, artifact: Artifact, tags: list[str]) -> dict[str, Any]:
    return artifact_event_data(
        repository_name=repository.name,
        digest=artifact.digest,
        tags=tags,
        media_type=artifact.media_type,
        size=artifact.size,
        public=_public(repository),
        artifact_id=artifact.pk,
        repository_created=_created(repository),
    )


def artifact_pushed_record(
    *, repository: Repository, artifact: Artifact, tags: list[str], policy_revision: int | None = None
) -> None:
    """Audit a push (Harbor: create artifact) in the push transaction; publish artifact.pushed on commit.

    `policy_revision`: the project's, when the push read it in this transaction (`Event.policy_revision`).
    """
    audit_record(
        operation="create",
        resource_type="artifact",
        resource=artifact_resource(
            repository_name=repository.name, tag=tags[0] if tags else None, digest=artifact.digest
        ),
        project_id=repository.project_id,
    )
    _publish(ARTIFACT_PUSHED, repository.project_id, _artifact_data(repository, artifact, tags), policy_revision)


def artifact_deleted_record(*, artifact: Artifact, tags: list[str]) -> None:
    """Audit an artifact's deletion in the caller's transaction; publish artifact.deleted on commit."""
    artifacts_deleted_record(repository=artifact.repository, deleted=[(artifact, tags)])


def artifacts_deleted_record(*, repository: Repository, deleted: list[tuple[Artifact, list[str]]]) -> None:
    """Audit many deletions of one repository in one statement; publish artifact.deleted for each on commit."""
    from audit.models import AuditLog

    who = actor_current()
    audit_record_many(
        AuditLog(
            username=who.username[:255],
            is_robot=who.is_robot,
            source_ip=who.source_ip[:64],
            project_id=repository.project_id,
            resource_type="artifact",
            resource=artifact_resource(repository_name=repository.name, digest=artifact.digest),
            operation="delete",
        )
        for artifact, _tags in deleted
    )
    for artifact, tags in deleted:
        data = _artifact_data(repository, artifact, tags)
        _publish(ARTIFACT_DELETED, repository.project_id, data)


def tag_created_record(*, tag: Tag, repository: Repository, artifact: Artifact) -> None:
    """Audit a tag added to an artifact (Harbor: create tag) in the caller's transaction."""
    audit_record(
        operation="create",
        resource_type="tag",
        resource=artifact_resource(repository_name=repository.name, tag=tag.name),
        project_id=repository.project_id,
    )


def tag_deleted_record(*, tag: Tag, repository: Repository, artifact: Artifact) -> None:
    """Audit a tag's deletion in the caller's transaction; publish tag.deleted on commit."""
    audit_record(
        operation="delete",
        resource_type="tag",
        resource=artifact_resource(repository_name=repository.name, tag=tag.name),
        project_id=repository.project_id,
    )
    data = artifact_event_data(
        repository_name=repository.name,
        digest=artifact.digest,
        tags=[tag.name],
        media_type=artifact.media_type,
        size=artifact.size,
        public=_public(repository),
        artifact_id=artifact.pk,
        repository_created=_created(repository),
    )
    _publish(TAG_DELETED, repository.project_id, data)
