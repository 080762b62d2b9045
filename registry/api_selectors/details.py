"""Everything the Artifact JSON shows, fetched for a whole page at once (a fixed number of queries)."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote

from registry.api_selectors import artifacts as artifact_selectors
from registry.api_selectors.extra_attrs import extra_attrs_fill
from registry.artifact_types import Kind, artifact_kind, cosign_subject, cosign_tag
from registry.models import Artifact, ArtifactLabel, ArtifactReference, Label, Tag


@dataclass(frozen=True, slots=True)
class ArtifactOptions:
    """Which optional parts of the Artifact JSON to fetch (the with_* query parameters)."""

    with_tag: bool = True
    with_label: bool = False
    with_accessory: bool = False
    with_immutable_status: bool = False
    with_scan_overview: bool = False
    with_signature: bool = False


@dataclass(frozen=True, slots=True)
class ReferenceView:
    parent_id: int
    child_id: int
    child_digest: str
    platform: dict | None
    annotations: dict[str, str]
    urls: list[str]


@dataclass(frozen=True, slots=True)
class AccessoryView:
    id: int
    artifact_id: int
    subject_artifact_id: int
    subject_artifact_digest: str
    subject_artifact_repo: str
    size: int
    digest: str
    type: str
    icon: str
    creation_time: datetime


@dataclass(slots=True)
class ArtifactView:
    artifact: Artifact
    kind: Kind
    references: list[ReferenceView] = field(default_factory=list)
    tags: list[Tag] | None = None
    labels: list[Label] | None = None
    accessories: list[AccessoryView] | None = None
    scan_overview: dict | None = None

    @property
    def extra_attrs(self) -> dict[str, Any]:
        return self.artifact.extra_attrs or {}

    @property
    def addition_links(self) -> dict[str, dict]:
        if not self.kind.additions:
            return {}
        return {name: {"href": addition_href(self.artifact, name), "absolute": False} for name in self.kind.additions}


def repository_path(full_name: str) -> str:
    """`<project>/repositories/<name>` with the name URL-encoded twice, as Harbor writes it in links."""
    project, _, name = full_name.partition("/")
    return f"{project}/repositories/{quote(quote(name, safe=''), safe='')}"


def addition_href(artifact: Artifact, addition: str) -> str:
    return (
        f"/api/v2.0/projects/{repository_path(artifact.repository.name)}"
        f"/artifacts/{artifact.digest}/additions/{addition}"
    )


def _kinds(artifacts: list[Artifact]) -> dict[int, Kind]:
    return {a.pk: artifact_kind(manifest_media_type=a.media_type, manifest=bytes(a.manifest)) for a in artifacts}


def _references(artifacts: list[Artifact], kinds: dict[int, Kind]) -> dict[int, list[ReferenceView]]:
    indexes = [a.pk for a in artifacts if kinds[a.pk].is_index]
    result: dict[int, list[ReferenceView]] = defaultdict(list)
    if not indexes:
        return result
    rows = ArtifactReference.objects.filter(parent_id__in=indexes).values_list(
        "parent_id", "child_id", "child__digest", "platform"
    )
    for parent_id, child_id, digest, platform in rows.order_by("pk"):
        described = next((c for c in kinds[parent_id].children if c.digest == digest), None)
        result[parent_id].append(
            ReferenceView(
                parent_id=parent_id,
                child_id=child_id,
                child_digest=digest,
                platform=platform,
                annotations=described.annotations if described else {},
                urls=list(described.urls) if described else [],
            )
        )
    return result


def _tags(artifacts: list[Artifact], options: ArtifactOptions) -> dict[int, list[Tag]]:
    result: dict[int, list[Tag]] = defaultdict(list)
    tags = list(Tag.objects.filter(artifact_id__in=[a.pk for a in artifacts]).order_by("-push_time", "-pk"))
    immutable: set[tuple[int, str]] = set()
    if options.with_immutable_status:
        repositories = {a.repository_id: a.repository for a in artifacts}
        for repository_id, repository in repositories.items():
            names = {t.name for t in tags if t.repository_id == repository_id}
            immutable |= {
                (repository_id, n) for n in artifact_selectors.tags_immutable(repository=repository, names=names)
            }
    for tag in tags:
        tag.immutable = (tag.repository_id, tag.name) in immutable
        result[tag.artifact_id].append(tag)
    return result


def _labels(artifacts: list[Artifact]) -> dict[int, list[Label]]:
    result: dict[int, list[Label]] = defaultdict(list)
    rows = ArtifactLabel.objects.filter(artifact_id__in=[a.pk for a in artifacts]).select_related("label")
    for ref in rows.order_by("pk"):
        result[ref.artifact_id].append(ref.label)
    return result


def accessory_views(accessories: list[Artifact], subjects: dict[int, Artifact]) -> list[AccessoryView]:
    """Accessory JSON values; `subjects` maps each accessory's pk to the artifact it is attached to."""
    views = []
    for accessory in accessories:
        subject = subjects[accessory.pk]
        kind = artifact_kind(manifest_media_type=accessory.media_type, manifest=bytes(accessory.manifest))
        views.append(
            AccessoryView(
                id=accessory.pk,
                artifact_id=accessory.pk,
                subject_artifact_id=subject.pk,
                subject_artifact_digest=subject.digest,
                subject_artifact_repo=subject.repository.name,
                size=accessory.size,
                digest=accessory.digest,
                type=kind.accessory_type,
                icon="",
                creation_time=accessory.push_time,
            )
        )
    return views


def _accessories(artifacts: list[Artifact]) -> dict[int, list[AccessoryView]]:
    """Referrers (by subject) and cosign tag-scheme signatures of every artifact on the page: two queries."""
    by_key = {(a.repository_id, a.digest): a for a in artifacts}
    repositories = {a.repository_id for a in artifacts}
    found: dict[int, Artifact] = {}
    subjects: dict[int, Artifact] = {}
    referrers = Artifact.objects.filter(
        repository_id__in=repositories, subject_digest__in={a.digest for a in artifacts}
    ).select_related("repository")
    for accessory in referrers.order_by("-push_time", "-pk"):
        subject = by_key.get((accessory.repository_id, accessory.subject_digest))
        if subject is not None:
            found[accessory.pk], subjects[accessory.pk] = accessory, subject
    signature_tags = Tag.objects.filter(
        repository_id__in=repositories, name__in={cosign_tag(a.digest) for a in artifacts}
    ).select_related("artifact__repository")
    for tag in signature_tags.order_by("-push_time", "-pk"):
        subject = by_key.get((tag.repository_id, cosign_subject(tag.name)))
        if subject is not None and tag.artifact_id != subject.pk and tag.artifact_id not in found:
            found[tag.artifact_id], subjects[tag.artifact_id] = tag.artifact, subject
    result: dict[int, list[AccessoryView]] = defaultdict(list)
    for view in accessory_views(list(found.values()), subjects):
        result[view.subject_artifact_id].append(view)
    return result


def artifact_details(*, artifacts: list[Artifact], options: ArtifactOptions) -> list[ArtifactView]:
    """The Artifact JSON values for a page of artifacts (select_related("repository") expected)."""
    if not artifacts:
        return []
    kinds = _kinds(artifacts)
    extra_attrs_fill(artifacts=artifacts, kinds=kinds)
    references = _references(artifacts, kinds)
    tags = _tags(artifacts, options) if options.with_tag else None
    labels = _labels(artifacts) if options.with_label else None
    accessories = _accessories(artifacts) if options.with_accessory else None
    return [
        ArtifactView(
            artifact=a,
            kind=kinds[a.pk],
            references=references.get(a.pk, []),
            tags=tags.get(a.pk, []) if tags is not None else None,
            labels=labels.get(a.pk, []) if labels is not None else None,
            accessories=accessories.get(a.pk, []) if accessories is not None else None,
            scan_overview={} if options.with_scan_overview else None,
        )
        for a in artifacts
    ]
